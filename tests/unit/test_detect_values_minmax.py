"""Period records carry their own evidence: a record whose Min is below its Max moved
within its period, so it is not part of a constant streak; a zero Avg is a zero only if
the record's Min, Max and Cou are zeros too."""

from __future__ import annotations

from datetime import timedelta

from pipeline.detect.model import AlarmEvent
from tests.unit.detect_helpers import T0, WATER, detector, feed, kinds

PH = "w01001"


def _records(cn: int, step: timedelta, n: int, fields: dict[str, float],
             code: str = PH) -> list[AlarmEvent]:
    det, state = detector(), {}
    events: list[AlarmEvent] = []
    for i in range(n):
        events += feed(det, state, WATER, cn, T0 + i * step, {code: dict(fields)})
    return events


def test_ph_at_its_resolution_with_min_below_max_is_no_constant_streak() -> None:
    # pH's constant_streak: 6 hourly records, 12 ten-minute records (rules file); a day
    # of each is far more
    moving = {"min": 7.19, "avg": 7.21, "max": 7.23}
    assert _records(2061, timedelta(hours=1), 24, moving) == []
    assert _records(2051, timedelta(minutes=10), 144, moving) == []


def test_the_same_records_with_min_equal_to_max_are_a_constant_streak() -> None:
    stuck = {"min": 7.21, "avg": 7.21, "max": 7.21}
    for cn, step, n in ((2061, timedelta(hours=1), 24), (2051, timedelta(minutes=10), 144)):
        opened = [k for k in kinds(_records(cn, step, n, stuck)) if k[2] == "open"]
        assert opened == [("constant_streak", PH, "open")], cn


def test_records_without_min_and_max_are_judged_by_their_avg_alone() -> None:
    opened = [k for k in kinds(_records(2061, timedelta(hours=1), 24, {"avg": 7.21}))
              if k[2] == "open"]
    assert opened == [("constant_streak", PH, "open")]


def test_a_moving_record_ends_a_run_the_next_still_records_start_anew() -> None:
    det, state = detector(), {}
    events: list[AlarmEvent] = []
    stuck = {"min": 7.21, "avg": 7.21, "max": 7.21}
    moving = {"min": 7.19, "avg": 7.21, "max": 7.23}
    # 5 stuck hours, one that moved, 5 stuck: never the 6 in a row pH needs
    for i, fields in enumerate([stuck] * 5 + [moving] + [stuck] * 5):
        events += feed(det, state, WATER, 2061, T0 + timedelta(hours=i), {PH: fields})
    assert kinds(events, "constant_streak") == []
    events += feed(det, state, WATER, 2061, T0 + timedelta(hours=11), {PH: stuck})
    assert kinds(events, "constant_streak") == [("constant_streak", PH, "open")]


def test_a_zero_avg_is_a_zero_only_if_the_whole_period_read_zero() -> None:
    # zero_streak[2061] is 2: a day of zero hourly averages is a streak, unless the
    # period's Max (or its Cou) shows the flow was not zero
    flow = "w00000"
    zero = {"min": 0.0, "avg": 0.0, "max": 0.0, "cou": 0.0}
    opened = [k for k in kinds(_records(2061, timedelta(hours=1), 24, zero, flow))
              if k[2] == "open"]
    assert opened == [("zero_streak", flow, "open")]
    blips = {"min": 0.0, "avg": 0.0, "max": 0.4, "cou": 0.0}
    assert kinds(_records(2061, timedelta(hours=1), 24, blips, flow), "zero_streak") == []
    trickle = {"avg": 0.0, "cou": 0.01}
    assert kinds(_records(2061, timedelta(hours=1), 24, trickle, flow), "zero_streak") == []
