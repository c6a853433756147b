"""``hj212 seed``'s pure part (pipeline/seed.py): the days and what each carries, the
records at each station's cadence, the same records for the same (seed, day), the faults
placed on every day, detection and completeness of what was made. No services."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import cache

import hj212
import pytest

from pipeline.detect.context import contexts_from_csv
from pipeline.detect.station import DetectorBundle
from pipeline.seed import (
    DEFAULT_FAULTS,
    HOURLY,
    MINUTE,
    REALTIME,
    DayOutput,
    SeedError,
    SeedPlan,
    StationHistory,
    make_plan,
    seed_days,
)
from pipeline.simulator.faults import FaultSpec, load_script, parse_script
from pipeline.simulator.stations import REGISTRY_DIR

END = datetime(2026, 3, 11, 15, 30)  # CST; the last day runs to 15:30
#: the registry's first stations: #0 waste water (RtdInterval 30 s, MinInterval 1),
#: #1 flue gas (30 s, 10), #2 waste water (60 s, 5)
WATER_1MIN, GAS_10MIN, WATER_5MIN = 0, 1, 2


@cache
def detector() -> DetectorBundle:
    return DetectorBundle(contexts=contexts_from_csv(REGISTRY_DIR))


def history(plan: SeedPlan, index: int) -> list[DayOutput]:
    """Every day of one station of the plan, its faults included."""
    sim = plan.stations[index]
    h = StationHistory(plan, sim, detector())
    return [h.day(day, plan.day_faults(day).get(sim.mn, ())) for day in plan.days]


def data_times(out: DayOutput) -> dict[int, list[datetime]]:
    """Data times of the accepted frames by CN, in arrival order."""
    found: dict[int, list[datetime]] = defaultdict(list)
    for raw in out.raws:
        try:
            frame = hj212.parse(raw)
        except hj212.FrameError:
            continue
        if frame.data_time:
            found[int(frame.cn)].append(datetime.strptime(frame.data_time, "%Y%m%d%H%M%S"))
    return found


def script(*entries: dict[str, object]) -> tuple[FaultSpec, ...]:
    return tuple(parse_script({"fault": list(entries)}))


# --- the plan ---------------------------------------------------------------------------


def test_days_are_the_calendar_days_up_to_the_end() -> None:
    assert seed_days(3, END) == (date(2026, 3, 9), date(2026, 3, 10), date(2026, 3, 11))
    # an end at midnight closes the day before
    assert seed_days(2, datetime(2026, 3, 11)) == (date(2026, 3, 9), date(2026, 3, 10))
    with pytest.raises(SeedError, match="--days 0"):
        seed_days(0, END)


def test_old_days_are_thinned_newest_last() -> None:
    plan = make_plan(days=10, stations=1, end=END, realtime_days=1, minute_days=3)
    assert [plan.kind(d) for d in plan.days] == [HOURLY] * 7 + [MINUTE] * 2 + [REALTIME]
    assert plan.day_limit(plan.days[-1]) == END
    assert plan.day_limit(plan.days[0]) == datetime(2026, 3, 3)
    every = make_plan(days=3, stations=1, end=END, realtime_days=3)
    assert {every.kind(d) for d in every.days} == {REALTIME}


def test_the_plan_names_a_wrong_option() -> None:
    with pytest.raises(SeedError, match=r"--end .*without a zone"):
        make_plan(days=1, stations=1, end=datetime(2026, 3, 11, tzinfo=UTC))
    with pytest.raises(SeedError, match="--minute-days -1"):
        make_plan(days=1, stations=1, end=END, minute_days=-1)
    # more stations than the registry has active: all of them (the sample: 308 of 320)
    assert len(make_plan(days=1, stations=10_000, end=END).stations) == 308
    assert make_plan(days=1, stations=1, end=END.replace(second=42)).end == END


# --- the records --------------------------------------------------------------------------


def test_each_day_has_the_records_of_the_station_cadence() -> None:
    plan = make_plan(days=3, stations=3, end=END, realtime_days=1, minute_days=2)
    hourly, minute, realtime = (data_times(o) for o in history(plan, WATER_5MIN))
    day1, day2, day3 = (plan.day_start(d) for d in plan.days)

    def grid(start: datetime, step_s: int, count: int) -> list[datetime]:
        return [start + timedelta(seconds=step_s * i) for i in range(count)]

    # hourly-only day: 24 hourly records and the daily one, sent at the next midnight
    assert sorted(hourly) == [2031, 2061]
    assert sorted(set(hourly[2061])) == grid(day1, 3600, 24)
    assert hourly[2031] == [day1]
    # minute day: MinInterval 5 -> 288 minute records, no real-time record
    assert sorted(minute) == [2031, 2051, 2061]
    assert sorted(set(minute[2051])) == grid(day2, 300, 288)
    assert sorted(set(minute[2061])) == grid(day2, 3600, 24)
    # the last day, up to 15:30: real-time every 60 s, minute and hourly records closed
    # by then, no daily record yet
    assert sorted(realtime) == [2011, 2051, 2061]
    assert realtime[2011] == grid(day3, 60, 15 * 60 + 30)
    assert sorted(set(realtime[2051])) == grid(day3, 300, 15 * 12 + 6)
    assert sorted(set(realtime[2061])) == grid(day3, 3600, 15)
    assert max(max(ts) for ts in realtime.values()) < END


def test_a_minute_day_samples_once_per_minute_record() -> None:
    plan = make_plan(days=2, stations=3, end=END, realtime_days=1)
    minute, realtime = history(plan, WATER_5MIN)

    def spread(out: DayOutput) -> int:
        """Minute records whose Min and Max differ somewhere."""
        n = 0
        for raw in out.raws:
            frame = hj212.parse(raw)
            if frame.cn == "2051":
                n += any(v.get("Min") != v.get("Max") for v in frame.pollutants.values())
        return n

    assert spread(minute) == 0  # one sample per record
    assert spread(realtime) > 100  # five samples (RtdInterval 60 s) per record


def test_the_same_seed_and_day_make_the_same_frames() -> None:
    plan = make_plan(days=2, stations=2, end=END, faults=load_script(DEFAULT_FAULTS))
    first = [o.raws for o in history(plan, GAS_10MIN)]
    assert first == [o.raws for o in history(plan, GAS_10MIN)]
    other = make_plan(days=2, stations=2, end=END, seed=2)
    assert [o.raws for o in history(other, GAS_10MIN)] != first
    # a longer run sends the same records on the days it shares (faults picked per day,
    # loggers seeded per day), so running again with more days adds no other copy; only
    # the answers to back-fill requests differ, as they echo the request's QN, which
    # counts the station's requests since the run began
    longer = make_plan(days=3, stations=2, end=END, faults=load_script(DEFAULT_FAULTS))

    def records(raws: list[bytes]) -> list[bytes]:
        return [r for r in raws if b"CN=90" not in r[:60]]

    assert ([records(o.raws) for o in history(longer, GAS_10MIN)][1:]
            == [records(r) for r in first])


# --- faults -------------------------------------------------------------------------------


def test_the_script_is_repeated_every_day_on_stations_picked_per_day() -> None:
    plan = make_plan(days=4, stations=20, end=END, faults=load_script(DEFAULT_FAULTS))
    picks: dict[str, set[frozenset[str]]] = defaultdict(set)
    for day in plan.days:
        mns: dict[str, set[str]] = defaultdict(set)
        for mn, faults in plan.day_faults(day).items():
            for f in faults:
                assert f.start - plan.day_start(day) == timedelta(seconds=float(f.spec.start))
                mns[f.spec.id].add(mn)
        assert {"cod-over-limit", "silent-2h", "power-cut"} <= set(mns)
        for fault_id, found in mns.items():
            picks[fault_id].add(frozenset(found))
    assert any(len(p) > 1 for p in picks.values())  # other stations on other days


def test_faults_are_in_the_records_and_alarmed() -> None:
    plan = make_plan(days=2, stations=1, end=END, faults=script(
        {"id": "cod", "kind": "over_limit", "stations": "#0", "pollutant": "w01018",
         "start": "2h", "duration": "3h"},
        {"id": "quiet", "kind": "dropout", "stations": "#0", "start": "10h",
         "duration": "1h"}))
    days = history(plan, WATER_1MIN)
    for day, out in zip(plan.days, days, strict=True):
        start = plan.day_start(day)
        quiet = (start + timedelta(hours=10), start + timedelta(hours=11))
        # nothing arrived while the logger was quiet, but its minute records came back
        # afterwards, answering the back-fill request
        arrived = [datetime(1970, 1, 1) + timedelta(seconds=r + 8 * 3600) for r in out.received]
        assert not any(quiet[0] < t < quiet[1] for t in arrived)
        minutes = set(data_times(out)[2051])
        assert {quiet[0] + timedelta(minutes=m) for m in range(60)} <= minutes
        assert out.requests >= 1
        windows = [w for w in out.windows if w["cn"] == 2051
                   and quiet[0] - timedelta(minutes=1) <= w["window_start"] < quiet[1]]
        assert windows and windows[-1]["state"] == "filled"
        over = [s for s in out.alarms if s.event.rule == "over_limit"
                and s.event.transition == "open"]
        assert [s.event.code for s in over] == ["w01018"]
        assert start + timedelta(hours=2) <= over[0].opened_at < start + timedelta(hours=5)
        assert {s.event.rule for s in out.alarms if s.event.transition == "open"} >= {
            "over_limit", "offline", "missing"}


def test_an_hourly_only_day_is_not_offline_between_its_records() -> None:
    plan = make_plan(days=2, stations=2, end=datetime(2026, 3, 11), minute_days=0,
                     realtime_days=0)
    days = history(plan, GAS_10MIN)
    assert {plan.kind(d) for d in plan.days} == {HOURLY}
    assert [s.event.rule for o in days for s in o.alarms if s.event.rule == "offline"] == []
    assert all(o.windows == [] for o in days)


# --- completeness -------------------------------------------------------------------------


def test_completeness_of_every_hour_and_day_made() -> None:
    plan = make_plan(days=2, stations=3, end=datetime(2026, 3, 11), realtime_days=0,
                     faults=script({"id": "broken", "kind": "flag", "stations": "#2",
                                    "pollutant": "w01018", "start": "6h",
                                    "duration": "1h", "flag": "D"}))
    sim = plan.stations[WATER_5MIN]
    h = StationHistory(plan, sim, detector())
    for day in plan.days:
        h.day(day, plan.day_faults(day).get(sim.mn, ()))
    cols = h.completeness(now=1_700_000_000.0)
    rows = list(zip(cols["code"], cols["period"], cols["period_start"], cols["expected"],
                    cols["received"], cols["valid"], strict=True))
    station = [r for r in rows if r[0] == ""]
    # 48 hours and 2 days; the station's pollutants each get a row per period too
    assert sorted(r[1] for r in station) == ["day"] * 2 + ["hour"] * 48
    assert len(rows) == len(station) * (1 + len(sim.station.pollutants))
    assert {r[3] for r in station if r[1] == "hour"} == {12}  # MinInterval 5
    assert {r[3:5] for r in station if r[1] == "day"} == {(24, 24)}
    assert {r[4] for r in station if r[1] == "hour"} == {12}
    # the hour of D-flagged COD each day: that pollutant and the station are invalid then
    sixes = [int((datetime.combine(d, datetime.min.time()) + timedelta(hours=6)
                  - datetime(1970, 1, 1)).total_seconds()) - 8 * 3600 for d in plan.days]
    bad = {(r[0], r[2]) for r in rows if r[1] == "hour" and r[5] < r[4]}
    assert bad == {(code, t) for code in ("w01018", "") for t in sixes}
    assert {r[4:6] for r in rows if r[1] == "hour" and (r[0], r[2]) in bad} == {(12, 0)}
    assert {r[5] for r in station if r[1] == "day"} == {23}
    assert set(cols["version"]) == {1_700_000_000_000}
