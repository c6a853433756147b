"""``hj212 ui``: the web app (Streamlit), started on the configured address.

Joined to ``hj212`` through the entry-point group ``hj212.commands`` (pyproject.toml), as
pipeline/ may not import dashboards/. Before the server starts, the first admin is made
when no user exists (``Accounts.ensure_first_admin``: from the setting
admin.initial_password, else a password generated for this installation and written to
``--first-password-file`` (what ``hj212 run`` does, so a newcomer can log in with no
manual step), else asked for on a terminal; there is never a default password).
"""

from __future__ import annotations

import os
import secrets
import signal
import string
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


#: letters and digits that cannot be misread for one another (no 0/O, 1/l/I)
_READABLE = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def generate_password(length: int = 16) -> str:
    """A random password for the first admin of one installation: 16 of 57 readable
    characters, about 93 bits."""
    return "".join(secrets.choice(_READABLE) for _ in range(length))


def write_secret(path: Path, text: str) -> None:
    """``text`` in ``path``, readable by its owner only (created so, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    path.chmod(0o600)


def banner(url: str, created: User | None, from_setting: bool = False,
           password_file: Path | None = None) -> list[str]:
    """What ``hj212 ui`` prints before the server starts: where, and how to log in."""
    lines = [f"[ui] web app 网页端: {url}"]
    if created is not None and password_file is not None and not from_setting:
        lines.append(f"[ui] first admin created: log in as {created.username!r} with the "
                     f"password generated into {password_file} (change it with "
                     f"`hj212 users passwd {created.username}`)")
    elif created is not None and from_setting:
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


def ensure_first_admin(settings: Settings, interactive: bool,
                       password_file: Path | None = None) -> User | None:
    """The first admin, when this start made one. Its password: the setting, else one
    generated into ``password_file``, else asked for on a terminal. A database that does
    not answer does not stop the web app (its pages say so until it answers); one that
    has no schema yet, or no user and no way to make one, does."""

    def generated() -> str:
        assert password_file is not None
        password = generate_password()
        check_policy(password, FIRST_ADMIN)
        # written before the user exists: a crash in between leaves a file of no use,
        # never a user whose password nobody has
        write_secret(password_file, password)
        return password

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
            prompt = (generated if password_file is not None
                      else ask if interactive else None)
            return Accounts(ch, settings).ensure_first_admin(
                settings.admin.initial_password, prompt)
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
@click.option("--first-password-file", type=click.Path(dir_okay=False, path_type=Path),
              default=None,
              help="When no user exists and admin.initial_password is not set, generate the "
                   "first admin's password into this file (mode 600) instead of asking.")
@pass_cli
def ui(cli: CliContext, host: str | None, port: int | None,
       first_password_file: Path | None) -> None:
    """Start the web app: overview and analysis pages behind a login.

    Prints the URL and how to log in. When no user exists yet, first creates the admin
    "admin" with the password of HJ212_ADMIN__INITIAL_PASSWORD, or one generated into
    --first-password-file, or asks for one on a terminal. ClickHouse must be migrated
    (`hj212 db migrate`; `hj212 run` does it).
    """
    settings = cli.settings
    host = host or settings.ui.host
    port = port or settings.ui.port
    created = ensure_first_admin(settings, interactive=sys.stdin.isatty(),
                                 password_file=first_password_file)
    for line in banner(url_of(host, port), created, bool(settings.admin.initial_password),
                       first_password_file):
        click.echo(line, err=True)
    sys.exit(_serve(streamlit_argv(host, port), child_env(cli.config)))


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a service manager, a test's terminate()): stop Streamlit as for Ctrl-C,
    rather than die at once and leave it running on its port."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def _serve(argv: Sequence[str], env: dict[str, str]) -> int:
    proc = subprocess.Popen(list(argv), env=env)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # From a terminal the whole group got SIGINT already; from `hj212 run` (which
        # signals only this process) Streamlit did not: pass it on either way (a second
        # SIGINT only hurries Streamlit), then give it a moment to stop.
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
