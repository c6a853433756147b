"""What every service-record page (工单, 365服务, 巡检, 回访, 投诉) draws the same way: the
filterable list, one record with its history, and one form per action the record's state
offers and the user's roles allow, each acting through admin/records.py.

Reading: the ledger's event log through ``admin.records.Records`` (histories derived by
the record type's pure ``derive``), never cached: an action names the last seq the page
showed, and a cached read would make a user's own second action a conflict. The list
holds only the records of the user's regions (``Records.all(rtype, user)``); a record
opened by address outside them is "not found", as on the duty desk.

Acting: ``Records.act`` checks roles, regions and the type's hooks on the server side,
audits the attempt, and submits through the ledger with the seq the form was drawn
with; the writer applies the type's rule. The outcome is shown in words
(``admin.duty_actions.outcome_text``): recorded, queued, refused (why) or conflict (who
changed the record). A form that did not go through keeps what was typed; one that did
is emptied. Forms show only for what the user's roles allow; the server decides all the
same.

A record type whose module is not there yet (another helper is writing it) shows a
clear "not available" instead of breaking the app.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import streamlit as st

from admin import duty_actions
from admin.duty_actions import LedgerSubmitter, check_region
from admin.record_fields import (
    BOOL,
    CHOICE,
    DATE,
    INT,
    LIST,
    LONG,
    USER,
    Field,
    FieldError,
    build_payload,
)
from admin.records import TYPES, RecordCache, Records, RecordType, allowed
from admin.roles import PermissionDenied, Role, User
from admin.service_settings import ServiceSettings, ServiceSettingsError, from_settings
from dashboards import records_figures as fig
from dashboards.auth import source
from dashboards.data import CONNECT_TIMEOUT_S, RECEIVE_TIMEOUT_S, UNAVAILABLE, DataUnavailable
from dashboards.labels import bi
from dashboards.settings_source import app_settings
from dashboards.widgets import PageContext, page_start, table
from pipeline.ledger.model import APPENDED, PENDING, Reply
from pipeline.logs import get_logger
from pipeline.store.client import ClickHouse, StoreError

log = get_logger("dashboards.records")

#: the record shown below the list: the address's ``?record=<id>`` (shareable)
RECORD_PARAM: Final = "record"
#: session key of the last action's outcome
OUTCOME_KEY: Final = "records_outcome"

NOT_FOUND: Final = bi("无法打开该记录：它不存在，或不在您的服务区域内。",
                      "This record cannot be opened: it does not exist, or it is outside "
                      "your service regions.")
PICK_HINT: Final = bi("在上方选择一条记录，查看详情、历史与操作。",
                      "Choose a record above to see it, its history and its actions.")
ACTION_FAILED: Final = bi("操作未能提交：数据库或消息服务暂时无法访问，请稍后重试；"
                          "若持续出现，请联系管理员。",
                          "The action could not be submitted: the database or the message "
                          "service cannot be reached. Try again in a moment; if this "
                          "persists, tell an administrator.")
SETTINGS_BROKEN: Final = bi("服务记录的设置文件有误，请联系管理员。",
                            "The service records' settings file is wrong; tell an "
                            "administrator.")
READ_ONLY: Final = bi("您的角色在此状态下没有可做的操作。",
                      "Your roles allow no action on this record in its state.")


def not_available(rtype: RecordType) -> str:
    return bi(f"{rtype.label.split()[0]}功能尚未提供。",
              f"{rtype.label} are not available yet (the record type's module "
              f"{rtype.module_name} is not installed).")


# --- what the pages act and read through; unit tests put stand-ins here -----------------


def _shared_ledger() -> LedgerSubmitter:
    # the duty desk's client: one Kafka producer per server process for every page
    from dashboards import duty_page

    return duty_page.ledger()


def _connect(dsn: str) -> Any:
    return ClickHouse(dsn, connect_timeout=CONNECT_TIMEOUT_S,
                      send_receive_timeout=RECEIVE_TIMEOUT_S)


@st.cache_resource(show_spinner=False)
def _service_settings() -> ServiceSettings:
    return from_settings(app_settings())


ledger: Callable[[], LedgerSubmitter] = _shared_ledger
connect: Callable[[str], Any] = _connect
service: Callable[[], ServiceSettings] = _service_settings


@st.cache_resource(show_spinner=False)
def shared_cache(dsn: str) -> RecordCache:
    """One cache of the streams per database for every session of this process: a page
    reads only what was appended since the last read (pipeline/ledger/stream_cache.py)."""
    return RecordCache()


@contextmanager
def open_records(dsn: str) -> Iterator[Records]:
    conn = connect(dsn)
    try:
        yield Records(ledger(), conn, service(), cache=shared_cache(dsn))
    finally:
        conn.close()


def missing_module(rtype: RecordType) -> bool:
    """Whether the record type's pure module is absent (not written yet)."""
    try:
        importlib.import_module(rtype.module_name)
    except ModuleNotFoundError as exc:
        if exc.name == rtype.module_name:
            return True
        raise
    return False


def guarded_records(user: User, draw: Callable[[], None], *,
                    settings_broken: str = SETTINGS_BROKEN,
                    event: str = "records.read_failed") -> None:
    """widgets.guarded for parts that read the ledger through admin.records (which raise
    the store's errors, not DataUnavailable) and the settings file: a message, never a
    trace."""
    try:
        draw()
    except DataUnavailable as exc:
        st.error(str(exc))
        if user.is_admin:
            st.caption(exc.detail)
    except StoreError as exc:
        log.warning(event, error=str(exc))
        st.error(UNAVAILABLE)
        if user.is_admin:
            st.caption(str(exc))
    except ServiceSettingsError as exc:
        st.error(settings_broken)
        if user.is_admin:
            st.caption(str(exc))


# --- the verbs a page offers ------------------------------------------------------------


def offered(rtype: RecordType, state: Any, user: User) -> list[str]:
    """The verbs the record's state offers (the type's next_kinds) that the user's roles
    allow on this record (admin.records.allowed: inspections judge by platform or site)."""
    on = state if state.opened else None
    return [k for k in rtype.next_kinds(state) if allowed(user, rtype, k, on)]


#: how a page names a record it creates, from the create form's payload ('' or an
#: error: ask for the id); None: admin.records makes ``<prefix>-<day>-<hex>``
NewId = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class FormHints:
    """What a page fixes or narrows in one verb's form for one record."""

    fixed: Mapping[str, Any] = field(default_factory=dict)  # shown read-only, sent
    choices: Mapping[str, Sequence[str]] = field(default_factory=dict)  # narrower choices
    defaults: Mapping[str, Any] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()  # not asked, not sent


NO_HINTS: Final = FormHints()

#: USER fields that name the person who does the work: engineers of the record's region
WORKER_FIELDS: Final = frozenset({"engineer", "to", "inspector", "visitor", "assignee"})


@dataclass(frozen=True)
class Outcome:
    key: str  # the page (record type)
    record_id: str
    kind: str
    outcome: str  # the ledger's, or "error" / "invalid"
    text: str


def show_outcome(key: str, record_id: str | None) -> None:
    """The last action's outcome on page ``key``, where it belongs: in the record view
    of its record, or at the top for a record not shown (a refused creation)."""
    out = st.session_state.get(OUTCOME_KEY)
    if not isinstance(out, Outcome) or out.key != key:
        return
    if record_id is None:  # the top of the page: only what the record view will not show
        if out.record_id and out.record_id == st.query_params.get(RECORD_PARAM):
            return
    elif out.record_id != record_id:
        return
    label = TYPES[key].kind_label(out.kind)
    shown = f"{label}" + (f" {out.record_id}" if out.record_id else "") + f": {out.text}"
    if out.outcome == APPENDED:
        st.success(shown)
    elif out.outcome == PENDING:
        st.warning(shown)
    else:
        st.error(shown)


# --- the page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PageParts:
    """What one record type's page adds to the generic list, record and forms."""

    key: str  # admin.records.TYPES key
    title: str
    intro: str = ""
    #: drawn between the title and the list (intake form, due lists)
    above: Callable[[PageContext, Records, list[Any]], None] | None = None
    #: drawn in the record view under its summary (SLA clocks, transfers)
    record_extra: Callable[[PageContext, Records, Any], None] | None = None
    #: what a verb's form fixes or narrows: (kind, state) -> hints
    hints: Callable[[str, Any], FormHints] | None = None
    #: offer the type's first verb as a form above the list
    create_form: bool = True
    #: the id of a record created by the form (types whose ids are not made up)
    new_id: NewId | None = None
    #: labels of state values no form's choices name: attribute -> value -> label
    value_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def render_records(user: User, parts: PageParts) -> None:
    page = page_start(parts.title, user)
    if page is None:
        return
    rtype = TYPES[parts.key]
    if missing_module(rtype):
        st.info(not_available(rtype))
        return
    if parts.intro:
        st.caption(parts.intro)
    show_outcome(parts.key, None)
    guarded_records(user, lambda: _body(page, rtype, parts))


def _body(page: PageContext, rtype: RecordType, parts: PageParts) -> None:
    with open_records(page.dsn) as records:
        states = records.all(rtype, page.user)
        if parts.above is not None:
            parts.above(page, records, states)
        if parts.create_form and allowed(page.user, rtype, rtype.create_kind):
            with st.expander(bi("新建", "New") + f" · {rtype.kind_label(rtype.create_kind)}"):
                action_form(page, rtype, None, rtype.create_kind,
                            parts.hints(rtype.create_kind, None) if parts.hints else NO_HINTS,
                            new_id=parts.new_id)
        record_list(page, rtype, states)
        st.divider()
        record_view(page, records, rtype, parts)


def record_list(page: PageContext, rtype: RecordType, states: list[Any]) -> None:
    k = rtype.key
    st.subheader(bi("记录列表", "Records") + f" · {rtype.label}")
    c1, c2, c3 = st.columns(3)
    state_names = list(rtype.module.STATES)
    regions = sorted({s.region for s in states})
    people = sorted({p for p in (fig.person_of(s) for s in states) if p})
    f_states = c1.multiselect(bi("状态", "state"), state_names, format_func=rtype.state_label,
                              key=f"rec_{k}_f_state")
    f_regions = c2.multiselect(bi("服务区域", "region"), regions, key=f"rec_{k}_f_region",
                               format_func=lambda r: r or "-")
    f_people = c3.multiselect(bi("负责人", "owner"), people, key=f"rec_{k}_f_person")
    d1, d2, d3 = st.columns([1, 1, 2])
    start = d1.date_input(bi("开立自", "opened from"), value=None, key=f"rec_{k}_f_start")
    end = d2.date_input(bi("开立至", "opened to"), value=None, key=f"rec_{k}_f_end")
    text = d3.text_input(bi("搜索 编号/站点/单位", "search id, station, organisation"),
                         key=f"rec_{k}_f_text")
    filters = fig.Filters(states=tuple(f_states), regions=tuple(f_regions),
                          people=tuple(f_people),
                          start=start if isinstance(start, date) else None,
                          end=end if isinstance(end, date) else None, text=text or "")
    shown = fig.apply(states, filters)
    if not shown:
        st.info(bi("没有符合条件的记录。", "No record matches."))
    else:
        table(fig.list_rows(shown[:fig.LIST_SHOWN], rtype.state_label), fig.LIST_HEADERS)
    more = (bi(f"，仅列出前 {fig.LIST_SHOWN} 条", f"; the first {fig.LIST_SHOWN} listed")
            if len(shown) > fig.LIST_SHOWN else "")
    st.caption(bi(f"{len(shown)} 条符合筛选（您可见的共 {len(states)} 条）{more}，新开立的在前。"
                  "数据来源：服务记录事件日志（admin/records.py）。",
                  f"{len(shown)} match the filters (of {len(states)} you may see){more}, "
                  "newest first. Source: the service records' event log "
                  "(admin/records.py, ledger_events)."))
    labels = {s.record_id: fig.record_label(s, rtype.state_label) for s in states}
    ids = [s.record_id for s in shown[:fig.LIST_SHOWN]]
    current = st.query_params.get(RECORD_PARAM)
    if current and current not in ids:
        ids.insert(0, current)
    st.selectbox(bi("查看记录", "Open record"), ids,
                 index=ids.index(current) if current in ids else None,
                 format_func=lambda i: labels.get(i, i), key=f"rec_{k}_pick",
                 on_change=_picked, args=(k, frozenset(labels)),
                 placeholder=bi("选择记录", "choose a record"))


def _picked(key: str, known: frozenset[str]) -> None:
    chosen = st.session_state.get(f"rec_{key}_pick")
    if chosen and chosen not in known:
        return  # not a record id (a stale label): keep the record shown
    if chosen:
        st.query_params[RECORD_PARAM] = chosen
    elif RECORD_PARAM in st.query_params:
        del st.query_params[RECORD_PARAM]


def visible(user: User, state: Any) -> bool:
    if not state.opened:
        return False
    try:
        check_region(user, state.region, "record")
    except PermissionDenied:
        return False
    return True


def record_view(page: PageContext, records: Records, rtype: RecordType,
                parts: PageParts) -> None:
    record_id = st.query_params.get(RECORD_PARAM)
    if not record_id:
        st.info(PICK_HINT)
        return
    state = records.get(rtype, record_id)  # read now, not cached (module docstring)
    if not visible(page.user, state):
        show_outcome(rtype.key, record_id)
        st.error(NOT_FOUND)
        return
    st.subheader(f"{rtype.label.split()[0]} {record_id} · {rtype.state_label(state.state)}")
    show_outcome(rtype.key, record_id)
    labels = fig.field_labels(rtype.forms())
    values = {**fig.choice_labels(rtype.forms()), **parts.value_labels}
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**" + bi("概要", "Summary") + "**")
        table(fig.summary_rows(state, labels, values), fig.SUMMARY_HEADERS)
    with right:
        st.markdown("**" + bi("历史记录", "History") + "**")
        table(fig.history_rows(state.events, rtype.kind_label, labels, values,
                               fig.labels_by_kind(rtype.forms())),
              fig.HISTORY_HEADERS)
        st.caption(bi("每一条都是追加的事件，不会删除或改写；时间为写入时间（北京时间）。",
                      "Every line is an appended event, never deleted or rewritten; times "
                      "are when the ledger took it (CST)."))
    if parts.record_extra is not None:
        parts.record_extra(page, records, state)
    actions(page, rtype, state, parts)


def actions(page: PageContext, rtype: RecordType, state: Any, parts: PageParts) -> None:
    # the creating verb too where the state offers it again (a lapsed subscription's
    # new cycle): it acts on this record, with its seq
    kinds = offered(rtype, state, page.user)
    st.markdown("**" + bi("操作", "Actions") + "**")
    if not kinds:
        st.caption(READ_ONLY)
        return
    # after a refused or conflicting action its form comes first again, with the text
    # kept, so it can be sent again
    out = st.session_state.get(OUTCOME_KEY)
    default = None
    if isinstance(out, Outcome) and out.key == rtype.key and out.record_id == \
            state.record_id and out.outcome != APPENDED and out.kind in kinds:
        default = rtype.kind_label(out.kind)
    tabs = st.tabs([rtype.kind_label(k) for k in kinds], default=default)
    for kind, tab in zip(kinds, tabs, strict=True):
        with tab:
            action_form(page, rtype, state, kind,
                        parts.hints(kind, state) if parts.hints else NO_HINTS)


# --- one form ---------------------------------------------------------------------------


def _people(page: PageContext, region: str) -> tuple[dict[str, str], list[str], list[str]]:
    """Everyone's display name, the active users in scope, and the field engineers who
    may work in ``region`` ('' region: any)."""
    rows = page.q("duty_people")
    names = {r["username"]: f"{r['display_name']} ({r['username']})" for r in rows}
    everyone, workers = [], []
    for r in rows:
        roles = set(filter(None, str(r["role_list"]).split(",")))
        regions = set(filter(None, str(r["region_list"]).split(",")))
        everyone.append(r["username"])
        if Role.FIELD_ENGINEER in roles and (not region or not regions or region in regions):
            workers.append(r["username"])
    return names, everyone, workers


def _choice_label(f: Field) -> Callable[[str], str]:
    labels = f.choice_labels or {}
    return lambda v: labels.get(v, v)


def widget_key(rtype: RecordType, record_id: str, kind: str, name: str) -> str:
    return f"rec_{rtype.key}_{record_id or 'new'}_{kind}_{name}"


def action_form(page: PageContext, rtype: RecordType, state: Any | None, kind: str,
                hints: FormHints, new_id: NewId | None = None) -> None:
    """One verb's form for the record ``state`` (None: a new record, named by ``new_id``
    or by admin.records); submitted with the seq it was drawn with."""
    record_id = state.record_id if state is not None else ""
    expected = int(state.last_seq) if state is not None else 0
    fields = tuple(f for f in rtype.forms().get(kind, ()) if f.name not in hints.hidden)
    region = str(getattr(state, "region", "") or "")
    people: tuple[dict[str, str], list[str], list[str]] | None = None
    if any(f.kind == USER and f.name not in hints.fixed for f in fields):
        people = _people(page, region)
    widgets: dict[str, str] = {}
    with st.form(f"rec_form_{rtype.key}_{record_id or 'new'}_{kind}", border=False):
        id_key = ""
        if state is None and not rtype.prefix and new_id is None:
            id_key = widget_key(rtype, record_id, kind, "__id")
            st.text_input(bi("编号", "record id"), key=id_key)
        for f in fields:
            wkey = widget_key(rtype, record_id, kind, f.name)
            widgets[f.name] = wkey
            _widget(f, wkey, hints, people)
        st.form_submit_button(
            bi("提交", "Submit") + f" · {rtype.kind_label(kind)}", type="primary",
            on_click=_submit,
            kwargs={"user": page.user, "dsn": page.dsn, "key": rtype.key,
                    "record_id": record_id, "kind": kind, "expected": expected,
                    "fields": fields, "widgets": widgets, "fixed": dict(hints.fixed),
                    "id_key": id_key, "new_id": new_id})


def _widget(f: Field, wkey: str, hints: FormHints,
            people: tuple[dict[str, str], list[str], list[str]] | None) -> None:
    label = f.label + (" *" if f.required else "")
    helptext = f.help or None
    if f.name in hints.fixed:
        st.text_input(label, value=fig.show_value(hints.fixed[f.name]), disabled=True,
                      key=wkey, help=helptext)
        return
    default = hints.defaults.get(f.name)
    if f.kind == CHOICE:
        options = list(hints.choices.get(f.name, f.choices))
        index = options.index(default) if default in options else None
        st.selectbox(label, options, index=index, format_func=_choice_label(f), key=wkey,
                     help=helptext, placeholder=bi("请选择", "choose"))
    elif f.kind == BOOL:
        st.checkbox(label, value=bool(default), key=wkey, help=helptext)
    elif f.kind == DATE:
        st.date_input(label, value=default if isinstance(default, date) else None, key=wkey,
                      help=helptext)
    elif f.kind == INT:
        if f.low != f.high:
            start = default if isinstance(default, int) else f.low
            st.number_input(label, min_value=f.low, max_value=f.high, value=start, step=1,
                            key=wkey, help=helptext)
        else:
            st.number_input(label, value=default if isinstance(default, int) else 0, step=1,
                            key=wkey, help=helptext)
    elif f.kind == LONG:
        st.text_area(label, value=str(default or ""), key=wkey, help=helptext, height=90)
    elif f.kind == USER and people is not None and (people[2] if f.name in WORKER_FIELDS
                                                     else people[1]):
        names, everyone, workers = people
        options = list(hints.choices.get(f.name, workers if f.name in WORKER_FIELDS
                                         else everyone))
        index = options.index(default) if default in options else None
        st.selectbox(label, options, index=index, format_func=lambda u: names.get(u, u),
                     key=wkey, help=helptext, placeholder=bi("请选择", "choose"))
    elif f.kind == LIST:
        if isinstance(default, list | tuple):
            default = ", ".join(str(x) for x in default)
        st.text_input(label, value=str(default or ""), key=wkey,
                      help=(helptext or "") + " " + bi("逗号分隔", "comma-separated"))
    elif f.name in hints.choices:
        options = list(hints.choices[f.name])
        index = options.index(default) if default in options else None
        st.selectbox(label, options, index=index, key=wkey, help=helptext,
                     placeholder=bi("请选择", "choose"))
    else:  # TEXT, and USER with nobody to pick from
        st.text_input(label, value=str(default or ""), key=wkey, help=helptext)


def raw_values(fields: Sequence[Field], widgets: Mapping[str, str],
               values: Mapping[str, Any]) -> dict[str, Any]:
    """The form's values as build_payload takes them: empty ones left out (a required
    one then says "required"), dates as YYYY-MM-DD."""
    raw: dict[str, Any] = {}
    for f in fields:
        value = values.get(widgets[f.name])
        if isinstance(value, date):
            value = value.isoformat()
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        raw[f.name] = value
    return raw


def _submit(user: User, dsn: str, key: str, record_id: str, kind: str, expected: int,
            fields: tuple[Field, ...], widgets: dict[str, str], fixed: dict[str, Any],
            id_key: str, new_id: NewId | None) -> None:
    """A form's callback (it runs before the page is drawn again): check the values,
    act through admin.records with the seq the form was drawn with, keep the outcome."""
    rtype = TYPES[key]
    state = st.session_state
    values = {w: state[w] for w in [*widgets.values(), id_key] if w and w in state}
    raw = {**raw_values(fields, widgets, values),
           **{k: v for k, v in fixed.items() if k in widgets}}
    try:
        payload = build_payload(fields, raw)
    except FieldError as exc:
        st.session_state[OUTCOME_KEY] = Outcome(key, record_id, kind, "invalid",
                                                bi("未提交", "not sent") + f": {exc}")
        return
    creating = not record_id
    rid = record_id
    if creating:
        try:
            rid = new_id(payload) if new_id is not None else ""
        except ValueError as exc:
            st.session_state[OUTCOME_KEY] = Outcome(key, "", kind, "invalid",
                                                    bi("未提交", "not sent") + f": {exc}")
            return
        rid = rid or str(values.get(id_key, "") or "").strip()
        if not rid and not rtype.prefix:
            st.session_state[OUTCOME_KEY] = Outcome(
                key, "", kind, "invalid",
                bi("未提交：请填写编号", "not sent: give the record id"))
            return
    try:
        with open_records(dsn) as records:
            if creating:
                rid, reply = records.create(user, rtype, payload, "web", record_id=rid,
                                            address=source())
            else:
                reply = records.act(user, rtype, rid, kind, expected, payload, "web",
                                    address=source())
        out = Outcome(key, rid, kind, reply.outcome, outcome_words(reply))
    except Exception as exc:  # a page shows words, never a trace; the log keeps why
        log.warning("records.action_failed", stream=key, record_id=rid, kind=kind,
                    error=f"{type(exc).__name__}: {exc}")
        out = Outcome(key, rid, kind, "error", ACTION_FAILED)
    st.session_state[OUTCOME_KEY] = out
    if out.outcome in (APPENDED, PENDING):
        for w in widgets.values():  # done: an empty form for the next action
            st.session_state.pop(w, None)
        if creating and out.outcome == APPENDED:
            st.query_params[RECORD_PARAM] = rid
            st.session_state.pop(f"rec_{key}_pick", None)


def outcome_words(reply: Reply) -> str:
    return duty_actions.outcome_text(reply)
