"""运维工单 Work orders: the orders of the user's regions (filters), a phone or WeChat
intake form, and one order with its history, SLA clocks (computed from the history,
never typed in), escalation level, transfers and the forms of the actions its state
offers. Reads and acts through admin/records.py (dashboards/records_widgets.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from admin import work_orders as wo
from admin.accounts import User
from admin.records import TYPES, Records, allowed
from dashboards import records_figures as fig
from dashboards.labels import bi
from dashboards.records_widgets import (
    NO_HINTS,
    FormHints,
    PageParts,
    action_form,
    render_records,
)
from dashboards.scope import Scope
from dashboards.widgets import PageContext, table

TRANSFER_HEADERS = {"seq": "序号 seq", "at": "时间 time", "actor": "操作人 by",
                    "from": "原工程师 from", "to": "转给 to", "reason": "原因 reason"}
ESCALATION_HEADERS = {"seq": "序号 seq", "at": "时间 time", "actor": "操作人 by",
                      "level": "级别 level", "note": "说明 note"}
MARK_HEADERS = {"clock": "时限 clock", "due": "应于 due", "level": "记录 mark"}

#: the intake desk takes calls and WeChat messages; alarms come from the duty desk
INTAKE_SOURCES = ("phone", "wechat")


def render(user: User) -> None:
    render_records(user, PARTS)


def _above(page: PageContext, records: Records, states: list[Any]) -> None:
    now = page.now
    open_states = [s for s in states if s.state not in ("", wo.CLOSED)]
    counts = {fig.BREACHED: 0, fig.WARN: 0}
    for s in open_states:
        c = fig.clock_counts([k for k in wo.sla(s, now, records.service.sla)
                              if k.met_at is None])
        counts[fig.BREACHED] += bool(c[fig.BREACHED])
        counts[fig.WARN] += bool(c[fig.WARN])
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(bi("未关闭", "Open"), len(open_states))
    m2.metric(bi("超时未完成", "Overdue now"), counts[fig.BREACHED])
    m3.metric(bi("即将超时", "Near due"), counts[fig.WARN])
    m4.metric(bi("已升级", "Escalated"),
              sum(1 for s in open_states if s.escalation != wo.ORDINARY))
    st.caption(bi("超时未完成：至少一个时限已过且未完成；即将超时：已用去时限的 "
                  f"{records.service.sla.warn_fraction:.0%}。",
                  "Overdue now: at least one clock past due and not met; near due: "
                  f"{records.service.sla.warn_fraction:.0%} of a clock's time used."))
    rtype = TYPES["orders"]
    if allowed(page.user, rtype, wo.OPEN):
        with st.expander(bi("电话/微信受理", "Intake: phone or WeChat")):
            st.caption(bi("登记来电人、联系方式、单位、站点、事由和类别；开单后按服务区域值班表派给"
                          "驻地工程师，15 分钟内须首次联系客户。",
                          "Log who called, how to reach them, the organisation, station, "
                          "reason and class; the order goes to the region's rostered "
                          "engineer, and first contact is due within 15 minutes."))
            action_form(page, rtype, None, wo.OPEN, FormHints(
                choices={"source": INTAKE_SOURCES}, defaults={"source": "phone"},
                hidden=frozenset({"alarm_id"})))


def _hints(kind: str, state: Any) -> FormHints:
    if state is None:
        return NO_HINTS
    if kind == wo.TRANSFER:
        return FormHints(fixed={"from": state.engineer})
    if kind == wo.ESCALATE:
        above = wo.LEVELS[wo.LEVELS.index(state.escalation) + 1:]
        return FormHints(choices={"level": above})
    return NO_HINTS


def _record(page: PageContext, records: Records, s: Any) -> None:
    now = page.now
    limits = records.service.sla
    clocks = wo.sla(s, now, limits)
    c = fig.clock_counts(clocks)
    st.markdown("**" + bi("时限", "SLA clocks") + "**")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(bi("升级级别", "Escalation"), wo.LEVEL_LABELS.get(s.escalation, s.escalation))
    m2.metric(bi("工程师", "Engineer"), s.engineer or fig.NONE)
    m3.metric(bi("超时", "Breached"), c[fig.BREACHED])
    m4.metric(bi("预警", "Warning"), c[fig.WARN])
    if clocks:
        table(fig.clock_rows(clocks, now, wo.CLOCK_LABELS), fig.CLOCK_HEADERS)
    fc, r, o = _h(limits.first_contact), _h(limits.response), _h(limits.on_site)
    zh = (f"{now:%H:%M} 时由历史计算：{fc} 内首次联系；"
          + (f"系统停止工作的故障 {r} 内响应、{o} 内到场；" if s.stops_system else "")
          + "每个开放日须有日结记录；超过一周的工单每周须有记录。")
    en = (f"Computed from the history at {now:%H:%M}: first contact within {fc}; "
          + (f"a fault stopping the system: response within {r}, on site within {o}; "
             if s.stops_system else "")
          + "a closing note each day open; a weekly entry for orders open over a week.")
    st.caption(bi(zh, en))
    if s.transfers:
        st.markdown("**" + bi("转派记录", "Transfers") + "**")
        table([{"seq": t.seq, "at": fig.when(t.at), "actor": t.actor,
                "from": t.from_engineer or fig.NONE, "to": t.to_engineer, "reason": t.reason}
               for t in s.transfers], TRANSFER_HEADERS)
    if s.escalations:
        st.markdown("**" + bi("升级记录", "Escalations") + "**")
        table([{"seq": e.seq, "at": fig.when(e.at), "actor": e.actor,
                "level": wo.LEVEL_LABELS.get(e.level, e.level), "note": fig.cut(e.note)}
               for e in s.escalations], ESCALATION_HEADERS)
    if s.sla_marks:
        st.markdown("**" + bi("时限预警与超时记录", "SLA warnings and breaches recorded") + "**")
        table([{"clock": wo.CLOCK_LABELS.get(m[0], m[0]), "due": m[1],
                "level": "🔴 超时 breach" if m[2] == "breach" else "🟠 预警 warning"}
               for m in s.sla_marks], MARK_HEADERS)


def _h(td: Any) -> str:
    return fig.span(td)


PARTS = PageParts(
    key="orders", title=bi("运维工单", "Work orders"),
    intro=bi("工单来自值守台派单或电话/微信受理；状态：新建 → 已派工 → 已联系 → 已响应 → 已到场 → "
             "已处理 → 已确认 → 已关闭。",
             "Orders come from duty-desk dispatches or phone/WeChat intake; new → assigned "
             "→ contacted → responded → on site → resolved → verified → closed."),
    above=_above, record_extra=_record, hints=_hints, create_form=False,
    value_labels={"order_class": wo.CLASS_LABELS, "escalation": wo.LEVEL_LABELS})


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """None: the default view reads the orders from the ledger through admin.records
    (ledger_events), not through a named query. (An open order's forms ask
    ``duty_people`` for the engineers to pick; no order is open by default.)"""
    return []
