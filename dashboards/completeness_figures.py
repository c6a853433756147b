"""The completeness page's (传输有效率) periods, tables and chart data from its named
queries' rows: plain functions, no Streamlit and no I/O.

A period counts whole periods of its records only (whole hours of minute records, whole
days of hourly records): the one in progress has not had all its records yet and would
show as a false drop. So "this month" is the month so far, and a day that has not begun
(or, on the daily basis, today) has nothing to count yet.

Enterprises and service regions are the sums of their stations' expected, received and
valid records, and their rates are taken from the sums (as the overview takes a region's):
a big station weighs more than a small one, as its records do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from dashboards.labels import bi, region_label
from pipeline.timebase import to_local

DAY: Final = timedelta(days=1)

#: the records counted: completeness' period whose rows count them
BASES: Final = {
    "hour": bi("分钟数据（2051，同总览）", "minute records (2051, as the overview)"),
    "day": bi("小时数据（2061，HJ 212 考核口径）", "hourly records (2061, HJ 212's basis)"),
}
KINDS: Final = {"day": bi("日", "day"), "month": bi("月", "month")}
LEVELS: Final = {"region": bi("服务区域", "region"), "enterprise": bi("企业", "enterprise"),
                 "station": bi("站点", "station")}
#: the columns the ranking may be sorted by
SORTS: Final = {"transmission_efficiency": bi("传输有效率", "efficiency"),
                "transmission_rate": bi("传输率", "rate"),
                "validity_rate": bi("有效率", "validity"),
                "expected": bi("应收", "expected"), "received": bi("收到", "received"),
                "name": bi("名称", "name")}
#: table headers this page adds to widgets.HEADERS
HEADERS: Final = {"day": bi("日期", "date"), "outlet": bi("排口", "outlet")}
#: rows of the heat map: the worst of the ranking
HEATMAP_ROWS: Final = 25
#: seconds of one period of each basis
PERIOD_S: Final = {"hour": 3600, "day": 86400}


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) of whole periods of ``basis`` (naive CST); ``units`` of them."""

    kind: str  # "day" or "month"
    basis: str  # "hour" or "day"
    start: datetime
    end: datetime
    label: str  # 2024-04-01 or 2024-04

    @property
    def units(self) -> int:
        return max(int((self.end - self.start).total_seconds()), 0) // PERIOD_S[self.basis]

    @property
    def days(self) -> int:
        """Days from start with at least a second before end (a day in progress too)."""
        seconds = max(int((self.end - self.start).total_seconds()), 0)
        return -(-seconds // 86400)


def counted_until(now: datetime, basis: str) -> datetime:
    """The end of the last whole period of ``basis`` at ``now``."""
    now = to_local(now).replace(microsecond=0)
    if basis == "day":
        return now.replace(hour=0, minute=0, second=0)
    return now.replace(minute=0, second=0)


def month_start(day: date) -> datetime:
    return datetime(day.year, day.month, 1)


def next_month(start: datetime) -> datetime:
    return (start + timedelta(days=32)).replace(day=1)


def day_period(day: date, now: datetime, basis: str) -> Period:
    start = datetime(day.year, day.month, day.day)
    end = max(min(start + DAY, counted_until(now, basis)), start)
    return Period("day", basis, start, end, day.isoformat())


def month_period(month: date, now: datetime, basis: str) -> Period:
    start = month_start(month)
    end = max(min(next_month(start), counted_until(now, basis)), start)
    return Period("month", basis, start, end, f"{start:%Y-%m}")


def default_day(now: datetime) -> date:
    """Yesterday: the last whole day on either basis."""
    return (to_local(now) - DAY).date()


def recent_months(now: datetime, count: int = 12) -> list[date]:
    """This month and the ``count - 1`` before it, newest first (first days)."""
    first = to_local(now).date().replace(day=1)
    out = [first]
    while len(out) < count:
        out.append((out[-1] - DAY).replace(day=1))
    return out


def month_of(period: Period, now: datetime) -> Period:
    """The month (so far) that holds ``period``: the page's chart and drill-down."""
    return month_period(period.start.date(), now, period.basis)


Table = list[dict[str, Any]]


def _rates(expected: int, received: int, valid: int) -> dict[str, Any]:
    rate = received / expected if expected else 0.0
    validity = valid / received if received else 0.0
    return {"expected": expected, "received": received, "valid": valid,
            "transmission_rate": 100.0 * rate, "validity_rate": 100.0 * validity,
            "transmission_efficiency": 100.0 * rate * validity}


def station_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """``completeness_stations`` rows as the page's station table (rates in %)."""
    return [{"mn": r["mn"], "enterprise": r["enterprise"], "outlet": r["outlet"],
             "region": region_label(r["region"]),
             **_rates(int(r["expected"]), int(r["received"]), int(r["valid"]))}
            for r in rows]


def aggregate(stations: Sequence[Mapping[str, Any]], level: str) -> Table:
    """The station table (``station_table``) summed per enterprise or region; a
    station table as it is for level 'station'."""
    if level == "station":
        return [dict(r) for r in stations]
    if level not in ("enterprise", "region"):
        raise ValueError(f"level {level!r}: region, enterprise or station")
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in stations:
        groups.setdefault(r[level], []).append(r)
    out = []
    for key, members in groups.items():
        sums = [sum(int(m[c]) for m in members) for c in ("expected", "received", "valid")]
        row: dict[str, Any] = {level: key}
        if level == "enterprise":
            row["region"] = "、".join(sorted({m["region"] for m in members}))
        row["stations"] = len(members)
        out.append({**row, **_rates(*sums)})
    return out


def name_of(row: Mapping[str, Any]) -> str:
    """A row's key: its MN, enterprise or region."""
    for k in ("mn", "enterprise", "region"):
        if k in row:
            return str(row[k])
    raise KeyError("a row of no level")


def rank(rows: Sequence[Mapping[str, Any]], by: str = "transmission_efficiency",
         descending: bool = False) -> Table:
    """Rows sorted by a column (or by name); ties by name, so the order is stable."""
    if by == "name":
        return sorted((dict(r) for r in rows), key=name_of, reverse=descending)
    ordered = sorted((dict(r) for r in rows), key=name_of)
    return sorted(ordered, key=lambda r: r[by], reverse=descending)


def totals(stations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """All stations of the table together."""
    return {"stations": len(stations),
            **_rates(*(sum(int(r[c]) for r in stations)
                       for c in ("expected", "received", "valid")))}


def day_rows(rows: Iterable[Mapping[str, Any]]) -> Table:
    """``completeness_station_days`` rows as station tables of each day."""
    return [{"day": _day(r["day"]), **station_table([r])[0]} for r in rows]


def daily(days: Sequence[Mapping[str, Any]], level: str) -> Table:
    """Per day and key of ``level``: the day's figures (``day_rows`` summed). Days with
    nothing expected (not begun) are left out: they have no figure, not a zero."""
    by_day: dict[date, list[Mapping[str, Any]]] = {}
    for r in days:
        by_day.setdefault(r["day"], []).append(r)
    out = []
    for day, members in sorted(by_day.items()):
        for row in aggregate(members, level):
            if row["expected"]:
                out.append({"day": day, **row})
    return out


def chart_rows(series: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> Table:
    """The daily series of the given keys (the ranking's order) for Altair, the key under
    ``name``: ``day`` as local midnight without a zone (a browser reads a bare date as
    UTC, and west of Greenwich would draw the day before), ``date`` as the day's text."""
    wanted = set(keys)
    return [{"day": f"{r['day'].isoformat()}T00:00:00", "date": r["day"].isoformat(),
             "name": name_of(r),
             "transmission_efficiency": round(r["transmission_efficiency"], 2),
             "transmission_rate": round(r["transmission_rate"], 2),
             "validity_rate": round(r["validity_rate"], 2),
             "expected": r["expected"], "received": r["received"], "valid": r["valid"]}
            for r in series if name_of(r) in wanted]


def month_totals(days: Sequence[Mapping[str, Any]]) -> Table:
    """Each station's sums over the days of ``day_rows`` (its month so far)."""
    sums: dict[str, dict[str, Any]] = {}
    for r in days:
        row = sums.setdefault(r["mn"], {"mn": r["mn"], "enterprise": r["enterprise"],
                                        "outlet": r["outlet"], "region": r["region"],
                                        "expected": 0, "received": 0, "valid": 0})
        for c in ("expected", "received", "valid"):
            row[c] += int(r[c])
    # the region is shown already (region_label): station_table would label it twice
    return [{**{k: row[k] for k in ("mn", "enterprise", "outlet", "region")},
             **_rates(row["expected"], row["received"], row["valid"])}
            for row in sums.values()]


def station_days(days: Sequence[Mapping[str, Any]], mn: str) -> Table:
    """One station's days (drill-down), days not begun left out."""
    return [{"day": r["day"], **{k: r[k] for k in ("expected", "received", "valid",
                                                   "transmission_rate", "validity_rate",
                                                   "transmission_efficiency")}}
            for r in days if r["mn"] == mn and r["expected"]]


def station_link(mn: str) -> str:
    """The station page of ``mn`` as a Markdown link (st.table draws Markdown)."""
    return f"[{mn}](station?mn={mn})"


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return to_local(value).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
