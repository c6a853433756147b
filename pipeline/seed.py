"""``hj212 seed``: days of history for the simulated fleet, written straight into
ClickHouse, so the analysts' pages have something to show on a fresh machine.

What is made, and why this way:

- Stations: the registry's first M active stations as the simulator runs them
  (``registry_fleet`` with the seed of ``hj212 simulate``, 1 by default), so history and a
  live ``hj212 run`` share each station's baselines.
- Records: one ``VirtualLogger`` per station and calendar day, seeded by (seed, day). A
  day's records therefore do not depend on ``--days`` or on how far back the run starts.
- Faults: the fault script's entries are assigned afresh every day (their relative starts
  count from that day's midnight, their stations are picked with the day's seed), so
  every day has some trouble, on different stations.
- Thinning, by age (``SeedPlan.kind``): the last ``realtime_days`` carry every record; the
  days before, back to ``minute_days``, carry no real-time (2011) record and their loggers
  sample once per minute record (Min = Avg = Max there); older days carry hourly and daily
  records only, from a sample every ``HOURLY_DAY_SAMPLE_S``. Measured here (sample
  registry, sample faults, writing aside), a station-day costs about 230 ms of CPU with
  real-time data (2,300 frames), 85 ms with minute data (440) and 8 ms hourly-only (25):
  the frames (a Python logger making each, the detectors reading it) are the cost, and
  2011 then 2051 are most of them. Real-time data a day back and minute
  data a week back are what the pages show in detail; daily completeness, anomalies and
  the weekly report need only hourly and daily records further back.
- The gateway's side of each link is played here: an ``hj212.Framer`` per connection,
  9014 for uploads and 9011 for damaged frames fed back to the logger (so resends happen
  as on the wire), rejected frames kept with their reason.
- Detection as the worker does it (``pipeline.stream.detection``): the frames of a day
  are decoded with ``hj212.decode_batch``, grouped by ``frames_by_station`` and folded
  through the ``DetectorBundle`` with ``fold_frames``; the clock-driven part ticks every
  ``TICK_S`` seconds of simulated time (on hourly-only days at each arrival, as
  ``--clock data`` does: a station heard once an hour is not offline in between).
  Back-fill requests go to the logger that holds the records, and its replay comes back
  the same way, so gaps end filled as they would in the field (or given up when the
  logger lost them).
- Writing: ``FrameSink`` for frames and readings, ``AlarmSink`` (rows from
  ``alarm_record``) and ``MissingSink``. Completeness is made here, from the records as
  they were decoded, by the rules of ``pipeline.store.completeness`` (its ``figures``
  make the rows): its ``refresh`` runs two queries per period over ``readings FINAL``,
  which for a month of a 300-station fleet took seconds each, minutes in all (the
  integration test holds the two to the same figures). Nothing is published to Kafka:
  history raises no live alarm.

Idempotent: frames are keyed by (MN, CN, QN, raw bytes), readings by (MN, CN, code, data
time), alarms by (MN, code, rule, opened at), missing windows by (MN, CN, start),
completeness by (MN, period, code, start); every value here comes from the seed and the
simulated clock (receive times, QNs and versions too), so a second run with the same
options (``--end`` included) writes the same rows, which ``FINAL`` (and the next merge)
collapses. A run with more days writes the same records again for the days it shares;
only the answers to back-fill requests (9011/9012) differ, as they echo the request's QN.

Generation is pure (``StationHistory`` makes a station's days as ``DayOutput`` and its
completeness); only ``SeedWriter``, ``run_stations`` and ``seed`` touch ClickHouse.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import queue
import sys
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any, TextIO

import hj212
import numpy as np
import numpy.typing as npt

from pipeline.detect.completeness import expected_records
from pipeline.detect.context import DEFAULT_MIN_INTERVAL, StationContext
from pipeline.detect.missing import BackfillRequest
from pipeline.detect.model import AlarmStep
from pipeline.detect.state import StationState
from pipeline.detect.station import Detector, DetectorBundle, Result
from pipeline.simulator.datalogger import VirtualLogger
from pipeline.simulator.faults import Fault, FaultSpec, assign
from pipeline.simulator.stations import REGISTRY_DIR, SimStation, registry_fleet, with_intervals
from pipeline.store.completeness import COLUMNS as COMPLETENESS_COLUMNS
from pipeline.store.completeness import PERIODS, Period, figures
from pipeline.store.frame_rows import VETTED_CRC_VARIANTS, local_to_epoch, normalise_codes
from pipeline.stream.detection import FrameFacts, Outputs, fold_frames, frames_by_station
from pipeline.stream.sinks import AlarmRecord, alarm_record
from pipeline.timebase import CST_OFFSET_S, from_s, to_s, unix_from_local

DEFAULT_FAULTS = Path(__file__).parent / "simulator" / "faults" / "sample.toml"
#: the gateway id stored with seeded frames, so they can be told from received ones
GATEWAY = "hj212-seed"
#: simulated seconds between ticks of the clock-driven detection (the worker ticks every
#: 10 wall seconds; at hj212 run's 60x that is 600 simulated seconds)
TICK_S = 300
#: frames gathered before one insert into frames and readings
FLUSH_FRAMES = 30_000


class SeedError(ValueError):
    """Options the seed cannot use; the message names the option, the value and the fix."""


# --- the plan: which stations, days and faults ---------------------------------------------

#: what a day carries, newest first: everything; no 2011; hourly and daily records only
REALTIME, MINUTE, HOURLY = "realtime", "minute", "hourly"
#: how often a logger samples on an hourly-only day (its hourly record averages these)
HOURLY_DAY_SAMPLE_S = 600


@dataclass(frozen=True, slots=True)
class SeedPlan:
    """What a seed run makes: ``days`` calendar days (the last one up to ``end``, which is
    excluded) for ``stations``, with ``faults`` repeated every day; real-time records on
    the last ``realtime_days`` days, minute records on the last ``minute_days`` (and on
    every real-time day)."""

    stations: tuple[SimStation, ...]
    days: tuple[date, ...]
    end: datetime
    seed: int = 1
    faults: tuple[FaultSpec, ...] = ()
    realtime_days: int = 1
    minute_days: int = 7

    @staticmethod
    def day_start(day: date) -> datetime:
        return datetime.combine(day, day_time())

    def day_limit(self, day: date) -> datetime:
        """Where the day's simulation stops: its next midnight, or ``end``."""
        return min(self.day_start(day) + timedelta(days=1), self.end)

    def kind(self, day: date) -> str:
        """REALTIME, MINUTE or HOURLY: which records the day carries."""
        age = len(self.days) - 1 - self.days.index(day)  # 0: the last day
        if age < self.realtime_days:
            return REALTIME
        return MINUTE if age < self.minute_days else HOURLY

    def day_seed(self, day: date) -> int:
        """The seed of one day's loggers and fault picks (another day, other values)."""
        return self.seed * 1_000_003 + day.toordinal()

    def day_faults(self, day: date) -> dict[str, list[Fault]]:
        """MN -> the faults of this day (fresh objects: a fault keeps per-run state)."""
        return assign(self.faults, self.stations, self.day_start(day), self.day_seed(day))

    @property
    def station_days(self) -> int:
        return len(self.stations) * len(self.days)


def seed_days(days: int, end: datetime) -> tuple[date, ...]:
    """The ``days`` calendar days up to ``end`` (excluded): the last is the day of the
    last second before ``end``."""
    if days < 1:
        raise SeedError(f"--days {days}: give at least 1")
    last = (end - timedelta(seconds=1)).date()
    return tuple(last - timedelta(days=n) for n in range(days - 1, -1, -1))


def make_plan(*, days: int, stations: int, end: datetime, seed: int = 1,
              faults: Sequence[FaultSpec] = (), realtime_days: int = 1, minute_days: int = 7,
              registry: Path = REGISTRY_DIR) -> SeedPlan:
    """The plan for the registry's first ``stations`` active stations (all of them when it
    has fewer). ``end`` is a naive CST time; seconds are dropped (records start on whole
    minutes)."""
    if end.tzinfo is not None:
        raise SeedError(f"--end {end.isoformat()}: give a local (CST) time without a zone, "
                        "e.g. 2026-11-24T08:00")
    for name, value in (("--realtime-days", realtime_days), ("--minute-days", minute_days)):
        if value < 0:
            raise SeedError(f"{name} {value}: give 0 or more")
    if stations < 1:
        raise SeedError(f"--stations {stations}: give at least 1")
    # fewer when the registry has fewer active stations (the sample has 308 of 320): an
    # inactive station sends nothing, so "the whole fleet" is what the caller gets
    fleet = registry_fleet(registry, stations, seed)
    if not fleet:
        raise SeedError(f"the registry in {registry} has no active flue-gas or waste-water "
                        "station to simulate; fix its stations.csv")
    end = end.replace(second=0, microsecond=0)
    return SeedPlan(stations=tuple(fleet[:stations]), days=seed_days(days, end), end=end,
                    seed=seed, faults=tuple(faults), realtime_days=realtime_days,
                    minute_days=minute_days)


def day_logger(plan: SeedPlan, sim: SimStation, day: date, faults: Sequence[Fault] = ()
               ) -> VirtualLogger:
    """The station's logger for one day, sampling only as often as the day's records
    need: every RtdInterval on a real-time day, once per minute record on a minute day,
    every ``HOURLY_DAY_SAMPLE_S`` on an hourly-only day. It announces no restart (2081):
    the first day of a run would then differ from the same day in a longer run."""
    kind = plan.kind(day)
    skip: tuple[int, ...] = ()
    if kind == MINUTE:
        sim = with_intervals(sim, sim.min_interval * 60, sim.min_interval)
        skip = (2011,)
    elif kind == HOURLY:
        minutes = HOURLY_DAY_SAMPLE_S // 60
        sim = with_intervals(sim, HOURLY_DAY_SAMPLE_S, minutes)
        skip = (2011, 2051)
    return VirtualLogger(sim, start=plan.day_start(day), seed=plan.day_seed(day),
                         faults=faults, restart_notice=False, skip=skip)


# --- one station's history ------------------------------------------------------------------


@dataclass(slots=True)
class _Link:
    """One logger and the gateway's end of its connection."""

    logger: VirtualLogger
    framer: hj212.Framer = field(default_factory=hj212.Framer)
    online: bool = False


@dataclass(slots=True)
class DayOutput:
    """One station's day, ready for the sinks: what the platform received (in order,
    replays included) and what the detectors made of it."""

    mn: str
    day: date
    raws: list[bytes] = field(default_factory=list)
    #: UTC epoch seconds each raw was received (simulated), one per raw
    received: list[int] = field(default_factory=list)
    alarms: list[AlarmStep] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    #: accepted frames by CN, rejected frames as 0
    frames: Counter[int] = field(default_factory=Counter)
    readings: int = 0
    requests: int = 0


@dataclass(slots=True)
class _Records:
    """Per decoded batch, the 2051 and 2061 rows completeness counts: hourly or not, code,
    data time (epoch seconds), valid."""

    hourly: npt.NDArray[np.bool_]
    code: npt.NDArray[np.bytes_]
    time: npt.NDArray[np.int64]
    ok: npt.NDArray[np.bool_]


class StationHistory:
    """A station's days, one after the other: its loggers, the link, the detectors (with
    their state carried from day to day), and at the end its completeness. Pure: no I/O."""

    def __init__(self, plan: SeedPlan, sim: SimStation, detector: Detector) -> None:
        self.plan = plan
        self.sim = sim
        self.mn = sim.mn
        self.detector = detector
        ctx = detector.contexts.get(sim.mn)
        self.min_interval = ctx.min_interval if ctx is not None else DEFAULT_MIN_INTERVAL
        self.limits = dict(ctx.limits) if ctx is not None else {}
        self.state: StationState = {}
        self._offset = 0  # stands in for the Kafka offset fold_frames skips replays by
        self._next_tick: int | None = None
        #: the loggers of the last two days: a back-fill after midnight asks yesterday's
        self._links: dict[date, _Link] = {}
        self._records: list[_Records] = []

    def day(self, day: date, faults: Sequence[Fault] = ()) -> DayOutput:
        plan = self.plan
        start, limit = plan.day_start(day), plan.day_limit(day)
        logger = day_logger(plan, self.sim, day, faults)
        yesterday = self._links.get(day - timedelta(days=1))
        # the same connection goes on over midnight; only the logger's day changes
        link = _Link(logger) if yesterday is None else _Link(logger, yesterday.framer,
                                                             yesterday.online)
        self._links = {} if yesterday is None else {yesterday.logger.start.date(): yesterday}
        self._links[day] = link
        out = DayOutput(self.mn, day)
        self._generate(link, to_s(limit), out)
        facts = self._decode(out, out.raws[:], out.received[:])
        if plan.kind(day) == HOURLY:
            self._detect_on_data_clock(facts, out, to_s(limit))
        else:
            self._detect(facts, out, to_s(start), to_s(limit))
        return out

    # --- the loggers and the gateway's end of the link --------------------------------------

    def _generate(self, link: _Link, limit: int, out: DayOutput) -> None:
        lg = link.logger
        while lg.next_t <= limit:
            t = lg.next_t
            now = from_s(t)
            if t == limit:
                # the sample at the limit only closes the day's last records; its own
                # 2011 belongs to the next day (or after the end)
                lg.skip = lg.skip | {2011}
            if not lg.wants_link(now):
                if link.online:
                    link.online = False
                    lg.disconnected()
                lg.advance(now, float(t), online=False)
                continue
            chunks: list[bytes] = []
            if not link.online:
                link.online = True
                chunks = lg.connected(now, float(t))
            chunks += lg.advance(now, float(t))
            if chunks:
                self._deliver(link, chunks, now, out)

    @staticmethod
    def _deliver(link: _Link, chunks: list[bytes], now: datetime, out: DayOutput) -> None:
        """What the gateway does with a connection's bytes: frames and rejects kept, each
        answered, and the logger's reply to an answer (a resend, the next replayed
        record) taken in turn."""
        lg = link.logger
        wall = float(to_s(now))
        received = int(unix_from_local(now))
        pending = chunks
        while pending:
            replies: list[bytes] = []
            for item in link.framer.feed(b"".join(pending)):
                out.raws.append(item.raw)
                out.received.append(received)
                if isinstance(item, hj212.FrameError):
                    answer = hj212.answer_error(item)
                else:
                    answer = hj212.answer(item)
                if answer is not None:
                    replies += lg.receive(hj212.parse(answer), now, wall)
            pending = replies

    # --- detection ------------------------------------------------------------------------

    def _detect(self, facts: Sequence[tuple[int, FrameFacts, list[Any]]], out: DayOutput,
                start: int, limit: int) -> None:
        """The frames folded in, and the clock ticking every TICK_S in between (the
        worker's wall clock, on simulated time)."""
        times = [to_s(f.receive_time) for _, f, _ in facts]
        if self._next_tick is None:
            self._next_tick = start + TICK_S
        i, n = 0, len(facts)
        while i < n or self._next_tick <= limit:
            ticking = self._next_tick <= limit
            j = bisect_left(times, self._next_tick, i) if ticking else n
            if j > i:
                self._fold(facts[i:j], out)
                i = j
            if ticking:
                self._tick(self._next_tick, out)
                self._next_tick += TICK_S

    def _detect_on_data_clock(self, facts: Sequence[tuple[int, FrameFacts, list[Any]]],
                              out: DayOutput, limit: int) -> None:
        """An hourly-only day: the clock ticks at each arrival (as ``--clock data`` runs
        it), because a station heard once an hour is not offline in between; gaps are
        still found, requested and filled."""
        times = [to_s(f.receive_time) for _, f, _ in facts]
        i, n = 0, len(facts)
        while i < n:
            j = bisect_right(times, times[i], i)
            self._fold(facts[i:j], out)
            self._tick(times[i], out)
            i = j
        self._next_tick = limit + TICK_S

    def _decode(self, out: DayOutput, raws: list[bytes], received: list[int]
                ) -> list[tuple[int, FrameFacts, list[Any]]]:
        if not raws:
            return []
        batch = hj212.decode_batch(raws, crc_variants=VETTED_CRC_VARIANTS)
        c = batch.columns
        status = c["status"]
        out.frames.update(c["frame_cn"][status == 0].tolist())
        out.frames[0] += int(np.count_nonzero(status != 0))
        out.readings += batch.n_rows
        self._keep_records(batch)
        found = frames_by_station(batch, np.asarray(received, dtype=np.int64),
                                  range(len(raws)))
        return found.get(self.mn, [])

    def _fold(self, frames: Sequence[tuple[int, FrameFacts, list[Any]]], out: DayOutput
              ) -> None:
        # offsets in folding order: a replay folded between two uploads comes after the
        # first and before the second, as on a partition
        numbered = []
        for _, facts, readings in frames:
            self._offset += 1
            numbered.append((self._offset, facts, readings))
        found = Outputs()
        fold_frames(self.detector, self.state, numbered, found)
        out.alarms.extend(found.alarms)
        out.windows.extend(found.windows)

    def _tick(self, t: int, out: DayOutput) -> None:
        now = from_s(t)
        result: Result = self.detector.tick(self.state, self.mn, now)
        out.alarms.extend(result.alarms)
        out.windows.extend(result.windows)
        for request in result.requests:
            self._backfill(request, now, out)

    def _backfill(self, request: BackfillRequest, now: datetime, out: DayOutput) -> None:
        """The request reaches the logger holding the window's records, if the station's
        link is up; its replay is received now and detected at once."""
        current = self._links[max(self._links)]
        if not current.online or not current.logger.wants_link(now):
            return  # no connection to send it on: the detector retries later
        holder = self._links.get(request.begin.date(), current)
        lg = holder.logger
        out.requests += 1
        raw = hj212.request(request.cn, self.mn, lg.pw, st=lg.st, qn=request.qn,
                            edition=lg.edition, BeginTime=request.begin,
                            EndTime=request.end)
        replay = DayOutput(self.mn, out.day)
        self._deliver(holder, lg.receive(hj212.parse(raw), now, float(to_s(now))), now,
                      replay)
        if not replay.raws:
            return
        out.raws += replay.raws
        out.received += replay.received
        self._fold(self._decode(out, replay.raws, replay.received), out)

    # --- completeness ---------------------------------------------------------------------

    def _keep_records(self, batch: hj212.Batch) -> None:
        """The batch's minute and hourly rows with their validity, judged as
        ``pipeline.store.completeness`` judges them in SQL: flag N or none, Avg a number,
        inside the instrument range of the station's active limits row when it has one."""
        c = batch.columns
        cns = c["cn"]
        sel = np.flatnonzero((cns == 2051) | (cns == 2061))
        if not sel.size:
            return
        times = local_to_epoch(c["data_time"][sel])
        has_time = times != np.iinfo(np.int64).min
        sel, times = sel[has_time], times[has_time]
        codes = normalise_codes(c["code"], c["frame_edition"][c["row_frame"]])[sel]
        avg = np.asarray(c["avg"], dtype=np.float64)[sel]
        uniq, inverse = np.unique(codes, return_inverse=True)
        bounds = [self.limits.get(u.decode("ascii", "replace")) for u in uniq.tolist()]
        low = np.array([b.range_low if b is not None else np.nan for b in bounds])[inverse]
        high = np.array([b.range_high if b is not None else np.nan for b in bounds])[inverse]
        with np.errstate(invalid="ignore"):
            ok = (np.isin(c["flag"][sel], (b"N", b"")) & np.isfinite(avg)
                  & ~(np.isfinite(low) & (avg < low)) & ~(np.isfinite(high) & (avg > high)))
        self._records.append(_Records(cns[sel] == 2061, codes, times, ok))

    def completeness(self, now: float) -> dict[str, list[Any]]:
        """``completeness`` rows (``completeness.figures``) for every hour with minute
        records and every day with hourly records of this station, versioned ``now``."""
        cols: dict[str, list[Any]] = {c: [] for c in COMPLETENESS_COLUMNS}
        if not self._records:
            return cols
        hourly = np.concatenate([r.hourly for r in self._records])
        codes = np.concatenate([r.code for r in self._records])
        times = np.concatenate([r.time for r in self._records])
        ok = np.concatenate([r.ok for r in self._records])
        names, code_idx = np.unique(codes, return_inverse=True)
        # one record per (data type, code, data time), the last received, as FINAL keeps
        key = ((hourly.astype(np.int64) * len(names) + code_idx) << 34) + (times - times.min())
        _, first = np.unique(key[::-1], return_index=True)
        last = len(key) - 1 - first
        hourly, code_idx, times, ok = hourly[last], code_idx[last], times[last], ok[last]
        length = np.where(hourly, 86400, 3600)
        starts = (times + CST_OFFSET_S) // length * length - CST_OFFSET_S
        # per pollutant: records and valid records per (period, code)
        per_code = np.stack([hourly, starts, code_idx], axis=1).astype(np.int64)
        pk, pinv = np.unique(per_code, axis=0, return_inverse=True)
        pinv = pinv.ravel()
        p_recv = np.bincount(pinv)
        p_valid = np.bincount(pinv, weights=ok).astype(np.int64)
        # per station: a data time is valid when every pollutant in it is
        per_time = np.stack([hourly, starts, times], axis=1).astype(np.int64)
        tk, tinv = np.unique(per_time, axis=0, return_inverse=True)
        bad = np.bincount(tinv.ravel(), weights=~ok) > 0
        sk, sinv = np.unique(tk[:, :2], axis=0, return_inverse=True)
        sinv = sinv.ravel()
        s_recv = np.bincount(sinv)
        s_valid = np.bincount(sinv, weights=~bad).astype(np.int64)
        code_names = [n.decode("ascii", "replace") for n in names.tolist()]
        by_period: dict[tuple[int, int], list[tuple[str, str, int, int]]] = {}
        for (h, start, ci), n, v in zip(pk.tolist(), p_recv.tolist(), p_valid.tolist(),
                                        strict=True):
            by_period.setdefault((h, start), []).append((self.mn, code_names[ci], n, v))
        for (h, start), n, v in zip(sk.tolist(), s_recv.tolist(), s_valid.tolist(),
                                    strict=True):
            name, (cn, span) = ("day", PERIODS["day"]) if h else ("hour", PERIODS["hour"])
            expected = {self.mn: expected_records(cn, min_interval=self.min_interval,
                                                  span_s=span)}
            rows = figures(Period(name, start), expected, by_period[(h, start)],
                           [(self.mn, n, v)], now=now)
            for c in COMPLETENESS_COLUMNS:
                cols[c] += rows[c]
        return cols


# --- writing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class SeedTotals:
    station_days: int = 0
    frames: Counter[int] = field(default_factory=Counter)
    readings: int = 0
    alarms: int = 0
    windows: int = 0
    requests: int = 0
    completeness: int = 0
    #: seconds spent in the sinks' inserts (all jobs together)
    write_seconds: float = 0.0

    def add(self, other: SeedTotals) -> None:
        self.station_days += other.station_days
        self.frames.update(other.frames)
        self.readings += other.readings
        self.alarms += other.alarms
        self.windows += other.windows
        self.requests += other.requests
        self.completeness += other.completeness
        self.write_seconds += other.write_seconds


class SeedWriter:
    """Days into ClickHouse through the worker's sinks, in blocks of ``flush_frames``.

    Alarm and window rows are versioned from the simulated end (``version_base``, epoch
    seconds) plus a millisecond per block, so a later block of the same station wins and
    a second run writes the very same rows."""

    def __init__(self, ch: Any, version_base: float, flush_frames: int = FLUSH_FRAMES
                 ) -> None:
        from pipeline.store.frame_rows import FrameSink
        from pipeline.stream.sinks import AlarmSink, MissingSink

        self.ch = ch
        self.frame_sink = FrameSink(ch, crc_variants=VETTED_CRC_VARIANTS)
        self.alarm_sink = AlarmSink(ch)
        self.missing_sink = MissingSink(ch)
        self.version_base = version_base
        self.flush_frames = flush_frames
        self.blocks = 0
        self.totals = SeedTotals()
        self._raws: list[bytes] = []
        self._received: list[int] = []
        self._alarms: dict[str, AlarmStep] = {}
        self._windows: dict[tuple[str, int, datetime], dict[str, Any]] = {}
        self._completeness: dict[str, list[Any]] = {c: [] for c in COMPLETENESS_COLUMNS}

    def add(self, day: DayOutput) -> None:
        self._raws += day.raws
        self._received += day.received
        for step in day.alarms:  # the latest step of an alarm is its row
            self._alarms.pop(_alarm_id(step), None)
            self._alarms[_alarm_id(step)] = step
        for row in day.windows:
            key = (row["mn"], row["cn"], row["window_start"])
            self._windows.pop(key, None)
            self._windows[key] = row
        t = self.totals
        t.station_days += 1
        t.frames.update(day.frames)
        t.readings += day.readings
        t.requests += day.requests
        if len(self._raws) >= self.flush_frames:
            self.flush()

    def add_completeness(self, cols: Mapping[str, list[Any]]) -> None:
        for c in COMPLETENESS_COLUMNS:
            self._completeness[c] += cols[c]

    def flush(self) -> None:
        """Frames and readings first, then the rows made from them."""
        began = time.perf_counter()
        if self._raws:
            self.frame_sink.write(self._raws, np.asarray(self._received, dtype=np.int64),
                                  GATEWAY, GATEWAY)
        now = self.version_base + self.blocks / 1000
        self.blocks += 1
        records: list[AlarmRecord] = [alarm_record(s, now=now) for s in self._alarms.values()]
        self.alarm_sink.write(records)
        self.missing_sink.write(list(self._windows.values()), now=now)
        if self._completeness["mn"]:
            self.ch.insert_columns("completeness", self._completeness)
        self.totals.alarms += len(records)
        self.totals.windows += len(self._windows)
        self.totals.completeness += len(self._completeness["mn"])
        self.totals.write_seconds += time.perf_counter() - began
        self._raws, self._received = [], []
        self._alarms, self._windows = {}, {}
        self._completeness = {c: [] for c in COMPLETENESS_COLUMNS}


def _alarm_id(step: AlarmStep) -> str:
    e = step.event
    return f"{e.mn}/{e.code}/{e.rule}/{step.opened_at:%Y%m%d%H%M%S}"


# --- running it ------------------------------------------------------------------------------


#: (station-days done, frames written, readings written) since the last call
ProgressFn = Callable[[int, int, int], None]


def run_stations(plan: SeedPlan, indices: Sequence[int], contexts: Mapping[str, StationContext],
                 dsn: str, progress: ProgressFn) -> SeedTotals:
    """Generate, detect and write the stations ``indices`` of the plan (one process)."""
    from pipeline.store.client import ClickHouse

    # detector state and Reading objects are many small containers that live for a
    # station's whole run; the collector walking them cost more than the detection
    gc.set_threshold(100_000, 50, 100)
    detector = DetectorBundle(contexts=contexts, values="rust")
    faults = {day: plan.day_faults(day) for day in plan.days}
    with ClickHouse(dsn) as ch:
        writer = SeedWriter(ch, unix_from_local(plan.end))
        for i in indices:
            sim = plan.stations[i]
            history = StationHistory(plan, sim, detector)
            for day in plan.days:
                out = history.day(day, faults[day].get(sim.mn, ()))
                writer.add(out)
                progress(1, sum(out.frames.values()), out.readings)
            writer.add_completeness(history.completeness(writer.version_base))
        writer.flush()
    return writer.totals


def _child(plan: SeedPlan, indices: list[int], contexts: Mapping[str, StationContext],
           dsn: str, updates: Any) -> None:
    def progress(days: int, frames: int, readings: int) -> None:
        updates.put(("progress", days, frames, readings))

    try:
        totals = run_stations(plan, indices, contexts, dsn, progress)
    except BaseException as exc:  # reported to the parent, which names the job
        updates.put(("error", f"{type(exc).__name__}: {exc}"))
        raise
    updates.put(("done", totals))


class Line:
    """A status line on a stream: rewritten in place on a terminal, else printed at most
    every ``every`` seconds (and always when final)."""

    def __init__(self, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.5 if self.tty else every
        self._shown = -1e9

    def write(self, text: str, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._shown < self.every:
            return
        self._shown = now
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


class Progress:
    """Station-days done, frames and readings written, and the time left."""

    def __init__(self, total: int, line: Line) -> None:
        self.total = total
        self.line = line
        self.started = time.monotonic()
        self.done = self.frames = self.readings = 0

    def update(self, days: int, frames: int, readings: int) -> None:
        self.done += days
        self.frames += frames
        self.readings += readings
        self.show()

    def show(self, final: bool = False) -> None:
        secs = time.monotonic() - self.started
        rate = self.done / secs if secs > 0 else 0.0
        left = f", about {(self.total - self.done) / rate:,.0f} s left" if rate > 0 else ""
        self.line.write(f"[seed] station-days {self.done:,}/{self.total:,} | frames "
                        f"{self.frames:,} | readings {self.readings:,} | {secs:,.0f} s"
                        + ("" if final else left), final=final)


def run_jobs(plan: SeedPlan, contexts: Mapping[str, StationContext], dsn: str, jobs: int,
             progress: Progress) -> SeedTotals:
    """The plan's stations spread over ``jobs`` processes (round robin, so each gets a mix
    of cadences), or run here when ``jobs`` is 1."""
    indices = list(range(len(plan.stations)))
    jobs = max(1, min(jobs, len(indices)))
    if jobs == 1:
        return run_stations(plan, indices, contexts, dsn, progress.update)
    ctx = mp.get_context("fork")  # the children inherit the plan and the contexts
    updates: Any = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(plan, indices[k::jobs], contexts, dsn, updates),
                         name=f"hj212-seed-{k}", daemon=True) for k in range(jobs)]
    for p in procs:
        p.start()
    totals = SeedTotals()
    finished = 0
    try:
        while finished < jobs:
            try:
                msg = updates.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise SeedError(f"seed job {dead[0].name} exited with code "
                                    f"{dead[0].exitcode}; see the error above") from None
                progress.show()
                continue
            if msg[0] == "progress":
                progress.update(*msg[1:])
            elif msg[0] == "done":
                totals.add(msg[1])
                finished += 1
            else:
                raise SeedError(f"a seed job failed: {msg[1]}")
    finally:
        for p in procs:
            if p.is_alive() and finished < jobs:
                p.terminate()
            p.join()
    return totals


# --- the command -----------------------------------------------------------------------------


@dataclass(slots=True)
class SeedReport:
    plan: SeedPlan
    totals: SeedTotals
    seconds: float
    registry_loaded: bool

    def lines(self) -> list[str]:
        t = self.totals
        plan = self.plan
        by_cn = "  ".join(f"{cn}={n:,}" for cn, n in sorted(t.frames.items()) if cn)
        return [
            f"seeded {len(plan.days)} days x {len(plan.stations)} stations "
            f"({plan.days[0]} to {plan.end:%Y-%m-%d %H:%M} CST) in {self.seconds:,.1f} s"
            + (" (the sample registry was loaded first)" if self.registry_loaded else ""),
            f"  frames        {sum(t.frames.values()):,} ({by_cn}; rejected {t.frames[0]:,})",
            f"  readings      {t.readings:,}",
            f"  alarms        {t.alarms:,} episode rows, missing windows {t.windows:,} rows, "
            f"back-fill requests {t.requests:,}",
            f"  completeness  {t.completeness:,} rows (station and pollutant x hour and day)",
            f"  writing took {t.write_seconds:,.1f} s of the jobs' time",
        ]


def prepare_store(dsn: str) -> bool:
    """The schema migrated and, when the registry is empty, the bundled sample loaded (as
    ``hj212 run`` does); True when the sample was loaded."""
    from pipeline.registry import csv_io, store
    from pipeline.registry.cli import SAMPLE_FILES
    from pipeline.store.client import ClickHouse
    from pipeline.store.migrate import Migrator

    Migrator(dsn).migrate()
    with ClickHouse(dsn) as ch:
        if store.known_mns(ch):
            return False
        reg = csv_io.read_files(list(SAMPLE_FILES))
        store.write_stations(ch, reg.stations)
        store.write_limits(ch, reg.limits)
    return True


def seed(dsn: str, plan: SeedPlan, *, jobs: int = 1, stream: TextIO | None = None
         ) -> SeedReport:
    """Write the plan's history into the database of ``dsn``: schema and registry first,
    then the stations (in ``jobs`` processes)."""
    from pipeline.stream.detection import registry_contexts

    started = time.monotonic()
    loaded = prepare_store(dsn)
    contexts = registry_contexts(dsn)
    line = Line(stream)
    progress = Progress(plan.station_days, line)
    totals = run_jobs(plan, contexts, dsn, jobs, progress)
    progress.show(final=True)
    return SeedReport(plan, totals, time.monotonic() - started, loaded)
