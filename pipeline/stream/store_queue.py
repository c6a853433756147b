"""What the worker has detected but not yet stored, written to ClickHouse together.

Why a queue and not one insert per batch: the loop detects a batch (and publishes its
alarms) while the previous one is being stored. When ClickHouse is slow, for instance while
it merges parts on the same cores, each batch used to wait for the insert before it, so
detection, and every alarm with it, stalled behind the store (alarm p99 11 s in the spells
of a 5-minute run at 10 k frames/s). Now batches queue here and one flush writes all that
queued since the last: one block per table, however many batches. A slow insert so makes
the next one larger instead of holding detection back, and ``min_interval`` keeps inserts
at most so many a second, so ClickHouse gets fewer, larger parts to merge.

Order within a flush: the frames and readings of every queued batch, then the alarm rows,
then the missing-data windows, each in the order they were detected (a window's rows are
deduplicated to the last: they share the flush's version).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import hj212
import numpy.typing as npt

from pipeline.logs import get_logger
from pipeline.store.frame_rows import FrameSink
from pipeline.stream.sinks import AlarmRecord, AlarmSink, MissingSink, retry_store

log = get_logger("stream.store")

#: what a flush waits with between retries: None sleeps; the runtime's Pauser.idle polls
#: the paused consumer (only where the runtime is not itself fetching)
Idle = Callable[[float], Awaitable[None]] | None
#: a store job, run by the runtime while it fetches and detects the next batches
Store = Callable[[Idle], Awaitable[None]]


@dataclass(slots=True)
class _Frames:
    """One decoded batch as the worker took it from Kafka."""

    raws: Any
    received: npt.NDArray[Any]
    gateway: Any
    peer: Any
    batch: hj212.Batch


@dataclass(slots=True)
class _Queued:
    frames: list[_Frames] = field(default_factory=list)
    alarms: list[AlarmRecord] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    n_frames: int = 0

    @property
    def empty(self) -> bool:
        return not (self.frames or self.alarms or self.windows)


class StoreQueue:
    """Batches and events waiting for ClickHouse; ``flush`` writes all of them."""

    def __init__(self, frame_sink: FrameSink, alarm_sink: AlarmSink,
                 missing_sink: MissingSink, *, max_backoff: float = 30.0,
                 min_interval: float = 0.0) -> None:
        self.frame_sink = frame_sink
        self.alarm_sink = alarm_sink
        self.missing_sink = missing_sink
        self.max_backoff = max_backoff
        #: least seconds from one flush's start to the next one's
        self.min_interval = min_interval
        self._queued = _Queued()
        #: additions so far, and how many of them a flush has taken
        self._added = 0
        self._taken = 0
        #: frames taken by the flush in progress, not yet stored
        self._flushing = 0
        self._last_flush = 0.0
        self.stats = {"frames": 0, "readings": 0, "windows": 0, "inserts": 0}

    @property
    def backlog(self) -> int:
        """Frames detected and not yet stored (queued or being written)."""
        return self._queued.n_frames + self._flushing

    def add_frames(self, raws: Any, received: npt.NDArray[Any], gateway: Any, peer: Any,
                   batch: hj212.Batch) -> None:
        self._queued.frames.append(_Frames(raws, received, gateway, peer, batch))
        self._queued.n_frames += batch.n_frames
        self._added += 1

    def add_events(self, alarms: list[AlarmRecord], windows: list[dict[str, Any]]) -> None:
        self._queued.alarms.extend(alarms)
        self._queued.windows.extend(windows)
        self._added += 1

    def job(self) -> Store:
        """The store job of what was added so far: it flushes, unless an earlier job's
        flush has taken all of that already (the runtime runs jobs one at a time, in
        order, so that flush is then done). Without this check every job of a batch
        detected during a slow insert flushed again, each waiting ``min_interval``, and
        the jobs (and the offsets they release) fell ever further behind the rows."""
        mark = self._added

        async def store(idle: Idle) -> None:
            if self._taken < mark:
                await self.flush(idle)

        return store

    async def flush(self, idle: Idle) -> None:
        """Write everything queued (nothing when an earlier flush took it all), retrying
        until it is in. The runtime runs flushes one at a time."""
        wait = self._last_flush + self.min_interval - time.monotonic()
        if wait > 0 and not self._queued.empty:
            await asyncio.sleep(wait)
        queued, self._queued = self._queued, _Queued()
        self._taken = self._added
        if queued.empty:
            return
        self._last_flush = time.monotonic()
        self._flushing = queued.n_frames
        try:
            if queued.frames:
                await self._store_frames(queued.frames, idle)
            if queued.alarms:
                await retry_store("alarms", lambda: self.alarm_sink.write(queued.alarms),
                                  max_backoff=self.max_backoff, idle=idle)
            if queued.windows:
                await retry_store("missing_windows",
                                  lambda: self.missing_sink.write(queued.windows),
                                  max_backoff=self.max_backoff, idle=idle)
                self.stats["windows"] += len(queued.windows)
        finally:
            self._flushing = 0

    async def _store_frames(self, frames: list[_Frames], idle: Idle) -> None:
        sink = self.frame_sink

        def write() -> Any:
            start = time.perf_counter()
            parts = [sink.rows(f.raws, f.received, f.gateway, f.peer, batch=f.batch)
                     for f in frames]
            return sink.insert(parts, start=start)

        result = await retry_store("frames", write, max_backoff=self.max_backoff, idle=idle)
        self.stats["frames"] += result.frames
        self.stats["readings"] += result.readings
        self.stats["inserts"] += 1
        if result.seconds > 0.5:  # ClickHouse merging or starved: worth seeing
            log.info("store.slow", frames=result.frames, readings=result.readings,
                     batches=len(frames), seconds=round(result.seconds, 3))
