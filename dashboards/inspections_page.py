"""巡检 Inspections: what is due and overdue (a monthly platform inspection per service
region, a site inspection per station, from admin.inspections.due_inspections), the
inspections of the user's regions (filters), and one inspection with its checklist
findings, history and the forms its state offers (plan, start, record an item, complete,
link a follow-up work order, cancel, note). Reads the records through admin/records.py
and the registry's stations through the named query ``station_list``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import streamlit as st

from admin import inspections as ins
from admin.accounts import User
from admin.records import TYPES, Records
from dashboards import records_figures as fig
from dashboards.labels import bi, query_caption
from dashboards.records_widgets import NO_HINTS, FormHints, PageParts, render_records, service
from dashboards.scope import Scope, scope_params
from dashboards.widgets import PageContext, table

DUE_HEADERS = {**fig.DUE_HEADERS, "kind": "类型 kind", "region": "服务区域 region",
               "station": "站点 station", "enterprise": "企业 enterprise",
               "last": "上次完成 last done"}
FINDING_HEADERS = {"item": "检查项 item", "result": "结果 result", "note": "说明 note",
                   "actor": "记录人 by", "at": "时间 time"}
#: dues listed ahead of their date
SOON_DAYS = 14
DUE_SHOWN = 50


def render(user: User) -> None:
    render_records(user, PARTS)


def due_rows(dues: list[ins.Due], today: date) -> list[dict[str, Any]]:
    return [fig.due_row(d, today, {
        "kind": ins.INSPECTION_KIND_LABELS.get(d.kind, d.kind),
        "region": d.region or fig.NONE, "station": d.station or fig.NONE,
        "enterprise": d.enterprise or fig.NONE,
        "last": d.last_completed.isoformat() if d.last_completed else fig.NONE,
    }) for d in dues]


def _above(page: PageContext, records: Records, states: list[Any]) -> None:
    today = page.now.date()
    stations = [ins.StationRef(str(r["mn"]), str(r["region"]), str(r["enterprise"]))
                for r in page.q("station_list") if r.get("active", 1)]
    # every inspection counts for the schedule; the user sees only their regions' dues
    dues = ins.due_inspections(stations, records.all(TYPES["inspections"]), today,
                               records.service.inspections)
    dues = [d for d in dues if page.user.sees_region(d.region)]
    soon = [d for d in dues if d.due <= today + timedelta(days=SOON_DAYS)]
    m1, m2, m3 = st.columns(3)
    m1.metric(bi("逾期", "Overdue"), sum(d.overdue for d in dues))
    m2.metric(bi(f"{SOON_DAYS} 天内到期", f"Due within {SOON_DAYS} days"),
              sum(not d.overdue for d in soon))
    m3.metric(bi("未计划", "Not planned"), sum(1 for d in soon if not d.covered_by))
    st.markdown("**" + bi("到期与逾期的巡检", "Inspections due and overdue") + "**")
    if not soon:
        st.caption(bi("近期没有到期的巡检。", "No inspection is due soon."))
    else:
        table(due_rows(soon[:DUE_SHOWN], today), DUE_HEADERS)
    rules = records.service.inspections
    st.caption(bi(f"平台巡检每 {rules.platform_every_days} 天（每个服务区域），现场巡检每 "
                  f"{rules.site_every_days} 天（每个站点），从上次完成起算；从未巡检的今日到期。",
                  f"A platform inspection every {rules.platform_every_days} days per region, "
                  f"a site inspection every {rules.site_every_days} days per station, from "
                  "the last completed; never inspected: due today.") + " "
               + query_caption("station_list"))


def _record(page: PageContext, records: Records, s: Any) -> None:
    if not s.items:
        return
    answered = {f.item: f for f in s.findings}
    st.markdown("**" + bi("检查表", "Checklist") + "**")
    table([{"item": item,
            "result": ins.RESULT_LABELS.get(answered[item].result, answered[item].result)
            if item in answered else "未检查 open",
            "note": fig.cut(answered[item].note) if item in answered else "",
            "actor": answered[item].actor if item in answered else "",
            "at": fig.when(answered[item].at) if item in answered else ""}
           for item in s.items], FINDING_HEADERS)


def _hints(kind: str, state: Any) -> FormHints:
    if kind == ins.PLAN:
        templates = service().inspections.templates
        return FormHints(choices={"template": tuple(templates)}) if templates else NO_HINTS
    if state is None:
        return NO_HINTS
    if kind == ins.RECORD and state.items:
        return FormHints(choices={"item": tuple(state.items)})
    if kind == ins.FOLLOW_UP:
        problems = tuple(dict.fromkeys(f.item for f in state.findings
                                       if f.result == ins.PROBLEM))
        return FormHints(choices={"item": problems}) if problems else NO_HINTS
    return NO_HINTS


PARTS = PageParts(
    key="inspections", title=bi("巡检", "Inspections"),
    intro=bi("计划 → 开始 → 逐项记录 → 完成；问题项可开跟进工单。平台巡检由值守中心完成，现场巡检由"
             "驻地工程师完成。",
             "Plan → start → record each item → complete; a problem item may get a "
             "follow-up work order. The duty centre does platform inspections, the "
             "region's engineer site inspections."),
    above=_above, record_extra=_record, hints=_hints)


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The registry's stations in scope, for the schedule of dues; the inspections
    themselves come from the ledger through admin.records (no named query)."""
    return [("station_list", dict(scope_params(scope)))]
