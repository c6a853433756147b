"""`hj212 stack`: start, check, stop and read the logs of the local ClickHouse and Kafka.

Settings come from the CLI context (``pipeline.cli_context``), like every subcommand's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.config import Settings
from pipeline.stack import clickhouse, control, kafka
from pipeline.stack.procs import StackError, tail
from pipeline.stack.status import format_console, format_json

SERVER = click.Choice(list(control.SERVERS))


@click.group(context_settings=CONTEXT)
def stack() -> None:
    """Local ClickHouse and Kafka under run_dir (or checks of external ones).

    ClickHouse comes from Debian's clickhouse-server package (installed when missing),
    Kafka from Maven Central (jars fetched once into run_dir/kafka/libs), run on this
    machine's Java in KRaft mode. With HJ212_CLICKHOUSE__LOCAL=false or
    HJ212_KAFKA__LOCAL=false that server is external: nothing is started, and status
    checks the configured one.
    """


@stack.command(context_settings=CONTEXT)
@click.argument("servers", nargs=-1, type=SERVER)
@pass_cli
def up(cli: CliContext, servers: tuple[str, ...]) -> None:
    """Start SERVERS (default: both) unless they already run; create the topics.

    Installs ClickHouse and fetches the Kafka jars first if they are missing. Running it
    again is harmless.
    """
    settings = cli.settings
    try:
        report = control.up(settings, servers or None)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    started = ", ".join(report.started) or "nothing (already running or external)"
    click.echo(f"stack up in {report.seconds:.1f} s: started {started}", err=True)
    click.echo(format_console(control.status(settings, servers or None)))


@stack.command(context_settings=CONTEXT)
@click.argument("servers", nargs=-1, type=SERVER)
@pass_cli
def down(cli: CliContext, servers: tuple[str, ...]) -> None:
    """Stop the local SERVERS (default: both) that run; data stays in run_dir."""
    try:
        stopped = control.down(cli.settings, servers or None)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


@stack.command(context_settings=CONTEXT)
@click.argument("servers", nargs=-1, type=SERVER)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per server.")
@pass_cli
def status(cli: CliContext, servers: tuple[str, ...], as_json: bool) -> None:
    """Say what runs where (pid, ports, version) and how healthy. Exits 1 if a server is
    down or unhealthy."""
    try:
        rows = control.status(cli.settings, servers or None)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(format_json(rows) if as_json else format_console(rows))
    if not all(r.healthy for r in rows):
        sys.exit(1)


@stack.command(context_settings=CONTEXT)
@pass_cli
def install(cli: CliContext) -> None:
    """Install what the local servers need, without starting them: Debian's
    clickhouse-server (apt-get, as root) and the Kafka jars (Maven). Skips what is there."""
    try:
        control.install(cli.settings)
    except StackError as exc:
        raise click.ClickException(str(exc)) from None


def log_files(settings: Settings, server: str) -> list[Path]:
    if server == "clickhouse":
        p = clickhouse.paths(settings)
        return [p.server_log, p.error_log, p.stdout_log]
    k = kafka.paths(settings)
    return [k.server_log, k.stdout_log]


@stack.command(context_settings=CONTEXT)
@click.argument("servers", nargs=-1, type=SERVER)
@click.option("-n", "--lines", type=click.IntRange(min=0), default=40, show_default=True,
              help="How many last lines of each log.")
@pass_cli
def logs(cli: CliContext, servers: tuple[str, ...], lines: int) -> None:
    """Show the last lines of the local servers' logs (default: both)."""
    settings = cli.settings
    for server in servers or control.SERVERS:
        shown = False
        for path in log_files(settings, server):
            last = tail(path, lines)
            if not last:
                continue
            click.echo(f"==> {path} <==")
            click.echo("\n".join(last))
            shown = True
        if not shown:
            where = ", ".join(str(p) for p in log_files(settings, server))
            click.echo(f"{server}: no log yet ({where}); `hj212 stack up` starts it", err=True)
