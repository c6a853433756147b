"""Return visits (回访): the stream's verbs, the rule the ledger writer applies to each
change, the state derived from the appended events, and the list of visits due. Pure: no
I/O, no clock reads (``today`` comes in as an argument).

A record is one visit due (SERVICE.md flow 4, issue 12 item 5):

    plan 计划 → attempt 未接通 (unreachable; as often as it takes) → record 完成
    cancel 取消 from planned.

- ``plan`` gives the reason: ``work_order`` (a closed work order, visited within
  ``after_close_days``) with its ``work_order_id``, or ``contract`` (the quarterly visit
  per operations contract) with its ``contract_no`` and the ``period`` number; and the
  region, enterprise and due date; a work-order visit may name the order's engineer (the
  quality figures group visits by it).
- ``attempt`` records a call nobody answered (a note); the visit stays planned.
- ``record`` is the visit made: channel ``phone`` or ``on_site``, the contact person, a
  satisfaction score 1 to 5 (a whole number) and suggestions (may be empty).
- ``cancel`` waives the visit (a reason): the due is not listed again.

Who may do what (``KIND_ROLES``; admin holds every role; the I/O layer checks it):

| verb                  | operator | supervisor | engineer | quality | analyst |
|-----------------------|----------|------------|----------|---------|---------|
| plan, attempt, record | yes      | yes        | -        | yes     | -       |
| cancel                | -        | yes        | -        | -       | -       |

Why: the duty desk and quality call the customers back (SERVICE.md); the engineer who did
the job does not visit their own work, so the satisfaction score stays independent. A
cancelled visit drops out of the return-visit rate the operators are judged by, so only a
supervisor may waive one.

Visits due (``visits_due``):
- each closed work order: due ``after_close_days`` after the day it closed; one visit per
  work order (a reopened and closed again order keeps its visit);
- each operations contract: a visit every ``contract_every_months``, due at the end of the
  period that starts at the contract start or at the last done visit (so visits are never
  further apart than the period), and at the latest on the contract's end date. A
  cancelled contract visit waives its period: the next period starts at its due date. A
  period that has not begun (a contract starting later) is not listed.
A due with a planned visit says so (``covered_by``); a done or cancelled one is gone.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from admin import record_rules as rr
from admin.record_fields import CHOICE, DATE, INT, LONG, TEXT, USER, Field
from admin.record_rules import iso_date as _date
from admin.record_rules import refuse as _refuse
from admin.record_rules import text as _text
from admin.record_rules import whole as _whole
from admin.roles import SERVICE_REGIONS, Role
from admin.service_settings import VisitRules
from pipeline.ledger.model import Change, Event

#: the ledger stream of return visits
STREAM: Final = "visit"

# the verbs (Change.kind)
PLAN: Final = "plan"  # 计划: reason, work_order_id | contract_no + period, region, ...
ATTEMPT: Final = "attempt"  # 未接通: note
RECORD: Final = "record"  # 完成回访: channel, contact, satisfaction, suggestions
CANCEL: Final = "cancel"  # 取消: reason
KINDS: Final = (PLAN, ATTEMPT, RECORD, CANCEL)

KIND_LABELS: Final[Mapping[str, str]] = {
    PLAN: "计划 plan", ATTEMPT: "未接通 unreachable", RECORD: "完成回访 record",
    CANCEL: "取消 cancel",
}

# the states
PLANNED: Final = "planned"
DONE: Final = "done"
CANCELLED: Final = "cancelled"
STATES: Final = (PLANNED, DONE, CANCELLED)
STATE_LABELS: Final[Mapping[str, str]] = {
    PLANNED: "待回访 planned", DONE: "已回访 done", CANCELLED: "已取消 cancelled",
}

# why a visit is due
WORK_ORDER: Final = "work_order"
CONTRACT: Final = "contract"
REASONS: Final = (WORK_ORDER, CONTRACT)
REASON_LABELS: Final[Mapping[str, str]] = {
    WORK_ORDER: "工单回访 closed work order", CONTRACT: "合同季度回访 contract",
}

# how the visit was made
PHONE: Final = "phone"
ON_SITE: Final = "on_site"
CHANNELS: Final = (PHONE, ON_SITE)
CHANNEL_LABELS: Final[Mapping[str, str]] = {PHONE: "电话 phone", ON_SITE: "现场 on site"}

SATISFACTION_LOW: Final = 1
SATISFACTION_HIGH: Final = 5

#: the longest free text a change may carry
MAX_TEXT: Final = 4000

FORMS: Final[Mapping[str, tuple[Field, ...]]] = {
    PLAN: (
        Field("reason", "回访原因 reason", CHOICE, required=True, choices=REASONS,
              choice_labels=REASON_LABELS),
        Field("work_order_id", "工单号 work order", TEXT,
              help="工单回访必填 / for a closed work order"),
        Field("contract_no", "合同号 contract", TEXT, help="合同回访必填 / for a contract"),
        Field("period", "合同期第几次 period", INT, low=1, high=1000,
              help="合同回访：自合同开始的第几个周期 / the contract's period number"),
        Field("enterprise", "企业 enterprise", TEXT, required=True),
        Field("region", "服务区域 region", CHOICE, required=True, choices=SERVICE_REGIONS),
        Field("due", "到期日 due date", DATE, required=True),
        Field("engineer", "工单工程师 engineer", USER,
              help="工单回访：处理该工单的工程师 / who did the job visited (figures)"),
    ),
    ATTEMPT: (Field("note", "未接通说明 note", LONG, required=True),),
    RECORD: (
        Field("channel", "方式 channel", CHOICE, required=True, choices=CHANNELS,
              choice_labels=CHANNEL_LABELS),
        Field("contact", "受访人 contact person", TEXT, required=True),
        Field("satisfaction", "满意度 satisfaction (1-5)", INT, required=True,
              low=SATISFACTION_LOW, high=SATISFACTION_HIGH),
        Field("suggestions", "意见建议 suggestions", LONG),
    ),
    CANCEL: (Field("reason", "取消原因 reason", LONG, required=True),),
}

_DOERS: Final = frozenset({Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR, Role.QUALITY})

#: verb -> roles that may do it (admin holds every role); see the module docstring
KIND_ROLES: Final[Mapping[str, frozenset[Role]]] = {
    PLAN: _DOERS, ATTEMPT: _DOERS, RECORD: _DOERS,
    CANCEL: frozenset({Role.DUTY_SUPERVISOR}),
}


@dataclass(frozen=True, slots=True)
class Attempt:
    seq: int
    actor: str
    at: datetime
    note: str


@dataclass(frozen=True, slots=True)
class VisitState:
    record_id: str
    state: str  # one of STATES; "" before the plan
    opened: bool = False
    opened_at: datetime | None = None
    planned_by: str = ""
    reason: str = ""  # WORK_ORDER or CONTRACT
    work_order_id: str = ""  # WORK_ORDER
    contract_no: str = ""  # CONTRACT
    period: int = 0  # CONTRACT: the period number (0: not given)
    enterprise: str = ""
    region: str = ""
    due: date | None = None
    engineer: str = ""  # WORK_ORDER: who did the job visited (for the quality figures)
    attempts: tuple[Attempt, ...] = ()
    done_at: datetime | None = None
    done_by: str = ""
    channel: str = ""
    contact: str = ""
    satisfaction: int | None = None
    suggestions: str = ""
    cancelled_at: datetime | None = None
    cancelled_by: str = ""
    cancel_reason: str = ""
    last_seq: int = 0
    events: tuple[Event, ...] = field(default=(), repr=False)


# --- the rule ---------------------------------------------------------------------------


def _zh(kind: str) -> str:
    return rr.first_word(KIND_LABELS, kind)


def check(history: Sequence[Event], change: Change) -> str | None:
    """Why ``change`` may not follow ``history`` (the visit's events so far), in Chinese
    and English, or None when it may."""
    why = rr.check_start(change, KINDS, "回访", "return-visit", MAX_TEXT)
    if why:
        return why
    kind, p = change.kind, change.payload
    s = derive(history, change.record_id)
    if kind == PLAN:
        if s.opened:
            return _refuse("回访已计划", "the return visit is already planned; nothing to do")
        return _check_plan(p)
    if not s.opened:
        return _refuse(f"回访尚未计划，不能{_zh(kind)}",
                       f"the return visit is not planned; fix: plan it before you {kind} it")
    if s.state == DONE:
        return _refuse(f"回访已由 {s.done_by} 完成，不能{_zh(kind)}",
                       f"the return visit was made by {s.done_by}; nothing more to do")
    if s.state == CANCELLED:
        return _refuse(f"回访已由 {s.cancelled_by} 取消，不能{_zh(kind)}",
                       f"the return visit was cancelled by {s.cancelled_by}; fix: plan a "
                       "new one")
    if kind == ATTEMPT:
        if not _text(p, "note"):
            return _refuse("请说明未接通情况",
                           "unreachable needs a note (who was called, when); fix: give it")
        return None
    if kind == RECORD:
        return _check_record(p)
    # CANCEL
    if not _text(p, "reason"):
        return _refuse("请填写取消原因", "cancel needs a reason; fix: say why")
    return None


def _check_plan(p: Mapping[str, Any]) -> str | None:
    reason = _text(p, "reason")
    why = rr.unknown_value(reason, REASONS, "回访原因", "reason")
    if why:
        return why
    if reason == WORK_ORDER and not _text(p, "work_order_id"):
        return _refuse("工单回访请填写工单号",
                       "a visit for a closed work order needs its work_order_id")
    if reason == CONTRACT:
        if not _text(p, "contract_no"):
            return _refuse("合同回访请填写合同号",
                           "a contract visit needs the contract number (contract_no)")
        if "period" in p:
            period = _whole(p["period"])
            if period is None or period < 1:
                return _refuse(f"合同周期 {p['period']!r} 无效",
                               f"period {p['period']!r} is not a period number; fix: a "
                               "whole number from 1 (or leave it out)")
    why = (rr.missing(p, (("enterprise", "企业"),), PLAN)
           or rr.check_service_region(_text(p, "region")))
    if why:
        return why
    if _date(p.get("due")) is None:
        return rr.not_a_date(p.get("due"), "到期日", "due date")
    return None


def _check_record(p: Mapping[str, Any]) -> str | None:
    why = rr.unknown_value(_text(p, "channel"), CHANNELS, "回访方式", "channel")
    if why:
        return why
    if not _text(p, "contact"):
        return _refuse("请填写受访人", "record needs the contact person; fix: give the name")
    score = _whole(p.get("satisfaction"))
    if score is None or not SATISFACTION_LOW <= score <= SATISFACTION_HIGH:
        return _refuse(f"满意度 {p.get('satisfaction')!r} 无效",
                       f"satisfaction {p.get('satisfaction')!r} is not a score; fix: a "
                       f"whole number {SATISFACTION_LOW} to {SATISFACTION_HIGH}")
    if "suggestions" in p and not isinstance(p["suggestions"], str):
        return _refuse("意见建议须为文字", "suggestions must be text")
    return None


# --- the state --------------------------------------------------------------------------


def derive(events: Sequence[Event], record_id: str = "") -> VisitState:
    """The visit's state from its events (in any order; ``seq`` orders them). It trusts
    them (the writer checked each), so it never refuses."""
    ordered, record_id, last = rr.history(events, record_id)
    v: dict[str, Any] = {}
    attempts: list[Attempt] = []
    state = ""
    for e in ordered:
        p = e.payload
        if e.kind == PLAN:
            state = PLANNED
            reason = _text(p, "reason")
            v.update(opened=True, opened_at=e.at, planned_by=e.actor, reason=reason,
                     enterprise=_text(p, "enterprise"), region=_text(p, "region"),
                     due=_date(p.get("due")))
            if reason == WORK_ORDER:
                v.update(work_order_id=_text(p, "work_order_id"),
                         engineer=_text(p, "engineer"))
            else:
                v.update(contract_no=_text(p, "contract_no"),
                         period=_whole(p.get("period")) or 0)
        elif e.kind == ATTEMPT:
            attempts.append(Attempt(e.seq, e.actor, e.at, _text(p, "note")))
        elif e.kind == RECORD:
            state = DONE
            v.update(done_at=e.at, done_by=e.actor, channel=_text(p, "channel"),
                     contact=_text(p, "contact"), satisfaction=_whole(p.get("satisfaction")),
                     suggestions=_text(p, "suggestions"))
        elif e.kind == CANCEL:
            state = CANCELLED
            v.update(cancelled_at=e.at, cancelled_by=e.actor,
                     cancel_reason=_text(p, "reason"))
    return VisitState(record_id=record_id, state=state, attempts=tuple(attempts),
                      last_seq=last, events=ordered, **v)


_NEXT: Final[Mapping[str, tuple[str, ...]]] = {
    "": (PLAN,),
    PLANNED: (ATTEMPT, RECORD, CANCEL),
    DONE: (),
    CANCELLED: (),
}


def next_kinds(state: str) -> tuple[str, ...]:
    """The verbs a visit in ``state`` may allow (the forms to offer)."""
    return _NEXT.get(state, ())


# --- visits due -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosedOrder:
    """A closed work order (from the work-order stream)."""

    work_order_id: str
    closed_at: datetime  # naive CST, its (last) closing
    region: str
    enterprise: str
    engineer: str = ""


@dataclass(frozen=True, slots=True)
class ContractRef:
    """An operations contract (运维合同) that owes quarterly visits."""

    enterprise: str
    contract_no: str
    region: str
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class VisitDue:
    reason: str  # WORK_ORDER or CONTRACT
    region: str
    enterprise: str
    work_order_id: str  # WORK_ORDER
    contract_no: str  # CONTRACT
    period: int  # CONTRACT: the period number from 1; 0 for a work order
    engineer: str  # WORK_ORDER: who did the job
    since: date  # the day the work order closed, or the contract period began
    due: date
    overdue: bool  # today is after the due date
    key: str  # stable: the record id to plan it under (``visit_record_id``)
    covered_by: str = ""  # the planned visit that will meet it


def visit_record_id(reason: str, ref: str, period: int = 0) -> str:
    """The record id of a visit, so a planner run twice plans it once:
    ``RV-<work order id>`` (``RV-WO-<id>`` for an id not starting ``WO-``) or
    ``RV-C-<contract no>-<period>``."""
    ref = ref.strip()
    if not ref:
        raise ValueError("a visit's record id needs the work order id or contract number")
    if reason == WORK_ORDER:
        # work-order ids read WO-...: RV-WO-20261202-ABC123, not RV-WO-WO-...
        return f"RV-{ref}" if ref.startswith("WO-") else f"RV-WO-{ref}"
    if reason == CONTRACT:
        if period < 1:
            raise ValueError(f"contract visit period {period} is not a period number; fix: "
                             "1 or more")
        return f"RV-C-{ref}-{period}"
    raise ValueError(f"reason {reason!r} is unknown; fix: one of {', '.join(REASONS)}")


def add_months(d: date, months: int) -> date:
    """``d`` moved by whole months, the day clamped to the month's last (Nov 30 + 3 months
    is Feb 28, or 29)."""
    index = d.year * 12 + d.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def visits_due(closed_orders: Sequence[ClosedOrder], contracts: Sequence[ContractRef],
               visits: Sequence[VisitState], today: date, rules: VisitRules
               ) -> list[VisitDue]:
    """The visits owed at ``today``: one per closed work order not yet visited (or
    waived), and the current period's visit of each operations contract. ``visits`` are
    all the visit records so far (every state). Sorted by due date, then key."""
    planned = [v for v in visits if v.opened]
    out: list[VisitDue] = []
    for order in closed_orders:
        mine = [v for v in planned
                if v.reason == WORK_ORDER and v.work_order_id == order.work_order_id]
        if any(v.state in (DONE, CANCELLED) for v in mine):
            continue
        waiting = sorted(v.record_id for v in mine if v.state == PLANNED)
        closed = order.closed_at.date()
        due = closed + timedelta(days=rules.after_close_days)
        out.append(VisitDue(WORK_ORDER, order.region, order.enterprise, order.work_order_id,
                            "", 0, order.engineer, closed, due, today > due,
                            visit_record_id(WORK_ORDER, order.work_order_id),
                            waiting[0] if waiting else ""))
    taken = {v.record_id for v in visits}
    for c in contracts:
        due_c = _contract_due(c, planned, taken, today, rules)
        if due_c is not None:
            out.append(due_c)
    out.sort(key=lambda d: (d.due, d.key))
    return out


def _contract_due(c: ContractRef, planned: Sequence[VisitState], taken: set[str],
                  today: date, rules: VisitRules) -> VisitDue | None:
    mine = [v for v in planned if v.reason == CONTRACT and v.contract_no == c.contract_no]
    since = c.start
    ended = 0
    for v in mine:
        if v.state == DONE and v.done_at is not None:
            since = max(since, v.done_at.date())
        elif v.state == CANCELLED:
            # a waived period ends where it was due; the next starts there
            since = max(since, v.due or (v.cancelled_at.date() if v.cancelled_at
                                         else since))
        else:
            continue
        ended += 1
    if since >= c.end or since > today:
        return None
    due = min(add_months(since, rules.contract_every_months), c.end)
    waiting = sorted(v.record_id for v in mine if v.state == PLANNED)
    period = ended + 1
    # an id held by a record that no longer waits (e.g. planned by hand for another
    # period, then done) cannot be planned again: take the next number
    while visit_record_id(CONTRACT, c.contract_no, period) in taken and \
            visit_record_id(CONTRACT, c.contract_no, period) not in waiting:
        period += 1
    return VisitDue(CONTRACT, c.region, c.enterprise, "", c.contract_no, period, "", since,
                    due, today > due, visit_record_id(CONTRACT, c.contract_no, period),
                    waiting[0] if waiting else "")


def plan_payload(due: VisitDue) -> dict[str, Any]:
    """The ``plan`` payload of a due visit (to append under ``due.key``)."""
    p: dict[str, Any] = {"reason": due.reason, "enterprise": due.enterprise,
                         "region": due.region, "due": due.due.isoformat()}
    if due.reason == WORK_ORDER:
        p.update(work_order_id=due.work_order_id, engineer=due.engineer)
    else:
        p.update(contract_no=due.contract_no, period=due.period)
    return p
