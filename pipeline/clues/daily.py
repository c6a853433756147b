"""The daily clues, judged on one closed day's hourly (2061) series (pure).

- ``judge_held_under_limit``: values held just under the limit with far less variation
  than the station's own history;
- ``judge_repeated_day``: a day's series equal to that of an earlier day of the station;
- ``judge_twin_stations``: two stations with the same series on the same day.

Series are 24 values (hour 0..23 CST), NaN where no hourly record came.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta

import numpy as np

from pipeline.clues.model import F64, DaySeries, Finding, Judgement, explain, r
from pipeline.clues.settings import ClueRule


def _start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _cv(values: F64) -> float:
    """Coefficient of variation (population standard deviation over the mean)."""
    mean = float(np.mean(values))
    return float(np.std(values)) / abs(mean) if mean else math.inf


def _basis_values(series: DaySeries, mn: str, code: str, day: date, basis: str) -> F64:
    """The N-flagged finite values of the day on the limit's basis (Avg or ZsAvg)."""
    key = (mn, code, day)
    source = series.zs_avg if basis == "zs_avg" else series.avg
    values = source.get(key)
    ok = series.n_ok.get(key)
    if values is None or ok is None:
        return np.empty(0)
    return values[ok & np.isfinite(values)]


def judge_held_under_limit(series: DaySeries, day: date,
                           limits: Mapping[tuple[str, str], tuple[float, str]],
                           rule: ClueRule) -> Judgement:
    """(mn, code) with an upper limit whose day sits in the band under it, flat.

    ``limits``: (mn, code) -> (upper limit, basis 'avg' or 'zs_avg')."""
    out = Judgement(rule.rule)
    min_hours = rule.int("min_hours")
    for (mn, code), (limit, basis) in sorted(limits.items()):
        if not (math.isfinite(limit) and limit > 0):
            continue
        values = _basis_values(series, mn, code, day, basis)
        if len(values) < min_hours:
            continue
        out.judged.add((mn, code))
        low, high = rule["band_low"] * limit, rule["band_high"] * limit
        in_band = int(np.count_nonzero((values >= low) & (values <= high)))
        if in_band < rule["band_share"] * len(values):
            continue
        cv = _cv(values)
        history = []
        for back in range(1, rule.int("history_days") + 1):
            past = _basis_values(series, mn, code, day - timedelta(days=back), basis)
            if len(past) >= min_hours:
                history.append(_cv(past))
        if len(history) >= rule.int("min_history_days"):
            reference = float(np.median(history))
            bound = rule["cv_fraction"] * reference
            basis_text = "history"
        else:
            reference = math.nan
            bound = rule["cv_absolute"]
            basis_text = "absolute"
        if not cv < bound:
            continue
        evidence = {
            "value": r(float(np.mean(values))), "threshold": limit, "limit": limit,
            "basis": basis, "hours": len(values), "hours_in_band": in_band,
            "band": [r(low), r(high)], "cv": r(cv, 5), "history_cv_median": r(reference, 5),
            "history_days": len(history), "cv_bound": r(bound, 5), "compared_with": basis_text,
            "min": r(float(np.min(values))), "max": r(float(np.max(values))),
        }
        zh = (f"{day:%Y-%m-%d} {code} 全天 {in_band}/{len(values)} 个小时值处于限值 {limit:g} 的 "
              f"{rule['band_low']:.0%}~{rule['band_high']:.0%} 之间（{np.min(values):g}~"
              f"{np.max(values):g}），变异系数 {cv:.3f}"
              + (f"，远低于该站历史的 {reference:.3f}" if basis_text == "history" else "")
              + "。数据贴近限值且几乎不波动，疑似人为控制或设定，请核查分析仪参数与原始数据。")
        en = (f"{day:%Y-%m-%d}: {code} sat at {rule['band_low']:.0%}-{rule['band_high']:.0%} of "
              f"its limit {limit:g} in {in_band} of {len(values)} hours ({np.min(values):g}-"
              f"{np.max(values):g}) with a coefficient of variation of {cv:.3f}"
              + (f", far below the station's usual {reference:.3f}" if basis_text == "history"
                 else "")
              + ". Values held just under the limit with so little variation suggest a set or "
                "controlled value: check the analyser's settings and its raw data.")
        out.findings.append(Finding(mn, code, rule.rule, 2061, _start(day), _start(day),
                                    explain(zh, en), evidence))
    return out


def _matches(a: F64, b: F64, rule: ClueRule) -> tuple[int, int] | None:
    """(equal points, common points) when series a and b are the same, else None."""
    both = np.isfinite(a) & np.isfinite(b)
    common = int(np.count_nonzero(both))
    if common < rule.int("min_points"):
        return None
    x, y = a[both], b[both]
    equal = int(np.count_nonzero(np.abs(x - y) <= rule["tolerance"]
                                 * np.maximum(np.maximum(np.abs(x), np.abs(y)), 1e-9)))
    return (equal, common) if equal >= rule["match_share"] * common else None


def _varied(values: F64, rule: ClueRule) -> bool:
    """Whether the series moves enough to be compared (a stop's zeros repeat every day)."""
    finite = values[np.isfinite(values)]
    return len(np.unique(finite)) >= rule.int("min_distinct")


def judge_repeated_day(series: DaySeries, day: date, rule: ClueRule) -> Judgement:
    """Stations whose series of ``day`` (any pollutant) equals that of one of the
    ``lookback_days`` before; one finding per station, naming each pollutant and the day
    it repeats."""
    out = Judgement(rule.rule)
    by_station: dict[str, dict[str, tuple[date, int, int]]] = {}
    for (mn, code, d), values in sorted(series.avg.items()):
        if d != day or np.count_nonzero(np.isfinite(values)) < rule.int("min_points"):
            continue
        out.judged.add((mn, ""))
        if not _varied(values, rule):
            continue
        for back in range(1, rule.int("lookback_days") + 1):
            earlier = day - timedelta(days=back)
            past = series.avg.get((mn, code, earlier))
            if past is None:
                continue
            found = _matches(values, past, rule)
            if found is not None:
                by_station.setdefault(mn, {})[code] = (earlier, *found)
                break  # the nearest earlier day it repeats
    for mn, codes in sorted(by_station.items()):
        days = sorted({d for d, _, _ in codes.values()})
        equal = sum(e for _, e, _ in codes.values())
        common = sum(c for _, _, c in codes.values())
        evidence = {
            "value": len(codes), "threshold": rule["match_share"],
            "codes": {c: {"repeats": f"{d:%Y-%m-%d}", "equal_hours": e, "common_hours": n}
                      for c, (d, e, n) in sorted(codes.items())},
            "equal_hours": equal, "common_hours": common,
        }
        listed = "、".join(sorted(codes))
        earlier_text = ", ".join(f"{d:%Y-%m-%d}" for d in days)
        zh = (f"{day:%Y-%m-%d} {listed} 的小时数据与 {earlier_text} 的数据逐时相同（{equal}/"
              f"{common} 个小时值一致）。独立测量的两天数据不会重复，疑似复制历史数据上报，"
              "请核查数采仪及原始数据。")
        en = (f"{day:%Y-%m-%d}: the hourly series of {', '.join(sorted(codes))} repeat those of "
              f"{earlier_text} hour by hour ({equal} of {common} values equal). Two days "
              "measured independently never repeat: the data look copied from an earlier day; "
              "check the logger and the raw data.")
        out.findings.append(Finding(mn, "", rule.rule, 2061, _start(day), _start(day),
                                    explain(zh, en), evidence))
    return out


def judge_twin_stations(series: DaySeries, day: date, rule: ClueRule) -> Judgement:
    """Pairs of stations with equal series of the same pollutant on ``day``; a finding on
    each station of a pair (either may be the copy), naming the other."""
    out = Judgement(rule.rule)
    by_code: dict[str, list[tuple[str, F64]]] = {}
    for (mn, code, d), values in sorted(series.avg.items()):
        if d != day or np.count_nonzero(np.isfinite(values)) < rule.int("min_points"):
            continue
        out.judged.add((mn, ""))
        if _varied(values, rule):
            by_code.setdefault(code, []).append((mn, values))
    twins: dict[str, dict[str, dict[str, tuple[int, int]]]] = {}
    for code, members in by_code.items():
        if len(members) < 2:
            continue
        matrix = np.vstack([v for _, v in members])
        for i, (mn, values) in enumerate(members[:-1]):
            # a cheap first pass over all later stations at once, then the exact test
            both = np.isfinite(matrix[i + 1:]) & np.isfinite(values)
            close = np.abs(matrix[i + 1:] - values) <= rule["tolerance"] * np.maximum(
                np.maximum(np.abs(matrix[i + 1:]), np.abs(values)), 1e-9)
            candidates = np.flatnonzero(np.count_nonzero(close & both, axis=1)
                                        >= rule.int("min_points") * rule["match_share"])
            for k in candidates:
                other, other_values = members[i + 1 + int(k)]
                found = _matches(values, other_values, rule)
                if found is None:
                    continue
                twins.setdefault(mn, {}).setdefault(other, {})[code] = found
                twins.setdefault(other, {}).setdefault(mn, {})[code] = found
    for mn, others in sorted(twins.items()):
        evidence = {
            "value": len(others), "threshold": rule["match_share"],
            "twins": {o: {c: {"equal_hours": e, "common_hours": n}
                          for c, (e, n) in sorted(codes.items())}
                      for o, codes in sorted(others.items())},
        }
        listed = "; ".join(f"{o}（{'、'.join(sorted(codes))}）" for o, codes in
                           sorted(others.items()))
        listed_en = "; ".join(f"{o} ({', '.join(sorted(codes))})" for o, codes in
                              sorted(others.items()))
        zh = (f"{day:%Y-%m-%d} 本站小时数据与其他站点逐时相同：{listed}。两个排口独立测量的数据"
              "不会相同，疑似两站共用或复制同一组数据，请核查两站数采仪与现场。")
        en = (f"{day:%Y-%m-%d}: this station's hourly series equal another station's hour by "
              f"hour: {listed_en}. Two outlets measured independently never agree exactly: "
              "the data look shared or copied; check both stations' loggers and sites.")
        out.findings.append(Finding(mn, "", rule.rule, 2061, _start(day), _start(day),
                                    explain(zh, en), evidence))
    return out
