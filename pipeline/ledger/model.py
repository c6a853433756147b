"""The ledger's records: plain data, no I/O (see pipeline/ledger/__init__.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

#: outcomes of a change
APPENDED: Final = "appended"  # now the record's event number ``seq``
CONFLICT: Final = "conflict"  # the record moved on since the submitter looked
REFUSED: Final = "refused"  # the stream's rule said no (``message`` says why)
PENDING: Final = "pending"  # no answer within the submitter's wait: still queued in Kafka


@dataclass(frozen=True, slots=True)
class Change:
    """What a person (or a service) asks to append to one record."""

    request_id: str  # uuid4 hex, made by the submitter; the idempotency key
    stream: str  # 'alarm', later 'work_order', ...
    record_id: str  # e.g. an alarm_id
    kind: str  # the stream's verb: 'ack', 'assign', 'comment', ...
    actor: str  # username, or 'system:<service>'
    expected_seq: int  # the last seq the submitter saw (0: a record with no event yet)
    payload: Mapping[str, Any] = field(default_factory=dict)  # JSON-able
    source: str = ""  # 'web', 'cli', 'notify', ...
    submitted_at: datetime | None = None  # naive CST


@dataclass(frozen=True, slots=True)
class Event:
    """An appended change: the record's event number ``seq`` (1, 2, ...)."""

    stream: str
    record_id: str
    seq: int
    request_id: str
    kind: str
    actor: str
    at: datetime  # naive CST, when the writer appended it
    payload: Mapping[str, Any]
    source: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    request_id: str
    outcome: str  # APPENDED, CONFLICT, REFUSED or PENDING
    seq: int  # the appended event's seq; else the record's last seq when answered
    message: str = ""  # why, for CONFLICT and REFUSED, in the users' words

    @property
    def ok(self) -> bool:
        return self.outcome == APPENDED


#: a stream's rule: the record's history so far and the change -> why not, or None
Check = Callable[[Sequence[Event], Change], str | None]
