"""Missing data: gaps, offline/online, back-fill requests with retry and rate limit,
windows closing as filled / partly filled / given up, the missing alarm."""

from __future__ import annotations

import json
from datetime import timedelta

from pipeline.detect.missing import MissingData, MissingPolicy
from tests.unit.detect_helpers import T0, WATER, every

MINUTE = 600  # WATER's MinInterval is 10 minutes


def _frames(md, state, times, cn=2051):
    events, rows = [], []
    for when in times:
        # a record stamped at the start of its period arrives at its end
        _, ev, up = md.on_frame(state, WATER, cn, when, when + timedelta(seconds=MINUTE))
        events += ev
        rows += up
    return events, rows


def _ticks(md, state, start, end, step=60):
    events, requests, rows = [], [], []
    now = start
    while now <= end:
        _, ev, req, up = md.tick(state, WATER, now)
        events += ev
        requests += req
        rows += up
        now += timedelta(seconds=step)
    return events, requests, rows


def _live(md, state, start, end):
    """Ticks every minute while the station keeps sending its records on time."""
    events, requests, rows = [], [], []
    now = start
    while now <= end:
        if (now - T0).total_seconds() % MINUTE == 0:
            _, ev, up = md.on_frame(state, WATER, 2051, now - timedelta(seconds=MINUTE), now)
            events += ev
            rows += up
        _, ev, req, up = md.tick(state, WATER, now)
        events += ev
        requests += req
        rows += up
        now += timedelta(seconds=60)
    return events, requests, rows


def test_regular_data_and_ticks_raise_nothing():
    md, state = MissingData(), {}
    events = []
    for when in every(T0, MINUTE, 36):
        _, ev, rows = md.on_frame(state, WATER, 2051, when, when + timedelta(seconds=MINUTE))
        assert rows == []
        events += ev
        ev, req, rows = _ticks(md, state, when + timedelta(seconds=MINUTE),
                               when + timedelta(seconds=2 * MINUTE - 60))
        assert (req, rows) == ([], [])
        events += ev
    assert events == []
    assert json.loads(json.dumps(state)) == state


def test_a_gap_is_a_window_that_back_fill_fills():
    md, state = MissingData(), {}
    before = every(T0, MINUTE, 12)  # 08:00 .. 09:50
    after = every(T0 + timedelta(hours=3), MINUTE, 3)  # 11:00 ..
    _frames(md, state, before)
    _, rows = _frames(md, state, after[:1])
    assert rows[-1]["window_start"] == T0 + timedelta(hours=2)
    assert rows[-1]["window_end"] == T0 + timedelta(hours=3) - timedelta(seconds=MINUTE)
    assert rows[-1]["expected"] == 6 and rows[-1]["state"] == "open"
    now = after[0] + timedelta(seconds=MINUTE)
    _, requests, rows = _ticks(md, state, now, now)
    assert len(requests) == 1
    req = requests[0]
    assert (req.cn, req.begin, req.end, req.attempt) == (
        2051, T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=50), 1)
    cmd = req.to_command()
    assert cmd["fields"] == {"BeginTime": "20240301100000", "EndTime": "20240301105000"}
    assert cmd["cn"] == 2051 and cmd["mn"] == WATER.mn
    assert rows[-1]["state"] == "backfill_requested" and rows[-1]["requests"] == 1
    # the logger replays the six records
    _, rows = _frames(md, state, every(T0 + timedelta(hours=2), MINUTE, 6))
    assert rows[-1]["state"] == "filled" and rows[-1]["received"] == 6
    events, requests, _ = _live(md, state, now, now + timedelta(hours=2))
    assert (events, requests) == ([], [])  # filled before the grace period: no alarm


def test_unanswered_requests_retry_then_give_up_or_settle_partly():
    md, state = MissingData(), {}
    _frames(md, state, every(T0, MINUTE, 12))
    _frames(md, state, [T0 + timedelta(hours=3)])
    start = T0 + timedelta(hours=3, minutes=10)
    events, requests, rows = _live(md, state, start, start + timedelta(hours=2))
    rows = [r for r in rows if r["window_start"] == T0 + timedelta(hours=2)]
    pol = md.policy
    assert [r.attempt for r in requests] == list(range(1, pol.max_attempts + 1))
    gaps = [(r.begin, r.end) for r in requests]
    assert len(set(gaps)) == 1
    assert rows[-1]["state"] == "given_up"
    assert ("missing", "open") in [(e.rule, e.transition) for e in events]
    # partly: two of six records came
    md, state = MissingData(), {}
    _frames(md, state, every(T0, MINUTE, 12))
    _frames(md, state, [T0 + timedelta(hours=3)])
    _frames(md, state, [T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=10)])
    _, _, rows = _live(md, state, start, start + timedelta(hours=2))
    rows = [r for r in rows if r["window_start"] == T0 + timedelta(hours=2)]
    assert rows[-1]["state"] == "partly_filled" and rows[-1]["received"] == 2


def test_offline_and_back_online_and_the_missing_alarm():
    md, state = MissingData(), {}
    _frames(md, state, every(T0, MINUTE, 6))  # last record 08:50, heard at 09:00
    silent_from = T0 + timedelta(hours=1)
    events, requests, _ = _ticks(md, state, silent_from, silent_from + timedelta(hours=2))
    steps = [(e.rule, e.transition) for e in events]
    assert steps == [("offline", "open"), ("missing", "open")]
    assert requests == []  # nobody to ask while the station is offline
    assert events[0].first_seen == silent_from
    # back: the first frame clears offline; the sealed gap is requested and refilled
    back = T0 + timedelta(hours=3)
    ev, _ = _frames(md, state, [back])
    assert [(e.rule, e.transition) for e in ev] == [("offline", "clear")]
    now = back + timedelta(seconds=MINUTE)
    _, requests, _ = _ticks(md, state, now, now)
    assert {r.cn for r in requests} == {2051}
    _frames(md, state, every(T0 + timedelta(hours=1), MINUTE, 12))
    ev, _, _ = _ticks(md, state, now + timedelta(minutes=1), now + timedelta(minutes=1))
    assert [(e.rule, e.transition) for e in ev] == [("missing", "clear")]


def test_rate_limit_per_station():
    md = MissingData(policy=MissingPolicy(rate_limit=2, rate_window_s=600))
    state = {}
    times = every(T0, MINUTE, 31)
    kept = [t for i, t in enumerate(times) if i % 3 == 0]  # a gap after every record
    _frames(md, state, kept)
    now = times[-1] + timedelta(seconds=MINUTE)
    _, requests, _ = _ticks(md, state, now, now)
    assert len(requests) == 2
    _, requests, _ = _ticks(md, state, now + timedelta(seconds=600),
                            now + timedelta(seconds=600))
    assert len(requests) == 2


def test_cadence_follows_a_1063_answer():
    md, state = MissingData(), {}
    md.set_cadence(state, 2051, 300)
    times = every(T0, 300, 12)
    _, rows = _frames(md, state, times)
    assert rows == []
