"""A record's history built by a record module's own rule, as the ledger writer builds
it: each change is judged by the module's ``check`` and appended only when allowed. The
tests of admin/work_orders.py, subscriptions.py, complaints.py, inspections.py and
visits.py share it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import EllipsisType, ModuleType
from typing import Any

from pipeline.ledger.model import Change, Event


class RuleLog:
    def __init__(self, module: ModuleType, record_id: str, *, at: datetime,
                 actor: str) -> None:
        self.module = module
        self.record_id = record_id
        self.at = at  # the default time of a change
        self.actor = actor  # the default actor
        self.events: list[Event] = []

    def change(self, kind: str, payload: Mapping[str, Any] | None, actor: str,
               at: datetime | None) -> Change:
        seq = len(self.events)
        return Change(request_id=f"r{seq}{kind}", stream=self.module.STREAM,
                      record_id=self.record_id, kind=kind, actor=actor, expected_seq=seq,
                      payload=dict(payload or {}), submitted_at=at)

    def do(self, kind: str, payload: Mapping[str, Any] | None = None, *,
           at: datetime | None = None, actor: str | None = None) -> RuleLog:
        when = self.at if at is None else at
        c = self.change(kind, payload, self.actor if actor is None else actor, when)
        why = self.module.check(self.events, c)
        assert why is None, why
        self.events.append(Event(self.module.STREAM, self.record_id, len(self.events) + 1,
                                 c.request_id, kind, c.actor, when, dict(payload or {})))
        return self

    def refused(self, kind: str, payload: Mapping[str, Any] | None = None,
                actor: str | None = None, *,
                at: datetime | EllipsisType | None = ...) -> str:
        """Why the rule refuses ``kind`` now; ``at=None`` submits with no time."""
        why = self.module.check(self.events, self.change(
            kind, payload, self.actor if actor is None else actor,
            self.at if isinstance(at, EllipsisType) else at))
        assert why is not None
        assert " / " in why  # Chinese / English
        return why

    def state(self) -> Any:
        return self.module.derive(self.events)
