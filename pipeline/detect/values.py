"""Abnormal values: rules over one station's frames, as observations for ``episodes``.

``ValueRules.observe_frame(state, readings, ctx)`` takes the readings of ONE frame (same
MN, CN and data time; frame-level rules need the whole frame: a Zs value with no O2 beside
it, Cou against the flow of the same record) and returns the new state and observations.

Which value a rule looks at: the real-time value (Rtd) of 2011, the period mean (Avg) of
2051/2061/2031. Streak and spike rules only follow readings in data-time order; a late or
back-filled record still gets the point rules (negative, range, limit, flag, logic) so an
exceedance inside a refilled gap is seen, but it cannot clear an episode or break a streak.

State (JSON), per station: ``{"s": {"<cn>/<code>": series}, "m": {"<cn>": [[t, {code:
{suffix: value}}], ...]}}``; a series keeps its last data time, streak counters, the spike
window and a pending excursion, and the running non-N flag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pipeline.detect.context import StationContext, finite
from pipeline.detect.episodes import Observation
from pipeline.detect.model import Reading, Severity, State
from pipeline.detect.rules import Rules, Thresholds, default_rules
from pipeline.detect.times import from_s, to_s

O2_CODE = "a19001"
_ZS = ("zs_rtd", "zs_min", "zs_avg", "zs_max")
_TRIPLES = (("min", "avg", "max"), ("zs_min", "zs_avg", "zs_max"))
_MAD_TO_SIGMA = 1.4826


def primary(reading: Reading) -> float | None:
    """The value rules judge: Rtd for real-time data, Avg for period records."""
    v = reading.values
    first, second = ("rtd", "avg") if reading.cn == 2011 else ("avg", "rtd")
    value = v.get(first, v.get(second))
    return value if value is not None and not math.isnan(value) else None


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2


class _Out:
    """Collects observations of one frame."""

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
        if self.open is not None and f"{code}|{rule}" not in self.open:
            return
        self.items.append(Observation(self.mn, code, rule, self.cn, self.at, False))


class ValueRules:
    """Every abnormal-value rule of issue 5 item 3; see the module docstring."""

    name = "values"

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or default_rules()

    def observe_frame(self, state: State, readings: Sequence[Reading],
                      ctx: StationContext | None = None, *, resent: bool = False,
                      open_episodes: Mapping[str, Any] | None = None
                      ) -> tuple[State, list[Observation]]:
        """Observations of one frame. ``open_episodes`` (the ``Episodes`` state) lets clean
        looks at series with nothing open be left out; without it every look is reported."""
        if not readings:
            return state, []
        head = readings[0]
        ctx = ctx or StationContext(head.mn, head.st)
        out = _Out(head.mn, head.cn, head.data_time, open_episodes)
        series: dict[str, Any] = state.setdefault("s", {})
        resent = resent or any(r.resent for r in readings)
        for r in readings:
            th = self.rules.for_(r.mn, ctx.st, r.code)
            s = series.setdefault(f"{r.cn}/{r.code}", {})
            self._reading(s, r, th, ctx, out)
            self._logic_triples(r, th, out)
        th0 = self.rules.for_(head.mn, ctx.st, "")
        self._zs_without_o2(readings, th0, out)
        if head.cn != 2011:
            self._cou(readings, ctx, out)
        self._time(state, readings, th0, resent, out)
        return state, out.items

    # --- per reading ------------------------------------------------------------------

    def _reading(self, s: dict[str, Any], r: Reading, th: Thresholds, ctx: StationContext,
                 out: _Out) -> None:
        v = primary(r)
        t = to_s(r.data_time)
        in_order = t > s.get("t", -1)
        if in_order:
            s["t"] = t
        lim = ctx.limits.get(r.code)
        code = r.code
        if v is not None:
            if th.on("negative"):
                if v < 0:
                    out.hit(code, "negative", th.sev("negative"),
                            f"{code} 负值 negative value {v:g}", value=v)
                elif in_order:
                    out.clean(code, "negative")
            if in_order and th.on("zero_streak"):
                self._zero(s, v, r, th, out)
            if in_order and th.on("constant_streak"):
                self._constant(s, v, r, th, ctx, out)
            if lim is not None and th.on("out_of_range") and v >= 0:
                lo, hi = lim.range_low, lim.range_high
                if (finite(hi) and v > hi) or (finite(lo) and v < lo):
                    out.hit(code, "out_of_range", th.sev("out_of_range"),
                            f"{code} 超出量程 outside instrument range [{lo:g}, {hi:g}]: {v:g}",
                            value=v, range_low=lo, range_high=hi)
                elif in_order:
                    out.clean(code, "out_of_range")
            if in_order and r.cn in th.spike_cns and th.on("spike") and v >= 0:
                self._spike(s, v, t, r, th, ctx.period_s(r.cn), out)
        if th.on("non_n_flag") and r.flag:
            self._flag(s, r, t, in_order, th, ctx, out)
        if lim is not None and r.cn in th.over_limit_cns and th.on("over_limit"):
            self._over_limit(r, v, lim, th, in_order, out)

    def _zero(self, s: dict[str, Any], v: float, r: Reading, th: Thresholds,
              out: _Out) -> None:
        if abs(v) <= th.zero_tolerance:
            if not s.get("z"):
                s["zf"] = to_s(r.data_time)
            s["z"] = s.get("z", 0) + 1
            need = th.zero_streak.get(r.cn, 0)
            if need and s["z"] >= need:
                out.hit(r.code, "zero_streak", th.sev("zero_streak"),
                        f"{r.code} 连续零值 zero {s['z']} times running",
                        first=from_s(s["zf"]), streak=s["z"], value=v)
        else:
            s["z"] = 0
            out.clean(r.code, "zero_streak")

    def _constant(self, s: dict[str, Any], v: float, r: Reading, th: Thresholds,
                  ctx: StationContext, out: _Out) -> None:
        if abs(v) <= th.zero_tolerance:
            s["c"] = 0  # zeros are the zero streak's business
            s.pop("cv", None)
            return
        held = s.get("cv")
        if held is not None and abs(v - held) <= th.constant_tolerance:
            s["c"] = s.get("c", 1) + 1
        else:
            s["c"], s["cv"], s["cf"] = 1, v, to_s(r.data_time)
        need = th.constant_streak.get(r.cn, 0)
        lasted = to_s(r.data_time) - s["cf"] + ctx.period_s(r.cn)
        if need and s["c"] >= need and lasted >= th.constant_min_duration_s:
            out.hit(r.code, "constant_streak", th.sev("constant_streak"),
                    f"{r.code} 恒值 the same value {v:g} {s['c']} times running",
                    first=from_s(s["cf"]), streak=s["c"], value=v)
        elif s["c"] == 1:
            out.clean(r.code, "constant_streak")

    def _spike(self, s: dict[str, Any], v: float, t: int, r: Reading, th: Thresholds,
               period: int, out: _Out) -> None:
        window: list[float] = s.setdefault("w", [])
        pending: list[list[float]] = s.setdefault("p", [])
        if len(window) < th.spike_min_history:
            window.append(v)
            return
        med = _median(window)
        mad = _median([abs(x - med) for x in window])
        scale = max(_MAD_TO_SIGMA * mad, th.spike_floor)
        dev = v - med
        if abs(dev) > th.spike_z * scale and abs(dev) > th.spike_rel * abs(med):
            pending.append([t, v])
            if pending[-1][0] - pending[0][0] + period > th.spike_max_s:
                # it stayed: a level shift, judged by the level rules; learn the new level
                s["w"] = [p[1] for p in pending][-th.spike_window:]
                s["p"] = []
            return
        if pending:
            peak = max(pending, key=lambda p: abs(p[1] - med))
            out.hit(r.code, "spike", th.sev("spike"),
                    f"{r.code} 突变 spike to {peak[1]:g} (recent median {med:g})",
                    first=from_s(pending[0][0]), peak=peak[1], median=med,
                    z=round(abs(peak[1] - med) / scale, 1), samples=len(pending))
            s["p"] = []
        else:
            out.clean(r.code, "spike")
        window.append(v)
        if len(window) > th.spike_window:
            del window[: len(window) - th.spike_window]

    def _flag(self, s: dict[str, Any], r: Reading, t: int, in_order: bool, th: Thresholds,
              ctx: StationContext, out: _Out) -> None:
        flag = r.flag or ""
        if flag == "N":
            if in_order:
                s.pop("fl", None)
                out.clean(r.code, "non_n_flag")
            return
        running = s.get("fl")
        if running is None or running[0] != flag or not in_order:
            running = s["fl"] = [flag, t]
        lasted = t - running[1] + ctx.period_s(r.cn)
        need = th.flag_min_duration_s.get(flag, 0.0)
        if lasted >= need:
            sev = th.flag_severity.get(flag, th.sev("non_n_flag"))
            out.hit(r.code, "non_n_flag", sev,
                    f"{r.code} 数据标记 flag {flag} for {lasted:.0f} s",
                    first=from_s(running[1]), flag=flag, lasted_s=lasted)

    def _over_limit(self, r: Reading, v: float | None, lim: Any, th: Thresholds,
                    in_order: bool, out: _Out) -> None:
        # only valid data decide compliance: N flag and inside the instrument range
        if v is None or (r.flag not in (None, "N")) or v < 0:
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

    def _logic_triples(self, r: Reading, th: Thresholds, out: _Out) -> None:
        if not th.on("logic_min_avg_max"):
            return
        for lo_k, mid_k, hi_k in _TRIPLES:
            lo, mid, hi = (r.values.get(k) for k in (lo_k, mid_k, hi_k))
            if lo is None or mid is None or hi is None:
                continue
            tol = 1e-9 + 1e-6 * max(abs(lo), abs(mid), abs(hi))
            if lo > mid + tol or mid > hi + tol:
                out.hit(r.code, "logic_min_avg_max", th.sev("logic_min_avg_max"),
                        f"{r.code} 逻辑错误 {lo_k} {lo:g} <= {mid_k} {mid:g} <= {hi_k} "
                        f"{hi:g} does not hold", extra={lo_k: lo, mid_k: mid, hi_k: hi})
            else:
                out.clean(r.code, "logic_min_avg_max")

    def _zs_without_o2(self, readings: Sequence[Reading], th: Thresholds, out: _Out) -> None:
        if not th.on("logic_zs_without_o2"):
            return
        with_zs = [r.code for r in readings if any(k in r.values for k in _ZS)]
        if not with_zs:
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
        period = ctx.period_s(readings[0].cn)
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
            th = self.rules.for_(ctx.mn, ctx.st, r.code)
            if avg is None or cou is None or avg < 0 or not th.on("logic_cou"):
                continue
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

    # --- time -------------------------------------------------------------------------

    def _time(self, state: State, readings: Sequence[Reading], th: Thresholds, resent: bool,
              out: _Out) -> None:
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
        if th.on("time_conflict"):
            self._conflict(state, readings, th, out)

    def _conflict(self, state: State, readings: Sequence[Reading], th: Thresholds,
                  out: _Out) -> None:
        head = readings[0]
        t = to_s(head.data_time)
        memory: list[list[Any]] = state.setdefault("m", {}).setdefault(str(head.cn), [])
        seen = next((entry for entry in memory if entry[0] == t), None)
        if seen is None:
            seen = [t, {}]
            memory.append(seen)
            memory.sort(key=lambda e: e[0])
            keep = th.conflict_memory.get(head.cn, 20)
            if len(memory) > keep:
                del memory[: len(memory) - keep]
        before: dict[str, dict[str, float]] = seen[1]
        for r in readings:
            now = {k: round(v, 6) for k, v in r.values.items() if not math.isnan(v)}
            old = before.get(r.code)
            if old is None:
                before[r.code] = now
                out.clean(r.code, "time_conflict")
                continue
            diff = {k: [old[k], now[k]] for k in old.keys() & now.keys() if old[k] != now[k]}
            if diff:
                out.hit(r.code, "time_conflict", th.sev("time_conflict"),
                        f"{r.code} 同一时间数据不一致 {head.data_time:%Y-%m-%d %H:%M:%S} resent "
                        f"with other values", changed=diff)
                before[r.code] = now
