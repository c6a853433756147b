"""Reading the ledger: a record's history, its last seq, several records' histories at
once, replies by request id, and the recent events of a stream (for a shift handover).

Plain functions over a ClickHouse connection (``pipeline.store.client.ClickHouse``, or
anything with its ``query_dicts``): the writer, the client and the pages share them, so
the SQL runs the same on 18.16 and on chDB in the unit tests.

Histories are read with ``LIMIT 1 BY seq``: there is one writer per record, so a seq is
never written twice; the clause only keeps a page readable should a twin ever appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from pipeline.ledger.codec import event_from_row, ms_of, reply_from_row
from pipeline.ledger.model import Event, Reply

_EVENT_FIELDS = "stream, record_id, seq, request_id, kind, actor, at_ms, payload, source"

#: record ids per query (a longer IN list makes the statement large; 18.16 parses it all)
_CHUNK = 2_000


class Reader(Protocol):
    def query_dicts(self, sql: str, params: Any = None) -> list[dict[str, Any]]: ...


def history(ch: Reader, stream: str, record_id: str) -> list[Event]:
    """The record's events in seq order (empty: no event yet)."""
    rows = ch.query_dicts(
        f"SELECT {_EVENT_FIELDS} FROM ledger_events "
        "WHERE stream = %(stream)s AND record_id = %(record_id)s "
        "ORDER BY seq LIMIT 1 BY seq",
        {"stream": stream, "record_id": record_id})
    return [event_from_row(r) for r in rows]


def last_seq(ch: Reader, stream: str, record_id: str) -> int:
    """The record's last seq (0: no event yet): what a change made now must expect."""
    rows = ch.query_dicts(
        "SELECT max(seq) AS seq, count() AS n FROM ledger_events "
        "WHERE stream = %(stream)s AND record_id = %(record_id)s",
        {"stream": stream, "record_id": record_id})
    return int(rows[0]["seq"]) if rows and rows[0]["n"] else 0


def histories(ch: Reader, stream: str, record_ids: Iterable[str]) -> dict[str, list[Event]]:
    """Each record's events in seq order; every asked id is a key (empty list: none)."""
    ids = sorted(set(record_ids))
    out: dict[str, list[Event]] = {rid: [] for rid in ids}
    for i in range(0, len(ids), _CHUNK):
        chunk = tuple(ids[i:i + _CHUNK])
        rows = ch.query_dicts(
            f"SELECT {_EVENT_FIELDS} FROM ledger_events "
            "WHERE stream = %(stream)s AND record_id IN %(ids)s "
            "ORDER BY record_id, seq LIMIT 1 BY record_id, seq",
            {"stream": stream, "ids": chunk})
        for r in rows:
            out[r["record_id"]].append(event_from_row(r))
    return out


def last_seqs(ch: Reader, stream: str, record_ids: Iterable[str]) -> dict[str, int]:
    """Each record's last seq (0: no event yet), for a page listing many records."""
    ids = sorted(set(record_ids))
    out = dict.fromkeys(ids, 0)
    for i in range(0, len(ids), _CHUNK):
        rows = ch.query_dicts(
            "SELECT record_id, max(seq) AS seq FROM ledger_events "
            "WHERE stream = %(stream)s AND record_id IN %(ids)s GROUP BY record_id",
            {"stream": stream, "ids": tuple(ids[i:i + _CHUNK])})
        out.update({r["record_id"]: int(r["seq"]) for r in rows})
    return out


def replies(ch: Reader, request_ids: Iterable[str]) -> dict[str, Reply]:
    """The writer's replies by request id (a request not answered yet is absent)."""
    ids = sorted(set(request_ids))
    out: dict[str, Reply] = {}
    for i in range(0, len(ids), _CHUNK):
        rows = ch.query_dicts(
            "SELECT request_id, outcome, seq, message FROM ledger_replies "
            "WHERE request_id IN %(ids)s LIMIT 1 BY request_id",
            {"ids": tuple(ids[i:i + _CHUNK])})
        out.update({r["request_id"]: reply_from_row(r) for r in rows})
    return out


def reply(ch: Reader, request_id: str) -> Reply | None:
    """The writer's reply to one change, or None while it is not answered."""
    return replies(ch, [request_id]).get(request_id)


def recent_events(ch: Reader, stream: str, start: datetime, end: datetime,
                  limit: int = 1_000) -> list[Event]:
    """The stream's events appended in [start, end) (naive CST), oldest first, at most
    ``limit``: what happened during a shift."""
    rows = ch.query_dicts(
        f"SELECT {_EVENT_FIELDS} FROM ledger_events "
        "WHERE stream = %(stream)s AND at_ms >= %(start)s AND at_ms < %(end)s "
        "ORDER BY at_ms, record_id, seq LIMIT %(limit)s",
        {"stream": stream, "start": ms_of(start), "end": ms_of(end), "limit": limit})
    return [event_from_row(r) for r in rows]


def stream_histories(ch: Reader, stream: str) -> dict[str, list[Event]]:
    """Every record of ``stream`` with its whole history (events in seq order): a list
    page derives their states."""
    rows = ch.query_dicts(
        f"SELECT {_EVENT_FIELDS} FROM ledger_events WHERE stream = %(stream)s "
        "ORDER BY record_id, seq LIMIT 1 BY record_id, seq", {"stream": stream})
    out: dict[str, list[Event]] = {}
    for r in rows:
        out.setdefault(r["record_id"], []).append(event_from_row(r))
    return out


def stream_events_since(ch: Reader, stream: str, since_ms: int) -> list[Event]:
    """The stream's events appended at or after ``since_ms`` (the writer's clock), in
    record and seq order: what a reader that already holds the older ones needs."""
    rows = ch.query_dicts(
        f"SELECT {_EVENT_FIELDS} FROM ledger_events "
        "WHERE stream = %(stream)s AND at_ms >= %(since)s "
        "ORDER BY record_id, seq LIMIT 1 BY record_id, seq",
        {"stream": stream, "since": since_ms})
    return [event_from_row(r) for r in rows]


def stream_fingerprint(ch: Reader, stream: str) -> tuple[int, int, int]:
    """(events, sum of seq, sum of at_ms) of the stream: what a reader holding the
    stream compares with its own sums to know it holds exactly the table's rows."""
    rows = ch.query_dicts(
        "SELECT count() AS n, sum(seq) AS seqs, sum(at_ms) AS ms FROM ledger_events "
        "WHERE stream = %(stream)s", {"stream": stream})
    if not rows:
        return (0, 0, 0)
    r = rows[0]
    return (int(r["n"]), int(r["seqs"] or 0), int(r["ms"] or 0))
