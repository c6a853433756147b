"""The app's pages, who may open each, and the check every page makes on the server.

A page is listed here once; ``app.py`` gives ``st.navigation`` only the pages a user's
roles allow, and each page script starts with ``guard(key)``, which checks again: a URL
typed by hand, a stale browser tab or a role taken away since the menu was drawn all
end in the same refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import streamlit as st

from admin.accounts import Role, User
from dashboards.auth import current_user
from dashboards.labels import bi

HERE: Final = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class PageSpec:
    key: str  # also the page's URL path
    script: str  # relative to dashboards/
    title: str
    icon: str
    section: str
    roles: tuple[Role, ...] = ()  # who may open it; () = every signed-in user

    @property
    def path(self) -> Path:
        return HERE / self.script

    def allows(self, user: User) -> bool:
        return user.has(*self.roles)


ANALYSIS: Final = bi("分析", "Analysis")

REPORTS: Final = bi("报告", "Reports")
DUTY: Final = bi("值守中心", "Duty centre")
SERVICE: Final = bi("服务记录", "Service records")

#: who works the duty desk; analysts and quality read it too, acting is checked per action
DUTY_ROLES: Final = (Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR, Role.FIELD_ENGINEER,
                     Role.QUALITY, Role.ANALYST, Role.ADMIN)

#: who reads the weekly report: those who send it to enterprises, and check it
REPORT_ROLES: Final = (Role.ANALYST, Role.QUALITY, Role.DUTY_SUPERVISOR, Role.FIELD_ENGINEER,
                       Role.ADMIN)

# Service records (admin/records.py). Every role reads work orders; a field engineer sees
# only his regions' records on every page (admin.records scopes the lists).
#: who keeps inspections: the duty centre plans them and does the platform ones,
#: engineers the site ones, quality reads findings
INSPECTION_ROLES: Final = (Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR, Role.FIELD_ENGINEER,
                           Role.QUALITY, Role.ADMIN)
#: who calls customers back (desk, quality) and whose work is visited (engineers)
VISIT_ROLES: Final = (Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR, Role.FIELD_ENGINEER,
                      Role.QUALITY, Role.ADMIN)
#: the desk receives complaints and replies, quality investigates and closes
COMPLAINT_ROLES: Final = (Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR, Role.QUALITY, Role.ADMIN)
#: the supervisor opens and closes the 365 service; the desk registers enterprises
SUBSCRIPTION_ROLES: Final = (Role.DUTY_SUPERVISOR, Role.DUTY_OPERATOR, Role.ADMIN)

# A page with key K is the script views/K.py, which calls guard(K) and then
# dashboards/K_page.py's render(user); K_page.py also lists its default view's queries
# (calls), which benchmarks/dashboards.py times.
PAGES: Final[tuple[PageSpec, ...]] = (
    PageSpec("overview", "views/overview.py", bi("总览", "Overview"), ":material/dashboard:",
             ANALYSIS),
    PageSpec("completeness", "views/completeness.py", bi("传输有效率", "Completeness"),
             ":material/rule:", ANALYSIS),
    PageSpec("station", "views/station.py", bi("站点", "Station"), ":material/sensors:",
             ANALYSIS),
    PageSpec("anomalies", "views/anomalies.py", bi("异常统计", "Anomalies"),
             ":material/warning:", ANALYSIS),
    PageSpec("missing", "views/missing.py", bi("缺失统计", "Missing data"),
             ":material/data_alert:", ANALYSIS),
    PageSpec("duty", "views/duty.py", bi("值守台", "Duty desk"), ":material/support_agent:",
             DUTY, DUTY_ROLES),
    PageSpec("report", "views/report.py", bi("周报", "Weekly report"),
             ":material/summarize:", REPORTS, REPORT_ROLES),
    PageSpec("orders", "views/orders.py", bi("运维工单", "Work orders"),
             ":material/engineering:", SERVICE),
    PageSpec("inspections", "views/inspections.py", bi("巡检", "Inspections"),
             ":material/checklist:", SERVICE, INSPECTION_ROLES),
    PageSpec("visits", "views/visits.py", bi("回访", "Return visits"),
             ":material/phone_callback:", SERVICE, VISIT_ROLES),
    PageSpec("complaints", "views/complaints.py", bi("投诉", "Complaints"),
             ":material/feedback:", SERVICE, COMPLAINT_ROLES),
    PageSpec("subscriptions", "views/subscriptions.py", bi("365服务", "365 service"),
             ":material/workspace_premium:", SERVICE, SUBSCRIPTION_ROLES),
    PageSpec("quality", "views/quality.py", bi("质量考核", "Quality figures"),
             ":material/verified:", SERVICE, (Role.QUALITY, Role.DUTY_SUPERVISOR,
                                              Role.ANALYST, Role.FIELD_ENGINEER,
                                              Role.ADMIN)),
)
BY_KEY: Final = {p.key: p for p in PAGES}


def pages_for(user: User) -> list[PageSpec]:
    """The pages ``user`` may open, in menu order."""
    return [p for p in PAGES if p.allows(user)]


def sections_for(user: User) -> dict[str, list[PageSpec]]:
    out: dict[str, list[PageSpec]] = {}
    for page in pages_for(user):
        out.setdefault(page.section, []).append(page)
    return out


NO_ACCESS: Final = bi("您的角色无权查看此页面。", "Your role may not open this page.")
SIGN_IN_FIRST: Final = bi("请先登录。", "Please sign in first.")


def guard(key: str) -> User:
    """The signed-in user when they may open page ``key``; otherwise the page says why
    and stops here, before it reads anything."""
    user = current_user()
    if user is None:
        st.warning(SIGN_IN_FIRST)
        st.stop()
    if not BY_KEY[key].allows(user):
        st.error(NO_ACCESS)
        st.stop()
    return user
