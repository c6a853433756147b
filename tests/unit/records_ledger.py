"""A ledger for unit tests of the service records: it answers a change as the writer
does (pipeline.ledger.rules.decide with the installed stream rules, so refusals are the
real rules') and appends the event to ``ledger_events`` of a chDB database, so reads go
through the same SQL as on the server. Only the transport (Kafka) is left out. With
``pending`` set it answers nothing (queued), as when no writer runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pipeline.ledger import queries as lq
from pipeline.ledger import rules
from pipeline.ledger.codec import event_columns
from pipeline.ledger.model import PENDING, Change, Event, Reply
from pipeline.timebase import now_local


class ChdbLedger:
    def __init__(self, ch: object, clock: Callable[[], datetime] = now_local,
                 changes: list[Change] | None = None) -> None:
        self.ch = ch
        self.clock = clock
        self.checks = rules.streams()
        #: every change submitted (a list shared between ledgers when given)
        self.changes: list[Change] = [] if changes is None else changes
        self.pending = False

    def submit(self, change: Change, wait_s: float | None = None) -> Reply:
        self.changes.append(change)
        if self.pending:
            return Reply(change.request_id, PENDING, change.expected_seq, "")
        history = lq.history(self.ch, change.stream, change.record_id)  # type: ignore[arg-type]
        reply = rules.decide(history, change, self.checks.get(change.stream))
        if reply.ok:
            event = Event(change.stream, change.record_id, reply.seq, change.request_id,
                          change.kind, change.actor, self.clock().replace(microsecond=0),
                          dict(change.payload), change.source)
            self.ch.insert_columns("ledger_events", event_columns([event]))  # type: ignore[attr-defined]
        return reply
