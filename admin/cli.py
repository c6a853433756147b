"""``hj212 users``: the web app's accounts from the command line.

Joined to ``hj212`` through the entry-point group ``hj212.commands`` (pyproject.toml),
as pipeline/ may not import admin/. Each command only wires options to ``Accounts``.
Passwords are asked for (hidden, twice) or read from stdin with ``--password-stdin``,
never taken as an argument, which would leave them in the shell history and in ``ps``.
Every change is audited with the OS user who ran the command and the source "cli".
"""

from __future__ import annotations

import getpass
import json
import sys
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import click

from admin.accounts import AccountError, Accounts, User
from admin.passwords import PasswordPolicyError, check_policy
from admin.roles import ROLE_LABELS, SERVICE_REGIONS, Role, check_username
from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.store.client import ClickHouse, StoreError

#: the audit log's source for changes made here
CLI_SOURCE = "cli"


def os_user() -> str:
    """Who runs this command, as the audit log's actor."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a bare container)
        return "unknown"


@contextmanager
def _accounts(cli: CliContext) -> Iterator[Accounts]:
    try:
        with ClickHouse(cli.dsn) as ch:
            yield Accounts(ch, cli.settings)
    except (AccountError, PasswordPolicyError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None


def read_password(username: str, from_stdin: bool) -> str:
    """The new password: the first line of stdin, or asked twice without echo. Checked
    against the policy here, before anything is written."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("--password-stdin: stdin held no password; fix: "
                                       "pipe one line holding it")
    else:
        password = str(click.prompt(f"Password for {username} (密码)", hide_input=True,
                                    confirmation_prompt="Repeat it (再次输入)"))
    try:
        check_policy(password, username)
    except PasswordPolicyError as exc:
        raise click.ClickException(str(exc)) from None
    return password


_PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True,
    help="Read the password from the first line of stdin instead of asking for it.")


@click.group(context_settings=CONTEXT)
def users() -> None:
    """Accounts of the web app (用户): add, new password, disable, enable, list, audit.

    Changes are audited with your OS user name and the source "cli".
    """


@users.command(context_settings=CONTEXT)
@click.argument("username")
@click.option("--name", "display_name", default="",
              help="Name shown on pages, e.g. 张伟 (default: the user name).")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([role.value for role in Role]),
              help="A role (repeat for more): "
                   + "; ".join(f"{r.value} {ROLE_LABELS[r].split()[0]}" for r in Role)
                   + ".")
@click.option("--region", "regions", multiple=True, type=click.Choice(SERVICE_REGIONS),
              help="A service region (服务区域) whose stations the user sees (repeat for "
                   "more; none: every region; a field engineer needs one).")
@_PASSWORD_STDIN
@pass_cli
def add(cli: CliContext, username: str, display_name: str, roles: Sequence[str],
        regions: Sequence[str], password_stdin: bool) -> None:
    """Add user USERNAME (lower-case letters, digits, '.', '_', '-')."""
    try:
        name = check_username(username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    password = read_password(name, password_stdin)
    with _accounts(cli) as accounts:
        user = accounts.add(os_user(), name, display_name, [Role(r) for r in roles],
                            regions, password, source=CLI_SOURCE)
    click.echo(f"added {user.username} ({user.display_name}): "
               f"{', '.join(user.role_labels)}; regions: {_regions(user)}")


@users.command(context_settings=CONTEXT)
@click.argument("username")
@_PASSWORD_STDIN
@pass_cli
def passwd(cli: CliContext, username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password."""
    with _accounts(cli) as accounts:
        user = accounts.get(username)
        if user is None:  # before asking for a password nobody can use
            raise AccountError(f"user {username!r} does not exist; fix: check the name "
                               "with `hj212 users list`")
        password = read_password(user.username, password_stdin)
        accounts.set_password(os_user(), user.username, password, source=CLI_SOURCE)
    click.echo(f"new password set for {user.username}")


@users.command(context_settings=CONTEXT)
@click.argument("username")
@pass_cli
def disable(cli: CliContext, username: str) -> None:
    """Stop USERNAME from logging in (the account and its history stay)."""
    with _accounts(cli) as accounts:
        accounts.disable(os_user(), username, source=CLI_SOURCE)
    click.echo(f"disabled {username}")


@users.command(context_settings=CONTEXT)
@click.argument("username")
@pass_cli
def enable(cli: CliContext, username: str) -> None:
    """Let a disabled USERNAME log in again, with the password it had."""
    with _accounts(cli) as accounts:
        accounts.enable(os_user(), username, source=CLI_SOURCE)
    click.echo(f"enabled {username}")


@users.command("list", context_settings=CONTEXT)
@pass_cli
def list_users(cli: CliContext) -> None:
    """Every user: name, display name, roles, regions, and whether active."""
    with _accounts(cli) as accounts:
        everyone = accounts.list()
    if not everyone:
        click.echo("no users yet; add the first with `hj212 users add admin --role admin`")
        return
    rows = [[u.username, u.display_name, ", ".join(u.role_labels), _regions(u),
             "启用 active" if u.active else "停用 disabled"] for u in everyone]
    click.echo(format_table(["user 用户", "name 姓名", "roles 角色", "regions 区域",
                             "status 状态"], rows))


@users.command("audit", context_settings=CONTEXT)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="How many events, newest first.")
@click.option("--actor", default=None, help="Only this actor's events.")
@click.option("--action", default=None, help="Only this action (login_failed, user_add ...).")
@click.option("--target", default=None, help="Only events about this user or record.")
@pass_cli
def audit_log(cli: CliContext, limit: int, actor: str | None, action: str | None,
              target: str | None) -> None:
    """The audit log's newest events (审计日志): logins and every change."""
    with _accounts(cli) as accounts:
        events = accounts.audit.recent(limit=limit, actor=actor, action=action,
                                       target=target)
    rows = [[f"{e['time']:%Y-%m-%d %H:%M:%S}", e["actor"], e["action"], e["target"],
             e["source"], json.dumps(e["detail"], ensure_ascii=False)] for e in events]
    click.echo(format_table(["time 时间", "actor", "action", "target", "source", "detail"],
                            rows))


def _regions(user: User) -> str:
    return "、".join(sorted(user.regions)) if user.regions else "全部 all"


def _width(text: str) -> int:
    # Chinese characters take two columns of a terminal
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under a header, columns padded to their widest cell on a terminal."""
    widths = [max(_width(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths,
                                                                    strict=True)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]),
                      *(line(row) for row in rows)])
