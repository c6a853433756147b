"""`hj212 run`'s alarm lines: one per opened episode, counts for every transition."""

import json

from pipeline.alarm_feed import AlarmFeed, alarm_line

OPEN = {"mn": "MN1", "code": "w01018", "rule": "zero_streak", "severity": "major",
        "transition": "open", "message": "COD 零值 zero 10 times"}


def test_the_line_names_station_pollutant_rule_and_severity():
    line = alarm_line(OPEN)
    for part in ("MN1", "w01018", "zero_streak", "major", "零值"):
        assert part in line


def test_station_level_rules_have_no_pollutant():
    assert "  -  " in alarm_line({**OPEN, "code": "", "rule": "offline"})


def test_only_openings_become_lines_but_every_transition_counts():
    feed = AlarmFeed("127.0.0.1:1", "unused")
    for transition in ("open", "update", "update", "clear"):
        feed._take(json.dumps({**OPEN, "transition": transition}).encode())
    feed._take(b"not json")
    lines = feed.drain()
    assert len(lines) == 1 and "zero_streak" in lines[0]
    assert feed.counts == {"open": 1, "update": 2, "clear": 1}
