"""质量考核 Quality figures (issue 12 item 7): per service region or engineer and month,
the on-time first contact, response and arrival, the return-visit rate, satisfaction,
complaints, SLA breaches and inspections done; the subcontractor's monthly score with its
breakdown and the fee it earns, by the rules of the service settings file.

Reading: the service records' event log (ledger_events) through ``admin.records`` and
``admin.quality_facts.load_facts``, not a named query: the figures are derived from the
append-only histories by the same pure rules the CLI and the SLA watch use. The facts of
every region are read once per cache period and shared by the sessions; each user's
figures are then counted from the facts of the regions they see only
(``User.sees_region``), so a field engineer's page never holds another region's number.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import altair as alt
import streamlit as st

from admin import quality as q
from admin.accounts import User
from admin.duty_actions import LedgerSubmitter
from admin.quality_facts import Facts, load_facts
from admin.records import Records
from admin.service_settings import ServiceSettings
from dashboards import export, records_widgets
from dashboards import quality_figures as fig
from dashboards.data import CACHE_TTL_S
from dashboards.labels import bi
from dashboards.scope import Scope
from dashboards.widgets import PageContext, chart_data, page_start, table
from pipeline.logs import get_logger
from pipeline.registry.model import REGIONS

log = get_logger("dashboards.quality")

TITLE: Final = bi("质量考核", "Quality figures")
SOURCE: Final = (bi("数据来源", "source") + ": " + bi("服务记录事件日志", "the service records' "
                 "event log") + " `ledger_events` (admin/records.py, admin/quality_facts.py)")
SETTINGS_BROKEN: Final = bi("服务记录的设置文件有误，考核规则无法读取，请联系管理员。",
                            "The service records' settings file is wrong, so the scoring "
                            "rules cannot be read; tell an administrator.")
MONTH_KEY: Final = "quality_month"
BY_KEY: Final = "quality_by"


# --- what the page reads through; unit tests put stand-ins here -------------------------

# every service-record page's (dashboards/records_widgets.py): the duty desk's ledger
# client (Records needs a submitter; this page only reads), ClickHouse with the app's
# timeouts, the service settings file read once. Bound to names of this module, so a test
# replaces them for this page alone.
ledger: Callable[[], LedgerSubmitter] = records_widgets.ledger
connect: Callable[[str], Any] = records_widgets.connect
service: Callable[[], ServiceSettings] = records_widgets.service


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False, max_entries=8)
def _facts(dsn: str, now: datetime) -> Facts:
    """Every region's facts at ``now`` (the page's rounded now, so reruns and sessions
    share one read per cache period); narrowed to the user's regions by the caller."""
    conn = connect(dsn)
    try:
        records = Records(ledger(), conn, service(), cache=records_widgets.shared_cache(dsn))
        return load_facts(records, now)
    finally:
        conn.close()


# --- the page ---------------------------------------------------------------------------


def render(user: User) -> None:
    page = page_start(TITLE, user)
    if page is None:
        return
    st.caption(bi("每月按服务区域或工程师统计的服务质量，及分包商月度考核得分与应付费用；"
                  "全部由工单、回访、投诉、巡检的历史记录计算，不手工录入。",
                  "The month's service quality per region or engineer, and the "
                  "subcontractors' monthly score and the fee it earns; all computed from "
                  "the histories of work orders, return visits, complaints and "
                  "inspections, never typed in."))
    options = fig.month_options(page.now)
    c1, c2 = st.columns([1, 2])
    month = c1.selectbox(bi("月份", "month"), options,
                         index=options.index(fig.default_month(page.now)),
                         format_func=lambda m: fig.month_label(m, page.now), key=MONTH_KEY)
    by = c2.radio(bi("分组", "group by"), list(q.GROUPINGS), horizontal=True,
                  format_func=lambda b: fig.GROUP_LABELS[b], key=BY_KEY)
    records_widgets.guarded_records(user, lambda: _body(page, str(month), str(by)),
                                    settings_broken=SETTINGS_BROKEN,
                                    event="quality.read_failed")


def _body(page: PageContext, month: str, by: str) -> None:
    settings = service()
    user = page.user
    facts = fig.scoped(_facts(page.dsn, page.now), user.sees_region)
    regions = fig.regions_seen(REGIONS, user.sees_region)
    region_rows = fig.month_rows(facts, month, q.BY_REGION, page.now, groups=regions)
    rows = region_rows if by == q.BY_REGION else fig.month_rows(facts, month, by, page.now)
    if fig.in_progress(month, page.now):
        st.info(bi(f"{month} 尚未结束：只计已到期的事项，未到期的不算迟。",
                   f"{month} is not over: only what has fallen due is counted; what is not "
                   "due yet is not counted late."))
    _figures(page, month, by, rows)
    _chart(rows)
    _subcontractors(settings, region_rows, user)


def _figures(page: PageContext, month: str, by: str, rows: list[q.QualityRow]) -> None:
    st.subheader(bi("考核指标", "Figures") + f" · {month} · {fig.GROUP_LABELS[by]}")
    shown = fig.with_total(rows, month)
    if not shown:
        st.info(bi("该月没有可统计的服务记录。", "No service record counts in this month."))
    else:
        table(fig.shown_rows(shown), fig.headers(by), percent=frozenset())
    st.caption(bi(
        "按时率 = 按时 / 应计（括号内）；“—” 表示本月无应计。每个时限只计一次：按时完成的计入"
        "完成当月，超时或未完成的计入到期当月。回访率、巡检完成率按到期日所在月；满意度为当月完成"
        "回访的平均分（括号内为评分数）；超时为当月开立工单的全部超时时限。",
        "Rate = on time / counted (in brackets); \"—\": nothing counted this month. Each "
        "SLA clock counts once: in the month it was met when on time, in the month it fell "
        "due when late or missed. Return visits and inspections count in the month they "
        "fall due; satisfaction is the mean score of the visits done in the month (number "
        "of scores in brackets); SLA breaches are all breached clocks of the orders opened "
        "in the month.") + " " + SOURCE)
    csv, headers = fig.csv_rows(shown, month, by)
    pct = fig.RATE_COLUMNS
    stem = ("quality", by, month)
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button(bi("下载 CSV", "Download CSV"), export.to_csv(csv, headers, pct),
                       file_name=export.file_name(*stem, "csv"), mime=export.CSV_MIME,
                       key="quality_csv")
    c2.download_button(bi("下载 Excel", "Download Excel"),
                       export.to_xlsx(csv, headers, pct, sheet="质量考核"),
                       file_name=export.file_name(*stem, "xlsx"), mime=export.XLSX_MIME,
                       key="quality_xlsx")


def _chart(rows: list[q.QualityRow]) -> None:
    st.subheader(bi("按时率", "On-time rates"))
    long = fig.chart_rows(rows)
    if not long:
        st.caption(bi("本月没有应计的时限。", "No SLA clock counted this month.") + " "
                   + SOURCE)
        return
    order = [q.FIGURE_LABELS[k] for k in fig.CHART_RATES]
    groups = list(dict.fromkeys(r["group"] for r in long))
    chart = (
        alt.Chart(chart_data(long)).mark_bar()
        .encode(x=alt.X("group:N", title=None, sort=groups,
                        axis=alt.Axis(labelAngle=0, labelLimit=200)),
                xOffset=alt.XOffset("figure:N", sort=order),
                y=alt.Y("rate:Q", title=bi("按时率", "on time") + " %",
                        scale=alt.Scale(domain=[0, 100])),
                color=alt.Color("figure:N", title=None, sort=order,
                                scale=alt.Scale(domain=order, range=list(fig.CHART_COLORS)),
                                legend=alt.Legend(orient="top", labelLimit=300)),
                tooltip=[alt.Tooltip("group:N", title=bi("分组", "group")),
                         alt.Tooltip("figure:N", title=bi("指标", "figure")),
                         alt.Tooltip("rate:Q", title="%", format=".1f"),
                         alt.Tooltip("on_time:Q", title=bi("按时", "on time")),
                         alt.Tooltip("counted:Q", title=bi("应计", "counted"))])
        .add_params(alt.selection_point(fields=["figure"], bind="legend"))
        .interactive(bind_x=False)
    )
    st.altair_chart(chart, width="stretch", height=300)
    st.caption(bi("首次联系（每张工单）、响应与到场（停机故障）的按时率；无应计的不画。",
                  "On time: first contact (every order), response and arrival (faults that "
                  "stop a system); a group with nothing counted is not drawn.") + " " + SOURCE)


def _subcontractors(settings: ServiceSettings, region_rows: list[q.QualityRow],
                    user: User) -> None:
    rules = settings.quality
    st.subheader(bi("分包商月度考核", "Subcontractor monthly score"))
    shown, hidden = fig.visible_subcontractors(rules, user.sees_region)
    scores = q.subcontractor_scores(region_rows, fig.only(rules, shown))
    views = fig.subcontractor_views(scores, rules)
    if not rules.subcontractors:
        st.info(bi("设置文件中没有分包商。", "The settings file names no subcontractor."))
    elif not views:
        st.info(bi("您的服务区域没有完整由您可见的分包商。",
                   "No subcontractor serves only regions you see."))
    else:
        table(fig.subcontractor_table(views), fig.SUBCONTRACTOR_HEADERS, percent=frozenset())
        for v in views:
            st.markdown(f"**{v.name}** · {'、'.join(v.regions)} · "
                        f"{bi('得分', 'score')} **{fig.points(v.score)}** · {v.band_label} · "
                        f"{bi('应付', 'fee')} **{fig.money(v.fee)}** / {fig.money(v.monthly_fee)}")
            table(v.breakdown, fig.SCORE_HEADERS, percent=frozenset())
    if hidden:
        st.caption(bi(f"未显示（服务区域超出您的范围）：{'、'.join(hidden)}",
                      f"Not shown (they serve regions outside yours): {', '.join(hidden)}"))
    st.caption(bi("每项得分 = 满分 × min(1, 实际/目标)，无应计的得满分；再减投诉与超时扣分，"
                  "限 0–100 分。多区域的分包商按各区域合计的次数计算。",
                  "Each figure earns points × min(1, value / target), full points when "
                  "nothing was counted; minus the deductions, kept to 0-100. A subcontractor "
                  "of several regions is scored on their counts added together.") + " "
               + SOURCE)
    with st.expander(bi("考核规则（设置文件）", "Scoring rules (settings file)")):
        # the subcontractors not shown stay out of the rules too (their regions and fee)
        table(fig.rules_rows(fig.only(rules, shown), settings.where), fig.RULE_HEADERS,
              percent=frozenset())


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """None: the page reads the service records from the ledger (ledger_events) through
    admin.records and admin.quality_facts, not through a named query."""
    return []
