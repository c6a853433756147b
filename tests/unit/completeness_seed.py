"""A seed for the completeness and missing-data pages' named queries, and what each must
answer on it, derived here in plain Python from the seed and the queries' documented
meaning (FINAL keeps the newest row per key; [start, end); China Standard Time; a period
with no row received nothing; received capped at a row's expected).

Four days of April 2024 for five stations in three service regions: hourly and daily
station rows of ``completeness`` (with pollutant rows that must be ignored, rows later
rewritten, rows over their expected, rows outside the range; P2 silent all of April
2nd, with no gap recorded for it), and ``missing_windows`` of every state, rewritten, of
other data types, of an inactive station and outside the range. Times are CST wall-clock
times inserted as the epoch seconds they stand for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

CST = timedelta(hours=8)
JS, JJ, YG = "苏皖沪", "京津冀鲁", "粤桂湘琼鄂"

P1 = "SEEDCOMP0000000000000001"
P2 = "SEEDCOMP0000000000000002"
P3 = "SEEDCOMP0000000000000003"
P4 = "SEEDCOMP0000000000000004"
P5 = "SEEDCOMP0000000000000005"

START = datetime(2024, 4, 1)
#: P2 sent nothing this day (no completeness row, no gap): missing, yet unfilled in no gap
SILENT = (P2, date(2024, 4, 2))
#: "now" of the month view: the 4th, 10:37 CST; whole hours end at 10:00
NOW = datetime(2024, 4, 4, 10, 37)
END = datetime(2024, 4, 4, 10)
DAYS = 4


def epoch(local: datetime) -> int:
    return int((local - CST - datetime(1970, 1, 1)).total_seconds())


@dataclass(frozen=True)
class Station:
    mn: str
    enterprise: str
    outlet: str
    region: str
    min_interval: int
    active: int
    version: int

    def row(self) -> dict[str, Any]:
        return dict(mn=self.mn, pw="123456", enterprise=self.enterprise, outlet=self.outlet,
                    st="32", edition=2017, province="", region=self.region,
                    rtd_interval=30, min_interval=self.min_interval, active=self.active,
                    updated_at=START, version=self.version)


STATIONS_1 = (
    Station(P1, "甲污水处理厂", "DW001 总排口", JS, 10, 1, 1),
    Station(P2, "甲污水处理厂", "DW002 雨水排口", JS, 5, 1, 1),  # 12 an hour
    Station(P3, "乙化工有限公司", "DW001", JS, 10, 1, 1),  # moved to 京津冀鲁 below
    Station(P4, "丙食品有限公司", "DW001", YG, 0, 1, 1),  # MinInterval 0 read as 1: 60
    Station(P5, "丁制药有限公司", "DW001", JJ, 10, 1, 1),  # deactivated below
)
STATIONS_2 = (
    Station(P3, "乙化工有限公司", "DW001", JJ, 10, 1, 2),
    Station(P5, "丁制药有限公司", "DW001", JJ, 10, 0, 2),
)


def final_stations() -> dict[str, Station]:
    out: dict[str, Station] = {}
    for s in STATIONS_1 + STATIONS_2:
        if s.mn not in out or s.version >= out[s.mn].version:
            out[s.mn] = s
    return out


def per_hour(min_interval: int) -> int:
    return max(60 // max(min_interval, 1), 1)


@dataclass(frozen=True)
class Comp:
    mn: str
    code: str
    period: str
    period_start: datetime
    expected: int
    received: int
    valid: int
    version: int

    def row(self) -> dict[str, Any]:
        tr = min(self.received / self.expected, 1.0) if self.expected else 0.0
        vr = self.valid / self.received if self.received else 0.0
        return dict(mn=self.mn, code=self.code, period=self.period,
                    period_start=self.period_start, expected=self.expected,
                    received=self.received, valid=self.valid, transmission_rate=tr,
                    validity_rate=vr, transmission_efficiency=tr * vr,
                    updated_at=self.period_start, version=self.version)


def _completeness() -> tuple[list[Comp], list[Comp]]:
    """(first insert, second insert): the second rewrites some rows of the first."""
    rnd = random.Random(212)
    first: list[Comp] = []
    second: list[Comp] = []
    for s in STATIONS_1:
        exp = per_hour(s.min_interval)
        # from the last hour of March to the last of April 4th: both ends outside a range
        hour = START - timedelta(hours=1)
        while hour < datetime(2024, 4, 5):
            # the silent day still draws its numbers: the other rows stay as they were
            keep = (s.mn, hour.date()) != SILENT
            if rnd.random() < 0.8:
                received = rnd.randint(0, exp + 2)  # sometimes more than expected
                valid = rnd.randint(0, received)
                if keep:
                    first.append(Comp(s.mn, "", "hour", hour, exp, received, valid, 1))
                    first.append(Comp(s.mn, "w01018", "hour", hour, exp, exp, exp, 1))
                if rnd.random() < 0.1:
                    r2 = rnd.randint(0, exp)
                    r2_valid = rnd.randint(0, r2)
                    if keep:
                        second.append(Comp(s.mn, "", "hour", hour, exp, r2, r2_valid, 2))
            hour += timedelta(hours=1)
        for day in range(0, 6):  # March 31st to April 5th
            when = START + timedelta(days=day - 1)
            received = rnd.randint(10, 26)
            valid = rnd.randint(0, received)
            if (s.mn, when.date()) == SILENT:
                continue
            first.append(Comp(s.mn, "", "day", when, 24, received, valid, 1))
            first.append(Comp(s.mn, "a21026", "day", when, 24, 24, 24, 1))
            if day == 2:
                second.append(Comp(s.mn, "", "day", when, 24, 23, 20, 2))
    return first, second


COMP_1, COMP_2 = _completeness()


def final_completeness() -> dict[tuple[str, str, str, datetime], Comp]:
    out: dict[tuple[str, str, str, datetime], Comp] = {}
    for c in COMP_1 + COMP_2:
        key = (c.mn, c.period, c.code, c.period_start)
        if key not in out or c.version >= out[key].version:
            out[key] = c
    return out


@dataclass(frozen=True)
class Window:
    mn: str
    cn: int
    window_start: datetime
    minutes: int
    state: str
    expected: int
    received: int
    requests: int
    version: int

    def row(self) -> dict[str, Any]:
        last = self.window_start + timedelta(hours=1) if self.requests else None
        return dict(mn=self.mn, cn=self.cn, window_start=self.window_start,
                    window_end=self.window_start + timedelta(minutes=self.minutes),
                    state=self.state, expected=self.expected, received=self.received,
                    requests=self.requests, last_request_qn="", last_request_at=last,
                    detected_at=self.window_start, updated_at=self.window_start,
                    version=self.version)


def _t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 4, day, hour, minute)


W = Window
WINDOWS_1 = (
    W(P1, 2051, _t(1, 3), 50, "open", 6, 0, 0, 1),
    W(P1, 2051, _t(1, 9), 20, "requested", 3, 0, 1, 1),  # filled by its second row
    W(P1, 2051, _t(2, 23, 50), 30, "partly_filled", 4, 2, 2, 1),  # 23:50 on the 2nd
    W(P1, 2011, _t(2, 5), 10, "open", 20, 0, 0, 1),  # real-time: not a 2051 gap
    W(P2, 2051, _t(3, 0), 55, "given_up", 12, 5, 3, 1),
    W(P2, 2051, _t(3, 12), 10, "filled", 3, 3, 0, 1),  # the logger's own late upload
    W(P2, 2051, _t(4, 11), 10, "open", 3, 0, 0, 1),  # after the range's end
    W(P3, 2051, _t(4, 1), 30, "requested", 4, 1, 1, 1),
    W(P3, 2061, _t(2, 4), 120, "filled", 3, 3, 1, 1),  # hourly records
    W(P4, 2051, datetime(2024, 3, 31, 23), 30, "open", 31, 0, 0, 1),  # before the start
    W(P4, 2051, _t(1, 0), 5, "partly_filled", 6, 9, 1, 1),  # more than expected came
    W(P5, 2051, _t(2, 2), 30, "open", 4, 0, 0, 1),  # a deactivated station
)
WINDOWS_2 = (
    W(P1, 2051, _t(1, 9), 20, "filled", 3, 3, 1, 2),
    W(P3, 2051, _t(4, 1), 30, "given_up", 4, 2, 3, 2),
)


def final_windows() -> list[Window]:
    out: dict[tuple[str, int, datetime], Window] = {}
    for w in WINDOWS_1 + WINDOWS_2:
        key = (w.mn, w.cn, w.window_start)
        if key not in out or w.version >= out[key].version:
            out[key] = w
    return list(out.values())


SEED: tuple[tuple[str, list[dict[str, Any]]], ...] = (
    ("stations", [s.row() for s in STATIONS_1]),
    ("stations", [s.row() for s in STATIONS_2]),
    ("completeness", [c.row() for c in COMP_1]),
    ("completeness", [c.row() for c in COMP_2]),
    ("missing_windows", [w.row() for w in WINDOWS_1]),
    ("missing_windows", [w.row() for w in WINDOWS_2]),
)


def seed(ch: Any) -> None:
    for table, rows in SEED:
        ch.insert_columns(table, {c: [epoch(r[c]) if isinstance(r[c], datetime) else r[c]
                                      for r in rows] for c in rows[0]})


# --- what the queries must answer ---------------------------------------------------

Scope = tuple[str, ...] | None


def scope_params(scope: Scope) -> dict[str, Any]:
    return {"all_regions": 1 if scope is None else 0, "regions": scope or ("",)}


def _active(scope: Scope) -> list[Station]:
    return [s for s in final_stations().values()
            if s.active and (scope is None or s.region in scope)]


def _rates(expected: int, received: int, valid: int) -> dict[str, Any]:
    tr = received / expected if expected else 0.0
    vr = valid / received if received else 0.0
    return {"expected": expected, "received": received, "valid": valid,
            "transmission_rate": tr, "validity_rate": vr, "transmission_efficiency": tr * vr}


def _per_period(s: Station, period: str) -> int:
    return per_hour(s.min_interval) if period == "hour" else 24


def _counted(mn: str, period: str, start: datetime, end: datetime) -> tuple[int, int]:
    rows = [c for c in final_completeness().values() if c.mn == mn and c.code == ""
            and c.period == period and start <= c.period_start < end]
    return (sum(min(c.received, c.expected) for c in rows), sum(c.valid for c in rows))


def _units(period: str, start: datetime, end: datetime) -> int:
    """Whole periods (hours or days) of [start, end)."""
    seconds = max(int((end - start).total_seconds()), 0)
    return seconds // (3600 if period == "hour" else 86400)


def expected_stations(start: datetime, end: datetime, period: str, units: int,
                      scope: Scope) -> list[dict[str, Any]]:
    out = []
    for s in _active(scope):
        received, valid = _counted(s.mn, period, start, end)
        out.append({"mn": s.mn, "enterprise": s.enterprise, "outlet": s.outlet,
                    "region": s.region,
                    **_rates(units * _per_period(s, period), received, valid)})
    out.sort(key=lambda r: (r["transmission_efficiency"], r["mn"]))
    return out


def expected_station_days(start: datetime, end: datetime, days: int, period: str, mn: str,
                          scope: Scope) -> list[dict[str, Any]]:
    out = []
    for s in sorted(_active(scope), key=lambda s: s.mn):
        if mn and s.mn != mn:
            continue
        for i in range(days):
            day0 = start + timedelta(days=i)
            day1 = min(day0 + timedelta(days=1), end)
            received, valid = _counted(s.mn, period, day0, day1)
            out.append({"mn": s.mn, "enterprise": s.enterprise, "outlet": s.outlet,
                        "region": s.region, "day": day0.date(),
                        **_rates(_units(period, day0, day1) * _per_period(s, period),
                                 received, valid)})
    return out


def _bucket(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


NOT_FILLED = ("open", "requested", "partly_filled", "given_up")


def _windows(start: datetime, end: datetime, cn: int, scope: Scope) -> list[Window]:
    mns = {s.mn for s in _active(scope)}
    return [w for w in final_windows()
            if w.cn == cn and w.mn in mns and start <= w.window_start < end]


def _gap_sums(ws: list[Window]) -> dict[str, int]:
    return {"backfilled": sum(w.received for w in ws if w.requests > 0),
            "unfilled": sum(w.expected - min(w.received, w.expected) for w in ws
                            if w.state in NOT_FILLED),
            "gaps": len(ws)}


def expected_station_periods(start: datetime, end: datetime, days: int, cn: int,
                             grain: str, scope: Scope) -> list[dict[str, Any]]:
    period = "day" if cn == 2061 else "hour"
    windows = _windows(start, end, cn, scope)
    acc: dict[tuple[str, date], dict[str, Any]] = {}
    for s in _active(scope):
        for i in range(days):
            day0 = start + timedelta(days=i)
            day1 = min(day0 + timedelta(days=1), end)
            received, _valid = _counted(s.mn, period, day0, day1)
            b = _bucket(day0.date(), grain)
            row = acc.setdefault((s.mn, b), {
                "mn": s.mn, "enterprise": s.enterprise, "outlet": s.outlet,
                "region": s.region, "period_start": b, "expected": 0, "received": 0})
            row["expected"] += _units(period, day0, day1) * _per_period(s, period)
            row["received"] += received
    out = []
    for (mn, b), row in acc.items():
        mine = [w for w in windows if w.mn == mn and _bucket(w.window_start.date(), grain) == b]
        sums = _gap_sums(mine) if mine else {"backfilled": 0, "unfilled": 0, "gaps": 0}
        # what the platform should have and has not, gap or no gap (the weekly report's 缺失)
        out.append({**row, "missing": max(row["expected"] - row["received"], 0), **sums})
    out.sort(key=lambda r: (r["period_start"], r["mn"]))
    return out


def expected_gaps(start: datetime, end: datetime, cn: int, limit: int,
                  scope: Scope) -> list[dict[str, Any]]:
    stations = final_stations()
    out = []
    for w in _windows(start, end, cn, scope):
        s = stations[w.mn]
        row = w.row()
        out.append({"mn": w.mn, "enterprise": s.enterprise, "outlet": s.outlet,
                    "region": s.region, "cn": w.cn, "window_start": w.window_start,
                    "window_end": row["window_end"], "state": w.state,
                    "expected": w.expected, "received": w.received, "requests": w.requests,
                    "last_request_at": row["last_request_at"]})
    out.sort(key=lambda r: (-epoch(r["window_start"]), r["mn"]))
    return out[:limit]


def expected_outcomes(start: datetime, end: datetime, cn: int,
                      scope: Scope) -> list[dict[str, Any]]:
    groups: dict[str, list[Window]] = {}
    for w in _windows(start, end, cn, scope):
        groups.setdefault(w.state, []).append(w)
    out = []
    for state, ws in sorted(groups.items()):
        sums = _gap_sums(ws)
        out.append({"state": state, "gaps": sums["gaps"],
                    "stations": len({w.mn for w in ws}),
                    "expected": sum(w.expected for w in ws),
                    "received": sum(w.received for w in ws),
                    "backfilled": sums["backfilled"], "unfilled": sums["unfilled"]})
    return out
