"""The ledger's records as bytes and rows: a change as the JSON message on the ledger topic
(keyed by record), events and replies as ClickHouse rows. Pure, no I/O.

The message carries a format version ``v`` so a writer can refuse, by name, a change
written by a newer submitter instead of misreading it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from pipeline.ledger.model import Change, Event, Reply
from pipeline.timebase import local_from_unix, unix_from_local

#: the change message format this release writes and reads
FORMAT: Final = 1

#: the columns of ledger_events and ledger_replies, in insert order
EVENT_COLUMNS: Final = ("stream", "record_id", "seq", "request_id", "kind", "actor", "at",
                        "at_ms", "payload", "source")
REPLY_COLUMNS: Final = ("request_id", "stream", "record_id", "outcome", "seq", "message",
                        "at", "at_ms")


class ChangeFormatError(ValueError):
    """A ledger message that is not a change this release can read; says which field."""


def record_key(stream: str, record_id: str) -> str:
    """The Kafka key of a record's changes: every change of one record goes to one
    partition, so to one writer."""
    return f"{stream}/{record_id}"


def change_to_json(change: Change) -> bytes:
    return json.dumps({
        "v": FORMAT,
        "request_id": change.request_id,
        "stream": change.stream,
        "record_id": change.record_id,
        "kind": change.kind,
        "actor": change.actor,
        "expected_seq": change.expected_seq,
        "payload": dict(change.payload),
        "source": change.source,
        "submitted_at": (change.submitted_at.isoformat(timespec="milliseconds")
                         if change.submitted_at is not None else None),
    }, ensure_ascii=False, separators=(",", ":")).encode()


def request_id_of(raw: bytes | None) -> str | None:
    """The request id of a message, if it has a readable one (to answer a change whose
    other fields are bad)."""
    try:
        msg = json.loads(raw or b"")
    except ValueError:
        return None
    rid = msg.get("request_id") if isinstance(msg, dict) else None
    return rid if isinstance(rid, str) and rid else None


def change_from_json(raw: bytes | None) -> Change:
    """A change from its message; ``ChangeFormatError`` names what is wrong."""
    try:
        msg = json.loads(raw or b"")
    except ValueError as exc:
        raise ChangeFormatError(f"ledger message is not JSON ({exc}); fix: submit changes "
                                "through pipeline.ledger.client.LedgerClient") from None
    if not isinstance(msg, dict):
        raise ChangeFormatError(f"ledger message is a JSON {type(msg).__name__}, not an "
                                "object; fix: submit changes through LedgerClient")
    version = msg.get("v", FORMAT)
    if version != FORMAT:
        raise ChangeFormatError(f"ledger message format v={version!r}, this writer reads "
                                f"v={FORMAT}; fix: upgrade hj212 ledger to the submitter's "
                                "release")

    def text(name: str, *, required: bool = True) -> str:
        value = msg.get(name, "")
        if not isinstance(value, str) or (required and not value):
            raise ChangeFormatError(f"ledger change field {name!r} is {value!r}; fix: give a "
                                    "non-empty string")
        return value

    expected = msg.get("expected_seq")
    if not isinstance(expected, int) or isinstance(expected, bool) or expected < 0:
        raise ChangeFormatError(f"ledger change field 'expected_seq' is {expected!r}; fix: "
                                "give the record's last seq the submitter saw (0: none)")
    payload = msg.get("payload") or {}
    if not isinstance(payload, dict):
        raise ChangeFormatError(f"ledger change field 'payload' is a "
                                f"{type(payload).__name__}; fix: give a JSON object")
    submitted = msg.get("submitted_at")
    try:
        submitted_at = datetime.fromisoformat(submitted) if isinstance(submitted, str) else None
    except ValueError:
        raise ChangeFormatError(f"ledger change field 'submitted_at' is {submitted!r}; fix: "
                                "give an ISO time (CST, no zone)") from None
    return Change(
        request_id=text("request_id"), stream=text("stream"), record_id=text("record_id"),
        kind=text("kind"), actor=text("actor"), expected_seq=expected, payload=payload,
        source=text("source", required=False), submitted_at=submitted_at,
    )


# --- ClickHouse rows ---------------------------------------------------------------------


def ms_of(when: datetime) -> int:
    """Milliseconds since the Unix epoch of a naive CST time."""
    return round(unix_from_local(when) * 1000)


def from_ms(ms: int) -> datetime:
    """A naive CST time from milliseconds since the Unix epoch."""
    return local_from_unix(ms / 1000)


def payload_json(payload: Mapping[str, Any]) -> str:
    return json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"),
                      sort_keys=True)


def event_columns(events: Sequence[Event]) -> dict[str, list[Any]]:
    """Events as ledger_events columns (DateTime as epoch seconds, what the driver takes
    fastest)."""
    ms = [ms_of(e.at) for e in events]
    return {
        "stream": [e.stream for e in events],
        "record_id": [e.record_id for e in events],
        "seq": [e.seq for e in events],
        "request_id": [e.request_id for e in events],
        "kind": [e.kind for e in events],
        "actor": [e.actor for e in events],
        "at": [m // 1000 for m in ms],
        "at_ms": ms,
        "payload": [payload_json(e.payload) for e in events],
        "source": [e.source for e in events],
    }


def event_from_row(row: Mapping[str, Any]) -> Event:
    """An event from a ledger_events row (a dict by column name); its time from at_ms,
    which keeps the milliseconds and does not depend on how the driver gives zones."""
    try:
        payload = json.loads(row["payload"] or "{}")
    except ValueError:
        # an event is history: show it with its text rather than hide the record
        payload = {"_unreadable_payload": row["payload"]}
    return Event(stream=row["stream"], record_id=row["record_id"], seq=int(row["seq"]),
                 request_id=row["request_id"], kind=row["kind"], actor=row["actor"],
                 at=from_ms(int(row["at_ms"])), payload=payload, source=row["source"])


def reply_columns(replies: Sequence[tuple[Reply, str, str, datetime]]
                  ) -> dict[str, list[Any]]:
    """(reply, stream, record_id, answered at) as ledger_replies columns."""
    ms = [ms_of(at) for _, _, _, at in replies]
    return {
        "request_id": [r.request_id for r, _, _, _ in replies],
        "stream": [s for _, s, _, _ in replies],
        "record_id": [rid for _, _, rid, _ in replies],
        "outcome": [r.outcome for r, _, _, _ in replies],
        "seq": [r.seq for r, _, _, _ in replies],
        "message": [r.message for r, _, _, _ in replies],
        "at": [m // 1000 for m in ms],
        "at_ms": ms,
    }


def reply_from_row(row: Mapping[str, Any]) -> Reply:
    return Reply(request_id=row["request_id"], outcome=row["outcome"], seq=int(row["seq"]),
                 message=row["message"])
