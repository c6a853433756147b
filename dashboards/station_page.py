"""The station page (站点): one station's registry data and limits, the time series of
any pollutant with its limits, flags, alarms and gaps, and the frames it sent, decoded.

The page opens on the station of the address (``station?mn=<MN>``; other pages link
here) or the one picked. Every query names the station and the user's region scope, and
answers nothing for a station outside it (pipeline/store/queries_station.py), so a field
engineer who types another region's MN gets the same refusal as for an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Final

import streamlit as st

from admin.accounts import User
from dashboards import station_figures as fig
from dashboards.data import bucket
from dashboards.labels import bi, query_caption, region_label
from dashboards.scope import Scope, scope_params
from dashboards.widgets import guarded, page_start, table

Query = Callable[..., list[dict[str, Any]]]

REFUSED: Final = bi("无法打开该站点：它不存在，或不在您的服务区域内。",
                    "This station cannot be opened: it does not exist, or it is outside "
                    "your service regions.")
#: pollutants the chart starts on when the station has them (COD, then SO2)
PREFERRED_CODES: Final = ("w01018", "a21026")
DEFAULT_CN: Final = 2051

RANGE_CHOICES: Final = {
    "default": bi("默认", "default"),
    "1h": bi("近 1 小时", "last hour"),
    "6h": bi("近 6 小时", "last 6 h"),
    "24h": bi("近 24 小时", "last 24 h"),
    "7d": bi("近 7 天", "last 7 days"),
    "30d": bi("近 30 天", "last 30 days"),
    "custom": bi("自定义日期", "chosen days"),
}
_SPANS: Final = {"1h": timedelta(hours=1), "6h": timedelta(hours=6),
                 "24h": timedelta(hours=24), "7d": timedelta(days=7),
                 "30d": timedelta(days=30)}
STATUS_CHOICES: Final = {"": bi("全部", "all"), "accepted": bi("接受", "accepted"),
                         "rejected": bi("拒绝", "rejected")}
FRAME_RANGES: Final = {"1h": timedelta(hours=1), "6h": timedelta(hours=6),
                       "24h": timedelta(hours=24), "7d": timedelta(days=7)}


def render(user: User) -> None:
    page = page_start(bi("站点", "Station"), user)
    if page is None:
        return
    now, q = page.now, page.q

    chosen: list[dict[str, Any]] = []
    guarded(user, lambda: chosen.extend(_pick(q)))
    if not chosen:
        return
    info = chosen[0]
    limits: list[dict[str, Any]] = []
    guarded(user, lambda: limits.extend(_registry(q, info)))
    guarded(user, lambda: _series(q, info, limits, now))
    guarded(user, lambda: _frames(q, info, now))


def _pick(q: Query) -> list[dict[str, Any]]:
    """The station to show (its station_info row), or nothing after a refusal or when
    the scope holds no station."""
    stations = q("station_list")
    wanted = st.query_params.get("mn")
    mns = [s["mn"] for s in stations]
    names = {s["mn"]: f"{s['enterprise']} · {s['outlet']} · {s['mn']} · "
                      f"{region_label(s['region'])}" + ("" if s["active"] else " · 停用 inactive")
             for s in stations}
    refused = wanted is not None and wanted not in names
    if refused:
        # the same words for an unknown MN and another region's: nothing about it shows
        st.error(REFUSED)
    if not stations:
        st.info(bi("您的服务区域内没有登记的站点。", "No registered station in your regions."))
        return []
    index = None if refused else (mns.index(wanted) if wanted in names else 0)
    mn = st.selectbox(bi("站点（输入企业、排口或 MN 搜索）", "Station (type an enterprise, "
                         "outlet or MN to search)"), mns, index=index,
                      format_func=lambda m: names[m], key="station_mn",
                      placeholder=bi("选择站点", "choose a station"))
    st.caption(bi(f"您可查看的 {len(stations)} 个站点。", f"{len(stations)} stations in your "
                  "scope.") + " " + query_caption("station_list"))
    if mn is None:
        return []
    if mn != wanted and not refused:
        st.query_params["mn"] = mn  # the address names the station shown: shareable
    info = q("station_info", mn=mn)
    if not info:  # gone from the scope between the two queries
        st.error(REFUSED)
        return []
    return info


def _registry(q: Query, info: dict[str, Any]) -> list[dict[str, Any]]:
    limits = q("station_limits", mn=info["mn"])
    st.subheader(f"{info['enterprise']} · {info['outlet']}")
    left, right = st.columns([2, 3])
    with left:
        st.markdown("**" + bi("登记信息", "Registry") + "**")
        table(fig.info_table(info), {"field": bi("项目", "field"), "value": bi("内容", "value")})
        st.caption(query_caption("station_info"))
    with right:
        st.markdown("**" + bi("限值与量程", "Limits and instrument range") + "**")
        if limits:
            table(fig.limits_table(limits), {
                "code": bi("因子", "pollutant"), "limit_low": bi("排放下限", "limit low"),
                "limit_high": bi("排放上限", "limit high"), "basis": bi("比对值", "basis"),
                "range": bi("量程", "range"), "unit": bi("单位", "unit"),
                "active": bi("启用", "active")})
        else:
            st.write(bi("无限值登记", "No limits registered"))
        st.caption(bi("“—”：不适用。比对值：与排放限值比较的小时值（avg 实测，zs_avg 折算）。",
                      "—: not applicable. Basis: the hourly value compared with the limit "
                      "(avg measured, zs_avg converted).") + " " +
                   query_caption("station_limits"))
    return limits


def _range(key: str, cn: int, now: datetime, choice: str) -> fig.Range:
    if choice == "default":
        return fig.default_range(cn, now)
    if choice in _SPANS:
        end = fig.default_range(cn, now).end
        return fig.Range(end - _SPANS[choice], end)
    today = now.date()
    days = st.date_input(bi("日期范围", "days"), (today - timedelta(days=1), today),
                         max_value=today, key=f"{key}_days")
    first, last = _first_last(days, today)
    return fig.Range(datetime.combine(first, time()),
                     datetime.combine(last, time()) + timedelta(days=1))


def _series(q: Query, info: dict[str, Any], limits: list[dict[str, Any]],
            now: datetime) -> None:
    mn = info["mn"]
    st.subheader(bi("监测数据", "Monitoring data"))
    c1, c2, c3 = st.columns([3, 3, 2])
    cn = c1.radio(bi("数据类型", "data type"), list(fig.CN_LABELS), horizontal=True,
                  index=list(fig.CN_LABELS).index(DEFAULT_CN),
                  format_func=lambda c: fig.CN_LABELS[c], key="station_cn")
    lookback = fig.Range(now - fig.CODES_LOOKBACK, now + timedelta(minutes=1))
    codes = q("station_codes", mn=mn, start=lookback.start, end=lookback.end)
    options = fig.code_options(codes, limits, cn)
    if not options:
        st.info(bi("近 30 天没有该类型的数据，也没有登记限值的因子。",
                   "No record of this type in the last 30 days, and no pollutant with "
                   "limits.") + " " + query_caption("station_codes"))
        return
    first = next((c for c in PREFERRED_CODES if c in options), options[0])
    code = c2.selectbox(bi("监测因子", "pollutant"), options, index=options.index(first),
                        format_func=fig.pollutant_name, key="station_code")
    choice = c3.selectbox(bi("时间范围", "range"), list(RANGE_CHOICES),
                          format_func=lambda k: RANGE_CHOICES[k], key="station_range")
    rng = _range("series", cn, now, choice)
    cadence = fig.cadence_s(cn, info["rtd_interval"], info["min_interval"])
    step = fig.series_step(rng.seconds, cadence)
    rows = q("station_series", mn=mn, cn=cn, code=code, start=rng.start, end=rng.end,
             step=step, limit=fig.MAX_POINTS + 10)
    alarms = q("station_alarms", mn=mn, code=code, start=rng.start, end=rng.end)
    windows = q("station_missing_windows", mn=mn, cn=cn, start=rng.start, end=rng.end)
    width = step if step > 1 else cadence
    series = fig.series_rows(rows)
    flags = fig.flag_spans(rows, width)
    events = fig.alarm_bands(alarms, rng, width) + fig.window_bands(windows, rng, cadence)
    limit = fig.limit_of(limits, code)
    rules = fig.rules_for(limit)
    unit = (limit["unit"] if limit else "") or fig.pollutant_unit(code)
    chart = fig.series_chart(series, flags, events, rules, rng,
                             f"{code} ({unit})" if unit else code)
    st.altair_chart(chart, width="stretch")
    records = sum(r["records"] for r in series)
    flagged = sum(r["flagged"] for r in series)
    how = (bi("每条记录一点", "one point per record") if step == 1 else
           bi(f"按 {step // 60} 分钟平均（阴影为区间最小–最大）",
              f"{step // 60}-minute means (shade: min–max)"))
    off = fig.rules_off_view(rules, fig.y_domain(series, rules))
    st.caption(
        bi(f"{rng.start:%Y-%m-%d %H:%M} 至 {rng.end:%Y-%m-%d %H:%M}：{records} 条记录，"
           f"{flagged} 条非正常标记，{len(alarms)} 个告警，{len(windows)} 个缺失窗口；",
           f"{rng.start:%Y-%m-%d %H:%M} to {rng.end:%Y-%m-%d %H:%M}: {records} records, "
           f"{flagged} flagged other than N, {len(alarms)} alarms, {len(windows)} gap "
           "windows;") + f" {how}. " +
        bi("红色虚线为排放限值，灰色虚线为仪器量程；拖动或滚轮缩放时间轴，悬停看数值。",
           "Red dashed: emission limits; grey dashed: instrument range. Drag or scroll "
           "to zoom the time axis, hover for values.") +
        (" " + bi("视图外", "off the view") + ": " + ", ".join(r.label for r in off)
         if off else "") + " " +
        query_caption("station_series", "station_alarms", "station_missing_windows",
                      "station_codes", "station_limits"))
    with st.expander(bi("数据标记说明", "Data flags"), expanded=bool(flags)):
        table(fig.flag_legend(), {"flag": bi("标记", "flag"), "meaning": bi("含义", "meaning")})
    if alarms:
        with st.expander(bi("该因子及整站告警", "Alarms of this pollutant and station-wide")
                         + f" · {len(alarms)}"):
            table([{"opened": e["opened"], "end": e["end"].replace("T", " "),
                    "kind": e["kind"], "detail": e["detail"]}
                   for e in fig.alarm_bands(alarms, rng, 0)],
                  {"opened": bi("开始", "from"), "end": bi("结束", "to"),
                   "kind": bi("规则与状态", "rule and state"), "detail": bi("说明", "detail")})


def _frames(q: Query, info: dict[str, Any], now: datetime) -> None:
    mn = info["mn"]
    st.subheader(bi("收到的数据帧", "Frames received"))
    c1, c2 = st.columns([2, 3])
    span = c1.selectbox(bi("时间范围", "range"), list(FRAME_RANGES), key="frames_range",
                        format_func=lambda k: RANGE_CHOICES[k])
    status = c2.radio(bi("状态", "status"), list(STATUS_CHOICES), horizontal=True,
                      format_func=lambda k: STATUS_CHOICES[k], key="frames_status")
    end = now + timedelta(seconds=1)
    start = end - FRAME_RANGES[span]
    rows = q("station_frames", mn=mn, start=start, end=end, status=status,
             limit=fig.FRAMES_LIMIT)
    shown = fig.frames_table(rows)
    if not shown:
        st.write(bi("该时间范围内没有数据帧。", "No frame in this range."))
    else:
        st.dataframe(shown, hide_index=True, width="stretch", height=300, column_config={
            "receive_time": bi("接收时间", "received"), "cn": "CN",
            "status": bi("状态", "status"), "data_time": bi("数据时间", "data time"),
            "qn": "QN", "n_readings": bi("读数", "readings"),
            "warnings": bi("警告", "warnings"), "reason": bi("拒绝原因", "reason")})
    st.caption(bi(f"最新在前，最多 {fig.FRAMES_LIMIT} 帧。",
                  f"Newest first, at most {fig.FRAMES_LIMIT}.") + " " +
               query_caption("station_frames"))
    if not rows:
        return
    picked = st.selectbox(bi("解码一帧", "Decode a frame"), range(len(rows)),
                          format_func=lambda i: fig.frame_choice(rows[i]), key="frames_pick")
    row = rows[picked or 0]
    raw = q("station_frame_raw", mn=mn, cn=row["cn"], qn=row["qn"], raw_hash=row["raw_hash"])
    if not raw:
        st.warning(bi("该帧已不在库中。", "That frame is no longer stored."))
        return
    variants = [v for v in (info.get("crc_variants") or "").split(",") if v]
    decoded = fig.decode_frame(raw[0]["raw_hex"], variants)
    st.markdown("**" + bi("原始报文", "Raw frame") + "**")
    st.code(decoded.raw, language=None, wrap_lines=True)
    if row["status"] == "rejected":
        st.error(bi("网关拒收原因", "Rejected by the gateway") + ": "
                 + fig.frames_table([row])[0]["reason"])
    if decoded.error:
        st.warning(bi("解码失败", "The codec refuses it") + ": " + decoded.error)
    else:
        left, right = st.columns([2, 3])
        with left:
            st.markdown("**" + bi("报文头与数据区字段", "Header and CP fields") + "**")
            table(decoded.header + decoded.other_cp,
                  {"field": bi("字段", "field"), "value": bi("值", "value")})
        with right:
            st.markdown("**" + bi("监测因子", "Pollutants (CP)") + "**")
            if decoded.items:
                table(decoded.items, {"code": bi("因子", "pollutant"),
                                      "suffix": bi("项", "item"), "value": bi("值", "value")})
            else:
                st.write(bi("无", "None"))
        if decoded.warnings:
            st.caption(bi("宽松模式偏差", "Lenient-mode deviations") + ": "
                       + "; ".join(decoded.warnings))
    st.caption(bi("用平台的 Rust 解码器（hj212.parse）解码。", "Decoded by the platform's "
                  "Rust codec (hj212.parse).") + " " + query_caption("station_frame_raw"))


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The named queries (with parameters) the page asks at ``now`` for station ``mn``
    in its default view: minute data (2051) of the last 24 h, frames of the last hour.
    The pollutant depends on the station's data; the page starts on COD (w01018), which
    is taken here (a flue-gas station's SO2 costs the same). The decoded frame's
    station_frame_raw (keyed by the newest frame) is left out: one row by its key."""
    params = scope_params(scope)
    now = bucket(now)
    rng = fig.default_range(DEFAULT_CN, now)
    # the benchmark's stations report every 30 s and 10 min; the step is the same for
    # any cadence of the sample registry over a day (one point per record)
    step = fig.series_step(rng.seconds, fig.cadence_s(DEFAULT_CN, 30, 10))
    end = now + timedelta(seconds=1)
    out: list[tuple[str, dict[str, Any]]] = [
        ("station_list", {}),
        ("station_info", {"mn": mn}),
        ("station_limits", {"mn": mn}),
        ("station_codes", {"mn": mn, "start": now - fig.CODES_LOOKBACK,
                           "end": now + timedelta(minutes=1)}),
        ("station_series", {"mn": mn, "cn": DEFAULT_CN, "code": PREFERRED_CODES[0],
                            "start": rng.start, "end": rng.end, "step": step,
                            "limit": fig.MAX_POINTS + 10}),
        ("station_alarms", {"mn": mn, "code": PREFERRED_CODES[0], "start": rng.start,
                            "end": rng.end}),
        ("station_missing_windows", {"mn": mn, "cn": DEFAULT_CN, "start": rng.start,
                                     "end": rng.end}),
        ("station_frames", {"mn": mn, "start": end - FRAME_RANGES["1h"], "end": end,
                            "status": "", "limit": fig.FRAMES_LIMIT}),
    ]
    return [(name, {**kw, **params}) for name, kw in out]


def _first_last(value: Any, today: date) -> tuple[date, date]:
    """The first and last day of a date_input range (one day while only one is picked)."""
    picked = [d for d in (value if isinstance(value, tuple | list) else (value,))
              if isinstance(d, date)]
    if not picked:
        return today, today
    return picked[0], picked[-1]
