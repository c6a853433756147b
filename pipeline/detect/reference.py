"""The value rules stated plainly: the oracle the fast path (``values.py``) is held to.

One function per rule, each reading its thresholds by name from ``Rules.for_``: no plans,
no caches, no inlining, no skipped work. Same state (``ValuesState``) and the same
observations, in the same order, as ``ValueRules.observe_frame``;
``tests/unit/test_detect_reference.py`` runs both on random streams and demands equal
observations, states and events. A faster implementation (NumPy, Rust) should be checked
against this module the same way.

State in, readings in, observations or events out::

    rules = ReferenceValueRules()
    observations = rules.observe_frame(state["values"], readings, ctx)
    events = rules.on_frame(state, readings, ctx)       # folded into episodes

What every rule shares:

- a frame's readings share its MN, data type and data time; every observation carries
  those of the frame's first reading;
- the value judged is Rtd for real-time data (2011) and Avg for period records, the other
  when that one is absent; NaN counts as no value;
- a reading is *in order* when its data time is later than the last one its series
  (data type, pollutant) followed. Streak, spike and flag rules follow only in-order
  readings, and only in-order readings give the clean looks of the point rules: a late
  record can raise an alarm but not clear one or break a streak;
- a clean look counts toward closing an episode, so with ``open_episodes`` (the
  episodes open before the frame) the looks at anything else are left out: a frame does
  not clear what it opens;
- flags first: a rule judges a reading only if ``judged_flags`` lets it judge the
  reading's *effective* flag: its own flag, N when it has none, and F when it is N in a
  frame where any reading is flagged F (the source stopped: the whole frame is of a
  stopped source). A reading a rule does not judge gives that rule nothing, neither hit
  nor look; for the streaks, F ends the run and every other flag leaves it as it was;
- a frame equal to one already received (``record_digest`` at the same data type and
  data time, within ``resend_memory_s``) is a resend: no rule sees it and no state
  changes.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.detect.context import StationContext
from pipeline.detect.episodes import Episodes, Observation
from pipeline.detect.model import AlarmEvent, Reading, Severity
from pipeline.detect.rules import Rules, Thresholds, default_rules
from pipeline.detect.state import (
    RememberedTime,
    SeriesState,
    StationState,
    ValuesState,
    record_digest,
)
from pipeline.registry.model import Limit
from pipeline.timebase import from_s, to_s

O2_CODE = "a19001"
ZS_FIELDS = ("zs_rtd", "zs_min", "zs_avg", "zs_max")
#: (low, middle, high) fields that must be in order
TRIPLES = (("min", "avg", "max"), ("zs_min", "zs_avg", "zs_max"))
#: a median absolute deviation times this estimates the standard deviation
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True, slots=True)
class Frame:
    """What every observation of a frame carries."""

    mn: str
    cn: int
    at: datetime

    def hit(self, code: str, rule: str, severity: Severity, message: str,
            evidence: dict[str, Any], first: datetime | None = None) -> Observation:
        return Observation(self.mn, code, rule, self.cn, self.at, True, severity, message,
                           evidence, first)

    def look(self, code: str, rule: str) -> Observation:
        return Observation(self.mn, code, rule, self.cn, self.at, False)


def judged_value(r: Reading) -> float | None:
    """Rtd for real-time data, Avg for period records (the other if it is absent)."""
    first, second = ("rtd", "avg") if r.cn == 2011 else ("avg", "rtd")
    value = r.values[first] if first in r.values else r.values.get(second)
    return None if value is None or value != value else value


def effective_flag(r: Reading, stopped: bool) -> str:
    """The flag the rules judge a reading by: its own, N if it has none, F if it is N in a
    frame of a stopped source (``stopped``: a reading of the frame is flagged F)."""
    flag = r.flag or "N"
    return "F" if flag == "N" and stopped else flag


def is_zero(r: Reading, v: float, th: Thresholds) -> bool:
    """``v`` within ``zero_tolerance``; a period record (not 2011) only if its Min, Max
    and Cou, where given, are too: a period that read anything else was not all zeros."""
    if abs(v) > th.zero_tolerance:
        return False
    if r.cn == 2011:
        return True
    for key in ("min", "max", "cou"):
        x = r.values.get(key)
        if x is not None and abs(x) > th.zero_tolerance:  # NaN compares false: no evidence
            return False
    return True


def moved(r: Reading, th: Thresholds) -> bool:
    """A period record (not 2011) whose Max is above its Min by more than
    ``constant_tolerance``: the analyser moved within the period, so it was not stuck,
    whatever its Avg."""
    if r.cn == 2011:
        return False
    low, high = r.values.get("min"), r.values.get("max")
    return low is not None and high is not None and high - low > th.constant_tolerance


def finite(x: float | None) -> bool:
    return x is not None and x == x


# --- rules over one reading ----------------------------------------------------------------


def negative(f: Frame, r: Reading, v: float | None, in_order: bool, th: Thresholds,
             flag: str) -> list[Observation]:
    if not th.on("negative") or v is None or not th.judges("negative", flag):
        return []
    if v < 0:
        return [f.hit(r.code, "negative", th.sev("negative"),
                      f"{r.code} 负值 negative value {v:g}", {"value": v})]
    return [f.look(r.code, "negative")] if in_order else []


def zero_streak(f: Frame, s: SeriesState, r: Reading, v: float | None, t: int,
                in_order: bool, th: Thresholds, flag: str) -> list[Observation]:
    """``zero_streak[cn]`` zeros in a row. A zero below that length says nothing. A
    reading the rule does not judge by its flag ends the run if it is F (the source
    stopped) and leaves it as it was otherwise."""
    if not in_order or not th.on("zero_streak"):
        return []
    if not th.judges("zero_streak", flag):
        if flag == "F":
            s["zero_run"] = 0
        return []
    if v is None:
        return []
    if not is_zero(r, v, th):
        s["zero_run"] = 0
        return [f.look(r.code, "zero_streak")]
    if not s.get("zero_run"):
        s["zero_since"] = t
    run = s["zero_run"] = s.get("zero_run", 0) + 1
    need = th.zero_streak.get(r.cn, 0)
    if need and run >= need:
        return [f.hit(r.code, "zero_streak", th.sev("zero_streak"),
                      f"{r.code} 连续零值 zero {run} times running",
                      {"streak": run, "value": v}, first=from_s(s["zero_since"]))]
    return []


def constant_streak(f: Frame, s: SeriesState, r: Reading, v: float | None, t: int,
                    in_order: bool, th: Thresholds, period: int, flag: str
                    ) -> list[Observation]:
    """``constant_streak[cn]`` values in a row within ``constant_tolerance`` of the first
    of them, lasting ``constant_min_duration_s``. Zeros end a run (they are the zero
    streak's); only a value that starts a new run is a clean look. A period record that
    ``moved`` ends the run and starts none (a clean look). A reading the rule does not
    judge by its flag ends the run if it is F and leaves it as it was otherwise."""
    if not in_order or not th.on("constant_streak"):
        return []
    if not th.judges("constant_streak", flag):
        if flag == "F":
            s["constant_run"] = 0
            s.pop("constant_value", None)
        return []
    if v is None:
        return []
    if is_zero(r, v, th):
        s["constant_run"] = 0
        s.pop("constant_value", None)
        return []
    if moved(r, th):
        s["constant_run"] = 0
        s.pop("constant_value", None)
        return [f.look(r.code, "constant_streak")]
    held = s.get("constant_value")
    if held is not None and abs(v - held) <= th.constant_tolerance:
        run = s["constant_run"] = s.get("constant_run", 1) + 1
    else:
        run = s["constant_run"] = 1
        s["constant_value"] = v
        s["constant_since"] = t
    need = th.constant_streak.get(r.cn, 0)
    lasted = t - s["constant_since"] + period
    if need and run >= need and lasted >= th.constant_min_duration_s:
        return [f.hit(r.code, "constant_streak", th.sev("constant_streak"),
                      f"{r.code} 恒值 the same value {v:g} {run} times running",
                      {"streak": run, "value": v}, first=from_s(s["constant_since"]))]
    return [f.look(r.code, "constant_streak")] if run == 1 else []


def out_of_range(f: Frame, r: Reading, v: float | None, limit: Limit | None,
                 in_order: bool, th: Thresholds, flag: str) -> list[Observation]:
    """Outside the instrument range of the station's limits; a negative value is the
    negative rule's."""
    if (limit is None or not th.on("out_of_range") or v is None or v < 0
            or not th.judges("out_of_range", flag)):
        return []
    low, high = limit.range_low, limit.range_high
    if (finite(high) and v > high) or (finite(low) and v < low):
        return [f.hit(r.code, "out_of_range", th.sev("out_of_range"),
                      f"{r.code} 超出量程 outside instrument range [{low:g}, {high:g}]: {v:g}",
                      {"value": v, "range_low": low, "range_high": high})]
    return [f.look(r.code, "out_of_range")] if in_order else []


def spike(f: Frame, s: SeriesState, r: Reading, v: float | None, t: int, in_order: bool,
          th: Thresholds, period: int, flag: str) -> list[Observation]:
    """A short excursion far from the recent values that comes back.

    The window holds the latest ``spike_window`` values that were not part of an
    excursion; it judges once it has ``spike_min_history``. A value more than
    ``spike_rel`` x |median| and ``spike_z`` robust sigmas from the median starts (or
    continues) an excursion. The first value back inside reports it as a spike; an
    excursion longer than ``spike_max_s`` is a level shift, not a spike: its values
    become the window. A reading the rule does not judge by its flag is not seen at all:
    it neither enters the window nor an excursion."""
    if (not in_order or r.cn not in th.spike_cns or not th.on("spike") or v is None
            or v < 0 or not th.judges("spike", flag)):
        return []
    window = s.setdefault("spike_window", [])
    pending = s.setdefault("spike_pending", [])
    if len(window) < th.spike_min_history:
        window.append(v)
        return []
    median = statistics.median(window)
    sigma = robust_sigma(window, median, th)
    if abs(v - median) > th.spike_rel * abs(median) and abs(v - median) > th.spike_z * sigma:
        pending.append({"time": t, "value": v})
        if pending[-1]["time"] - pending[0]["time"] + period > th.spike_max_s:
            s["spike_window"] = [p["value"] for p in pending][-th.spike_window:]
            s["spike_pending"] = []
        return []
    out = []
    if pending:
        peak = max(pending, key=lambda p: abs(p["value"] - median))["value"]
        out.append(f.hit(r.code, "spike", th.sev("spike"),
                         f"{r.code} 突变 spike to {peak:g} (recent median {median:g})",
                         {"peak": peak, "median": median,
                          "z": round(abs(peak - median) / sigma, 1), "samples": len(pending)},
                         first=from_s(pending[0]["time"])))
        s["spike_pending"] = []
    else:
        out.append(f.look(r.code, "spike"))
    window.append(v)
    if len(window) > th.spike_window:
        del window[: len(window) - th.spike_window]
    return out


def robust_sigma(window: list[float], median: float, th: Thresholds) -> float:
    """The median absolute deviation as a standard deviation, at least ``spike_floor``."""
    mad = statistics.median(abs(x - median) for x in window)
    return max(MAD_TO_SIGMA * mad, th.spike_floor)


def non_n_flag(f: Frame, s: SeriesState, r: Reading, t: int, in_order: bool,
               th: Thresholds, period: int) -> list[Observation]:
    """An instrument flag other than N that has lasted ``flag_min_duration_s[flag]``.

    A late reading or another flag starts the run again at its own data time."""
    flag = r.flag
    if not flag or not th.on("non_n_flag"):
        return []
    if flag == "N":
        if not in_order:
            return []
        s.pop("flag_run", None)
        return [f.look(r.code, "non_n_flag")]
    run = s.get("flag_run")
    if run is None or run["flag"] != flag or not in_order:
        run = s["flag_run"] = {"flag": flag, "since": t}
    lasted = t - run["since"] + period
    if lasted < th.flag_min_duration_s.get(flag, 0.0):
        return []
    return [f.hit(r.code, "non_n_flag", th.flag_severity.get(flag, th.sev("non_n_flag")),
                  f"{r.code} 数据标记 flag {flag} for {lasted:.0f} s",
                  {"flag": flag, "lasted_s": lasted}, first=from_s(run["since"]))]


def over_limit(f: Frame, r: Reading, v: float | None, limit: Limit | None, in_order: bool,
               th: Thresholds, flag: str) -> list[Observation]:
    """The limit's basis value (Avg, or Zs Avg where the reading has it) beyond the
    emission limits, for the data types of ``over_limit_cns``. Only valid data count:
    a flag it judges (``judged_flags``: N), not negative, inside the instrument range."""
    if limit is None or r.cn not in th.over_limit_cns or not th.on("over_limit"):
        return []
    if v is None or not th.judges("over_limit", flag) or v < 0:
        return []
    if (finite(limit.range_high) and v > limit.range_high) or (
            finite(limit.range_low) and v < limit.range_low):
        return []
    basis = limit.basis if limit.basis in r.values else "avg"
    value = r.values.get(basis)
    if value is None:
        return []
    severity = th.sev("over_limit")
    if finite(limit.limit_high) and value > limit.limit_high:
        return [f.hit(r.code, "over_limit", severity,
                      f"{r.code} 超标 {basis} {value:g} > limit {limit.limit_high:g}",
                      {"value": value, "threshold": limit.limit_high, "basis": basis})]
    if finite(limit.limit_low) and value < limit.limit_low:
        return [f.hit(r.code, "over_limit", severity,
                      f"{r.code} 超标 {basis} {value:g} < limit {limit.limit_low:g}",
                      {"value": value, "threshold": limit.limit_low, "basis": basis})]
    return [f.look(r.code, "over_limit")] if in_order else []


def logic_min_avg_max(f: Frame, r: Reading, th: Thresholds, flag: str
                      ) -> list[Observation]:
    """Min <= Avg <= Max (and the same of the Zs values), with a relative tolerance of
    1e-6; one observation per triple the reading has whole."""
    if not th.on("logic_min_avg_max") or not th.judges("logic_min_avg_max", flag):
        return []
    out = []
    for low_k, mid_k, high_k in TRIPLES:
        low, mid, high = r.values.get(low_k), r.values.get(mid_k), r.values.get(high_k)
        if low is None or mid is None or high is None:
            continue
        tolerance = 1e-9 + 1e-6 * max(abs(low), abs(mid), abs(high))
        if low > mid + tolerance or mid > high + tolerance:
            out.append(f.hit(r.code, "logic_min_avg_max", th.sev("logic_min_avg_max"),
                             f"{r.code} 逻辑错误 {low_k} {low:g} <= {mid_k} {mid:g} <= "
                             f"{high_k} {high:g} does not hold",
                             {low_k: low, mid_k: mid, high_k: high}))
        else:
            out.append(f.look(r.code, "logic_min_avg_max"))
    return out


# --- rules over the whole frame ------------------------------------------------------------


def zs_without_o2(f: Frame, readings: Sequence[Reading], th: Thresholds
                  ) -> list[Observation]:
    """A frame with Zs (O2-corrected) values needs the O2 reading they were corrected
    with."""
    with_zs = [r.code for r in readings if any(k in r.values for k in ZS_FIELDS)]
    if not with_zs or not th.on("logic_zs_without_o2"):
        return []
    if any(r.code == O2_CODE and r.values for r in readings):
        return [f.look("", "logic_zs_without_o2")]
    return [f.hit("", "logic_zs_without_o2", th.sev("logic_zs_without_o2"),
                  f"折算值缺氧含量 Zs values of {', '.join(with_zs)} without O2 ({O2_CODE}) "
                  "in the same frame", {"codes": with_zs})]


def logic_cou(f: Frame, readings: Sequence[Reading], ctx: StationContext, rules: Rules
              ) -> list[Observation]:
    """Period records: the flow's Cou is its Avg x the period (x ``cou_volume_factor``),
    and each pollutant's Cou is its Avg x the flow's Cou (x ``cou_mass_factor``), within
    ``cou_tolerance`` (relative) plus ``cou_abs_tolerance``. The flow is the frame's first
    reading of ``flow_code``."""
    if readings[0].cn == 2011:
        return []
    flow_code = rules.for_(ctx.mn, ctx.st, "").flow_code
    flow = next((r for r in readings if r.code == flow_code), None)
    if flow is None:
        return []
    out = []
    period = ctx.period_s(readings[0].cn)
    flow_avg, flow_cou = flow.values.get("avg"), flow.values.get("cou")
    th = rules.for_(ctx.mn, ctx.st, flow.code)
    if (flow_avg is not None and flow_cou is not None and flow_avg >= 0 and period
            and th.on("logic_cou")):
        out += cou_check(f, flow.code, flow_cou, flow_avg * period * th.cou_volume_factor, th,
                         {"flow_avg": flow_avg, "period_s": period})
    if flow_cou is None or flow.values.get("avg", 0.0) < 0:
        return out
    for r in readings:
        if r is flow:
            continue
        avg, cou = r.values.get("avg"), r.values.get("cou")
        th = rules.for_(ctx.mn, ctx.st, r.code)
        if avg is None or cou is None or avg < 0 or not th.on("logic_cou"):
            continue
        out += cou_check(f, r.code, cou, avg * flow_cou * th.cou_mass_factor, th,
                         {"avg": avg, "flow_cou": flow_cou})
    return out


def cou_check(f: Frame, code: str, cou: float, expected: float, th: Thresholds,
              inputs: dict[str, float]) -> list[Observation]:
    slack = th.cou_tolerance * max(abs(expected), abs(cou)) + th.cou_abs_tolerance
    if abs(cou - expected) > slack:
        return [f.hit(code, "logic_cou", th.sev("logic_cou"),
                      f"{code} 累计值不符 Cou {cou:g} vs expected {expected:.4g}",
                      {"cou": cou, "expected": expected, **inputs})]
    return [f.look(code, "logic_cou")]


def time_future(f: Frame, head: Reading, th: Thresholds) -> list[Observation]:
    """A data time more than ``future_tolerance_s`` ahead of the frame's arrival."""
    if not th.on("time_future"):
        return []
    ahead = (head.data_time - head.receive_time).total_seconds()
    if ahead > th.future_tolerance_s:
        return [f.hit("", "time_future", th.sev("time_future"),
                      f"数据时间超前 data time {head.data_time:%Y-%m-%d %H:%M:%S} is "
                      f"{ahead:.0f} s ahead of arrival", {"ahead_s": ahead})]
    return [f.look("", "time_future")]


def time_stale(f: Frame, head: Reading, th: Thresholds, resent: bool) -> list[Observation]:
    """Real-time data arriving more than ``stale_tolerance_s`` late, unless resent (the
    frame says so, or any of its readings)."""
    if head.cn != 2011 or resent or not th.on("time_stale"):
        return []
    late = (head.receive_time - head.data_time).total_seconds()
    if late > th.stale_tolerance_s:
        return [f.hit("", "time_stale", th.sev("time_stale"),
                      f"实时数据滞后 real-time data {late:.0f} s old on arrival",
                      {"late_s": late})]
    return [f.look("", "time_stale")]


def time_conflict(f: Frame, state: ValuesState, readings: Sequence[Reading],
                  th: Thresholds) -> list[Observation]:
    """The same data time sent again with other values (compared at 6 decimals).

    Each data type remembers the values of its newest ``conflict_memory[cn]`` data
    times. A pollutant seen first at this data time is remembered (a clean look); seen
    before, it is compared: other values are a hit and replace the remembered ones, the
    same values say nothing."""
    if not th.on("time_conflict"):
        return []
    head = readings[0]
    remembered = remembered_values(state, head.cn, to_s(head.data_time),
                                   th.conflict_memory.get(head.cn, 20))
    out = []
    for r in readings:
        if r.code not in remembered:
            remembered[r.code] = {k: x for k, x in r.values.items() if x == x}
            out.append(f.look(r.code, "time_conflict"))
            continue
        old = remembered[r.code]
        now = {k: round(x, 6) for k, x in r.values.items() if x == x}
        changed = {k: [round(old[k], 6), now[k]] for k in old.keys() & now.keys()
                   if round(old[k], 6) != now[k]}
        if changed:
            out.append(f.hit(r.code, "time_conflict", th.sev("time_conflict"),
                             f"{r.code} 同一时间数据不一致 {head.data_time:%Y-%m-%d %H:%M:%S} "
                             "resent with other values", {"changed": changed}))
            remembered[r.code] = now
    return out


def remembered_values(state: ValuesState, cn: int, t: int, keep: int
                      ) -> dict[str, dict[str, float]]:
    """The values remembered for data time ``t`` of data type ``cn`` (code -> field ->
    value), remembered anew if ``t`` was not. The memory stays sorted by time and keeps
    the newest ``keep`` times: a new time older than all of those is forgotten at once,
    though it still serves the frame that brought it."""
    memory = state.setdefault("conflict_memory", {}).setdefault(str(cn), [])
    for known in memory:
        if known["time"] == t:
            return known["values"]
    entry: RememberedTime = {"time": t, "values": {}}
    memory.append(entry)
    memory.sort(key=lambda e: e["time"])
    if len(memory) > keep:
        del memory[: len(memory) - keep]
    return entry["values"]


# --- resends --------------------------------------------------------------------------------


def is_resend(state: ValuesState, head: Reading, digest: int) -> bool:
    """The frame was received before: its data type remembers its data time with the same
    digest."""
    memory = state.get("resend_memory", {}).get(str(head.cn), [])
    return [to_s(head.data_time), digest] in memory


def remember_frame(state: ValuesState, head: Reading, digest: int, th: Thresholds) -> None:
    """Remember the frame's [data time, digest] in its data type's memory, oldest first (a
    time that came before stays before it), keeping ``resend_memory_s[cn]`` seconds of data
    time before the newest and at most ``resend_memory_max`` entries. A time already older
    than the memory keeps is not remembered."""
    memory = state.setdefault("resend_memory", {}).setdefault(str(head.cn), [])
    t = to_s(head.data_time)
    span = th.resend_memory_s.get(head.cn, 0)
    if memory and t < memory[-1][0] - span:
        return
    at = len(memory)
    while at > 0 and memory[at - 1][0] > t:
        at -= 1
    memory.insert(at, [t, digest])
    oldest = memory[-1][0] - span
    while memory and memory[0][0] < oldest:
        del memory[0]
    if len(memory) > th.resend_memory_max:
        del memory[: len(memory) - th.resend_memory_max]


# --- a frame --------------------------------------------------------------------------------


class ReferenceValueRules:
    """Every value rule over one frame; see the module docstring."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or default_rules()

    def observe_frame(self, state: ValuesState, readings: Sequence[Reading],
                      ctx: StationContext | None = None, *, resent: bool = False,
                      open_episodes: Collection[str] | None = None) -> list[Observation]:
        if not readings:
            return []
        head = readings[0]
        ctx = ctx or StationContext(head.mn, head.st)
        station = self.rules.for_(head.mn, ctx.st, "")
        digest = record_digest(readings)
        if is_resend(state, head, digest):
            return []
        remember_frame(state, head, digest, station)
        stopped = any(r.flag == "F" for r in readings)
        f = Frame(head.mn, head.cn, head.data_time)
        out: list[Observation] = []
        series = state.setdefault("series", {})
        for r in readings:
            th = self.rules.for_(r.mn, ctx.st, r.code)
            period = ctx.period_s(r.cn)
            limit = ctx.limits.get(r.code)
            s = series.setdefault(f"{r.cn}/{r.code}", {})
            t = to_s(r.data_time)
            in_order = t > s.get("last_time", -1)
            if in_order:
                s["last_time"] = t
            v = judged_value(r)
            flag = effective_flag(r, stopped)
            out += negative(f, r, v, in_order, th, flag)
            out += zero_streak(f, s, r, v, t, in_order, th, flag)
            out += constant_streak(f, s, r, v, t, in_order, th, period, flag)
            out += out_of_range(f, r, v, limit, in_order, th, flag)
            out += spike(f, s, r, v, t, in_order, th, period, flag)
            out += non_n_flag(f, s, r, t, in_order, th, period)
            out += over_limit(f, r, v, limit, in_order, th, flag)
            out += logic_min_avg_max(f, r, th, flag)
        out += zs_without_o2(f, readings, station)
        out += logic_cou(f, readings, ctx, self.rules)
        out += time_future(f, head, station)
        out += time_stale(f, head, station, resent or any(r.resent for r in readings))
        out += time_conflict(f, state, readings, station)
        if open_episodes is not None:
            out = [o for o in out if o.hit or f"{o.code}|{o.rule}" in open_episodes]
        return out

    def on_frame(self, state: StationState, readings: Sequence[Reading],
                 ctx: StationContext | None = None, *, resent: bool = False
                 ) -> list[AlarmEvent]:
        """The value rules' events of one frame, folded into the station's episodes as
        ``DetectorBundle.on_frame`` folds them."""
        episodes = state.setdefault("episodes", {})
        observations = self.observe_frame(state.setdefault("values", {}), readings, ctx,
                                           resent=resent, open_episodes=set(episodes))
        st = ctx.st if ctx is not None else (readings[0].st if readings else "")
        # the wall time the alarm is raised at: the frame's arrival, as the worker gives it
        received = readings[0].receive_time if readings else None
        steps = Episodes(self.rules).fold_alarms(episodes, observations, st, received=received)
        return [step.event for step in steps]
