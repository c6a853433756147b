"""Abnormal values: rules over one station's frames, as observations for ``episodes``.

``ValueRules.observe_frame(state, readings, ctx)`` takes the readings of ONE frame (same
MN, CN and data time; frame-level rules need the whole frame: a Zs value with no O2 beside
it, Cou against the flow of the same record) and returns the new state and observations.

Which value a rule looks at: the real-time value (Rtd) of 2011, the period mean (Avg) of
2051/2061/2031. Streak and spike rules only follow readings in data-time order; a late or
back-filled record still gets the point rules (negative, range, limit, flag, logic) so an
exceedance inside a refilled gap is seen, but it cannot clear an episode or break a streak.

Flags first: each rule judges a reading only if ``judged_flags`` (rules file) lets it
judge the reading's effective flag (its own; N if none; F if N in a frame where a reading
is flagged F: a stopped source). For the streaks a stopped source ends the run and any
other unjudged flag leaves it as it was. Period records carry their own evidence: Min
below Max ends a constant run, and a zero Avg is a zero only with zero Min, Max and Cou.

Resends: a frame whose ``state.record_digest`` its data type remembers at its data time
(``resend_memory``) was received before and is left out whole: no rule sees it.

State, per station: ``ValuesState`` (``state.py``): each series ("<cn>/<code>") keeps its
last data time, its zero and constant runs, the spike window and a pending excursion, and
the running non-N flag; ``conflict_memory`` keeps the values of the latest data times per
data type, as received, rounded to 6 decimals when compared (values that were stored
rounded compare the same); ``resend_memory`` the digests of the frames received.

Speed: this runs for every reading the worker stores, so ``observe_frame`` resolves
thresholds once per series (``_Plan``) and writes the common path of every rule out in one
loop; the methods below it hold the rarer paths. ``benchmarks/detectors.py`` times it and
fingerprints its output: a change here should leave that fingerprint as it was.
``reference.py`` states every rule plainly, one function each; ``tests/unit/
test_detect_reference.py`` runs both on random streams and demands the same observations,
states and events, so change the two together.
"""

from __future__ import annotations

import struct
import zlib
from bisect import bisect_left, insort
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pipeline.detect.context import StationContext, finite
from pipeline.detect.episodes import Observation
from pipeline.detect.model import Reading, Severity
from pipeline.detect.rules import FLAGS, Rules, Thresholds, default_rules
from pipeline.detect.state import RememberedTime, SeriesState, ValuesState, record_digest
from pipeline.timebase import from_s, to_s

O2_CODE = "a19001"
_ZS = frozenset(("zs_rtd", "zs_min", "zs_avg", "zs_max"))
_TRIPLES = (("min", "avg", "max"), ("zs_min", "zs_avg", "zs_max"))
_MAD_TO_SIGMA = 1.4826


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


def _moved(vals: Mapping[str, float], tol: float) -> bool:
    """``reference.moved`` for a period record: Max above Min by more than ``tol``."""
    lo, hi = vals.get("min"), vals.get("max")
    return lo is not None and hi is not None and hi - lo > tol


def _scale(window: list[float], med: float, th: Thresholds) -> float:
    """The spike rule's robust sigma: MAD around ``med``, floored."""
    mad = _median([abs(x - med) for x in window])
    return max(_MAD_TO_SIGMA * mad, th.spike_floor)


class _Keys:
    """The state and episode keys of one pollutant, built once: formatting them per
    reading and rule was a visible share of a profile."""

    __slots__ = ("conflict", "constant", "flag", "limit", "logic", "negative", "range",
                 "spike", "zero")

    def __init__(self, code: str) -> None:
        self.negative = f"{code}|negative"
        self.zero = f"{code}|zero_streak"
        self.constant = f"{code}|constant_streak"
        self.range = f"{code}|out_of_range"
        self.spike = f"{code}|spike"
        self.flag = f"{code}|non_n_flag"
        self.limit = f"{code}|over_limit"
        self.logic = f"{code}|logic_min_avg_max"
        self.conflict = f"{code}|time_conflict"


class _Judge:
    """Which rules of one series judge a reading of one effective flag (each already
    and-ed with the rule being on); ``ends``: the flag (F) ends the streaks' runs."""

    __slots__ = ("constant", "ends", "limit", "logic", "negative", "range", "spike", "zero")

    def __init__(self, p: _Plan, flag: str) -> None:
        th = p.th
        self.negative = p.negative and th.judges("negative", flag)
        self.zero = p.zero and th.judges("zero_streak", flag)
        self.constant = p.constant and th.judges("constant_streak", flag)
        self.range = p.out_of_range and th.judges("out_of_range", flag)
        self.spike = p.spike and th.judges("spike", flag)
        self.limit = p.over_limit and th.judges("over_limit", flag)
        self.logic = p.logic and th.judges("logic_min_avg_max", flag)
        self.ends = flag == "F" and ((p.zero and not self.zero)
                                     or (p.constant and not self.constant))


class _Plan:
    """One series' (station, ST, CN, pollutant) thresholds flattened into what the
    per-reading path reads: ``Thresholds.on``/``.get`` calls per reading and rule cost
    more than the rules themselves."""

    __slots__ = ("const_min_s", "const_need", "const_tol", "constant", "cou", "flag",
                 "judge_f", "judge_n", "judge_other", "judges",
                 "keys", "logic", "negative", "ordered", "out_of_range", "over_limit", "series",
                 "snapshot", "spike",
                 "spike_min_history", "spike_rel", "spike_window", "th", "zero", "zero_need",
                 "zero_tol")

    def __init__(self, th: Thresholds, cn: int, code: str, keys: _Keys) -> None:
        self.th = th
        self.keys = keys
        self.series = f"{cn}/{code}"
        self.negative = th.on("negative")
        self.zero = th.on("zero_streak")
        self.zero_tol = th.zero_tolerance
        self.zero_need = th.zero_streak.get(cn, 0)
        self.constant = th.on("constant_streak")
        self.const_tol = th.constant_tolerance
        self.const_need = th.constant_streak.get(cn, 0)
        self.const_min_s = th.constant_min_duration_s
        self.out_of_range = th.on("out_of_range")
        self.spike = cn in th.spike_cns and th.on("spike")
        self.spike_min_history = th.spike_min_history
        self.spike_rel = th.spike_rel
        self.spike_window = th.spike_window
        # the spike window of this series sorted, and the window it was sorted from
        self.ordered: list[float] | None = None
        self.snapshot: list[float] = []
        self.flag = th.on("non_n_flag")
        self.over_limit = cn in th.over_limit_cns and th.on("over_limit")
        self.logic = th.on("logic_min_avg_max")
        self.cou = th.on("logic_cou")
        # what each effective flag lets the rules judge: resolved once, one look-up a reading
        self.judges = {flag: _Judge(self, flag) for flag in FLAGS}
        self.judge_n = self.judges["N"]
        self.judge_f = self.judges["F"]
        self.judge_other = _Judge(self, "?")  # a flag HJ 212 does not define


class _Out:
    """Collects observations of one frame."""

    __slots__ = ("at", "cn", "items", "mn", "open")

    def __init__(self, mn: str, cn: int, at: datetime,
                 open_episodes: Mapping[str, Any] | None = None) -> None:
        self.mn, self.cn, self.at = mn, cn, at
        self.items: list[Observation] = []
        # clean looks matter only to open episodes (they count towards clearing): with the
        # episode state at hand, the rest need not be built at all
        self.open = open_episodes

    def hit(self, code: str, rule: str, sev: Severity, message: str,
            first: datetime | None = None, extra: dict[str, Any] | None = None,
            **evidence: Any) -> None:
        self.items.append(Observation(self.mn, code, rule, self.cn, self.at, True, sev,
                                      message, {**evidence, **(extra or {})}, first))

    def clean(self, code: str, rule: str) -> None:
        opened = self.open
        # an empty episode state (the usual one) answers without building the key
        if opened is not None and (not opened or f"{code}|{rule}" not in opened):
            return
        self.items.append(Observation(self.mn, code, rule, self.cn, self.at, False))

    def look(self, code: str, rule: str) -> None:
        """A clean look the caller has already found wanted (``wants``)."""
        self.items.append(Observation(self.mn, code, rule, self.cn, self.at, False))


class ValueRules:
    """Every abnormal-value rule (the ``RULE_NAMES`` of ``rules.py`` except offline and
    missing); see the module docstring."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or default_rules()
        # (mn, st, cn) -> code -> plan; valid for the Rules object it was built from
        self._plans: dict[tuple[str, str, int], dict[str, _Plan]] = {}
        self._plans_of: Rules = self.rules
        self._keys: dict[str, _Keys] = {}

    def _plans_for(self, mn: str, st: str, cn: int) -> dict[str, _Plan]:
        if self._plans_of is not self.rules:  # rules swapped (a reload): resolve anew
            self._plans.clear()
            self._plans_of = self.rules
        key = (mn, st, cn)
        plans = self._plans.get(key)
        if plans is None:
            plans = self._plans[key] = {}
        return plans

    def _plan(self, plans: dict[str, _Plan], mn: str, st: str, cn: int, code: str) -> _Plan:
        plan = plans.get(code)
        if plan is None:
            keys = self._keys.get(code)
            if keys is None:
                keys = self._keys[code] = _Keys(code)
            plan = plans[code] = _Plan(self.rules.for_(mn, st, code), cn, code, keys)
        return plan

    def observe_frame(self, state: ValuesState, readings: Sequence[Reading],
                      ctx: StationContext | None = None, *, resent: bool = False,
                      open_episodes: Mapping[str, Any] | None = None
                      ) -> tuple[ValuesState, list[Observation]]:
        """Observations of one frame. ``open_episodes`` (the ``Episodes`` state as it stood
        before this frame) leaves out the clean looks at series with nothing open: only an
        open episode counts them. Without it every look is reported."""
        if not readings:
            return state, []
        head = readings[0]
        ctx = ctx or StationContext(head.mn, head.st)
        st = ctx.st
        out = _Out(head.mn, head.cn, head.data_time, open_episodes)
        series = state.setdefault("series", {})
        mn, cn = head.mn, head.cn
        plans = self._plans_for(mn, st, cn)
        period = ctx.period_s(cn)
        limits = ctx.limits
        # the readings of a frame share its data time: convert it once
        last_dt = head.data_time
        t = t_head = to_s(last_dt)
        opened = open_episodes
        # clean looks are wanted by open episodes only: none open (the usual state) means
        # none of the per-rule key look-ups below
        want = opened is None or len(opened) > 0
        # the value judged, as primary() picks it: Rtd for real-time data, Avg otherwise
        first, second = ("rtd", "avg") if cn == 2011 else ("avg", "rtd")
        with_zs: list[str] = []
        th0 = self.rules.for_(mn, st, "")
        # time_conflict's memory of this data time, filled in the loop below; readings
        # that need a look after it (a code seen before, or a clean look wanted) wait in
        # ``conflict_later``, in frame order
        # a resend is possible only at a data time the memory has reached: in-order frames
        # (nearly all) skip the look-up, and their digest is gathered in the loop below
        resends = state.get("resend_memory")
        memory = resends.get(str(cn)) if resends else None
        digest = None
        if memory and t_head <= memory[-1][0]:
            digest = record_digest(readings)
            for entry in reversed(memory):
                if entry[0] < t_head:
                    break
                if entry[0] == t_head and entry[1] == digest:
                    return state, []  # received before: nothing new to judge
        names: list[str] = []
        numbers: list[float] = []
        name = names.append
        names_extend = names.extend
        number = numbers.extend
        # a source stopped: any reading flagged F makes every N reading of the frame F
        stopped = False
        for r in readings:
            if r.flag == "F":
                stopped = True
                break
        before = (self._conflict_entry(state, head, t_head, th0) if th0.on("time_conflict")
                  else None)
        conflict_later: list[tuple[Reading, bool]] = []
        # One pass per reading with the common path of every rule written out in line:
        # this loop is most of the detector's time, and the calls it had per reading and
        # rule cost more than the rules. Hits and the rarer paths still go to methods.
        for r in readings:
            if r.resent:
                resent = True
            code = r.code
            if r.mn == mn and r.cn == cn:
                p = plans.get(code) or self._plan(plans, mn, st, cn, code)
                r_period = period
                one, other = first, second
            else:  # not one frame after all: resolve this reading on its own
                p = self._plan(self._plans_for(r.mn, st, r.cn), r.mn, st, r.cn, code)
                r_period = ctx.period_s(r.cn)
                one, other = ("rtd", "avg") if r.cn == 2011 else ("avg", "rtd")
            dt = r.data_time
            if dt != last_dt:
                last_dt, t = dt, to_s(dt)
            s = series.get(p.series)
            if s is None:
                s = series[p.series] = {}
            lim = limits.get(code) if limits else None  # most stations have no limits here
            keys = p.keys
            vals = r.values
            flag = r.flag
            if digest is None:  # record_digest, written out
                name(code)
                name(flag or "")
                names_extend(vals)
                name("\x1e")
                number(vals.values())
            if not flag or flag == "N":
                j = p.judge_f if stopped else p.judge_n
            else:
                j = p.judges.get(flag) or p.judge_other
            if not _ZS.isdisjoint(vals):
                with_zs.append(code)
            v = vals[one] if one in vals else vals.get(other)
            if v is not None and v != v:  # NaN
                v = None
            if before is not None:
                if code in before:
                    conflict_later.append((r, False))
                else:
                    # kept as received and rounded only when compared: round() per value
                    # was a tenth of the frame's cost, and a first sighting compares nothing;
                    # NaN is left out (a lone value that is the judged one is no NaN)
                    if len(vals) == 1 and v is not None:
                        before[code] = dict(vals)
                    else:
                        total = sum(vals.values())
                        before[code] = (dict(vals) if total == total
                                        else {k: x for k, x in vals.items() if x == x})
                    if want:
                        conflict_later.append((r, True))
            in_order = t > s.get("last_time", -1)
            if in_order:
                s["last_time"] = t
                if j.ends:  # a stopped source ends the runs of the streaks it is not in
                    if p.zero and not j.zero:
                        s["zero_run"] = 0
                    if p.constant and not j.constant:
                        s["constant_run"] = 0
                        s.pop("constant_value", None)
            if v is not None:
                is_zero = abs(v) <= p.zero_tol  # zero and constant streaks both ask
                if is_zero and one == "avg":  # a period record: all of it must be zero
                    for x in (vals.get("min"), vals.get("max"), vals.get("cou")):
                        if x is not None and abs(x) > p.zero_tol:
                            is_zero = False
                            break
                if j.negative:
                    if v < 0:
                        out.hit(code, "negative", p.th.sev("negative"),
                                f"{code} 负值 negative value {v:g}", value=v)
                    elif in_order and (want and (opened is None or keys.negative in opened)):
                        out.look(code, "negative")
                if in_order and j.zero:
                    if is_zero:
                        z = s.get("zero_run")
                        if not z:
                            s["zero_since"] = t
                        z = s["zero_run"] = (z or 0) + 1
                        need = p.zero_need
                        if need and z >= need:
                            out.hit(code, "zero_streak", p.th.sev("zero_streak"),
                                    f"{code} 连续零值 zero {z} times running",
                                    first=from_s(s["zero_since"]), streak=z, value=v)
                    else:
                        s["zero_run"] = 0
                        if want and (opened is None or keys.zero in opened):
                            out.look(code, "zero_streak")
                if in_order and j.constant:
                    if is_zero:
                        s["constant_run"] = 0  # zeros are the zero streak's business
                        s.pop("constant_value", None)
                    elif one == "avg" and _moved(vals, p.const_tol):
                        s["constant_run"] = 0  # Min below Max: the analyser moved
                        s.pop("constant_value", None)
                        if want and (opened is None or keys.constant in opened):
                            out.look(code, "constant_streak")
                    else:
                        held = s.get("constant_value")
                        if held is not None and abs(v - held) <= p.const_tol:
                            c = s["constant_run"] = s.get("constant_run", 1) + 1
                        else:
                            c = s["constant_run"] = 1
                            s["constant_value"], s["constant_since"] = v, t
                        need = p.const_need
                        if (need and c >= need
                                and t - s["constant_since"] + r_period >= p.const_min_s):
                            out.hit(code, "constant_streak", p.th.sev("constant_streak"),
                                    f"{code} 恒值 the same value {v:g} {c} times running",
                                    first=from_s(s["constant_since"]), streak=c, value=v)
                        elif c == 1 and (want and (opened is None or keys.constant in opened)):
                            out.look(code, "constant_streak")
                if lim is not None and j.range and v >= 0:
                    lo, hi = lim.range_low, lim.range_high
                    # finite() without the calls: a comparison with NaN is false anyway
                    if (hi is not None and v > hi) or (lo is not None and v < lo):
                        out.hit(code, "out_of_range", p.th.sev("out_of_range"),
                                f"{code} 超出量程 outside instrument range [{lo:g}, {hi:g}]: "
                                f"{v:g}", value=v, range_low=lo, range_high=hi)
                    elif in_order and (want and (opened is None or keys.range in opened)):
                        out.look(code, "out_of_range")
                if in_order and j.spike and v >= 0:
                    window = s.setdefault("spike_window", [])
                    if s.setdefault("spike_pending", []) or len(window) < p.spike_min_history:
                        self._spike(s, v, t, code, p, r_period, out)
                    else:
                        # _median() over a sorted copy kept beside the window: sorting 30
                        # values per reading was a fifth of the detector's time. The copy
                        # is trusted only while the window still equals the snapshot it
                        # was made from (pointer compares), so a window changed by anyone
                        # else (the excursion path, a restored state) is sorted anew.
                        ordered = p.ordered
                        if ordered is None or window != p.snapshot:
                            ordered = sorted(window)
                            total = sum(window)
                            # bisect needs a total order: a NaN window is never cached
                            p.ordered = ordered if total == total else None
                            p.snapshot = window[:]
                        n = len(ordered)
                        mid = n // 2
                        med = ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2
                        if abs(v - med) > p.spike_rel * abs(med):
                            # maybe an excursion: the full rule decides (and needs the MAD)
                            self._spike(s, v, t, code, p, r_period, out)
                        else:  # inside recent behaviour, nothing pending: a clean look
                            if want and (opened is None or keys.spike in opened):
                                out.look(code, "spike")
                            window.append(v)
                            snapshot = p.snapshot
                            snapshot.append(v)
                            insort(ordered, v)
                            if len(window) > p.spike_window:
                                drop = len(window) - p.spike_window
                                if drop == 1:  # the steady state: the oldest value goes
                                    del ordered[bisect_left(ordered, window[0])]
                                else:
                                    for x in window[:drop]:
                                        del ordered[bisect_left(ordered, x)]
                                del window[:drop]
                                del snapshot[:drop]
            if p.flag and flag:
                if flag == "N":
                    if in_order:
                        s.pop("flag_run", None)
                        if want and (opened is None or keys.flag in opened):
                            out.look(code, "non_n_flag")
                else:
                    self._flag(s, code, flag, t, in_order, p.th, r_period, out)
            if lim is not None and j.limit:
                self._over_limit(r, v, lim, p.th, in_order, out)
            if j.logic and ("avg" in vals or "zs_avg" in vals):
                self._logic_triples(r, p, out)  # real-time records have no triple
        if digest is None:
            text = "\x1f".join(names).encode()
            digest = zlib.crc32(struct.pack(f"<{len(numbers)}d", *numbers), zlib.crc32(text))
        self._remember(state, cn, t_head, digest, th0)
        if with_zs:
            self._zs_without_o2(readings, with_zs, th0, out)
        if head.cn != 2011:
            self._cou(readings, ctx, out)
        self._time(readings, th0, resent, out)
        if conflict_later:
            self._conflict(head, before or {}, conflict_later, th0, out)
        return state, out.items

    # --- per reading: the rarer paths -------------------------------------------------

    @staticmethod
    def _spike(s: SeriesState, v: float, t: int, code: str, p: _Plan, period: int,
               out: _Out) -> None:
        th = p.th
        window = s.setdefault("spike_window", [])
        pending = s.setdefault("spike_pending", [])
        if len(window) < th.spike_min_history:
            window.append(v)
            return
        med = _median(window)
        dev = abs(v - med)
        # the relative test first: it needs no MAD (a second sort), and it settles nearly
        # every reading; the spike needs both tests, so the order changes no outcome
        if dev > th.spike_rel * abs(med) and dev > th.spike_z * _scale(window, med, th):
            pending.append({"time": t, "value": v})
            if pending[-1]["time"] - pending[0]["time"] + period > th.spike_max_s:
                # it stayed: a level shift, judged by the level rules; learn the new level
                s["spike_window"] = [q["value"] for q in pending][-th.spike_window:]
                s["spike_pending"] = []
            return
        if pending:
            scale = _scale(window, med, th)
            peak = max(pending, key=lambda q: abs(q["value"] - med))["value"]
            out.hit(code, "spike", th.sev("spike"),
                    f"{code} 突变 spike to {peak:g} (recent median {med:g})",
                    first=from_s(pending[0]["time"]), peak=peak, median=med,
                    z=round(abs(peak - med) / scale, 1), samples=len(pending))
            s["spike_pending"] = []
        elif out.open is None or p.keys.spike in out.open:
            out.look(code, "spike")
        window.append(v)
        if len(window) > th.spike_window:
            del window[: len(window) - th.spike_window]

    @staticmethod
    def _flag(s: SeriesState, code: str, flag: str, t: int, in_order: bool, th: Thresholds,
              period: int, out: _Out) -> None:
        """A non-N flag (the caller has settled N and no flag)."""
        running = s.get("flag_run")
        if running is None or running["flag"] != flag or not in_order:
            running = s["flag_run"] = {"flag": flag, "since": t}
        lasted = t - running["since"] + period
        need = th.flag_min_duration_s.get(flag, 0.0)
        if lasted >= need:
            sev = th.flag_severity.get(flag, th.sev("non_n_flag"))
            out.hit(code, "non_n_flag", sev,
                    f"{code} 数据标记 flag {flag} for {lasted:.0f} s",
                    first=from_s(running["since"]), flag=flag, lasted_s=lasted)

    def _over_limit(self, r: Reading, v: float | None, lim: Any, th: Thresholds,
                    in_order: bool, out: _Out) -> None:
        # only valid data decide compliance: a judged flag (the caller's) and inside the
        # instrument range
        if v is None or v < 0:
            return
        if (finite(lim.range_high) and v > lim.range_high) or (
                finite(lim.range_low) and v < lim.range_low):
            return
        basis = lim.basis if lim.basis in r.values else "avg"
        value = r.values.get(basis)
        if value is None:
            return
        if finite(lim.limit_high) and value > lim.limit_high:
            out.hit(r.code, "over_limit", th.sev("over_limit"),
                    f"{r.code} 超标 {basis} {value:g} > limit {lim.limit_high:g}",
                    value=value, threshold=lim.limit_high, basis=basis)
        elif finite(lim.limit_low) and value < lim.limit_low:
            out.hit(r.code, "over_limit", th.sev("over_limit"),
                    f"{r.code} 超标 {basis} {value:g} < limit {lim.limit_low:g}",
                    value=value, threshold=lim.limit_low, basis=basis)
        elif in_order:
            out.clean(r.code, "over_limit")

    # --- logic ------------------------------------------------------------------------

    @staticmethod
    def _logic_triples(r: Reading, p: _Plan, out: _Out) -> None:
        vals = r.values
        for lo_k, mid_k, hi_k in _TRIPLES:
            mid = vals.get(mid_k)
            if mid is None:  # real-time records carry no triple: one look settles it
                continue
            lo, hi = vals.get(lo_k), vals.get(hi_k)
            if lo is None or hi is None:
                continue
            tol = 1e-9 + 1e-6 * max(abs(lo), abs(mid), abs(hi))
            if lo > mid + tol or mid > hi + tol:
                out.hit(r.code, "logic_min_avg_max", p.th.sev("logic_min_avg_max"),
                        f"{r.code} 逻辑错误 {lo_k} {lo:g} <= {mid_k} {mid:g} <= {hi_k} "
                        f"{hi:g} does not hold", extra={lo_k: lo, mid_k: mid, hi_k: hi})
            elif out.open is None or p.keys.logic in out.open:
                out.look(r.code, "logic_min_avg_max")

    @staticmethod
    def _zs_without_o2(readings: Sequence[Reading], with_zs: list[str], th: Thresholds,
                       out: _Out) -> None:
        """``with_zs``: the codes of the frame with a Zs value, in frame order (not
        empty)."""
        if not th.on("logic_zs_without_o2"):
            return
        if any(r.code == O2_CODE and r.values for r in readings):
            out.clean("", "logic_zs_without_o2")
        else:
            out.hit("", "logic_zs_without_o2", th.sev("logic_zs_without_o2"),
                    f"折算值缺氧含量 Zs values of {', '.join(with_zs)} without O2 "
                    f"({O2_CODE}) in the same frame", codes=with_zs)

    def _cou(self, readings: Sequence[Reading], ctx: StationContext, out: _Out) -> None:
        th_flow = self.rules.for_(ctx.mn, ctx.st, "")
        flow = next((r for r in readings if r.code == th_flow.flow_code), None)
        cn = readings[0].cn
        period = ctx.period_s(cn)
        plans = self._plans_for(ctx.mn, ctx.st, cn)
        flow_cou = None
        if flow is not None:
            avg, cou = flow.values.get("avg"), flow.values.get("cou")
            flow_cou = cou
            th = self.rules.for_(ctx.mn, ctx.st, flow.code)
            if avg is not None and cou is not None and avg >= 0 and period and th.on("logic_cou"):
                expected = avg * period * th.cou_volume_factor
                self._cou_check(flow.code, cou, expected, th, out, flow_avg=avg,
                                period_s=period)
        if flow_cou is None or flow is None or flow.values.get("avg", 0.0) < 0:
            return
        for r in readings:
            if r is flow:
                continue
            avg, cou = r.values.get("avg"), r.values.get("cou")
            if avg is None or cou is None or avg < 0:
                continue
            p = plans.get(r.code) or self._plan(plans, ctx.mn, ctx.st, cn, r.code)
            if not p.cou:
                continue
            th = p.th
            self._cou_check(r.code, cou, avg * flow_cou * th.cou_mass_factor, th, out,
                            avg=avg, flow_cou=flow_cou)

    @staticmethod
    def _cou_check(code: str, cou: float, expected: float, th: Thresholds, out: _Out,
                   **evidence: float) -> None:
        slack = th.cou_tolerance * max(abs(expected), abs(cou)) + th.cou_abs_tolerance
        if abs(cou - expected) > slack:
            out.hit(code, "logic_cou", th.sev("logic_cou"),
                    f"{code} 累计值不符 Cou {cou:g} vs expected {expected:.4g}",
                    extra={"cou": cou, "expected": expected, **evidence})
        else:
            out.clean(code, "logic_cou")

    # --- resends ----------------------------------------------------------------------

    @staticmethod
    def _remember(state: ValuesState, cn: int, t: int, digest: int, th: Thresholds) -> None:
        """``reference.remember_frame``: [t, digest] into the data type's memory, oldest
        first, ``resend_memory_s`` before the newest and ``resend_memory_max`` long."""
        memory = state.setdefault("resend_memory", {}).setdefault(str(cn), [])
        span = th.resend_memory_s.get(cn, 0)
        if not memory or t >= memory[-1][0]:
            memory.append([t, digest])  # in order: nearly every frame
        else:
            if t < memory[-1][0] - span:
                return
            at = len(memory)
            while at > 0 and memory[at - 1][0] > t:
                at -= 1
            memory.insert(at, [t, digest])
        oldest = memory[-1][0] - span
        if memory[0][0] < oldest:
            drop = 1
            while memory[drop][0] < oldest:  # the newest entry is never older: stops
                drop += 1
            del memory[:drop]
        if len(memory) > th.resend_memory_max:
            del memory[: len(memory) - th.resend_memory_max]

    # --- time -------------------------------------------------------------------------

    @staticmethod
    def _time(readings: Sequence[Reading], th: Thresholds, resent: bool, out: _Out) -> None:
        head = readings[0]
        ahead = (head.data_time - head.receive_time).total_seconds()
        if th.on("time_future"):
            if ahead > th.future_tolerance_s:
                out.hit("", "time_future", th.sev("time_future"),
                        f"数据时间超前 data time {head.data_time:%Y-%m-%d %H:%M:%S} is "
                        f"{ahead:.0f} s ahead of arrival", ahead_s=ahead)
            else:
                out.clean("", "time_future")
        if head.cn == 2011 and not resent and th.on("time_stale"):
            if -ahead > th.stale_tolerance_s:
                out.hit("", "time_stale", th.sev("time_stale"),
                        f"实时数据滞后 real-time data {-ahead:.0f} s old on arrival",
                        late_s=-ahead)
            else:
                out.clean("", "time_stale")

    @staticmethod
    def _conflict_entry(state: ValuesState, head: Reading, t: int, th: Thresholds
                        ) -> dict[str, dict[str, float]]:
        """The remembered values of the frame's data time ``t`` (code -> values), made and
        remembered if new."""
        memory = state.setdefault("conflict_memory", {}).setdefault(str(head.cn), [])
        seen: RememberedTime | None = None
        if memory and memory[-1]["time"] >= t:
            seen = next((entry for entry in memory if entry["time"] == t), None)
        if seen is None:
            seen = {"time": t, "values": {}}
            # in-order data (nearly all) are newer than everything remembered: appended,
            # the memory stays sorted without a sort
            if memory and memory[-1]["time"] > t:
                memory.append(seen)
                memory.sort(key=lambda e: e["time"])
            else:
                memory.append(seen)
            keep = th.conflict_memory.get(head.cn, 20)
            if len(memory) > keep:
                del memory[: len(memory) - keep]
        return seen["values"]

    @staticmethod
    def _conflict(head: Reading, before: dict[str, dict[str, float]],
                  later: list[tuple[Reading, bool]], th: Thresholds, out: _Out) -> None:
        """The looks of time_conflict, in frame order: ``fresh`` readings were first seen
        (stored by the caller), the others are compared with what was remembered."""
        for r, fresh in later:
            if fresh:
                out.clean(r.code, "time_conflict")
                continue
            vals = r.values
            old = before[r.code]
            now = {k: round(v, 6) for k, v in vals.items() if v == v}
            diff = {k: [round(old[k], 6), now[k]] for k in old.keys() & now.keys()
                    if round(old[k], 6) != now[k]}
            if diff:
                out.hit(r.code, "time_conflict", th.sev("time_conflict"),
                        f"{r.code} 同一时间数据不一致 {head.data_time:%Y-%m-%d %H:%M:%S} resent "
                        f"with other values", changed=diff)
                before[r.code] = now
