"""Work orders (运维工单): the stream's verbs, the rule the ledger writer applies to each
change, the state derived from the appended events, and the SLA clock computed from the
history (never typed in). Pure: no I/O.

States (SERVICE.md, issue 12 item 2): new → assigned → contacted → responded → on_site →
resolved → verified → closed, with reopen (back to responded, or on_site when the engineer
had been on site). ``on_site`` may be skipped: a fault fixed by phone is resolved from
``responded``; the signed service report is required only where there was a site visit.

Escalation levels: ordinary → technical_block (技术对接组) → major_fault (supervisor told
at once, written report) → quality_accident (batch problem or quality accident, managers
told at once, report within 1 hour). A level only goes up.

SLA clocks (``sla``), defaults in ``SlaLimits`` (a settings file comes later):
- first contact within 15 minutes of opening (every order);
- response within 1 hour and engineer on site within 3 hours, for a fault that stops a
  system (payload flag ``stops_system`` at open); ordinary faults go by phone or mail;
- a daily closing note for each calendar day the order is open (a note, resolve or close
  that day meets it; due at the next midnight);
- for jobs open over a week, at least one note in each further week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from admin import record_rules as rr
from admin.record_fields import BOOL, CHOICE, LONG, TEXT, USER, Field
from admin.record_rules import Note
from admin.record_rules import refuse as _refuse
from admin.record_rules import text as _text
from admin.roles import Role
from pipeline.ledger.model import Change, Event

#: the ledger stream of work orders
STREAM: Final = "work_order"

# the verbs (Change.kind)
OPEN: Final = "open"  # 开单: source, alarm_id, caller, contact, organisation, station, ...
ASSIGN: Final = "assign"  # 派工: engineer
TRANSFER: Final = "transfer"  # 转派: from, to, reason
CONTACT: Final = "contact"  # 首次联系客户
RESPOND: Final = "respond"  # 响应
ARRIVE: Final = "arrive"  # 到场
RESOLVE: Final = "resolve"  # 处理完成: cause, action, result, report
VERIFY: Final = "verify"  # 确认数据恢复: verification
CLOSE: Final = "close"  # 关闭
REOPEN: Final = "reopen"  # 重新打开: reason
ESCALATE: Final = "escalate"  # 升级: level, note
NOTE: Final = "note"  # 日结记录: text
REPORT: Final = "report"  # 书面报告: text, attachment (major fault, quality accident)
NOTIFY: Final = "notify"  # 通知: receiver, text (hj212 notify sends it; escalations, SLA)
SLA_MARK: Final = "sla"  # SLA 预警/超时记录: clock, due, level (system:sla only)
KINDS: Final = (OPEN, ASSIGN, TRANSFER, CONTACT, RESPOND, ARRIVE, RESOLVE, VERIFY, CLOSE,
                REOPEN, ESCALATE, NOTE, REPORT, NOTIFY, SLA_MARK)

KIND_LABELS: Final = {
    OPEN: "开单 open", ASSIGN: "派工 assign", TRANSFER: "转派 transfer",
    CONTACT: "联系客户 contact", RESPOND: "响应 respond", ARRIVE: "到场 arrive",
    RESOLVE: "处理完成 resolve", VERIFY: "确认恢复 verify", CLOSE: "关闭 close",
    REOPEN: "重新打开 reopen", ESCALATE: "升级 escalate", NOTE: "日结记录 note",
    REPORT: "书面报告 written report", NOTIFY: "通知 notify", SLA_MARK: "时限记录 SLA mark",
}

# the states
NEW: Final = "new"
ASSIGNED: Final = "assigned"
CONTACTED: Final = "contacted"
RESPONDED: Final = "responded"
ON_SITE: Final = "on_site"
RESOLVED: Final = "resolved"
VERIFIED: Final = "verified"
CLOSED: Final = "closed"
STATES: Final = (NEW, ASSIGNED, CONTACTED, RESPONDED, ON_SITE, RESOLVED, VERIFIED, CLOSED)
STATE_LABELS: Final = {
    NEW: "新建 new", ASSIGNED: "已派工 assigned", CONTACTED: "已联系 contacted",
    RESPONDED: "已响应 responded", ON_SITE: "已到场 on site", RESOLVED: "已处理 resolved",
    VERIFIED: "已确认 verified", CLOSED: "已关闭 closed",
}

# intake sources and classes
SOURCES: Final = ("alarm", "phone", "wechat", "inspection", "complaint")
SOURCE_LABELS: Final = {"alarm": "值守告警 duty alarm", "phone": "电话 phone",
                        "wechat": "微信 WeChat", "inspection": "巡检发现 inspection",
                        "complaint": "投诉 complaint"}
CLASSES: Final = ("technical_service", "complaint", "inquiry")
CLASS_LABELS: Final = {"technical_service": "技术服务 technical service",
                       "complaint": "投诉 complaint", "inquiry": "咨询 inquiry"}

# escalation levels, lowest first
ORDINARY: Final = "ordinary"
TECHNICAL_BLOCK: Final = "technical_block"
MAJOR_FAULT: Final = "major_fault"
QUALITY_ACCIDENT: Final = "quality_accident"
LEVELS: Final = (ORDINARY, TECHNICAL_BLOCK, MAJOR_FAULT, QUALITY_ACCIDENT)
LEVEL_LABELS: Final = {ORDINARY: "一般 ordinary", TECHNICAL_BLOCK: "技术阻塞 technical block",
                       MAJOR_FAULT: "重大故障 major fault",
                       QUALITY_ACCIDENT: "批量问题/质量事故 batch problem or quality accident"}
SLA_LEVELS: Final = ("warning", "breach")

#: the longest free text a change may carry
MAX_TEXT: Final = 4000


@dataclass(frozen=True, slots=True)
class Transfer:
    seq: int
    actor: str
    at: datetime
    from_engineer: str
    to_engineer: str
    reason: str


@dataclass(frozen=True, slots=True)
class Escalation:
    seq: int
    actor: str
    at: datetime
    level: str
    note: str


@dataclass(frozen=True, slots=True)
class WorkOrderState:
    work_order_id: str
    state: str  # one of STATES; "" before the order is opened
    opened: bool = False
    source: str = ""
    alarm_id: str = ""
    caller: str = ""
    contact: str = ""
    organisation: str = ""
    station: str = ""  # the station's MN
    reason: str = ""
    order_class: str = ""
    region: str = ""
    stops_system: bool = False
    opened_by: str = ""
    opened_at: datetime | None = None
    engineer: str = ""
    assigned_at: datetime | None = None
    transfers: tuple[Transfer, ...] = ()
    escalation: str = ORDINARY
    escalations: tuple[Escalation, ...] = ()
    #: first times of each step (the SLA clocks stop there; a reopen does not reset them)
    contacted_at: datetime | None = None
    responded_at: datetime | None = None
    arrived_at: datetime | None = None
    #: the current resolution (cleared by a reopen)
    resolved_at: datetime | None = None
    resolved_by: str = ""
    cause: str = ""
    action: str = ""
    result: str = ""
    report: str = ""
    verified_at: datetime | None = None
    verification: str = ""
    closed_at: datetime | None = None
    closed_by: str = ""
    reopens: tuple[Note, ...] = ()  # the reasons, as notes
    notes: tuple[Note, ...] = ()
    #: the written reports (质量反馈报告) of escalated faults
    reports: tuple[Note, ...] = ()
    last_seq: int = 0
    events: tuple[Event, ...] = field(default=(), repr=False)
    #: (clock, due, level) of the SLA warnings and breaches recorded by system:sla
    sla_marks: tuple[tuple[str, str, str], ...] = ()

    @property
    def record_id(self) -> str:
        return self.work_order_id


# --- the rule ---------------------------------------------------------------------------


def _zh(kind: str) -> str:
    return rr.first_word(KIND_LABELS, kind)


#: the state each step needs (the states it may follow)
_NEEDS: Final[dict[str, tuple[str, ...]]] = {
    ASSIGN: (NEW,),
    CONTACT: (ASSIGNED,),
    RESPOND: (CONTACTED,),
    ARRIVE: (RESPONDED,),
    RESOLVE: (RESPONDED, ON_SITE),
    VERIFY: (RESOLVED,),
    CLOSE: (VERIFIED,),
    REOPEN: (RESOLVED, VERIFIED, CLOSED),
    TRANSFER: (ASSIGNED, CONTACTED, RESPONDED, ON_SITE),
}

_NEEDS_HINT: Final[dict[str, str]] = {
    ASSIGN: "the order already has an engineer; fix: transfer it instead",
    CONTACT: "first contact follows the assignment; fix: assign an engineer first",
    RESPOND: "the response follows the first contact; fix: record the contact first",
    ARRIVE: "arriving follows the response; fix: record the response first",
    RESOLVE: "resolve after the response (and the site visit, if any)",
    VERIFY: "verify that the data are back after the order is resolved",
    CLOSE: "close after the data are verified back",
    REOPEN: "only a resolved, verified or closed order can be reopened",
    TRANSFER: "only an assigned order still in work can be transferred",
}


def check(history: Sequence[Event], change: Change) -> str | None:
    """Why ``change`` may not follow ``history`` (the work order's events so far), in
    Chinese and English, or None when it may."""
    why = rr.check_start(change, KINDS, "工单", "work-order", MAX_TEXT)
    if why:
        return why
    kind, p = change.kind, change.payload
    s = derive(history, change.record_id)
    if kind == OPEN:
        if s.opened:
            return _refuse("工单已开立", "the work order is already open; nothing to do")
        return _check_open(p)
    if not s.opened:
        return _refuse(f"工单尚未开立，不能{_zh(kind)}",
                       f"the work order is not open; fix: open it before you {kind} it")
    if s.state == CLOSED and kind not in (REOPEN, NOTIFY, SLA_MARK, REPORT):
        return _refuse(f"工单已由 {s.closed_by} 关闭，不能{_zh(kind)}",
                       f"the work order was closed by {s.closed_by}; fix: reopen it first")
    needs = _NEEDS.get(kind)
    if needs is not None and s.state not in needs:
        return _refuse(f"工单状态为 {s.state}，不能{_zh(kind)}",
                       f"the work order is {s.state}; {_NEEDS_HINT[kind]}")
    if kind == ASSIGN:
        if not _text(p, "engineer"):
            return _refuse("派工对象为空", "assign to nobody; fix: name the engineer")
        return None
    if kind == TRANSFER:
        source, target = _text(p, "from"), _text(p, "to")
        if source != s.engineer:
            return _refuse(f"工单当前由 {s.engineer} 负责，不是 {source}",
                           f"the order is with {s.engineer}, not {source!r}; fix: transfer "
                           "from the current engineer")
        if not target:
            return _refuse("转派对象为空", "transfer to nobody; fix: name the engineer")
        if target == s.engineer:
            return _refuse(f"工单已由 {target} 负责", f"already with {target}")
        if not _text(p, "reason"):
            return _refuse("请填写转派原因", "transfer needs a reason; fix: say why")
        return None
    if kind == RESOLVE:
        why = rr.missing(p, (("cause", "原因"), ("action", "处理措施"),
                             ("result", "处理结果")), RESOLVE)
        if why:
            return why
        if s.arrived_at is not None and not _text(p, "report"):
            return _refuse("有现场服务，请附签字的服务报告",
                           "there was a site visit: attach the signed service report "
                           "(report)")
        return None
    if kind == VERIFY:
        if not _text(p, "verification"):
            return _refuse("请说明如何确认数据已恢复",
                           "verify needs how the data were seen back (verification)")
        return None
    if kind == REOPEN:
        if not _text(p, "reason"):
            return _refuse("请填写重新打开的原因", "reopen needs a reason; fix: say why")
        return None
    if kind == ESCALATE:
        level = _text(p, "level")
        why = rr.unknown_value(level, LEVELS, "升级级别", "escalation level")
        if why:
            return why
        if LEVELS.index(level) <= LEVELS.index(s.escalation):
            return _refuse(f"工单已是 {s.escalation} 级，只能向上升级",
                           f"the order is already at {s.escalation}; escalation only goes "
                           "up")
        if not _text(p, "note"):
            return _refuse("请填写升级说明", "escalate needs a note; fix: say why")
        return None
    if kind == NOTIFY:
        return rr.check_notify(p)
    if kind == SLA_MARK:
        if not change.actor.startswith("system:"):
            return _refuse("时限记录只能由系统写入",
                           "SLA marks are written by the SLA watch (system:sla) only")
        mark = (_text(p, "clock"), _text(p, "due"), _text(p, "level"))
        if mark[0] not in CLOCKS or not mark[1] or mark[2] not in SLA_LEVELS:
            return _refuse("时限记录不完整", f"SLA mark {mark!r} needs a clock of "
                           f"{', '.join(CLOCKS)}, a due time and a level of "
                           f"{', '.join(SLA_LEVELS)}")
        if mark in s.sla_marks:
            return _refuse("此时限记录已存在", f"SLA mark {mark!r} is already recorded")
        return None
    if kind == REPORT:
        if not _text(p, "text"):
            return _refuse("书面报告为空", "empty report; fix: write what happened, the "
                           "cause, what was done and what prevents it again")
        return None
    if kind == NOTE:
        if not _text(p, "text"):
            return _refuse("日结记录为空", "empty note; fix: write the day's cause, process "
                           "and result")
        return None
    return None  # contact, respond, arrive, close: the state is all they need


def _check_open(p: Mapping[str, Any]) -> str | None:
    source = _text(p, "source")
    why = rr.unknown_value(source, SOURCES, "来源", "source")
    if why:
        return why
    if source == "alarm" and not _text(p, "alarm_id"):
        return _refuse("告警派单缺少告警编号", "an order from an alarm needs its alarm_id")
    if source in ("phone", "wechat"):  # a person called: who, and how to reach them
        for key, zh in (("caller", "来电人"), ("contact", "联系方式")):
            if not _text(p, key):
                return _refuse(f"请填写{zh}", f"an intake by {source} needs the {key}")
    why = (rr.missing(p, (("organisation", "单位"), ("station", "站点 MN"),
                          ("reason", "事由"), ("region", "服务区域")), OPEN)
           or rr.unknown_value(_text(p, "class"), CLASSES, "工单类别", "class"))
    if why:
        return why
    if "stops_system" in p and not isinstance(p["stops_system"], bool):
        return _refuse("stops_system 须为是/否", "stops_system must be true or false")
    return None


# --- the state --------------------------------------------------------------------------


def derive(events: Sequence[Event], work_order_id: str = "") -> WorkOrderState:
    """The work order's state from its events (in any order; ``seq`` orders them). It
    trusts them (the writer checked each), so it never refuses."""
    ordered, work_order_id, last = rr.history(events, work_order_id)
    v: dict[str, Any] = {}
    transfers: list[Transfer] = []
    escalations: list[Escalation] = []
    notes: list[Note] = []
    reports: list[Note] = []
    reopens: list[Note] = []
    marks: list[tuple[str, str, str]] = []
    state = ""
    for e in ordered:
        p = e.payload
        if e.kind == OPEN:
            state = NEW
            v.update(opened=True, source=_text(p, "source"), alarm_id=_text(p, "alarm_id"),
                     caller=_text(p, "caller"), contact=_text(p, "contact"),
                     organisation=_text(p, "organisation"), station=_text(p, "station"),
                     reason=_text(p, "reason"), order_class=_text(p, "class"),
                     region=_text(p, "region"), stops_system=p.get("stops_system") is True,
                     opened_by=e.actor, opened_at=e.at)
        elif e.kind == ASSIGN:
            state = ASSIGNED
            v.update(engineer=_text(p, "engineer"), assigned_at=e.at)
        elif e.kind == TRANSFER:
            transfers.append(Transfer(e.seq, e.actor, e.at, _text(p, "from"), _text(p, "to"),
                                      _text(p, "reason")))
            v["engineer"] = _text(p, "to")
        elif e.kind == CONTACT:
            state = CONTACTED
            v.setdefault("contacted_at", e.at)
        elif e.kind == RESPOND:
            state = RESPONDED
            v.setdefault("responded_at", e.at)
        elif e.kind == ARRIVE:
            state = ON_SITE
            v.setdefault("arrived_at", e.at)
        elif e.kind == RESOLVE:
            state = RESOLVED
            v.update(resolved_at=e.at, resolved_by=e.actor, cause=_text(p, "cause"),
                     action=_text(p, "action"), result=_text(p, "result"),
                     report=_text(p, "report"))
        elif e.kind == VERIFY:
            state = VERIFIED
            v.update(verified_at=e.at, verification=_text(p, "verification"))
        elif e.kind == CLOSE:
            state = CLOSED
            v.update(closed_at=e.at, closed_by=e.actor)
        elif e.kind == REOPEN:
            reopens.append(Note(e.seq, e.actor, e.at, _text(p, "reason")))
            state = ON_SITE if v.get("arrived_at") is not None else RESPONDED
            v.update(resolved_at=None, resolved_by="", cause="", action="", result="",
                     report="", verified_at=None, verification="", closed_at=None,
                     closed_by="")
        elif e.kind == ESCALATE:
            escalations.append(Escalation(e.seq, e.actor, e.at, _text(p, "level"),
                                          _text(p, "note")))
            v["escalation"] = _text(p, "level")
        elif e.kind == NOTE:
            notes.append(Note(e.seq, e.actor, e.at, _text(p, "text")))
        elif e.kind == REPORT:
            reports.append(Note(e.seq, e.actor, e.at, _text(p, "text")))
        elif e.kind == SLA_MARK:
            marks.append((_text(p, "clock"), _text(p, "due"), _text(p, "level")))
    return WorkOrderState(sla_marks=tuple(marks),work_order_id=work_order_id, state=state,
                          transfers=tuple(transfers), escalations=tuple(escalations),
                          notes=tuple(notes), reopens=tuple(reopens),
                          reports=tuple(reports), last_seq=last,
                          events=ordered, **v)


# --- the SLA clock ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaLimits:
    """The service commitments (SERVICE.md, "Time limits"); a settings file comes later."""

    first_contact: timedelta = timedelta(minutes=15)
    response: timedelta = timedelta(hours=1)  # a fault that stops a system
    on_site: timedelta = timedelta(hours=3)  # a fault that stops a system
    weekly_after: timedelta = timedelta(days=7)  # jobs open longer get a note a week
    #: a clock not yet met warns once this share of its budget has elapsed
    warn_fraction: float = 0.8
    #: escalation level -> the written report is due this long after the escalation
    report_due: tuple[tuple[str, timedelta], ...] = (("major_fault", timedelta(hours=24)),
                                                      ("quality_accident", timedelta(hours=1)))


FIRST_CONTACT: Final = "first_contact"
RESPONSE: Final = "response"
ON_SITE_CLOCK: Final = "on_site"
DAILY_NOTE: Final = "daily_note"
WEEKLY_ENTRY: Final = "weekly_entry"
REPORT_CLOCK: Final = "report"
CLOCKS: Final = (FIRST_CONTACT, RESPONSE, ON_SITE_CLOCK, DAILY_NOTE, WEEKLY_ENTRY,
                 REPORT_CLOCK)
CLOCK_LABELS: Final = {FIRST_CONTACT: "首次联系 first contact", RESPONSE: "响应 response",
                       ON_SITE_CLOCK: "到场 on site", DAILY_NOTE: "日结 daily note",
                       WEEKLY_ENTRY: "周记录 weekly entry",
                       REPORT_CLOCK: "书面报告 written report"}


@dataclass(frozen=True, slots=True)
class Clock:
    name: str  # FIRST_CONTACT, RESPONSE, ON_SITE_CLOCK, DAILY_NOTE or WEEKLY_ENTRY
    started_at: datetime
    due_at: datetime
    met_at: datetime | None
    #: met after due_at, or not met and now past it
    breached: bool
    #: not met, not breached, and at least warn_fraction of the budget gone
    warn: bool


def _clock(name: str, start: datetime, due: datetime, met: datetime | None, now: datetime,
           limits: SlaLimits) -> Clock:
    if met is not None:
        return Clock(name, start, due, met, breached=met > due, warn=False)
    breached = now > due
    warn = not breached and (now - start) >= (due - start) * limits.warn_fraction
    return Clock(name, start, due, None, breached=breached, warn=warn)


def _open_spans(s: WorkOrderState, now: datetime) -> list[tuple[datetime, datetime]]:
    """When the order was open (not closed), up to ``now``."""
    spans: list[tuple[datetime, datetime]] = []
    start: datetime | None = None
    for e in s.events:
        if e.kind in (OPEN, REOPEN) and start is None:
            start = e.at
        elif e.kind == CLOSE and start is not None:
            spans.append((start, e.at))
            start = None
    if start is not None and now >= start:
        spans.append((start, now))
    return spans


def sla(state: WorkOrderState, now: datetime, limits: SlaLimits | None = None) -> list[Clock]:
    """The SLA clocks of a work order at ``now`` (naive CST), from its history alone."""
    lim = limits or SlaLimits()
    opened = state.opened_at
    if opened is None:
        return []
    clocks = [_clock(FIRST_CONTACT, opened, opened + lim.first_contact, state.contacted_at,
                     now, lim)]
    if state.stops_system:
        clocks.append(_clock(RESPONSE, opened, opened + lim.response, state.responded_at,
                             now, lim))
        # a fault fixed before anyone went on site needs no visit: the resolution meets it
        reached = state.arrived_at
        if reached is None:
            fixes = [e.at for e in state.events if e.kind == RESOLVE]
            reached = fixes[0] if fixes else None
        clocks.append(_clock(ON_SITE_CLOCK, opened, opened + lim.on_site, reached, now, lim))
    spans = _open_spans(state, now)
    entries = [e.at for e in state.events if e.kind in (NOTE, RESOLVE, CLOSE)]
    notes = [n.at for n in state.notes]
    # daily closing note: each calendar day the order was open
    days: list[date] = []
    for start, end in spans:
        d = start.date()
        while d <= end.date():
            if d not in days:
                days.append(d)
            d += timedelta(days=1)
    for d in days:
        start = max(opened, datetime.combine(d, time(0)))
        due = datetime.combine(d + timedelta(days=1), time(0))
        met = next((t for t in entries if t.date() == d), None)
        clocks.append(_clock(DAILY_NOTE, start, due, met, now, lim))
    # weekly entry: each further week of a job open over a week
    week = lim.weekly_after
    k = 1
    while True:
        w_start, w_end = opened + week * k, opened + week * (k + 1)
        if w_start > now:
            break
        if any(a < w_end and b > w_start for a, b in spans):
            met = next((t for t in notes if w_start <= t < w_end), None)
            clocks.append(_clock(WEEKLY_ENTRY, w_start, w_end, met, now, lim))
        k += 1
    # written report: each escalation to a level that owes one, met by the first report
    # written at or after it
    due_after = dict(lim.report_due)
    reports = [r.at for r in state.reports]
    for esc in state.escalations:
        if esc.level in due_after:
            met = next((t for t in reports if t >= esc.at), None)
            clocks.append(_clock(REPORT_CLOCK, esc.at, esc.at + due_after[esc.level], met,
                                 now, lim))
    return clocks


# --- who may do what, and what each form asks ------------------------------------------

_OPS: Final = frozenset({Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR})
_ENG: Final = frozenset({Role.FIELD_ENGINEER})

#: verb -> roles that may do it (admin holds every role). The desk opens, routes, checks
#: contact happened, verifies data back and closes (SERVICE.md flow 1); the engineer
#: works the site; reopening undoes a closed record the assessment counts, so it needs a
#: supervisor or quality; SLA marks are the watch's alone (no role).
KIND_ROLES: Final[Mapping[str, frozenset[Role]]] = {
    OPEN: _OPS | {Role.QUALITY},
    ASSIGN: _OPS, TRANSFER: _OPS,
    CONTACT: _OPS | _ENG, RESPOND: _OPS | _ENG, ARRIVE: _ENG | _OPS,
    RESOLVE: _ENG | _OPS, ESCALATE: _ENG | _OPS,
    VERIFY: _OPS, CLOSE: _OPS,
    REOPEN: frozenset({Role.DUTY_SUPERVISOR, Role.QUALITY}),
    NOTE: _OPS | _ENG | {Role.QUALITY},
    REPORT: _OPS | _ENG | {Role.QUALITY},
    NOTIFY: _OPS,
    SLA_MARK: frozenset(),
}

FORMS: Final[Mapping[str, tuple[Field, ...]]] = {
    OPEN: (
        Field("source", "来源 source", CHOICE, True, SOURCES, SOURCE_LABELS),
        Field("class", "类别 class", CHOICE, True, CLASSES, CLASS_LABELS),
        Field("station", "站点 MN station", TEXT, True),
        Field("organisation", "单位 organisation", TEXT, True),
        Field("region", "服务区域 region", TEXT, False,
              help="空：按站点登记 / empty: the station's region"),
        Field("caller", "来电人 caller", TEXT),
        Field("contact", "联系方式 contact", TEXT),
        Field("reason", "事由 reason", LONG, True),
        Field("stops_system", "系统停止工作 fault stops the system", BOOL),
        Field("alarm_id", "告警编号 alarm id", TEXT),
    ),
    ASSIGN: (Field("engineer", "工程师 engineer", USER, True),),
    TRANSFER: (Field("from", "原工程师 from", USER, False,
                     help="空：当前工程师 / empty: the current engineer"),
               Field("to", "转给 to", USER, True),
               Field("reason", "原因 reason", LONG, True)),
    CONTACT: (Field("text", "联系情况 how", TEXT),),
    RESPOND: (Field("text", "响应说明 how", TEXT),),
    ARRIVE: (Field("text", "到场说明 note", TEXT),),
    RESOLVE: (Field("cause", "原因 cause", LONG, True),
              Field("action", "处理措施 action", LONG, True),
              Field("result", "处理结果 result", LONG, True),
              Field("report", "签字服务报告 signed service report", TEXT,
                    help="附件编号或文件名；有现场服务时必填 / attachment; required after a "
                         "site visit")),
    VERIFY: (Field("verification", "数据恢复确认 how the data were seen back", LONG, True),),
    CLOSE: (Field("text", "关闭说明 note", TEXT),),
    REOPEN: (Field("reason", "原因 reason", LONG, True),),
    ESCALATE: (Field("level", "升级级别 level", CHOICE, True, LEVELS[1:], LEVEL_LABELS),
               Field("note", "说明 note", LONG, True)),
    NOTE: (Field("text", "日结记录 the day's cause, process and result", LONG, True),),
    REPORT: (Field("text", "书面报告 what happened, cause, action, prevention", LONG, True),
             Field("attachment", "附件 attachment", TEXT)),
    NOTIFY: (Field("receiver", "接收群 receiver", TEXT, True),
             Field("text", "内容 text", LONG, True)),
}

_NEXT: Final[dict[str, tuple[str, ...]]] = {
    "": (OPEN,),
    NEW: (ASSIGN, ESCALATE, NOTE),
    ASSIGNED: (CONTACT, TRANSFER, ESCALATE, NOTE),
    CONTACTED: (RESPOND, TRANSFER, ESCALATE, NOTE),
    RESPONDED: (ARRIVE, RESOLVE, TRANSFER, ESCALATE, NOTE),
    ON_SITE: (RESOLVE, TRANSFER, ESCALATE, NOTE),
    RESOLVED: (VERIFY, REOPEN, NOTE),
    VERIFIED: (CLOSE, REOPEN, NOTE),
    CLOSED: (REOPEN,),
}


def next_kinds(state: WorkOrderState) -> tuple[str, ...]:
    """The verbs a person may try next (the forms a page offers); the rule decides."""
    kinds = _NEXT.get(state.state, ())
    if state.escalation == QUALITY_ACCIDENT:
        kinds = tuple(k for k in kinds if k != ESCALATE)
    if state.escalation in (MAJOR_FAULT, QUALITY_ACCIDENT):
        kinds = (*kinds, REPORT)
    return kinds


def sla_marks_due(state: WorkOrderState, now: datetime, limits: SlaLimits | None = None
                  ) -> list[tuple[str, str, str]]:
    """The SLA marks (clock, due 'YYYY-MM-DD HH:MM:SS', level) the watch should record
    now and has not: a breach of every clock met late or not met by its due time (also
    after the order closed: the record of each breach), a warning for a clock of an open
    order running out. A clock is known by its name and due time, so a replayed history
    gives the same marks."""
    out: list[tuple[str, str, str]] = []
    for c in sla(state, now, limits):
        due = f"{c.due_at:%Y-%m-%d %H:%M:%S}"
        if c.breached:
            mark = (c.name, due, "breach")
        elif c.warn and state.state != CLOSED:
            mark = (c.name, due, "warning")
        else:
            continue
        if mark not in state.sla_marks and mark not in out:
            out.append(mark)
    return out
