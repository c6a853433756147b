"""The duty desk (值守台): the live alarm feed of the user's regions, one alarm's episode,
history, data and actions, the shift handover (交接班) and the response figures.

Reading: named queries only (pipeline/store/queries_duty.py), in the user's region scope.
The feed reads through the short cache with a "now" rounded to its refresh, so every
desk open at once shares one read per refresh. The alarm being worked on is read
uncached (``dashboards.data.run_named``): an action names the sequence the page read,
and a read 30 s old would make the operator's own second action a conflict.

Acting: every action goes through admin/duty_actions.py (roles and regions checked again
on the server side, audited) and the ledger (pipeline/ledger/), with the seq the page
showed when it was drawn. The outcome is shown in words: recorded, queued, refused (why)
or conflict (who changed it and when), never a trace. Buttons show only for what the
user's roles allow; the server decides all the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import altair as alt
import streamlit as st

from admin import duty_actions
from admin.accounts import PermissionDenied, Role, User
from dashboards import duty_figures as fig
from dashboards.auth import current_user, source
from dashboards.data import CONNECT_TIMEOUT_S, RECEIVE_TIMEOUT_S, bucket, run_named
from dashboards.labels import (
    SEVERITIES,
    bi,
    query_caption,
    region_label,
    rule_label,
    severity_label,
)
from dashboards.scope import Scope, region_scope, scope_params
from dashboards.settings_source import app_settings
from dashboards.station_figures import pollutant_name
from dashboards.widgets import COUNT_AXIS, PageContext, chart_data, guarded, page_start, table
from pipeline.duty import lifecycle as lc
from pipeline.ledger.codec import event_from_row
from pipeline.ledger.model import APPENDED, CONFLICT, PENDING, Change, Reply
from pipeline.logs import get_logger
from pipeline.store.client import ClickHouse
from pipeline.timebase import now_local

log = get_logger("dashboards.duty")

#: the alarm shown below the feed: the address's ``?alarm=<id>`` (shareable)
ALARM_PARAM: Final = "alarm"
#: session keys: the seq each alarm showed when drawn, the last action's outcome, the
#: alarm the full page last drew
SEEN_KEY: Final = "duty_seen_seq"
OUTCOME_KEY: Final = "duty_outcome"
DRAWN_KEY: Final = "duty_drawn"

NOT_FOUND: Final = bi("无法打开该告警：它不存在，或不在您的服务区域内。",
                      "This alarm cannot be opened: it does not exist, or it is outside "
                      "your service regions.")
PICK_HINT: Final = bi("在上方选择一条告警，查看详情与处置。",
                      "Choose an alarm above to see it and act on it.")
ACTION_FAILED: Final = bi("操作未能提交：数据库或消息服务暂时无法访问，请稍后重试；"
                          "若持续出现，请联系管理员。",
                          "The action could not be submitted: the database or the message "
                          "service cannot be reached. Try again in a moment; if this "
                          "persists, tell an administrator.")

Query = Callable[..., list[dict[str, Any]]]


class Ledger(Protocol):
    def submit(self, change: Change, wait_s: float | None = None) -> Reply: ...


@st.cache_resource(show_spinner=False)
def _ledger_client() -> Ledger:
    # one client per server process: it keeps one Kafka producer thread for every session
    from pipeline.ledger.client import LedgerClient

    return LedgerClient(app_settings())


#: how actions reach the ledger and ClickHouse; unit tests put stand-ins here
ledger: Callable[[], Ledger] = _ledger_client


def _connect(dsn: str) -> Any:
    return ClickHouse(dsn, connect_timeout=CONNECT_TIMEOUT_S,
                      send_receive_timeout=RECEIVE_TIMEOUT_S)


connect: Callable[[str], Any] = _connect


def render(user: User) -> None:
    page = page_start(bi("值守台", "Duty desk"), user)
    if page is None:
        return
    # the alarm this full run draws; the feed's part compares its choice with it
    st.session_state[DRAWN_KEY] = st.query_params.get(ALARM_PARAM)
    live(user)
    guarded(user, lambda: _detail(page))
    guarded(user, lambda: _handover(page))
    guarded(user, lambda: _figures(page))


def _feed_now() -> datetime:
    return bucket(now_local(), fig.REFRESH_S)


def _feed_items(q: Query, now: datetime) -> list[fig.Item]:
    since = now - fig.FEED_LOOKBACK
    alarms = q("duty_feed", since=since, limit=fig.FEED_LIMIT)
    events = q("duty_feed_events", since=since)
    silences = q("duty_active_silences", at=now)
    return fig.feed(alarms, events, silences, now)


@st.fragment(run_every=fig.REFRESH_S)
def live(user: User) -> None:
    """The feed, redrawn every REFRESH_S s on its own. A redraw runs only this part, so
    it checks the sign-in itself (as the overview's does); choosing an alarm here draws
    the whole page again, as its details live outside."""
    if current_user() is None:
        st.rerun()
    scope = region_scope(user)
    params = scope_params(scope)
    dsn = app_settings().clickhouse.dsn
    now = _feed_now()

    def q(name: str, **kw: Any) -> list[dict[str, Any]]:
        from dashboards.data import fetch

        return fetch(dsn, name, **kw, **params)

    guarded(user, lambda: _feed(q, now))
    if st.session_state.get(DRAWN_KEY) != st.query_params.get(ALARM_PARAM):
        st.rerun()  # the choice changed in this part: draw the details below


def _feed(q: Query, now: datetime) -> None:
    items = _feed_items(q, now)
    c = fig.counts(items)
    st.subheader(bi("实时告警", "Live alarms"))
    m1, m2, m3 = st.columns(3)
    m1.metric(bi("未处理完", "Open"), c["open"])
    m2.metric(bi("未确认", "Unacknowledged"), c["unacknowledged"])
    m3.metric(bi("超时未确认", "Breached"), c["breached"])

    f1, f2, f3, f4 = st.columns(4)
    regions = sorted({str(it.alarm.get("region", "")) for it in items})
    rules = sorted({str(it.alarm["rule"]) for it in items})
    filters = fig.Filters(
        regions=tuple(f1.multiselect(bi("服务区域", "region"), regions,
                                     format_func=region_label, key="duty_f_region")),
        severities=tuple(f2.multiselect(bi("级别", "severity"), list(SEVERITIES),
                                        format_func=severity_label, key="duty_f_severity")),
        rules=tuple(f3.multiselect(bi("规则", "rule"), rules, format_func=rule_label,
                                   key="duty_f_rule")),
        people=tuple(f4.multiselect(bi("处置状态", "people's state"),
                                    list(fig.PEOPLE_STATES), default=list(fig.DEFAULT_PEOPLE),
                                    format_func=lambda s: fig.PEOPLE_LABELS[s],
                                    key="duty_f_people")),
    )
    shown = fig.apply(items, filters)
    if not shown:
        st.success(bi("没有符合条件的告警。", "No alarm matches."))
    else:
        table(fig.feed_table(shown[:fig.FEED_SHOWN], now), fig.FEED_HEADERS)
    more = (bi(f"，仅列出前 {fig.FEED_SHOWN} 条", f"; the first {fig.FEED_SHOWN} listed")
            if len(shown) > fig.FEED_SHOWN else "")
    st.caption(bi(
        f"{len(shown)} 条符合筛选（共 {len(items)} 条）{more}。"
        "未确认的在前，其次按级别和剩余响应时间；"
        f"已恢复超过 {fig.FEED_LOOKBACK.total_seconds() / 3600:g} 小时的告警不再列出。"
        f"{now:%H:%M:%S} 的数据，每 {fig.REFRESH_S} 秒刷新。",
        f"{len(shown)} match the filters (of {len(items)}). Unacknowledged first, then by "
        "severity and response time left; alarms cleared more than "
        f"{fig.FEED_LOOKBACK.total_seconds() / 3600:g} h ago leave the desk. As of "
        f"{now:%H:%M:%S}, redrawn every {fig.REFRESH_S} s.")
        + " " + query_caption("duty_feed", "duty_feed_events", "duty_active_silences"))

    ids = [it.alarm_id for it in shown[:fig.FEED_SHOWN]]
    labels = {it.alarm_id: fig.alarm_label(it.alarm) for it in items}
    current = st.query_params.get(ALARM_PARAM)
    if current and current not in ids:
        ids.insert(0, current)
    st.selectbox(bi("查看告警", "Open alarm"), ids,
                 index=ids.index(current) if current in ids else None,
                 format_func=lambda i: labels.get(i, i), key="duty_pick",
                 on_change=_picked, placeholder=bi("选择告警", "choose an alarm"))


def _picked() -> None:
    chosen = st.session_state.get("duty_pick")
    if chosen:
        st.query_params[ALARM_PARAM] = chosen
    elif ALARM_PARAM in st.query_params:
        del st.query_params[ALARM_PARAM]
    st.session_state.pop(OUTCOME_KEY, None)


# --- one alarm ------------------------------------------------------------------------


def _fresh(page: PageContext, name: str, **kw: Any) -> list[dict[str, Any]]:
    """A named query read now, not from the cache (module docstring)."""
    return run_named(page.dsn, name, {**kw, **page.params})


def _detail(page: PageContext) -> None:
    alarm_id = st.query_params.get(ALARM_PARAM)
    st.divider()
    if not alarm_id:
        st.info(PICK_HINT)
        return
    rows = _fresh(page, "duty_alarm", alarm_id=alarm_id)
    if not rows:
        st.error(NOT_FOUND)
        return
    now = now_local().replace(microsecond=0)
    events = [event_from_row(r) for r in _fresh(page, "duty_alarm_events",
                                                alarm_id=alarm_id)]
    silences = page.q("duty_active_silences", at=_feed_now())
    it = fig.item(rows[0], events, [fig.silence_of(r) for r in silences], now)
    a = it.alarm
    st.subheader(bi("告警详情", "Alarm") + f" · {fig.alarm_label(a)}")
    # when and from what it was raised, before anything else: the first question asked
    st.markdown(f"**{bi('发出', 'raised')}:** {fig.raised_text(a)}")
    _outcome(alarm_id)
    st.markdown(
        f"**{bi('处置状态', 'people')}:** {fig.PEOPLE_LABELS[it.people]} · "
        f"**{bi('检测状态', 'detector')}:** {fig.DETECTOR_LABELS[it.state.detector]} · "
        f"**{bi('响应时限', 'response time')}:** {fig.response_text(it)} "
        f"({bi('应于', 'due')} {it.clock.due_at:%H:%M})"
        + (f" · 🔕 {bi('静默中', 'silenced')}" if it.state.silenced else "")
        + (f" · **{bi('指派', 'assignee')}:** {it.state.assignee}" if it.state.assignee
           else ""))
    left, right = st.columns([1, 1])
    with left:
        st.markdown("**" + bi("告警", "Episode") + "**")
        table(fig.episode_table(a), fig.FIELD_HEADERS)
        st.caption(query_caption("duty_alarm"))
    with right:
        st.markdown("**" + bi("证据", "Evidence") + "**")
        evidence = fig.evidence_table(str(rows[0].get("evidence", "")))
        if evidence:
            table(evidence, fig.FIELD_HEADERS)
        else:
            st.write(bi("无", "None"))
        st.markdown("**" + bi("处置记录", "History") + "**")
        table(fig.history_table(a, events), fig.HISTORY_HEADERS)
        st.caption(bi("检测器的开始与恢复为数据时间；人员操作为记录时间。",
                      "The detector's open and clear are data times; people's actions are "
                      "when the ledger took them.") + " " + query_caption("duty_alarm_events"))
    _series(page, a, now)
    # what the next action expects: the seq this page shows (set after the actions'
    # callbacks, which ran with the seq of the page before)
    seen = dict(st.session_state.get(SEEN_KEY, {}))
    seen[alarm_id] = it.state.last_seq
    st.session_state[SEEN_KEY] = seen
    _actions(page, it)


def _series(page: PageContext, a: Mapping[str, Any], now: datetime) -> None:
    st.markdown("**" + bi("告警前后的数据", "Data around the alarm") + "**")
    if not a["code"] or not a["cn"]:
        st.caption(bi("整站告警（离线、缺失），没有单一因子的数据可画。",
                      "A station-wide alarm (offline, missing data): no one pollutant to "
                      "plot."))
        return
    win = fig.series_window(a, now)
    rows = page.q("duty_alarm_series", mn=a["mn"], cn=int(a["cn"]), code=a["code"],
                  start=win.start, end=win.end, step=win.step, limit=fig.SERIES_POINTS)
    series = fig.series_rows(rows)
    if not series:
        st.caption(bi("该时段没有数据。", "No data in that time.") + " "
                   + query_caption("duty_alarm_series"))
        return
    base = alt.Chart(chart_data(series)).mark_line(point=alt.OverlayMarkDef(size=14)).encode(
        x=alt.X("time:T", title=bi("时间", "time") + " (CST)",
                axis=alt.Axis(format="%m-%d %H:%M", labelOverlap=True)),
        y=alt.Y("value:Q", title=pollutant_name(str(a["code"]))),
        tooltip=[alt.Tooltip("time:T", title=bi("时间", "time"), format="%m-%d %H:%M"),
                 alt.Tooltip("value:Q", title=bi("数值", "value"), format=".3g"),
                 alt.Tooltip("records:Q", title=bi("记录", "records")),
                 alt.Tooltip("flagged:Q", title=bi("非N标记", "flagged"))])
    layers: list[Any] = [base]
    opened = {"time": f"{a['opened_at']:%Y-%m-%dT%H:%M:%S}", "what": bi("开始", "opened")}
    marks = [opened]
    if a.get("cleared_at"):
        marks.append({"time": f"{a['cleared_at']:%Y-%m-%dT%H:%M:%S}",
                      "what": bi("恢复", "cleared")})
    layers.append(alt.Chart(chart_data(marks)).mark_rule(color="#b2182b", strokeDash=[4, 3])
                  .encode(x="time:T", tooltip=[alt.Tooltip("what:N", title="")]))
    threshold = a["threshold"]
    if isinstance(threshold, float) and threshold == threshold and abs(threshold) != float("inf"):
        layers.append(alt.Chart(chart_data([{"threshold": threshold}]))
                      .mark_rule(color="#d62728")
                      .encode(y="threshold:Q", tooltip=[alt.Tooltip(
                          "threshold:Q", title=bi("阈值", "threshold"))]))
    st.altair_chart(alt.layer(*layers).interactive(bind_y=False), width="stretch",
                    height=260)
    st.caption(bi(f"{win.start:%m-%d %H:%M}–{win.end:%m-%d %H:%M}，告警开始前 1 小时至最后一次"
                  "（或恢复）后 1 小时；红色横线为阈值，虚线为开始与恢复。",
                  f"{win.start:%m-%d %H:%M}–{win.end:%m-%d %H:%M}: from 1 h before the "
                  "alarm opened to 1 h after it was last seen (or cleared); red line: the "
                  "threshold, dashed: opened and cleared.") + " "
               + query_caption("duty_alarm_series"))


# --- actions --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    alarm_id: str
    kind: str
    outcome: str  # the ledger's, or "error" / "done" (a silence)
    text: str


def _outcome(alarm_id: str) -> None:
    out = st.session_state.get(OUTCOME_KEY)
    if not isinstance(out, Outcome) or out.alarm_id != alarm_id:
        return
    label = lc.KIND_LABELS.get(out.kind, out.kind)
    if out.outcome in (APPENDED, "done"):
        st.success(f"{label}: {out.text}")
    elif out.outcome == PENDING:
        st.warning(f"{label}: {out.text}")
    else:
        st.error(f"{label}: {out.text}")


def outcome_words(reply: Reply) -> str:
    if reply.outcome == APPENDED:
        return bi(f"已记录（第 {reply.seq} 条）", f"recorded as event {reply.seq}")
    if reply.outcome == PENDING:
        return bi("已排队，写入服务暂未应答，稍后会出现在处置记录中",
                  "queued: the ledger writer has not answered yet; it will show in the "
                  "history")
    if reply.outcome == CONFLICT:
        return bi("冲突", "conflict") + ": " + reply.message
    return bi("被拒绝", "refused") + ": " + reply.message


def _submit(user: User, dsn: str, alarm_id: str, kind: str, fields: dict[str, str],
            fixed: dict[str, Any]) -> None:
    """An action's callback (it runs before the page is drawn again): submit with the
    seq the page showed, keep the outcome for the page to show."""
    seen = st.session_state.get(SEEN_KEY, {}).get(alarm_id, 0)
    payload = {**fixed, **{k: str(st.session_state.get(w) or "").strip()
                           for k, w in fields.items()}}
    try:
        conn = connect(dsn)
        try:
            orders = None
            if kind == lc.DISPATCH:
                from admin.order_hooks import LedgerWorkOrders
                from admin.records import Records
                from admin.service_settings import from_settings

                # the dispatch opens the real work order (issue 12)
                orders = LedgerWorkOrders(Records(ledger(), conn,
                                                  from_settings(app_settings())))
            reply = duty_actions.perform(ledger(), conn, user, alarm_id, kind, int(seen),
                                         payload, "web", address=source(),
                                         work_orders=orders)
        finally:
            conn.close()
        out = Outcome(alarm_id, kind, reply.outcome, outcome_words(reply))
    except Exception as exc:  # a page shows words, never a trace; the log keeps why
        log.warning("duty.action_failed", alarm_id=alarm_id, kind=kind,
                    error=f"{type(exc).__name__}: {exc}")
        out = Outcome(alarm_id, kind, "error", ACTION_FAILED)
    st.session_state[OUTCOME_KEY] = out


def _silence(user: User, dsn: str, alarm: dict[str, Any]) -> None:
    hours = float(st.session_state.get("duty_sil_hours") or 0)
    reason = str(st.session_state.get("duty_sil_reason") or "")
    now = now_local().replace(microsecond=0)
    try:
        conn = connect(dsn)
        try:
            made = duty_actions.silence(
                conn, user, starts_at=now, ends_at=now + timedelta(hours=hours),
                reason=reason, mn=str(alarm["mn"]), code=str(alarm["code"]),
                rule=str(alarm["rule"]), source=source(), now=now)
        finally:
            conn.close()
        out = Outcome(str(alarm["alarm_id"]), "silence", "done", bi(
            f"已静默至 {made.ends_at:%m-%d %H:%M}（{made.silence_id}）",
            f"silenced until {made.ends_at:%m-%d %H:%M} ({made.silence_id})"))
    except (PermissionDenied, ValueError) as exc:
        out = Outcome(str(alarm["alarm_id"]), "silence", "refused",
                      bi("被拒绝", "refused") + f": {exc}")
    except Exception as exc:
        log.warning("duty.silence_failed", alarm_id=alarm["alarm_id"],
                    error=f"{type(exc).__name__}: {exc}")
        out = Outcome(str(alarm["alarm_id"]), "silence", "error", ACTION_FAILED)
    st.session_state[OUTCOME_KEY] = out


def _people(page: PageContext, alarm: Mapping[str, Any]) -> tuple[list[str], list[str],
                                                                  dict[str, str]]:
    """Who may be assigned (duty staff) and dispatched to (the alarm's region's
    engineers), and everyone's display name."""
    rows = page.q("duty_people")
    names = {r["username"]: f"{r['display_name']} ({r['username']})" for r in rows}
    region = str(alarm.get("region", ""))
    staff, engineers = [], []
    for r in rows:
        roles = set(filter(None, str(r["role_list"]).split(",")))
        regions = set(filter(None, str(r["region_list"]).split(",")))
        if roles & {Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR, Role.FIELD_ENGINEER}:
            staff.append(r["username"])
        if Role.FIELD_ENGINEER in roles and (not regions or region in regions):
            engineers.append(r["username"])
    return staff, engineers, names


def _actions(page: PageContext, it: fig.Item) -> None:
    user, dsn, a = page.user, page.dsn, it.alarm
    alarm_id = it.alarm_id
    s = it.state
    kinds = [k for k in (lc.ACK, lc.UNACK, lc.ASSIGN, lc.COMMENT, lc.NOTIFY, lc.DISPATCH,
                         lc.RESOLVE, lc.CLOSE, lc.REOPEN)
             if duty_actions.allowed(user, k)]
    # what the state makes pointless is not offered (the ledger's rule refuses it anyway)
    hide = {lc.UNACK} if not s.acknowledged else {lc.ACK}
    if not (s.resolved or s.closed):
        hide |= {lc.CLOSE, lc.REOPEN}
    if s.closed:
        hide |= {lc.CLOSE}
    kinds = [k for k in kinds if k not in hide]
    can_silence = user.has(*sorted(duty_actions.SILENCE_ROLES))
    st.markdown("**" + bi("处置", "Actions") + "**")
    if not kinds and not can_silence:
        st.caption(bi("您的角色只能查看告警。", "Your role may read alarms only."))
        return
    args: dict[str, Any] = {"user": user, "dsn": dsn, "alarm_id": alarm_id}
    quick: list[str] = [k for k in (lc.ACK, lc.UNACK) if k in kinds]
    for k in quick:
        st.button(lc.KIND_LABELS[k], key=f"duty_do_{k}", type="primary", on_click=_submit,
                  kwargs={**args, "kind": k, "fields": {}, "fixed": {}})
    forms: list[str] = [k for k in kinds if k not in quick] + (["silence"] if can_silence
                                                                else [])
    if not forms:
        return
    tab_labels = [lc.KIND_LABELS.get(k, bi("静默", "silence")) for k in forms]
    for k, tab in zip(forms, st.tabs(tab_labels), strict=True):
        with tab, st.form(f"duty_form_{k}", clear_on_submit=True, border=False):
            fields = _fields(page, k, a)
            label = lc.KIND_LABELS.get(k, bi("静默", "silence"))
            if k == "silence":
                st.form_submit_button(bi("确定静默", "Silence"), on_click=_silence,
                                      key="duty_submit_silence",
                                      kwargs={"user": user, "dsn": dsn, "alarm": a})
            else:
                st.form_submit_button(bi("提交", "Submit") + f" · {label}",
                                      on_click=_submit, key=f"duty_submit_{k}",
                                      kwargs={**args, "kind": k, "fields": fields,
                                              "fixed": {}})


@st.cache_data(ttl=300, show_spinner=False)
def _receivers() -> dict[str, str]:
    """hj212 notify's receivers (name -> title) from the routing file it reads; none when
    the file cannot be read (the page then records the notice only)."""
    from pipeline.notify.routing import RoutingError, load_routing

    try:
        routing = load_routing(app_settings().notify.routes or None)
    except (RoutingError, OSError):
        return {}
    return {name: f"{r.title} ({name}, {r.kind})" for name, r in routing.receivers.items()}


def _notice(a: Mapping[str, Any]) -> str:
    """The notification's first draft: the alarm's message, naming the enterprise once."""
    who = str(a.get("enterprise") or a["mn"])
    message = str(a["message"])
    return message if message.startswith(who) else f"{who}：{message}"


def _fields(page: PageContext, kind: str, a: Mapping[str, Any]) -> dict[str, str]:
    """The form's inputs for ``kind``: payload key -> widget key."""
    if kind == lc.ASSIGN:
        staff, _, names = _people(page, a)
        st.selectbox(bi("指派给", "Assign to"), staff, key="duty_in_assignee",
                     format_func=lambda u: names.get(u, u))
        return {"assignee": "duty_in_assignee"}
    if kind == lc.COMMENT:
        st.text_area(bi("备注", "Comment"), key="duty_in_comment", max_chars=lc.MAX_TEXT)
        return {"text": "duty_in_comment"}
    if kind == lc.NOTIFY:
        c1, c2 = st.columns([1, 2])
        c1.selectbox(bi("渠道", "Channel"), list(lc.CHANNELS), key="duty_in_channel")
        c2.text_input(bi("通知对象（企业联系人）", "Recipient (the enterprise's contact)"),
                      value=str(a.get("enterprise") or ""), key="duty_in_recipient")
        st.text_area(bi("通知内容", "What the enterprise was told"), key="duty_in_ntext",
                     value=_notice(a),
                     max_chars=lc.MAX_TEXT)
        receivers = _receivers()
        st.selectbox(bi("经由接收端发送", "Send through receiver"), ["", *receivers],
                     key="duty_in_receiver",
                     format_func=lambda r: receivers.get(r, bi("不发送，仅记录",
                                                               "record only, send nothing")))
        st.caption(bi("记录通知；选择了接收端的，由 hj212 notify 发送（投递记录见 "
                      "notify_deliveries）。",
                      "Recorded; with a receiver chosen, hj212 notify sends it (its delivery "
                      "is logged in notify_deliveries)."))
        return {"channel": "duty_in_channel", "recipient": "duty_in_recipient",
                "receiver": "duty_in_receiver", "text": "duty_in_ntext"}
    if kind == lc.DISPATCH:
        _, engineers, names = _people(page, a)
        if not engineers:
            st.warning(bi(f"服务区域 {region_label(str(a.get('region', '')))} 没有驻地工程师账号。",
                          "No field engineer has an account for this region."))
        roster = bi("按值班表派工", "by the region's roster")
        st.selectbox(bi("派给驻地工程师", "Dispatch to the region's engineer"),
                     ["", *engineers], key="duty_in_engineer",
                     format_func=lambda u: names.get(u, u) if u else roster)
        st.caption(bi("派单即开立运维工单（见“运维工单”页）。",
                      "Dispatching opens a work order (see the work-orders page)."))
        st.text_input(bi("说明", "Note"), key="duty_in_dnote")
        return {"engineer": "duty_in_engineer", "text": "duty_in_dnote"}
    if kind == lc.RESOLVE:
        st.text_input(bi("如何确认数据已恢复", "How the data were verified back"),
                      value=bi("检测器已恢复", "episode cleared") if a["state"] == "cleared"
                      else "", key="duty_in_verification")
        return {"verification": "duty_in_verification"}
    if kind in (lc.CLOSE, lc.UNACK, lc.ACK):
        st.text_input(bi("备注（可选）", "Note (optional)"), key=f"duty_in_{kind}_text")
        return {"text": f"duty_in_{kind}_text"}
    if kind == lc.REOPEN:
        st.text_input(bi("重新打开的原因", "Why reopen"), key="duty_in_reason")
        return {"reason": "duty_in_reason"}
    # silence
    c1, c2 = st.columns([1, 3])
    c1.number_input(bi("时长（小时）", "Hours"), min_value=0.5, max_value=720.0, value=2.0,
                    step=0.5, key="duty_sil_hours")
    c2.text_input(bi("原因（如计划校准）", "Reason (e.g. planned calibration)"),
                  key="duty_sil_reason")
    st.caption(bi("静默该站点该因子该规则的告警通知；告警仍记录并标为静默。",
                  "Silences notifications of this station, pollutant and rule; the alarms "
                  "are still recorded, marked silenced."))
    return {}


# --- the shift handover and the figures -----------------------------------------------


def _handover(page: PageContext) -> None:
    now = _feed_now()
    shift = fig.shift_of(now)
    items = _feed_items(page.q, now)
    # up to the feed's next redraw, not the shift's end: the same rows, and the cache
    # key moves with the feed, so an action shows here as soon as in the feed
    until = min(shift.end, now + timedelta(seconds=fig.REFRESH_S))
    opened = page.q("duty_shift_opened", start=shift.start, end=until)
    events = page.q("duty_shift_events", start=shift.start, end=until)
    h = fig.handover(shift, now, items, opened, events)
    st.divider()
    st.subheader(bi("交接班", "Shift handover") + f" · {shift.name} "
                 f"{shift.start:%m-%d %H:%M}–{shift.end:%H:%M}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(bi("未处理完", "Still open"), len(h.open_items))
    c2.metric(bi("本班新开", "Opened"), h.opened)
    c3.metric(bi("本班确认", "Acknowledged"), len(h.done[lc.ACK]))
    c4.metric(bi("本班处理完成", "Resolved"), len(h.done[lc.RESOLVE]))
    with st.expander(bi("交接班文本（可复制）", "Handover text (to copy)"), expanded=False):
        st.code(fig.handover_text(h, page.user.display_name), language=None)
    st.caption(bi("班次 08:00–20:00 白班、20:00–08:00 夜班（北京时间）。",
                  "Shifts: 08:00-20:00 day, 20:00-08:00 night (CST).") + " "
               + query_caption("duty_shift_opened", "duty_shift_events", "duty_feed"))


def _figures(page: PageContext) -> None:
    end = page.now
    start = end - timedelta(days=fig.FIGURES_DAYS)
    st.divider()
    st.subheader(bi(f"近 {fig.FIGURES_DAYS} 天处置时效", f"Response, last {fig.FIGURES_DAYS} "
                    "days"))
    rs = fig.responses(page.q("duty_response_times", start=start, end=end))
    overall = fig.response_summary(rs, None)
    if overall:
        table(overall, fig.RESPONSE_HEADERS)
    left, right = st.columns(2)
    with left:
        st.markdown("**" + bi("按服务区域", "By region") + "**")
        table(fig.response_summary(rs, "region"), fig.RESPONSE_HEADERS)
    with right:
        st.markdown("**" + bi("按规则", "By rule") + "**")
        table(fig.response_summary(rs, "rule"), fig.RESPONSE_HEADERS)
    st.caption(bi("确认用时：告警开始到首次确认；处理用时：到首次处理完成或关闭。"
                  "中位数与 P90（最近秩）只计已确认（已处理）的告警。",
                  "Time to acknowledge: from opening to the first acknowledgement; to "
                  "resolve: to the first resolve or close. Median and p90 (nearest rank) "
                  "over the alarms acknowledged (resolved).") + " "
               + query_caption("duty_response_times"))
    ops = fig.operator_table(page.q("duty_operator_counts", start=start, end=end))
    st.markdown("**" + bi("按操作人", "Per operator") + "**")
    if not ops:
        st.write(bi("无", "None"))
    else:
        long = [{"actor": r["actor"], "kind": lc.KIND_LABELS[k], "actions": r[k]}
                for r in ops for k in (lc.ACK, lc.NOTIFY, lc.DISPATCH, lc.RESOLVE,
                                       lc.CLOSE) if r[k]]
        chart = (alt.Chart(chart_data(long)).mark_bar()
                 .encode(x=alt.X("actions:Q", title=bi("次数", "actions"), axis=COUNT_AXIS),
                         y=alt.Y("actor:N", title=None, sort="-x"),
                         color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="top")),
                         tooltip=["actor:N", "kind:N", "actions:Q"]))
        st.altair_chart(chart, width="stretch", height=90 + 30 * len(ops))
        table(ops, fig.OPERATOR_HEADERS)
    st.caption(query_caption("duty_operator_counts"))


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The named queries (with parameters) the default view asks at ``now`` for
    ``scope``: the feed, the handover and the figures; no alarm is open by default.
    ``mn`` and ``enterprise`` are not used here."""
    feed_now = bucket(now, fig.REFRESH_S)
    since = feed_now - fig.FEED_LOOKBACK
    shift = fig.shift_of(feed_now)
    until = min(shift.end, feed_now + timedelta(seconds=fig.REFRESH_S))
    page_now = bucket(now)
    start = page_now - timedelta(days=fig.FIGURES_DAYS)
    out: list[tuple[str, dict[str, Any]]] = [
        ("duty_feed", {"since": since, "limit": fig.FEED_LIMIT}),
        ("duty_feed_events", {"since": since}),
        ("duty_active_silences", {"at": feed_now}),
        ("duty_shift_opened", {"start": shift.start, "end": until}),
        ("duty_shift_events", {"start": shift.start, "end": until}),
        ("duty_response_times", {"start": start, "end": page_now}),
        ("duty_operator_counts", {"start": start, "end": page_now}),
    ]
    params = scope_params(scope)
    return [(name, {**kw, **params}) for name, kw in out]
