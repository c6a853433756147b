"""The agents: batches of ``hj212.frames`` and ``hj212.rejects`` wired to the sinks, the
station table and the detectors. No business rule lives here; the runtime
(``app.py``) commits a batch's offsets only after these return.

Order of a frames batch, and why:
1. decoded, and its readings through the detectors, with each station's state from the
   table; alarm messages to ``hj212.alarms`` and back-fill requests to
   ``hj212.commands`` (awaited): an alarm is out without waiting for any insert;
2. its rows queued (``store_queue``) and the job that stores them: frames and readings
   into ClickHouse (in a thread, retried until they are in), then alarm rows into
   ``alarms`` and windows into ``missing_windows``. The runtime runs one job at a time,
   in batch order, while it fetches and detects the next batches; a job writes all that
   queued before it, so batches detected during a slow insert go in together;
3. (the runtime, every few seconds, once the jobs before are done) changed states to the
   changelog, then the offsets.
A kill between any two steps replays what was not committed: ClickHouse tables are keyed
so the rows merge, and the detection skips frames its state has already folded in (by
offset). Alarm messages may then be published twice; consumers key them by ``alarm_id``
and ``version``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import hj212
import numpy as np
import numpy.typing as npt
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped,unused-ignore]

from pipeline.config import Settings
from pipeline.detect.state import dump_part
from pipeline.detect.station import Detector, DetectorBundle
from pipeline.gateway.envelope import Envelope, EnvelopeError, Envelopes, decode, decode_many
from pipeline.logs import get_logger
from pipeline.store.client import ClickHouse
from pipeline.store.completeness import Period, periods_of
from pipeline.store.frame_rows import VETTED_CRC_VARIANTS, FrameSink, local_to_epoch
from pipeline.stream.clock import WallClock
from pipeline.stream.detection import Outputs, fold_batch, fold_frames, frames_by_station
from pipeline.stream.sinks import (
    AlarmRecord,
    AlarmSink,
    MissingSink,
    RejectSink,
    alarm_record,
    command_message,
    retry_store,
)
from pipeline.stream.state import StationTable
from pipeline.stream.store_queue import Idle, Store, StoreQueue

log = get_logger("stream.agents")


def _envelopes(records: Sequence[Any]) -> tuple[list[Envelope], list[Any]]:
    envs: list[Envelope] = []
    kept: list[Any] = []
    for rec in records:
        try:
            envs.append(decode(rec.value))
        except EnvelopeError as exc:
            # no raw frame to keep; logged with where to find the message
            log.error("envelope.invalid", topic=rec.topic, partition=rec.partition,
                      offset=rec.offset, error=str(exc))
            continue
        kept.append(rec)
    return envs, kept


def _envelope_columns(records: Sequence[Any]) -> tuple[Envelopes, list[Any]]:
    """``_envelopes`` for the frames topic: the envelopes as columns, read in Rust."""
    envs, errors = decode_many([rec.value for rec in records])
    if not errors:
        return envs, list(records)
    bad = set()
    for i, error in errors:
        rec = records[i]
        bad.add(i)
        log.error("envelope.invalid", topic=rec.topic, partition=rec.partition,
                  offset=rec.offset, error=error)
    return envs, [rec for i, rec in enumerate(records) if i not in bad]


class Agents:
    """A ClickHouse connection each for frames, alarms and windows, rejects; the
    detection."""

    def __init__(self, settings: Settings, topics: Any, table: StationTable,
                 detector: Detector | None, *, commands_topic: str = "",
                 max_backoff: float = 30.0, clock: Any = None,
                 store_interval: float = 0.0) -> None:
        self.topics = topics
        #: a pipeline.stream.clock clock: which receive times the detectors see
        self.clock = clock if clock is not None else WallClock()
        self.table = table
        self.strict = settings.strict
        self.frames_ch = ClickHouse(settings.clickhouse.dsn)
        # alarms and windows have their own connection: they may be written while a
        # frames insert is still running in its thread
        self.events_ch = ClickHouse(settings.clickhouse.dsn)
        self.rejects_ch = ClickHouse(settings.clickhouse.dsn)
        self.frame_sink = FrameSink(self.frames_ch, strict=self.strict,
                                    crc_variants=VETTED_CRC_VARIANTS)
        self.alarm_sink = AlarmSink(self.events_ch)
        self.reject_sink = RejectSink(self.rejects_ch, strict=self.strict)
        #: the DetectorBundle (or a stand-in), fed whole frames and clock ticks; None
        #: stores only
        self.detector = detector
        self.commands_topic = commands_topic
        self.missing_sink = MissingSink(self.events_ch)
        self.max_backoff = max_backoff
        #: detected, not yet stored: a store job writes all of it (``store_interval``:
        #: least seconds between two such writes)
        self.queue = StoreQueue(self.frame_sink, self.alarm_sink, self.missing_sink,
                                max_backoff=max_backoff, min_interval=store_interval)
        self.producer: AIOKafkaProducer | None = None
        #: (MN, hour or day) with new records since the last completeness refresh
        self.touched: set[tuple[str, Period]] = set()
        self._stats = {"rejects": 0, "alarms": 0, "backfill_requests": 0}

    @property
    def stats(self) -> dict[str, int]:
        return {**self.queue.stats, **self._stats}

    def close(self) -> None:
        self.frames_ch.close()
        self.events_ch.close()
        self.rejects_ch.close()

    async def on_frames(self, records: Sequence[Any]) -> Store:
        """Decode and detect a batch now (its alarms and back-fill requests are published
        before this returns); return the job that stores its rows, alarm rows and windows.
        The runtime runs that job while it fetches and detects the next batch."""
        envs, kept = _envelope_columns(records)
        if not len(envs):
            return _nothing
        raws = envs.raw
        received = envs.receive_s
        batch = hj212.decode_batch(raws, strict=self.strict, crc_variants=VETTED_CRC_VARIANTS)
        self._touch_periods(batch)
        out: Outputs | None = None
        alarms: list[AlarmRecord] = []
        if self.detector is not None:
            # the stored receive time stays the gateway's; only detection runs on the clock
            # records of a partition keep the gateway's order; across partitions they do not.
            # Only a clock that reads them gets them: the wall's path pays nothing per frame
            partitions = np.fromiter((rec.partition for rec in kept), dtype=np.int32,
                                     count=len(kept)) if self.clock.per_partition else None
            seen = self.clock.receive_epochs(batch.columns["frame_data_time"], received,
                                             partitions)
            out = self._detect(batch, seen, kept, (envs.gateway, envs.seq.tolist()))
            alarms = self._alarm_records(out)
            await self._publish(alarms, out)

        self.queue.add_frames(raws, received, envs.gateway, envs.peer, batch)
        if out is not None:
            self.queue.add_events(alarms, out.windows)
        return self.queue.job()

    def _touch_periods(self, batch: hj212.Batch) -> None:
        """Remember the hours (2051) and days (2061) that got records, for the next
        completeness refresh."""
        c = batch.columns
        cns = c["frame_cn"]
        idx = np.flatnonzero((c["status"] == 0) & ((cns == 2051) | (cns == 2061))
                             & ~np.isnat(c["frame_data_time"]))
        if idx.size:
            mns = [m.decode("ascii", "replace") for m in c["frame_mn"][idx].tolist()]
            self.touched |= periods_of(cns[idx], local_to_epoch(c["frame_data_time"][idx]),
                                       mns)

    def min_intervals(self) -> dict[str, int]:
        """MinInterval (minutes) per MN from the registry contexts the detector holds."""
        contexts = getattr(self.detector, "contexts", None) or {}
        return {mn: ctx.min_interval for mn, ctx in contexts.items()}

    def take_touched(self) -> set[tuple[str, Period]]:
        touched, self.touched = self.touched, set()
        return touched

    def _detect(self, batch: hj212.Batch, received: npt.NDArray[np.int64],
                records: Sequence[Any], origins: tuple[Sequence[str], Sequence[int]]
                ) -> Outputs:
        assert self.detector is not None
        offsets = [rec.offset for rec in records]
        # the frames partition of each MN (the gateway keys by MN, so there is one)
        partition_of = {m.decode("ascii", "replace"): records[i].partition
                        for i, m in enumerate(batch.columns["frame_mn"].tolist())}
        out = Outputs()
        detector = self.detector
        if isinstance(detector, DetectorBundle) and detector.kernel is not None:
            # the value rules of the whole batch in one kernel call over its columns
            changed = fold_batch(detector, batch, received, offsets,
                                 lambda mn: self.table.get(partition_of[mn], mn), out,
                                 origins)
            for mn in changed:
                part = partition_of[mn]
                self.table.put(part, mn, self.table.get(part, mn))
            return out
        for mn, frames in frames_by_station(batch, received, offsets, origins).items():
            part = partition_of[mn]
            state = fold_frames(detector, self.table.get(part, mn), frames, out)
            self.table.put(part, mn, state)
        return out

    async def tick(self, now: datetime) -> Store:
        """The clock-driven part of detection (offline, overdue data, back-fill retries)
        for every station this worker holds, published before this returns; return the
        job that stores its alarm rows and windows (the runtime runs it after the batch
        being stored, in order)."""
        if self.detector is None:
            return _nothing
        out = Outputs()
        at: dict[int, datetime] = {}
        for part, mn in self.table.stations():
            state = self.table.get(part, mn)
            # a tick moves only the missing-data part of the state; comparing that alone
            # keeps a tick cheap for stations with long value history
            before = dump_part(state.get("missing"))
            when = at.get(part)
            if when is None:
                when = at[part] = self.clock.now_for(part, now)
            result = self.detector.tick(state, mn, when)
            out.add(result)
            if (result.alarms or result.windows or result.requests
                    or dump_part(state.get("missing")) != before):
                self.table.put(part, mn, state)
        alarms = self._alarm_records(out)
        await self._publish(alarms, out)
        self.queue.add_events(alarms, out.windows)
        return self.queue.job()

    @staticmethod
    def _alarm_records(out: Outputs) -> list[AlarmRecord]:
        """Alarm rows and messages of the alarm steps (the alarm's opening time and count
        come with each step, from the detector's episode record)."""
        return [alarm_record(step) for step in out.alarms]

    async def _publish(self, records: Sequence[AlarmRecord], out: Outputs) -> None:
        """Alarm messages to ``hj212.alarms`` and back-fill requests to
        ``hj212.commands``, delivered (awaited) before the runtime may commit."""
        assert self.producer is not None
        pending = [await self.producer.send(self.topics.alarms, r.message, key=r.key)
                   for r in records]
        if self.commands_topic:
            for request in out.requests:
                key, value = command_message(request)
                pending.append(await self.producer.send(self.commands_topic, value, key=key))
            self._stats["backfill_requests"] += len(out.requests)
        await asyncio.gather(*pending)
        self._stats["alarms"] += len(records)
        for r in records:
            if r.row["state"] == "open" and r.row["occurrences"] == 1:
                log.info("alarm.opened", alarm_id=r.row["alarm_id"], rule=r.row["rule"],
                         rule_class=r.row["rule_class"], severity=r.row["severity"],
                         opened_cn=r.row["opened_cn"], message=r.row["message"])

    def on_rejects(self, records: Sequence[Any]) -> Store:
        """The job that stores a batch's rejected frames with their reasons."""
        envs, _ = _envelopes(records)
        if not envs:
            return _nothing

        async def store(idle: Idle) -> None:
            n = await retry_store("rejects", lambda: self.reject_sink.write(envs),
                                  max_backoff=self.max_backoff, idle=idle)
            self._stats["rejects"] += n

        return store


async def _nothing(idle: Idle) -> None:
    return None
