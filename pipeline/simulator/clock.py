"""Simulated time for the virtual loggers: the wall clock sped up, or moved by hand.

A fleet runs a day of data in minutes, so two clocks matter and must never be mixed up:
- simulated time (a naive ``datetime`` in the standard's local clock, China Standard
  Time): what loggers stamp on their records, what faults and ground truth are written in;
- wall time (``time.monotonic`` seconds): network timeouts such as OverTime, reconnect
  back-off and how long the process sleeps. A logger's resend timer is a property of the
  link, not of the data, so it stays on wall time even when the data runs 1440x faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """What a logger and the fleet read: simulated now, wall now, and the rate between."""

    @property
    def start(self) -> datetime: ...

    @property
    def speed(self) -> float: ...

    def now(self) -> datetime: ...

    def wall(self) -> float: ...


class SimClock:
    """Simulated time = ``start`` + wall seconds elapsed since creation x ``speed``.

    ``speed=1440`` runs a day in a minute. Monotonic because it is derived from
    ``time.monotonic`` (or the ``wall`` function given, for tests), never from the system
    time, which can step backwards.
    """

    def __init__(self, start: datetime, speed: float = 1.0,
                 wall: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError(f"speed={speed}: must be above 0 (1 = real time, 1440 = a day "
                             "per minute)")
        if start.tzinfo is not None:
            raise ValueError(f"start={start.isoformat()}: give a naive local (CST) time; the "
                             "standard's clock has no zone")
        self._start = start
        self._speed = float(speed)
        self._wall = wall
        self._wall0 = wall()

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def speed(self) -> float:
        return self._speed

    def wall(self) -> float:
        return self._wall()

    def elapsed(self) -> float:
        """Simulated seconds since ``start``."""
        return (self._wall() - self._wall0) * self._speed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.elapsed())

    def wall_until(self, when: datetime) -> float:
        """Wall seconds until simulated ``when`` (0 if it has passed)."""
        ahead = (when - self.now()).total_seconds()
        return max(ahead / self._speed, 0.0)


class ManualClock:
    """A clock that moves only when told: for tests and offline generation."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        self._start = start
        self._now = start
        self._speed = speed
        self._wall = 0.0

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        return self._now

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> datetime:
        """Move simulated time by ``seconds`` (wall time by ``seconds / speed``)."""
        if seconds < 0:
            raise ValueError(f"seconds={seconds}: a clock only moves forward")
        self._now += timedelta(seconds=seconds)
        self._wall += seconds / self._speed
        return self._now

    def advance_wall(self, seconds: float) -> None:
        """Let wall time pass without simulated time (a network timeout in a test)."""
        if seconds < 0:
            raise ValueError(f"seconds={seconds}: a clock only moves forward")
        self._wall += seconds


def parse_span(text: str | float | int) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"30m"``, ``"6h"``, ``"2d"``, ``"1h30m"``."""
    if isinstance(text, int | float):
        return float(text)
    raw = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    total = 0.0
    number = ""
    for ch in raw:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
        elif ch != " ":
            raise ValueError(f"span {text!r}: use seconds or a number with s, m, h or d, "
                             "e.g. 90s, 30m, 6h, 1d, 1h30m")
    if number:
        total += float(number)
    if not raw or total < 0:
        raise ValueError(f"span {text!r}: use seconds or a number with s, m, h or d")
    return total
