"""What every page draws the same way: bilingual tables whose text is on the page, the
guard that turns an unanswered query into a message, and Altair's data and count axis."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import altair as alt
import streamlit as st

from admin.accounts import User
from dashboards.data import DataUnavailable, bucket, fetch
from dashboards.labels import bi
from dashboards.scope import Scope, describe, region_scope, scope_params
from dashboards.settings_source import app_settings
from pipeline.timebase import now_local

#: table headers: the users' word first, English beside it
HEADERS: Final[dict[str, str]] = {
    "region": bi("服务区域", "region"), "stations": bi("站点", "stations"),
    "online": bi("在线", "online"), "offline": bi("离线", "offline"),
    "mn": "MN", "enterprise": bi("企业", "enterprise"), "outlet": bi("排口", "outlet"),
    "last_frame": bi("最后一帧", "last frame"), "silent_min": bi("静默(分钟)", "silent (min)"),
    "opened_at": bi("开始", "opened"), "severity": bi("级别", "severity"),
    "rule": bi("规则", "rule"), "code": bi("因子", "pollutant"),
    "message": bi("说明", "message"), "total": bi("合计", "total"),
    "expected": bi("应收", "expected"), "received": bi("收到", "received"),
    "valid": bi("有效", "valid"), "transmission_rate": bi("传输率", "rate"),
    "validity_rate": bi("有效率", "validity"),
    "transmission_efficiency": bi("传输有效率", "efficiency"),
}
#: columns holding a percentage (0-100) shown with one decimal and a % sign
PERCENT_COLUMNS: Final = frozenset({"transmission_rate", "validity_rate",
                                    "transmission_efficiency"})


def table(rows: list[dict[str, Any]], headers: Mapping[str, str] | None = None,
          percent: frozenset[str] = PERCENT_COLUMNS) -> None:
    """A small table as HTML (st.table), headers in both languages and rates as
    percentages: its text is on the page, so a reader (and the browser suite) can read
    it, which a canvas grid does not allow. ``headers`` add to or override HEADERS."""
    names = {**HEADERS, **(headers or {})}
    shown = [{names.get(k, k): (f"{v:.1f}%" if k in percent else v)
              for k, v in row.items()} for row in rows]
    st.table(shown, hide_index=True)


#: counts are whole numbers: no 0.5 ticks
COUNT_AXIS: Final = alt.Axis(format="d", tickMinStep=1)


def chart_data(rows: list[dict[str, Any]]) -> alt.Data:
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]  # Altair leaves it untyped


def guarded(user: User, draw: Callable[[], None]) -> None:
    """Draw one part of a page; a query that cannot be answered becomes a message
    (the details for administrators only), and the rest of the page still draws."""
    try:
        draw()
    except DataUnavailable as exc:
        st.error(str(exc))
        if user.is_admin:
            st.caption(exc.detail)


NO_REGION: Final = bi("您的账号没有服务区域，看不到任何站点。",
                      "Your account has no service region, so no station is shown.")


@dataclass(frozen=True)
class PageContext:
    """What a page's parts share: the user, the server, the user's scope (as query
    parameters too) and the page's "now" (rounded so the cache holds across reruns)."""

    user: User
    dsn: str
    scope: Scope
    now: datetime
    params: dict[str, Any]

    def q(self, name: str, **kw: Any) -> list[dict[str, Any]]:
        """A named query's rows in the user's scope (dashboards.data.fetch)."""
        return fetch(self.dsn, name, **kw, **self.params)


def page_start(title: str, user: User) -> PageContext | None:
    """The page's title and the line under it (whose regions, as of when); None, after
    saying why, when the user's account sees no region."""
    st.title(title)
    scope = region_scope(user)
    now = bucket(now_local())
    st.caption(f"{describe(scope)} · {bi('数据时间', 'as of')} {now:%Y-%m-%d %H:%M:%S} CST")
    if scope is not None and not scope:
        st.warning(NO_REGION)
        return None
    return PageContext(user=user, dsn=app_settings().clickhouse.dsn, scope=scope, now=now,
                       params=scope_params(scope))
