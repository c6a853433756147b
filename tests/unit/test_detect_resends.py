"""Resends: a frame received before (same data type, data time, codes, flags and values)
raises nothing; the same data time with other values is still a time_conflict."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta

import orjson

from pipeline.detect.model import AlarmEvent, Reading
from pipeline.detect.rules import DEFAULT_PATH, Rules
from pipeline.detect.state import (
    StationState,
    dump_station_state,
    load_station_state,
    record_digest,
)
from pipeline.detect.station import DetectorBundle
from tests.unit.detect_helpers import WATER, Clean, detector, every, kinds, reading, rtd_frame

T0 = datetime(2024, 3, 1, 8, 0)
CODES = ["w00000", "w01018", "w21003", "w01001"]


def _hour(start: datetime = T0, n: int = 120) -> list[list[Reading]]:
    """An hour of real-time frames at 30 s, as a logger stores them."""
    clean = Clean(CODES)
    frames = []
    for when in every(start, 30, n):
        frames.append([reading(WATER, 2011, code, when, **fields)
                       for code, fields in rtd_frame(clean.sample(when)).items()])
    return frames


def _send(det: DetectorBundle, state: StationState, frame: list[Reading],
          received: datetime | None = None) -> list[AlarmEvent]:
    head = frame[0]
    at = received or head.data_time
    readings = [Reading(r.mn, r.st, r.cn, r.code, r.data_time, at, dict(r.values), r.flag)
                for r in frame]
    return det.on_frame(state, readings, mn=head.mn, st=head.st, cn=head.cn,
                        data_time=head.data_time, receive_time=at).events


def _rules(**defaults: object) -> Rules:
    raw = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    raw["defaults"].update(defaults)
    return Rules(raw)


def test_an_hour_resent_byte_for_byte_raises_nothing() -> None:
    det, state = detector(), {}
    hour = _hour()
    assert [e for f in hour for e in _send(det, state, f)] == []
    # the answers were lost: the logger sends the whole hour again, an hour late
    late = T0 + timedelta(hours=2)
    again = [e for f in hour for e in _send(det, state, f, late)]
    assert again == []


def test_without_the_memory_the_same_resend_is_stale_data() -> None:
    # the behaviour comes from the memory: with none (only the newest data time kept,
    # 20 values for the conflict check) the resent hour is stale real-time data
    det = DetectorBundle(_rules(resend_memory_s={"2011": 0}), {WATER.mn: WATER})
    state: StationState = {}
    hour = _hour()
    for f in hour:
        _send(det, state, f)
    again = [e for f in hour for e in _send(det, state, f, T0 + timedelta(hours=2))]
    assert ("time_stale", "", "open") in kinds(again)


def test_a_resend_does_not_raise_again_what_has_cleared() -> None:
    det, state = detector(), {}
    hour = _hour()
    hour[10] = [reading(WATER, 2011, r.code, r.data_time,
                        **({"rtd": -3.0} if r.code == "w01018" else r.values)) for r in hour[10]]
    first = [e for f in hour for e in _send(det, state, f)]
    assert kinds(first) == [("negative", "w01018", "open"), ("negative", "w01018", "clear")]
    # the frame with the negative value, resent: nothing new (before, a late record
    # re-opened the alarm)
    assert _send(det, state, hour[10], T0 + timedelta(hours=1)) == []


def test_the_same_data_time_with_other_values_is_still_a_conflict() -> None:
    det, state = detector(), {}
    hour = _hour()
    for f in hour:
        _send(det, state, f)
    changed = [reading(WATER, 2011, r.code, r.data_time,
                       **({"rtd": r.values["rtd"] + 1.0} if r.code == "w01018" else r.values))
               for r in hour[-1]]
    events = _send(det, state, changed, T0 + timedelta(hours=1))
    assert kinds(events, "time_conflict") == [("time_conflict", "w01018", "open")]
    old, new = events[0].evidence["changed"]["rtd"]
    assert new == round(old + 1.0, 6)


def test_another_flag_is_another_record() -> None:
    det, state = detector(), {}
    frame = _hour(n=1)[0]
    _send(det, state, frame)
    assert record_digest(frame) != record_digest(
        [Reading(r.mn, r.st, r.cn, r.code, r.data_time, r.receive_time, r.values, "M")
         for r in frame])


def test_the_memory_is_bounded_by_time_span_and_survives_a_restart() -> None:
    det, state = detector(), {}
    day = _hour(n=4 * 120)  # four hours
    for f in day:
        _send(det, state, f)
    memory = state["values"]["resend_memory"]["2011"]
    # resend_memory_s[2011] = 7200 in the rules file: two hours at 30 s, both ends kept
    assert len(memory) == 7200 // 30 + 1
    assert memory[-1][0] - memory[0][0] == 7200
    # as the changelog gives it back, a new worker still knows the last two hours
    restored = load_station_state(WATER.mn, dump_station_state(state))
    assert orjson.loads(dump_station_state(restored)) == orjson.loads(
        dump_station_state(state))
    late = T0 + timedelta(hours=5)
    assert [e for f in day[-240:] for e in _send(detector(), restored, f, late)] == []
    # older than the memory: not known, so judged as late real-time data
    assert ("time_stale", "", "open") in kinds(_send(detector(), restored, day[0], late))


def test_a_state_saved_before_the_memory_existed_reads_and_starts_remembering() -> None:
    det, state = detector(), {}
    hour = _hour(n=10)
    for f in hour[:5]:
        _send(det, state, f)
    del state["values"]["resend_memory"]
    old = load_station_state(WATER.mn, dump_station_state(state))
    for f in hour[5:]:
        _send(det, old, f)
    assert len(old["values"]["resend_memory"]["2011"]) == 5
    assert _send(det, old, hour[-1], T0 + timedelta(hours=1)) == []
