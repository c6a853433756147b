"""The response-time clock of an alarm (响应时限): how long after it opened someone must
acknowledge it, by severity. Pure: no I/O.

Why these times (``ACK_DUE``): SERVICE.md's commitments are first contact within 15
minutes of a request, missed calls returned within 30 minutes to 1 hour, and a fault that
stops a system answered within 1 hour. An alarm is the duty centre's own request, so:
- critical (a station offline, an emission over its limit): 15 minutes, the first-contact
  promise, as the enterprise may be breaking the law right now;
- major (data missing, a stuck analyser): 30 minutes, the call-back promise;
- warning (a suspicious value): 2 hours, within the hour-long response for faults plus
  the time to look at the data around it;
- info: 8 hours, one shift: the next shift's handover must see it acknowledged.

The clock starts at the episode's ``opened_at`` (the data time of its first evidence)
and stops at the first acknowledgement (an unack does not restart it: ack, unack and ack
again must not hide a late response).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

#: severity -> time from opening to the acknowledgement due (module docstring says why)
ACK_DUE: Final[dict[str, timedelta]] = {
    "critical": timedelta(minutes=15),
    "major": timedelta(minutes=30),
    "warning": timedelta(hours=2),
    "info": timedelta(hours=8),
}
#: a severity not in the table (a new one from a rules file) gets the detector's
#: default severity's time, never none
DEFAULT_SEVERITY: Final = "warning"


@dataclass(frozen=True, slots=True)
class ResponseClock:
    due_at: datetime
    #: acknowledged after due_at, or not acknowledged and now past it
    breached: bool
    #: due_at minus the acknowledgement (or now while unacknowledged); negative when late
    time_left: timedelta
    acknowledged: bool


def ack_due(severity: str) -> timedelta:
    return ACK_DUE.get(severity, ACK_DUE[DEFAULT_SEVERITY])


def due_at(severity: str, opened_at: datetime) -> datetime:
    return opened_at + ack_due(severity)


def response_clock(severity: str, opened_at: datetime, acknowledged_at: datetime | None,
                   now: datetime) -> ResponseClock:
    """The clock of an alarm of ``severity`` opened at ``opened_at``, first acknowledged
    at ``acknowledged_at`` (None: not yet), seen at ``now`` (all naive CST)."""
    due = due_at(severity, opened_at)
    stop = acknowledged_at if acknowledged_at is not None else now
    left = due - stop
    return ResponseClock(due_at=due, breached=left < timedelta(0), time_left=left,
                         acknowledged=acknowledged_at is not None)


def format_left(clock: ResponseClock) -> str:
    """``12m left``, ``late 1h05m``, ``acked in time``, ``acked late 3m``: for lists."""
    span = _span(abs(clock.time_left))
    if clock.acknowledged:
        return f"acked late {span}" if clock.breached else "acked in time"
    return f"late {span}" if clock.breached else f"{span} left"


def _span(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    if minutes >= 24 * 60:
        return f"{minutes // 1440}d{(minutes % 1440) // 60:02d}h"
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes}m"
