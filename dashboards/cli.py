"""``hj212 ui``: the web app (Streamlit), started on the configured address.

Joined to ``hj212`` through the entry-point group ``hj212.commands`` (pyproject.toml), as
pipeline/ may not import dashboards/. Before the server starts, the first admin is made
when no user exists (``Accounts.ensure_first_admin``: from the setting
admin.initial_password, else asked for on a terminal; there is no default password).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from admin.accounts import FIRST_ADMIN, AccountError, Accounts, User
from admin.passwords import PasswordPolicyError, check_policy
from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.config import Settings
from pipeline.store.client import ClickHouse, StoreError

APP = Path(__file__).resolve().parent / "app.py"

# Streamlit's own options: a server (no browser to open, no file watching, no usage
# statistics), and users see no stack trace or developer menu (details go to the log)
STREAMLIT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("server.headless", "true"),
    ("server.fileWatcherType", "none"),
    ("server.runOnSave", "false"),
    ("browser.gatherUsageStats", "false"),
    ("client.showErrorDetails", "none"),
    ("client.toolbarMode", "minimal"),
    ("theme.base", "light"),
)


def streamlit_argv(host: str, port: int, python: str = sys.executable) -> list[str]:
    argv = [python, "-m", "streamlit", "run", str(APP), "--server.address", host,
            "--server.port", str(port)]
    for name, value in STREAMLIT_OPTIONS:
        argv += [f"--{name}", value]
    return argv


def url_of(host: str, port: int) -> str:
    # a server on every address is reached here through the loopback one
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def banner(url: str, created: User | None, from_setting: bool = False) -> list[str]:
    """What ``hj212 ui`` prints before the server starts: where, and how to log in."""
    lines = [f"[ui] web app 网页端: {url}"]
    if created is not None and from_setting:
        lines.append(f"[ui] first admin created: log in as {created.username!r} with the "
                     "password of HJ212_ADMIN__INITIAL_PASSWORD, then remove that setting "
                     "(it is read only while no user exists)")
    elif created is not None:
        lines.append(f"[ui] first admin created: log in as {created.username!r} with the "
                     "password just entered")
    else:
        lines.append("[ui] log in 登录 with a user of `hj212 users list` (the first admin is "
                     f"{FIRST_ADMIN!r}); add users with `hj212 users add NAME --role ROLE`")
    lines.append("[ui] Ctrl-C stops it")
    return lines


def ensure_first_admin(settings: Settings, interactive: bool) -> User | None:
    """The first admin, when this start made one. A database that does not answer does
    not stop the web app (its pages say so until it answers); one that has no schema
    yet, or no user and no way to make one, does."""

    def ask() -> str:
        # asked again until the policy takes it: a typo should not mean starting over
        while True:
            password = str(click.prompt(
                f"No user exists yet. Password for the first admin {FIRST_ADMIN!r} "
                "(首个管理员密码, at least 10 characters)", hide_input=True,
                confirmation_prompt="Repeat it (再次输入)"))
            try:
                check_policy(password, FIRST_ADMIN)
            except PasswordPolicyError as exc:
                click.echo(f"{exc}; try again (Ctrl-C stops)", err=True)
                continue
            return password

    try:
        with ClickHouse(settings.clickhouse.dsn, connect_timeout=5.0,
                        send_receive_timeout=30.0) as ch:
            return Accounts(ch, settings).ensure_first_admin(
                settings.admin.initial_password, ask if interactive else None)
    except StoreError as exc:
        if not is_unreachable(exc):
            raise click.ClickException(str(exc)) from None
        click.echo(f"[ui] warning: could not check for a first user: {exc}; the web app "
                   "starts anyway and its pages say the database is away until it answers",
                   err=True)
        return None
    except (AccountError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def is_unreachable(exc: StoreError) -> bool:
    """A server that did not answer (as opposed to one that answered with an error):
    pipeline.store.client words every network failure so."""
    return "did not answer" in str(exc)


def child_env(config: Path | None, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The server's environment: ours, plus --config as HJ212_CONFIG, so the app reads
    the same settings as this command."""
    env = dict(os.environ if environ is None else environ)
    if config is not None:
        env["HJ212_CONFIG"] = str(config.resolve())
    return env


@click.command(context_settings=CONTEXT)
@click.option("--host", default=None,
              help="Address to listen on (default: the setting ui.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="HTTP port (default: the setting ui.port, 8501).")
@pass_cli
def ui(cli: CliContext, host: str | None, port: int | None) -> None:
    """Start the web app: overview and analysis pages behind a login.

    Prints the URL and how to log in. When no user exists yet, first creates the admin
    "admin" with the password of HJ212_ADMIN__INITIAL_PASSWORD, or asks for one on a
    terminal. ClickHouse must be migrated (`hj212 db migrate`; `hj212 run` does it).
    """
    settings = cli.settings
    host = host or settings.ui.host
    port = port or settings.ui.port
    created = ensure_first_admin(settings, interactive=sys.stdin.isatty())
    for line in banner(url_of(host, port), created, bool(settings.admin.initial_password)):
        click.echo(line, err=True)
    sys.exit(_serve(streamlit_argv(host, port), child_env(cli.config)))


def _serve(argv: Sequence[str], env: dict[str, str]) -> int:
    proc = subprocess.Popen(list(argv), env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # the terminal sent SIGINT to the whole group; give Streamlit a moment to stop
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
