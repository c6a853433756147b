"""The overview page (总览): what runs and what is wrong now, for the user's regions.

Every figure comes from one named query (pipeline/store/queries.py), named in a caption
under it, asked with the user's region scope.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import altair as alt
import streamlit as st

from admin.accounts import User
from dashboards import overview_figures as fig
from dashboards.auth import current_user
from dashboards.data import bucket, fetch
from dashboards.labels import bi, query_caption
from dashboards.scope import Scope, describe, region_scope, scope_params
from dashboards.settings_source import app_settings
from dashboards.widgets import COUNT_AXIS, chart_data, guarded, table
from pipeline.timebase import now_local

#: seconds between the page's own redraws (its figures are at most CACHE_TTL_S old)
REFRESH_S = 60


def render(user: User) -> None:
    st.title(bi("总览", "Overview"))
    live(user)


@st.fragment(run_every=REFRESH_S)
def live(user: User) -> None:
    """The figures, redrawn every REFRESH_S while the page is open (a duty screen stays
    current). A redraw runs only this part, so it checks the sign-in itself: an expired
    or disabled login sends the whole app back to the login form."""
    if current_user() is None:
        st.rerun()
    _figures(user)


def _figures(user: User) -> None:
    dsn = app_settings().clickhouse.dsn
    scope = region_scope(user)
    win = fig.window(bucket(now_local()))
    st.caption(f"{describe(scope)} · {bi('数据时间', 'as of')} "
               f"{win.now:%Y-%m-%d %H:%M:%S} CST · "
               + bi(f"每 {REFRESH_S} 秒自动刷新", f"redrawn every {REFRESH_S} s"))
    if scope is not None and not scope:
        st.warning(bi("您的账号没有服务区域，看不到任何站点。",
                      "Your account has no service region, so no station is shown."))
        return
    params = scope_params(scope)

    def q(name: str, **kw: Any) -> list[dict[str, Any]]:
        return fetch(dsn, name, **kw, **params)

    guarded(user, lambda: _status(q, win))
    guarded(user, lambda: _frames(q, win))
    guarded(user, lambda: _alarms(q))
    guarded(user, lambda: _latest_alarms(q))
    guarded(user, lambda: _efficiency(q, win))
    guarded(user, lambda: _worst(q, win))


Query = Callable[..., list[dict[str, Any]]]


def _status(q: Query, win: fig.Window) -> None:
    rows = q("overview_station_status", since=win.status_since, until=win.now)
    states = fig.station_states(rows, win.now)
    online = sum(s.online for s in states)
    st.subheader(bi("站点在线情况", "Stations online"))
    c1, c2, c3 = st.columns(3)
    c1.metric(bi("站点", "Stations"), len(states))
    c2.metric(bi("在线", "Online"), online)
    c3.metric(bi("离线", "Offline"), len(states) - online)
    st.caption(bi(
        f"在线：最近 {fig.OFFLINE_AFTER_S / 60:g} 分钟（或 3 倍实时数据间隔，取较长者）内收到过"
        "被接受的数据帧，与离线告警的规则相同。",
        f"Online: an accepted frame arrived within the last {fig.OFFLINE_AFTER_S / 60:g} "
        "min (or 3 x the station's RtdInterval, if longer), the offline alarm's rule.")
        + " " + query_caption("overview_station_status"))
    by_region = fig.status_by_region(states)
    offline = fig.offline_table(states)
    with st.expander(bi("按区域", "By region") + f" · {bi('离线站点', 'offline')} "
                     f"{len(offline)}", expanded=False):
        table(by_region)
        if offline:
            table(offline)


def _frames(q: Query, win: fig.Window) -> None:
    rows = q("overview_frames_per_minute", start=win.frames_start, end=win.frames_end)
    accepted, rejected = fig.frames_total(rows)
    st.subheader(bi("每分钟数据帧（近 60 分钟）", "Frames per minute (last 60 min)"))
    series = fig.frames_series(rows, win.frames_start, win.frames_end)
    chart = (
        alt.Chart(chart_data(series))
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("minute:T", title=bi("时间", "time") + " (CST)",
                    axis=alt.Axis(format="%H:%M")),
            y=alt.Y("frames:Q", title=bi("帧/分钟", "frames/min"), axis=COUNT_AXIS),
            color=alt.Color("status:N", title=None,
                            scale=alt.Scale(domain=[fig.ACCEPTED, fig.REJECTED],
                                            range=["#1f77b4", "#d62728"]),
                            legend=alt.Legend(orient="top")),
            tooltip=[alt.Tooltip("minute:T", title=bi("时间", "time"), format="%H:%M"),
                     alt.Tooltip("status:N", title=bi("状态", "status")),
                     alt.Tooltip("frames:Q", title=bi("帧数", "frames"))],
        )
        .interactive(bind_y=False)
    )
    # the height goes to Streamlit: a chart's own height is overridden when it stretches
    st.altair_chart(chart, width="stretch", height=280)
    st.caption(bi(f"{win.frames_start:%H:%M}–{win.frames_end:%H:%M}：接受 {accepted}，"
                  f"拒绝 {rejected}。拖动或滚轮缩放，悬停看数值。",
                  f"{win.frames_start:%H:%M}–{win.frames_end:%H:%M}: {accepted} accepted, "
                  f"{rejected} rejected. Drag or scroll to zoom, hover for values.") + " " +
               query_caption("overview_frames_per_minute"))


def _alarms(q: Query) -> None:
    rows = q("overview_open_alarms")
    st.subheader(bi("未关闭告警", "Open alarms") + f" · {fig.open_alarm_count(rows)}")
    long = fig.alarms_long(rows)
    if not long:
        st.success(bi("当前没有未关闭的告警。", "No alarm is open."))
    else:
        order = list(dict.fromkeys(r["severity"] for r in long))
        chart = (
            alt.Chart(chart_data(long))
            .mark_bar()
            .encode(
                x=alt.X("alarms:Q", title=bi("告警数", "alarms"), axis=COUNT_AXIS),
                y=alt.Y("region:N", title=None, sort="-x",
                        axis=alt.Axis(labelOverlap=False, labelLimit=160)),
                color=alt.Color("severity:N", title=bi("级别", "severity"), sort=order,
                                scale=alt.Scale(domain=order, range=_severity_colors(order)),
                                legend=alt.Legend(orient="top")),
                tooltip=[alt.Tooltip("region:N", title=bi("服务区域", "region")),
                         alt.Tooltip("severity:N", title=bi("级别", "severity")),
                         alt.Tooltip("alarms:Q", title=bi("告警数", "alarms")),
                         alt.Tooltip("stations:Q", title=bi("站点数", "stations"))],
            )
        )
        left, right = st.columns([3, 2])
        left.altair_chart(chart, width="stretch",
                          height=130 + 40 * len({r["region"] for r in long}))
        with right:
            table(fig.alarms_matrix(rows))
    st.caption(bi("按级别与服务区域计数的未关闭告警。", "Open alarm episodes by severity and "
                  "service region.") + " " + query_caption("overview_open_alarms"))


def _severity_colors(order: list[str]) -> list[str]:
    palette = {"严重": "#b2182b", "重要": "#ef8a62", "警告": "#f4c542", "提示": "#67a9cf"}
    return [next((c for k, c in palette.items() if s.startswith(k)), "#999999")
            for s in order]


def _latest_alarms(q: Query) -> None:
    rows = q("overview_latest_open_alarms", limit=fig.LATEST_ALARMS_LIMIT)
    st.subheader(bi("最新告警", "Latest open alarms"))
    shown = fig.latest_alarms_table(rows)
    if not shown:
        st.write(bi("无", "None"))
    else:
        table(shown)
    st.caption(bi(f"最近开始且仍未关闭的 {fig.LATEST_ALARMS_LIMIT} 条告警。",
                  f"The {fig.LATEST_ALARMS_LIMIT} most recently opened alarms still open.")
               + " " + query_caption("overview_latest_open_alarms"))


def _efficiency(q: Query, win: fig.Window) -> None:
    st.subheader(bi("今日传输有效率（按服务区域）", "Today's transmission-efficiency by region"))
    if win.hours == 0:
        st.info(bi("今天还没有完整的小时，0 点后第一个整点起显示。",
                   "No whole hour has passed today yet; figures appear after 01:00."))
        return
    rows = q("overview_efficiency_by_region", start=win.day_start, end=win.hours_end,
             hours=win.hours)
    shown = fig.efficiency_table(rows)
    if not shown:
        st.write(bi("无站点", "No station"))
    else:
        chart = (
            alt.Chart(chart_data(shown))
            .mark_bar()
            .encode(
                x=alt.X("transmission_efficiency:Q", title=bi("传输有效率 %", "efficiency %"),
                        scale=alt.Scale(domain=[0, 100])),
                y=alt.Y("region:N", title=None, sort="x",
                        axis=alt.Axis(labelOverlap=False, labelLimit=160)),
                color=alt.Color("transmission_efficiency:Q", legend=None,
                                scale=alt.Scale(domain=[0, 90, 100],
                                                range=["#d62728", "#f4c542", "#2ca02c"])),
                tooltip=[alt.Tooltip("region:N", title=bi("服务区域", "region")),
                         alt.Tooltip("transmission_rate:Q", title=bi("传输率 %", "rate %"),
                                     format=".1f"),
                         alt.Tooltip("validity_rate:Q", title=bi("有效率 %", "validity %"),
                                     format=".1f"),
                         alt.Tooltip("transmission_efficiency:Q",
                                     title=bi("传输有效率 %", "efficiency %"), format=".1f"),
                         alt.Tooltip("stations:Q", title=bi("站点", "stations"))],
            )
        )
        st.altair_chart(chart, width="stretch", height=70 + 36 * len(shown))
        table(shown)
    st.caption(bi(
        f"今日 00:00 至 {win.hours_end:%H:%M} 的 {win.hours} 个整点小时，分钟数据（2051）。"
        "传输率 = 收到/应收，有效率 = 有效/收到，传输有效率 = 两者之积；无数据的小时按未收到计。",
        f"The {win.hours} whole hours of today up to {win.hours_end:%H:%M}, minute records "
        "(2051). Rate = received / expected, validity = valid / received, efficiency = "
        "their product; an hour with no data counts as nothing received.")
        + " " + query_caption("overview_efficiency_by_region"))


def _worst(q: Query, win: fig.Window) -> None:
    st.subheader(bi("今日传输有效率最低的站点", "Worst stations today"))
    if win.hours == 0:
        st.info(bi("今天还没有完整的小时。", "No whole hour has passed today yet."))
        return
    rows = q("overview_worst_stations", start=win.day_start, end=win.hours_end,
             hours=win.hours, limit=fig.WORST_LIMIT)
    shown = fig.worst_table(rows)
    if not shown:
        st.write(bi("无站点", "No station"))
    else:
        table(shown)
    st.caption(bi(f"传输有效率最低的 {fig.WORST_LIMIT} 个站点，计法同上。",
                  f"The {fig.WORST_LIMIT} stations with the lowest efficiency, counted as "
                  "above.") + " " + query_caption("overview_worst_stations"))



def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The named queries (with parameters) the overview asks at ``now`` for ``scope``,
    as _figures asks them (benchmarks/dashboards.py times them); ``mn`` and
    ``enterprise`` are not used here."""
    win = fig.window(now)
    params = scope_params(scope)
    out: list[tuple[str, dict[str, Any]]] = [
        ("overview_station_status", {"since": win.status_since, "until": win.now}),
        ("overview_frames_per_minute", {"start": win.frames_start, "end": win.frames_end}),
        ("overview_open_alarms", {}),
        ("overview_latest_open_alarms", {"limit": fig.LATEST_ALARMS_LIMIT}),
    ]
    if win.hours:
        day = {"start": win.day_start, "end": win.hours_end, "hours": win.hours}
        out += [("overview_efficiency_by_region", day),
                ("overview_worst_stations", {**day, "limit": fig.WORST_LIMIT})]
    return [(name, {**kw, **params}) for name, kw in out]
