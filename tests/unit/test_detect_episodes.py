"""Episodes: one per (mn, code, rule); evidence updates; clears per data type."""

from __future__ import annotations

from datetime import timedelta

from pipeline.detect.episodes import Episodes, Observation
from tests.unit.detect_helpers import T0, WATER_MN


def ob(i, hit, cn=2011, rule="zero_streak", sev="major"):
    return Observation(WATER_MN, "w01018", rule, cn, T0 + timedelta(seconds=30 * i), hit,
                       sev, "m", {"i": i})


def steps(events):
    return [e.transition for e in events]


def test_repeated_evidence_updates_one_episode_then_clears():
    ep, state = Episodes(), {}
    _, events = ep.fold(state, [ob(i, True) for i in range(40)])
    assert steps(events)[0] == "open" and set(steps(events)[1:]) == {"update"}
    assert len(events) == 1 + 3  # 1170 s of evidence: an update per 300 s
    _, events = ep.fold(state, [ob(40 + i, False) for i in range(6)])
    assert steps(events) == ["clear"]
    assert events[0].first_seen == T0 and events[0].evidence["occurrences"] == 40
    assert state == {}


def test_clean_data_alone_raise_nothing():
    ep, state = Episodes(), {}
    assert ep.fold(state, [ob(i, False) for i in range(100)]) == ({}, [])


def test_every_data_type_with_evidence_must_be_clean_to_clear():
    ep, state = Episodes(), {}
    ep.fold(state, [ob(0, True, cn=2011), ob(1, True, cn=2051)])
    _, events = ep.fold(state, [ob(2 + i, False, cn=2011) for i in range(10)])
    assert events == []  # the minute data have not been clean yet
    _, events = ep.fold(state, [ob(20, False, cn=2061)])
    assert events == []  # hourly data never showed it: no say
    _, events = ep.fold(state, [ob(21, False, cn=2051), ob(22, False, cn=2051)])
    assert steps(events) == ["clear"]


def test_a_hit_resets_the_clean_count_and_severity_escalation_updates_at_once():
    ep, state = Episodes(), {}
    ep.fold(state, [ob(0, True, sev="warning")])
    ep.fold(state, [ob(1 + i, False) for i in range(5)])
    _, events = ep.fold(state, [ob(6, True, sev="critical")])
    assert steps(events) == ["update"] and events[0].severity == "critical"
    _, events = ep.fold(state, [ob(7 + i, False) for i in range(5)])
    assert events == []
    _, events = ep.fold(state, [ob(12, False)])
    assert steps(events) == ["clear"]
