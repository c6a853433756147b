"""The simulator's traps and clues (issue 13): each fault kind does to the frames what its
name says, and its ground truth names the rule it should trip (or none). Expected values
come from the test's own arithmetic on the frames, and each test compares with the same
logger run without the fault, so it fails when the fault is not applied."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import hj212
import pytest

from pipeline.simulator.corpus import DeviceSpec
from pipeline.simulator.datalogger import VirtualLogger
from pipeline.simulator.faults import GroundTruth, assign, parse_script
from pipeline.simulator.stations import Limits, SimStation

START = datetime(2024, 3, 1)
GAS_MN = "GAS00000000000000000000A"
GAS_MN2 = "GAS00000000000000000000B"
WATER_MN = "WATER000000000000000000A"


def gas(mn: str = GAS_MN, so2: float = 20.0) -> SimStation:
    codes = ("a21026", "a19001", "a00000", "a01012")
    spec = DeviceSpec(mn=mn, pw="123456", st=31, edition=2017, pollutants=codes,
                      baselines={"a21026": so2, "a19001": 9.0, "a00000": 80.0,
                                 "a01012": 90.0})
    return SimStation(spec, rtd_interval=60, min_interval=10,
                      limits={"a21026": Limits(limit_high=50.0)})


def water() -> SimStation:
    codes = ("w00000", "w01001", "w01018")
    spec = DeviceSpec(mn=WATER_MN, pw="123456", st=32, edition=2017, pollutants=codes,
                      baselines={"w00000": 50.0, "w01001": 7.4, "w01018": 15.0})
    return SimStation(spec, rtd_interval=30, min_interval=10,
                      limits={"w01018": Limits(limit_high=50.0)})


def run(sim: SimStation, entry: dict[str, Any] | None, hours: float = 4,
        fleet: list[SimStation] | None = None) -> tuple[list[hj212.Frame], list[bytes],
                                                         list[dict[str, Any]]]:
    """Frames (parsed and raw) of ``sim`` over ``hours`` with the fault, and the truth."""
    truth = GroundTruth()
    specs = parse_script({"fault": [entry]}) if entry else []
    faults = assign(specs, fleet or [sim], START, seed=1)
    lg = VirtualLogger(sim, start=START, seed=1, faults=faults.get(sim.mn, []),
                       truth=truth, restart_notice=False)
    raws: list[bytes] = []
    # step through time as the fleet does, so window-end actions (resends) happen
    t = START
    while t < START + timedelta(hours=hours):
        t += timedelta(minutes=5)
        raws += lg.advance(t, 0.0)
    truth.close()
    return [hj212.parse(r) for r in raws], raws, truth.lines


def records(frames: list[hj212.Frame], cn: str, code: str, field: str) -> dict[str, float]:
    return {f.data_time or "": float(f.pollutants[code][field])
            for f in frames if f.cn == cn and code in f.pollutants}


def flags(frames: list[hj212.Frame], cn: str, code: str) -> dict[str, str]:
    return {f.data_time or "": str(f.pollutants[code]["Flag"])
            for f in frames if f.cn == cn and code in f.pollutants}


def inside(series: dict[str, Any], lo: str, hi: str) -> dict[str, Any]:
    return {t: v for t, v in series.items() if lo <= t < hi}


def outside(series: dict[str, Any], lo: str, hi: str) -> dict[str, Any]:
    return {t: v for t, v in series.items() if not lo <= t < hi}


W = ("20240301010000", "20240301030000")  # the faults' window below: 01:00 to 03:00
WINDOW = {"start": "1h", "duration": "2h"}


def test_a_stop_flags_every_channel_f_with_zero_flow_and_o2_at_air() -> None:
    frames, _, truth = run(gas(), {"kind": "stop", "pollutant": "*", **WINDOW})
    clean, _, _ = run(gas(), None)
    for code in ("a21026", "a19001", "a00000", "a01012"):
        assert set(inside(flags(frames, "2011", code), *W).values()) == {"F"}, code
        assert set(outside(flags(frames, "2011", code), *W).values()) == {"N"}, code
        assert set(inside(flags(frames, "2061", code), *W).values()) == {"F"}, code
    assert set(inside(records(frames, "2011", "a00000", "Rtd"), *W).values()) == {0.0}
    assert set(inside(records(frames, "2011", "a21026", "Rtd"), *W).values()) == {0.0}
    assert set(inside(records(frames, "2011", "a19001", "Rtd"), *W).values()) == {20.9}
    assert set(inside(records(frames, "2061", "a19001", "Avg"), *W).values()) == {20.9}
    # temperature reads on; outside the stop everything is as without it
    temp = records(frames, "2011", "a01012", "Rtd")
    assert temp == records(clean, "2011", "a01012", "Rtd")
    assert outside(records(frames, "2011", "a00000", "Rtd"), *W) == outside(
        records(clean, "2011", "a00000", "Rtd"), *W)
    # the flag alarm is the only rule a stop may raise: one truth line per channel
    assert sorted((t["pollutant"], t["rule"]) for t in truth) == sorted(
        (c, "non_n_flag") for c in ("a21026", "a19001", "a00000", "a01012"))


def test_low_resolution_has_min_below_max_and_equal_averages_and_no_rule() -> None:
    entry = {"kind": "low_resolution", "pollutant": "w01001", "start": "0h",
             "duration": "6h"}
    frames, _, truth = run(water(), entry, hours=6)
    clean, _, _ = run(water(), None, hours=6)
    hourly = records(frames, "2061", "w01001", "Avg")
    lo = records(frames, "2061", "w01001", "Min")
    hi = records(frames, "2061", "w01001", "Max")
    assert len(hourly) >= 5 and len(set(hourly.values())) == 1
    assert all(lo[t] < hi[t] for t in hourly)
    ten_minutes = records(frames, "2051", "w01001", "Avg")
    assert len(set(ten_minutes.values())) <= 2
    assert all(a < b for a, b in zip(records(frames, "2051", "w01001", "Min").values(),
                                      records(frames, "2051", "w01001", "Max").values(),
                                      strict=True))
    # the real-time values move by the resolution's steps (0.01), never in between
    rtd = list(records(frames, "2011", "w01001", "Rtd").values())
    assert len(set(rtd)) >= 3
    assert all(abs(v * 100 - round(v * 100)) < 1e-6 for v in rtd)
    # without the trap the pH follows its day: the hourly averages differ
    assert len(set(records(clean, "2061", "w01001", "Avg").values())) > 1
    assert [(t["kind"], t["rule"], t["pollutant"]) for t in truth] == [
        ("low_resolution", None, "w01001")]


def test_a_resend_repeats_the_hours_frames_byte_for_byte() -> None:
    entry = {"kind": "resend", "start": "1h", "duration": "1h"}
    frames, raws, truth = run(water(), entry)
    _, clean_raws, _ = run(water(), None)
    counts = Counter(raws)
    twice = [r for r, n in counts.items() if n == 2]
    # 120 real-time records at 30 s and 6 ten-minute records in the hour, each twice
    resent = Counter(hj212.parse(r).cn for r in twice)
    assert resent == {"2011": 120, "2051": 6}
    # the frames that left in the hour: a minute record leaves at its period's end
    sent = {(f.cn, f.data_time) for f in map(hj212.parse, twice)}
    assert {t for cn, t in sent if cn == "2011"} == {
        f"2024030101{m:02d}{s:02d}" for m in range(60) for s in (0, 30)}
    assert {t for cn, t in sent if cn == "2051"} == {
        f"20240301{h:02d}{m:02d}00" for h, m in ((0, 50), (1, 0), (1, 10), (1, 20), (1, 30),
                                                  (1, 40))}
    assert max(Counter(clean_raws).values()) == 1
    # the copies come after the hour, not beside the originals
    first_copy = min(i for i, r in enumerate(raws) if r in twice and raws.index(r) != i)
    assert (frames[first_copy - 1].data_time or "") >= "20240301020000"
    assert [(t["kind"], t["rule"]) for t in truth] == [("resend", None)]
    assert truth[0]["windows"]["2011"] == ["2024-03-01T01:00:00", "2024-03-01T01:59:30"]


def test_a_conflict_sends_the_same_data_time_with_other_values() -> None:
    entry = {"kind": "conflict", "start": "1h", "duration": "10m"}
    frames, _, truth = run(water(), entry, hours=2)
    by_time: dict[str, list[float]] = {}
    for f in frames:
        if f.cn == "2011":
            by_time.setdefault(f.data_time or "", []).append(float(f.pollutants["w01018"]["Rtd"]))
    doubled = {t: v for t, v in by_time.items() if len(v) > 1}
    assert sorted(doubled) == [f"2024030101{m:02d}{s:02d}" for m in range(10)
                               for s in (0, 30)]
    assert all(len(v) == 2 and v[1] == pytest.approx(v[0] * 1.05 + 0.1, abs=0.11)
               for v in doubled.values())
    assert [(t["kind"], t["rule"]) for t in truth] == [("conflict", "time_conflict")]


def test_o2_conversion_breaks_zsavg_against_o2() -> None:
    entry = {"kind": "o2_conversion", "pollutant": "a21026", **WINDOW}
    frames, _, truth = run(gas(), entry)
    avg = records(frames, "2061", "a21026", "Avg")
    zs = records(frames, "2061", "a21026", "ZsAvg")
    o2 = records(frames, "2061", "a19001", "Avg")

    def ratio(t: str) -> float:  # ZsAvg over what the reference O2 of 6 % makes of Avg
        return zs[t] / (avg[t] * 15 / (21 - o2[t]))

    assert all(ratio(t) == pytest.approx(1, abs=0.01) for t in outside(avg, *W))
    # converted with O2 3 % too low: x (21 - O2) / (24 - O2)
    assert all(ratio(t) == pytest.approx((21 - o2[t]) / (24 - o2[t]), abs=0.01)
               for t in inside(avg, *W))
    assert len(inside(avg, *W)) == 2
    assert [(t["rule"], t["pollutant"]) for t in truth] == [("clue_o2_conversion", "a21026")]


def test_stopped_unflagged_is_a_stop_flagged_n_with_one_truth_line() -> None:
    frames, _, truth = run(gas(), {"kind": "stopped_unflagged", **WINDOW})
    assert set(inside(records(frames, "2011", "a00000", "Rtd"), *W).values()) == {0.0}
    assert set(inside(records(frames, "2011", "a19001", "Rtd"), *W).values()) == {20.9}
    assert set(outside(records(frames, "2011", "a00000", "Rtd"), *W).values()) != {0.0}
    assert {f for c in ("a21026", "a19001", "a00000")
            for f in flags(frames, "2011", c).values()} == {"N"}
    assert [(t["rule"], t["pollutant"]) for t in truth] == [("clue_stopped_unflagged", None)]


def test_flagged_running_flags_f_on_normal_values() -> None:
    frames, _, truth = run(gas(), {"kind": "flagged_running", **WINDOW})
    clean, _, _ = run(gas(), None)
    assert records(frames, "2011", "a00000", "Rtd") == records(clean, "2011", "a00000", "Rtd")
    for code in ("a21026", "a00000"):
        assert set(inside(flags(frames, "2011", code), *W).values()) == {"F"}
        assert set(outside(flags(frames, "2011", code), *W).values()) == {"N"}
    assert [(t["rule"], t["pollutant"]) for t in truth] == [("clue_flagged_running", None)]


def test_hour_vs_minute_scales_the_hourly_record_against_its_minutes() -> None:
    entry = {"kind": "hour_vs_minute", "pollutant": "w01018", **WINDOW}
    frames, _, truth = run(water(), entry)
    hourly = records(frames, "2061", "w01018", "Avg")
    minutes = records(frames, "2051", "w01018", "Avg")

    def minute_mean(hour: str) -> float:
        return statistics.fmean(v for t, v in minutes.items() if t[:10] == hour[:10])

    for t, v in hourly.items():
        expected = 0.7 if W[0] <= t < W[1] else 1.0
        assert v / minute_mean(t) == pytest.approx(expected, abs=0.01), t
    assert [(t["rule"], t["pollutant"], t["cns"]) for t in truth] == [
        ("clue_hour_vs_minute", "w01018", [2061])]


def test_hour_vs_minute_drop_minutes_sends_hours_without_their_minutes() -> None:
    entry = {"kind": "hour_vs_minute", "drop_minutes": True, **WINDOW}
    lg_frames, _, truth = run(water(), entry)
    minutes = {f.data_time for f in lg_frames if f.cn == "2051"}
    hours = {f.data_time for f in lg_frames if f.cn == "2061"}
    assert not {t for t in minutes if t and W[0] <= t < W[1]}
    assert {"20240301010000", "20240301020000"} <= hours
    assert "20240301005000" in minutes and "20240301030000" in minutes
    assert [(t["rule"], t["pollutant"]) for t in truth] == [("clue_hour_vs_minute", None)]


def test_held_under_limit_holds_the_value_just_under_the_limit() -> None:
    entry = {"kind": "held_under_limit", "pollutant": "w01018", **WINDOW}
    frames, _, truth = run(water(), entry)
    held = list(inside(records(frames, "2011", "w01018", "Rtd"), *W).values())
    assert len(held) == 240 and all(0.92 * 50 <= v <= 0.96 * 50 for v in held)
    assert statistics.pstdev(held) / statistics.fmean(held) < 0.01
    assert max(outside(records(frames, "2011", "w01018", "Rtd"), *W).values()) < 40
    assert [(t["rule"], t["pollutant"], t["reference"]) for t in truth] == [
        ("clue_held_under_limit", "w01018", 50.0)]


def test_repeated_day_copies_the_day_before() -> None:
    entry = {"kind": "repeated_day", "start": "24h", "duration": "2h"}
    frames, _, truth = run(water(), entry, hours=27)
    clean, _, _ = run(water(), None, hours=27)
    for code in ("w00000", "w01018"):
        day1 = records(frames, "2011", code, "Rtd")
        copied = inside(day1, "20240302000000", "20240302020000")
        assert len(copied) == 240
        assert all(v == day1[t.replace("20240302", "20240301", 1)] for t, v in copied.items())
        natural = inside(records(clean, "2011", code, "Rtd"), "20240302000000",
                         "20240302020000")
        assert natural != {t: day1[t.replace("20240302", "20240301", 1)] for t in natural}
    assert [(t["rule"], t["pollutant"]) for t in truth] == [("clue_repeated_day", None)]


def test_twin_stations_send_the_same_series() -> None:
    source, twin = gas(GAS_MN), gas(GAS_MN2, so2=35.0)
    entry = {"kind": "twin_stations", "stations": GAS_MN2, "source": GAS_MN, **WINDOW}
    own, _, _ = run(source, None, fleet=[source, twin])
    frames, _, truth = run(twin, entry, fleet=[source, twin])
    for code in ("a21026", "a00000", "a19001"):
        mine = records(frames, "2061", code, "Avg")
        theirs = records(own, "2061", code, "Avg")
        assert inside(mine, *W) == inside(theirs, *W) and len(inside(mine, *W)) == 2
        assert all(mine[t] != theirs[t] for t in outside(mine, *W))
    assert [(t["rule"], t["pollutant"], t["source"]) for t in truth] == [
        ("clue_twin_stations", None, GAS_MN)]
