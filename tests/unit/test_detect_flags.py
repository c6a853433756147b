"""Flags first: what each value rule judges per instrument flag (rules file
``judged_flags``), a stopped source's frame, and how flagged stretches meet the streaks."""

from __future__ import annotations

import tomllib
from datetime import datetime

from pipeline.detect.context import StationContext
from pipeline.detect.model import AlarmEvent
from pipeline.detect.rules import DEFAULT_PATH, Rules
from pipeline.detect.station import DetectorBundle
from tests.unit.detect_helpers import GAS, T0, WATER, detector, every, feed, kinds, reading

STEP = 30


def _frame(det: DetectorBundle, state: dict, ctx: StationContext, when: datetime,
           values: dict[str, tuple[float, str | None]], cn: int = 2011) -> list[AlarmEvent]:
    """One real-time frame, each code with its own value and flag."""
    readings = [reading(ctx, cn, code, when, flag=flag, rtd=v)
                for code, (v, flag) in values.items()]
    return det.on_frame(state, readings, mn=ctx.mn, st=ctx.st, cn=cn, data_time=when,
                        receive_time=when).events


def opens(events: list[AlarmEvent], rule: str) -> list[tuple[str, str, str]]:
    return [k for k in kinds(events, rule) if k[2] == "open"]


def _zeros(flags: list[str], det: DetectorBundle | None = None) -> list[AlarmEvent]:
    """COD real-time values of zero, one frame per flag, after ten clean ones."""
    det, state = det or detector(), {}
    events: list[AlarmEvent] = []
    for i, when in enumerate(every(T0, STEP, 10 + len(flags))):
        value, flag = (30.0 + i % 3, "N") if i < 10 else (0.0, flags[i - 10])
        events += feed(det, state, WATER, 2011, when, {"w01018": {"rtd": value}}, flag=flag)
    return events


def test_f_flagged_zeros_raise_the_flag_alarm_not_a_zero_streak() -> None:
    # zero_streak[2011] is 10 in the rules file: 40 zeros are four times that
    assert opens(_zeros(["N"] * 40), "zero_streak") == [("zero_streak", "w01018", "open")]
    flagged = _zeros(["F"] * 40)
    assert kinds(flagged, "zero_streak") == []
    assert opens(flagged, "non_n_flag") == [("non_n_flag", "w01018", "open")]


def test_maintenance_calibration_and_fault_zeros_are_not_streaks_either() -> None:
    for flag in "MCD":
        assert kinds(_zeros([flag] * 80), "zero_streak") == [], flag


def test_a_flagged_stretch_neither_extends_nor_ends_a_run_but_a_stop_ends_it() -> None:
    # 8 zeros, a calibration of 5 (not counted), then 2 zeros: the tenth zero of the run
    assert kinds(_zeros(["N"] * 8 + ["C"] * 5 + ["N"] * 2), "zero_streak") == [
        ("zero_streak", "w01018", "open")]
    # ... one zero short of it after the calibration: the C values did not count
    assert kinds(_zeros(["N"] * 8 + ["C"] * 5 + ["N"] * 1), "zero_streak") == []
    # a stop between them: what follows the restart is a new run
    assert kinds(_zeros(["N"] * 8 + ["F"] * 5 + ["N"] * 9), "zero_streak") == []
    assert kinds(_zeros(["N"] * 8 + ["F"] * 5 + ["N"] * 10), "zero_streak") == [
        ("zero_streak", "w01018", "open")]


def _stop(o2_flag: str, pollutant_flag: str, hours: int = 5) -> list[AlarmEvent]:
    """A flue-gas plant before, during (zeros, O2 of air) and after a stop."""
    det, state = detector(), {}
    events: list[AlarmEvent] = []
    n = hours * 3600 // STEP
    for i, when in enumerate(every(T0, STEP, n + 240)):
        stopped = 120 <= i < 120 + n
        if stopped:
            values = {"a21026": (0.0, pollutant_flag), "a34013": (0.0, pollutant_flag),
                      "a00000": (0.0, pollutant_flag), "a19001": (20.9, o2_flag)}
        else:
            values = {"a21026": (40.0 + i % 5, "N"), "a34013": (8.0 + (i % 4) / 10, "N"),
                      "a00000": (90.0 + i % 7, "N"), "a19001": (9.0 + (i % 6) / 10, "N")}
        events += _frame(det, state, GAS, when, values)
    return events


def test_a_declared_stop_raises_only_the_flag_alarm_even_on_an_unflagged_o2() -> None:
    for o2_flag in ("F", "N"):
        events = _stop(o2_flag, "F")
        assert {e.rule for e in events} == {"non_n_flag"}, o2_flag
        flagged = {"a21026", "a34013", "a00000"} | ({"a19001"} if o2_flag == "F" else set())
        assert {e.code for e in events if e.transition == "open"} == flagged


def test_a_stop_nobody_flagged_is_judged_as_valid_data() -> None:
    events = _stop("N", "N")
    opened = {(e.rule, e.code) for e in events if e.transition == "open"}
    assert ("constant_streak", "a19001") in opened  # 20.9 % for five hours, flagged N
    assert {("zero_streak", c) for c in ("a21026", "a34013", "a00000")} <= opened


def test_calibration_gas_is_no_spike_and_stays_out_of_the_window() -> None:
    def run(flag: str) -> list[AlarmEvent]:
        det, state = detector(), {}
        events: list[AlarmEvent] = []
        for i, when in enumerate(every(T0, STEP, 200)):
            value, f = (8.0 + (i % 4) / 10, "N")
            if 100 <= i < 104:  # two minutes at ten times the level
                value, f = value * 10, flag
            events += feed(det, state, GAS, 2011, when, {"a34013": {"rtd": value}}, flag=f)
        return events

    assert kinds(run("N"), "spike") == [("spike", "a34013", "open"),
                                        ("spike", "a34013", "clear")]
    assert kinds(run("C"), "spike") == []


def test_negative_is_judged_on_hand_set_values_not_on_calibration() -> None:
    det = detector()
    assert kinds(feed(det, {}, WATER, 2011, T0, {"w01018": {"rtd": -2.0}}, flag="C"),
                 "negative") == []
    assert kinds(feed(det, {}, WATER, 2011, T0, {"w01018": {"rtd": -2.0}}, flag="S"),
                 "negative") == [("negative", "w01018", "open")]


def test_out_of_range_leaves_t_to_the_flag_alarm() -> None:
    det = detector()
    over = {"w01018": {"rtd": 300.0}}  # range 0..200
    assert kinds(feed(det, {}, WATER, 2011, T0, over, flag="T"), "out_of_range") == []
    assert kinds(feed(det, {}, WATER, 2011, T0, over, flag="N"), "out_of_range") == [
        ("out_of_range", "w01018", "open")]


def test_over_limit_counts_only_valid_data_and_a_stopped_frame_is_not_valid() -> None:
    hour = {"min": 70.0, "avg": 80.0, "max": 90.0}  # COD limit 50
    det = detector()
    events = det.on_frame({}, [reading(WATER, 2061, "w01018", T0, flag="N", **hour),
                               reading(WATER, 2061, "w00000", T0, flag="F", avg=0.0)],
                          mn=WATER.mn, st=WATER.st, cn=2061, data_time=T0,
                          receive_time=T0).events
    assert kinds(events, "over_limit") == []
    alone = feed(det, {}, WATER, 2061, T0, {"w01018": hour}, flag="N")
    assert kinds(alone, "over_limit") == [("over_limit", "w01018", "open")]
    # no flag at all counts as N (an empty one too)
    assert kinds(feed(det, {}, WATER, 2061, T0, {"w01018": hour}, flag=""), "over_limit") == [
        ("over_limit", "w01018", "open")]


def test_the_loggers_arithmetic_is_judged_whatever_the_flag() -> None:
    bad = {"w01018": {"min": 40.0, "avg": 30.0, "max": 50.0}}
    for flag in "NFMCD":
        assert kinds(feed(detector(), {}, WATER, 2061, T0, bad, flag=flag),
                     "logic_min_avg_max") == [("logic_min_avg_max", "w01018", "open")], flag


def test_judged_flags_is_read_from_the_rules_file() -> None:
    raw = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw["station"] = {WATER.mn: {"judged_flags": {"zero_streak": "NF"}}}
    det = DetectorBundle(Rules(raw), {WATER.mn: WATER})
    assert opens(_zeros(["F"] * 40, det), "zero_streak") == [("zero_streak", "w01018", "open")]


def test_the_packaged_table_says_what_the_rules_file_comments_say() -> None:
    th = Rules.load().for_("X", "32", "w01018")
    table = {rule: "".join(f for f in "NFMCDSTB" if th.judges(rule, f))
             for rule in ("negative", "zero_streak", "constant_streak", "out_of_range",
                          "spike", "over_limit", "logic_min_avg_max")}
    assert table == {"negative": "NST", "zero_streak": "N", "constant_streak": "N",
                     "out_of_range": "NS", "spike": "N", "over_limit": "N",
                     "logic_min_avg_max": "NFMCDSTB"}
