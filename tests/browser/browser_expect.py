"""What the overview must show, computed here from the seeded database with SQL of the
test's own (not the app's named queries) and plain Python, at the "as of" time the page
states."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.store.client import ClickHouse
from pipeline.timebase import to_local

AS_OF = re.compile(r"as of (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) CST")
OFFLINE_AFTER_S = 900.0  # the workers' rule (pipeline/detect/missing.py)


def as_of(page_text: str) -> datetime:
    m = AS_OF.search(page_text)
    assert m, f"the page states no 'as of' time: {page_text[:500]!r}"
    return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class Expected:
    stations: int
    online: int
    open_alarms: int
    accepted_last_hour: int
    rejected_last_hour: int
    efficiency: dict[str, str]  # region -> "12.3%"
    mns: frozenset[str]  # stations in scope
    other_mns: frozenset[str]  # stations out of scope


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def expected(ch: ClickHouse, now: datetime, regions: tuple[str, ...] | None) -> Expected:
    stations = ch.query_dicts(
        "SELECT mn, region, rtd_interval, min_interval, active FROM stations FINAL")
    active = [s for s in stations if s["active"]]
    mine = [s for s in active if regions is None or s["region"] in regions]
    mns = {s["mn"] for s in mine}

    last = {r["mn"]: to_local(r["last"]) for r in ch.query_dicts(
        "SELECT mn, max(receive_time) AS last FROM frames WHERE status = 'accepted' "
        "GROUP BY mn")}
    online = sum(1 for s in mine if s["mn"] in last and (
        now - last[s["mn"]]).total_seconds() <= max(OFFLINE_AFTER_S, 3 * s["rtd_interval"]))

    region_of = {s["mn"]: s["region"] for s in stations}
    alarms = ch.query_dicts("SELECT mn FROM alarms FINAL WHERE state = 'open'")
    open_alarms = sum(1 for a in alarms
                      if regions is None or region_of.get(a["mn"], "") in regions)

    end = now.replace(second=0)  # the last 60 whole minutes
    # Each minute counts a frame once however many identical copies came in it (a
    # replay's), as the page says. Not count() over `frames`: that table folds identical
    # copies only when ClickHouse merges its parts, so its count moved with the merges.
    # frame_times keeps every copy with its receive time.
    counts = {r["status"]: r["n"] for r in ch.query_dicts(
        "SELECT status, sum(n) AS n FROM ("
        " SELECT status, toStartOfMinute(receive_time) AS minute,"
        " uniqExact(mn, cn, qn, raw_hash) AS n FROM frame_times "
        " WHERE receive_time >= toDateTime(%(s)s, 'Asia/Shanghai') "
        " AND receive_time < toDateTime(%(e)s, 'Asia/Shanghai') "
        " AND (%(all)s = 1 OR mn IN %(mns)s) GROUP BY status, minute) GROUP BY status",
        {"s": _text(end - timedelta(hours=1)), "e": _text(end),
         "all": 1 if regions is None else 0, "mns": tuple(mns) or ("",)})}

    day = now.replace(hour=0, minute=0, second=0)
    hours_end = now.replace(minute=0, second=0)
    hours = int((hours_end - day).total_seconds()) // 3600
    rows = ch.query_dicts(
        "SELECT mn, received, expected, valid FROM completeness FINAL "
        "WHERE period = 'hour' AND code = '' "
        "AND period_start >= toDateTime(%(s)s, 'Asia/Shanghai') "
        "AND period_start < toDateTime(%(e)s, 'Asia/Shanghai')",
        {"s": _text(day), "e": _text(hours_end)})
    by_region: dict[str, list[int]] = {}
    for s in mine:
        acc = by_region.setdefault(s["region"], [0, 0, 0])
        acc[0] += hours * max(60 // max(s["min_interval"], 1), 1)
    for r in rows:
        if r["mn"] in mns:
            acc = by_region[region_of[r["mn"]]]
            acc[1] += min(r["received"], r["expected"])
            acc[2] += r["valid"]
    efficiency = {}
    for region, (exp, rec, val) in by_region.items():
        rate = rec / exp if exp else 0.0
        validity = val / rec if rec else 0.0
        efficiency[region] = f"{100 * rate * validity:.1f}%"
    return Expected(stations=len(mine), online=online, open_alarms=open_alarms,
                    accepted_last_hour=counts.get("accepted", 0),
                    rejected_last_hour=counts.get("rejected", 0),
                    efficiency=efficiency if hours else {}, mns=frozenset(mns),
                    other_mns=frozenset(s["mn"] for s in active) - frozenset(mns))


def table_with(tables: list[list[dict[str, str]]], header: str) -> list[dict[str, str]]:
    """The first table on the page with a column named ``header``."""
    for rows in tables:
        if rows and header in rows[0]:
            return rows
    raise AssertionError(f"no table with the column {header!r}: {tables!r}")


def metric(metrics: dict[str, str], label: str) -> int:
    assert label in metrics, f"no metric {label!r}: {metrics}"
    return int(metrics[label].replace(",", ""))

