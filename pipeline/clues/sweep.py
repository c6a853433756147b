"""One sweep of the clues over closed hours and days, and which periods a sweep takes.

``sweep(ch, settings, hours, days)`` runs every enabled judge on each hour (hourly clues)
and each day (daily clues), in time order, and returns the alarm steps
(``episodes.ClueBook``: opened, updated, cleared, with the clue alarms already written
as its memory). ``due(now, settings, mark)`` says which hours and days are closed and
not yet swept; ``Watermark`` is what a running sweep remembers between sweeps (a file):
the next hour and day to judge. A restart reads it and goes on; without it (first start,
or another machine) the sweep goes back ``lookback_hours``, and the ClueBook makes sure
periods swept before write nothing again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.clues import daily, hourly, load
from pipeline.clues.episodes import ClueBook
from pipeline.clues.model import Judgement, StationInfo
from pipeline.clues.settings import ClueSettings
from pipeline.detect.model import AlarmStep
from pipeline.timebase import now_local

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

HOURLY = ("clue_o2_conversion", "clue_stopped_unflagged", "clue_flagged_running",
          "clue_hour_vs_minute")
DAILY = ("clue_held_under_limit", "clue_repeated_day", "clue_twin_stations")


def floor_hour(when: datetime) -> datetime:
    return when.replace(minute=0, second=0, microsecond=0)


def floor_day(when: datetime) -> datetime:
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_hour(when: datetime) -> datetime:
    """The start of the first whole hour at or after ``when``."""
    start = floor_hour(when)
    return start if start == when else start + HOUR


def ceil_day(when: datetime) -> datetime:
    start = floor_day(when)
    return start if start == when else start + DAY


@dataclass(frozen=True, slots=True)
class Watermark:
    """The next hour and the next day (their starts, CST) a sweep will judge."""

    hour: datetime
    day: datetime

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"hour": self.hour.isoformat(), "day": self.day.isoformat()}),
                       encoding="utf-8")
        tmp.replace(path)  # a crash leaves the old mark or the new one, never half

    @classmethod
    def read(cls, path: Path) -> Watermark | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(datetime.fromisoformat(data["hour"]), datetime.fromisoformat(data["day"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def due(now: datetime, settings: ClueSettings, mark: Watermark | None,
        not_before: datetime | None = None
        ) -> tuple[list[datetime], list[datetime], Watermark]:
    """The closed hours and days (starts) from the watermark (or ``lookback_hours`` back
    from ``now``) whose end plus the grace has passed ``now``, and the watermark once
    they are swept. ``not_before``: no hour or day that begins before it is taken (the
    watermark moves past them), e.g. the first whole hour of a fleet started mid-hour."""
    sweep = settings.sweep
    if mark is None:
        first_hour = floor_hour(now) - sweep.lookback_hours * HOUR
        mark = Watermark(first_hour, floor_day(first_hour))
    if not_before is not None:
        mark = Watermark(max(mark.hour, ceil_hour(not_before)),
                         max(mark.day, ceil_day(not_before)))
    hours = periods(mark.hour, now - timedelta(minutes=sweep.hour_grace_min), HOUR)
    days = periods(mark.day, now - timedelta(minutes=sweep.day_grace_min), DAY)
    after = Watermark(hours[-1] + HOUR if hours else mark.hour,
                      days[-1] + DAY if days else mark.day)
    return hours, days, after


def periods(first: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Starts of the whole periods of ``step`` from ``first`` that end by ``end``."""
    out = []
    at = first
    while at + step <= end:
        out.append(at)
        at += step
    return out


def in_range(start: datetime, end: datetime, not_before: datetime | None = None
             ) -> tuple[list[datetime], list[datetime]]:
    """The whole hours and whole CST days inside [start, end) (and not beginning before
    ``not_before``)."""
    if not_before is not None:
        start = max(start, not_before)
    first_hour = floor_hour(start) + (HOUR if floor_hour(start) < start else timedelta(0))
    first_day = floor_day(start) + (DAY if floor_day(start) < start else timedelta(0))
    return periods(first_hour, end, HOUR), periods(first_day, end, DAY)


@dataclass(slots=True)
class SweepResult:
    steps: list[AlarmStep] = field(default_factory=list)
    hours: int = 0
    days: int = 0
    findings: dict[str, int] = field(default_factory=dict)

    def add(self, judgement: Judgement, steps: list[AlarmStep]) -> None:
        self.steps.extend(steps)
        if judgement.findings:
            self.findings[judgement.rule] = (self.findings.get(judgement.rule, 0)
                                             + len(judgement.findings))


def _with_seen(base: dict[str, StationInfo], settings: ClueSettings, stats: Any
               ) -> dict[str, StationInfo]:
    seen = {mn: st for mn, st in zip(stats.mn, stats.st, strict=True) if mn not in base}
    if not seen:
        return base
    return {**base, **load.stations_from(seen, settings)}


def sweep(ch: Any, settings: ClueSettings, hours: Sequence[datetime],
          days: Sequence[datetime], now: datetime | None = None) -> SweepResult:
    """Judge ``hours`` and ``days`` (starts, CST) with every enabled clue; the steps.
    ``now``: the wall time the alarms it opens are raised at (default: now, CST)."""
    result = SweepResult()
    now = now or now_local()
    if not hours and not days:
        return result
    first = min([*hours, *days])
    book = ClueBook(load.known_alarms(ch, first))
    registry = load.stations(ch, settings)
    rules = settings.rules
    on = {name for name, rule in rules.items() if rule.enabled}
    window = max(rules["clue_stopped_unflagged"].int("min_hours"),
                 rules["clue_flagged_running"].int("min_hours"))
    history = timedelta(hours=rules["clue_hour_vs_minute"]["minute_history_hours"])
    for hour in sorted(hours):
        result.hours += 1
        if not on & set(HOURLY):
            continue
        stats = load.hour_stats(ch, hour - (window - 1) * HOUR, hour + HOUR)
        stations = _with_seen(registry, settings, stats)
        judgements: list[Judgement] = []
        if "clue_o2_conversion" in on:
            judgements.append(hourly.judge_o2_conversion(
                load.o2_records(ch, hour, hour + HOUR), hour, stations,
                rules["clue_o2_conversion"]))
        if "clue_stopped_unflagged" in on:
            judgements.append(hourly.judge_stopped_unflagged(
                stats, hour, stations, rules["clue_stopped_unflagged"]))
        if "clue_flagged_running" in on:
            judgements.append(hourly.judge_flagged_running(
                stats, hour, stations, rules["clue_flagged_running"]))
        if "clue_hour_vs_minute" in on:
            rule = rules["clue_hour_vs_minute"]
            received = load.frame_minutes(ch, hour - hourly.link_lookback(rule, stations),
                                          hour + HOUR)
            judgements.append(hourly.judge_hour_vs_minute(
                stats, hour, stations, rule, load.minute_last(ch, hour - history, hour),
                link_began=hourly.links_begun(received, hour, stations, rule)))
        for j in judgements:
            result.add(j, book.apply(j, hour, rules[j.rule], period_cn=2061, now=now))
    limits = load.limits(ch) if "clue_held_under_limit" in on else {}
    back = max(rules["clue_held_under_limit"].int("history_days"),
               rules["clue_repeated_day"].int("lookback_days"))
    for day_start in sorted(days):
        result.days += 1
        if not on & set(DAILY):
            continue
        day: date = day_start.date()
        series = load.day_series(ch, *load.lookback(day, back))
        judgements = []
        if "clue_held_under_limit" in on:
            judgements.append(daily.judge_held_under_limit(
                series, day, limits, rules["clue_held_under_limit"]))
        if "clue_repeated_day" in on:
            judgements.append(daily.judge_repeated_day(series, day,
                                                       rules["clue_repeated_day"]))
        if "clue_twin_stations" in on:
            judgements.append(daily.judge_twin_stations(series, day,
                                                        rules["clue_twin_stations"]))
        for j in judgements:
            result.add(j, book.apply(j, day_start, rules[j.rule], period_cn=2031, now=now))
    return result
