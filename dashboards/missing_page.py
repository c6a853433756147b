"""The missing-data statistics page (缺失统计): per enterprise or station and day, week or
month of a date range, records expected, received, missing (expected - received, as the
weekly report counts it), back-filled and unfilled in gaps; the gaps with their back-fill
outcome, counted by outcome; every table as CSV or Excel.

Three named queries (pipeline/store/queries_missing.py), asked with the user's region
scope; the tables are shaped in dashboards/missing_figures.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import altair as alt
import streamlit as st

from admin.accounts import User
from dashboards import export
from dashboards import missing_figures as fig
from dashboards.labels import bi, query_caption
from dashboards.scope import Scope, scope_params
from dashboards.widgets import COUNT_AXIS, HEADERS, chart_data, guarded, page_start, table

#: rows of the per-period table drawn on the page (the downloads hold all of them)
SHOWN_ROWS = 60
#: gaps drawn on the page
SHOWN_GAPS = 100

Query = Callable[..., list[dict[str, Any]]]


def render(user: User) -> None:
    page = page_start(bi("缺失统计", "Missing-data statistics"), user)
    if page is None:
        return
    now, q = page.now, page.q
    rng, grain, level = _controls(now)
    st.caption(fig.DEFINITIONS)
    if rng.days == 0:
        st.info(bi(f"{rng.label} 还没有已结束的时段可计。",
                   f"{rng.label} has no whole period to count yet."))
        return

    guarded(user, lambda: _periods(q, rng, grain, level))
    guarded(user, lambda: _outcomes(q, rng))
    guarded(user, lambda: _gaps(q, rng))


def _controls(now: datetime) -> tuple[fig.Range, str, str]:
    c1, c2, c3 = st.columns([2, 2, 2])
    first, last = fig.default_dates(now)
    picked = c1.date_input(bi("日期范围", "Dates"), value=(first, last), max_value=now.date(),
                           key="missing_dates")
    # while a range is being picked the widget holds its first day only
    days = [d for d in (picked if isinstance(picked, tuple | list) else (picked,))
            if isinstance(d, date)]
    if days:
        first, last = days[0], days[-1]
    grain = c2.radio(bi("按", "By"), list(fig.GRAINS), format_func=fig.GRAINS.get,
                     horizontal=True, key="missing_grain")
    level = c3.radio(bi("层级", "Level"), list(fig.LEVELS), format_func=fig.LEVELS.get,
                     horizontal=True, index=1, key="missing_level")
    cn = st.radio(bi("数据类型", "Data type"), list(fig.CNS), format_func=fig.CNS.get,
                  horizontal=True, key="missing_cn")
    return fig.date_range(first, last, now, int(cn)), str(grain), str(level)


def _downloads(rows: fig.Table, name: str, level: str, rng: fig.Range, sheet: str) -> None:
    headers = {**HEADERS, **fig.HEADERS}
    c1, c2, _ = st.columns([1, 1, 2])
    stem = (name, f"{level}-{rng.cn}", rng.label)
    c1.download_button(bi("下载 CSV", "Download CSV"),
                       export.to_csv(rows, headers, fig.PERCENT),
                       file_name=export.file_name(*stem, "csv"), mime=export.CSV_MIME,
                       key=f"{name}_csv")
    c2.download_button(bi("下载 Excel", "Download Excel"),
                       export.to_xlsx(rows, headers, fig.PERCENT, sheet=sheet),
                       file_name=export.file_name(*stem, "xlsx"), mime=export.XLSX_MIME,
                       key=f"{name}_xlsx")


def _periods(q: Query, rng: fig.Range, grain: str, level: str) -> None:
    stations = fig.station_table(
        q("missing_station_periods", start=rng.start, end=rng.end, days=rng.days, cn=rng.cn,
          grain=grain), grain)
    total = fig.totals(stations)
    st.subheader(bi(f"{rng.label} 缺失统计", f"{rng.label} missing data"))
    # two rows, two stories: what should have come and did not; the recorded gaps and
    # their back-fill (seven in one row cut the labels short)
    cols = st.columns(4)
    cols[0].metric(bi("应收", "Expected"), f"{total['expected']:,}")
    cols[1].metric(bi("收到", "Received"), f"{total['received']:,}")
    cols[2].metric(bi("缺失", "Missing"), f"{total['missing']:,}")
    cols[3].metric(bi("缺失率", "Missing rate"), f"{fig.missing_rate(total):.1f}%")
    cols = st.columns(4)
    cols[0].metric(bi("缺失段", "Gaps"), f"{total['gaps']:,}")
    cols[1].metric(bi("补传", "Back-filled"), f"{total['backfilled']:,}")
    cols[2].metric(bi("缺口内未补", "Unfilled in gaps"), f"{total['unfilled']:,}")
    st.caption(f"{rng.start:%Y-%m-%d %H:%M} – {rng.end:%Y-%m-%d %H:%M} · {fig.CNS[rng.cn]}")
    rows = fig.level_table(stations, level)
    if not rows:
        st.write(bi("无站点", "No station"))
        return
    st.markdown(f"**{fig.LEVELS[level]} · {fig.GRAINS[grain]}** ({len(rows)})")
    table(rows[:SHOWN_ROWS], fig.HEADERS, fig.PERCENT)
    if len(rows) > SHOWN_ROWS:
        st.caption(bi(f"显示前 {SHOWN_ROWS} 行，下载文件含全部 {len(rows)} 行。",
                      f"The first {SHOWN_ROWS} rows; the downloads hold all {len(rows)}."))
    _downloads(rows, "missing", level, rng, "缺失统计")
    st.caption(bi("缺失 = 应收 − 收到；缺失率 = 缺失 / 应收；"
                  "缺口内未补只计记为缺失段且未补齐的记录。",
                  "Missing = expected - received; missing rate = missing / expected; "
                  "unfilled in gaps counts only records of recorded gaps not filled.")
               + " " + query_caption("missing_station_periods"))


def _outcomes(q: Query, rng: fig.Range) -> None:
    rows = fig.outcomes_table(q("missing_outcomes", start=rng.start, end=rng.end, cn=rng.cn))
    st.subheader(bi("缺失段补传结果", "Gaps by back-fill outcome"))
    if not rows:
        st.success(bi("所选范围内没有缺失段。", "No gap in the range."))
    else:
        order = [r["state"] for r in rows]
        chart = (
            alt.Chart(chart_data(rows))
            .mark_bar()
            .encode(
                x=alt.X("gaps:Q", title=bi("缺失段", "gaps"), axis=COUNT_AXIS),
                y=alt.Y("state:N", title=None, sort=order,
                        axis=alt.Axis(labelLimit=200, labelOverlap=False)),
                color=alt.Color("state:N", legend=None, sort=order,
                                scale=alt.Scale(domain=order, range=_state_colors(order))),
                tooltip=[alt.Tooltip("state:N", title=bi("补传结果", "outcome")),
                         alt.Tooltip("gaps:Q", title=bi("缺失段", "gaps")),
                         alt.Tooltip("stations:Q", title=bi("站点", "stations")),
                         alt.Tooltip("expected:Q", title=bi("应收", "expected")),
                         alt.Tooltip("received:Q", title=bi("收到", "received")),
                         alt.Tooltip("backfilled:Q", title=bi("补传", "back-filled")),
                         alt.Tooltip("unfilled:Q",
                                     title=bi("缺口内未补", "unfilled in gaps"))],
            )
        )
        left, right = st.columns([2, 3])
        left.altair_chart(chart, width="stretch", height=70 + 34 * len(rows))
        with right:
            table(rows, fig.HEADERS)
    st.caption(bi("缺失段按补传结果计数；应收、收到、缺口内未补为缺失段自身的记录数。",
                  "Gaps counted by outcome; expected, received and unfilled are the gaps' "
                  "own records.")
               + " " + query_caption("missing_outcomes"))


def _state_colors(order: list[str]) -> list[str]:
    palette = {fig.STATES["open"]: "#d62728", fig.STATES["requested"]: "#f4c542",
               fig.STATES["partly_filled"]: "#ff9f40", fig.STATES["filled"]: "#2ca02c",
               fig.STATES["given_up"]: "#7f7f7f"}
    return [palette.get(s, "#999999") for s in order]


def _gaps(q: Query, rng: fig.Range) -> None:
    rows = fig.gaps_table(q("missing_gaps", start=rng.start, end=rng.end, cn=rng.cn,
                            limit=fig.GAPS_LIMIT))
    st.subheader(bi("缺失段", "Gaps") + f" · {len(rows)}")
    if not rows:
        st.write(bi("无", "None"))
        return
    table(rows[:SHOWN_GAPS], fig.HEADERS)
    _downloads(rows, "missing-gaps", "station", rng, "缺失段")
    st.caption(bi(f"最新在前，最多 {fig.GAPS_LIMIT} 段（页面显示 {min(SHOWN_GAPS, len(rows))} 段，"
                  "下载含全部）。",
                  f"Newest first, at most {fig.GAPS_LIMIT} (the page shows "
                  f"{min(SHOWN_GAPS, len(rows))}; the downloads hold them all).")
               + " " + query_caption("missing_gaps"))


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The named queries (with parameters) of the default view (the last seven days by
    day, minute records), as render asks them; ``mn`` and ``enterprise`` are not used."""
    rng = fig.date_range(*fig.default_dates(now), now, 2051)
    params = scope_params(scope)
    span = {"start": rng.start, "end": rng.end, "cn": rng.cn}
    return [
        ("missing_station_periods", {**span, "days": rng.days, "grain": "day", **params}),
        ("missing_outcomes", {**span, **params}),
        ("missing_gaps", {**span, "limit": fig.GAPS_LIMIT, **params}),
    ]
