"""The response-time clock: due times per severity, breaches, time left."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipeline.duty.sla import ACK_DUE, due_at, format_left, response_clock

OPENED = datetime(2026, 12, 2, 8, 0)


@pytest.mark.parametrize("severity,minutes", [("critical", 15), ("major", 30),
                                              ("warning", 120), ("info", 480)])
def test_due_per_severity(severity, minutes):
    assert due_at(severity, OPENED) == OPENED + timedelta(minutes=minutes)


def test_unknown_severity_gets_the_warning_time():
    assert due_at("catastrophic", OPENED) == OPENED + ACK_DUE["warning"]


def test_unacknowledged_clock_runs_with_now():
    c = response_clock("critical", OPENED, None, OPENED + timedelta(minutes=10))
    assert (c.breached, c.time_left, c.acknowledged) == (False, timedelta(minutes=5), False)
    assert format_left(c) == "5m left"
    c = response_clock("critical", OPENED, None, OPENED + timedelta(minutes=80))
    assert c.breached and c.time_left == -timedelta(minutes=65)
    assert format_left(c) == "late 1h05m"


def test_acknowledgement_stops_the_clock():
    late_now = OPENED + timedelta(days=3)
    c = response_clock("major", OPENED, OPENED + timedelta(minutes=29), late_now)
    assert not c.breached and c.time_left == timedelta(minutes=1)
    assert format_left(c) == "acked in time"
    c = response_clock("major", OPENED, OPENED + timedelta(minutes=33), late_now)
    assert c.breached and format_left(c) == "acked late 3m"


def test_due_exactly_at_the_limit_is_in_time():
    c = response_clock("warning", OPENED, None, OPENED + timedelta(hours=2))
    assert not c.breached and c.time_left == timedelta(0)
    assert format_left(response_clock("info", OPENED, None, OPENED - timedelta(days=1))
                       ) == "1d08h left"
