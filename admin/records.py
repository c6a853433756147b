"""Service records (issue 12): one way to read and change every record type, checked on
the server side and audited, over the ledger's append-only event log.

A record type is a pure module (admin/work_orders.py, subscriptions.py, inspections.py,
visits.py, complaints.py; named by ``RecordType`` in admin/record_types.py) holding its
verbs, forms, roles (``KIND_ROLES``), its rule (``check``, applied by the ledger writer)
and its derived state (``derive``). This module
adds the I/O: histories from ClickHouse, changes through the ledger (a stale
``expected_seq`` comes back as a conflict naming who moved the record), the role and
region checks, the audit, and the hooks a type needs around a change (a work order routed
to the region's roster; a subscription's stability evidence computed by the system).

Every attempt is audited once (action ``<stream>_<verb>``, target the record id, detail:
outcome, seq, message, request id, payload), like the duty desk's alarm actions.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from admin.audit import AuditLog
from admin.duty_actions import DENIED, ERROR, LedgerSubmitter, check_region
from admin.record_types import (
    TYPES,
    Action,
    Hook,
    RecordActionError,
    RecordStore,
    RecordType,
    allowed,
    new_id,
)
from admin.roles import ROLE_LABELS, PermissionDenied, User
from admin.service_settings import ServiceSettings
from pipeline.ledger import queries as lq
from pipeline.ledger.model import REFUSED, Change, Reply
from pipeline.ledger.stream_cache import StreamCache
from pipeline.store.client import ClickHouse
from pipeline.timebase import now_local


class RecordCache:
    """The streams' histories and derived states kept between reads (a page process, the
    service watch): each read fetches only what was appended since (StreamCache), and a
    record is derived again only when its last seq moved."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, StreamCache] = {}
        self._states: dict[tuple[str, str], tuple[int, Any]] = {}

    def states(self, rtype: RecordType, ch: ClickHouse) -> list[Any]:
        with self._lock:
            cache = self._streams.setdefault(rtype.stream, StreamCache(rtype.stream))
        out = []
        for rid, events in cache.histories(ch).items():
            key = (rtype.stream, rid)
            last = events[-1].seq if events else 0
            held = self._states.get(key)
            if held is None or held[0] != last:
                held = (last, rtype.derive(events, rid))
                self._states[key] = held
            out.append(held[1])
        return out


class Records:
    """Read and change service records as ``user``; thread-safe as its parts are."""

    def __init__(self, ledger: LedgerSubmitter, ch: ClickHouse, service: ServiceSettings,
                 hooks: Mapping[str, Hook] | None = None,
                 clock: Callable[[], datetime] = now_local,
                 cache: RecordCache | None = None) -> None:
        self.ledger = ledger
        self.ch = ch
        self.service = service
        self.clock = clock
        self.cache = cache
        if hooks is None:
            from admin.record_hooks import default_hooks

            hooks = default_hooks()
        self.hooks = hooks

    # --- reading ---------------------------------------------------------------------

    def get(self, rtype: RecordType, record_id: str) -> Any:
        return rtype.derive(lq.history(self.ch, rtype.stream, record_id), record_id)

    def all(self, rtype: RecordType, user: User | None = None) -> list[Any]:
        """The records' derived states (those ``user`` may see), newest opened first."""
        if self.cache is not None:
            states = self.cache.states(rtype, self.ch)
        else:
            states = [rtype.derive(ev, rid) for rid, ev in
                      lq.stream_histories(self.ch, rtype.stream).items()]
        if user is not None:
            states = [s for s in states if s.opened and _sees(user, s.region)]
        return sorted(states, key=lambda s: (s.opened_at or datetime.min, s.record_id),
                      reverse=True)

    # --- changing --------------------------------------------------------------------

    def create(self, user: User, rtype: RecordType, payload: Mapping[str, Any],
               source: str, *, record_id: str = "", address: str = "",
               wait_s: float | None = None) -> tuple[str, Reply]:
        """Create a record (its type's first verb): a new id unless one is given."""
        rid = record_id or new_id(rtype, self.clock())
        return rid, self.act(user, rtype, rid, rtype.create_kind, 0, payload, source,
                             address=address, wait_s=wait_s)

    def act(self, user: User, rtype: RecordType, record_id: str, kind: str,
            expected_seq: int, payload: Mapping[str, Any], source: str, *,
            address: str = "", wait_s: float | None = None) -> Reply:
        """Check ``user`` may do ``kind`` to the record, let the type's hook prepare it,
        submit it expecting the record's last seq ``expected_seq``, and audit the
        attempt. Role, region and hook refusals come back as REFUSED replies whose
        message says why (nothing is submitted)."""
        request_id = uuid.uuid4().hex
        body = dict(payload)
        audit = AuditLog(self.ch)

        def done(reply: Reply, outcome: str) -> Reply:
            audit.record(user.username, f"{rtype.stream}_{kind}", target=record_id,
                         source=address or source,
                         detail={"outcome": outcome, "kind": kind, "seq": reply.seq,
                                 "expected_seq": expected_seq, "message": reply.message,
                                 "request_id": request_id, "payload": body})
            return reply

        def deny(message: str) -> Reply:
            return done(Reply(request_id, REFUSED, expected_seq, message), DENIED)

        if kind not in rtype.module.KINDS:
            return deny(f"{rtype.label}: 未知操作 / unknown action {kind!r}; fix: one of "
                        f"{', '.join(rtype.module.KINDS)}")
        if not user.active:
            return deny(f"user {user.username!r} is disabled; fix: ask an admin")
        state = self.get(rtype, record_id)
        if not allowed(user, rtype, kind, state if state.opened else None, body):
            roles = rtype.roles(kind, state if state.opened else None, body)
            who = " or ".join(ROLE_LABELS[r] for r in sorted(roles)) or "the system only"
            return deny(f"user {user.username!r} may not {kind} {rtype.label} (needs {who}); "
                        "fix: ask a duty supervisor, or an admin to grant the role")
        action = Action(rtype, record_id, kind, state, body, user)
        hook = self.hooks.get(rtype.key)
        try:
            if hook is not None:
                hook.prepare(self, action)
            region = state.region if state.opened else str(body.get("region", ""))
            check_region(user, region, f"{rtype.label} {record_id}")
        except (RecordActionError, PermissionDenied) as exc:
            return deny(str(exc))
        change = Change(request_id=request_id, stream=rtype.stream, record_id=record_id,
                        kind=kind, actor=user.username, expected_seq=int(expected_seq),
                        payload=body, source=source, submitted_at=self.clock())
        try:
            reply = self.ledger.submit(change, wait_s=wait_s)
        except Exception as exc:
            done(Reply(request_id, ERROR, expected_seq, f"{type(exc).__name__}: {exc}"),
                 ERROR)
            raise
        done(reply, reply.outcome)
        if reply.ok:
            self.system_chain(rtype, record_id, reply.seq, action.follow_ups,
                              actor=user.username, source=source, wait_s=wait_s)
        return reply

    def system_chain(self, rtype: RecordType, record_id: str, after_seq: int,
                     changes: Sequence[tuple[str, Mapping[str, Any]]], *, actor: str,
                     source: str = "system", wait_s: float | None = None) -> int:
        """Append ``changes`` (verb, payload) one after another to a record whose last
        seq is ``after_seq``, as ``system_act`` does; stops at the first not appended.
        Returns the record's last seq as far as these changes went."""
        seq = after_seq
        for kind, payload in changes:
            reply = self.system_act(rtype, record_id, kind, seq, payload, actor=actor,
                                    source=source, wait_s=wait_s)
            if not reply.ok:
                break
            seq = reply.seq
        return seq

    def system_act(self, rtype: RecordType, record_id: str, kind: str, expected_seq: int,
                   payload: Mapping[str, Any], *, actor: str, source: str = "system",
                   wait_s: float | None = None) -> Reply:
        """A change a service makes (the SLA watch, a planner, a follow-up of a person's
        change): no role check (the caller is the platform), audited under ``actor``."""
        change = Change(request_id=uuid.uuid4().hex, stream=rtype.stream,
                        record_id=record_id, kind=kind, actor=actor,
                        expected_seq=int(expected_seq), payload=dict(payload),
                        source=source, submitted_at=self.clock())
        reply = self.ledger.submit(change, wait_s=wait_s)
        AuditLog(self.ch).record(actor, f"{rtype.stream}_{kind}", target=record_id,
                                 source=source,
                                 detail={"outcome": reply.outcome, "kind": kind,
                                         "seq": reply.seq, "message": reply.message,
                                         "request_id": change.request_id,
                                         "payload": dict(payload)})
        return reply


def _sees(user: User, region: str) -> bool:
    if region == "" and user.regions and not user.is_admin:
        return False
    return user.sees_region(region)


__all__ = ["TYPES", "Action", "Hook", "RecordActionError", "RecordCache", "RecordStore",
           "RecordType", "Records", "allowed", "new_id"]
