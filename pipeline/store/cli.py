"""``hj212 db``: apply and list the ClickHouse schema migrations."""

from __future__ import annotations

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli


@click.group("db", context_settings=CONTEXT)
def db() -> None:
    """ClickHouse schema: numbered migrations in pipeline/store/schema/."""


@db.command(context_settings=CONTEXT)
@pass_cli
def migrate(cli: CliContext) -> None:
    """Create the database if missing and apply pending migrations in order.

    Each applied file is recorded in schema_migrations with its checksum; running again is
    a no-op, and an applied file that has since changed stops the run.
    """
    from pipeline.store.client import StoreError
    from pipeline.store.migrate import Migrator

    migrator = Migrator(cli.dsn)
    try:
        done = migrator.migrate(progress=lambda msg: click.echo(msg, err=True))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if done:
        click.echo(f"applied {len(done)} migration(s): {', '.join(done)}")
    else:
        click.echo("schema is up to date (nothing to apply)")


@db.command(context_settings=CONTEXT)
@pass_cli
def status(cli: CliContext) -> None:
    """List migrations as applied, pending, changed or missing, with the server version."""
    from pipeline.store.client import StoreError
    from pipeline.store.migrate import Migrator

    migrator = Migrator(cli.dsn)
    try:
        version, states = migrator.status()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    from pipeline.store.client import parse_dsn

    click.echo(f"ClickHouse {version} at {parse_dsn(migrator.dsn)}")
    width = max((len(s.name) for s in states), default=10)
    for s in states:
        when = f"  {s.applied_at:%Y-%m-%d %H:%M:%S}" if s.applied_at else ""
        click.echo(f"  {s.name:<{width}}  {s.status:<8}{when}")
    pending = sum(s.status == "pending" for s in states)
    bad = [s.name for s in states if s.status in ("changed", "missing")]
    click.echo(f"{len(states) - pending - len(bad)} applied, {pending} pending"
               + (f", {len(bad)} in conflict ({', '.join(bad)})" if bad else ""))
    if bad:
        raise SystemExit(1)
