"""Complaints (投诉): the stream's verbs, the rule the ledger writer applies to each
change, and the state derived from the appended events. Pure: no I/O, no clock reads.

States (SERVICE.md flow 5, issue 12 item 6): received (受理) → investigated (调查) →
capa (纠正预防措施 recorded) → replied (答复客户) → closed (关闭), with reopen from closed
(back to received: a reopened complaint is investigated afresh; the earlier steps stay in
``steps`` and the first close stays in ``first_closed_at``). A step may be repeated while
it is the current one (more findings, a revised action, a second reply to a customer who
did not accept the first); it may not be skipped.

Quality (质量管理) investigates, records the corrective and preventive action and closes;
the duty desk (operators and supervisors) receives complaints and replies to customers.
Each step keeps its time and actor, so the quality figures can count complaints per
region and month (``received_month``) and their time to close (``time_to_close``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from admin import record_rules as rr
from admin.record_fields import BOOL, CHOICE, DATE, LONG, TEXT, USER, Field
from admin.record_rules import Note
from admin.record_rules import iso_date as _date
from admin.record_rules import missing as _missing
from admin.record_rules import refuse as _refuse
from admin.record_rules import text as _text
from admin.roles import Role
from pipeline.ledger.model import Change, Event
from pipeline.registry.model import REGIONS

#: the ledger stream of complaints
STREAM: Final = "complaint"

# the verbs (Change.kind)
RECEIVE: Final = "receive"
INVESTIGATE: Final = "investigate"
CAPA: Final = "capa"
REPLY: Final = "reply"
CLOSE: Final = "close"
REOPEN: Final = "reopen"
NOTE: Final = "note"
KINDS: Final = (RECEIVE, INVESTIGATE, CAPA, REPLY, CLOSE, REOPEN, NOTE)

KIND_LABELS: Final = {
    RECEIVE: "受理 receive", INVESTIGATE: "调查 investigate",
    CAPA: "纠正预防措施 corrective and preventive action", REPLY: "答复客户 reply",
    CLOSE: "关闭 close", REOPEN: "重新打开 reopen", NOTE: "备注 note",
}

# the states
RECEIVED: Final = "received"
INVESTIGATED: Final = "investigated"
CAPA_SET: Final = "capa"
REPLIED: Final = "replied"
CLOSED: Final = "closed"
STATES: Final = (RECEIVED, INVESTIGATED, CAPA_SET, REPLIED, CLOSED)
STATE_LABELS: Final = {
    RECEIVED: "已受理 received", INVESTIGATED: "已调查 investigated",
    CAPA_SET: "已定纠正预防措施 CAPA recorded", REPLIED: "已答复 replied",
    CLOSED: "已关闭 closed",
}

#: how a complaint arrived, and how a reply went out
CHANNELS: Final = ("phone", "wechat", "mail", "visit")
CHANNEL_LABELS: Final = {"phone": "电话 phone", "wechat": "微信 WeChat", "mail": "邮件 mail",
                         "visit": "来访/上门 visit"}

#: the longest free text a change may carry
MAX_TEXT: Final = 4000

_OPS: Final = frozenset({Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR})
_QUALITY: Final = frozenset({Role.QUALITY})

#: who may do each verb (admin holds every role; the I/O layer checks it). A customer who
#: calls back about a closed complaint reaches the duty desk, so its supervisor may reopen.
KIND_ROLES: Final[Mapping[str, frozenset[Role]]] = {
    RECEIVE: _OPS, REPLY: _OPS,
    INVESTIGATE: _QUALITY, CAPA: _QUALITY, CLOSE: _QUALITY,
    REOPEN: _QUALITY | {Role.DUTY_SUPERVISOR},
    NOTE: _OPS | _QUALITY,
}

FORMS: Final[Mapping[str, tuple[Field, ...]]] = {
    RECEIVE: (
        Field("complainant", "投诉人 complainant", TEXT, required=True),
        Field("contact", "联系方式 contact", TEXT, required=True),
        Field("organisation", "单位 organisation", TEXT, required=True),
        Field("station", "站点 MN station", TEXT),
        Field("region", "服务区域 service region", CHOICE, required=True,
              choices=tuple(REGIONS)),
        Field("work_order_id", "相关工单 work order", TEXT),
        Field("received_via", "受理渠道 received via", CHOICE, required=True,
              choices=CHANNELS, choice_labels=CHANNEL_LABELS),
        Field("text", "投诉内容 complaint", LONG, required=True),
    ),
    INVESTIGATE: (Field("findings", "调查结果 findings", LONG, required=True),),
    CAPA: (
        Field("correction", "纠正 correction", LONG, required=True,
              help="what was put right at once"),
        Field("corrective_action", "纠正措施 corrective action", LONG, required=True,
              help="what removes the cause"),
        Field("preventive_action", "预防措施 preventive action", LONG, required=True,
              help="what keeps it from happening elsewhere"),
        Field("owner", "责任人 owner", USER, required=True),
        Field("due", "完成期限 due date", DATE, required=True),
    ),
    REPLY: (
        Field("channel", "答复方式 channel", CHOICE, required=True, choices=CHANNELS,
              choice_labels=CHANNEL_LABELS),
        Field("text", "答复内容 reply", LONG, required=True),
        Field("customer_accepts", "客户认可 customer accepts", BOOL, required=True),
    ),
    CLOSE: (Field("note", "关闭说明 note", LONG,
                  help="required when the customer did not accept the reply"),),
    REOPEN: (Field("reason", "重新打开原因 reason", LONG, required=True),),
    NOTE: (Field("text", "备注 note", LONG, required=True),),
}

#: the states each verb may follow (a step may repeat while it is the current one)
_NEEDS: Final[Mapping[str, tuple[str, ...]]] = {
    RECEIVE: ("",),
    INVESTIGATE: (RECEIVED, INVESTIGATED),
    CAPA: (INVESTIGATED, CAPA_SET),
    REPLY: (CAPA_SET, REPLIED),
    CLOSE: (REPLIED,),
    REOPEN: (CLOSED,),
    NOTE: (RECEIVED, INVESTIGATED, CAPA_SET, REPLIED, CLOSED),
}

_NEEDS_HINT: Final[Mapping[str, str]] = {
    RECEIVE: "the complaint is already received; nothing to do",
    INVESTIGATE: "investigate a received complaint, before its corrective action",
    CAPA: "the corrective and preventive action follows the investigation; fix: record "
          "the findings first",
    REPLY: "reply after the corrective and preventive action is recorded",
    CLOSE: "close after the customer has had a reply",
    REOPEN: "only a closed complaint can be reopened",
    NOTE: "receive the complaint first",
}


def next_kinds(state: str) -> tuple[str, ...]:
    """The verbs a complaint in ``state`` may allow (forms to offer)."""
    return tuple(k for k in KINDS if state in _NEEDS[k])


@dataclass(frozen=True, slots=True)
class Step:
    """One appended step: the verb, its seq, who and when."""

    kind: str
    seq: int
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ComplaintState:
    record_id: str
    state: str  # one of STATES; "" before it is received
    opened: bool = False
    opened_at: datetime | None = None  # received
    region: str = ""
    complainant: str = ""
    contact: str = ""
    organisation: str = ""
    station: str = ""
    work_order_id: str = ""
    text: str = ""
    received_via: str = ""
    received_by: str = ""
    # the current pass (cleared by a reopen; the earlier ones stay in ``steps``)
    findings: str = ""
    investigated_at: datetime | None = None
    investigated_by: str = ""
    correction: str = ""
    corrective_action: str = ""
    preventive_action: str = ""
    capa_owner: str = ""
    capa_due: date | None = None
    capa_at: datetime | None = None
    capa_by: str = ""
    reply_channel: str = ""
    reply_text: str = ""
    customer_accepts: bool | None = None
    replied_at: datetime | None = None
    replied_by: str = ""
    closed_at: datetime | None = None
    closed_by: str = ""
    close_note: str = ""
    #: the first close, for the time to close (a reopen does not reset it)
    first_closed_at: datetime | None = None
    reopens: tuple[Note, ...] = ()  # the reasons, as notes
    notes: tuple[Note, ...] = ()
    steps: tuple[Step, ...] = ()  # every verb but notes, in order
    last_seq: int = 0
    events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def received_month(self) -> str:
        """YYYY-MM of receipt ("" before), the month a complaint counts in."""
        return self.opened_at.strftime("%Y-%m") if self.opened_at is not None else ""

    @property
    def time_to_close(self) -> timedelta | None:
        """From receipt to the first close; None while never closed."""
        if self.opened_at is None or self.first_closed_at is None:
            return None
        return self.first_closed_at - self.opened_at


# --- the rule ---------------------------------------------------------------------------


def _zh(kind: str) -> str:
    return rr.first_word(KIND_LABELS, kind)


def check(history: Sequence[Event], change: Change) -> str | None:
    """Why ``change`` may not follow ``history`` (the complaint's events so far), in
    Chinese and English, or None when it may."""
    why = rr.check_start(change, KINDS, "投诉", "complaint", MAX_TEXT)
    if why:
        return why
    kind, p = change.kind, change.payload
    s = derive(history, change.record_id)
    if s.state not in _NEEDS[kind]:
        if not s.opened:
            return _refuse(f"投诉尚未受理，不能{_zh(kind)}",
                           f"the complaint is not received; fix: receive it before you "
                           f"{kind} it")
        if s.state == CLOSED:
            return _refuse(f"投诉已由 {s.closed_by} 关闭，不能{_zh(kind)}",
                           f"the complaint was closed by {s.closed_by}; fix: reopen it "
                           "first")
        return _refuse(f"投诉状态为 {s.state}，不能{_zh(kind)}",
                       f"the complaint is {s.state}; {_NEEDS_HINT[kind]}")
    if kind == RECEIVE:
        return _check_receive(p)
    if kind == INVESTIGATE:
        return _missing(p, (("findings", "调查结果"),), kind)
    if kind == CAPA:
        why = _missing(p, (("correction", "纠正"), ("corrective_action", "纠正措施"),
                           ("preventive_action", "预防措施"), ("owner", "责任人")), kind)
        if why:
            return why
        if _date(p.get("due")) is None:
            return rr.not_a_date(p.get("due"), "完成期限", "due")
        return None
    if kind == REPLY:
        why = rr.unknown_value(_text(p, "channel"), CHANNELS, "答复方式", "channel")
        if why:
            return why
        if not _text(p, "text"):
            return _refuse("答复内容为空", "reply needs the text; fix: write what the customer "
                           "was told")
        if not isinstance(p.get("customer_accepts"), bool):
            return _refuse("请填写客户是否认可", "reply needs customer_accepts (true or false)")
        return None
    if kind == CLOSE:
        if s.customer_accepts is not True and not _text(p, "note"):
            return _refuse("客户不认可答复，关闭须说明原因",
                           "the customer did not accept the reply; fix: a note saying why "
                           "it is closed anyway, or reply again")
        return None
    if kind == REOPEN:
        return _missing(p, (("reason", "重新打开的原因"),), kind)
    return _missing(p, (("text", "备注"),), kind)  # NOTE


def _check_receive(p: Mapping[str, Any]) -> str | None:
    return (_missing(p, (("complainant", "投诉人"), ("contact", "联系方式"),
                         ("organisation", "单位"), ("text", "投诉内容")), RECEIVE)
            or rr.unknown_value(_text(p, "region"), REGIONS, "服务区域", "region")
            or rr.unknown_value(_text(p, "received_via"), CHANNELS, "受理渠道",
                                "received_via"))


# --- the state --------------------------------------------------------------------------

#: the current pass's values, cleared by a reopen
_PASS: Final[Mapping[str, Any]] = {
    "findings": "", "investigated_at": None, "investigated_by": "", "correction": "",
    "corrective_action": "", "preventive_action": "", "capa_owner": "", "capa_due": None,
    "capa_at": None, "capa_by": "", "reply_channel": "", "reply_text": "",
    "customer_accepts": None, "replied_at": None, "replied_by": "", "closed_at": None,
    "closed_by": "", "close_note": "",
}


def derive(events: Sequence[Event], record_id: str = "") -> ComplaintState:
    """The complaint's state from its events (in any order; ``seq`` orders them). It
    trusts them (the writer checked each), so it never refuses."""
    ordered, record_id, last = rr.history(events, record_id)
    v: dict[str, Any] = {}
    steps: list[Step] = []
    notes: list[Note] = []
    reopens: list[Note] = []
    state = ""
    for e in ordered:
        p = e.payload
        if e.kind != NOTE:
            steps.append(Step(e.kind, e.seq, e.actor, e.at))
        if e.kind == RECEIVE:
            state = RECEIVED
            v.update(opened=True, opened_at=e.at, received_by=e.actor,
                     region=_text(p, "region"), complainant=_text(p, "complainant"),
                     contact=_text(p, "contact"), organisation=_text(p, "organisation"),
                     station=_text(p, "station"), work_order_id=_text(p, "work_order_id"),
                     text=_text(p, "text"), received_via=_text(p, "received_via"))
        elif e.kind == INVESTIGATE:
            state = INVESTIGATED
            v.update(findings=_text(p, "findings"), investigated_at=e.at,
                     investigated_by=e.actor)
        elif e.kind == CAPA:
            state = CAPA_SET
            v.update(correction=_text(p, "correction"),
                     corrective_action=_text(p, "corrective_action"),
                     preventive_action=_text(p, "preventive_action"),
                     capa_owner=_text(p, "owner"), capa_due=_date(p.get("due")),
                     capa_at=e.at, capa_by=e.actor)
        elif e.kind == REPLY:
            state = REPLIED
            accepts = p.get("customer_accepts")
            v.update(reply_channel=_text(p, "channel"), reply_text=_text(p, "text"),
                     customer_accepts=accepts if isinstance(accepts, bool) else None,
                     replied_at=e.at, replied_by=e.actor)
        elif e.kind == CLOSE:
            state = CLOSED
            v.setdefault("first_closed_at", e.at)
            v.update(closed_at=e.at, closed_by=e.actor, close_note=_text(p, "note"))
        elif e.kind == REOPEN:
            state = RECEIVED
            reopens.append(Note(e.seq, e.actor, e.at, _text(p, "reason")))
            v.update(_PASS)
        elif e.kind == NOTE:
            notes.append(Note(e.seq, e.actor, e.at, _text(p, "text")))
    return ComplaintState(record_id=record_id, state=state, steps=tuple(steps),
                          notes=tuple(notes), reopens=tuple(reopens), last_seq=last,
                          events=ordered, **v)
