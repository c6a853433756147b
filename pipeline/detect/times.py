"""Time as detector state keeps it: whole seconds, JSON-friendly and machine-independent.

Data times are naive local (China Standard Time) datetimes. ``datetime.timestamp()`` on a
naive value would read the host's zone, so two workers in different zones would disagree
about the same state; these helpers count seconds from a fixed naive epoch instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

_EPOCH = datetime(2000, 1, 1)


def to_s(when: datetime) -> int:
    """Whole seconds since 2000-01-01 of a naive local time."""
    return int((when.replace(tzinfo=None) - _EPOCH).total_seconds())


def from_s(seconds: float) -> datetime:
    return _EPOCH + timedelta(seconds=seconds)


def stamp(when: datetime) -> str:
    """``YYYYMMDDhhmmss``, the standard's form (BeginTime, EndTime)."""
    return f"{when:%Y%m%d%H%M%S}"
