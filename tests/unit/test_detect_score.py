"""The precision/recall script's matching."""

from __future__ import annotations

import json
from datetime import timedelta

from benchmarks.score_detectors import load_alarms, load_truth, score

TRUTH = [
    {"fault": "z", "kind": "zero", "rule": "zero_streak", "mn": "A", "pollutant": "a21002",
     "start": "2024-03-01T08:00:00", "end": "2024-03-01T09:30:00",
     "first": "2024-03-01T08:00:00", "last": "2024-03-01T09:29:30", "windows": {}},
    {"fault": "d", "kind": "dropout", "rule": "missing", "mn": "B", "pollutant": None,
     "start": "2024-03-01T16:00:00", "end": "2024-03-01T18:00:00",
     "first": "2024-03-01T15:00:00", "last": "2024-03-01T17:59:30",
     "windows": {"2051": ["2024-03-01T15:50:00", "2024-03-01T17:50:00"]}},
    {"fault": "s", "kind": "split", "rule": None, "mn": "C", "pollutant": None,
     "start": "2024-03-01T00:00:00", "end": "2024-03-02T00:00:00",
     "first": "2024-03-01T00:00:00", "last": "2024-03-01T23:00:00", "windows": {}},
]


def _ev(mn, code, rule, transition, first, last):
    return json.dumps({"mn": mn, "code": code, "rule": rule, "transition": transition,
                       "first_seen": first, "last_seen": last})


def test_matching_by_station_code_rule_and_time():
    alarms = [
        _ev("A", "a21002", "zero_streak", "open", "2024-03-01T08:05:00", "2024-03-01T08:05:00"),
        _ev("A", "a21002", "zero_streak", "update", "2024-03-01T08:00:00",
            "2024-03-01T08:35:00"),
        _ev("A", "a21002", "zero_streak", "clear", "2024-03-01T08:00:00",
            "2024-03-01T09:29:00"),
        _ev("B", "", "offline", "open", "2024-03-01T16:00:00", "2024-03-01T16:15:00"),
        _ev("B", "", "missing", "open", "2024-03-01T15:50:00", "2024-03-01T16:30:00"),
        _ev("A", "a21002", "spike", "open", "2024-03-01T12:00:00", "2024-03-01T12:00:00"),
    ]
    truth = load_truth([json.dumps(t) for t in TRUTH])
    assert len(truth) == 2  # split raises nothing, so it is no detector's truth
    episodes = load_alarms(alarms)
    assert len(episodes) == 4
    rows = {r["rule"]: r for r in score(truth, episodes, timedelta(hours=1))}
    assert rows["zero_streak"]["recall"] == 1.0 and rows["zero_streak"]["precision"] == 1.0
    assert rows["missing"]["recall"] == 1.0
    assert rows["offline"]["precision"] == 1.0  # a drop-out explains offline
    assert rows["spike"]["precision"] == 0.0
