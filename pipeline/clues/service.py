"""``hj212 clues``: sweep the stored data for clues, once or every few seconds, writing
alarm rows (``alarms``, through the worker's AlarmSink) and publishing them on
``hj212.alarms`` as the worker does (``alarm_record``), so the duty desk, notify and the
pages see clue alarms like any other, by their class (rules ``clue_*``).

Order of one sweep, and why: rows first, then messages, then the watermark. A crash
before the watermark is saved sweeps the same periods again; the ClueBook reads the rows
already written and writes nothing for what they cover, so a restart neither repeats nor
skips (a message may go out twice only if the crash fell between the rows and the
messages' delivery; consumers key alarms by ``alarm_id`` and ``version``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.clues import load
from pipeline.clues.settings import ClueSettings
from pipeline.clues.sweep import DAY, SweepResult, Watermark, due, in_range, sweep
from pipeline.config import Settings
from pipeline.logs import get_logger
from pipeline.store.client import ClickHouse, StoreError
from pipeline.stream.sinks import AlarmRecord, AlarmSink, alarm_record
from pipeline.timebase import now_local

log = get_logger("clues")

#: how far back the data clock looks for the latest data time when nothing was swept yet
_CLOCK_SINCE = datetime(2000, 1, 1)


@dataclass(frozen=True, slots=True)
class ClueOptions:
    clock: str = "wall"  # wall or data
    every_s: float = 30.0
    once: bool = False
    start: datetime | None = None  # an explicit range (with end): no watermark
    end: datetime | None = None
    publish: bool = True
    state_file: Path | None = None
    #: no hour or day beginning before this data time is judged (``hj212 run``: the
    #: first whole hour of its fleet)
    not_before: datetime | None = None


def state_path(settings: Settings, ch: ClickHouse) -> Path:
    """The default watermark file: one per database, under the run folder."""
    return settings.run_dir / "clues" / f"watermark-{ch.database}.json"


def records_of(result: SweepResult, now: float | None = None) -> list[AlarmRecord]:
    """Alarm rows and messages of the sweep's steps, each a millisecond newer than the
    one before: an alarm opened, updated and cleared in one sweep keeps its last step as
    the newest version (ReplacingMergeTree keeps the largest)."""
    base = time.time() if now is None else now
    return [alarm_record(step, base + i / 1000) for i, step in enumerate(result.steps)]


def clock_now(ch: ClickHouse, clock: str, mark: Watermark | None) -> datetime | None:
    if clock == "wall":
        return now_local()
    since = (mark.hour - 2 * DAY) if mark is not None else _CLOCK_SINCE
    return load.latest_data_time(ch, since)


class Publisher:
    """The alarms topic's producer, on the sweep's event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped,unused-ignore]

        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka.servers, acks="all",
            enable_idempotence=True, linger_ms=5,
            client_id=f"{self.settings.kafka.client_id}-clues")
        await self.producer.start()

    async def send(self, records: list[AlarmRecord]) -> None:
        pending = [await self.producer.send(self.settings.topics.alarms, r.message, key=r.key)
                   for r in records]
        await asyncio.gather(*pending)

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()


def sweep_once(ch: ClickHouse, clues: ClueSettings, hours: list[datetime],
               days: list[datetime]) -> tuple[SweepResult, list[AlarmRecord]]:
    """Judge and write the rows (blocking; the service runs it in a thread)."""
    result = sweep(ch, clues, hours, days)
    records = records_of(result)
    AlarmSink(ch).write(records)
    return result, records


async def run_clues(settings: Settings, clues: ClueSettings, options: ClueOptions) -> int:
    """The service (or one sweep); returns the number of alarm steps written."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # not on the main thread (tests): no handlers, the caller stops it
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    publisher = Publisher(settings) if options.publish else None
    if publisher is not None:
        await publisher.start()
    written = 0
    ch = ClickHouse(settings.clickhouse.dsn)
    path = options.state_file or state_path(settings, ch)
    try:
        while not stop.is_set():
            ranged = options.start is not None and options.end is not None
            mark = None if ranged else Watermark.read(path)
            try:
                after = None
                if ranged:
                    assert options.start is not None and options.end is not None
                    hours, days = in_range(options.start, options.end, options.not_before)
                else:
                    now = await asyncio.to_thread(clock_now, ch, options.clock, mark)
                    hours, days, after = (due(now, clues, mark, options.not_before)
                                          if now is not None else ([], [], None))
                if hours or days:
                    result, records = await asyncio.to_thread(sweep_once, ch, clues, hours,
                                                              days)
                    if publisher is not None and records:
                        await publisher.send(records)
                    written += len(records)
                    for r in records:
                        if r.row["state"] == "open" and r.row["occurrences"] == 1:
                            log.info("clue.opened", alarm_id=r.row["alarm_id"],
                                     rule=r.row["rule"], severity=r.row["severity"])
                    log.info("clues.swept", hours=result.hours, days=result.days,
                             steps=len(records), findings=result.findings,
                             first=min([*hours, *days]).isoformat(sep=" "))
                if after is not None and after != mark:
                    after.save(path)
            except StoreError as exc:
                if options.once:
                    raise
                log.warning("clues.store_error", error=str(exc))
            if options.once or ranged:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=options.every_s)
    finally:
        ch.close()
        if publisher is not None:
            await publisher.stop()
    return written
