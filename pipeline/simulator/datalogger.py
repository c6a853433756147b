"""One virtual data logger (数采仪): samples its analysers, uploads, keeps its history,
resends what is not answered, and answers the platform as appendix C shows.

It does no I/O. The fleet (or a test) drives it:

- ``advance(now, wall, online)`` moves it to simulated time ``now`` and returns the frames
  it sends meanwhile: 2011 every RtdInterval, 2051 every MinInterval, 2061 each hour,
  2031 each day, and resends of uploads whose 9014 did not come within OverTime (wall
  seconds) up to ReCount times;
- ``receive(frame, now, wall)`` takes a frame from the platform and returns the replies:
  9014/9013 clear a pending upload; a request gets 9011 (QnRtn), then its data, then 9012
  (ExeRtn).

Conversations (appendix C, checked against ``core_rs/tests/conversations.rs``):
- parameter reads (1011, 1061, 1063): 9011, the reply frame with the request's QN and
  Flag without the A bit (C.2, C.5, C.7), 9012;
- settings (1000, 1012, 1062, 1064, 1072): 9011, 9012; the new value applies after;
- history (2051, 2061, 2031 with BeginTime/EndTime, both inclusive, C.20-C.22): 9011,
  then every stored record in the window, each with its own fresh QN (the appendix's
  ...534 after the request's ...223) and, by default, Flag A=1 with the next record sent
  once the previous one is answered (C.48); 2025 loggers mark these resends with RF=1;
  then 9012 (ExeRtn=1, or 100 when the window holds no record);
- notifications from the platform (2012, 2022): 9013.

Values come from ``profiles.Signal`` per pollutant, one draw per sampling step from the
logger's own generator, so a station's clean data are the same with or without faults
(faults draw from a separate generator) and the same on every run with the same seed.
"""

from __future__ import annotations

import math
import random
import re
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import hj212

from pipeline.simulator.corpus import PROFILES, ST_GAS, damage, junk
from pipeline.simulator.faults import (
    AIR_O2,
    FLOW_CODES,
    FRAME_KINDS,
    O2_CODE,
    VALUE_KINDS,
    Fault,
    GroundTruth,
    sampling_step,
)
from pipeline.simulator.profiles import Signal, fmt, zs_factor
from pipeline.simulator.stations import SimStation
from pipeline.simulator.wire import Header, QnSource, edition_flag, encode_message
from pipeline.timebase import cn_period, from_s, parse_stamp, stamp, to_s

DATA_CNS = (2011, 2051, 2061, 2031)
HISTORY_CNS = (2051, 2061, 2031)
#: seconds of simulated time each kind of record is kept, for back-fill requests
DEFAULT_RETENTION = {2051: 3 * 86400, 2061: 40 * 86400, 2031: 400 * 86400}
_ACKS = {9013, 9014}
_NOTIFICATIONS = {2012, 2022}
#: control commands a simulated logger accepts and reports done without doing anything
_ACCEPTED = {2011, 2021, 3011, 3012, 3013, 3014, 3015, 3016, 3017, 3018, 3019, 3020, 3021}


@dataclass(slots=True)
class LoggerStats:
    sent: Counter[int] = field(default_factory=Counter)  # frames by CN, answers included
    bytes_sent: int = 0
    resent: int = 0
    acked: int = 0
    unacked: int = 0  # gave up after ReCount resends
    withheld: int = 0  # uploads not sent: drop-out, disconnect, link down
    requests: Counter[int] = field(default_factory=Counter)
    replayed: int = 0
    refused: int = 0  # 9011 with QnRtn other than 1 for our uploads
    faults: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"sent": dict(self.sent), "bytes_sent": self.bytes_sent,
                "resent": self.resent, "acked": self.acked, "unacked": self.unacked,
                "withheld": self.withheld, "requests": dict(self.requests),
                "replayed": self.replayed, "refused": self.refused,
                "faults": dict(self.faults)}


@dataclass(slots=True)
class _Pending:
    raw: bytes
    cn: int
    sent_at: float
    tries: int = 0


@dataclass(slots=True)
class _Period:
    """Running min/avg/max per pollutant over one record's period."""

    start: int  # epoch seconds
    length: int
    mins: dict[str, float] = field(default_factory=dict)
    maxs: dict[str, float] = field(default_factory=dict)
    sums: dict[str, float] = field(default_factory=dict)
    count: int = 0
    flags: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def end(self) -> int:
        return self.start + self.length

    def add(self, values: dict[str, float], flags: dict[str, str]) -> None:
        self.count += 1
        for code, v in values.items():
            if code in self.sums:
                self.sums[code] += v
                if v < self.mins[code]:
                    self.mins[code] = v
                if v > self.maxs[code]:
                    self.maxs[code] = v
            else:
                self.sums[code] = v
                self.mins[code] = v
                self.maxs[code] = v
                self.flags[code] = Counter()
            self.flags[code][flags[code]] += 1

    def flag(self, code: str) -> str:
        """The period's flag: the most common sample flag, a non-N one on a tie (a period
        half spent in calibration is not normal data)."""
        counts = self.flags[code]
        best = max(counts.values())
        tied = sorted(f for f, n in counts.items() if n == best)
        non_n = [f for f in tied if f != "N"]
        return non_n[0] if non_n else "N"


@dataclass(slots=True)
class _Replay:
    """A history request being answered: records still to send, then the 9012."""

    steps: deque[list[tuple[str | None, bytes]]]
    done: bytes
    waiting: set[str] = field(default_factory=set)
    had_data: bool = False


class VirtualLogger:
    """One data logger; see the module docstring."""

    def __init__(self, sim: SimStation, *, start: datetime, seed: int,
                 faults: Sequence[Fault] = (), truth: GroundTruth | None = None,
                 overtime: float = 5.0, recount: int = 3, bare_2005: bool = False,
                 ack_replays: bool = True, replay_qn: str = "own",
                 restart_notice: bool = True,
                 retention: dict[int, int] | None = None,
                 skip: Iterable[int] = ()) -> None:
        if replay_qn not in ("own", "request"):
            raise ValueError(f"replay_qn={replay_qn!r}: choose own or request")
        self.sim = sim
        self.station = sim.station
        self.mn = sim.station.mn
        self.pw = sim.station.pw
        self.st = sim.station.st
        self.edition = sim.station.edition
        self.rtd_interval = sim.rtd_interval
        self.min_interval = sim.min_interval
        self.overtime = overtime
        self.recount = recount
        # 2005 firmware often sends neither QN nor Flag; such a logger expects no answer
        self.bare = bare_2005 and self.edition == 2005
        self.ack_replays = ack_replays and not self.bare
        self.replay_qn = replay_qn
        self.start = start
        self.truth = truth
        self.stats = LoggerStats()
        self.qns = QnSource()
        self.clock_offset = timedelta(0)  # set by 1012: only what 1011 reports
        rng = random.Random(f"{seed}:{self.mn}")
        self.signals = {code: Signal(code, sim.station.baselines.get(code, _mid(code)), rng)
                        for code in sim.station.pollutants}
        self.fault_rng = random.Random(f"{seed}:{self.mn}:faults")
        self.value_faults: dict[str, list[Fault]] = {}
        #: value faults on every pollutant of the station (a stop not flagged, a twin ...)
        self.wide_faults: list[Fault] = []
        #: hour_vs_minute's hourly scaling, o2_conversion: applied where records are built
        self.record_faults: list[Fault] = []
        self.frame_faults: list[Fault] = []
        self.link_faults: list[Fault] = []
        for f in faults:
            if f.kind in ("o2_conversion", "hour_vs_minute") and f.pollutant is not None:
                self.record_faults.append(f)
            elif f.kind in VALUE_KINDS and f.pollutant is not None:
                self.value_faults.setdefault(f.pollutant, []).append(f)
            elif f.kind in VALUE_KINDS:
                self.wide_faults.append(f)
            elif f.kind in FRAME_KINDS:
                self.frame_faults.append(f)
            else:
                self.link_faults.append(f)
        self.history: dict[int, list[tuple[int, str]]] = {cn: [] for cn in HISTORY_CNS}
        self._keys: dict[int, list[int]] = {cn: [] for cn in HISTORY_CNS}
        self.retention = dict(DEFAULT_RETENTION if retention is None else retention)
        self.pending: dict[str, _Pending] = {}
        self.replays: deque[_Replay] = deque()
        self._restart_due = restart_notice
        #: scheduled records not made at all (neither sent nor kept for a back-fill), e.g.
        #: {2011}: seeded history thins old days this way (pipeline/seed.py); the samples
        #: still make every other record
        self.skip = frozenset(skip)
        self._step = math.gcd(self.rtd_interval, self.min_interval * 60)
        first = to_s(start)
        self.next_t = first + (-first) % self._step  # the first sample on the grid
        self._periods: dict[int, _Period] = {}
        # twin_stations: the source's clean series, drawn as its own logger draws them
        twin = next((f.source for f in self.wide_faults
                     if f.kind == "twin_stations" and f.source is not None), None)
        self._shadow = _Shadow(twin, start, seed) if twin is not None else None
        # repeated_day: the clean samples of the days a copy may reach back to
        self._memory_s = max((int(f.spec.params.get("days_back", 1)) * 86400
                              for f in self.wide_faults if f.kind == "repeated_day"), default=0)
        self._memory: dict[int, dict[str, float]] = {}
        #: resend faults -> the frames sent in their window, again at its end
        self._resend: dict[int, list[bytes]] = {}

    # --- driving --------------------------------------------------------------------------

    @property
    def next_sample(self) -> datetime:
        return from_s(self.next_t)

    def next_resend(self) -> float | None:
        """Wall time of the earliest due resend, if any upload is waiting for its answer."""
        if not self.pending:
            return None
        return min(p.sent_at for p in self.pending.values()) + self.overtime

    def wants_link(self, now: datetime) -> bool:
        """False while a disconnect fault holds the link down."""
        return not any(f.kind == "disconnect" and f.active(now) for f in self.link_faults)

    def silent(self, now: datetime) -> bool:
        return any(f.active(now) for f in self.link_faults)

    def connected(self, now: datetime, wall: float) -> list[bytes]:
        """The link came up: a logger announces its (re)start once (2081)."""
        if not self._restart_due:
            return []
        self._restart_due = False
        cp = f"DataTime={stamp(now)};RestartTime={stamp(self.start)}"
        return self._send_message(2081, cp.split(";"), now, wall, data_time=now)

    def disconnected(self) -> None:
        """The link went down: what waits for an answer is given up (the data stay in the
        history for a back-fill), and so is a history replay in progress."""
        self.stats.unacked += len(self.pending)
        self.pending.clear()
        self.replays.clear()

    def advance(self, now: datetime, wall: float, online: bool = True) -> list[bytes]:
        out: list[bytes] = []
        limit = to_s(now)
        while self.next_t <= limit:
            t = self.next_t
            self._sample(t, wall, online, out)
            self.next_t = t + self._step
        if online:
            self._resend_due(wall, out)
            self._resend_window(now, out)
        if self.truth is not None:
            self.truth.flush(now, self.mn)
        return out

    # --- sampling and records ---------------------------------------------------------------

    def _sample(self, t: int, wall: float, online: bool, out: list[bytes]) -> None:
        when = from_s(t)
        values: dict[str, float] = {}
        flags: dict[str, str] = {}
        clean = {code: signal.sample(when) for code, signal in self.signals.items()}
        # the shadow and the memory see every sample, in the window or not, so a copy is
        # of the source's (the earlier day's) clean series exactly
        shadow = self._shadow.at(t) if self._shadow is not None else {}
        if self._memory_s:
            self._memory[t] = dict(clean)
            for old in [k for k in self._memory if k < t - self._memory_s]:
                del self._memory[old]
        wide = [f for f in self.wide_faults if f.active(when)]
        for fault in wide:
            self.stats.faults[fault.kind] += 1
            if self.truth is not None:
                self.truth.hit(fault, when, samples=1)
            if fault.kind == "twin_stations":
                clean.update({c: v for c, v in shadow.items() if c in clean})
            elif fault.kind == "repeated_day":
                back = t - int(fault.spec.params.get("days_back", 1)) * 86400
                clean.update(self._memory.get(back, {}))
        for code, signal in self.signals.items():
            value = clean[code]
            flag = "N"
            for fault in wide:
                if fault.kind == "stopped_unflagged":
                    value = _stopped(code, value)
                elif fault.kind == "flagged_running":
                    flag = str(fault.spec.params["flag"])
            for fault in self.value_faults.get(code, ()):
                if fault.active(when):
                    value, flag = self._apply(fault, value, flag, signal.baseline)
                    self.stats.faults[fault.kind] += 1
                    if self.truth is not None:
                        self.truth.hit(fault, when, samples=1)
            values[code] = value
            flags[code] = flag
        for fault in self.record_faults:
            # o2_conversion reaches the real-time ZsRtd too: its samples count
            if fault.kind == "o2_conversion" and fault.active(when) and self.truth is not None:
                self.truth.hit(fault, when, samples=1)
        # close the records whose period ended before this sample; minute before hour
        # before day, as a logger sends them at a boundary
        for cn, length in ((cn, cn_period(cn, min_interval=self.min_interval) or 0)
                           for cn in HISTORY_CNS if cn not in self.skip):
            period = self._periods.get(cn)
            if period is not None and t >= period.end:
                self._close(cn, period, wall, online, out)
                period = None
            if period is None or period.length != length:
                period = self._periods[cn] = _Period(start=t - t % length, length=length)
            period.add(values, flags)
        if t % self.rtd_interval == 0 and 2011 not in self.skip:
            groups = []
            o2 = values.get("a19001", self.station.baselines.get("a19001", 9.0))
            for code, value in values.items():
                prof = PROFILES[code]
                wire = self.station.wire_code(code)
                parts = [f"{wire}-Rtd={fmt(value, prof.decimals)}"]
                if prof.zs:
                    zs = zs_factor(o2 + self._o2_offset(code, when))
                    parts.append(f"{wire}-ZsRtd={fmt(value * zs, prof.decimals)}")
                parts.append(f"{wire}-Flag={flags[code]}")
                groups.append(",".join(parts))
            self._upload(2011, when, groups, wall, online, out)

    def _apply(self, fault: Fault, value: float, flag: str,
               baseline: float) -> tuple[float, str]:
        kind = fault.kind
        params = fault.spec.params
        # faults that set a level keep the signal's own wobble (value / baseline), so an
        # over-limit episode is not also a constant streak
        wobble = value / baseline if baseline else 1.0
        if kind == "constant":
            if fault.held is None:
                fault.held = value
            return fault.held, flag
        if kind == "zero":
            return 0.0, flag
        if kind == "negative":
            return -abs(value) if value else -0.1 * baseline, flag
        if kind == "spike":
            return value * float(params["factor"]), flag
        if kind in ("over_limit", "out_of_range"):
            assert fault.reference is not None
            return fault.reference * float(params["factor"]) * wobble, flag
        if kind == "flag":
            return value, str(params["flag"])
        code = fault.pollutant or ""
        if kind == "stop":
            return _stopped(code, value), str(params["flag"])
        if kind == "low_resolution":
            decimals = int(params["decimals"])
            dec = PROFILES[code].decimals if decimals < 0 else decimals
            step = 10.0 ** -dec
            if fault.held is None:
                fault.held = round(value, dec)
            moved = fault.held + self.fault_rng.gauss(0.0, float(params["spread"])) * step
            return round(moved, dec), flag
        if kind == "held_under_limit":
            assert fault.reference is not None
            target = fault.reference * float(params["level"])
            if PROFILES[code].zs:
                # the limit holds the converted value: hold that one under it
                target /= zs_factor(self.station.baselines.get(O2_CODE, 9.0))
            spread = float(params["wobble"])
            return target * (1 + self.fault_rng.uniform(-spread, spread)), flag
        raise AssertionError(kind)  # pragma: no cover - VALUE_KINDS are all handled

    def _o2_offset(self, code: str, when: datetime) -> float:
        """o2_conversion: the O2 error the logger's conversion of ``code`` makes now."""
        return sum(float(f.spec.params["o2_offset"]) for f in self.record_faults
                   if f.kind == "o2_conversion" and f.pollutant == code and f.active(when))

    def _hour_factor(self, cn: int, code: str, when: datetime) -> float:
        """hour_vs_minute: what the hourly record of ``code`` stamped ``when`` is scaled by."""
        factor = 1.0
        if cn != 2061:
            return factor
        for f in self.record_faults:
            if f.kind == "hour_vs_minute" and f.pollutant == code and f.active(when):
                factor *= float(f.spec.params["factor"])
                if self.truth is not None:
                    self.truth.hit(f, when, cn=cn)
        return factor

    def _drops_minutes(self, cn: int, when: datetime) -> bool:
        """hour_vs_minute with drop_minutes: the minute records of the hour are lost."""
        if cn != 2051:
            return False
        dropping = [f for f in self.wide_faults if f.kind == "hour_vs_minute"
                    and f.spec.params.get("drop_minutes") and f.active(when)]
        for f in dropping:
            self.stats.faults[f.kind] += 1
            if self.truth is not None:
                self.truth.hit(f, when, cn=cn, frames=1)
        return bool(dropping)

    def _close(self, cn: int, period: _Period, wall: float, online: bool,
               out: list[bytes]) -> None:
        if not period.count:
            return
        when = from_s(period.start)
        if self._drops_minutes(cn, when):
            return
        gas = self.st == ST_GAS
        length = period.length
        flow_code = "a00000" if gas else "w00000"
        avg = {code: s / period.count for code, s in period.sums.items()}
        flow = avg.get(flow_code, self.station.baselines.get(flow_code, 50.0))
        # m3 over the period: gas flow is m3/s, water flow L/s
        volume = max(flow, 0.0) * length * (1.0 if gas else 0.001)
        o2 = avg.get("a19001", self.station.baselines.get("a19001", 9.0))
        groups = []
        for code, true_mean in avg.items():
            prof = PROFILES[code]
            wire = self.station.wire_code(code)
            dec = prof.decimals
            scale = self._hour_factor(cn, code, when)
            mean = true_mean * scale
            parts = [f"{wire}-Min={fmt(period.mins[code] * scale, dec)}",
                     f"{wire}-Avg={fmt(mean, dec)}",
                     f"{wire}-Max={fmt(period.maxs[code] * scale, dec)}"]
            if prof.zs:
                zs = zs_factor(o2 + self._o2_offset(code, when))
                parts.append(f"{wire}-ZsAvg={fmt(mean * zs, dec)}")
            if prof.cou == "volume":
                parts.append(f"{wire}-Cou={fmt(volume * scale, 1)}")
            elif prof.cou == "mass":
                # kg: mg/m3 x m3 = mg, mg/L x m3 = g
                parts.append(f"{wire}-Cou={fmt(mean * volume * (1e-6 if gas else 1e-3), 4)}")
            parts.append(f"{wire}-Flag={period.flag(code)}")
            groups.append(",".join(parts))
        # a "lost" drop-out (the logger itself was down) loses the records stamped in it
        lost = any(f.kind == "dropout" and f.spec.params.get("lost") and f.active(when)
                   for f in self.link_faults)
        if not lost:
            self._store(cn, period.start, ";".join([f"DataTime={stamp(when)}", *groups]))
        self._upload(cn, when, groups, wall, online, out, at=from_s(period.end))

    def _store(self, cn: int, t: int, cp: str) -> None:
        keys = self._keys[cn]
        records = self.history[cn]
        keys.append(t)
        records.append((t, cp))
        horizon = t - self.retention.get(cn, 0)
        if keys[0] < horizon and len(keys) > 64:
            cut = bisect_left(keys, horizon)
            del keys[:cut]
            del records[:cut]

    def records(self, cn: int, begin: datetime, end: datetime) -> list[tuple[int, str]]:
        """Stored records of ``cn`` with DataTime in [begin, end]."""
        keys = self._keys[cn]
        lo = bisect_left(keys, to_s(begin))
        hi = bisect_right(keys, to_s(end))
        return self.history[cn][lo:hi]

    # --- sending ------------------------------------------------------------------------

    def _upload(self, cn: int, when: datetime, groups: list[str], wall: float, online: bool,
                out: list[bytes], at: datetime | None = None) -> None:
        """A scheduled upload of a record stamped ``when``, leaving at ``at``."""
        at = at or when
        silencing = [f for f in self.link_faults if f.active(at)]
        if silencing or not online:
            self.stats.withheld += 1
            for fault in silencing:
                if self.truth is not None:
                    self.truth.hit(fault, when, cn=cn, frames=1)
            return
        head = f"DataTime={stamp(when)}"
        out.extend(self._send_message(cn, [head, *groups], at, wall, data_time=when))
        for fault in self.frame_faults:
            if (fault.kind == "conflict" and fault.active(at)
                    and cn in fault.spec.params.get("cns", DATA_CNS)):
                # the same data time again, every value changed: a conflict, not a resend
                factor = float(fault.spec.params.get("factor", 1.05))
                other = [_conflicting(g, factor) for g in groups]
                out.extend(self._send_message(cn, [head, *other], at, wall, data_time=when))
                self.stats.faults[fault.kind] += 1
                if self.truth is not None:
                    self.truth.hit(fault, when, cn=cn, frames=1)

    def _resend_window(self, now: datetime, out: list[bytes]) -> None:
        """resend faults whose window has passed: their frames again, byte for byte."""
        for fault in self.frame_faults:
            held = self._resend.get(id(fault))
            if fault.kind == "resend" and held and fault.end <= now:
                out.extend(held)
                self.stats.resent += len(held)
                for raw in held:
                    cn = int(raw[raw.index(b"CN=") + 3: raw.index(b"CN=") + 7])
                    self.stats.sent[cn] += 1
                    self.stats.bytes_sent += len(raw)
                del self._resend[id(fault)]

    def _send_message(self, cn: int, items: list[str], at: datetime, wall: float, *,
                      data_time: datetime, rf: str | None = None,
                      ack: bool | None = None) -> list[bytes]:
        wants_ack = (not self.bare) if ack is None else ack
        header = Header(cn=cn, st=self.st, mn=self.mn, pw=self.pw, edition=self.edition,
                        ack=wants_ack, bare=self.bare, rf=rf)
        active = [f for f in self.frame_faults
                  if f.active(at) and cn in f.spec.params.get("cns", DATA_CNS)]
        parts = 1
        for f in active:
            if f.kind == "split":
                parts = max(parts, int(f.spec.params.get("parts", 2)))
        head, groups = (items[0], items[1:]) if items[0].startswith("DataTime=") else (
            "", items)
        frames = encode_message(header, head, groups, self.qns, at, force_parts=parts)
        out: list[bytes] = []
        for qn_i, raw in frames:
            if wants_ack and qn_i is not None and header.ack:
                self.pending[qn_i] = _Pending(raw, cn, wall)
            wire = raw
            for f in active:
                if f.kind == "resend":
                    self._resend.setdefault(id(f), []).append(raw)
                    self.stats.faults[f.kind] += 1
                    if self.truth is not None:
                        self.truth.hit(f, data_time, cn=cn, frames=1)
                    continue
                if f.kind == "conflict":
                    continue  # _upload sends the conflicting copy
                wire = self._mangle(f, wire, raw, data_time, cn, is_split=len(frames) > 1)
            out.append(wire)
            self.stats.sent[cn] += 1
            self.stats.bytes_sent += len(wire)
        return out

    def _mangle(self, fault: Fault, wire: bytes, raw: bytes, when: datetime, cn: int,
                *, is_split: bool) -> bytes:
        rng = self.fault_rng
        kind = fault.kind
        if kind == "split":
            if not is_split:
                return wire  # one pollutant group cannot be split
        elif rng.random() >= float(fault.spec.params.get("rate", 1.0)):
            return wire
        elif kind == "bad_crc":
            # the frame's bytes are damaged in transit; the logger keeps the good copy and
            # resends it if no answer comes
            wire = wire[: -len(raw)] + damage(raw, "crc", rng)
        elif kind == "garbage":
            wire = junk(rng) + wire
        elif kind == "duplicate":
            wire = wire + raw
        self.stats.faults[kind] += 1
        if self.truth is not None:
            self.truth.hit(fault, when, cn=cn, frames=1)
        return wire

    def _resend_due(self, wall: float, out: list[bytes]) -> None:
        expired = [qn for qn, p in self.pending.items() if wall - p.sent_at >= self.overtime]
        for qn in expired:
            p = self.pending[qn]
            if p.tries >= self.recount:
                del self.pending[qn]
                self.stats.unacked += 1
                out.extend(self._answered(qn, wall))
                continue
            p.tries += 1
            p.sent_at = wall
            out.append(p.raw)
            self.stats.resent += 1
            self.stats.sent[p.cn] += 1
            self.stats.bytes_sent += len(p.raw)

    # --- receiving ----------------------------------------------------------------------

    def receive(self, frame: hj212.Frame, now: datetime, wall: float) -> list[bytes]:
        if any(f.kind == "dropout" and f.active(now) for f in self.link_faults):
            return []  # a logger that has gone quiet hears nothing either
        cn = int(frame.cn)
        qn = frame.qn or ""
        if cn in _ACKS:
            if self.pending.pop(qn, None) is not None:
                self.stats.acked += 1
            return self._answered(qn, wall)
        if cn == 9011 and frame.st == "91":
            rtn = frame.cp.get("QnRtn", "")
            pending = self.pending.get(qn)
            if pending is not None and rtn == "9":
                # the platform saw a bad CRC: send the good copy again now
                pending.tries += 1
                pending.sent_at = wall
                self.stats.resent += 1
                self.stats.sent[pending.cn] += 1
                return [pending.raw]
            if pending is not None:
                self.stats.refused += 1
                del self.pending[qn]
                return self._answered(qn, wall)
            return []
        if frame.st == "91" or cn in (9012,):
            return []
        self.stats.requests[cn] += 1
        return self._request(frame, cn, now, wall)

    def _request(self, req: hj212.Frame, cn: int, now: datetime,
                 wall: float) -> list[bytes]:
        def reply(rtn: int) -> bytes:
            raw = hj212.answer(req, qn_rtn=rtn)
            assert raw is not None
            return raw

        def done(rtn: int) -> bytes:
            raw = hj212.answer(req, exe_rtn=rtn)
            assert raw is not None
            return raw

        if req.mn != self.mn:
            return [reply(4)]
        if req.pw != self.pw:
            return [reply(3)]
        if cn in _NOTIFICATIONS:
            raw = hj212.answer(req, cn=9013)
            return [raw] if raw is not None else []
        cp = req.cp
        if cn in HISTORY_CNS:
            return self._history(req, cn, reply, done, now, wall)
        if cn in (1011, 1061, 1063):
            fields: list[str] = []
            if cn == 1011:
                if "PolId" in cp:
                    fields.append(f"PolId={cp['PolId']}")
                fields.append(f"SystemTime={stamp(now + self.clock_offset)}")
            elif cn == 1061:
                fields.append(f"RtdInterval={self.rtd_interval}")
            else:
                fields.append(f"MinInterval={self.min_interval}")
            data = hj212.encode(cn=cn, st=self.st, mn=self.mn, pw=self.pw, qn=req.qn,
                                flag=None if req.flag is None else
                                edition_flag(self.edition, ack=False), cp=";".join(fields))
            return self._count([reply(1), data, done(1)])
        if cn in (1000, 1012, 1062, 1064, 1072):
            ok = self._setting(cn, cp, now)
            if ok is None:
                return self._count([reply(1), done(3)])
            return self._count([reply(1), done(1)])
        if cn in _ACCEPTED:
            return self._count([reply(1), done(1)])
        return self._count([reply(2)])

    def _count(self, frames: list[bytes]) -> list[bytes]:
        for raw in frames:
            cn = int(raw[raw.index(b"CN=") + 3: raw.index(b"CN=") + 7])
            self.stats.sent[cn] += 1
            self.stats.bytes_sent += len(raw)
        return frames

    def _setting(self, cn: int, cp: dict[str, str], now: datetime) -> bool | None:
        """Apply a setting; None when its value is unusable (ExeRtn 3)."""
        try:
            if cn == 1000:
                self.overtime = float(cp.get("OverTime", self.overtime))
                self.recount = int(cp.get("ReCount", self.recount))
            elif cn == 1012:
                self.clock_offset = parse_stamp(cp["SystemTime"]) - now
            elif cn == 1062:
                value = int(cp["RtdInterval"])
                if not 30 <= value <= 3600:
                    return None
                self.rtd_interval = value
            elif cn == 1064:
                value = int(cp["MinInterval"])
                if value < 1 or (60 % value and value % 60):
                    return None
                self.min_interval = value
            elif cn == 1072:
                new = cp["NewPW"]
                if not new:
                    return None
                self.pw = new
        except (KeyError, ValueError):
            return None
        # the sampling grid follows the intervals; the running periods close on schedule
        self._step = math.gcd(self.rtd_interval, self.min_interval * 60)
        self.next_t += (-self.next_t) % self._step
        return True

    def _history(self, req: hj212.Frame, cn: int, reply: Callable[[int], bytes],
                 done: Callable[[int], bytes],
                 now: datetime, wall: float) -> list[bytes]:
        try:
            begin = parse_stamp(req.cp["BeginTime"])
            end = parse_stamp(req.cp["EndTime"])
        except (KeyError, ValueError):
            return self._count([reply(1), done(3)])
        records = self.records(cn, begin, end)
        rf = "1" if self.edition == 2025 else None
        steps: deque[list[tuple[str | None, bytes]]] = deque()
        for _t, cp in records:
            items = cp.split(";")
            if self.replay_qn == "request":
                raw = hj212.encode(cn=cn, st=self.st, mn=self.mn, pw=self.pw, qn=req.qn,
                                   flag=None if self.bare else edition_flag(self.edition,
                                                                            ack=False),
                                   rf=rf, cp=cp)
                steps.append([(None, raw)])
                continue
            header = Header(cn=cn, st=self.st, mn=self.mn, pw=self.pw,
                            edition=self.edition, ack=self.ack_replays, bare=self.bare,
                            rf=rf)
            steps.append(encode_message(header, items[0], items[1:], self.qns, now))
        self.stats.replayed += len(records)
        replay = _Replay(steps=steps, done=done(1 if records else 100), had_data=bool(records))
        out = self._count([reply(1)])
        self.replays.append(replay)
        if len(self.replays) == 1:
            out.extend(self._pump(wall))
        return out

    def _pump(self, wall: float) -> list[bytes]:
        """Send what the replay at the head of the queue may send now."""
        out: list[bytes] = []
        while self.replays:
            replay = self.replays[0]
            if replay.waiting:
                return out
            if not replay.steps:
                self.replays.popleft()
                out.extend(self._count([replay.done]))
                continue
            step = replay.steps.popleft()
            for qn, raw in step:
                cn = int(raw[raw.index(b"CN=") + 3: raw.index(b"CN=") + 7])
                if self.ack_replays and qn is not None and self.replay_qn == "own":
                    self.pending[qn] = _Pending(raw, cn, wall)
                    replay.waiting.add(qn)
                out.append(raw)
                self.stats.sent[cn] += 1
                self.stats.bytes_sent += len(raw)
        return out

    def _answered(self, qn: str, wall: float) -> list[bytes]:
        """An upload got its answer (or was given up): a replay waiting for it moves on."""
        if self.replays and qn in self.replays[0].waiting:
            self.replays[0].waiting.discard(qn)
            return self._pump(wall)
        return []


#: a value of a record's data area that a conflicting copy changes
_CHANGE = re.compile(r"(-(?:Rtd|ZsRtd|Min|Avg|Max|ZsAvg|ZsMin|ZsMax)=)(-?\d+(?:\.\d+)?)")


def _changed(text: str, factor: float) -> str:
    """``text`` x ``factor`` plus one step of its resolution, in its decimals: a zero
    changes too."""
    decimals = len(text.partition(".")[2])
    return fmt(float(text) * factor + 10.0 ** -decimals, decimals)


def _conflicting(group: str, factor: float) -> str:
    """A pollutant group with every value changed (see ``_changed``)."""
    return _CHANGE.sub(lambda m: m[1] + _changed(m[2], factor), group)


def _stopped(code: str, value: float) -> float:
    """A channel of a stopped source: O2 at air, no flow, no concentration; the rest
    (temperature, pressure, humidity, pH) reads on."""
    if code == O2_CODE:
        return AIR_O2
    if code in FLOW_CODES or PROFILES[code].cou == "mass":
        return 0.0
    return value


class _Shadow:
    """The clean series of another station, drawn as its own logger draws them (the same
    seed, pollutant order and sampling grid), for twin_stations."""

    def __init__(self, source: SimStation, start: datetime, seed: int) -> None:
        rng = random.Random(f"{seed}:{source.mn}")
        self.signals = {code: Signal(code, source.station.baselines.get(code, _mid(code)), rng)
                        for code in source.station.pollutants}
        self.step = sampling_step(source)
        first = to_s(start)
        self.next_t = first + (-first) % self.step
        self.values: dict[str, float] = {}

    def at(self, t: int) -> dict[str, float]:
        """The source's latest sample at or before ``t``."""
        while self.next_t <= t:
            when = from_s(self.next_t)
            self.values = {c: s.sample(when) for c, s in self.signals.items()}
            self.next_t += self.step
        return self.values


def _mid(code: str) -> float:
    prof = PROFILES[code]
    return (prof.low + prof.high) / 2


def make_loggers(fleet: Iterable[SimStation], *, start: datetime, seed: int,
                 faults: dict[str, list[Fault]] | None = None,
                 truth: GroundTruth | None = None, **options: object) -> list[VirtualLogger]:
    """One logger per station, with its faults."""
    faults = faults or {}
    return [VirtualLogger(s, start=start, seed=seed, faults=faults.get(s.mn, ()),
                          truth=truth, **options)  # type: ignore[arg-type]
            for s in fleet]
