"""Rows for the service-record pages (工单, 365服务, 巡检, 回访, 投诉): the filtered list,
one record's summary and history, a work order's SLA clocks, the rows of a list of dues
(inspections, return visits). Pure: derived states and
events in, plain dicts out (no Streamlit), so the shaping is unit-testable.

Every record type's derived state has ``record_id``, ``state``, ``opened``,
``opened_at``, ``region``, ``last_seq`` and ``events``; the rest differs by type, so the
list reads the person, station and organisation from the first attribute a type has
(``PERSON_FIELDS`` ...), and the summary shows whatever plain fields a state carries,
labelled by its forms' field labels.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Protocol

from pipeline.ledger.model import Event

#: who a record is with, by type: the first non-empty of these attributes
PERSON_FIELDS: Final = ("engineer", "inspector", "visitor", "owner", "assignee",
                        "capa_owner", "investigated_by", "received_by", "sales",
                        "registered_by", "planned_by")
STATION_FIELDS: Final = ("station", "stations", "mn")
ORGANISATION_FIELDS: Final = ("organisation", "enterprise", "customer")

LIST_HEADERS: Final = {
    "record_id": "编号 id", "state": "状态 state", "region": "服务区域 region",
    "person": "负责人 owner", "station": "站点 station",
    "organisation": "单位 organisation", "opened_at": "开立 opened",
    "last_at": "最近 last change", "events": "记录数 events",
}
HISTORY_HEADERS: Final = {
    "seq": "序号 seq", "at": "时间 time", "what": "操作 action", "actor": "操作人 actor",
    "detail": "内容 details",
}
SUMMARY_HEADERS: Final = {"field": "项目 field", "value": "内容 value"}
CLOCK_HEADERS: Final = {
    "clock": "时限 clock", "started": "起算 from", "due": "应于 due", "met": "完成 met",
    "status": "状态 status",
}

#: labels of state attributes no form asks for (the forms' labels name the rest)
COMMON_LABELS: Final = {
    "opened_at": "开立时间 opened", "opened_by": "开立人 opened by",
    "region": "服务区域 region", "engineer": "工程师 engineer",
    "organisation": "单位 organisation", "enterprise": "企业 enterprise",
    "station": "站点 MN station", "stations": "覆盖站点 stations",
    "escalation": "升级级别 escalation", "source": "来源 source",
    "order_class": "类别 class", "assigned_at": "派工时间 assigned",
    "contacted_at": "首次联系 first contact", "responded_at": "响应 responded",
    "arrived_at": "到场 on site", "resolved_at": "处理完成 resolved",
    "resolved_by": "处理人 resolved by", "verified_at": "确认恢复 verified",
    "closed_at": "关闭时间 closed", "closed_by": "关闭人 closed by",
    "registered_by": "登记人 registered by", "registered_at": "登记时间 registered",
    "service_opened_at": "开通时间 service opened", "lapsed_at": "停止时间 lapsed",
    "planned_by": "计划人 planned by", "started_at": "开始 started",
    "completed_at": "完成 completed", "cancelled_at": "取消 cancelled",
    "received_by": "受理人 received by", "investigated_at": "调查 investigated",
    "replied_at": "答复 replied", "findings": "调查结果 findings",
    "done_at": "回访时间 visited", "done_by": "回访人 visited by",
    "started_by": "开始人 started by", "completed_by": "完成人 completed by",
    "cancelled_by": "取消人 cancelled by", "investigated_by": "调查人 investigated by",
    "replied_by": "答复人 replied by", "capa_by": "纠正预防措施人 CAPA by",
    "capa_at": "纠正预防措施时间 CAPA at", "service_opened_by": "开通人 opened by",
    "lapsed_by": "停止人 stopped by", "first_closed_at": "首次关闭 first closed",
}
#: a blank cell: an em dash (st.table shows a lone "-" as a list bullet)
NONE: Final = "—"
#: attributes the summary leaves out: shown elsewhere, or internal
SUMMARY_SKIP: Final = frozenset({"record_id", "work_order_id", "state", "opened",
                                 "last_seq", "events", "cycle_seq", "period"})

#: how long one cell of free text may be in a table before it is cut
CELL_CHARS: Final = 160
#: a history line's details: longer, as they are the record of what was done
DETAIL_CHARS: Final = 600
#: the most records one list shows (the filters narrow it)
LIST_SHOWN: Final = 200


def _attr(state: Any, names: Sequence[str]) -> str:
    for name in names:
        value = getattr(state, name, None)
        if isinstance(value, tuple | list):
            value = ", ".join(str(v) for v in value)
        if value:
            return str(value)
    return ""


def person_of(state: Any) -> str:
    return _attr(state, PERSON_FIELDS)


def station_of(state: Any) -> str:
    return _attr(state, STATION_FIELDS)


def organisation_of(state: Any) -> str:
    return _attr(state, ORGANISATION_FIELDS)


def when(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M}" if t is not None else NONE


def span(td: timedelta) -> str:
    """``3d04h``, ``1h05m``, ``12m``: a duration in the largest units that matter."""
    minutes = int(abs(td).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{mins:02d}m"
    return f"{mins}m"


# --- the list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    states: tuple[str, ...] = ()  # empty: any
    regions: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    start: date | None = None  # opened on or after (a day)
    end: date | None = None  # opened on or before (a day)
    text: str = ""  # in the id, station or organisation, any case


def matches(state: Any, f: Filters) -> bool:
    if f.states and state.state not in f.states:
        return False
    if f.regions and state.region not in f.regions:
        return False
    if f.people and person_of(state) not in f.people:
        return False
    opened = state.opened_at.date() if state.opened_at is not None else None
    if f.start is not None and (opened is None or opened < f.start):
        return False
    if f.end is not None and (opened is None or opened > f.end):
        return False
    needle = f.text.strip().casefold()
    if needle:
        hay = " ".join((state.record_id, station_of(state), organisation_of(state)))
        if needle not in hay.casefold():
            return False
    return True


def apply(states: Iterable[Any], f: Filters) -> list[Any]:
    return [s for s in states if matches(s, f)]


def last_at(state: Any) -> datetime | None:
    events: Sequence[Event] = state.events
    return max((e.at for e in events), default=None)


def list_rows(states: Iterable[Any], state_label: Callable[[str], str]) -> list[dict[str, Any]]:
    return [{"record_id": s.record_id, "state": state_label(s.state),
             "region": s.region or NONE, "person": person_of(s) or NONE,
             "station": cut(station_of(s), 60) or NONE,
             "organisation": organisation_of(s) or NONE, "opened_at": when(s.opened_at),
             "last_at": when(last_at(s)), "events": len(s.events)} for s in states]


def record_label(state: Any, state_label: Callable[[str], str]) -> str:
    """How the record picker names a record. Not its state: Streamlit keeps a picked
    option by its label, so a label that changes with the record (after an action)
    would no longer match the option it named."""
    parts = [state.record_id]
    org = organisation_of(state)
    if org and org != state.record_id:
        parts.append(org)
    station = station_of(state)
    if station:
        parts.append(cut(station, 40))
    return " · ".join(parts)


# --- one record -------------------------------------------------------------------------


def cut(text: str, n: int = CELL_CHARS) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def show_value(value: Any) -> str:
    """A payload or state value as a table cell."""
    if isinstance(value, bool):
        return "是 yes" if value else "否 no"
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(show_value(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return str(value)


def payload_summary(payload: Mapping[str, Any], labels: Mapping[str, str] | None = None,
                    limit: int = DETAIL_CHARS,
                    values: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """``原因 cause: …; 处理措施 action: …``: the payload's non-empty values in the form's
    order, labelled by the form's field labels and choice labels where known, cut to a
    readable length."""
    names = labels or {}
    order = {k: i for i, k in enumerate(names)}
    items = sorted(payload.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    parts = [f"{names.get(k, k)}: {show_choice(k, v, values)}" for k, v in items
             if v not in ("", None, [], {})]
    return cut("; ".join(parts), limit)


def show_choice(name: str, value: Any, values: Mapping[str, Mapping[str, str]] | None
                ) -> str:
    """A value as shown, a choice by its label (``phone`` -> ``电话 phone``)."""
    if values and isinstance(value, str) and value in values.get(name, {}):
        return values[name][value]
    return show_value(value)


def history_rows(events: Sequence[Event], kind_label: Callable[[str], str],
                 labels: Mapping[str, str] | None = None,
                 values: Mapping[str, Mapping[str, str]] | None = None,
                 by_kind: Mapping[str, Mapping[str, str]] | None = None
                 ) -> list[dict[str, Any]]:
    """One row per event; a payload key is labelled by its own verb's form first
    (``by_kind``: a note's text is not a contact's), then by ``labels``."""
    def names(kind: str) -> Mapping[str, str]:
        own = (by_kind or {}).get(kind)
        return {**(labels or {}), **own} if own else (labels or {})

    return [{"seq": e.seq, "at": f"{e.at:%Y-%m-%d %H:%M:%S}", "what": kind_label(e.kind),
             "actor": e.actor,
             "detail": payload_summary(e.payload, names(e.kind), values=values) or NONE}
            for e in sorted(events, key=lambda e: e.seq)]


def summary_rows(state: Any, labels: Mapping[str, str],
                 values: Mapping[str, Mapping[str, str]] | None = None
                 ) -> list[dict[str, str]]:
    """The state's plain, non-empty attributes (text, numbers, dates, flags, lists of
    text) as field/value rows; the history holds the rest (notes, steps, marks)."""
    if not dataclasses.is_dataclass(state):
        return []
    out: list[dict[str, str]] = []
    names = {**COMMON_LABELS, **labels}
    for f in dataclasses.fields(state):
        if f.name in SUMMARY_SKIP:
            continue
        value = getattr(state, f.name)
        if isinstance(value, tuple) and not all(isinstance(v, str) for v in value):
            continue  # transfers, notes, findings: their own tables or the history
        if value in ("", None, (), {}) or (isinstance(value, bool) and not value
                                             and f.name not in labels):
            continue
        if isinstance(value, Mapping):
            continue
        out.append({"field": names.get(f.name, f.name),
                    "value": cut(show_choice(f.name, value, values))})
    return out


def choice_labels(forms: Mapping[str, Sequence[Any]]) -> dict[str, Mapping[str, str]]:
    """Payload key -> its choices' labels, over every verb's form."""
    out: dict[str, Mapping[str, str]] = {}
    for fields in forms.values():
        for f in fields:
            if f.choice_labels and f.name not in out:
                out[f.name] = f.choice_labels
    return out


def labels_by_kind(forms: Mapping[str, Sequence[Any]]) -> dict[str, dict[str, str]]:
    """Verb -> payload key -> its label in that verb's form."""
    return {kind: {f.name: f.label for f in fields} for kind, fields in forms.items()}


def field_labels(forms: Mapping[str, Sequence[Any]]) -> dict[str, str]:
    """Payload key -> its form label, over every verb's form."""
    out: dict[str, str] = {}
    for fields in forms.values():
        for f in fields:
            out.setdefault(f.name, f.label)
    return out


# --- a work order's SLA clocks ---------------------------------------------------------

MET: Final = "met"
MET_LATE: Final = "met_late"
BREACHED: Final = "breached"
WARN: Final = "warn"
RUNNING: Final = "running"


def clock_status(due: datetime, met: datetime | None, breached: bool, warn: bool,
                 now: datetime) -> tuple[str, str]:
    """(status, words): met in time, met late, over due (breach, red), near due (warn,
    orange), running (time left)."""
    if met is not None:
        if met > due:
            return MET_LATE, f"🔴 超时完成 met late by {span(met - due)}"
        return MET, "🟢 按时 met in time"
    if breached:
        return BREACHED, f"🔴 已超时 over by {span(now - due)}"
    if warn:
        return WARN, f"🟠 即将超时 left {span(due - now)}"
    return RUNNING, f"剩余 left {span(due - now)}"


def clock_rows(clocks: Sequence[Any], now: datetime, labels: Mapping[str, str]
               ) -> list[dict[str, str]]:
    """One row per clock of admin.work_orders.sla (name, started_at, due_at, met_at,
    breached, warn)."""
    rows = []
    for c in clocks:
        _, words = clock_status(c.due_at, c.met_at, c.breached, c.warn, now)
        rows.append({"clock": labels.get(c.name, c.name), "started": when(c.started_at),
                     "due": when(c.due_at), "met": when(c.met_at), "status": words})
    return rows


def clock_counts(clocks: Sequence[Any]) -> dict[str, int]:
    """How many clocks are breached (met late or over due), warning, and open."""
    out = {BREACHED: 0, WARN: 0, RUNNING: 0}
    for c in clocks:
        if c.breached:
            out[BREACHED] += 1
        elif c.met_at is None:
            out[WARN if c.warn else RUNNING] += 1
    return out


# --- a list of dues (inspections, return visits) ---------------------------------------


class DueLike(Protocol):
    """What a due (admin.inspections.Due, admin.visits.VisitDue) has for its row."""

    @property
    def due(self) -> date: ...

    @property
    def overdue(self) -> bool: ...

    @property
    def covered_by(self) -> str: ...


#: the headers of the columns every due row has (a page adds its own)
DUE_HEADERS: Final = {"due": "到期日 due", "status": "状态 status",
                      "covered_by": "已计划 planned as"}


def due_status(due: date, overdue: bool, today: date) -> str:
    """The status cell of a due: overdue by days (red), due today (orange), or in days."""
    if overdue:
        return f"🔴 逾期 overdue {(today - due).days}d"
    if due == today:
        return "🟠 今日到期 due today"
    return f"{(due - today).days} 天后 in {(due - today).days}d"


def due_row(d: DueLike, today: date, cells: Mapping[str, str]) -> dict[str, str]:
    """One row of a list of dues: the due date and status first, the type's own
    ``cells`` (in their order), then the record planned for it (``NONE``: none yet)."""
    return {"due": d.due.isoformat(), "status": due_status(d.due, d.overdue, today),
            **cells, "covered_by": d.covered_by or NONE}
