"""365服务 Subscriptions (企业环保365服务): each enterprise's service (registered, trial,
active, expiring, lapsed), the renewal reminders due, and one subscription with its
history and the forms its state offers (register, contract review, open, renew, change
stations, lapse). Reads and acts through admin/records.py; opening carries the stability
evidence the system computes (admin/subscription_hooks.py), never typed in."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import streamlit as st

from admin import subscriptions as sub
from admin.accounts import User
from admin.records import Records
from dashboards import records_figures as fig
from dashboards.labels import bi
from dashboards.records_widgets import PageParts, render_records
from dashboards.scope import Scope
from dashboards.widgets import PageContext, table

REMINDER_HEADERS = {"enterprise": "企业 enterprise", "region": "服务区域 region",
                    "contract_no": "合同编号 contract", "end": "到期日 ends",
                    "days_before": "提前天数 days before", "trial": "试用 trial",
                    "sales": "销售 sales"}


def render(user: User) -> None:
    render_records(user, PARTS)


def _above(page: PageContext, records: Records, states: list[Any]) -> None:
    today = page.now.date()
    rules = records.service.subscriptions
    status = Counter(sub.status(s, today, rules) for s in states)
    cols = st.columns(len(sub.STATUSES))
    for col, name in zip(cols, sub.STATUSES, strict=True):
        col.metric(sub.STATUS_LABELS[name], status.get(name, 0))
    due = sub.renewal_reminders(states, today, rules)
    st.markdown("**" + bi("续约提醒", "Renewal reminders") + f" · {today:%Y-%m-%d}**")
    if not due:
        st.caption(bi("今天没有到期提醒。", "No renewal reminder is due today."))
    else:
        table([{"enterprise": r.enterprise, "region": r.region, "contract_no": r.contract_no,
                "end": r.end.isoformat(), "days_before": r.days_before,
                "trial": "是 yes" if r.trial else "否 no", "sales": r.sales or fig.NONE}
               for r in due], REMINDER_HEADERS)
    st.caption(bi(f"到期前 {'、'.join(str(d) for d in rules.remind_days)} 天提醒；"
                  f"开通需合同评审通过，且最近 {rules.stable_days} 天传输有效率不低于 "
                  f"{rules.stable_efficiency:.0%}（系统检查）。",
                  f"Reminded {', '.join(str(d) for d in rules.remind_days)} days before the "
                  "end date; opening needs a passed contract review and a transmission "
                  f"efficiency of at least {rules.stable_efficiency:.0%} on each of the "
                  f"last {rules.stable_days} days (checked by the system)."))


def _new_id(payload: Mapping[str, Any]) -> str:
    # one subscription per enterprise: its record id is the enterprise's name
    return str(payload.get("enterprise", "")).strip()


PARTS = PageParts(
    key="subscriptions", title=bi("365服务", "365-service subscriptions"),
    intro=bi("每家企业一条服务记录：登记 → 合同评审 → 开通（试用/正式）→ 续约或停止。",
             "One record per enterprise: register → contract review → open (trial or "
             "active) → renew or lapse."),
    above=_above, new_id=_new_id)


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """None: the page reads the subscriptions from the ledger through admin.records
    (ledger_events), not through a named query."""
    return []
