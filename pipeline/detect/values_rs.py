"""The value rules in Rust (``hj212.ValueKernel``, ``core_rs/src/values.rs``) behind the
interface of ``values.ValueRules``.

The kernel holds each station's ``ValuesState`` on the Rust side and takes thresholds
already resolved: this module resolves them from the rules file and the station context
into flat plans (one per series, one per station and data type, cached, registered with
the kernel once), hands it each frame's readings as tuples, and words what it reports
(the kernel returns numbers; the messages and evidence are the ones ``reference.py``
writes, built here only for hits, which are rare).

Two ways to hold the state:

- ``observe_frame(state, readings, ...)``, as ``ValueRules``: the dict is the state; it
  is loaded into the kernel before the frame and written back after (the differential
  tests run this way against ``reference.py``);
- ``KernelValueRules(resident=True)``: the kernel keeps each station's state between
  frames (``adopt`` hands it a station's dict once; ``export`` gives the dict back for
  the changelog), so a frame costs no conversion of the state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import hj212

from pipeline.detect.context import StationContext
from pipeline.detect.episodes import Observation
from pipeline.detect.model import Reading
from pipeline.detect.rules import FLAGS, JUDGED_PER_FLAG, Rules, Thresholds, default_rules
from pipeline.detect.state import ValuesState
from pipeline.registry.model import Limit
from pipeline.timebase import from_s, to_s

O2_CODE = "a19001"
_TRIPLES = (("min", "avg", "max"), ("zs_min", "zs_avg", "zs_max"))
#: rules judged against the station's thresholds (``for_(mn, st, "")``), not the code's
_STATION_RULES = frozenset(("logic_zs_without_o2", "time_future", "time_stale",
                            "time_conflict"))
_EVERY_FLAG = 0x1FF
#: the keys of ``ValuesState`` the kernel owns
STATE_KEYS = ("series", "conflict_memory", "resend_memory")


def judged_mask(th: Thresholds, rule: str) -> int:
    """The flags ``rule`` judges as the kernel's bit mask (bit i: ``FLAGS[i]``, bit 8:
    any flag HJ 212 does not define, judged only by a rule that lists none)."""
    letters = th.judged_flags.get(rule)
    if letters is None:
        return _EVERY_FLAG
    return sum(1 << FLAGS.index(c) for c in letters if c in FLAGS)


def series_plan(th: Thresholds, cn: int, period: int, limit: Limit | None) -> dict[str, Any]:
    """One series' thresholds, flat, as the kernel's ``Plan``."""
    return {
        "negative": th.on("negative"),
        "zero": th.on("zero_streak"),
        "constant": th.on("constant_streak"),
        "out_of_range": th.on("out_of_range"),
        "spike": cn in th.spike_cns and th.on("spike"),
        "non_n_flag": th.on("non_n_flag"),
        "over_limit": cn in th.over_limit_cns and th.on("over_limit"),
        "logic": th.on("logic_min_avg_max"),
        "cou": th.on("logic_cou"),
        "judged": [judged_mask(th, rule) for rule in JUDGED_PER_FLAG],
        "zero_tol": th.zero_tolerance,
        "zero_need": th.zero_streak.get(cn, 0),
        "const_tol": th.constant_tolerance,
        "const_need": th.constant_streak.get(cn, 0),
        "const_min_s": th.constant_min_duration_s,
        "spike_window": th.spike_window,
        "spike_min_history": th.spike_min_history,
        "spike_z": th.spike_z,
        "spike_rel": th.spike_rel,
        "spike_floor": th.spike_floor,
        "spike_max_s": th.spike_max_s,
        "flag_min_s": dict(th.flag_min_duration_s),
        "cou_tolerance": th.cou_tolerance,
        "cou_abs_tolerance": th.cou_abs_tolerance,
        "cou_mass_factor": th.cou_mass_factor,
        "cou_volume_factor": th.cou_volume_factor,
        "period": period,
        "limit": None if limit is None else {
            "range_low": limit.range_low, "range_high": limit.range_high,
            "limit_low": limit.limit_low, "limit_high": limit.limit_high,
            "basis": limit.basis},
    }


def station_plan(th: Thresholds, cn: int) -> dict[str, Any]:
    """The station-wide thresholds of one data type, as the kernel's ``StationPlan``."""
    return {
        "time_conflict": th.on("time_conflict"),
        "conflict_keep": th.conflict_memory.get(cn, 20),
        "resend_span": th.resend_memory_s.get(cn, 0),
        "resend_max": th.resend_memory_max,
        "zs_without_o2": th.on("logic_zs_without_o2"),
        "time_future": th.on("time_future"),
        "future_tol": th.future_tolerance_s,
        "time_stale": th.on("time_stale"),
        "stale_tol": th.stale_tolerance_s,
        "flow_code": th.flow_code,
    }


#: frame shapes kept by ``KernelValueRules.frame_plan`` before they are dropped
FRAME_PLANS_MAX = 50_000


@dataclass(frozen=True, slots=True)
class FramePlan:
    """The plans one frame shape needs: ``rows`` the series plan id of each row."""

    ctx: StationContext
    rows: tuple[int, ...]
    station: int
    period: int


def _open_key(key: str) -> tuple[str, str]:
    code, _, rule = key.partition("|")
    return code, rule


class KernelValueRules:
    """``values.ValueRules`` with the rules run by ``hj212.ValueKernel``; see the module
    docstring."""

    def __init__(self, rules: Rules | None = None, *, resident: bool = False) -> None:
        self.rules = rules or default_rules()
        self.resident = resident
        self.kernel = hj212.ValueKernel()
        self._rules_of = self.rules
        # (mn, st, cn, code) -> (the context it was resolved with, plan id)
        self._plans: dict[tuple[str, str, int, str], tuple[StationContext, int]] = {}
        self._stations: dict[tuple[str, str, int], int] = {}
        #: what the rows of a frame of one shape need, by (MN, ST, data type, code width,
        #: the codes' bytes): see ``frame_plan``
        self.frame_plans: dict[tuple[str, str, int, int, bytes], FramePlan] = {}

    # --- plans ---------------------------------------------------------------------------

    def fresh(self) -> None:
        """Drop the resolved plans if the rules were swapped (a reload)."""
        if self._rules_of is not self.rules:  # rules swapped (a reload): resolve anew
            self._plans.clear()
            self._stations.clear()
            self.frame_plans.clear()
            self._rules_of = self.rules

    def plan(self, mn: str, ctx: StationContext, cn: int, code: str) -> int:
        """The kernel's plan id of one series (resolved and registered once)."""
        key = (mn, ctx.st, cn, code)
        known = self._plans.get(key)
        if known is not None and known[0] is ctx:
            return known[1]
        th = self.rules.for_(mn, ctx.st, code)
        pid = self.kernel.add_plan(series_plan(th, cn, ctx.period_s(cn), ctx.limits.get(code)))
        self._plans[key] = (ctx, pid)
        return pid

    def frame_plan(self, key: tuple[str, str, int, int, bytes], ctx: StationContext, cn: int,
                   rows: Sequence[tuple[int, str]]) -> FramePlan:
        """Resolve and keep under ``key`` the plans of a frame whose rows are ``rows``
        ((data type, code) each) for the station of context ``ctx``. The keys are bounded
        by the shapes stations send; a station sending ever new code sets could grow them
        without end, so past ``FRAME_PLANS_MAX`` they start again."""
        if len(self.frame_plans) >= FRAME_PLANS_MAX:
            self.frame_plans.clear()
        mn = key[0]
        found = self.frame_plans[key] = FramePlan(
            ctx, tuple(self.plan(mn, ctx, c, code) for c, code in rows),
            self.station(mn, ctx.st, cn), ctx.period_s(cn))
        return found

    def station(self, mn: str, st: str, cn: int) -> int:
        """The kernel's station plan id of one data type."""
        key = (mn, st, cn)
        sid = self._stations.get(key)
        if sid is None:
            sid = self._stations[key] = self.kernel.add_station_plan(
                station_plan(self.rules.for_(mn, st, ""), cn))
        return sid

    # --- resident state ------------------------------------------------------------------

    def adopt(self, mn: str, state: ValuesState) -> None:
        """Hand the kernel a station's state (from the changelog, or a fresh ``{}``)."""
        self.kernel.load(mn, state)

    def export(self, mn: str) -> ValuesState:
        """A station's state as the dict ``state.py`` persists."""
        out: Any = self.kernel.dump(mn)
        return cast(ValuesState, out)

    def export_json(self, mn: str) -> bytes:
        """That dict as JSON text, made by the kernel without the dict."""
        return self.kernel.dump_json(mn)

    def forget(self, mn: str) -> None:
        self.kernel.forget(mn)

    # --- a frame -------------------------------------------------------------------------

    def observe_frame(self, state: ValuesState, readings: Sequence[Reading],
                      ctx: StationContext | None = None, *, resent: bool = False,
                      open_episodes: Mapping[str, Any] | None = None
                      ) -> tuple[ValuesState, list[Observation]]:
        """As ``ValueRules.observe_frame``. Not resident: ``state`` is read before the frame
        and written after; resident: ``state`` is not looked at (the kernel's is used)."""
        if not readings:
            return state, []
        self.fresh()
        head = readings[0]
        ctx = ctx or StationContext(head.mn, head.st)
        mn, cn = head.mn, head.cn
        t = to_s(head.data_time)
        rows = []
        for r in readings:
            rows.append((r.code, r.flag or "", r.cn,
                         t if r.data_time == head.data_time else to_s(r.data_time),
                         list(r.values.items()), self.plan(r.mn, ctx, r.cn, r.code)))
        resent = resent or any(r.resent for r in readings)
        ahead = (head.data_time - head.receive_time).total_seconds()
        opened = None if open_episodes is None else [
            _open_key(key) for key in open_episodes]
        if not self.resident:
            self.kernel.load(mn, state)
        found = self.kernel.observe(mn, self.station(mn, ctx.st, cn), cn, t, ahead, resent,
                                    ctx.period_s(cn), rows, opened)
        if not self.resident:
            for key, value in self.kernel.dump(mn).items():
                state[key] = value  # type: ignore[literal-required]
            self.kernel.forget(mn)
        if not found:
            return state, []
        return state, self.word(found, readings, ctx)

    # --- words ---------------------------------------------------------------------------

    def word(self, found: Sequence[tuple[int, str, bool, int | None, tuple[Any, ...]]],
             readings: Sequence[Reading], ctx: StationContext) -> list[Observation]:
        """The kernel's observations as ``Observation``s, hits worded as ``reference.py``
        words them."""
        head = readings[0]
        return self.word_frame(found, head.mn, head.cn, head.data_time, ctx,
                               lambda i: readings[i].code, readings.__getitem__,
                               readings)

    def word_frame(self, found: Sequence[tuple[int, str, bool, int | None, tuple[Any, ...]]],
                   mn: str, cn: int, at: datetime, ctx: StationContext,
                   code_of: Callable[[int], str], reading_of: Callable[[int], Reading],
                   readings: Sequence[Reading]) -> list[Observation]:
        """``word`` for a frame given by its MN, data type and data time (its first
        reading's), the code of its reading i, and its readings (asked for only by the
        hits)."""
        out: list[Observation] = []
        for i, rule, hit, first, ev in found:
            if not hit:
                out.append(Observation(mn, code_of(i) if i >= 0 else "", rule, cn, at, False))
                continue
            r = reading_of(i) if i >= 0 else None
            code = r.code if r is not None else ""
            th = (self.rules.for_(mn, ctx.st, "") if rule in _STATION_RULES or r is None
                  else self.rules.for_(r.mn, ctx.st, code))
            message, evidence = _words(rule, ev, r, readings, ctx, at)
            severity = th.sev(rule)
            if rule == "non_n_flag" and r is not None and r.flag:
                severity = th.flag_severity.get(r.flag, severity)
            out.append(Observation(mn, code, rule, cn, at, True, severity, message, evidence,
                                   from_s(first) if first is not None else None))
        return out


def _words(rule: str, ev: tuple[Any, ...], r: Reading | None, readings: Sequence[Reading],
           ctx: StationContext, at: datetime) -> tuple[str, dict[str, Any]]:
    """The message and evidence of one hit (the same words as ``reference.py``)."""
    code = r.code if r is not None else ""
    if rule == "negative":
        (v,) = ev
        return f"{code} 负值 negative value {v:g}", {"value": v}
    if rule == "zero_streak":
        run, v = ev
        return f"{code} 连续零值 zero {run} times running", {"streak": run, "value": v}
    if rule == "constant_streak":
        run, v = ev
        return (f"{code} 恒值 the same value {v:g} {run} times running",
                {"streak": run, "value": v})
    if rule == "out_of_range":
        (v,) = ev
        limit = ctx.limits[code]
        low, high = limit.range_low, limit.range_high
        return (f"{code} 超出量程 outside instrument range [{low:g}, {high:g}]: {v:g}",
                {"value": v, "range_low": low, "range_high": high})
    if rule == "spike":
        peak, median, sigma, samples = ev
        return (f"{code} 突变 spike to {peak:g} (recent median {median:g})",
                {"peak": peak, "median": median, "z": round(abs(peak - median) / sigma, 1),
                 "samples": samples})
    if rule == "non_n_flag":
        (lasted,) = ev
        flag = r.flag if r is not None else ""
        return f"{code} 数据标记 flag {flag} for {lasted:.0f} s", {"flag": flag, "lasted_s": lasted}
    if rule == "over_limit":
        value, high = ev
        limit = ctx.limits[code]
        values = r.values if r is not None else {}
        basis = limit.basis if limit.basis in values else "avg"
        threshold, sign = (limit.limit_high, ">") if high else (limit.limit_low, "<")
        return (f"{code} 超标 {basis} {value:g} {sign} limit {threshold:g}",
                {"value": value, "threshold": threshold, "basis": basis})
    if rule == "logic_min_avg_max":
        which, low, mid, high = ev
        lo_k, mid_k, hi_k = _TRIPLES[which]
        return (f"{code} 逻辑错误 {lo_k} {low:g} <= {mid_k} {mid:g} <= {hi_k} {high:g} "
                "does not hold", {lo_k: low, mid_k: mid, hi_k: high})
    if rule == "logic_zs_without_o2":
        with_zs = [readings[i].code for i in ev]
        return (f"折算值缺氧含量 Zs values of {', '.join(with_zs)} without O2 ({O2_CODE}) "
                "in the same frame", {"codes": with_zs})
    if rule == "logic_cou":
        cou, expected, flow, a, b = ev
        inputs = {"flow_avg": a, "period_s": int(b)} if flow else {"avg": a, "flow_cou": b}
        return (f"{code} 累计值不符 Cou {cou:g} vs expected {expected:.4g}",
                {"cou": cou, "expected": expected, **inputs})
    if rule == "time_future":
        (ahead,) = ev
        return (f"数据时间超前 data time {at:%Y-%m-%d %H:%M:%S} is {ahead:.0f} s ahead of "
                "arrival", {"ahead_s": ahead})
    if rule == "time_stale":
        (late,) = ev
        return f"实时数据滞后 real-time data {late:.0f} s old on arrival", {"late_s": late}
    if rule == "time_conflict":
        changed = {k: [was, now] for k, was, now in ev}
        return (f"{code} 同一时间数据不一致 {at:%Y-%m-%d %H:%M:%S} resent with other values",
                {"changed": changed})
    raise ValueError(f"value kernel: rule {rule!r} is none of {hj212.VALUE_RULES}")
