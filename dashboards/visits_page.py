"""回访 Return visits: the visits owed and overdue (within 7 days of a closed work order,
quarterly per operations contract; admin.visits.visits_due), the visits of the user's
regions (filters), and one visit with its history and the forms its state offers (plan,
unreachable attempt, record the visit with a satisfaction score, cancel). Reads and acts
through admin/records.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import streamlit as st

from admin import visits as vi
from admin.accounts import User
from admin.records import TYPES, Records
from dashboards import records_figures as fig
from dashboards.labels import bi
from dashboards.records_widgets import PageParts, render_records
from dashboards.scope import Scope
from dashboards.widgets import PageContext, table

DUE_HEADERS = {**fig.DUE_HEADERS, "reason": "原因 reason",
               "ref": "工单/合同 order or contract", "region": "服务区域 region",
               "enterprise": "企业 enterprise", "engineer": "工程师 engineer"}
DUE_SHOWN = 50


def render(user: User) -> None:
    render_records(user, PARTS)


def due_rows(dues: list[vi.VisitDue], today: date) -> list[dict[str, Any]]:
    return [fig.due_row(d, today, {
        "reason": vi.REASON_LABELS.get(d.reason, d.reason),
        "ref": d.work_order_id if d.reason == vi.WORK_ORDER else f"{d.contract_no} #{d.period}",
        "region": d.region or fig.NONE, "enterprise": d.enterprise or fig.NONE,
        "engineer": d.engineer or fig.NONE,
    }) for d in dues]


def _above(page: PageContext, records: Records, states: list[Any]) -> None:
    from admin.service_watch import closed_orders, contracts

    today = page.now.date()
    # every visit counts for what is owed; the user sees only their regions' dues
    dues = vi.visits_due(closed_orders(records), contracts(records),
                         records.all(TYPES["visits"]), today, records.service.visits)
    dues = [d for d in dues if page.user.sees_region(d.region)]
    done = [s for s in states if s.state == vi.DONE]
    scores = [s.satisfaction for s in done if s.satisfaction is not None]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(bi("应回访", "Owed"), len(dues))
    m2.metric(bi("逾期", "Overdue"), sum(d.overdue for d in dues))
    m3.metric(bi("已完成", "Done"), len(done))
    m4.metric(bi("平均满意度", "Mean satisfaction"),
              f"{sum(scores) / len(scores):.2f}" if scores else fig.NONE)
    st.markdown("**" + bi("应回访与逾期", "Visits owed and overdue") + "**")
    if not dues:
        st.caption(bi("没有应回访的记录。", "No visit is owed."))
    else:
        table(due_rows(dues[:DUE_SHOWN], today), DUE_HEADERS)
    rules = records.service.visits
    st.caption(bi(f"工单关闭后 {rules.after_close_days} 天内回访；每份运维合同每 "
                  f"{rules.contract_every_months} 个月至少一次。系统按到期自动计划（hj212 "
                  "service-watch）。",
                  f"Within {rules.after_close_days} days of a closed work order; each "
                  f"operations contract every {rules.contract_every_months} months. "
                  "hj212 service-watch plans them as they fall due."))


def _new_id(payload: Mapping[str, Any]) -> str:
    # the planner's id (RV-WO-<order>, RV-C-<contract>-<period>): one visit per due
    reason = str(payload.get("reason", ""))
    ref = str(payload.get("work_order_id" if reason == vi.WORK_ORDER else "contract_no", ""))
    return vi.visit_record_id(reason, ref, int(payload.get("period") or 0))


PARTS = PageParts(
    key="visits", title=bi("回访", "Return visits"),
    intro=bi("电话或现场回访，记录满意度（1–5 分）与意见建议；未接通可记录后再访。",
             "By phone or on site, with a satisfaction score (1 to 5) and suggestions; an "
             "unanswered call is recorded and tried again."),
    above=_above, new_id=_new_id)


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """None: the page reads visits, closed work orders and subscriptions from the ledger
    through admin.records (ledger_events), not through a named query."""
    return []
