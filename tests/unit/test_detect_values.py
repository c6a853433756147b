"""Every abnormal-value rule: fires on a scripted sequence, clears, silent on clean data."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.detect_helpers import (
    GAS,
    T0,
    WATER,
    Clean,
    detector,
    every,
    feed,
    kinds,
    rtd_frame,
)

WATER_CODES = ["w00000", "w01018", "w21003", "w01001"]
GAS_CODES = ["a21026", "a34013", "a19001", "a00000"]


def _run_rtd(ctx, codes, n, override=None, start=T0, state=None, det=None, gas=False):
    """n real-time frames of clean values, with override(i, values) changing some."""
    det = det or detector()
    state = {} if state is None else state
    clean = Clean(codes)
    events = []
    for i, when in enumerate(every(start, 30, n)):
        values = clean.sample(when)
        if override:
            override(i, values)
        events += feed(det, state, ctx, 2011, when, rtd_frame(values, gas=gas))
    return events


def test_clean_real_time_data_raise_nothing():
    assert _run_rtd(WATER, WATER_CODES, 2880) == []
    assert _run_rtd(GAS, GAS_CODES, 2880, gas=True) == []


def test_negative_fires_and_clears():
    def neg(i, v):
        if 100 <= i < 110:
            v["w00000"] = -abs(v["w00000"])

    events = _run_rtd(WATER, WATER_CODES, 200, neg)
    assert kinds(events) == [("negative", "w00000", "open"), ("negative", "w00000", "clear")]
    opened = events[0]
    assert opened.first_seen == T0 + timedelta(seconds=30 * 100)
    assert opened.evidence["value"] < 0


def test_zero_streak_fires_after_its_length_and_clears():
    def zero(i, v):
        if 100 <= i < 109:
            v["w01018"] = 0.0

    assert _run_rtd(WATER, WATER_CODES, 200, zero) == []  # 9 < 10 zeros: silent

    def zero_long(i, v):
        if 100 <= i < 140:
            v["w01018"] = 0.0

    events = _run_rtd(WATER, WATER_CODES, 200, zero_long)
    steps = kinds(events)
    assert steps[0] == ("zero_streak", "w01018", "open")
    assert steps[-1] == ("zero_streak", "w01018", "clear")
    # 31 samples of evidence over 15 minutes: updates at most every 300 s, no new alarm
    assert set(steps[1:-1]) == {("zero_streak", "w01018", "update")}
    assert len(steps[1:-1]) == 3
    assert events[0].first_seen == T0 + timedelta(seconds=30 * 100)


def test_constant_streak_needs_count_and_duration_then_clears():
    def stuck(i, v):
        if 100 <= i < 220:  # an hour
            v["w21003"] = 1.23

    events = kinds(_run_rtd(WATER, WATER_CODES, 300, stuck), "constant_streak")
    assert events[0] == ("constant_streak", "w21003", "open")
    assert events[-1] == ("constant_streak", "w21003", "clear")

    def short(i, v):
        if 100 <= i < 140:  # 20 minutes: shorter than constant_min_duration_s
            v["w21003"] = 1.23

    assert _run_rtd(WATER, WATER_CODES, 300, short) == []


def test_out_of_range_fires_and_clears_and_leaves_negatives_to_their_rule():
    def high(i, v):
        if 50 <= i < 60:
            v["w01018"] = 300.0  # range 0..200

    events = _run_rtd(WATER, WATER_CODES, 100, high)
    assert kinds(events, "out_of_range") == [("out_of_range", "w01018", "open"),
                                             ("out_of_range", "w01018", "clear")]
    assert events[0].evidence["range_high"] == 200


def test_spike_fires_on_a_short_excursion_once_it_returns():
    def spike(i, v):
        if 100 <= i < 104:  # two minutes at 10x
            v["a34013"] *= 10

    events = _run_rtd(GAS, GAS_CODES, 200, spike, gas=True)
    assert kinds(events) == [("spike", "a34013", "open"), ("spike", "a34013", "clear")]
    assert events[0].first_seen == T0 + timedelta(seconds=30 * 100)
    assert events[0].evidence["samples"] == 4


def test_a_level_shift_is_not_a_spike():
    def shift(i, v):
        if i >= 100:  # over the limit and staying there
            v["w01018"] = 80.0 + (i % 3)

    assert kinds(_run_rtd(WATER, WATER_CODES, 200, shift), "spike") == []


def test_non_n_flag_respects_minimum_duration_and_clears():
    det, state = detector(), {}
    events = []
    for i, when in enumerate(every(T0, 30, 200)):
        flag = "C" if 20 <= i < 40 else "N"  # 10 min calibration: below 1200 s
        events += feed(det, state, WATER, 2011, when, {"w01018": {"rtd": 30.0 + i % 5}},
                       flag=flag)
    assert kinds(events, "non_n_flag") == []
    for i, when in enumerate(every(T0 + timedelta(hours=2), 30, 200)):
        flag = "D" if 20 <= i < 25 else "N"  # instrument fault: at once
        events += feed(det, state, WATER, 2011, when, {"w01018": {"rtd": 30.0 + i % 5}},
                       flag=flag)
    assert kinds(events) == [("non_n_flag", "w01018", "open"),
                             ("non_n_flag", "w01018", "clear")]
    assert events[0].severity == "major"
    assert events[0].evidence["flag"] == "D"


def _hour(avg, *, code="w01018", flag="N", lo=None, hi=None):
    return {code: {"min": lo if lo is not None else avg * 0.8, "avg": avg,
                   "max": hi if hi is not None else avg * 1.2}}


def test_over_limit_on_hourly_avg_fires_and_clears():
    det, state = detector(), {}
    events = []
    for i, avg in enumerate([30, 32, 80, 81, 31, 30]):
        events += feed(det, state, WATER, 2061, T0 + timedelta(hours=i), _hour(avg))
    # the second hour over the limit updates the episode instead of raising another
    assert kinds(events) == [("over_limit", "w01018", "open"),
                             ("over_limit", "w01018", "update"),
                             ("over_limit", "w01018", "clear")]
    assert events[0].evidence["threshold"] == 50
    assert events[0].severity == "critical"


def test_over_limit_uses_zs_avg_for_flue_gas_and_ignores_invalid_data():
    det, state = detector(), {}
    hour = {"a21026": {"avg": 90.0, "zs_avg": 120.0}, "a19001": {"avg": 9.0}}
    events = feed(det, state, GAS, 2061, T0, hour)
    assert kinds(events, "over_limit") == [("over_limit", "a21026", "open")]
    det, state = detector(), {}
    assert kinds(feed(det, state, WATER, 2061, T0 + timedelta(hours=1), _hour(80), flag="M"),
                 "over_limit") == []
    # out of the instrument range: invalid, so not an exceedance (out_of_range says it)
    assert kinds(feed(det, state, WATER, 2061, T0 + timedelta(hours=2), _hour(300)),
                 "over_limit") == []


def test_over_limit_below_a_lower_limit():
    det, state = detector(), {}
    events = feed(det, state, WATER, 2061, T0, _hour(5.1, code="w01001", lo=5.0, hi=5.2))
    assert kinds(events, "over_limit") == [("over_limit", "w01001", "open")]


def test_logic_min_avg_max_fires_and_clears():
    det, state = detector(), {}
    bad = feed(det, state, WATER, 2061, T0, _hour(30, lo=40, hi=50))
    good = feed(det, state, WATER, 2061, T0 + timedelta(hours=1), _hour(30))
    assert kinds(bad + good) == [("logic_min_avg_max", "w01018", "open"),
                                 ("logic_min_avg_max", "w01018", "clear")]


def test_zs_without_o2_fires_and_clears():
    det, state = detector(), {}
    events = []
    for i, when in enumerate(every(T0, 30, 20)):
        frame = {"a21026": {"rtd": 40.0 + i % 3, "zs_rtd": 50.0 + i % 3}}
        if i >= 5:
            frame["a19001"] = {"rtd": 9.0 + (i % 4) / 10}
        events += feed(det, state, GAS, 2011, when, frame)
    assert kinds(events) == [("logic_zs_without_o2", "", "open"),
                             ("logic_zs_without_o2", "", "clear")]


def _water_hour(flow_avg, flow_cou, cod_avg, cod_cou):
    return {"w00000": {"min": flow_avg * 0.9, "avg": flow_avg, "max": flow_avg * 1.1,
                       "cou": flow_cou},
            "w01018": {"min": cod_avg * 0.9, "avg": cod_avg, "max": cod_avg * 1.1,
                       "cou": cod_cou}}


def test_cou_against_flow_and_concentration():
    det, state = detector(), {}
    volume = 60.0 * 3600 * 1e-3  # 60 L/s for an hour: 216 m3
    ok = _water_hour(60.0, volume, 30.0, 30.0 * volume * 1e-3)
    assert feed(det, state, WATER, 2061, T0, ok) == []
    bad = _water_hour(60.0, volume, 30.0, 10 * 30.0 * volume * 1e-3)  # Cou 10x
    events = feed(det, state, WATER, 2061, T0 + timedelta(hours=1), bad)
    events += feed(det, state, WATER, 2061, T0 + timedelta(hours=2), ok)
    assert kinds(events, "logic_cou") == [("logic_cou", "w01018", "open"),
                                          ("logic_cou", "w01018", "clear")]
    bad_flow = _water_hour(60.0, volume * 2, 30.0, 30.0 * volume * 2e-3)
    events = feed(det, state, WATER, 2061, T0 + timedelta(hours=3), bad_flow)
    assert kinds(events, "logic_cou") == [("logic_cou", "w00000", "open")]


def test_cou_for_flue_gas_uses_its_units():
    det, state = detector(), {}
    volume = 90.0 * 3600  # m3/s for an hour
    hour = {"a00000": {"avg": 90.0, "cou": volume},
            "a21026": {"avg": 40.0, "zs_avg": 50.0, "cou": 40.0 * volume * 1e-6},
            "a19001": {"avg": 9.0}}
    assert feed(det, state, GAS, 2061, T0, hour) == []


def test_time_future_fires_and_clears():
    det, state = detector(), {}
    events = []
    for i, when in enumerate(every(T0, 30, 20)):
        received = when - timedelta(hours=1) if i < 3 else when
        events += feed(det, state, WATER, 2011, when, {"w01018": {"rtd": 30.0 + i % 4}},
                       received=received)
    assert kinds(events) == [("time_future", "", "open"), ("time_future", "", "clear")]


def test_time_stale_for_real_time_but_not_for_resends():
    det, state = detector(), {}
    events = []
    for i, when in enumerate(every(T0, 30, 20)):
        received = when + timedelta(hours=2) if i < 3 else when
        events += feed(det, state, WATER, 2011, when, {"w01018": {"rtd": 30.0 + i % 4}},
                       received=received, resent=False)
    assert kinds(events) == [("time_stale", "", "open"), ("time_stale", "", "clear")]
    det, state = detector(), {}
    late = T0 + timedelta(hours=3)
    assert feed(det, state, WATER, 2011, T0, {"w01018": {"rtd": 30.0}}, received=late,
                resent=True) == []


def test_time_conflict_on_a_resend_with_other_values():
    det, state = detector(), {}
    first = feed(det, state, WATER, 2061, T0, _hour(30))
    same = feed(det, state, WATER, 2061, T0, _hour(30))  # an identical resend is normal
    other = feed(det, state, WATER, 2061, T0, _hour(33))
    later = feed(det, state, WATER, 2061, T0 + timedelta(hours=1), _hour(31))
    assert first == [] and same == []
    assert kinds(other + later) == [("time_conflict", "w01018", "open"),
                                    ("time_conflict", "w01018", "clear")]
    assert other[0].evidence["changed"]["avg"] == [30.0, 33.0]


def test_state_is_json_and_a_restored_state_continues():
    import json

    det, state = detector(), {}
    clean = Clean(WATER_CODES)
    events = []
    for i, when in enumerate(every(T0, 30, 100)):
        values = clean.sample(when)
        if i >= 95:
            values["w01018"] = 0.0
        events += feed(det, state, WATER, 2011, when, rtd_frame(values))
        state = json.loads(json.dumps(state))  # as the changelog gives it back
    assert events == []
    for when in every(T0 + timedelta(seconds=3000), 30, 5):
        events += feed(detector(), state, WATER, 2011, when, {"w01018": {"rtd": 0.0}})
    assert kinds(events) == [("zero_streak", "w01018", "open")]
