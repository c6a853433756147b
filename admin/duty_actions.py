"""What people may do to alarms, checked on the server side and audited: the one way the
duty desk page and ``hj212 alarms`` act (DESIGN.md: every role check on the server, every
write audited).

Who may do what (``KIND_ROLES``; admin holds every role):

| action                               | operator   | supervisor | engineer | quality | analyst |
|--------------------------------------|------------|------------|----------|---------|---------|
| ack, unack, assign, notify, dispatch | yes        | yes        | -        | -       | -       |
| comment                              | yes        | yes        | yes      | yes     | -       |
| resolve                              | yes        | yes        | yes      | -       | -       |
| close, reopen                        | -          | yes        | -        | -       | -       |
| silence                              | up to 24 h | 30 d, all  | -        | -       | -       |
| unsilence                            | yes        | yes        | -        | -       | -       |

(operator: duty_operator 值守员; supervisor: duty_supervisor 值守主管; engineer:
field_engineer 驻地工程师, only their regions' stations; quality 质量管理; analyst 分析;
"30 d, all": up to 30 days, and fleet-wide)

Why: the duty desk works the feed (acknowledge, warn the enterprise, dispatch);
closing and reopening end or revive the record the enterprise and the assessment see,
so a supervisor signs it off (SERVICE.md lets the operator close; the issue's brief
reserves it to the supervisor, and a supervisor can delegate by role). A field engineer
fixes the site, so they note and resolve, and only alarms of their regions' stations.
Quality reviews complaints and corrective actions: a note on the record, no action.
Analysts read figures: no writes, so the duty record stays the duty centre's. A silence
longer than a shift (24 h) or over the whole fleet hides alarms from everyone, so it
needs a supervisor; ending a silence never hides anything, so any operator may.

Every user's regions apply too (``User.sees_region``): nobody acts on an alarm of a
station they may not see; an alarm of a station the registry does not know (region '')
only users of every region may touch.

Every attempt is audited once with its outcome (action ``alarm_<kind>``, target the
alarm id, detail: outcome, seq, message, request id, payload): appended, conflict,
refused (by the lifecycle rule), denied (by role or region, before anything was sent),
queued (no answer within the wait), or error (the submit raised).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from admin.accounts import Accounts
from admin.audit import AuditLog
from admin.roles import PermissionDenied, Role, User
from pipeline.config import Settings
from pipeline.duty import alarms as alarm_store
from pipeline.duty import lifecycle as lc
from pipeline.duty import silences as sil
from pipeline.ledger.model import APPENDED, CONFLICT, PENDING, REFUSED, Change, Reply
from pipeline.store.client import ClickHouse
from pipeline.timebase import now_local

_OPS: Final = frozenset({Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR})

#: action -> roles that may do it (admin holds every role); see the module docstring
KIND_ROLES: Final[Mapping[str, frozenset[Role]]] = {
    lc.ACK: _OPS, lc.UNACK: _OPS, lc.ASSIGN: _OPS, lc.NOTIFY: _OPS, lc.DISPATCH: _OPS,
    lc.COMMENT: _OPS | {Role.FIELD_ENGINEER, Role.QUALITY},
    lc.RESOLVE: _OPS | {Role.FIELD_ENGINEER},
    lc.CLOSE: frozenset({Role.DUTY_SUPERVISOR}),
    lc.REOPEN: frozenset({Role.DUTY_SUPERVISOR}),
}
SILENCE_ROLES: Final = _OPS
#: the longest silence a duty operator may declare: one shift and its handover
OPERATOR_MAX_SILENCE: Final = timedelta(hours=24)
#: who may declare longer and fleet-wide silences
LONG_SILENCE_ROLES: Final = frozenset({Role.DUTY_SUPERVISOR})

#: outcome names of the audit detail beside the ledger's
DENIED: Final = "denied"
ERROR: Final = "error"


class LedgerSubmitter(Protocol):
    """What perform needs of pipeline.ledger.client.LedgerClient."""

    def submit(self, change: Change, wait_s: float | None = None) -> Reply: ...


class WorkOrders(Protocol):
    """Makes the work order (运维工单) of a dispatch: admin/order_hooks.py
    ``LedgerWorkOrders`` opens a real one (routed to the region's roster unless
    ``engineer`` is named) and returns its id and engineer."""

    def create(self, alarm: Mapping[str, Any], engineer_region: str, actor: str,
               engineer: str = "") -> tuple[str, str]: ...


@dataclass(frozen=True)
class LocalWorkOrders:
    """Names a work order without opening one (``WO-<day>-<8 hex of the alarm id>``):
    for callers with no ledger of work orders at hand (unit tests of the alarm rule).
    One alarm dispatched twice on one day (after a reopen) gets the same id."""

    def create(self, alarm: Mapping[str, Any], engineer_region: str, actor: str,
               engineer: str = "") -> tuple[str, str]:
        digest = hashlib.sha1(str(alarm["alarm_id"]).encode()).hexdigest()[:8]
        return f"WO-{now_local():%Y%m%d}-{digest}", engineer


def allowed(user: User, kind: str) -> bool:
    """Whether ``user``'s roles allow action ``kind`` (regions aside)."""
    roles = KIND_ROLES.get(kind)
    return roles is not None and user.has(*sorted(roles))


def check_role(user: User, kind: str) -> None:
    """PermissionDenied unless ``user`` may do ``kind`` (roles only)."""
    if kind not in KIND_ROLES:
        raise PermissionDenied(f"alarm action {kind!r} does not exist; fix: one of "
                               f"{', '.join(lc.KINDS)}")
    if not user.active:
        raise PermissionDenied(f"user {user.username!r} is disabled; fix: ask an admin "
                               "(管理员) to enable the account")
    if not allowed(user, kind):
        who = " or ".join(sorted(r.value for r in KIND_ROLES[kind]))
        raise PermissionDenied(f"user {user.username!r} may not {kind} alarms (needs "
                               f"{who}); fix: ask a duty supervisor, or an admin to grant "
                               "the role")


def check_region(user: User, region: str, what: str) -> None:
    """PermissionDenied unless ``user`` may act on stations of ``region``."""
    if region == "" and user.regions and not user.is_admin:
        raise PermissionDenied(f"{what} belongs to a station of no service region (not in "
                               f"the registry); user {user.username!r} sees only some "
                               "regions, and only users of every region may act on it; "
                               "fix: register the station, or ask a duty supervisor")
    if not user.sees_region(region):
        mine = "、".join(sorted(user.regions)) or "none"
        raise PermissionDenied(f"user {user.username!r} may not act on {what} of region "
                               f"{region!r} (their regions: {mine}); fix: ask the duty "
                               "desk or a user of that region")


def perform(ledger: LedgerSubmitter, ch: ClickHouse, user: User, alarm_id: str, kind: str,
            expected_seq: int, payload: Mapping[str, Any], source: str, *,
            address: str = "", wait_s: float | None = None,
            work_orders: WorkOrders | None = None) -> Reply:
    """Check ``user`` may do ``kind`` to ``alarm_id``, then submit the change (expecting
    the alarm's last seq ``expected_seq``) through the ledger and return its reply.

    A role or region refusal comes back as a REFUSED reply whose message says why (and
    nothing is submitted); so do an unknown alarm and an assignee with no account. A
    dispatch without a ``work_order_id`` gets one from ``work_orders``. ``source`` is
    the change's ('web', 'cli'); ``address`` the audit's (the client's IP; default
    ``source``). Every attempt is audited with its outcome."""
    request_id = uuid.uuid4().hex
    body = dict(payload)
    audit = AuditLog(ch)

    def done(reply: Reply, outcome: str) -> Reply:
        audit.record(user.username, f"alarm_{kind}" if kind in lc.KINDS else "alarm_action",
                     target=alarm_id, source=address or source,
                     detail={"outcome": outcome, "kind": kind, "seq": reply.seq,
                             "expected_seq": expected_seq, "message": reply.message,
                             "request_id": request_id, "payload": body})
        return reply

    def deny(message: str) -> Reply:
        return done(Reply(request_id, REFUSED, expected_seq, message), DENIED)

    try:
        check_role(user, kind)
    except PermissionDenied as exc:
        return deny(str(exc))
    alarm = alarm_store.get(ch, alarm_id)
    if alarm is None:
        return deny(f"alarm {alarm_id!r} does not exist (告警不存在); fix: copy the id from "
                    "`hj212 alarms list` or the duty desk")
    try:
        check_region(user, alarm["region"], f"alarm {alarm_id}")
    except PermissionDenied as exc:
        return deny(str(exc))
    if kind == lc.ASSIGN:
        assignee = str(body.get("assignee", "")).strip()
        if assignee:
            found = Accounts(ch, Settings()).get(assignee)
            if found is None or not found.active:
                return deny(f"assignee {assignee!r} has no active account (指派对象不存在); "
                            "fix: check the name with `hj212 users list`")
            body["assignee"] = found.username
    if kind == lc.DISPATCH:
        body.setdefault("region", alarm["region"])
        engineer = str(body.get("engineer", "")).strip()
        if not str(body.get("work_order_id", "")).strip() and (engineer or work_orders):
            try:
                body["work_order_id"], body["engineer"] = (
                    work_orders or LocalWorkOrders()).create(
                    alarm, str(body["region"]), user.username, engineer)
            except ValueError as exc:
                return deny(str(exc))
    change = Change(request_id=request_id, stream=lc.STREAM, record_id=alarm_id, kind=kind,
                    actor=user.username, expected_seq=int(expected_seq), payload=body,
                    source=source, submitted_at=now_local())
    try:
        reply = ledger.submit(change, wait_s=wait_s)
    except Exception as exc:
        done(Reply(request_id, ERROR, expected_seq, f"{type(exc).__name__}: {exc}"), ERROR)
        raise
    return done(reply, reply.outcome)


def outcome_text(reply: Reply) -> str:
    """The reply in the users' words, for the CLI and pages."""
    if reply.outcome == APPENDED:
        return f"已记录 appended as event {reply.seq}"
    if reply.outcome == CONFLICT:
        return f"冲突 conflict: {reply.message}"
    if reply.outcome == PENDING:
        return ("已排队 queued: the ledger writer has not answered yet (is `hj212 ledger` "
                "running?); the change stays queued and will be answered")
    return f"被拒绝 refused: {reply.message}"


# --- silences ---------------------------------------------------------------------------


def _silence_region(ch: ClickHouse, mn: str, region: str) -> str | None:
    """The region a silence is confined to: its own, else its station's; None when it
    spans regions (names neither)."""
    if region:
        return region
    if mn:
        rows = ch.query_dicts("SELECT region FROM stations FINAL WHERE mn = %(mn)s",
                              {"mn": mn})
        return str(rows[0]["region"]) if rows else ""
    return None


def silence(ch: ClickHouse, user: User, *, starts_at: datetime, ends_at: datetime,
            reason: str, mn: str = "", code: str = "", rule: str = "", region: str = "",
            fleet_wide: bool = False, source: str = "", now: datetime | None = None
            ) -> sil.Silence:
    """Declare a silence as ``user`` (roles and length per the module docstring; the
    silence's own rules in pipeline/duty/silences.py), audited as ``alarm_silence``.
    PermissionDenied or SilenceError say why not (audited as denied too)."""
    audit = AuditLog(ch)
    at = now or now_local()
    detail: dict[str, object] = {"mn": mn, "code": code, "rule": rule, "region": region,
                                 "starts_at": starts_at, "ends_at": ends_at,
                                 "reason": reason, "fleet_wide": fleet_wide}
    try:
        if not user.has(*sorted(SILENCE_ROLES)):
            raise PermissionDenied(f"user {user.username!r} may not declare silences (needs "
                                   "duty_operator or duty_supervisor)")
        long_ok = user.has(*sorted(LONG_SILENCE_ROLES))
        if not long_ok and ends_at - max(starts_at, at) > OPERATOR_MAX_SILENCE:
            raise PermissionDenied(
                f"a duty operator's silence lasts at most {OPERATOR_MAX_SILENCE} (值守员静默"
                "最长 24 小时); fix: a shorter window, or ask a duty supervisor")
        if fleet_wide and not long_ok:
            raise PermissionDenied("a fleet-wide silence (全网静默) needs a duty supervisor")
        scope = _silence_region(ch, mn.strip(), region.strip())
        if scope is None:
            if user.regions and not user.is_admin:
                raise PermissionDenied(
                    f"a silence naming no station or region spans every region; user "
                    f"{user.username!r} sees only {'、'.join(sorted(user.regions))}; fix: "
                    "give --region or --mn")
        else:
            check_region(user, scope, "a silence")
        made = sil.add(ch, starts_at=starts_at, ends_at=ends_at, reason=reason,
                       created_by=user.username, mn=mn, code=code, rule=rule, region=region,
                       fleet_wide=fleet_wide, now=at)
    except (PermissionDenied, sil.SilenceError) as exc:
        audit.record(user.username, "alarm_silence", target="", source=source,
                     detail={**detail, "outcome": DENIED, "message": str(exc)})
        raise
    audit.record(user.username, "alarm_silence", target=made.silence_id, source=source,
                 detail={**detail, "outcome": APPENDED})
    return made


def unsilence(ch: ClickHouse, user: User, silence_id: str, *, source: str = "",
              now: datetime | None = None) -> sil.Silence:
    """End silence ``silence_id`` now as ``user``, audited as ``alarm_unsilence``."""
    audit = AuditLog(ch)
    try:
        if not user.has(*sorted(SILENCE_ROLES)):
            raise PermissionDenied(f"user {user.username!r} may not end silences (needs "
                                   "duty_operator or duty_supervisor)")
        current = sil.get(ch, silence_id)
        if current is None:
            raise sil.SilenceError(f"silence {silence_id!r} does not exist; fix: see the ids "
                                   "with `hj212 alarms silences`")
        scope = _silence_region(ch, current.mn, current.region)
        if scope is None:
            if user.regions and not user.is_admin:
                raise PermissionDenied(f"silence {silence_id} spans every region; user "
                                       f"{user.username!r} may not end it; fix: ask a user "
                                       "of every region")
        else:
            check_region(user, scope, f"silence {silence_id}")
        done = sil.cancel(ch, silence_id, user.username, now=now)
    except (PermissionDenied, sil.SilenceError) as exc:
        audit.record(user.username, "alarm_unsilence", target=silence_id, source=source,
                     detail={"outcome": DENIED, "message": str(exc)})
        raise
    audit.record(user.username, "alarm_unsilence", target=silence_id, source=source,
                 detail={"outcome": APPENDED, "scope": done.scope_text()})
    return done
