"""``hj212 worker``: one stream worker, run in this process from the settings."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.stream.app import DEFAULT_APP_ID, StreamOptions


@click.command(context_settings=CONTEXT)
@click.option("--app-id", default=DEFAULT_APP_ID, show_default=True,
              help="The Kafka consumer group, and the prefix of the station table's "
                   "changelog topic (<app-id>-station-state).")
@click.option("--batch-frames", type=click.IntRange(min=1), default=5_000, show_default=True,
              help="Most frames per detection batch.")
@click.option("--batch-seconds", type=click.FloatRange(min=0.01), default=0.2,
              show_default=True, help="Longest wait before a partial batch is detected.")
@click.option("--store-seconds", type=click.FloatRange(min=0.0), default=0.5,
              show_default=True,
              help="Least seconds between two ClickHouse inserts: the batches detected "
                   "meanwhile go in together (fewer, larger parts to merge).")
@click.option("--store-backlog", type=click.IntRange(min=1), default=50_000,
              show_default=True,
              help="Frames detected but not yet in ClickHouse beyond which detection "
                   "waits for the store (ClickHouse slow or down).")
@click.option("--gil-switch-ms", type=click.FloatRange(min=0.05, max=100.0), default=1.0,
              show_default=True,
              help="Milliseconds the detection thread may hold the GIL while the store "
                   "thread waits for it (Python's own default is 5, which made inserts "
                   "5x slower beside busy detection).")
@click.option("--detectors", default="auto", show_default=True,
              help="auto (pipeline.detect's DetectorBundle: value rules, episodes, missing "
                   "data and back-fill, with the registry's limits and cadences), none "
                   "(store only), or module:function returning a detector with the "
                   "bundle's on_frame and tick (e.g. pipeline.stream.builtin:"
                   "wiring_detector, which tests use).")
@click.option("--rules", "rules_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None,
              help="Rules file for --detectors auto instead of the packaged "
                   "pipeline/detect/rules/default.toml (e.g. one with time rules disabled "
                   "for a simulator whose data times are not the gateway's clock).")
@click.option("--values", "values_impl", type=click.Choice(["rust", "python"]), default="rust",
              show_default=True,
              help="Who runs the value rules of --detectors auto: rust (hj212.ValueKernel, "
                   "each station's values state kept in the kernel) or python "
                   "(pipeline/detect/values.py); both are held to reference.py and give "
                   "the same alarms and the same saved state.")
@click.option("--clock", type=click.Choice(["wall", "data"]), default="wall",
              show_default=True,
              help="What now is for offline, overdue data and back-fill retries: wall "
                   "(this machine's time), or data (the latest data time seen, for a "
                   "simulator on an accelerated clock; see pipeline/stream/clock.py).")
@click.option("--tick-seconds", type=click.FloatRange(min=0.05), default=10.0,
              show_default=True, help="Wall seconds between those clock ticks.")
@click.option("--commit-seconds", type=click.FloatRange(min=0.0), default=5.0,
              show_default=True,
              help="Seconds between commits (station state, then the offsets it covers); "
                   "rows and alarms go out with every batch regardless. A kill replays at "
                   "most this long.")
@click.option("--completeness-seconds", type=click.FloatRange(min=0.1), default=60.0,
              show_default=True,
              help="Seconds between refreshes of the completeness table for the hours "
                   "(2051) and days (2061) that got records.")
@pass_cli
def worker(cli: CliContext, app_id: str, batch_frames: int, batch_seconds: float,
           store_seconds: float, store_backlog: int, gil_switch_ms: float, detectors: str,
           rules_file: Path | None, values_impl: str, clock: str, tick_seconds: float,
           commit_seconds: float, completeness_seconds: float) -> None:
    """Run a stream worker: hj212.frames and hj212.rejects into ClickHouse, readings
    through the detectors, alarms to hj212.alarms and the alarms table.

    Offsets are committed only after ClickHouse has a batch's rows and the station state
    covering them is in its changelog; with ClickHouse down
    the worker retries with back-off and stops fetching. Workers with the same --app-id
    share the partitions. SIGTERM or Ctrl-C stops it after the batch in hand. A station
    state in the changelog that this release cannot read (one a newer release wrote)
    stops the worker with an error naming the station and the version.
    """
    from pipeline.detect.state import StateVersionError
    from pipeline.logs import get_logger
    from pipeline.stream.app import run_worker
    from pipeline.stream.detection import load_detector, registry_contexts

    settings = cli.settings
    if rules_file is not None and detectors != "auto":
        raise click.BadParameter("only --detectors auto reads a rules file",
                                 param_hint="--rules")
    if rules_file is not None:
        from pipeline.detect.rules import Rules, RulesError

        try:
            Rules.load(rules_file)
        except RulesError as exc:
            raise click.ClickException(str(exc)) from None
    try:
        contexts = registry_contexts(settings.clickhouse.dsn) if detectors == "auto" else None
        detector = load_detector(detectors, contexts, rules_file, values=values_impl)
    except (ImportError, AttributeError, ValueError) as exc:
        raise click.ClickException(f"--detectors {detectors!r}: {exc}") from None
    opts = StreamOptions(app_id=app_id, batch_frames=batch_frames, batch_seconds=batch_seconds,
                         store_seconds=store_seconds, store_backlog_frames=store_backlog,
                         gil_switch_ms=gil_switch_ms,
                         clock=clock, tick_seconds=tick_seconds,
                         commit_seconds=commit_seconds,
                         completeness_seconds=completeness_seconds)
    get_logger("stream.worker").info(
        "worker.start", app_id=app_id, broker=settings.kafka.bootstrap,
        clickhouse=settings.clickhouse.dsn.split("@")[-1], frames=settings.topics.frames,
        rejects=settings.topics.rejects, alarms=settings.topics.alarms,
        detectors=detectors, values=values_impl, clock=clock,
        rules=str(rules_file) if rules_file else "default")
    try:
        run_worker(settings, opts, detector)
    except StateVersionError as exc:
        raise click.ClickException(str(exc)) from None
