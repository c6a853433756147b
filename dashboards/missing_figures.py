"""The missing-data statistics page's (缺失统计) range, tables and chart data from its
named queries' rows: plain functions, no Streamlit and no I/O.

Definitions (pipeline/store/queries_missing.py; the page states them):
- expected, received: records of the chosen data type over the whole hours (2051) or
  days (2061) of the range, as the completeness page counts them;
- missing (缺失): expected - received, never below 0, as the weekly report counts it;
  missing rate (缺失率) = missing / expected;
- back-filled: records that arrived in answer to a back-fill request (received of the
  gaps with requests > 0);
- unfilled in gaps (缺口内未补): expected - received of the gaps not filled (open,
  requested, partly_filled, given_up); records missing without a recorded gap (a station
  silent all day) are in missing but not here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from dashboards.labels import bi, region_label
from pipeline.timebase import to_local

DAY: Final = timedelta(days=1)
#: data types counted: minute records (the overview's) and hourly records
CNS: Final = {2051: bi("分钟数据 2051", "minute records 2051"),
              2061: bi("小时数据 2061", "hourly records 2061")}
GRAINS: Final = {"day": bi("日", "day"), "week": bi("周", "week"), "month": bi("月", "month")}
LEVELS: Final = {"enterprise": bi("企业", "enterprise"), "station": bi("站点", "station")}
#: the states of a gap (pipeline/detect/missing.py), in the order of a back-fill's life
STATES: Final = {"open": bi("未处理", "open"), "requested": bi("已请求补传", "requested"),
                 "partly_filled": bi("部分补齐", "partly filled"),
                 "filled": bi("已补齐", "filled"), "given_up": bi("放弃", "given up")}
HEADERS: Final = {
    "period": bi("时段", "period"), "backfilled": bi("补传", "back-filled"),
    "missing": bi("缺失", "missing"), "missing_share": bi("缺失率", "missing rate"),
    "unfilled": bi("缺口内未补", "unfilled in gaps"), "gaps": bi("缺失段", "gaps"),
    "cn": bi("数据类型", "data type"), "window_start": bi("缺失开始", "gap start"),
    "window_end": bi("缺失结束", "gap end"), "state": bi("补传结果", "outcome"),
    "requests": bi("补传请求", "requests"), "last_request_at": bi("最后请求", "last request"),
    "outlet": bi("排口", "outlet"), "stations": bi("站点", "stations"),
}
PERCENT: Final = frozenset({"missing_share"})
GAPS_LIMIT: Final = 500
#: days the default range covers, today included
DEFAULT_DAYS: Final = 7

DEFINITIONS: Final = bi(
    "应收、收到：所选数据类型在所选日期内已结束的整点小时（2051）或整日（2061）的记录数，计法同"
    "传输有效率页。缺失 = 应收 − 收到（同周报的缺失），缺失率 = 缺失 / 应收。"
    "补传：因补传请求而到达的记录数（有补传请求的缺失段收到的记录）。"
    "缺口内未补：未补齐（未处理、已请求补传、部分补齐、放弃）的缺失段中应收减收到；"
    "未记为缺失段的缺失（如整天无数据）不在其中。缺失段按开始时间归入时段。",
    "Expected, received: records of the data type over the whole hours (2051) or days "
    "(2061) of the range, counted as on the completeness page. Missing = expected - "
    "received (the weekly report's figure); missing rate = missing / expected. "
    "Back-filled: records that arrived in answer to a back-fill request (received of the "
    "gaps with requests). Unfilled in gaps: expected - received of the gaps not filled "
    "(open, requested, partly filled, given up); records missed without a recorded gap "
    "(a station silent all day) are not in it. A gap belongs to the period it starts in.")


@dataclass(frozen=True, slots=True)
class Range:
    """[start, end) of the chosen days, cut at the last whole hour (2051) or day (2061)."""

    cn: int
    start: datetime
    end: datetime
    first: date
    last: date  # the last day chosen (inclusive)

    @property
    def days(self) -> int:
        seconds = max(int((self.end - self.start).total_seconds()), 0)
        return -(-seconds // 86400)

    @property
    def label(self) -> str:
        return (self.first.isoformat() if self.first == self.last
                else f"{self.first.isoformat()}_{self.last.isoformat()}")


def counted_until(now: datetime, cn: int) -> datetime:
    now = to_local(now).replace(microsecond=0)
    if cn == 2061:
        return now.replace(hour=0, minute=0, second=0)
    return now.replace(minute=0, second=0)


def date_range(first: date, last: date, now: datetime, cn: int) -> Range:
    if last < first:
        first, last = last, first
    start = datetime(first.year, first.month, first.day)
    end = datetime(last.year, last.month, last.day) + DAY
    return Range(cn, start, max(min(end, counted_until(now, cn)), start), first, last)


def default_dates(now: datetime) -> tuple[date, date]:
    today = to_local(now).date()
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def period_label(day: Any, grain: str) -> str:
    d = _date(day)
    if grain == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "month":
        return f"{d:%Y-%m}"
    return d.isoformat()


Table = list[dict[str, Any]]


def _share(expected: int, part: int) -> float:
    return 100.0 * part / expected if expected else 0.0


def station_table(rows: Iterable[Mapping[str, Any]], grain: str) -> Table:
    """``missing_station_periods`` rows as the page's station table."""
    out = []
    for r in rows:
        expected, missing = int(r["expected"]), int(r["missing"])
        out.append({"period": period_label(r["period_start"], grain), "mn": r["mn"],
                    "enterprise": r["enterprise"], "outlet": r["outlet"],
                    "region": region_label(r["region"]), "expected": expected,
                    "received": int(r["received"]), "missing": missing,
                    "missing_share": _share(expected, missing),
                    "backfilled": int(r["backfilled"]), "unfilled": int(r["unfilled"]),
                    "gaps": int(r["gaps"])})
    return out


SUMMED: Final = ("expected", "received", "missing", "backfilled", "unfilled", "gaps")


def enterprise_table(stations: Sequence[Mapping[str, Any]]) -> Table:
    """The station table summed per enterprise and period (periods in order, then
    enterprises)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in stations:
        groups.setdefault((r["period"], r["enterprise"]), []).append(r)
    out = []
    for (period, enterprise), members in sorted(groups.items()):
        sums = {c: sum(int(m[c]) for m in members) for c in SUMMED}
        out.append({"period": period, "enterprise": enterprise,
                    "region": "、".join(sorted({m["region"] for m in members})),
                    "stations": len(members), "expected": sums["expected"],
                    "received": sums["received"], "missing": sums["missing"],
                    "missing_share": _share(sums["expected"], sums["missing"]),
                    "backfilled": sums["backfilled"], "unfilled": sums["unfilled"],
                    "gaps": sums["gaps"]})
    return out


def level_table(stations: Sequence[Mapping[str, Any]], level: str) -> Table:
    """The table of ``level``: the newest period first, and in each the worst first (most
    missing, then most unfilled in gaps, then most gaps; ties in the table's own order)."""
    rows = enterprise_table(stations) if level == "enterprise" else stations
    by_worst = sorted((dict(r) for r in rows),
                      key=lambda r: (-r["missing"], -r["unfilled"], -r["gaps"]))
    return sorted(by_worst, key=lambda r: r["period"], reverse=True)


def totals(stations: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {c: sum(int(r[c]) for r in stations) for c in SUMMED}


def missing_rate(total: Mapping[str, int]) -> float:
    """Missing / expected of ``totals``, in percent."""
    return _share(total["expected"], total["missing"])


def gaps_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """``missing_gaps`` rows: times as CST wall-clock text, outcomes in words."""
    out = []
    for r in rows:
        last = r["last_request_at"]
        out.append({"window_start": _text(r["window_start"]),
                    "window_end": _text(r["window_end"]), "mn": r["mn"],
                    "enterprise": r["enterprise"], "region": region_label(r["region"]),
                    "cn": int(r["cn"]), "state": state_label(r["state"]),
                    "expected": int(r["expected"]), "received": int(r["received"]),
                    "requests": int(r["requests"]),
                    "last_request_at": _text(last) if last is not None else ""})
    return out


def outcomes_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """``missing_outcomes`` rows in the order of a back-fill's life."""
    order = {s: i for i, s in enumerate(STATES)}
    ordered = sorted(rows, key=lambda r: (order.get(r["state"], len(order)), r["state"]))
    return [{"state": state_label(r["state"]), "gaps": int(r["gaps"]),
             "stations": int(r["stations"]), "expected": int(r["expected"]),
             "received": int(r["received"]), "backfilled": int(r["backfilled"]),
             "unfilled": int(r["unfilled"])} for r in ordered]


def state_label(state: str) -> str:
    return STATES.get(state, state)


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return to_local(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return to_local(value).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
