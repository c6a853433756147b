"""``hj212 seed`` on the local ClickHouse (18.16): two days of four stations into a
database of its own, checked with SQL against what the stations' cadences and the fault
script say (not against the seed's own totals), then seeded again to show that a second
run adds no row."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline.seed import SeedPlan, SeedReport, make_plan, seed
from pipeline.simulator.faults import parse_script
from pipeline.store.client import ClickHouse

pytestmark = pytest.mark.integration

END = datetime(2026, 3, 11, 15, 30)  # CST: 2026-03-10 whole, 2026-03-11 to 15:30
DAY1, DAY2 = datetime(2026, 3, 10), datetime(2026, 3, 11)
TABLES = ("frames", "readings", "alarms", "missing_windows", "completeness")
# the registry's first stations: #0 waste water (RtdInterval 30 s, MinInterval 1 min),
# #1 flue gas (30 s, 10 min), #2 waste water (60 s, 5 min), #3 flue gas (30 s, 1 min)
SCRIPT = parse_script({"fault": [
    {"id": "cod-over", "kind": "over_limit", "stations": "#0", "pollutant": "w01018",
     "start": "2h", "duration": "3h", "factor": 1.6},
    # after the end on the last day, so only the first day has it
    {"id": "quiet", "kind": "dropout", "stations": "#1", "start": "16h",
     "duration": "90m"},
]})


def epoch(local: datetime) -> int:
    """Epoch seconds of a naive CST time."""
    return int((local - datetime(1970, 1, 1)).total_seconds()) - 8 * 3600


@dataclass
class Seeded:
    ch: ClickHouse
    plan: SeedPlan
    first: SeedReport
    counts_after_first: dict[str, int]
    counts_after_second: dict[str, int]


def final_counts(ch: ClickHouse) -> dict[str, int]:
    return {t: ch.execute(f"SELECT count() FROM {t} FINAL")[0][0] for t in TABLES}


@pytest.fixture(scope="module")
def seeded(stack) -> Iterator[Seeded]:
    parts = urlsplit(stack.clickhouse_dsn)
    name = f"hj212_it_seed_{uuid.uuid4().hex[:8]}"
    dsn = urlunsplit(parts._replace(path=f"/{name}"))
    plan = make_plan(days=2, stations=4, end=END, faults=SCRIPT)
    try:
        first = seed(dsn, plan, jobs=2, stream=io.StringIO())
        with ClickHouse(dsn) as ch:
            after_first = final_counts(ch)
            seed(dsn, plan, jobs=2, stream=io.StringIO())
            yield Seeded(ch, plan, first, after_first, final_counts(ch))
    finally:
        with ClickHouse(dsn, database="default") as boot:
            boot.execute(f"DROP DATABASE IF EXISTS {name}")


def expected_records(plan: SeedPlan) -> dict[tuple[str, int], int]:
    """Distinct data times per (MN, CN) from each station's cadence: the whole first day
    (minute records, no real-time), the second to 15:30 (real-time too); the drop-out's
    records are back-filled, so none is missing."""
    out: dict[tuple[str, int], int] = {}
    day2_s = int((END - DAY2).total_seconds())
    for s in plan.stations:
        minute_s = s.min_interval * 60
        out[(s.mn, 2011)] = day2_s // s.rtd_interval
        out[(s.mn, 2051)] = 86400 // minute_s + day2_s // minute_s
        out[(s.mn, 2061)] = 24 + day2_s // 3600
        out[(s.mn, 2031)] = 1
    return out


def test_frames_and_readings_per_cn_follow_each_station_cadence(seeded: Seeded) -> None:
    ch, plan = seeded.ch, seeded.plan
    want = expected_records(plan)
    frames = {(mn, int(cn)): n for mn, cn, n in ch.execute(
        "SELECT mn, cn, uniqExact(data_time) FROM frames FINAL WHERE status = 'accepted' "
        "AND cn IN ('2011', '2051', '2061', '2031') GROUP BY mn, cn")}
    assert frames == want
    pollutants = {s.mn: len(s.station.pollutants) for s in plan.stations}
    readings = {(mn, cn): n for mn, cn, n in ch.execute(
        "SELECT mn, cn, count() FROM readings FINAL GROUP BY mn, cn")}
    assert readings == {key: n * pollutants[key[0]] for key, n in want.items()}
    span = ch.execute("SELECT toUInt32(min(data_time)), toUInt32(max(data_time)) "
                      "FROM readings FINAL")[0]
    assert span[0] == epoch(DAY1) and span[1] < epoch(END)
    # seeded frames say so, and real-time data are on the last day only
    assert ch.execute("SELECT DISTINCT gateway FROM frames") == [("hj212-seed",)]
    assert ch.execute("SELECT toUInt32(min(data_time)) FROM readings FINAL "
                      "WHERE cn = 2011")[0][0] == epoch(DAY2)


def test_the_injected_over_limit_is_an_alarm_episode_each_day(seeded: Seeded) -> None:
    mn = seeded.plan.stations[0].mn
    rows = seeded.ch.execute(
        "SELECT toUInt32(opened_at), state FROM alarms FINAL WHERE mn = %(mn)s "
        "AND rule = 'over_limit' AND code = 'w01018' ORDER BY opened_at", {"mn": mn})
    for day in (DAY1, DAY2):
        inside = [r for r in rows
                  if epoch(day + timedelta(hours=2)) <= r[0] < epoch(day + timedelta(hours=5))]
        assert inside, f"no over_limit episode for {mn} on {day:%Y-%m-%d}: {rows}"
    assert {r[1] for r in rows} == {"cleared"}  # the fault ended before the run did


def test_the_drop_out_left_missing_windows_that_back_fill_filled(seeded: Seeded) -> None:
    mn = seeded.plan.stations[1].mn
    windows = seeded.ch.execute(
        "SELECT cn, toUInt32(window_start), toUInt32(window_end), state, requests "
        "FROM missing_windows FINAL WHERE mn = %(mn)s ORDER BY cn, window_start", {"mn": mn})
    quiet = (epoch(DAY1 + timedelta(hours=16)), epoch(DAY1 + timedelta(hours=17, minutes=30)))
    minute = [w for w in windows if w[0] == 2051 and quiet[0] - 600 <= w[1] < quiet[1]]
    assert minute, f"no minute-data window in the drop-out of {mn}: {windows}"
    assert all(w[3] == "filled" and w[4] >= 1 for w in minute)
    assert {w[0] for w in windows} >= {2051, 2061}
    # and the gap itself: every minute record of the window is stored (back-filled)
    got = seeded.ch.execute(
        "SELECT uniqExact(data_time) FROM readings FINAL WHERE mn = %(mn)s AND cn = 2051 "
        "AND data_time >= toDateTime(%(a)s) AND data_time <= toDateTime(%(b)s)",
        {"mn": mn, "a": minute[0][1], "b": minute[-1][2]})[0][0]
    assert got == (minute[-1][2] - minute[0][1]) // 600 + 1


def test_completeness_rows_for_every_hour_and_day(seeded: Seeded) -> None:
    ch, plan = seeded.ch, seeded.plan
    minutes = {s.mn: s.min_interval for s in plan.stations}
    stored = {(mn, period, start): (exp, rec) for mn, period, start, exp, rec in ch.execute(
        "SELECT mn, period, toUInt32(period_start), expected, received FROM completeness "
        "FINAL WHERE code = ''")}
    days = {(mn, start) for mn, period, start in stored if period == "day"}
    assert days == {(mn, epoch(d)) for mn in minutes for d in (DAY1, DAY2)}
    hours = {(mn, start) for mn, period, start in stored if period == "hour"}
    day2_hours = (END - DAY2).seconds // 3600 + 1  # 00:00 to 15:00
    assert hours == {(mn, epoch(DAY1) + 3600 * h) for mn in minutes
                     for h in range(24 + day2_hours)}
    # the figures, counted here from the readings
    counted = {(mn, "hour" if cn == 2051 else "day", start): n
               for mn, cn, start, n in ch.execute(
                   "SELECT mn, cn, toUInt32(if(cn = 2051, toStartOfHour(data_time), "
                   "toStartOfDay(data_time))) AS start, uniqExact(data_time) "
                   "FROM readings FINAL WHERE cn IN (2051, 2061) GROUP BY mn, cn, start")}
    assert {k: v[1] for k, v in stored.items()} == counted
    assert {k: v[0] for k, v in stored.items()} == {
        (mn, period, start): 24 if period == "day" else 60 // minutes[mn]
        for mn, period, start in stored}


def test_a_second_run_adds_no_row(seeded: Seeded) -> None:
    assert all(n > 0 for n in seeded.counts_after_first.values())
    assert seeded.counts_after_second == seeded.counts_after_first
