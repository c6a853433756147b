"""Time on the standard's clock, in one place: China Standard Time, the epochs, versions,
data-time text and the period each data command covers.

HJ 212 data times are local (UTC+8, no daylight saving), so the platform keeps them as
naive local datetimes and converts only at the edges: receive times are Unix epochs
(what the gateway stamps), ClickHouse columns are ``DateTime('Asia/Shanghai')``.

Two epochs, each for a reason:
- ``UNIX_EPOCH`` (1970-01-01 UTC): receive times, versions, anything compared with the
  wall clock of another machine.
- ``STATE_EPOCH`` (2000-01-01, naive local): whole seconds of a data time as detector
  state and the simulator keep them. ``datetime.timestamp()`` on a naive value would read
  the host's zone, so two workers in different zones would disagree about the same
  state; counting from a fixed naive epoch does not, and local midnights fall on
  multiples of 86400.

Imports nothing of ours: every part of the platform may use it.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

#: China Standard Time's offset from UTC, in seconds (no daylight saving since 1991)
CST_OFFSET_S: Final = 8 * 3600
#: the zone as a fixed offset: no tz database needed, and it never changes
CST: Final = timezone(timedelta(seconds=CST_OFFSET_S), "CST")
#: naive local epoch of state seconds (see the module docstring)
STATE_EPOCH: Final = datetime(2000, 1, 1)
_STATE_EPOCH_DAY: Final = STATE_EPOCH.toordinal()
#: the Unix epoch as a naive UTC datetime
UNIX_EPOCH: Final = datetime(1970, 1, 1)

#: data commands and the kind of record each carries
CN_KIND: Final = {2011: "realtime", 2051: "minute", 2061: "hour", 2031: "day"}
DEFAULT_RTD_INTERVAL_S: Final = 30
DEFAULT_MIN_INTERVAL_MIN: Final = 10

#: forms of data-time text some loggers and platforms send, by length
_STAMP_FORMATS: Final = {14: "%Y%m%d%H%M%S", 12: "%Y%m%d%H%M", 10: "%Y%m%d%H", 8: "%Y%m%d"}


def cn_period(cn: int, *, rtd_interval: int = DEFAULT_RTD_INTERVAL_S,
              min_interval: int = DEFAULT_MIN_INTERVAL_MIN) -> int | None:
    """Seconds one record of data command ``cn`` covers (and its cadence): 2011 every
    ``rtd_interval`` seconds, 2051 every ``min_interval`` minutes, 2061 an hour, 2031 a
    day; None for a command that carries no periodic record."""
    if cn == 2011:
        return rtd_interval
    if cn == 2051:
        return min_interval * 60
    if cn == 2061:
        return 3600
    if cn == 2031:
        return 86400
    return None


# --- now --------------------------------------------------------------------------------


def now_local() -> datetime:
    """Now on the standard's clock, naive, whatever the host's zone."""
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=CST_OFFSET_S)


def version_ms() -> int:
    """A fresh row version: milliseconds since the Unix epoch. ReplacingMergeTree keeps
    the highest, so later writes win across processes whose clocks agree."""
    return time.time_ns() // 1_000_000


# --- conversions ------------------------------------------------------------------------


def local_from_unix(seconds: float) -> datetime:
    """Unix epoch seconds (a receive time) as a naive local datetime."""
    return UNIX_EPOCH + timedelta(seconds=seconds + CST_OFFSET_S)


def unix_from_local(when: datetime) -> float:
    """A naive local datetime as Unix epoch seconds (a zone, if any, is ignored)."""
    return (when.replace(tzinfo=None) - UNIX_EPOCH).total_seconds() - CST_OFFSET_S


def unix_s_from_local(when: datetime) -> int:
    """Whole Unix seconds of a naive local datetime (a fraction of a second is dropped):
    what ClickHouse's DateTime columns take."""
    return calendar.timegm(when.timetuple()) - CST_OFFSET_S


def to_local(when: datetime) -> datetime:
    """Any datetime as naive local time: an aware one is converted, a naive one is taken
    to be local already."""
    if when.tzinfo is None:
        return when
    return when.astimezone(CST).replace(tzinfo=None)


def to_s(when: datetime) -> int:
    """Whole seconds since ``STATE_EPOCH`` of a naive local time (a zone, if any, is
    ignored).

    Arithmetic on the fields rather than datetime subtraction: this runs for every
    reading and rule, and it is several times faster."""
    return ((when.toordinal() - _STATE_EPOCH_DAY) * 86400 + when.hour * 3600
            + when.minute * 60 + when.second)


def from_s(seconds: float) -> datetime:
    """The inverse of ``to_s`` (fractions of a second are kept)."""
    return STATE_EPOCH + timedelta(seconds=seconds)


# --- the standard's text ----------------------------------------------------------------


def stamp(when: datetime) -> str:
    """``YYYYMMDDhhmmss``, the standard's form (DataTime, SystemTime, BeginTime ...)."""
    return f"{when:%Y%m%d%H%M%S}"


def parse_stamp(text: str) -> datetime:
    """``YYYYMMDDhhmmss`` (or the shorter forms some platforms send: to the minute, hour
    or day) as a naive local datetime; raises ValueError naming the text."""
    digits = text.strip()
    fmt = _STAMP_FORMATS.get(len(digits))
    if fmt is None or not digits.isdigit():
        raise ValueError(f"time {text!r}: expected YYYYMMDDhhmmss (14 digits, local time)")
    try:
        return datetime.strptime(digits, fmt)
    except ValueError:
        raise ValueError(f"time {text!r}: not a valid date and time") from None
