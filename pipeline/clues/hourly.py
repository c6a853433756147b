"""The hourly clues, judged on one closed hour (pure: NumPy columns in, findings out).

- ``judge_o2_conversion``: ZsAvg against Avg x (21 - O2ref) / (21 - O2) of the record;
- ``judge_stopped_unflagged``: the source stopped (no flow; flue gas: O2 of air) for
  hours while its data say N (valid);
- ``judge_flagged_running``: data flagged F (stopped) while flow and the pollutant show
  the source running;
- ``judge_hour_vs_minute``: the hourly record against the minute (2051) and real-time
  (2011) records of the same hour, or an hourly record with no minute record behind it;
  not on a station whose link began in the hour (``links_begun``): a logger (re)started
  mid-hour sends an hourly record of part of the hour only.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np

from pipeline.clues.model import (
    Finding,
    HourStats,
    Judgement,
    O2Records,
    StationInfo,
    explain,
    r,
)
from pipeline.clues.settings import ClueRule

O2_CODE = "a19001"
HOUR = timedelta(hours=1)
#: the data types an hour's value is read from, best first
SOURCES = (2061, 2051, 2011)


def _t(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


# --- converted value against O2 -----------------------------------------------------------

def judge_o2_conversion(rec: O2Records, hour: datetime, stations: Mapping[str, StationInfo],
                        rule: ClueRule) -> Judgement:
    """Each record of ``rec`` in ``hour`` whose ZsAvg is off the value converted with the
    station's reference O2; an hour is a clue on (mn, code) when its hourly record is
    off, or enough of its minute records are."""
    out = Judgement(rule.rule)
    n = len(rec)
    if n == 0:
        return out
    ref = np.array([stations[m].setup.o2_ref if m in stations else math.nan
                    for m in rec.mn], dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (np.isfinite(rec.o2) & (rec.o2 < rule["o2_max"]) & np.isfinite(ref)
              & np.isfinite(rec.avg) & np.isfinite(rec.zs_avg))
        expected = rec.avg * (21.0 - ref) / (21.0 - rec.o2)
        diff = np.abs(rec.zs_avg - expected)
        bad = ok & (diff > rule["tolerance"] * np.abs(expected)) & (diff > rule["abs_tolerance"])
        # the reference O2 the sender's ZsAvg implies: 21 - ZsAvg x (21 - O2) / Avg
        implied = 21.0 - rec.zs_avg * (21.0 - rec.o2) / rec.avg
    groups: dict[tuple[str, str], list[int]] = {}
    for i in range(n):
        if ok[i]:
            groups.setdefault((rec.mn[i], rec.code[i]), []).append(i)
    share_min = rule["minute_share"]
    min_records = rule.int("minute_min_records")
    for (mn, code), rows in groups.items():
        hourly = [i for i in rows if rec.cn[i] == 2061]
        minute = [i for i in rows if rec.cn[i] == 2051]
        if not hourly and len(minute) < min_records:
            continue
        out.judged.add((mn, code))
        bad_minutes = [i for i in minute if bad[i]]
        hour_bad = bool(hourly) and bool(bad[hourly[0]])
        minute_bad = (len(minute) >= min_records
                      and len(bad_minutes) >= share_min * len(minute))
        if not (hour_bad or minute_bad):
            continue
        i = hourly[0] if hour_bad else bad_minutes[0]
        info = stations[mn]
        evidence = {
            "value": r(rec.zs_avg[i]), "threshold": r(expected[i]),
            "avg": r(rec.avg[i]), "zs_avg": r(rec.zs_avg[i]), "o2": r(rec.o2[i]),
            "o2_ref": r(ref[i]), "o2_ref_source": info.setup.o2_ref_source,
            "expected_zs_avg": r(expected[i]), "implied_o2_ref": r(implied[i], 2),
            "tolerance": rule["tolerance"], "hourly_record_off": hour_bad,
            "minute_records": len(minute), "minute_records_off": len(bad_minutes),
            "record_time": _t(rec.data_time[i]),
        }
        zh = (f"{_t(hour)} 时段 {code} 折算值 {rec.zs_avg[i]:g} 与实测值 {rec.avg[i]:g}、"
              f"氧含量 {rec.o2[i]:g}% 按基准氧 {ref[i]:g}% 折算应得的 {expected[i]:.4g} 不符"
              f"（所报折算值相当于按基准氧 {implied[i]:.3g}% 折算；分钟数据 {len(bad_minutes)}/"
              f"{len(minute)} 条不符）。请核查数采仪折算参数及是否人为修改折算值。")
        en = (f"hour {_t(hour)}: {code} converted value {rec.zs_avg[i]:g} disagrees with "
              f"{expected[i]:.4g}, the measured {rec.avg[i]:g} converted from O2 "
              f"{rec.o2[i]:g}% to the reference {ref[i]:g}% (it matches a reference of "
              f"{implied[i]:.3g}%; {len(bad_minutes)}/{len(minute)} minute records disagree). "
              "Check the logger's conversion settings and whether converted values were "
              "edited.")
        out.findings.append(Finding(mn, code, rule.rule, 2061 if hour_bad else 2051, hour,
                                    hour, explain(zh, en), evidence))
    return out


# --- a station's hour as the hourly clues read it ------------------------------------------

class _Hours:
    """Lookups into ``HourStats``: the best record source of (mn, code, hour)."""

    def __init__(self, stats: HourStats) -> None:
        self.stats = stats
        self.rows = stats.index()
        self.codes: dict[tuple[str, datetime], set[str]] = {}
        for i in range(len(stats)):
            self.codes.setdefault((stats.mn[i], stats.hour[i]), set()).add(stats.code[i])

    def best(self, mn: str, code: str, hour: datetime) -> int | None:
        for cn in SOURCES:
            i = self.rows.get((mn, code, hour, cn))
            if i is not None and self.stats.records[i] > 0:
                return i
        return None

    def row(self, mn: str, code: str, hour: datetime, cn: int) -> int | None:
        return self.rows.get((mn, code, hour, cn))

    def mean(self, mn: str, code: str, hour: datetime) -> float:
        i = self.best(mn, code, hour)
        return float(self.stats.mean[i]) if i is not None else math.nan

    def stations(self, hour: datetime) -> list[str]:
        return sorted({mn for (mn, h) in self.codes if h == hour})

    def n_share(self, mn: str, hour: datetime) -> float:
        """Share of the station's records of the hour (best source per code) flagged N."""
        total = good = 0
        for code in self.codes.get((mn, hour), ()):
            i = self.best(mn, code, hour)
            if i is not None:
                total += int(self.stats.records[i])
                good += int(self.stats.n_flag_n[i])
        return good / total if total else math.nan


def _stopped(h: _Hours, info: StationInfo, mn: str, hour: datetime,
             o2_air_min: float) -> tuple[bool, float, float] | None:
    """(stopped?, flow, O2) of the station's hour; None when its flow is unknown."""
    flow = h.mean(mn, info.setup.flow_code, hour)
    if not math.isfinite(flow):
        return None
    o2 = h.mean(mn, O2_CODE, hour)
    # near zero, not below it: a negative flow is a faulty meter (the negative rule's)
    stopped = abs(flow) <= info.setup.flow_stopped_max
    if info.st == "31":  # flue gas: a stopped stack breathes air
        stopped = stopped and math.isfinite(o2) and o2 >= o2_air_min
    return stopped, flow, o2


def judge_stopped_unflagged(stats: HourStats, hour: datetime,
                            stations: Mapping[str, StationInfo], rule: ClueRule) -> Judgement:
    """Stations whose source has been stopped for the last ``min_hours`` hours up to and
    including ``hour`` while their records say N (``stats`` covers those hours)."""
    out = Judgement(rule.rule)
    h = _Hours(stats)
    need = rule.int("min_hours")
    for mn in h.stations(hour):
        info = stations.get(mn)
        if info is None:
            continue
        now = _stopped(h, info, mn, hour, rule["o2_air_min"])
        if now is None:
            continue
        out.judged.add((mn, ""))
        flows: list[float] = []
        for k in range(need):
            at = hour - k * HOUR
            seen = _stopped(h, info, mn, at, rule["o2_air_min"])
            if seen is None or not seen[0] or not (h.n_share(mn, at) >= rule["n_share"]):
                break
            flows.append(seen[1])
        run = len(flows)
        if run < need:
            continue
        began = hour - (run - 1) * HOUR
        _, flow, o2 = now
        gas = info.st == "31"
        evidence = {
            "value": r(flow), "threshold": info.setup.flow_stopped_max,
            "flow_code": info.setup.flow_code, "flow": r(flow), "o2": r(o2),
            "o2_air_min": rule["o2_air_min"] if gas else None,
            "hours": run, "n_share": r(h.n_share(mn, hour), 3), "max_flow": r(max(flows)),
        }
        what_zh = f"流量 {flow:g}、氧含量 {o2:g}%（接近空气）" if gas else f"流量 {flow:g}"
        what_en = (f"flow {flow:g} and O2 {o2:g}% (air)" if gas else f"flow {flow:g}")
        zh = (f"自 {_t(began)} 起连续 {run} 小时{what_zh}，表明排放源已停运，但数据仍标记为 N"
              "（正常有效）而非 F（停运）。请核查企业生产记录，停运期间数据是否被计为有效。")
        en = (f"since {_t(began)}, {run} hours with {what_en}: the source was stopped, yet the "
              "data are flagged N (valid), not F (stopped). Check the plant's operating "
              "records and whether the stop was counted as valid data.")
        out.findings.append(Finding(mn, "", rule.rule, 2061, began, hour, explain(zh, en),
                                    evidence))
    return out


def judge_flagged_running(stats: HourStats, hour: datetime,
                          stations: Mapping[str, StationInfo], rule: ClueRule) -> Judgement:
    """Pollutants flagged F (stopped) for the last ``min_hours`` hours up to ``hour``
    while the flow (and, for flue gas, O2 below that of air) and the pollutant's own
    values show the source running."""
    out = Judgement(rule.rule)
    h = _Hours(stats)
    need = rule.int("min_hours")
    for mn in h.stations(hour):
        info = stations.get(mn)
        if info is None:
            continue
        for code in sorted(h.codes.get((mn, hour), ())):
            i = h.best(mn, code, hour)
            if i is None:
                continue
            out.judged.add((mn, code))
            run = 0
            for k in range(need):
                if not _flagged_running(h, info, mn, code, hour - k * HOUR, rule):
                    break
                run += 1
            if run < need:
                continue
            began = hour - (run - 1) * HOUR
            flow = h.mean(mn, info.setup.flow_code, hour)
            o2 = h.mean(mn, O2_CODE, hour)
            value = float(stats.mean[i])
            share = int(stats.n_flag_f[i]) / int(stats.records[i])
            evidence = {
                "value": r(value), "threshold": info.setup.flow_stopped_max,
                "flag": "F", "f_share": r(share, 3), "records": int(stats.records[i]),
                "flow_code": info.setup.flow_code, "flow": r(flow),
                "o2": r(o2) if info.st == "31" else None, "hours": run,
                "record_cn": int(stats.cn[i]),
            }
            zh = (f"自 {_t(began)} 起 {code} 数据标记为 F（停运），但流量 {flow:g}"
                  + (f"、氧含量 {o2:g}%" if info.st == "31" else "")
                  + f" 及该因子均值 {value:g} 表明排放源在运行。请核查是否以停运标记规避"
                  "有效数据考核或超标判定。")
            en = (f"since {_t(began)}, {code} is flagged F (source stopped), yet the flow "
                  f"{flow:g}" + (f", O2 {o2:g}%" if info.st == "31" else "")
                  + f" and its own mean {value:g} show the source running. Check whether the "
                  "stop flag hides valid data or an exceedance.")
            out.findings.append(Finding(mn, code, rule.rule, int(stats.cn[i]), began, hour,
                                        explain(zh, en), evidence))
    return out


def _flagged_running(h: _Hours, info: StationInfo, mn: str, code: str, hour: datetime,
                     rule: ClueRule) -> bool:
    i = h.best(mn, code, hour)
    if i is None:
        return False
    stats = h.stats
    if int(stats.n_flag_f[i]) < rule["f_share"] * int(stats.records[i]) or not stats.n_flag_f[i]:
        return False
    flow = h.mean(mn, info.setup.flow_code, hour)
    if not (flow > info.setup.flow_stopped_max):
        return False
    if info.st == "31":
        o2 = h.mean(mn, O2_CODE, hour)
        if not (o2 < rule["o2_running_max"]):
            return False
    # O2 itself says nothing of running beyond the check above; a pollutant must read
    return code == O2_CODE or bool(stats.mean[i] > 0)


# --- hourly record against minute and real-time records ------------------------------------

def link_silence(rule: ClueRule, info: StationInfo | None) -> timedelta:
    """How long a station must have sent no frame for its next frame to begin a link:
    ``link_gap_min``, and at least one and a half times its minute-record interval (a
    station sending minute records every 30 minutes is silent 30 minutes between them)."""
    minutes = rule["link_gap_min"]
    if info is not None:
        minutes = max(minutes, 1.5 * info.min_interval)
    return timedelta(minutes=minutes)


def link_lookback(rule: ClueRule, stations: Mapping[str, StationInfo]) -> timedelta:
    """How far before an hour ``links_begun`` needs the frames' receive times."""
    return max([link_silence(rule, None),
                *(link_silence(rule, info) for info in stations.values())])


def links_begun(received: Mapping[str, Sequence[datetime]], hour: datetime,
               stations: Mapping[str, StationInfo], rule: ClueRule) -> set[str]:
    """The stations whose link began in ``hour``: a frame of theirs was received in the
    hour after a silence longer than ``link_silence``, or with no frame before it in the
    look-back. ``received``: per station the (minute) receive times of its frames from
    ``link_lookback`` before the hour to its end; a station with no frame there is not
    in the set (no frames say nothing of its link)."""
    out: set[str] = set()
    end = hour + HOUR
    for mn, times in received.items():
        silence = link_silence(rule, stations.get(mn))
        before: datetime | None = None
        for at in sorted(times):
            if at >= end:
                break
            if at >= hour and (before is None or at - before > silence):
                out.add(mn)
                break
            before = at
    return out


def judge_hour_vs_minute(stats: HourStats, hour: datetime,
                         stations: Mapping[str, StationInfo], rule: ClueRule,
                         minute_last: Mapping[str, datetime], *,
                         link_began: Collection[str] = frozenset()) -> Judgement:
    """Hourly (2061) records of ``hour`` against the mean of the hour's minute (2051)
    and real-time (2011) records; and hourly records with no minute record of the hour
    from a station that sent minute records within ``minute_history_hours`` before
    (``minute_last``: each station's latest minute record before the hour).

    Stations in ``link_began`` (``links_begun()``) are not judged at all: their
    hourly record covers only the part of the hour since the link began, their stored
    minute records may not. Nothing is raised on them, and nothing cleared."""
    out = Judgement(rule.rule)
    h = _Hours(stats)
    history = timedelta(hours=rule["minute_history_hours"])
    for mn in h.stations(hour):
        info = stations.get(mn)
        if info is None or mn in link_began:
            continue
        codes = sorted(h.codes.get((mn, hour), ()))
        hourly = {c: h.row(mn, c, hour, 2061) for c in codes}
        hourly = {c: i for c, i in hourly.items() if i is not None}
        if not hourly:
            continue
        minute_rows = [h.row(mn, c, hour, 2051) for c in codes]
        any_minute = any(i is not None and stats.records[i] > 0 for i in minute_rows)
        out.judged.add((mn, ""))
        if not any_minute:
            last = minute_last.get(mn)
            if last is not None and hour - last <= history:
                evidence = {"value": 0, "threshold": 1, "hourly_codes": sorted(hourly),
                            "minute_records": 0, "last_minute_record": _t(last)}
                zh = (f"{_t(hour)} 时段上报了小时数据，但该小时没有任何分钟数据（此前最近一条"
                      f"分钟数据 {_t(last)}）。小时数据应由分钟数据统计而来，请核查小时数据"
                      "是否为补录或编造。")
                en = (f"hour {_t(hour)}: an hourly record was sent with no minute record behind "
                      f"it (the last minute record was at {_t(last)}). Hourly data are computed "
                      "from minute data: check whether this hour was typed in or made up.")
                out.findings.append(Finding(mn, "", rule.rule, 2061, hour, hour,
                                            explain(zh, en), evidence))
            # the real-time records, where they came, are still compared below
        per_hour = 60 / max(info.min_interval, 1)
        per_hour_rt = 3600 / max(info.rtd_interval, 1)
        for code, i in hourly.items():
            value = float(stats.mean[i])
            if not math.isfinite(value):
                continue
            compared = False
            worst: tuple[float, int, float, int] | None = None  # (off, cn, mean, records)
            for cn, expected, tol in ((2051, per_hour, rule["tolerance"]),
                                      (2011, per_hour_rt, rule["realtime_tolerance"])):
                j = h.row(mn, code, hour, cn)
                if j is None or stats.records[j] < rule["min_coverage"] * expected:
                    continue
                other = float(stats.mean[j])
                if not math.isfinite(other):
                    continue
                compared = True
                diff = abs(value - other)
                if diff > tol * max(abs(value), abs(other)) and diff > rule["abs_tolerance"]:
                    off = diff / max(abs(value), abs(other))
                    if worst is None or off > worst[0]:
                        worst = (off, cn, other, int(stats.records[j]))
            if compared:
                out.judged.add((mn, code))
            if worst is None:
                continue
            off, cn, other, n = worst
            kind_zh, kind_en = ("分钟", "minute") if cn == 2051 else ("实时", "real-time")
            evidence = {"value": r(value), "threshold": r(other), "hourly_avg": r(value),
                        f"{kind_en.replace('-', '')}_mean": r(other), "records": n,
                        "relative_difference": r(off, 4), "compared_with": cn}
            zh = (f"{_t(hour)} 时段 {code} 小时均值 {value:g} 与同一小时 {n} 条{kind_zh}数据的"
                  f"均值 {other:.4g} 相差 {off:.1%}。小时数据应由{kind_zh}数据统计而来，请核查"
                  "小时数据是否被修改。")
            en = (f"hour {_t(hour)}: {code} hourly mean {value:g} differs by {off:.1%} from "
                  f"{other:.4g}, the mean of the hour's {n} {kind_en} records. Hourly data are "
                  f"computed from {kind_en} data: check whether the hourly record was edited.")
            out.findings.append(Finding(mn, code, rule.rule, cn, hour, hour, explain(zh, en),
                                        evidence))
    return out
