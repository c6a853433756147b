"""``hj212 stations``: import, export and the bundled sample of the station registry."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli

SAMPLE_DIR = Path(__file__).parent / "data"
SAMPLE_FILES = (SAMPLE_DIR / "stations.csv", SAMPLE_DIR / "limits.csv")


@click.group("stations", context_settings=CONTEXT)
def stations() -> None:
    """Station registry: MN, PW, enterprise, outlet, ST, province and region, cadences, and
    limits per pollutant."""


def _import(cli: CliContext, files: list[Path], dry_run: bool) -> None:
    from pipeline.registry import csv_io, store
    from pipeline.store.client import ClickHouse, StoreError

    ch: ClickHouse | None = None
    known: set[str] = set()
    try:
        try:
            ch = ClickHouse(cli.dsn)
            known = store.known_mns(ch)
        except StoreError:
            if not dry_run:
                raise
            # a dry run still checks the files when no server answers; limits can then
            # only name stations of the same import
            click.echo("note: registry not reachable; limits are checked against the "
                       "stations of these files only", err=True)
        try:
            reg = csv_io.read_files(files, known_mns=known)
        except csv_io.CsvImportError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
        if dry_run:
            click.echo(f"dry run: {len(reg.stations)} stations and {len(reg.limits)} limits "
                       "are valid; nothing written")
            return
        assert ch is not None
        n_st = store.write_stations(ch, reg.stations)
        n_lim = store.write_limits(ch, reg.limits)
        click.echo(f"imported {n_st} stations and {n_lim} limits into {ch.dsn}")
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if ch is not None:
            ch.close()


@stations.command("import", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the files and report; write nothing.")
@pass_cli
def import_(cli: CliContext, files: tuple[Path, ...], dry_run: bool) -> None:
    """Import FILES: stations and/or limits CSVs (told apart by their header).

    Every error of every file is reported with its line, column and value, and nothing is
    imported while any remains. A station already in the registry is replaced by its new
    row. Limits may refer to stations in the same import or already in the registry.
    """
    _import(cli, list(files), dry_run)


@stations.command(context_settings=CONTEXT)
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--limits", "limits_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the limits to this CSV.")
@click.option("--inactive/--active-only", default=True, show_default=True,
              help="Include stations marked inactive.")
@pass_cli
def export(cli: CliContext, file: Path | None, limits_file: Path | None, inactive: bool) -> None:
    """Write the registry's stations as CSV to FILE (default: standard output)."""
    from pipeline.registry import csv_io, store
    from pipeline.store.client import ClickHouse, StoreError

    try:
        with ClickHouse(cli.dsn) as ch:
            rows = store.read_stations(ch, active_only=not inactive)
            limits = store.read_limits(ch, active_only=not inactive) if limits_file else []
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if file is None:
        csv_io.write_stations(rows, sys.stdout)
    else:
        with file.open("w", encoding="utf-8", newline="") as fh:
            csv_io.write_stations(rows, fh)
        click.echo(f"wrote {len(rows)} stations to {file}", err=True)
    if limits_file is not None:
        with limits_file.open("w", encoding="utf-8", newline="") as fh:
            csv_io.write_limits(limits, fh)
        click.echo(f"wrote {len(limits)} limits to {limits_file}", err=True)


@stations.command(context_settings=CONTEXT)
@click.option("--dry-run", is_flag=True, help="Check the sample files; write nothing.")
@pass_cli
def sample(cli: CliContext, dry_run: bool) -> None:
    """Load the bundled sample registry (320 water and gas stations with their limits)."""
    _import(cli, list(SAMPLE_FILES), dry_run)
