"""The completeness page (传输有效率): transmission rate, validity rate and
transmission-efficiency per service region, enterprise and station, for a day or a month,
ranked, with the month's days as a chart, a station's days, and the table as CSV or Excel.

Two named queries (pipeline/store/queries_completeness.py), asked with the user's region
scope: the stations over the period, and the stations per day over its month. Every level
and figure of the page is shaped from those two answers (dashboards/completeness_figures.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import altair as alt
import streamlit as st

from admin.accounts import User
from dashboards import completeness_figures as fig
from dashboards import export
from dashboards.labels import bi, query_caption
from dashboards.scope import Scope, scope_params
from dashboards.widgets import HEADERS, PERCENT_COLUMNS, chart_data, guarded, page_start, table

#: rows of the ranking drawn on the page at first (the downloads hold all of them)
SHOWN_ROWS = 50

DEFINITIONS = bi(
    "传输率 = 收到记录数 / 应收记录数（每个时段收到数不超过应收数），"
    "有效率 = 有效记录数 / 收到记录数（标记 N 且在仪器量程内），传输有效率 = 传输率 × 有效率。"
    "应收数按站点的上传间隔与已结束的整点小时（或整日）计，没有数据的时段按未收到计。企业与区域为其站点之和。",
    "Rate = records received / expected (received capped at expected in each period), "
    "validity = valid (flag N, inside the instrument range) / received, efficiency = "
    "rate x validity. Expected counts the station's cadence over the whole hours (or "
    "days) passed; a period without data counts as nothing received. Enterprises and "
    "regions are the sums of their stations.")

Query = Callable[..., list[dict[str, Any]]]


def render(user: User) -> None:
    page = page_start(bi("传输有效率", "Completeness"), user)
    if page is None:
        return
    now, q = page.now, page.q
    period, level = _controls(now)
    st.caption(DEFINITIONS)
    if period.units == 0:
        st.info(bi(f"{period.label} 还没有已结束的整点时段可计。",
                   f"{period.label} has no whole period to count yet."))
        return
    guarded(user, lambda: _ranking(q, period, level))
    guarded(user, lambda: _month(q, period, level, now))


def _controls(now: datetime) -> tuple[fig.Period, str]:
    c1, c2, c3 = st.columns([1, 1, 2])
    kind = c1.radio(bi("时段", "Period"), list(fig.KINDS), format_func=fig.KINDS.get,
                    horizontal=True, key="completeness_kind")
    if kind == "day":
        day = c2.date_input(bi("日期", "Date"), value=fig.default_day(now),
                            max_value=now.date(), key="completeness_day")
        chosen: date = day if isinstance(day, date) else fig.default_day(now)
    else:
        months = fig.recent_months(now)
        chosen = c2.selectbox(bi("月份", "Month"), months,
                              format_func=lambda m: f"{m:%Y-%m}", key="completeness_month")
    level = c3.radio(bi("层级", "Level"), list(fig.LEVELS), format_func=fig.LEVELS.get,
                     horizontal=True, index=2, key="completeness_level")
    basis = st.radio(bi("计算依据", "Counted on"), list(fig.BASES), format_func=fig.BASES.get,
                     horizontal=True, key="completeness_basis")
    period = (fig.day_period(chosen, now, basis) if kind == "day"
              else fig.month_period(chosen, now, basis))
    return period, str(level)


def _stations(q: Query, period: fig.Period) -> fig.Table:
    return fig.station_table(q("completeness_stations", start=period.start, end=period.end,
                               period=period.basis, units=period.units))


def _ranking(q: Query, period: fig.Period, level: str) -> None:
    stations = _stations(q, period)
    total = fig.totals(stations)
    st.subheader(bi(f"{period.label} 传输有效率", f"{period.label} completeness"))
    cols = st.columns(4)
    cols[0].metric(bi("站点", "Stations"), total["stations"])
    cols[1].metric(bi("传输率", "Rate"), f"{total['transmission_rate']:.1f}%")
    cols[2].metric(bi("有效率", "Validity"), f"{total['validity_rate']:.1f}%")
    cols[3].metric(bi("传输有效率", "Efficiency"), f"{total['transmission_efficiency']:.1f}%")
    st.caption(bi(f"{period.start:%Y-%m-%d %H:%M} 至 {period.end:%Y-%m-%d %H:%M} 的 "
                  f"{period.units} 个整{'点小时' if period.basis == 'hour' else '日'}。",
                  f"{period.units} whole {period.basis}s from {period.start:%Y-%m-%d %H:%M} "
                  f"to {period.end:%Y-%m-%d %H:%M}."))
    if not stations:
        st.write(bi("无站点", "No station"))
        return
    c1, c2, c3 = st.columns([2, 1, 1])
    by = c1.selectbox(bi("排序", "Sort by"), list(fig.SORTS),
                      format_func=lambda k: fig.SORTS[str(k)],
                      key="completeness_sort")
    descending = c2.toggle(bi("降序", "Descending"), value=False, key="completeness_desc")
    shown_rows = int(c3.number_input(bi("显示行数", "Rows shown"), min_value=5,
                                     max_value=1000, value=SHOWN_ROWS, step=5,
                                     key="completeness_rows"))
    ranked = fig.rank(fig.aggregate(stations, level), str(by), bool(descending))
    st.markdown(f"**{bi('排名', 'Ranking')} · {fig.LEVELS[level]}** "
                f"({len(ranked)})")
    shown = ranked[:shown_rows]
    if level == "station":
        shown = [{**r, "mn": fig.station_link(r["mn"])} for r in shown]
    table(shown, fig.HEADERS)
    if len(ranked) > shown_rows:
        st.caption(bi(f"显示前 {shown_rows} 行，下载文件含全部 {len(ranked)} 行。",
                      f"The first {shown_rows} rows; the downloads hold all {len(ranked)}."))
    _downloads(ranked, level, period)
    st.caption(bi("默认最差在前；站点 MN 链接到站点页。", "Worst first by default; a station's "
                  "MN opens its station page.") + " " + query_caption("completeness_stations"))


def _downloads(rows: fig.Table, level: str, period: fig.Period) -> None:
    headers = {**HEADERS, **fig.HEADERS}
    c1, c2, _ = st.columns([1, 1, 2])
    stem = ("completeness", f"{level}-{period.basis}", period.label)
    c1.download_button(bi("下载 CSV", "Download CSV"),
                       export.to_csv(rows, headers, PERCENT_COLUMNS),
                       file_name=export.file_name(*stem, "csv"), mime=export.CSV_MIME,
                       key="completeness_csv")
    c2.download_button(bi("下载 Excel", "Download Excel"),
                       export.to_xlsx(rows, headers, PERCENT_COLUMNS, sheet="传输有效率"),
                       file_name=export.file_name(*stem, "xlsx"), mime=export.XLSX_MIME,
                       key="completeness_xlsx")


def _station_days(q: Query, month: fig.Period) -> fig.Table:
    return fig.day_rows(q("completeness_station_days", start=month.start, end=month.end,
                          days=month.days, period=month.basis, mn=""))


def _month(q: Query, period: fig.Period, level: str, now: datetime) -> None:
    month = fig.month_of(period, now)
    days = _station_days(q, month)
    st.subheader(bi(f"{month.label} 每日传输有效率", f"Daily efficiency in {month.label}"))
    series = fig.daily(days, level)
    if not series:
        st.write(bi("无数据", "No data"))
    else:
        # the month's ranking orders the chart: the worst on top
        order = [fig.name_of(r) for r in fig.rank(fig.aggregate(fig.month_totals(days),
                                                                level))]
        _chart(series, order, level)
    st.caption(bi("悬停看数值，拖动或滚轮缩放。", "Hover for values; drag or scroll to zoom.")
               + " " + query_caption("completeness_station_days"))
    _drill_down(days, month, fig.rank(fig.month_totals(days)))


def _chart(series: fig.Table, order: list[str], level: str) -> None:
    tooltip = [alt.Tooltip("day:T", title=bi("日期", "date"), format="%Y-%m-%d"),
               alt.Tooltip("name:N", title=fig.LEVELS[level]),
               alt.Tooltip("transmission_efficiency:Q", title=bi("传输有效率 %", "efficiency %"),
                           format=".1f"),
               alt.Tooltip("transmission_rate:Q", title=bi("传输率 %", "rate %"), format=".1f"),
               alt.Tooltip("validity_rate:Q", title=bi("有效率 %", "validity %"), format=".1f"),
               alt.Tooltip("expected:Q", title=bi("应收", "expected")),
               alt.Tooltip("received:Q", title=bi("收到", "received"))]
    if level == "region":
        rows = fig.chart_rows(series, order)
        pick = alt.selection_point(fields=["name"], bind="legend")
        chart = (
            alt.Chart(chart_data(rows))
            .mark_line(point=True)
            .encode(
                x=alt.X("day:T", title=bi("日期", "date"),
                        axis=alt.Axis(format="%m-%d", tickCount="day")),
                y=alt.Y("transmission_efficiency:Q", title=bi("传输有效率 %", "efficiency %"),
                        scale=alt.Scale(domain=[0, 100])),
                color=alt.Color("name:N", title=fig.LEVELS[level], sort=order,
                                legend=alt.Legend(orient="top")),
                opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
                tooltip=tooltip,
            )
            .add_params(pick)
            .interactive(bind_y=False)
        )
        st.altair_chart(chart, width="stretch", height=320)
        return
    keys = order[:fig.HEATMAP_ROWS]
    rows = fig.chart_rows(series, keys)
    chart = (
        alt.Chart(chart_data(rows))
        .mark_rect()
        .encode(
            x=alt.X("date:O", title=bi("日期", "date"),
                    axis=alt.Axis(labelExpr="slice(datum.value, 5)", labelAngle=0)),
            y=alt.Y("name:N", title=None, sort=keys,
                    axis=alt.Axis(labelLimit=220, labelOverlap=False)),
            color=alt.Color("transmission_efficiency:Q", title=bi("传输有效率 %", "efficiency %"),
                            scale=alt.Scale(domain=[0, 90, 100],
                                            range=["#d62728", "#f4c542", "#2ca02c"])),
            tooltip=[alt.Tooltip("date:N", title=bi("日期", "date")), *tooltip[1:]],
        )
    )
    st.altair_chart(chart, width="stretch", height=90 + 26 * len(keys))
    if len(order) > len(keys):
        st.caption(bi(f"本月最差的 {len(keys)} 个（共 {len(order)} 个）。",
                      f"The month's worst {len(keys)} of {len(order)}."))


def _drill_down(days: fig.Table, month: fig.Period, ranked: list[dict[str, Any]]) -> None:
    st.subheader(bi("站点逐日", "A station's days"))
    if not ranked:
        st.write(bi("无站点", "No station"))
        return
    labels = {r["mn"]: f"{r['mn']} · {r['enterprise']} {r['outlet']} "
              f"({r['transmission_efficiency']:.1f}%)" for r in ranked}
    mn = st.selectbox(bi("站点（本月最差在前）", "Station (the month's worst first)"),
                      list(labels), format_func=lambda k: labels[str(k)],
                      key="completeness_station")
    st.page_link("views/station.py", label=bi(f"打开站点页 {mn}", f"Open the station page {mn}"),
                 icon=":material/sensors:", query_params={"mn": str(mn)})
    rows = fig.station_days(days, str(mn))
    table(rows, fig.HEADERS)
    st.caption(bi(f"{month.label} 每日，计法同上。", f"Each day of {month.label}, counted as "
                  "above.") + " " + query_caption("completeness_station_days"))


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The named queries (with parameters) of the default view (yesterday, counted on
    minute records, its month for the chart), as render asks them; ``mn`` and
    ``enterprise`` are not used here."""
    period = fig.day_period(fig.default_day(now), now, "hour")
    month = fig.month_of(period, now)
    params = scope_params(scope)
    return [
        ("completeness_stations", {"start": period.start, "end": period.end,
                                   "period": period.basis, "units": period.units, **params}),
        ("completeness_station_days", {"start": month.start, "end": month.end,
                                       "days": month.days, "period": month.basis, "mn": "",
                                       **params}),
    ]
