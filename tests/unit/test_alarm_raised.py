"""When, from what and by which rule an alarm was raised (issue 13, item 4): the episode
keeps the opening's wall time, data time and data type; every step of the alarm, the
``alarms`` row and the ``hj212.alarms`` message carry them; the notices, the run screen
and the duty desk say them. Expected times are worked out here from the scripted input."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboards import duty_figures as fig
from pipeline.alarm_feed import alarm_line
from pipeline.detect.episodes import Episodes, Observation
from pipeline.detect.missing import MissingData
from pipeline.detect.model import AlarmEvent, AlarmStep, Reading
from pipeline.detect.station import DetectorBundle
from pipeline.notify import render
from pipeline.notify.model import Alarm, Item, Notification, Receiver
from pipeline.stream.builtin import NegativeValue
from pipeline.stream.sinks import AlarmSink, alarm_record
from pipeline.timebase import unix_s_from_local
from tests.unit.detect_helpers import T0, WATER, WATER_MN, every

HOUR = timedelta(hours=1)


def ob(at: datetime, hit: bool, cn: int = 2061, first: datetime | None = None
       ) -> Observation:
    return Observation(WATER_MN, "w01018", "zero_streak", cn, at, hit, "major", "m", {},
                       first=first)


# --- the episode keeps the opening's values ------------------------------------------------


def test_the_open_records_the_frame_receive_time_and_every_later_step_carries_it():
    ep, state = Episodes(), {}
    # the hourly record of 08:00 arrives at 09:00:07 and opens the alarm
    received = T0 + HOUR + timedelta(seconds=7)
    opened = ep.fold_alarms(state, [ob(T0, True, first=T0)], received=received)
    assert [s.event.transition for s in opened] == ["open"]
    step = opened[0]
    assert step.raised_at == datetime(2024, 3, 1, 9, 0, 7)
    assert step.raised_data_time == datetime(2024, 3, 1, 8, 0)
    assert step.opened_cn == 2061 and step.rule_class == "value"
    # later evidence from the minute data, received much later, and late evidence that
    # began before the opening: the evidence's start moves, the alarm's id and its
    # raised values do not
    later = T0 + 3 * HOUR
    update = ep.fold_alarms(state, [ob(T0 + 2 * HOUR, True, cn=2051,
                                       first=T0 - 2 * HOUR)], received=later)
    assert [s.event.transition for s in update] == ["update"]
    u = update[0]
    assert u.event.cn == 2051 and u.opened_cn == 2061
    assert u.raised_at == datetime(2024, 3, 1, 9, 0, 7)
    assert u.raised_data_time == datetime(2024, 3, 1, 8, 0)
    assert u.evidence_began == datetime(2024, 3, 1, 6, 0) and u.opened_at == T0
    cleared = ep.fold_alarms(
        state, [ob(T0 + (4 + i) * HOUR, False, cn=c) for i in range(12) for c in (2061, 2051)],
        received=later + 5 * HOUR)
    assert [s.event.transition for s in cleared] == ["clear"]
    assert cleared[0].raised_at == datetime(2024, 3, 1, 9, 0, 7)
    assert cleared[0].opened_cn == 2061


def test_without_a_receive_time_the_raised_time_is_unknown_and_fold_still_works():
    ep, state = Episodes(), {}
    steps = ep.fold_alarms(state, [ob(T0, True)])
    assert steps[0].raised_at is None and steps[0].raised_data_time == T0
    _, events = Episodes().fold({}, [ob(T0, True)], "32")  # the reference's call
    assert [e.transition for e in events] == ["open"]


def test_the_bundle_passes_the_frame_receive_time():
    bundle, state = DetectorBundle(contexts={WATER_MN: WATER}), {}
    received = T0 + timedelta(minutes=10, seconds=3)
    reading = Reading(WATER_MN, "32", 2051, "w01018", T0, received,
                      {"min": -4.0, "avg": -3.0, "max": -2.0}, "N")
    out = bundle.on_frame(state, [reading], mn=WATER_MN, st="32", cn=2051, data_time=T0,
                          receive_time=received)
    negative = [s for s in out.alarms if s.event.rule == "negative"]
    assert negative and negative[0].event.transition == "open"
    assert negative[0].raised_at == received and negative[0].raised_data_time == T0
    assert negative[0].opened_cn == 2051


def test_the_wiring_detector_keeps_the_raised_values_too():
    det, state = NegativeValue(), {}
    received = T0 + timedelta(seconds=31)

    def frame(when: datetime, value: float, got: datetime) -> list[AlarmStep]:
        r = Reading(WATER_MN, "32", 2011, "w01018", when, got, {"rtd": value})
        return det.on_frame(state, [r], mn=WATER_MN, st="32", cn=2011, data_time=when,
                            receive_time=got).alarms

    first = frame(T0, -1.0, received)
    later = frame(T0 + timedelta(seconds=30), 5.0, received + timedelta(minutes=3))
    assert [s.event.transition for s in first + later] == ["open", "clear"]
    assert {s.raised_at for s in first + later} == {received}
    assert {s.raised_data_time for s in first + later} == {T0}


# --- clock-driven alarms: the tick's clock, the due time missed ---------------------------


def test_offline_and_missing_are_raised_at_the_tick_for_the_due_time_missed():
    bundle, state = DetectorBundle(contexts={WATER_MN: WATER}), {}
    for when in every(T0, 600, 6):  # minute records 08:00..08:50, each sent at its end
        bundle.on_frame(state, [], mn=WATER_MN, st="32", cn=2051, data_time=when,
                        receive_time=when + timedelta(seconds=600))
    steps: list[AlarmStep] = []
    now = T0 + HOUR
    while now <= T0 + 3 * HOUR:
        steps += bundle.tick(state, WATER_MN, now).alarms
        now += timedelta(minutes=1)
    by = {s.event.rule: s for s in steps}
    assert [(s.event.rule, s.event.transition) for s in steps] == [
        ("offline", "open"), ("missing", "open")]
    # last heard 09:00; offline after 900 s of silence: due by 09:15, found by the
    # first tick past it (09:16)
    assert by["offline"].raised_data_time == datetime(2024, 3, 1, 9, 15)
    assert by["offline"].raised_at == datetime(2024, 3, 1, 9, 16)
    assert by["offline"].rule_class == "station"
    # the record of 09:00 was due by 09:13 (sent 09:10, 180 s tolerance), its gap found
    # at 09:14; the missing alarm is raised 1800 s later
    assert by["missing"].raised_data_time == datetime(2024, 3, 1, 9, 0)
    assert by["missing"].raised_at == datetime(2024, 3, 1, 9, 44)
    assert by["missing"].opened_cn == 2051
    # back online: the clear carries the opening's raised values
    back = T0 + 4 * HOUR
    out = bundle.on_frame(state, [], mn=WATER_MN, st="32", cn=2051, data_time=back,
                          receive_time=back + timedelta(seconds=600))
    clear = [s for s in out.alarms if s.event.rule == "offline"]
    assert [s.event.transition for s in clear] == ["clear"]
    assert clear[0].raised_at == datetime(2024, 3, 1, 9, 16)
    assert clear[0].raised_data_time == datetime(2024, 3, 1, 9, 15)


def test_the_missing_state_keeps_the_raised_values_through_json():
    md, state = MissingData(), {}
    md.on_frame(state, WATER, 2051, T0, T0 + timedelta(seconds=600))
    _, events, _, _ = md.tick(state, WATER, T0 + HOUR)
    assert [e.rule for e in events] == ["offline"]
    again = json.loads(json.dumps(state))
    from pipeline.detect.missing import alarm_step
    step = alarm_step(events[0], again)
    assert step.raised_at == T0 + HOUR
    assert alarm_step(events[0]).raised_at is None  # without the state: unknown


# --- the row and the message ---------------------------------------------------------------


def _step(**kw: object) -> AlarmStep:
    event = AlarmEvent(mn=WATER_MN, code="w01018", rule="zero_streak", transition="update",
                       severity="major", first_seen=T0 - HOUR, last_seen=T0 + HOUR,
                       cn=2051, message="零值")
    return AlarmStep(event, T0, 3, **kw)  # type: ignore[arg-type]


def test_the_row_and_message_carry_when_from_what_and_the_rule_class():
    raised = datetime(2024, 3, 1, 9, 0, 7)
    rec = alarm_record(_step(raised_at=raised, raised_data_time=T0, opened_cn=2061),
                       now=1.0)
    row = rec.row
    assert row["raised_at"] == unix_s_from_local(raised)
    assert row["raised_data_time"] == unix_s_from_local(T0)
    assert row["opened_cn"] == 2061 and row["cn"] == 2051
    assert row["rule_class"] == "value"
    assert row["alarm_id"] == f"{WATER_MN}/w01018/zero_streak/20240301080000"
    assert set(AlarmSink.COLUMNS) == set(row)
    msg = json.loads(rec.message)
    assert msg["raised_at"] == "2024-03-01 09:00:07"
    assert msg["raised_data_time"] == "2024-03-01 08:00:00"
    assert msg["evidence_began"] == "2024-03-01 07:00:00"
    assert msg["opened_at"] == "2024-03-01 08:00:00"
    assert msg["opened_cn"] == 2061 and msg["rule_class"] == "value"


def test_a_producer_that_knows_nothing_of_it_writes_the_defaults():
    row = alarm_record(_step(), now=1.0).row
    assert (row["raised_at"], row["raised_data_time"], row["opened_cn"]) == (None, None, 0)
    assert row["rule_class"] == "value"  # from the vocabulary, known to every producer
    step = AlarmStep(AlarmEvent(mn="M", code="", rule="clue_repeated_day",
                                transition="open", severity="major", first_seen=T0,
                                last_seen=T0), T0, 1)
    assert alarm_record(step, now=1.0).row["rule_class"] == "clue"


# --- what people read -----------------------------------------------------------------------


RAISED = "发出 03-01 09:00:07（数据 03-01 08:00:00），证据始于 03-01 07:00:00，来自小时数据"


def test_the_run_screen_says_when_and_from_what():
    msg = json.loads(alarm_record(_step(raised_at=datetime(2024, 3, 1, 9, 0, 7),
                                        raised_data_time=T0, opened_cn=2061)).message)
    msg["transition"] = "open"
    assert alarm_line(msg).endswith(" · " + RAISED)
    old = {"mn": "M", "code": "", "rule": "missing_data", "severity": "major",
           "opened_at": "2024-03-01 08:00:00", "message": "缺"}
    line = alarm_line(old)
    assert " missing " in line and "发出" not in line and "证据始于 03-01 08:00:00" in line


@dataclass(frozen=True, slots=True)
class RaisedAlarm(Alarm):
    """The notify model with the message's new fields (as pipeline/notify/model.py will
    carry them)."""

    raised_at: str | None = None
    raised_data_time: str | None = None
    evidence_began: str | None = None
    opened_cn: int = 0


def _alarm(**kw: object) -> Alarm:
    base = dict(alarm_id=f"{WATER_MN}/w01018/zero_streak/20240301080000", mn=WATER_MN,
                code="w01018", rule="zero_streak", transition="open", severity="major",
                state="open", opened_at="2024-03-01 08:00:00", last_seen="2024-03-01 09:00:00",
                cn=2051)
    return RaisedAlarm(**{**base, **kw})  # type: ignore[arg-type]


def test_the_notice_says_when_it_was_raised_from_what_and_since_when():
    a = _alarm(raised_at="2024-03-01 09:00:07", raised_data_time="2024-03-01 08:00:00",
               evidence_began="2024-03-01 07:00:00", opened_cn=2061)
    n = Notification.of("r", [Item("r", "route", f"mn:{WATER_MN}", "firing", 0, a)], 0)
    text = render.markdown(n, Receiver("r", "print"))
    assert RAISED in text
    # an alarm from before: when its evidence began (opened_at), from its cn
    old = _alarm(rule="constant")
    line = render.item_line(Item("r", "route", "g", "firing", 0, old))
    assert "发出" not in line and "证据始于 03-01 08:00:00，来自分钟数据" in line
    assert "数据恒值(constant_streak)" in line


def test_the_duty_desk_says_it_and_reads_older_rows():
    row = {"alarm_id": "x", "mn": WATER_MN, "code": "w01018", "rule": "zero_streak",
           "cn": 2051, "opened_at": datetime(2024, 3, 1, 7), "raised_at": datetime(
               2024, 3, 1, 9, 0, 7), "raised_data_time": T0, "opened_cn": 2061,
           "rule_class": "value"}
    assert fig.raised_text(row) == RAISED
    old = {**row, "raised_at": None, "raised_data_time": None, "opened_cn": 0,
           "rule_class": ""}
    assert fig.raised_text(old) == "证据始于 03-01 07:00:00，来自分钟数据"
