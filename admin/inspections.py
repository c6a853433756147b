"""Inspections (巡检): the stream's verbs, the rule the ledger writer applies to each change,
the state derived from the appended events, and the schedule of inspections due. Pure: no
I/O, no clock reads (``today`` comes in as an argument).

A record is one inspection (SERVICE.md flow 3, issue 12 item 4):

    plan 计划 → start 开始 → record 记录 (per checklist item, in several steps)
    → complete 完成 → follow_up 跟进 (a work order opened from a problem finding)
    cancel 取消 from planned or in progress; note 备注 at any time after the plan.

- ``plan`` names the kind (``platform``: the monthly platform inspection and
  data-integrity check of a service region; ``site``: an inspection of one station), the
  region, the station's MN (site only), the enterprise (optional), the checklist template
  and its items *copied at plan time* (a later change to the template in service.toml
  never rewrites a planned inspection), the due date and the inspector.
- ``record`` answers one checklist item: ``ok`` / ``problem`` / ``na``; a problem needs a
  note saying what is wrong. Answering an item again replaces the answer (the history
  keeps both).
- ``complete`` needs every item answered and a summary.
- ``follow_up`` links the work order opened from a problem finding; only after completion,
  only for items found a problem, at most once per item.
- ``cancel`` needs a reason; a cancelled inspection counts for nothing in the schedule.

Who may do what (``KIND_ROLES`` per verb, ``roles_for`` per verb and inspection kind;
admin holds every role; the I/O layer checks them, the rule does not):

| verb                     | platform inspection     | site inspection             |
|--------------------------|-------------------------|-----------------------------|
| plan                     | operator, supervisor    | operator, supervisor        |
| start, record, complete  | operator, supervisor    | engineer                    |
| follow_up                | operator, supervisor    | operator, supervisor, engineer |
| cancel                   | supervisor              | supervisor                  |
| note                     | operator, supervisor, engineer, quality (both kinds) |  |

(operator: duty_operator 值守员; supervisor: duty_supervisor 值守主管; engineer:
field_engineer 驻地工程师, their regions only; quality 质量管理; analyst: read only.)

Why: the duty centre keeps the schedule, so it plans both kinds; the platform inspection
is desk work on the platform, done by the duty centre; a site inspection is done by the
region's resident engineer at the station. Work orders come from the duty desk or the
engineer who found the problem, so both may link one. Cancelling takes an inspection out
of the schedule the operators are judged by, so a supervisor signs it off. Quality
reviews findings and may note, never change them.

The schedule (``due_inspections``): one platform inspection per service region (of the
stations given) every ``platform_every_days`` and one site inspection per station every
``site_every_days``, counted from the last completed one. An inspection planned and not
cancelled covers the next due: the due shows its record (``covered_by``) and its planned
date, so a planned inspection left undone past its date is listed overdue. A target never
inspected is due today.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from admin import record_rules as rr
from admin.record_fields import CHOICE, DATE, LIST, LONG, TEXT, USER, Field
from admin.record_rules import Note
from admin.record_rules import iso_date as _date
from admin.record_rules import refuse as _refuse
from admin.record_rules import text as _text
from admin.roles import SERVICE_REGIONS, Role
from admin.service_settings import InspectionRules
from pipeline.ledger.model import Change, Event

#: the ledger stream of inspections
STREAM: Final = "inspection"

# the verbs (Change.kind)
PLAN: Final = "plan"  # 计划: kind, region, station, enterprise, template, items, due, inspector
START: Final = "start"  # 开始
RECORD: Final = "record"  # 记录: item, result, note
COMPLETE: Final = "complete"  # 完成: summary
FOLLOW_UP: Final = "follow_up"  # 跟进: item, work_order_id
CANCEL: Final = "cancel"  # 取消: reason
NOTE: Final = "note"  # 备注: text
KINDS: Final = (PLAN, START, RECORD, COMPLETE, FOLLOW_UP, CANCEL, NOTE)

KIND_LABELS: Final[Mapping[str, str]] = {
    PLAN: "计划 plan", START: "开始 start", RECORD: "记录 record",
    COMPLETE: "完成 complete", FOLLOW_UP: "跟进 follow up", CANCEL: "取消 cancel",
    NOTE: "备注 note",
}

# the states
PLANNED: Final = "planned"
IN_PROGRESS: Final = "in_progress"
COMPLETED: Final = "completed"
CANCELLED: Final = "cancelled"
STATES: Final = (PLANNED, IN_PROGRESS, COMPLETED, CANCELLED)

STATE_LABELS: Final[Mapping[str, str]] = {
    PLANNED: "已计划 planned", IN_PROGRESS: "进行中 in progress",
    COMPLETED: "已完成 completed", CANCELLED: "已取消 cancelled",
}

# the kinds of inspection (the plan's payload key "kind")
PLATFORM: Final = "platform"
SITE: Final = "site"
INSPECTION_KINDS: Final = (PLATFORM, SITE)
INSPECTION_KIND_LABELS: Final[Mapping[str, str]] = {
    PLATFORM: "平台巡检 platform", SITE: "现场巡检 site",
}

# the result of a checklist item
OK: Final = "ok"
PROBLEM: Final = "problem"
NA: Final = "na"
RESULTS: Final = (OK, PROBLEM, NA)
RESULT_LABELS: Final[Mapping[str, str]] = {OK: "正常 ok", PROBLEM: "问题 problem",
                                           NA: "不适用 n/a"}

#: the longest free text a change may carry
MAX_TEXT: Final = 4000
#: the most checklist items an inspection may have (a template is a page, not a book)
MAX_ITEMS: Final = 100

FORMS: Final[Mapping[str, tuple[Field, ...]]] = {
    PLAN: (
        Field("kind", "巡检类型 kind", CHOICE, required=True, choices=INSPECTION_KINDS,
              choice_labels=INSPECTION_KIND_LABELS),
        Field("region", "服务区域 region", CHOICE, required=True, choices=SERVICE_REGIONS),
        Field("station", "站点 MN station", TEXT,
              help="现场巡检必填，平台巡检留空 / site inspections only"),
        Field("enterprise", "企业 enterprise", TEXT),
        Field("template", "检查表模板 checklist template", TEXT, required=True),
        Field("items", "检查项 checklist items", LIST, required=True,
              help="计划时从模板复制 / copied from the template when planned"),
        Field("due", "到期日 due date", DATE, required=True),
        Field("inspector", "巡检人 inspector", USER, required=True),
    ),
    START: (),
    RECORD: (
        Field("item", "检查项 item", TEXT, required=True),
        Field("result", "结果 result", CHOICE, required=True, choices=RESULTS,
              choice_labels=RESULT_LABELS),
        Field("note", "说明 note", LONG, help="有问题时必填 / required for a problem"),
    ),
    COMPLETE: (Field("summary", "巡检总结 summary", LONG, required=True),),
    FOLLOW_UP: (
        Field("item", "问题检查项 problem item", TEXT, required=True),
        Field("work_order_id", "跟进工单 work order", TEXT,
              help="空：开立新的运维工单 / empty: a new work order is opened"),
    ),
    CANCEL: (Field("reason", "取消原因 reason", LONG, required=True),),
    NOTE: (Field("text", "备注 note", LONG, required=True),),
}

_OPS: Final = frozenset({Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR})
_ENG: Final = frozenset({Role.FIELD_ENGINEER})
_SUPERVISOR: Final = frozenset({Role.DUTY_SUPERVISOR})
_NOTERS: Final = _OPS | _ENG | {Role.QUALITY}

#: inspection kind -> verb -> roles (the table of the module docstring)
ROLES_BY_INSPECTION_KIND: Final[Mapping[str, Mapping[str, frozenset[Role]]]] = {
    PLATFORM: {PLAN: _OPS, START: _OPS, RECORD: _OPS, COMPLETE: _OPS, FOLLOW_UP: _OPS,
               CANCEL: _SUPERVISOR, NOTE: _NOTERS},
    SITE: {PLAN: _OPS, START: _ENG, RECORD: _ENG, COMPLETE: _ENG, FOLLOW_UP: _OPS | _ENG,
           CANCEL: _SUPERVISOR, NOTE: _NOTERS},
}

#: verb -> roles that may do it for some kind of inspection (admin holds every role); the
#: I/O layer narrows it with ``roles_for`` once it knows the record's kind
KIND_ROLES: Final[Mapping[str, frozenset[Role]]] = {
    verb: ROLES_BY_INSPECTION_KIND[PLATFORM][verb] | ROLES_BY_INSPECTION_KIND[SITE][verb]
    for verb in KINDS
}


def roles_for(verb: str, inspection_kind: str) -> frozenset[Role]:
    """Who may do ``verb`` on an inspection of ``inspection_kind`` (empty: nobody but an
    admin; an unknown kind falls back to ``KIND_ROLES``)."""
    by_kind = ROLES_BY_INSPECTION_KIND.get(inspection_kind)
    if by_kind is None:
        return KIND_ROLES.get(verb, frozenset())
    return by_kind.get(verb, frozenset())


@dataclass(frozen=True, slots=True)
class Finding:
    item: str
    result: str  # one of RESULTS
    note: str
    seq: int
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FollowUp:
    item: str
    work_order_id: str
    seq: int
    actor: str
    at: datetime


@dataclass(frozen=True, slots=True)
class InspectionState:
    record_id: str
    state: str  # one of STATES; "" before the plan
    opened: bool = False
    opened_at: datetime | None = None
    planned_by: str = ""
    kind: str = ""  # PLATFORM or SITE
    region: str = ""
    station: str = ""  # the station's MN (site inspections)
    enterprise: str = ""
    template: str = ""
    items: tuple[str, ...] = ()  # the checklist, copied from the template at plan time
    due: date | None = None
    inspector: str = ""
    started_at: datetime | None = None
    started_by: str = ""
    #: the latest answer of each answered item, in checklist order
    findings: tuple[Finding, ...] = ()
    completed_at: datetime | None = None
    completed_by: str = ""
    summary: str = ""
    follow_ups: tuple[FollowUp, ...] = ()
    cancelled_at: datetime | None = None
    cancelled_by: str = ""
    cancel_reason: str = ""
    notes: tuple[Note, ...] = ()
    last_seq: int = 0
    events: tuple[Event, ...] = field(default=(), repr=False)

    def finding(self, item: str) -> Finding | None:
        return next((f for f in self.findings if f.item == item), None)

    @property
    def answered(self) -> tuple[str, ...]:
        """The checklist items with an answer, in checklist order."""
        return tuple(f.item for f in self.findings)

    @property
    def unanswered(self) -> tuple[str, ...]:
        done = set(self.answered)
        return tuple(i for i in self.items if i not in done)

    @property
    def problems(self) -> tuple[str, ...]:
        """The items whose current answer is a problem, in checklist order."""
        return tuple(f.item for f in self.findings if f.result == PROBLEM)

    @property
    def missing_follow_ups(self) -> tuple[str, ...]:
        """The problem items with no follow-up work order yet."""
        linked = {f.item for f in self.follow_ups}
        return tuple(i for i in self.problems if i not in linked)


# --- the rule ---------------------------------------------------------------------------


def _zh(kind: str) -> str:
    return rr.first_word(KIND_LABELS, kind)


def _items(value: Any) -> tuple[str, ...] | None:
    """The checklist items of a payload, or None when it is not a list of texts."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        return None
    return tuple(v.strip() for v in value)


#: the states each step needs
_NEEDS: Final[Mapping[str, tuple[str, ...]]] = {
    START: (PLANNED,),
    RECORD: (IN_PROGRESS,),
    COMPLETE: (IN_PROGRESS,),
    FOLLOW_UP: (COMPLETED,),
    CANCEL: (PLANNED, IN_PROGRESS),
}

_NEEDS_HINT: Final[Mapping[str, str]] = {
    START: "only a planned inspection can be started",
    RECORD: "findings are recorded while the inspection is in progress; fix: start it "
            "first",
    COMPLETE: "only an inspection in progress can be completed; fix: start it and record "
              "the findings first",
    FOLLOW_UP: "follow-up work orders are linked after the inspection is completed",
    CANCEL: "only a planned or in-progress inspection can be cancelled",
}


def check(history: Sequence[Event], change: Change) -> str | None:
    """Why ``change`` may not follow ``history`` (the inspection's events so far), in
    Chinese and English, or None when it may."""
    # the checklist items are free texts too: a list value is looked into
    why = rr.check_start(change, KINDS, "巡检", "inspection", MAX_TEXT, in_lists=True)
    if why:
        return why
    kind, p = change.kind, change.payload
    s = derive(history, change.record_id)
    if kind == PLAN:
        if s.opened:
            return _refuse("巡检已计划", "the inspection is already planned; nothing to do")
        return _check_plan(p)
    if not s.opened:
        return _refuse(f"巡检尚未计划，不能{_zh(kind)}",
                       f"the inspection is not planned; fix: plan it before you {kind} it")
    if kind == NOTE:
        if not _text(p, "text"):
            return _refuse("备注为空", "empty note; fix: write the note")
        return None
    if s.state == CANCELLED:
        return _refuse(f"巡检已由 {s.cancelled_by} 取消，不能{_zh(kind)}",
                       f"the inspection was cancelled by {s.cancelled_by}; fix: plan a new "
                       "one")
    if s.state not in _NEEDS[kind]:
        return _refuse(f"巡检状态为 {s.state}，不能{_zh(kind)}",
                       f"the inspection is {s.state}; {_NEEDS_HINT[kind]}")
    if kind == START:
        return None  # the state is all it needs
    if kind == RECORD:
        return _check_record(s, p)
    if kind == COMPLETE:
        if s.unanswered:
            left = "、".join(s.unanswered[:3]) + ("…" if len(s.unanswered) > 3 else "")
            return _refuse(f"还有 {len(s.unanswered)} 项未填写：{left}",
                           f"{len(s.unanswered)} checklist items have no answer "
                           f"({', '.join(repr(i) for i in s.unanswered[:3])}"
                           f"{', ...' if len(s.unanswered) > 3 else ''}); fix: record them "
                           "(ok, problem or na) first")
        if not _text(p, "summary"):
            return _refuse("请填写巡检总结", "complete needs a summary; fix: give it")
        return None
    if kind == FOLLOW_UP:
        return _check_follow_up(s, p)
    # CANCEL
    if not _text(p, "reason"):
        return _refuse("请填写取消原因", "cancel needs a reason; fix: say why")
    return None


def _check_plan(p: Mapping[str, Any]) -> str | None:
    ikind = _text(p, "kind")
    why = rr.unknown_value(ikind, INSPECTION_KINDS, "巡检类型", "inspection kind")
    if why:
        return why
    why = rr.check_service_region(_text(p, "region"))
    if why:
        return why
    station = _text(p, "station")
    if ikind == SITE and not station:
        return _refuse("现场巡检请填写站点 MN",
                       "a site inspection needs the station's MN (station); fix: give it")
    if ikind == PLATFORM and station:
        return _refuse("平台巡检针对服务区域，不填站点",
                       f"a platform inspection covers the region, not station {station!r}; "
                       "fix: leave station empty, or plan a site inspection")
    if "enterprise" in p and not isinstance(p["enterprise"], str):
        return _refuse("企业须为文字", "enterprise must be text")
    if not _text(p, "template"):
        return _refuse("请填写检查表模板", "plan needs the checklist template; fix: name it")
    items = _items(p.get("items"))
    if items is None or not items:
        return _refuse("检查项为空",
                       "plan needs the checklist items (a list of texts, copied from the "
                       "template); fix: give at least one")
    if "" in items:
        return _refuse("检查项不能为空白", "a checklist item is blank; fix: remove it")
    if len(set(items)) != len(items):
        twice = next(i for i in items if items.count(i) > 1)
        return _refuse(f"检查项 {twice!r} 重复",
                       f"checklist item {twice!r} appears twice; fix: list each once")
    if len(items) > MAX_ITEMS:
        return _refuse(f"检查项过多（{len(items)} 项，最多 {MAX_ITEMS}）",
                       f"{len(items)} checklist items; fix: at most {MAX_ITEMS}")
    if _date(p.get("due")) is None:
        return rr.not_a_date(p.get("due"), "到期日", "due date")
    if not _text(p, "inspector"):
        return _refuse("请填写巡检人", "plan needs the inspector; fix: name the user")
    return None


def _check_record(s: InspectionState, p: Mapping[str, Any]) -> str | None:
    item = _text(p, "item")
    if item not in s.items:
        return _refuse(f"检查项 {item!r} 不在本次检查表中",
                       f"item {item!r} is not on this inspection's checklist; fix: one of "
                       f"{', '.join(repr(i) for i in s.items)}")
    result = _text(p, "result")
    why = rr.unknown_value(result, RESULTS, "结果", "result")
    if why:
        return why
    if result == PROBLEM and not _text(p, "note"):
        return _refuse(f"检查项 {item!r} 有问题，请说明",
                       f"a problem with {item!r} needs a note saying what is wrong")
    return None


def _check_follow_up(s: InspectionState, p: Mapping[str, Any]) -> str | None:
    item = _text(p, "item")
    found = s.finding(item)
    if found is None or found.result != PROBLEM:
        problems = ", ".join(repr(i) for i in s.problems) or "(none)"
        return _refuse(f"检查项 {item!r} 没有发现问题，无需跟进",
                       f"item {item!r} was not found a problem; fix: follow up one of "
                       f"{problems}")
    linked = next((f for f in s.follow_ups if f.item == item), None)
    if linked is not None:
        return _refuse(f"检查项 {item!r} 已有跟进工单 {linked.work_order_id}",
                       f"item {item!r} already has work order {linked.work_order_id}; "
                       "nothing to do (add a note to mention another)")
    if not _text(p, "work_order_id"):
        return _refuse("请填写跟进工单号",
                       "follow_up needs the work order opened for it (work_order_id)")
    return None


# --- the state --------------------------------------------------------------------------


def derive(events: Sequence[Event], record_id: str = "") -> InspectionState:
    """The inspection's state from its events (in any order; ``seq`` orders them). It
    trusts them (the writer checked each), so it never refuses."""
    ordered, record_id, last = rr.history(events, record_id)
    v: dict[str, Any] = {}
    answers: dict[str, Finding] = {}
    follow_ups: list[FollowUp] = []
    notes: list[Note] = []
    items: tuple[str, ...] = ()
    state = ""
    for e in ordered:
        p = e.payload
        if e.kind == PLAN:
            state = PLANNED
            items = _items(p.get("items")) or ()
            v.update(opened=True, opened_at=e.at, planned_by=e.actor, kind=_text(p, "kind"),
                     region=_text(p, "region"), station=_text(p, "station"),
                     enterprise=_text(p, "enterprise"), template=_text(p, "template"),
                     due=_date(p.get("due")), inspector=_text(p, "inspector"))
        elif e.kind == START:
            state = IN_PROGRESS
            v.update(started_at=e.at, started_by=e.actor)
        elif e.kind == RECORD:
            item = _text(p, "item")
            answers[item] = Finding(item, _text(p, "result"), _text(p, "note"), e.seq,
                                    e.actor, e.at)
        elif e.kind == COMPLETE:
            state = COMPLETED
            v.update(completed_at=e.at, completed_by=e.actor, summary=_text(p, "summary"))
        elif e.kind == FOLLOW_UP:
            follow_ups.append(FollowUp(_text(p, "item"), _text(p, "work_order_id"), e.seq,
                                       e.actor, e.at))
        elif e.kind == CANCEL:
            state = CANCELLED
            v.update(cancelled_at=e.at, cancelled_by=e.actor,
                     cancel_reason=_text(p, "reason"))
        elif e.kind == NOTE:
            notes.append(Note(e.seq, e.actor, e.at, _text(p, "text")))
    findings = tuple(answers[i] for i in items if i in answers)
    return InspectionState(record_id=record_id, state=state, items=items, findings=findings,
                           follow_ups=tuple(follow_ups), notes=tuple(notes), last_seq=last,
                           events=ordered, **v)


_NEXT: Final[Mapping[str, tuple[str, ...]]] = {
    "": (PLAN,),
    PLANNED: (START, CANCEL, NOTE),
    IN_PROGRESS: (RECORD, COMPLETE, CANCEL, NOTE),
    COMPLETED: (FOLLOW_UP, NOTE),
    CANCELLED: (NOTE,),
}


def next_kinds(state: str) -> tuple[str, ...]:
    """The verbs an inspection in ``state`` may allow (the forms to offer)."""
    return _NEXT.get(state, ())


# --- the schedule -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StationRef:
    """A station the schedule covers (from the registry)."""

    mn: str
    region: str  # its service region ("" when the registry has none)
    enterprise: str = ""


@dataclass(frozen=True, slots=True)
class Due:
    """The next inspection one target needs."""

    kind: str  # PLATFORM (per region) or SITE (per station)
    region: str
    station: str  # the MN; "" for a platform inspection
    enterprise: str
    due: date
    overdue: bool  # today is after the due date
    #: stable while nothing changes: the covering record's id, else the id to plan it under
    key: str
    covered_by: str = ""  # the planned or in-progress inspection that will meet it
    last_completed: date | None = None  # when the target was last inspected


def _free(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3`` ... when a (cancelled) record holds it."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def due_inspections(stations: Sequence[StationRef], done: Sequence[InspectionState],
                    today: date, rules: InspectionRules) -> list[Due]:
    """The next inspection of each target: a platform inspection per service region of
    ``stations`` and a site inspection per station, ``done`` being the inspection records
    so far (every state; cancelled ones and ones never planned count for nothing). Sorted
    by due date, then kind, region and station."""
    records: dict[tuple[str, str], list[InspectionState]] = {}
    for s in done:
        if not s.opened:
            continue
        target = (SITE, s.station) if s.kind == SITE else (PLATFORM, s.region)
        records.setdefault(target, []).append(s)
    taken = {s.record_id for s in done}
    targets: dict[tuple[str, str], StationRef] = {}
    for st in stations:
        targets.setdefault((SITE, st.mn), st)
        if st.region:
            targets.setdefault((PLATFORM, st.region), StationRef("", st.region))
    out: list[Due] = []
    for (kind, _), ref in targets.items():
        every = rules.platform_every_days if kind == PLATFORM else rules.site_every_days
        mine = records.get((kind, ref.mn if kind == SITE else ref.region), [])
        finished = [s.completed_at.date() for s in mine
                    if s.state == COMPLETED and s.completed_at is not None]
        last = max(finished) if finished else None
        waiting = sorted((s for s in mine if s.state in (PLANNED, IN_PROGRESS)),
                         key=lambda s: (s.due or date.max, s.record_id))
        if waiting:
            cover = waiting[0]
            when = cover.due or today
            key, covered = cover.record_id, cover.record_id
        else:
            when = last + timedelta(days=every) if last is not None else today
            name = ref.mn if kind == SITE else ref.region
            stamp = f"{when:%Y%m%d}" if last is not None else "first"
            key = _free(f"INS-{'S' if kind == SITE else 'P'}-{name}-{stamp}", taken)
            covered = ""
        out.append(Due(kind, ref.region, ref.mn, ref.enterprise, when, today > when, key,
                       covered, last))
    out.sort(key=lambda d: (d.due, d.kind, d.region, d.station))
    return out


def plan_payload(due: Due, rules: InspectionRules, inspector: str, template: str = ""
                 ) -> dict[str, Any]:
    """The ``plan`` payload of a due inspection, with the checklist copied from the
    template (default: the one named like the kind, ``platform`` or ``site``); ValueError
    when the settings have no such template."""
    name = template or due.kind
    items = rules.templates.get(name)
    if not items:
        known = ", ".join(rules.templates) or "(none)"
        raise ValueError(f"checklist template {name!r} is not in the service settings "
                         f"([inspections.templates]); fix: one of {known}")
    return {"kind": due.kind, "region": due.region, "station": due.station,
            "enterprise": due.enterprise, "template": name, "items": list(items),
            "due": due.due.isoformat(), "inspector": inspector}
