"""ISO weeks as the weekly report names them ('2026-W48'), on China Standard Time.

A week is [Monday 00:00, next Monday 00:00) of naive CST wall-clock time, what the
named queries take (pipeline/store/query_base.T). ISO 8601 weeks start on Monday and
week 1 holds the year's first Thursday, so late-December days may belong to week 1 of
the next year and early-January days to week 52 or 53 of the previous one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

_WEEK: Final = re.compile(r"^\s*(\d{4})-?[Ww](\d{1,2})\s*$")
DAYS: Final = 7
WEEKDAYS_ZH: Final = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")


class WeekError(ValueError):
    """A week that cannot be read; the message names the value and the form wanted."""


def weeks_in_year(year: int) -> int:
    """52 or 53: December 28th is always in the year's last ISO week."""
    return date(year, 12, 28).isocalendar()[1]


@dataclass(frozen=True, slots=True, order=True)
class Week:
    year: int
    number: int

    def __post_init__(self) -> None:
        if not 1 <= self.number <= weeks_in_year(self.year):
            raise WeekError(f"week {self.year}-W{self.number:02d} does not exist: "
                            f"{self.year} has weeks 1 to {weeks_in_year(self.year)}")

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def start(self) -> datetime:
        """Monday 00:00 CST (naive)."""
        return datetime.combine(self.monday, datetime.min.time())

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 CST: the week is [start, end)."""
        return self.start + timedelta(days=DAYS)

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(self.monday + timedelta(days=i) for i in range(DAYS))

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=DAYS - 1)

    @property
    def name(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    def label(self) -> str:
        """'2026-W48（2026-11-23 至 2026-11-29）'"""
        return f"{self.name}（{self.monday:%Y-%m-%d} 至 {self.sunday:%Y-%m-%d}）"

    def previous(self) -> Week:
        return week_of(self.start - timedelta(days=1))

    def __str__(self) -> str:
        return self.name


def week_of(when: datetime | date) -> Week:
    """The ISO week holding ``when`` (a naive CST time, or a date)."""
    year, number, _ = when.isocalendar()
    return Week(year, number)


def last_full_week(now: datetime) -> Week:
    """The latest week that has ended by ``now`` (naive CST): the reports' default."""
    return week_of(now).previous()


def parse_week(text: str) -> Week:
    """'2026-W48' (also '2026W48', '2026-w48') as a Week; WeekError naming ``text``
    when it is not that form or the week does not exist."""
    m = _WEEK.match(text or "")
    if m is None:
        raise WeekError(f"week {text!r} is not an ISO week; expected YYYY-Www, e.g. "
                        "2026-W48 (the week of Monday 2026-11-23)")
    year, number = int(m.group(1)), int(m.group(2))
    if year < 2000 or year > 2099:
        raise WeekError(f"week {text!r}: year {year} is outside 2000-2099")
    try:
        return Week(year, number)
    except WeekError as exc:
        raise WeekError(f"week {text!r}: {exc}") from None


def recent_weeks(now: datetime, count: int = 12) -> list[Week]:
    """The week running at ``now`` and the ``count`` full weeks before it, newest first
    (the report page's choice; its default is the second, the last full week)."""
    out = [week_of(now)]
    for _ in range(count):
        out.append(out[-1].previous())
    return out
