"""``hj212 clues``: the clue sweep, forever or once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli


def _when(value: str | None, hint: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=None)
    except ValueError:
        raise click.BadParameter(f"{value!r}: give a local (CST) time like 2026-11-24T08:00",
                                 param_hint=hint) from None


@click.command(context_settings=CONTEXT)
@click.option("--once", is_flag=True, help="One sweep, then exit.")
@click.option("--from", "start", default=None,
              help="With --to: sweep the whole hours and days of this data-time range "
                   "(CST, e.g. 2026-12-01T00:00), once; the watermark is neither read nor "
                   "moved.")
@click.option("--to", "end", default=None, help="End of the --from range (exclusive).")
@click.option("--clock", type=click.Choice(["wall", "data"]), default="wall",
              show_default=True,
              help="What now is: wall (this machine's time) or data (the latest data time "
                   "stored, for a simulated fleet on an accelerated clock).")
@click.option("--every", "every_s", type=click.FloatRange(min=0.5), default=30.0,
              show_default=True, help="Wall seconds between sweeps.")
@click.option("--rules", "rules_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None,
              help="Clue settings instead of the packaged pipeline/detect/rules/clues.toml.")
@click.option("--state-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The watermark (next hour and day to sweep); default "
                   "<run_dir>/clues/watermark-<database>.json.")
@click.option("--not-before", "not_before", default=None, metavar="DATETIME",
              help="Judge no hour or day that begins before this data time (CST, e.g. "
                   "2026-12-01T09:00): the hours before it are skipped, and the watermark "
                   "moves past them. hj212 run passes the first whole hour after its fleet "
                   "started (the hour it started in also holds records from before).")
@click.option("--no-publish", is_flag=True,
              help="Write alarm rows only; publish nothing on the alarms topic.")
@pass_cli
def clues(cli: CliContext, once: bool, start: str | None, end: str | None, clock: str,
          every_s: float, rules_file: Path | None, state_file: Path | None,
          not_before: str | None, no_publish: bool) -> None:
    """Find data-authenticity clues (异常线索) in the stored data and raise them as alarms
    of class clue: converted values that disagree with O2, stopped sources flagged valid,
    sources flagged stopped while running, hourly records that disagree with their minute
    data, values held just under the limit, repeated days and twin stations.

    Each closed hour and day (by the data clock or the wall) is swept once (none that
    begins before --not-before); an hour in which a station's link began (a logger
    started mid-hour) is not judged for hourly against minute data. The settings
    (a switch, a severity and thresholds per clue) are in pipeline/detect/rules/clues.toml.
    """
    from pipeline.clues.service import ClueOptions, run_clues
    from pipeline.clues.settings import ClueSettings, ClueSettingsError
    from pipeline.store.client import StoreError

    begin, until = _when(start, "--from"), _when(end, "--to")
    floor = _when(not_before, "--not-before")
    if (begin is None) != (until is None):
        raise click.BadParameter("give both --from and --to, or neither",
                                 param_hint="--from/--to")
    if begin is not None and until is not None and until <= begin:
        raise click.BadParameter("--to must be after --from", param_hint="--to")
    try:
        settings = ClueSettings.load(rules_file)
    except ClueSettingsError as exc:
        raise click.ClickException(str(exc)) from None
    options = ClueOptions(clock=clock, every_s=every_s, once=once or begin is not None,
                          start=begin, end=until, publish=not no_publish,
                          state_file=state_file, not_before=floor)
    try:
        written = asyncio.run(run_clues(cli.settings, settings, options))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if options.once:
        click.echo(f"clue alarm steps written: {written}")
