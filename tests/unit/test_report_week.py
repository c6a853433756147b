"""ISO weeks of the weekly report: '2026-W48' -> [Monday 00:00, next Monday) CST, and the
errors that name the value."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest

from dashboards.report.week import (
    Week,
    WeekError,
    last_full_week,
    parse_week,
    recent_weeks,
    week_of,
    weeks_in_year,
)


@pytest.mark.parametrize(("text", "monday"), [
    ("2026-W48", date(2026, 11, 23)),
    ("2026W48", date(2026, 11, 23)),
    (" 2026-w48 ", date(2026, 11, 23)),
    ("2026-W01", date(2025, 12, 29)),  # week 1 holds the year's first Thursday
    ("2026-W1", date(2025, 12, 29)),
    ("2020-W53", date(2020, 12, 28)),  # 2020 has 53 weeks
    ("2021-W01", date(2021, 1, 4)),  # January 1st-3rd 2021 are in 2020-W53
])
def test_a_week_is_monday_to_monday(text, monday):
    week = parse_week(text)
    assert week.monday == monday
    assert week.start == datetime(monday.year, monday.month, monday.day)
    assert week.end == week.start + timedelta(days=7)
    assert week.end.weekday() == 0 and week.start.weekday() == 0
    assert week.days == tuple(monday + timedelta(days=i) for i in range(7))
    # every day of it is in that ISO week, and the next Monday is not
    assert all(d.isocalendar()[:2] == (week.year, week.number) for d in week.days)
    assert week_of(week.end) != week


def test_name_and_label():
    week = parse_week("2026-W48")
    assert week.name == str(week) == "2026-W48"
    assert week.label() == "2026-W48（2026-11-23 至 2026-11-29）"


@pytest.mark.parametrize(("text", "words"), [
    ("2026-48", ["'2026-48'", "YYYY-Www", "2026-W48"]),
    ("", ["''", "YYYY-Www"]),
    ("W48", ["'W48'"]),
    ("2026-W00", ["'2026-W00'", "weeks 1 to 53"]),
    ("2026-W54", ["'2026-W54'", "weeks 1 to 53"]),
    ("2021-W53", ["'2021-W53'", "weeks 1 to 52"]),
    ("1999-W10", ["'1999-W10'", "2000-2099"]),
    ("2026-W4x", ["'2026-W4x'"]),
])
def test_errors_name_the_value(text, words):
    with pytest.raises(WeekError) as info:
        parse_week(text)
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value, ValueError)


def test_weeks_in_year():
    assert [weeks_in_year(y) for y in (2015, 2020, 2021, 2026)] == [53, 53, 52, 53]
    with pytest.raises(WeekError):
        Week(2021, 53)


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 12, 2, 21, 0), "2026-W48"),  # a Wednesday
    (datetime(2026, 11, 30, 0, 0), "2026-W48"),  # Monday midnight: W48 has just ended
    (datetime(2026, 11, 29, 23, 59), "2026-W47"),  # Sunday night: W48 still runs
    (datetime(2026, 1, 1, 12, 0), "2025-W52"),  # 2026-W01 runs; 2025 has 52 weeks
])
def test_the_last_full_week(now, expected):
    week = last_full_week(now)
    assert week.name == expected
    assert week.end <= now < week.end + timedelta(days=7)


def test_recent_weeks_newest_first_and_consecutive():
    weeks = recent_weeks(datetime(2026, 1, 6, 9, 0), count=3)
    assert [w.name for w in weeks] == ["2026-W02", "2026-W01", "2025-W52", "2025-W51"]
    for newer, older in itertools.pairwise(weeks):
        assert newer.start - older.start == timedelta(days=7)
