"""The anomalies page (异常统计): alarm episodes of a period by rule, region, enterprise
and day; the longest still open; how long they stayed open; and the episodes themselves,
filtered, each linked to its station's page.

Every figure comes from a named query of pipeline/store/queries_anomalies.py asked with
the user's region scope, named in a caption under it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, Final

import streamlit as st

from admin.accounts import User
from dashboards import anomalies_figures as fig
from dashboards.data import bucket
from dashboards.labels import bi, query_caption, region_label
from dashboards.scope import Scope, scope_params
from dashboards.widgets import guarded, page_start, table
from pipeline.store.queries_anomalies import ANY

Query = Callable[..., list[dict[str, Any]]]

PERIODS: Final = {"24h": bi("近 24 小时", "last 24 h"), "7d": bi("近 7 天", "last 7 days"),
                  "30d": bi("近 30 天", "last 30 days"),
                  "custom": bi("自定义日期", "chosen days")}
_SPANS: Final = {"24h": timedelta(hours=24), "7d": timedelta(days=7),
                 "30d": timedelta(days=30)}
ALL: Final = bi("全部", "all")



def render(user: User) -> None:
    page = page_start(bi("异常统计", "Anomalies"), user)
    if page is None:
        return
    now, q = page.now, page.q
    period = _period(now)
    counts: list[dict[str, Any]] = []
    guarded(user, lambda: counts.extend(_counts(q, period)))
    guarded(user, lambda: _open(q, now))
    guarded(user, lambda: _durations(q, period))
    guarded(user, lambda: _episodes(q, period, counts, now))


def _period(now: datetime) -> fig.Period:
    c1, c2 = st.columns([2, 3])
    choice = c1.selectbox(bi("统计期间（按告警开始时间）", "Period (by when episodes opened)"),
                          list(PERIODS), index=1, format_func=lambda k: PERIODS[k],
                          key="anomalies_period")
    if choice in _SPANS:
        default = fig.default_period(now)
        return fig.Period(default.end - _SPANS[choice], default.end)
    today = now.date()
    days = c2.date_input(bi("日期范围", "days"), (today - timedelta(days=6), today),
                         max_value=today, key="anomalies_days")
    first, last = _first_last(days, today)
    return fig.period_of_days(datetime.combine(first, time()), datetime.combine(last, time()))


def _counts(q: Query, period: fig.Period) -> list[dict[str, Any]]:
    rows = q("anomalies_counts", start=period.start, end=period.end)
    total = fig.total(rows)
    still = fig.total(r for r in rows if r["state"] == "open")
    st.subheader(bi("告警概况", "Alarm episodes") +
                 f" · {period.start:%Y-%m-%d %H:%M} – {period.end:%Y-%m-%d %H:%M}")
    sev = fig.by_severity(rows)
    cols = st.columns(2 + len(sev))
    cols[0].metric(bi("告警", "Episodes"), total)
    cols[1].metric(bi("仍未关闭", "Still open"), still)
    for col, (s, n) in zip(cols[2:], sev.items(), strict=True):
        col.metric(fig.severity_text(s), n)
    caption = query_caption("anomalies_counts")
    if not rows:
        st.success(bi("该期间没有告警。", "No alarm episode opened in this period.")
                   + " " + caption)
        return rows
    stack = st.radio(bi("每日告警，分组", "Per day, stacked by"), ["rule", "severity"],
                     horizontal=True, key="anomalies_stack",
                     format_func=lambda k: bi("规则", "rule") if k == "rule"
                     else bi("级别", "severity"))
    st.altair_chart(fig.per_day_chart(fig.per_day(rows, period, stack), period, stack),
                    width="stretch", height=300)
    st.caption(bi("每日新开告警数（中国标准时间）；点击图例突出一组。",
                  "Episodes opened per day (CST); click the legend to pick a group.")
               + " " + caption)
    left, right = st.columns(2)
    rules = fig.by_rule(rows)
    with left:
        st.markdown("**" + bi("按规则", "By rule") + "**")
        st.altair_chart(fig.bar_chart(rules, "rule", bi("规则", "rule")), width="stretch",
                        height=fig.height_for(rules))
        table(rules, {"episodes": bi("告警数", "episodes"), "open": bi("未关闭", "open")})
    regions = fig.by_region(rows)
    with right:
        st.markdown("**" + bi("按服务区域", "By service region") + "**")
        st.altair_chart(fig.bar_chart(regions, "region", bi("服务区域", "region")),
                        width="stretch", height=fig.height_for(regions))
        table(regions, {"episodes": bi("告警数", "episodes")})
    enterprises = fig.by_enterprise(rows)
    st.markdown("**" + bi(f"告警最多的 {fig.TOP_ENTERPRISES} 家企业",
                          f"The {fig.TOP_ENTERPRISES} enterprises with most episodes") + "**")
    st.altair_chart(fig.bar_chart(enterprises, "enterprise", bi("企业", "enterprise")),
                    width="stretch", height=fig.height_for(enterprises, 24))
    st.caption(caption)
    return rows


def _open(q: Query, now: datetime) -> None:
    rows = q("anomalies_open_longest", limit=fig.OPEN_LIMIT)
    st.subheader(bi("持续最久的未关闭告警", "Longest-open episodes still open"))
    shown = fig.open_table(rows, now)
    if not shown:
        st.success(bi("当前没有未关闭的告警。", "No alarm is open."))
    else:
        table(shown, {"open_for": bi("已持续", "open for"), "occurrences": bi("次数", "times"),
                      "last_seen": bi("最近一次", "last seen")})
    st.caption(bi(f"无论何时开始，仍未关闭的告警中开始最早的 {fig.OPEN_LIMIT} 个。",
                  f"The {fig.OPEN_LIMIT} earliest-opened episodes still open, whenever "
                  "they opened.") + " " + query_caption("anomalies_open_longest"))


def _durations(q: Query, period: fig.Period) -> None:
    stats = q("anomalies_duration_stats", start=period.start, end=period.end)
    classes = q("anomalies_duration_classes", start=period.start, end=period.end)
    st.subheader(bi("告警持续时间（已关闭）", "How long episodes stayed open (cleared)"))
    if not stats:
        st.write(bi("该期间开始的告警都还没有关闭。",
                    "No episode opened in this period has cleared yet."))
    else:
        long = fig.duration_classes(classes)
        st.altair_chart(fig.duration_chart(long), width="stretch", height=300)
        table(fig.duration_table(stats), {
            "episodes": bi("已关闭", "cleared"), "median": bi("中位数", "median"),
            "p90": bi("90 分位", "p90"), "mean": bi("平均", "mean"),
            "longest": bi("最长", "longest")})
    st.caption(bi("持续时间 = 关闭时间 − 开始时间；中位数与 90 分位为精确值。",
                  "Time open = cleared_at − opened_at; median and p90 are exact.") + " " +
               query_caption("anomalies_duration_classes", "anomalies_duration_stats"))


def _choice(label: str, values: list[str], key: str,
            name: Callable[[str], str] = str) -> str:
    picked = st.selectbox(label, [ANY, *values], key=key,
                          format_func=lambda v: ALL if v == ANY else name(v))
    return str(picked)


def _episodes(q: Query, period: fig.Period, counts: list[dict[str, Any]],
              now: datetime) -> None:
    st.subheader(bi("告警明细", "Episodes"))
    c = st.columns(5)
    with c[0]:
        rule = _choice(bi("规则", "rule"), fig.filter_values(counts, "rule"), "ep_rule",
                       fig.rule_label)
    with c[1]:
        severity = _choice(bi("级别", "severity"), fig.filter_values(counts, "severity"),
                           "ep_severity", fig.severity_text)
    with c[2]:
        state = _choice(bi("状态", "state"), fig.filter_values(counts, "state"), "ep_state",
                        lambda s: fig.STATE_LABELS.get(s, s))
    with c[3]:
        region = _choice(bi("服务区域", "region"), fig.filter_values(counts, "region"),
                         "ep_region", region_label)
    with c[4]:
        enterprise = _choice(bi("企业", "enterprise"),
                             fig.filter_values(counts, "enterprise"), "ep_enterprise")
    rows = q("anomalies_episodes", start=period.start, end=period.end, rule=rule,
             severity=severity, state=state, region=region, enterprise=enterprise,
             limit=fig.EPISODES_LIMIT)
    shown = fig.episodes_table(rows, now)
    if not shown:
        st.write(bi("没有符合条件的告警。", "No episode matches."))
    else:
        st.dataframe(shown, hide_index=True, width="stretch", height=420, column_config={
            "opened_at": bi("开始", "opened"), "rule": bi("规则", "rule"),
            "severity": bi("级别", "severity"), "state": bi("状态", "state"),
            "duration": bi("持续", "time open"), "enterprise": bi("企业", "enterprise"),
            "outlet": bi("排口", "outlet"), "region": bi("服务区域", "region"),
            "code": bi("因子", "pollutant"), "occurrences": bi("次数", "times"),
            "message": bi("说明", "message"),
            "station": st.column_config.LinkColumn(
                bi("站点页", "station page"), display_text=r"station\?mn=(.*)"),
            "mn": "MN"})
    st.caption(bi(f"最新在前，最多 {fig.EPISODES_LIMIT} 条；“站点页”打开该站点。",
                  f"Newest first, at most {fig.EPISODES_LIMIT}; the station-page link "
                  "opens the station.") + " " + query_caption("anomalies_episodes"))


def calls(scope: Scope, now: datetime, mn: str, enterprise: str
          ) -> list[tuple[str, dict[str, Any]]]:
    """The named queries (with parameters) the page asks at ``now`` in its default view
    (the last 7 days, no filter); ``mn`` and ``enterprise`` are not used here."""
    params = scope_params(scope)
    period = fig.default_period(bucket(now))
    span = {"start": period.start, "end": period.end}
    out: list[tuple[str, dict[str, Any]]] = [
        ("anomalies_counts", span),
        ("anomalies_open_longest", {"limit": fig.OPEN_LIMIT}),
        ("anomalies_duration_stats", span),
        ("anomalies_duration_classes", span),
        ("anomalies_episodes", {**span, "rule": ANY, "severity": ANY, "state": ANY,
                                "region": ANY, "enterprise": ANY,
                                "limit": fig.EPISODES_LIMIT}),
    ]
    return [(name, {**kw, **params}) for name, kw in out]


def _first_last(value: Any, today: date) -> tuple[date, date]:
    """The first and last day of a date_input range (one day while only one is picked)."""
    picked = [d for d in (value if isinstance(value, tuple | list) else (value,))
              if isinstance(d, date)]
    if not picked:
        return today, today
    return picked[0], picked[-1]
