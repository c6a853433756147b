"""The clue sweep's named queries and one whole sweep on chDB (current ClickHouse): a
seed with one case of each clue (and honest stations beside them), what the queries
must answer on it, the alarms one sweep writes, and that sweeping again writes nothing.

``seed(ch)`` and ``EXPECTED`` are shared with tests/integration/test_clues_live.py,
which runs the same sweep on the local 18.16 server. Expected rows are worked out here
from the seed, never copied from a server's output.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from pipeline.clues import hourly, load
from pipeline.clues.service import records_of
from pipeline.clues.settings import ClueSettings
from pipeline.clues.sweep import in_range, sweep
from pipeline.registry.model import Limit, Station
from pipeline.registry.store import write_limits, write_stations
from pipeline.store import queries_clues
from pipeline.stream.sinks import AlarmSink
from pipeline.timebase import unix_s_from_local

NAN = math.nan
D = date(2026, 11, 10)
DAY0 = datetime(2026, 11, 10)
H = datetime(2026, 11, 10, 10)
HOUR = timedelta(hours=1)

GAS = "C1EE0000000000000000GAS1"  # ZsAvg converted with 3.5 % instead of 6 %
WATER = "C1EE00000000000000STOPW2"  # no flow for two hours, flagged N
FLAGF = "C1EE00000000000000FLAGF3"  # COD flagged F while the flow runs
HOURX = "C1EE00000000000000HOURX4"  # hourly COD 30 against minute records at 45
COPY = "C1EE000000000000000COPY5"  # day D repeats day D-1
TWIN_A = "C1EE0000000000000TWINA06"  # day D equal to TWIN_B's
TWIN_B = "C1EE0000000000000TWINB07"
HELD = "C1EE000000000000000HELD8"  # COD at 46 +- 0.3 under a limit of 50, all day
HONEST = "C1EE00000000000000HONES9"  # a station with nothing to say
#: HOURX's case in the hour its logger restarted (10:25, after 20 minutes unheard): the
#: hourly record is of the part since, the stored minute records of the whole hour; not
#: judged (HOURX, heard all along, is)
LATE = "C1EE000000000000000LATE10"
#: when LATE's frames were received: until 10:05, and again from 10:25 on
LATE_RECEIVED = ([H - 2 * HOUR + timedelta(minutes=5 * i) for i in range(26)]
                 + [H + timedelta(minutes=25 + 5 * i) for i in range(19)])

#: (mn, code, rule) of the alarms the sweep of hour H and day D opens
EXPECTED = {
    (GAS, "a21026", "clue_o2_conversion"),
    (WATER, "", "clue_stopped_unflagged"),
    (FLAGF, "w01018", "clue_flagged_running"),
    (HOURX, "w01018", "clue_hour_vs_minute"),
    (COPY, "", "clue_repeated_day"),
    (TWIN_A, "", "clue_twin_stations"),
    (TWIN_B, "", "clue_twin_stations"),
    (HELD, "w01018", "clue_held_under_limit"),
}

_VALUE_COLUMNS = ("rtd", "min", "avg", "max", "cou", "zs_rtd", "zs_min", "zs_avg", "zs_max",
                  "rs", "rt", "data", "day_data", "night_data", "ala", "up_value",
                  "low_value")


class Readings:
    """Rows for ``readings``, as the sink writes them (NaN for absent fields)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, mn: str, st: str, cn: int, code: str, when: datetime, avg: float, *,
            zs_avg: float = NAN, flag: str = "N", rtd: float = NAN) -> None:
        row: dict[str, Any] = {name: NAN for name in _VALUE_COLUMNS}
        if cn == 2011:
            row["rtd"] = avg if math.isnan(rtd) else rtd
        else:
            row.update(min=avg, avg=avg, max=avg)
        row["zs_avg"] = zs_avg
        row.update(mn=mn, st=st, cn=cn, code=code, wire_code=code,
                   data_time=unix_s_from_local(when), flag=flag, eflag="", qn="",
                   edition=2017, receive_time=unix_s_from_local(when + HOUR))
        self.rows.append(row)

    def hour(self, mn: str, st: str, when: datetime, values: dict[str, float], *,
             minutes: bool = True, flags: dict[str, str] | None = None,
             zs: dict[str, float] | None = None,
             minute_values: dict[str, float] | None = None) -> None:
        """An hourly record of ``values`` and (``minutes``) six 10-minute records."""
        flags, zs = flags or {}, zs or {}
        for code, v in values.items():
            self.add(mn, st, 2061, code, when, v, zs_avg=zs.get(code, NAN),
                     flag=flags.get(code, "N"))
            if minutes:
                mv = (minute_values or {}).get(code, v)
                for i in range(6):
                    self.add(mn, st, 2051, code, when + timedelta(minutes=10 * i), mv,
                             zs_avg=zs.get(code, NAN), flag=flags.get(code, "N"))

    def day(self, mn: str, st: str, day: date, code: str, values: list[float]) -> None:
        start = datetime(day.year, day.month, day.day)
        for h, v in enumerate(values):
            self.add(mn, st, 2061, code, start + h * HOUR, v)

    def columns(self) -> dict[str, list[Any]]:
        names = list(self.rows[0])
        return {n: [r[n] for r in self.rows] for n in names}


def frame_columns(received: dict[str, list[datetime]]) -> dict[str, list[Any]]:
    """Rows for ``frames`` (accepted real-time frames, one per receive time); frame_times
    is filled from them by its materialized view."""
    rows = [(mn, when) for mn, times in received.items() for when in times]
    return {"receive_time": [unix_s_from_local(when) for _, when in rows],
            "gateway": ["test"] * len(rows), "peer": ["127.0.0.1:1"] * len(rows),
            "mn": [mn for mn, _ in rows], "st": ["32"] * len(rows),
            "cn": ["2011"] * len(rows), "qn": [f"{when:%Y%m%d%H%M%S}000" for _, when in rows],
            "flag": [5] * len(rows), "edition": [2017] * len(rows),
            "status": ["accepted"] * len(rows), "n_readings": [2] * len(rows),
            "raw": [f"##{mn}{when:%H%M}" for mn, when in rows]}


def curve(seed: int, level: float, noise: float = 0.08) -> list[float]:
    rng = random.Random(seed)
    return [round(level * (1 + 0.2 * math.cos(2 * math.pi * (h - 14) / 24))
                  * (1 + rng.gauss(0, noise)), 2) for h in range(24)]


def seed(ch: Any) -> None:
    gas, water = "31", "32"
    stations = [Station(mn, "123456", f"企业{i}", "DW001", st, 2017, "江苏", "苏皖沪", 60, 10)
                for i, (mn, st) in enumerate([(GAS, gas), (WATER, water), (FLAGF, water),
                                              (HOURX, water), (COPY, water), (TWIN_A, water),
                                              (TWIN_B, water), (HELD, water),
                                              (HONEST, water), (LATE, water)])]
    write_stations(ch, stations, version=1)
    write_limits(ch, [Limit(HELD, "w01018", NAN, 50.0, "avg", 0, 200, "mg/L"),
                      Limit(GAS, "a21026", NAN, 100.0, "zs_avg", 0, 500, "mg/m3"),
                      # pH's band: flat at 8.2 all day (pH barely moves) is no clue
                      Limit(HELD, "w01001", 6.0, 9.0, "avg", 0, 14, "-")], version=1)
    r = Readings()
    # GAS: SO2 40 at O2 10 %: to 6 % it is 40 x 15 / 11 = 54.55; sent 40 x 17.5 / 11
    for when in (H - HOUR, H):
        r.hour(GAS, gas, when, {"a00000": 80.0, "a19001": 10.0, "a21026": 40.0},
               zs={"a21026": round(40 * 17.5 / 11, 2)})
    # ... and in the next hour converted right (the clue clears there)
    r.hour(GAS, gas, H + HOUR, {"a00000": 80.0, "a19001": 10.0, "a21026": 40.0},
           zs={"a21026": round(40 * 15 / 11, 2)})
    for when in (H - HOUR, H):
        r.hour(WATER, water, when, {"w00000": 0.0, "w01018": 12.0})
        r.hour(FLAGF, water, when, {"w00000": 15.0, "w01018": 30.0}, flags={"w01018": "F"})
        r.hour(HONEST, water, when, {"w00000": 12.0, "w01018": 25.0})
    r.hour(HOURX, water, H - HOUR, {"w00000": 20.0, "w01018": 45.0})
    r.hour(HOURX, water, H, {"w00000": 20.0, "w01018": 30.0},
           minute_values={"w01018": 45.0})
    r.hour(LATE, water, H - HOUR, {"w00000": 20.0, "w01018": 45.0})
    r.hour(LATE, water, H, {"w00000": 20.0, "w01018": 30.0},
           minute_values={"w01018": 45.0})
    copied = curve(1, 40.0)
    r.day(COPY, water, D - timedelta(days=1), "w01018", copied)
    r.day(COPY, water, D, "w01018", copied)
    shared = curve(2, 35.0)
    r.day(TWIN_A, water, D, "w01018", shared)
    r.day(TWIN_B, water, D, "w01018", shared)
    for back in range(1, 4):
        r.day(HELD, water, D - timedelta(days=back), "w01018", curve(10 + back, 30.0))
    rng = random.Random(5)
    r.day(HELD, water, D, "w01018", [round(46 + rng.uniform(-0.3, 0.3), 2) for _ in range(24)])
    r.day(HELD, water, D, "w01001", [round(8.2 + 0.01 * (h % 3), 2) for h in range(24)])
    ch.insert_columns("readings", r.columns())
    steady = [H - 2 * HOUR + timedelta(minutes=5 * i) for i in range(48)]
    ch.insert_columns("frames", frame_columns({HOURX: steady, LATE: LATE_RECEIVED}))


# --- on chDB ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chdb() -> Iterator[Any]:
    from tests.unit.chdb_client import ChdbClickHouse, migrate

    with ChdbClickHouse("hj212_clues") as conn:
        migrate(conn)
        seed(conn)
        yield conn


def test_hour_stats_counts_and_means(chdb):
    rows = queries_clues.run(chdb, "clue_hour_stats", start=H, end=H + HOUR)
    got = {(r["mn"], r["cn"], r["code"]): (r["records"], r["mean"], r["n_flag_n"],
                                            r["n_flag_f"]) for r in rows}
    assert got[(HOURX, 2051, "w01018")] == (6, 45.0, 6, 0)
    assert got[(HOURX, 2061, "w01018")] == (1, 30.0, 1, 0)
    assert got[(FLAGF, 2051, "w01018")] == (6, 30.0, 0, 6)
    assert {r["hour"].replace(tzinfo=None) for r in rows} == {H}


def test_o2_records_join_the_o2_of_the_same_record(chdb):
    rows = queries_clues.run(chdb, "clue_o2_records", start=H, end=H + HOUR)
    assert {(r["cn"], r["code"], r["o2"], r["has_o2"]) for r in rows} == {
        (2061, "a21026", 10.0, 1), (2051, "a21026", 10.0, 1)}
    assert len(rows) == 7  # the hourly record and six minute records


def test_day_series_arrays(chdb):
    series = load.day_series(chdb, DAY0, DAY0 + timedelta(days=1))
    assert list(series.avg[(TWIN_A, "w01018", D)]) == curve(2, 35.0)
    assert series.n_ok[(TWIN_A, "w01018", D)].all()


def test_registry_minute_last_and_the_data_clock(chdb):
    stations = load.stations(chdb, ClueSettings.load())
    assert stations[GAS].st == "31" and stations[GAS].min_interval == 10
    assert load.limits(chdb) == {(HELD, "w01018"): (50.0, "avg"),
                                 (GAS, "a21026"): (100.0, "zs_avg")}
    last = load.minute_last(chdb, H - 24 * HOUR, H)
    assert last[HOURX] == H - timedelta(minutes=10)
    # the last hourly record of the day series (23:00 of day D)
    assert load.latest_data_time(chdb, DAY0 - timedelta(days=30)) == DAY0 + 23 * HOUR
    assert load.latest_data_time(chdb, DAY0 + timedelta(days=5)) is None


def test_frame_minutes_say_where_a_clue_station_link_began(chdb):
    rule = ClueSettings.load().rule("clue_hour_vs_minute")
    stations = load.stations(chdb, ClueSettings.load())
    back = hourly.link_lookback(rule, stations)
    assert back == timedelta(minutes=15)  # link_gap_min; 1.5 x 10-minute records
    received = load.frame_minutes(chdb, H - back, H + HOUR)
    assert set(received) == {HOURX, LATE}
    assert received[LATE] == [t for t in LATE_RECEIVED if H - back <= t < H + HOUR]
    assert received[HOURX][0] == H - back and received[HOURX][-1] == H + timedelta(minutes=55)
    assert hourly.links_begun(received, H, stations, rule) == {LATE}
    # the hour before and the hour after: steady
    for hour in (H - HOUR, H + HOUR):
        got = load.frame_minutes(chdb, hour - back, hour + HOUR)
        assert hourly.links_begun(got, hour, stations, rule) == set()


def test_one_sweep_opens_each_clue_and_a_second_writes_nothing(chdb):
    settings = ClueSettings.load()
    hours, days = in_range(H, DAY0 + timedelta(days=1))
    assert hours[0] == H and days == []
    wall = datetime(2026, 11, 11, 2, 3, 4)
    result = sweep(chdb, settings, [H], [DAY0], now=wall)
    opened = {(s.event.mn, s.event.code, s.event.rule) for s in result.steps
              if s.event.transition == "open"}
    assert opened == EXPECTED
    AlarmSink(chdb).write(records_of(result))
    rows = chdb.query_dicts("SELECT mn, code, rule, state, opened_at, severity, message, "
                            "raised_at, raised_data_time, opened_cn, rule_class "
                            "FROM alarms FINAL")
    assert {r["rule_class"] for r in rows} == {"clue"}
    assert {r["raised_at"].replace(tzinfo=None) for r in rows} == {wall}
    assert {(r["rule"], r["opened_cn"], r["raised_data_time"].replace(tzinfo=None))
            for r in rows if r["rule"] in ("clue_repeated_day", "clue_stopped_unflagged")} == {
        ("clue_repeated_day", 2031, DAY0), ("clue_stopped_unflagged", 2061, H)}
    assert {(r["mn"], r["code"], r["rule"]) for r in rows} == EXPECTED
    by_rule = {r["rule"]: r for r in rows}
    assert by_rule["clue_repeated_day"]["opened_at"].replace(tzinfo=None) == DAY0
    assert by_rule["clue_o2_conversion"]["opened_at"].replace(tzinfo=None) == H
    assert by_rule["clue_stopped_unflagged"]["opened_at"].replace(tzinfo=None) == H - HOUR
    assert "/" in by_rule["clue_twin_stations"]["message"]
    # the same periods again (a restart): nothing new
    assert sweep(chdb, settings, [H], [DAY0]).steps == []
    # the next hour converts right: the O2 clue clears; the others were not judged there
    later = sweep(chdb, settings, [H + HOUR], [], now=wall + HOUR)
    assert [(s.event.mn, s.event.rule, s.event.transition) for s in later.steps] == [
        (GAS, "clue_o2_conversion", "clear")]
    # read back from the row: raised when it was, not at the clearing sweep
    assert (later.steps[0].raised_at, later.steps[0].raised_data_time) == (wall, H)


def test_a_switched_off_clue_is_not_judged(chdb):
    import tomllib

    from pipeline.clues.settings import DEFAULT_PATH

    data = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    for rule in EXPECTED:
        data[rule[2]]["enabled"] = rule[2] != "clue_twin_stations"
    result = sweep(chdb, ClueSettings(data), [H - HOUR], [DAY0])
    assert "clue_twin_stations" not in result.findings
