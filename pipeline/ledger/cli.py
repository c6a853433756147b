"""``hj212 ledger``: run the ledger writer in this process (pipeline/ledger/writer.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli

if TYPE_CHECKING:
    from pipeline.ledger.model import Check


def _extra_streams(values: tuple[str, ...]) -> dict[str, Check]:
    from pipeline.ledger.rules import load_check

    out: dict[str, Check] = {}
    for value in values:
        name, sep, target = value.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(
                f"{value!r} is not NAME=module:function, e.g. "
                "demo=pipeline.ledger.rules:accept_any", param_hint="--extra-stream")
        try:
            out[name.strip()] = load_check(target.strip())
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--extra-stream") from None
    return out


@click.command(context_settings=CONTEXT)
@click.option("--extra-stream", "extra_streams", multiple=True, metavar="NAME=MODULE:FUNC",
              help="Also accept stream NAME, checked by MODULE:FUNC(history, change) -> "
                   "refusal or None, beside the installed streams (entry-point group "
                   "hj212.ledger_streams). For tests and trials, e.g. "
                   "demo=pipeline.ledger.rules:accept_any. Repeatable.")
@click.option("--batch-max", type=click.IntRange(min=1), default=1_000, show_default=True,
              help="Most changes answered per poll (one insert of events and one of "
                   "replies).")
@click.option("--cache-records", type=click.IntRange(min=1), default=50_000,
              show_default=True,
              help="Records whose history is kept in memory (least recently used dropped).")
@pass_cli
def ledger(cli: CliContext, extra_streams: tuple[str, ...], batch_max: int,
           cache_records: int) -> None:
    """Run the ledger writer: the one writer of each event-sourced record (the alarms'
    lifecycle, later service records).

    It consumes people's changes from the ledger topic (HJ212_TOPICS__LEDGER, created if
    missing) in consumer group HJ212_LEDGER__GROUP_ID, checks each against the record's
    last sequence number and its stream's rule, appends it to ledger_events and writes
    the answer to ledger_replies, then commits. Writers in the same group share the
    partitions; a restart answers again, identically, what was not committed. Ctrl-C or
    SIGTERM stops it after the batch in hand.
    """
    settings = cli.settings  # first: it configures logging, before the writer's loggers

    from pipeline.ledger.writer import WriterError, WriterOptions, run_writer
    from pipeline.store.client import StoreError

    checks = _extra_streams(extra_streams)
    try:
        run_writer(settings, checks,
                   WriterOptions(batch_max=batch_max, cache_records=cache_records))
    except (WriterError, StoreError) as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass
