"""投诉 Complaints: received → investigated → corrective and preventive action (纠正预防
措施) → reply to the customer → closed, with reopen; the list with filters, one complaint
with its history and the forms its state offers. Reads and acts through
admin/records.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from admin.accounts import User
from admin.records import Records
from dashboards.labels import bi
from dashboards.records_widgets import PageParts, render_records
from dashboards.scope import Scope
from dashboards.widgets import PageContext


def render(user: User) -> None:
    render_records(user, PARTS)


def _above(page: PageContext, records: Records, states: list[Any]) -> None:
    today = page.now.date()
    open_ = [s for s in states if s.state != "closed"]
    late = [s for s in open_ if getattr(s, "capa_due", None) is not None
            and s.capa_due < today]
    m1, m2, m3 = st.columns(3)
    m1.metric(bi("未关闭", "Open"), len(open_))
    m2.metric(bi("纠正预防措施逾期", "Actions overdue"), len(late))
    m3.metric(bi("本月受理", "Received this month"),
              sum(1 for s in states if s.opened_at is not None
                  and (s.opened_at.year, s.opened_at.month) == (today.year, today.month)))


PARTS = PageParts(
    key="complaints", title=bi("投诉", "Complaints"),
    intro=bi("受理 → 调查 → 纠正预防措施 → 答复客户 → 关闭；值守台受理和答复，质量管理组调查、"
             "制定措施并关闭。",
             "Received → investigated → corrective and preventive action → reply → closed; "
             "the duty desk receives and replies, quality investigates, sets the actions "
             "and closes."),
    above=_above)


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """None: the page reads the complaints from the ledger through admin.records
    (ledger_events), not through a named query."""
    return []
