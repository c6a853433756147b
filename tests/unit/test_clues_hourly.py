"""The hourly clue judges (pipeline/clues/hourly.py) on hand-made hours: each clue is
raised by the case it describes and not by its honest twin. Expected values are worked
out here from the definitions (HJ 212: ZsAvg = Avg x (21 - O2ref) / (21 - O2)), never
taken from the judges' output."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from pipeline.clues import hourly
from pipeline.clues.model import HourStats, O2Records, StationInfo
from pipeline.clues.settings import ClueSettings

S = ClueSettings.load()
GAS, WATER = "GAS00000000000000000001", "WATER0000000000000000002"
H = datetime(2026, 11, 10, 10)
NAN = math.nan


def info(mn: str, st: str, settings: ClueSettings = S) -> StationInfo:
    return StationInfo(mn, st, 10, 60, settings.station(mn, st))


STATIONS = {GAS: info(GAS, "31"), WATER: info(WATER, "32")}


def stats(rows: list[tuple[str, int, str, datetime, int, float, int, int]]) -> HourStats:
    """rows: (mn, cn, code, hour, records, mean, flagged N, flagged F)."""
    st = {GAS: "31", WATER: "32"}
    return HourStats(
        mn=np.array([r[0] for r in rows], dtype=object),
        st=np.array([st.get(r[0], "31") for r in rows], dtype=object),
        cn=np.array([r[1] for r in rows], dtype=np.int64),
        code=np.array([r[2] for r in rows], dtype=object),
        hour=np.array([r[3] for r in rows], dtype=object),
        records=np.array([r[4] for r in rows], dtype=np.int64),
        mean=np.array([r[5] for r in rows], dtype=np.float64),
        n_flag_n=np.array([r[6] for r in rows], dtype=np.int64),
        n_flag_f=np.array([r[7] for r in rows], dtype=np.int64))


def o2recs(rows: list[tuple[str, int, datetime, str, float, float, float]]) -> O2Records:
    """rows: (mn, cn, data_time, code, avg, zs_avg, o2)."""
    return O2Records(
        mn=np.array([r[0] for r in rows], dtype=object),
        cn=np.array([r[1] for r in rows], dtype=np.int64),
        data_time=np.array([r[2] for r in rows], dtype=object),
        code=np.array([r[3] for r in rows], dtype=object),
        avg=np.array([r[4] for r in rows], dtype=np.float64),
        zs_avg=np.array([r[5] for r in rows], dtype=np.float64),
        o2=np.array([r[6] for r in rows], dtype=np.float64))


def keys(judgement) -> set[tuple[str, str]]:
    return {(f.mn, f.code) for f in judgement.findings}


# --- clue_o2_conversion -----------------------------------------------------------------

def _o2_hour(zs_of) -> O2Records:
    rows = []
    for i, (avg, o2) in enumerate([(40.0, 10.0), (42.0, 9.0), (38.0, 11.0), (41.0, 10.5),
                                   (39.0, 9.5), (40.0, 10.0)]):
        rows.append((GAS, 2051, H + timedelta(minutes=10 * i), "a21026", avg, zs_of(avg, o2),
                     o2))
    rows.append((GAS, 2061, H, "a21026", 40.0, zs_of(40.0, 10.0), 10.0))
    return o2recs(rows)


def test_consistent_conversion_raises_nothing_but_is_judged():
    # coal-fired reference 6 %: 40 mg/m3 at 10 % O2 is 40 x 15 / 11 = 54.545...
    rule = S.rule("clue_o2_conversion")
    honest = _o2_hour(lambda avg, o2: round(avg * 15 / (21 - o2), 2))
    j = hourly.judge_o2_conversion(honest, H, STATIONS, rule)
    assert j.findings == []
    assert j.judged == {(GAS, "a21026")}


def test_zs_converted_with_a_wrong_reference_o2_raises():
    # converted to 3.5 % (a gas-fired boiler's reference) instead of the station's 6 %
    rule = S.rule("clue_o2_conversion")
    wrong = _o2_hour(lambda avg, o2: round(avg * 17.5 / (21 - o2), 2))
    j = hourly.judge_o2_conversion(wrong, H, STATIONS, rule)
    assert keys(j) == {(GAS, "a21026")}
    (f,) = j.findings
    assert f.cn == 2061 and f.began == H and f.at == H
    assert f.evidence["expected_zs_avg"] == round(40 * 15 / 11, 4)
    # the reference the sent value implies: 21 - ZsAvg x (21 - O2) / Avg = 3.5 %
    assert abs(f.evidence["implied_o2_ref"] - 3.5) < 0.05
    assert "折算" in f.message and "converted" in f.message


def test_a_station_set_as_gas_fired_is_judged_with_its_own_reference():
    custom = ClueSettings({**_raw(), "station": {GAS: {"industry": "燃气锅炉"}}})
    stations = {GAS: info(GAS, "31", custom)}
    rule = custom.rule("clue_o2_conversion")
    gas_fired = _o2_hour(lambda avg, o2: round(avg * 17.5 / (21 - o2), 2))
    assert hourly.judge_o2_conversion(gas_fired, H, stations, rule).findings == []
    coal = _o2_hour(lambda avg, o2: round(avg * 15 / (21 - o2), 2))
    assert keys(hourly.judge_o2_conversion(coal, H, stations, rule)) == {(GAS, "a21026")}


def test_a_stack_breathing_air_is_not_judged():
    rule = S.rule("clue_o2_conversion")
    air = o2recs([(GAS, 2061, H, "a21026", 0.5, 9.0, 20.9)])
    j = hourly.judge_o2_conversion(air, H, STATIONS, rule)
    assert j.findings == [] and j.judged == set()


def test_minute_records_alone_raise_when_most_disagree():
    rule = S.rule("clue_o2_conversion")
    rows = [(GAS, 2051, H + timedelta(minutes=10 * i), "a21026", 40.0, 80.0, 10.0)
            for i in range(6)]
    j = hourly.judge_o2_conversion(o2recs(rows), H, STATIONS, rule)
    assert keys(j) == {(GAS, "a21026")}
    assert j.findings[0].cn == 2051
    # one odd minute among six is not a clue
    rows = [(GAS, 2051, H + timedelta(minutes=10 * i), "a21026", 40.0,
             80.0 if i == 0 else 40 * 15 / 11, 10.0) for i in range(6)]
    assert hourly.judge_o2_conversion(o2recs(rows), H, STATIONS, rule).findings == []


# --- clue_stopped_unflagged ---------------------------------------------------------------

def _gas_hours(n_hours: int, flow: float, o2: float, flag_n: bool, so2: float = 0.3,
               ) -> list[tuple[str, int, str, datetime, int, float, int, int]]:
    rows = []
    for back in range(n_hours):
        at = H - back * timedelta(hours=1)
        for code, mean in (("a00000", flow), ("a19001", o2), ("a21026", so2)):
            rows.append((GAS, 2061, code, at, 1, mean, 1 if flag_n else 0,
                         0 if flag_n else 1))
    return rows


def test_stopped_stack_flagged_n_for_two_hours_raises():
    rule = S.rule("clue_stopped_unflagged")
    j = hourly.judge_stopped_unflagged(stats(_gas_hours(2, 0.0, 20.9, True)), H, STATIONS,
                                       rule)
    assert keys(j) == {(GAS, "")}
    (f,) = j.findings
    assert f.began == H - timedelta(hours=1) and f.evidence["hours"] == 2


def test_stopped_stack_flagged_f_is_honest():
    rule = S.rule("clue_stopped_unflagged")
    j = hourly.judge_stopped_unflagged(stats(_gas_hours(2, 0.0, 20.9, False)), H, STATIONS,
                                       rule)
    assert j.findings == [] and j.judged == {(GAS, "")}


def test_one_stopped_hour_is_not_yet_long_enough():
    rule = S.rule("clue_stopped_unflagged")
    rows = _gas_hours(1, 0.0, 20.9, True) + [
        (GAS, 2061, c, H - timedelta(hours=1), 1, m, 1, 0)
        for c, m in (("a00000", 80.0), ("a19001", 10.0), ("a21026", 30.0))]
    assert hourly.judge_stopped_unflagged(stats(rows), H, STATIONS, rule).findings == []


def test_no_flow_but_o2_of_a_burning_stack_is_not_a_stop():
    # the flow meter reads zero (its own fault) while O2 says the boiler burns
    rule = S.rule("clue_stopped_unflagged")
    rows = _gas_hours(2, 0.0, 10.0, True)
    assert hourly.judge_stopped_unflagged(stats(rows), H, STATIONS, rule).findings == []


def test_a_negative_flow_is_a_faulty_meter_not_a_stop():
    rule = S.rule("clue_stopped_unflagged")
    rows = []
    for back in range(2):
        at = H - back * timedelta(hours=1)
        rows += [(WATER, 2051, "w00000", at, 6, -24.3, 6, 0),
                 (WATER, 2051, "w01018", at, 6, 12.0, 6, 0)]
    assert hourly.judge_stopped_unflagged(stats(rows), H, STATIONS, rule).findings == []


def test_waste_water_with_zero_flow_flagged_n_raises_from_minute_records():
    rule = S.rule("clue_stopped_unflagged")
    rows = []
    for back in range(2):
        at = H - back * timedelta(hours=1)
        rows += [(WATER, 2051, "w00000", at, 6, 0.0, 6, 0),
                 (WATER, 2051, "w01018", at, 6, 12.0, 6, 0)]
    assert keys(hourly.judge_stopped_unflagged(stats(rows), H, STATIONS, rule)) == {
        (WATER, "")}


# --- clue_flagged_running -------------------------------------------------------------------

def test_flagged_f_while_running_raises_on_the_flagged_pollutant():
    rule = S.rule("clue_flagged_running")
    rows = [(GAS, 2061, "a00000", H, 1, 80.0, 1, 0), (GAS, 2061, "a19001", H, 1, 10.0, 1, 0),
            (GAS, 2061, "a21026", H, 1, 35.0, 0, 1)]
    j = hourly.judge_flagged_running(stats(rows), H, STATIONS, rule)
    assert keys(j) == {(GAS, "a21026")}
    assert j.findings[0].evidence["flow"] == 80.0


def test_flagged_f_with_the_source_stopped_is_honest():
    rule = S.rule("clue_flagged_running")
    rows = [(GAS, 2061, "a00000", H, 1, 0.0, 0, 1), (GAS, 2061, "a19001", H, 1, 20.9, 0, 1),
            (GAS, 2061, "a21026", H, 1, 0.0, 0, 1)]
    j = hourly.judge_flagged_running(stats(rows), H, STATIONS, rule)
    assert j.findings == [] and (GAS, "a21026") in j.judged


def test_running_and_flagged_n_is_honest():
    rule = S.rule("clue_flagged_running")
    rows = [(GAS, 2061, "a00000", H, 1, 80.0, 1, 0), (GAS, 2061, "a19001", H, 1, 10.0, 1, 0),
            (GAS, 2061, "a21026", H, 1, 35.0, 1, 0)]
    assert hourly.judge_flagged_running(stats(rows), H, STATIONS, rule).findings == []


# --- clue_hour_vs_minute ----------------------------------------------------------------------

def test_hourly_avg_far_from_its_minute_records_raises():
    rule = S.rule("clue_hour_vs_minute")
    rows = [(WATER, 2061, "w01018", H, 1, 30.0, 1, 0), (WATER, 2051, "w01018", H, 6, 45.0, 6, 0)]
    j = hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, {})
    assert keys(j) == {(WATER, "w01018")}
    assert j.findings[0].evidence["relative_difference"] == round(15 / 45, 4)


def test_hourly_avg_equal_to_its_minutes_is_honest():
    rule = S.rule("clue_hour_vs_minute")
    rows = [(WATER, 2061, "w01018", H, 1, 45.2, 1, 0), (WATER, 2051, "w01018", H, 6, 45.0, 6, 0),
            (WATER, 2011, "w01018", H, 60, 44.0, 60, 0)]
    j = hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, {})
    assert j.findings == [] and (WATER, "w01018") in j.judged


def test_hourly_against_real_time_records():
    rule = S.rule("clue_hour_vs_minute")
    rows = [(WATER, 2061, "w01018", H, 1, 45.0, 1, 0), (WATER, 2011, "w01018", H, 60, 30.0, 60, 0)]
    j = hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, {})
    assert keys(j) == {(WATER, "w01018")} and j.findings[0].cn == 2011


def test_too_few_minute_records_are_not_compared():
    rule = S.rule("clue_hour_vs_minute")
    # 2 of the 6 expected 10-minute records: coverage 1/3 < 0.75
    rows = [(WATER, 2061, "w01018", H, 1, 30.0, 1, 0), (WATER, 2051, "w01018", H, 2, 45.0, 2, 0)]
    assert hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, {}).findings == []


def test_an_hour_without_its_minute_records_raises_when_minutes_came_before():
    rule = S.rule("clue_hour_vs_minute")
    rows = [(WATER, 2061, "w01018", H, 1, 30.0, 1, 0)]
    before = {WATER: H - timedelta(minutes=10)}
    j = hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, before)
    assert keys(j) == {(WATER, "")}
    # a station that sends no minute records at all is not a clue
    assert hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, {}).findings == []
    long_ago = {WATER: H - timedelta(days=3)}
    assert hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, long_ago).findings == []


def _raw() -> dict:
    import tomllib

    from pipeline.clues.settings import DEFAULT_PATH

    return tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_nan_means_are_not_judged():
    rule = S.rule("clue_hour_vs_minute")
    rows = [(WATER, 2061, "w01018", H, 1, NAN, 1, 0), (WATER, 2051, "w01018", H, 6, 45.0, 6, 0)]
    assert hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, {}).findings == []


# --- an hour in which the station's link began ----------------------------------------------

def _every(start: datetime, end: datetime, minutes: int = 5) -> list[datetime]:
    """Receive times (to the minute) of a station heard every ``minutes`` in [start, end)."""
    out, at = [], start
    while at < end:
        out.append(at)
        at += timedelta(minutes=minutes)
    return out


MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def test_the_link_began_in_the_hour_after_a_silence_or_with_no_frame_before():
    rule = S.rule("clue_hour_vs_minute")
    assert rule["link_gap_min"] == 15.0
    restarted, fresh, steady, gone = "RESTARTED", "FRESH", "STEADY", "GONE"
    slow = "SLOW30"  # minute records every 30 minutes, nothing between
    stations = {**STATIONS, slow: StationInfo(slow, "32", 30, 60, S.station(slow, "32"))}
    assert hourly.link_lookback(rule, stations) == timedelta(minutes=45)
    received = {
        # heard until 10:05, silent 20 minutes, heard again from 10:25: a restart
        restarted: _every(H - 2 * HOUR, H + 6 * MIN) + _every(H + 25 * MIN, H + HOUR),
        # first heard at 10:20, nothing in the look-back before
        fresh: _every(H + 20 * MIN, H + HOUR),
        # a 10-minute gap at 10:30 is no silence
        steady: _every(H - HOUR, H + 30 * MIN) + _every(H + 40 * MIN, H + HOUR),
        # heard before the hour only: nothing began in it
        gone: _every(H - HOUR, H - 30 * MIN),
        slow: _every(H - HOUR, H + HOUR, 30),
    }
    assert hourly.links_begun(received, H, stations, rule) == {restarted, fresh}
    # the hour after: all steady (the restarted one from 10:25 on)
    later = {mn: [*times, *_every(H + HOUR, H + 2 * HOUR)] for mn, times in received.items()
             if mn != gone}
    assert hourly.links_begun(later, H + HOUR, stations, rule) == set()
    # a silence of exactly 15 minutes is not more than link_gap_min
    edge = {steady: _every(H - HOUR, H + 6 * MIN) + _every(H + 20 * MIN, H + HOUR)}
    assert hourly.links_begun(edge, H, stations, rule) == set()


def test_an_hour_in_which_the_link_began_is_not_judged_nor_cleared():
    # the logger restarted at 10:25: its hourly record (30) is of 10:25-11:00 only, the
    # stored minute records (45) of the whole hour, several sent before the restart
    rule = S.rule("clue_hour_vs_minute")
    rows = [(WATER, 2061, "w01018", H, 1, 30.0, 1, 0), (WATER, 2051, "w01018", H, 6, 45.0, 6, 0),
            (GAS, 2061, "a21026", H, 1, 30.0, 1, 0), (GAS, 2051, "a21026", H, 6, 45.0, 6, 0)]
    j = hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, {}, link_began={WATER})
    # WATER: nothing raised and nothing judged (an open clue of it is not cleared)
    assert keys(j) == {(GAS, "a21026")}
    assert {mn for mn, _ in j.judged} == {GAS}
    # the honest twin: the same records with a steady link are judged and raise
    j = hourly.judge_hour_vs_minute(stats(rows), H, STATIONS, rule, {})
    assert keys(j) == {(WATER, "w01018"), (GAS, "a21026")}
    # an hourly record with no minute record behind it: not judged either
    alone = [(WATER, 2061, "w01018", H, 1, 30.0, 1, 0)]
    before = {WATER: H - timedelta(minutes=10)}
    assert keys(hourly.judge_hour_vs_minute(stats(alone), H, STATIONS, rule, before)) == {
        (WATER, "")}
    skipped = hourly.judge_hour_vs_minute(stats(alone), H, STATIONS, rule, before,
                                          link_began={WATER})
    assert skipped.findings == [] and skipped.judged == set()


def test_a_clue_open_before_the_link_began_stays_open_through_that_hour():
    from pipeline.clues.episodes import ClueBook

    rule = S.rule("clue_hour_vs_minute")
    book = ClueBook()
    bad = [(WATER, 2061, "w01018", H - HOUR, 1, 30.0, 1, 0),
           (WATER, 2051, "w01018", H - HOUR, 6, 45.0, 6, 0)]
    opened = book.apply(hourly.judge_hour_vs_minute(stats(bad), H - HOUR, STATIONS, rule, {}),
                        H - HOUR, rule)
    assert [s.event.transition for s in opened] == ["open"]
    # the hour the link began in agrees (or not): no evidence either way
    fine = [(WATER, 2061, "w01018", H, 1, 45.0, 1, 0), (WATER, 2051, "w01018", H, 6, 45.0, 6, 0)]
    j = hourly.judge_hour_vs_minute(stats(fine), H, STATIONS, rule, {}, link_began={WATER})
    assert book.apply(j, H, rule) == []
    # the next hour, judged and agreeing, clears it
    later = [(WATER, 2061, "w01018", H + HOUR, 1, 45.0, 1, 0),
             (WATER, 2051, "w01018", H + HOUR, 6, 45.0, 6, 0)]
    j = hourly.judge_hour_vs_minute(stats(later), H + HOUR, STATIONS, rule, {})
    assert [s.event.transition for s in book.apply(j, H + HOUR, rule)] == ["clear"]
