"""The ``hj212`` command line. Each command only wires options to a function elsewhere."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import BinaryIO

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.clues.cli import clues
from pipeline.config import settings_rows
from pipeline.gateway.cli import gateway
from pipeline.registry.cli import stations
from pipeline.simulator.cli import simulate
from pipeline.stack.cli import stack
from pipeline.store.cli import db
from pipeline.stream.cli import worker


@click.group(context_settings=CONTEXT)
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML settings file (default: $HJ212_CONFIG, else none).")
@click.option("--log-format", type=click.Choice(["auto", "json", "console"]), default=None,
              help="Log lines as JSON or for people; auto picks by terminal and CI.")
@click.version_option(package_name="hj212-platform", prog_name="hj212")
@click.pass_context
def main(ctx: click.Context, config: Path | None, log_format: str | None) -> None:
    """HJ 212 telemetry platform: the services, the local stack, the registry and codec tools.

    Settings come from HJ212_* environment variables and an optional TOML file; see
    `hj212 settings`.
    """
    ctx.obj = CliContext(config=config, log_format=log_format)


@main.command(context_settings=CONTEXT)
@click.option("--seconds", type=click.FloatRange(min=0.1), default=None,
              help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--rate", type=click.FloatRange(min=1), default=2000.0, show_default=True,
              help="Frames per second to generate.")
@click.option("--stations", type=click.IntRange(min=1), default=50, show_default=True,
              help="Number of simulated stations.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=512, show_default=True,
              help="Largest TCP-like chunk fed to the Framer (sizes are random up to it).")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the simulated fleet and its frames.")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.03, show_default=True,
              help="Share of frames damaged on purpose (bad CRC, length, dates, ...).")
@click.option("--strict/--lenient", default=None,
              help="Parse to the letter of the standard (default: the strict setting).")
@pass_cli
def demo(cli: CliContext, seconds: float | None, rate: float, stations: int,
         chunk_size: int, seed: int, error_rate: float, strict: bool | None) -> None:
    """Stream a simulated fleet's frames through the codec and show a live summary.

    Frames are cut into random TCP-sized chunks and fed to hj212.Framer; the summary
    shows frames/s, counts by command, rejections by error kind, warnings and sample
    readings. Ctrl-C stops it.
    """
    from pipeline.demo import final_report, run_demo

    settings = cli.settings
    stats = run_demo(seconds=seconds, rate=rate, stations=stations, chunk_size=chunk_size,
                     seed=seed, error_rate=error_rate,
                     strict=settings.strict if strict is None else strict)
    click.echo(final_report(stats))


@main.command(context_settings=CONTEXT)
@click.argument("source", type=click.File("rb"), default="-")
@click.option("--strict/--lenient", default=None,
              help="Parse to the letter of the standard (default: the strict setting).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per frame.")
@pass_cli
def parse(cli: CliContext, source: BinaryIO, strict: bool | None, as_json: bool) -> None:
    """Parse frames from SOURCE (a file, or - for stdin) and show each one or its error.

    SOURCE holds one frame per line, or a raw byte stream (a TCP capture), which goes
    through hj212.Framer. Exits 1 if any frame was rejected.
    """
    from pipeline.codec_text import describe, read_frames, to_json

    settings = cli.settings
    results, garbage = read_frames(source.read(),
                                   strict=settings.strict if strict is None else strict)
    if not results:
        raise click.ClickException("no frame found in the input (frames start with ##)")
    for item in results:
        click.echo(to_json(item) if as_json else describe(item))
    rejected = sum(item.error is not None for item in results)
    if not as_json:
        tail = f", {garbage} garbage bytes skipped" if garbage else ""
        click.echo(f"{len(results)} frames: {len(results) - rejected} accepted, "
                   f"{rejected} rejected{tail}", err=True)
    if rejected:
        sys.exit(1)


@main.command(context_settings=CONTEXT)
@click.argument("text")
@click.option("--frame", "whole", is_flag=True,
              help="TEXT is a whole frame: check its CRC against its data segment.")
def crc(text: str, whole: bool) -> None:
    """Print the HJ 212 CRC16 of TEXT (a data segment), as a frame carries it.

    Example: hj212 crc 'QN=...;CP=&&RtdInterval=30&&'
    """
    from pipeline.codec_text import check_frame_crc, crc_of

    if not whole:
        click.echo(crc_of(text))
        return
    try:
        computed, declared = check_frame_crc(text)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    ok = declared is not None and declared.upper() == computed
    click.echo(f"computed {computed}, frame says {declared}: {'OK' if ok else 'MISMATCH'}")
    if not ok:
        sys.exit(1)


@main.command(context_settings=CONTEXT)
@click.argument("table")
@click.argument("code", required=False)
def codes(table: str, code: str | None) -> None:
    """Show an HJ 212 code table, or one CODE in it.

    Tables include st, cn, flag, qnrtn, exertn and pollutant. Example: hj212 codes
    pollutant w01018
    """
    import hj212

    from pipeline.codec_text import format_record, format_table

    try:
        rows = hj212.code_table(table)
    except (KeyError, ValueError) as exc:
        raise click.ClickException(f"unknown code table {table!r}: {exc}") from None
    if code is None:
        click.echo(format_table(rows))
        return
    row = hj212.lookup(table, code)
    if row is None:
        raise click.ClickException(
            f"code {code!r} is not in table {table!r}; run `hj212 codes {table}` for the list"
        )
    click.echo(format_record(row))


@main.command("run", context_settings=CONTEXT)
@click.option("--stations", type=click.IntRange(1), default=50, show_default=True,
              help="Simulated loggers (the sample registry's first N).")
@click.option("--speed", type=click.FloatRange(0.001), default=60.0, show_default=True,
              help="Simulated seconds per wall second.")
@click.option("--faults", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Fault script for the fleet (default: pipeline/simulator/faults/run.toml, "
                   "faults from the first minutes).")
@click.option("--no-faults", is_flag=True, help="A clean fleet.")
@click.option("--seconds", type=click.FloatRange(1), default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
@click.option("--no-setup", is_flag=True,
              help="Skip stack up, migrations and the sample registry (already done).")
@click.option("--no-history", is_flag=True,
              help="Do not seed history (by default, when the database has no frame older "
                   "than a day, 7 days of it are written for the fleet first).")
@click.option("--no-ui", is_flag=True,
              help="Do not start the web app (hj212 ui) with the platform.")
@pass_cli
def run_all(cli: CliContext, stations: int, speed: float, faults: Path | None, no_faults: bool,
            seconds: float | None, no_setup: bool, no_history: bool, no_ui: bool) -> None:
    """The whole platform locally: stack, migrations, the web app, gateway, workers and
    a simulated fleet, with a one-screen summary (the web app's URL and login on it).
    Ctrl-C stops it all, fleet first.

    On a fresh machine it first seeds 7 days of history for the fleet (`hj212 seed`), so
    the pages have data at once. The default fault script (pipeline/simulator/faults/
    run.toml) starts faults in the first simulated minutes: at 60x, alarms open within
    a minute or two."""
    from pipeline.run import SAMPLE_FAULTS, run

    script = None if no_faults else (faults or SAMPLE_FAULTS)
    sys.exit(run(cli.settings, stations=stations, speed=speed, faults=script,
                 seconds=seconds, setup=not no_setup, history=not no_history,
                 web=not no_ui))


@main.command("seed", context_settings=CONTEXT)
@click.option("--days", type=click.IntRange(1), default=7, show_default=True,
              help="Calendar days of history, the last one up to --end.")
@click.option("--stations", type=click.IntRange(1), default=50, show_default=True,
              help="The sample registry's first N stations (as `hj212 run` simulates).")
@click.option("--seed", "seed_value", type=int, default=1, show_default=True,
              help="Seed of the stations' values and the faults' picks (that of "
                   "`hj212 simulate`, so history and a live run agree).")
@click.option("--end", default=None,
              help="Where history stops, local CST time, e.g. 2026-11-24T08:00 "
                   "(default: now, to the minute).")
@click.option("--faults", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Fault script repeated every day (default: the sample "
                                 "script, pipeline/simulator/faults/sample.toml).")
@click.option("--no-faults", is_flag=True, help="Clean history.")
@click.option("--realtime-days", type=click.IntRange(0), default=1, show_default=True,
              help="The last days that carry real-time (2011) records.")
@click.option("--minute-days", type=click.IntRange(0), default=7, show_default=True,
              help="The last days that carry minute (2051) records; older days have hourly "
                   "and daily records only.")
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Processes generating stations (default: one per CPU).")
@pass_cli
def seed_history(cli: CliContext, days: int, stations: int, seed_value: int, end: str | None,
                 faults: Path | None, no_faults: bool, realtime_days: int, minute_days: int,
                 jobs: int | None) -> None:
    """Write days of history for the fleet straight into ClickHouse, for the pages.

    The simulator's loggers make the records of each station day by day (real-time 2011,
    minute 2051, hourly 2061 and daily 2031 at the station's cadence) with the fault
    script's faults on every day; the frames go through the worker's sink, the detectors
    run over them as the worker runs them (alarm episodes, missing-data windows, back-fill
    answered by the logger), and completeness is computed for every hour and day.

    Thinned by age, on purpose: real-time records only on the last --realtime-days days,
    minute records only on the last --minute-days (their loggers sample once per minute
    record there, so Min = Avg = Max), older days hourly and daily records only. Each
    frame costs a Python logger and the detectors 0.1 to 0.3 ms, and 2011 then 2051 are
    most of the frames; the pages show real-time and minute data for recent days, and
    daily completeness, anomalies and weekly reports need no more further back. 30 days x
    308 stations took under 5 minutes on 2 shared cores; --minute-days 30 keeps every
    minute record (about three times the work).

    Running it again with the same options (--end included) adds no row: each day's
    records come from (seed, day) alone and every table is keyed. Needs a reachable
    ClickHouse (`hj212 stack up`); migrates, and loads the sample registry when it is
    empty.
    """
    from pipeline.seed import DEFAULT_FAULTS, SeedError, make_plan, seed
    from pipeline.simulator.faults import FaultScriptError, load_script
    from pipeline.store.client import StoreError
    from pipeline.timebase import now_local

    settings = cli.settings
    try:
        until = datetime.fromisoformat(end).replace(tzinfo=None) if end else now_local()
    except ValueError:
        raise click.BadParameter(f"{end!r}: give a local (CST) time like 2026-11-24T08:00",
                                 param_hint="--end") from None
    try:
        specs = [] if no_faults else load_script(faults or DEFAULT_FAULTS)
        plan = make_plan(days=days, stations=stations, end=until, seed=seed_value,
                         faults=specs, realtime_days=realtime_days, minute_days=minute_days)
        if len(plan.stations) < stations:
            click.echo(f"note: --stations {stations}: the registry has "
                       f"{len(plan.stations)} active stations the simulator can run; "
                       "seeding those", err=True)
        report = seed(settings.clickhouse.dsn, plan, jobs=jobs or os.cpu_count() or 1)
    except (SeedError, FaultScriptError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("\n".join(report.lines()))


@main.command(context_settings=CONTEXT)
@pass_cli
def settings(cli: CliContext) -> None:
    """Show every setting: environment variable, TOML key, value and where it came from."""
    from pipeline.codec_text import format_table

    current = cli.settings
    rows = [{"variable": env, "toml": key, "value": value, "source": source}
            for env, key, value, source in settings_rows(current)]
    if current.config_file is not None:
        click.echo(f"config file: {current.config_file}")
    click.echo(format_table(rows))


main.add_command(stack)
main.add_command(simulate)
main.add_command(gateway)
main.add_command(db)
main.add_command(stations)
main.add_command(worker)
main.add_command(clues)

#: entry-point group through which the rooms above pipeline/ (dashboards/, admin/) add
#: their commands (``hj212 users``, ``hj212 ui``, ...): pipeline/ may not import them
PLUGIN_GROUP = "hj212.commands"


def _add_plugin_commands(group: click.Group) -> None:
    for ep in entry_points(group=PLUGIN_GROUP):
        if ep.name in group.commands:
            continue
        try:
            command = ep.load()
        except Exception as exc:  # a broken plugin must not take the whole CLI down
            error = f"{type(exc).__name__}: {exc}"

            @click.command(ep.name, context_settings=CONTEXT,
                           help=f"(unavailable: {ep.value} failed to load)")
            def broken(error: str = error, value: str = ep.value) -> None:
                raise click.ClickException(f"{value} failed to load: {error}; reinstall "
                                           "with `make bootstrap` or fix the module")

            command = broken
        group.add_command(command, ep.name)


_add_plugin_commands(main)


if __name__ == "__main__":  # pragma: no cover
    main()
