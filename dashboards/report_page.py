"""The weekly report page (周报): pick a week and an enterprise of the user's regions,
read the report as the enterprise will, and download it as HTML or PDF.

The report itself is dashboards/report/ (the same model, HTML and PDF as ``hj212 report
weekly``); its rows come from the report's named queries through dashboards.data.fetch,
asked with the user's region scope and the one enterprise chosen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st
import streamlit.components.v1 as components

from admin.accounts import User
from dashboards.data import bucket, fetch
from dashboards.labels import bi, query_caption
from dashboards.report import handling
from dashboards.report.data import (
    QUERY_NAMES,
    WeeklyReport,
    build_reports,
    fetch_rows,
    percent,
    query_params,
)
from dashboards.report.html import file_name, render_html
from dashboards.report.pdf import PdfUnavailable, check_browser, html_to_pdf
from dashboards.report.week import Week, last_full_week, recent_weeks, week_of
from dashboards.scope import Scope, describe, region_scope, scope_params
from dashboards.settings_source import app_settings
from dashboards.widgets import guarded
from pipeline.timebase import now_local

#: pixels of the preview frame (it scrolls inside)
PREVIEW_HEIGHT = 1100


def render(user: User) -> None:
    st.title(bi("周报", "Weekly report"))
    scope = region_scope(user)
    st.caption(describe(scope))
    if scope is not None and not scope:
        st.warning(bi("您的账号没有服务区域，看不到任何企业。",
                      "Your account has no service region, so no enterprise is shown."))
        return
    guarded(user, lambda: _page(scope))


def _page(scope: Scope) -> None:
    dsn = app_settings().clickhouse.dsn
    params = scope_params(scope)
    now = bucket(now_local())
    enterprises = fetch(dsn, "report_enterprises", **params)
    if not enterprises:
        st.info(bi("您的服务区域内没有在用的站点。", "No active station in your regions."))
        return
    weeks = recent_weeks(now)
    running = week_of(now)
    left, right = st.columns([1, 2])
    week: Week = left.selectbox(
        bi("统计周", "Week"), weeks, index=weeks.index(last_full_week(now)),
        format_func=lambda w: w.label() + ("（进行中 in progress）" if w == running else ""),
        key="report_week")
    regions = {r["enterprise"]: r["regions_of"] for r in enterprises}
    enterprise: str = right.selectbox(
        bi("企业", "Enterprise"), list(regions),
        format_func=lambda e: f"{e}（{regions[e]}）" if regions[e] else e,
        key="report_enterprise")

    def run(name: str, **kw: Any) -> list[dict[str, Any]]:
        return fetch(dsn, name, **kw)

    reports = build_reports(fetch_rows(run, week, now, params, enterprise), week, now)
    if not reports:  # deactivated since the list was read
        st.info(bi("该企业已没有在用的站点。", "This enterprise has no active station now."))
        return
    _show(reports[0])


def _show(report: WeeklyReport) -> None:
    c = report.week_total
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(bi("传输有效率", "Efficiency"), percent(c.efficiency))
    m2.metric(bi("超标小时", "Hours over limit"), report.over_limit_hours)
    m3.metric(bi("异常（已处理）", "Anomalies (handled)"),
              f"{len(report.episodes)} ({report.handled})")
    m4.metric(bi("缺失记录", "Missing records"), c.missing)
    html = render_html(report)
    b1, b2, _ = st.columns([3, 3, 4])
    b1.download_button(bi("下载 HTML", "Download HTML"), html.encode("utf-8"),
                       file_name=file_name(report, ".html"), mime="text/html",
                       icon=":material/download:", key="report_html")
    try:
        check_browser()
    except PdfUnavailable as exc:
        b2.button(bi("下载 PDF", "Download PDF"), disabled=True, key="report_pdf_off",
                  help=str(exc))
    else:
        title = f"{report.enterprise} 周报 {report.week.name}"
        # printed only when asked: a Chromium start costs seconds, the preview none
        b2.download_button(bi("下载 PDF", "Download PDF"),
                           lambda: html_to_pdf(html, title),
                           file_name=file_name(report, ".pdf"), mime="application/pdf",
                           icon=":material/picture_as_pdf:", key="report_pdf")
    st.caption(bi("以下为报告预览，与下载的文件相同。", "The report as the files hold it.")
               + " " + query_caption(*QUERY_NAMES, "report_actions"))
    components.html(html, height=PREVIEW_HEIGHT, scrolling=True)


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The named queries (with parameters) this page's default view asks: the
    enterprises in scope, then the last full week's report of ``enterprise`` (the page's
    default is the first enterprise of the list; ``mn`` is not used)."""
    now = bucket(now)
    params = scope_params(scope)
    week = last_full_week(now)
    return [("report_enterprises", dict(params)),
            *query_params(week, now, params, enterprise),
            ("report_actions", handling.params(week, {"enterprise": enterprise, **params}))]
