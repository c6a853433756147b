"""The anomalies page's figures from its named queries' rows: plain functions and Altair
charts, no Streamlit and no I/O, so unit tests and the page share them.

``anomalies_counts`` gives episode counts per (day, rule, severity, state, region,
enterprise); every count on the page (by rule, region, enterprise, day) is a sum over
those rows, so the figures agree with each other by construction.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

import altair as alt

from dashboards.labels import RULE_LABELS, SEVERITIES, bi, region_label, severity_label
from dashboards.labels import rule_label as rule_label  # the page's, from the shared map
from pipeline.detect.names import canonical
from pipeline.detect.rules import RULE_NAMES
from pipeline.store.queries_anomalies import DURATION_EDGES_S
from pipeline.timebase import to_local

Table = list[dict[str, Any]]

assert set(RULE_NAMES) <= set(RULE_LABELS), set(RULE_NAMES) - set(RULE_LABELS)

DEFAULT_PERIOD: Final = timedelta(days=7)
OPEN_LIMIT: Final = 20
EPISODES_LIMIT: Final = 500
TOP_ENTERPRISES: Final = 15
STATE_LABELS: Final = {"open": bi("未关闭", "open"), "cleared": bi("已关闭", "cleared")}
SEVERITY_COLORS: Final = {"critical": "#b2182b", "major": "#ef8a62", "warning": "#f4c542",
                          "info": "#67a9cf"}


def severity_text(severity: str) -> str:
    """``严重 critical``: the Chinese name beside the code (which is the English word)."""
    return severity_label(severity)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    @property
    def days(self) -> list[datetime]:
        first = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        out = []
        day = first
        while day < self.end:
            out.append(day)
            day += timedelta(days=1)
        return out


def default_period(now: datetime) -> Period:
    """The last seven days up to the next whole minute after ``now``."""
    end = to_local(now).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Period(end - DEFAULT_PERIOD, end)


def period_of_days(first: datetime, last: datetime) -> Period:
    """The whole CST days ``first`` .. ``last`` (both included)."""
    start = first.replace(hour=0, minute=0, second=0, microsecond=0)
    end = last.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return Period(start, end)


# --- counts ---------------------------------------------------------------------------


def total(rows: Iterable[Mapping[str, Any]]) -> int:
    return sum(int(r["episodes"]) for r in rows)


def _sum_by(rows: Iterable[Mapping[str, Any]], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r[key]] = out.get(r[key], 0) + int(r["episodes"])
    return out


def by_rule(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Episodes per rule, most first, with how many are still open; a row written under
    an older name (missing_data) counts with its rule's name today (names.canonical)."""
    rows = [{**r, "rule": canonical(str(r["rule"]))} for r in rows]
    counts = _sum_by(rows, "rule")
    still = _sum_by([r for r in rows if r["state"] == "open"], "rule")
    table: Table = [{"rule": rule_label(rule), "episodes": n, "open": still.get(rule, 0)}
             for rule, n in counts.items()]
    table.sort(key=lambda r: (-r["episodes"], r["rule"]))
    return table


def by_region(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Episodes per service region (unregistered stations as their own line)."""
    table: Table = [{"region": region_label(region), "episodes": n}
             for region, n in _sum_by(rows, "region").items()]
    table.sort(key=lambda r: (-r["episodes"], r["region"]))
    return table


def by_enterprise(rows: Iterable[Mapping[str, Any]], limit: int = TOP_ENTERPRISES) -> Table:
    """The ``limit`` enterprises with the most episodes, with their region."""
    rows = list(rows)
    region = {r["enterprise"]: r["region"] for r in rows}
    table: Table = [{"enterprise": e or bi("未登记站点", "unregistered station"),
              "region": region_label(region[e]), "episodes": n}
             for e, n in _sum_by(rows, "enterprise").items()]
    table.sort(key=lambda r: (-r["episodes"], r["enterprise"]))
    return table[:limit]


def by_severity(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = _sum_by(rows, "severity")
    return {s: counts.get(s, 0) for s in SEVERITIES if s in counts} | {
        s: n for s, n in counts.items() if s not in SEVERITIES}


def per_day(rows: Iterable[Mapping[str, Any]], period: Period, stack: str) -> Table:
    """Episodes per CST day and ``stack`` ('rule' or 'severity') in long form; days of
    the period with none are present (as no row), so the axis shows every day."""
    counts: dict[tuple[str, str], int] = {}
    for r in rows:
        day = to_local(r["day"]).replace(tzinfo=None).date().isoformat()
        label = rule_label(r["rule"]) if stack == "rule" else severity_text(r["severity"])
        counts[(day, label)] = counts.get((day, label), 0) + int(r["episodes"])
    return [{"day": d, "group": g, "episodes": n} for (d, g), n in sorted(counts.items())]


def filter_values(rows: Iterable[Mapping[str, Any]], key: str) -> list[str]:
    """The distinct values of ``key`` in the counts, for a filter's choices."""
    return sorted({str(r[key]) for r in rows})


# --- open and durations ---------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """``3 天 4 小时 3 d 4 h``-style text, coarse: days and hours, hours and minutes,
    or minutes."""
    s = max(int(seconds), 0)
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    if d:
        return f"{d} 天 {h} 小时 ({d} d {h} h)"
    if h:
        return f"{h} 小时 {m} 分 ({h} h {m} min)"
    return f"{m} 分 ({m} min)"


def station_link(mn: str) -> str:
    """The station page's address for ``mn`` (relative: the app's own base path)."""
    return f"station?mn={quote(mn)}"


def open_table(rows: Iterable[Mapping[str, Any]], now: datetime) -> Table:
    """Open episodes, longest open first, with how long they have been open."""
    now = to_local(now).replace(tzinfo=None)
    out = []
    for r in rows:
        opened = to_local(r["opened_at"]).replace(tzinfo=None)
        out.append({"open_for": human_duration((now - opened).total_seconds()),
                    "opened_at": opened.strftime("%Y-%m-%d %H:%M"),
                    "rule": rule_label(r["rule"]), "severity": severity_text(r["severity"]),
                    "enterprise": r["enterprise"], "mn": r["mn"],
                    "region": region_label(r["region"]), "code": r["code"],
                    "occurrences": int(r["occurrences"]),
                    "last_seen": to_local(r["last_seen"]).strftime("%m-%d %H:%M")})
    return out


def duration_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Per rule: cleared episodes and how long they stayed open (median, p90, mean,
    longest), longest median first."""
    table: Table = [{"rule": rule_label(r["rule"]), "episodes": int(r["episodes"]),
              "median": human_duration(r["median_s"]), "p90": human_duration(r["p90_s"]),
              "mean": human_duration(r["mean_s"]), "longest": human_duration(r["max_s"]),
              "median_s": int(r["median_s"])} for r in rows]
    table.sort(key=lambda r: (-r["median_s"], r["rule"]))
    for r in table:
        del r["median_s"]
    return table


def _edge_text(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}min"


def duration_class_labels() -> list[str]:
    """Labels of the duration classes of ``anomalies_duration_classes``, in order."""
    edges = DURATION_EDGES_S
    out = [f"< {_edge_text(edges[0])}"]
    out += [f"{_edge_text(a)}–{_edge_text(b)}" for a, b in itertools.pairwise(edges)]
    out.append(f"≥ {_edge_text(edges[-1])}")
    return out


def duration_classes(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Cleared episodes per duration class and rule, long form for a stacked bar."""
    labels = duration_class_labels()
    return [{"duration": labels[int(r["duration_class"])], "order": int(r["duration_class"]),
             "rule": rule_label(r["rule"]), "episodes": int(r["episodes"])} for r in rows]


def episodes_table(rows: Iterable[Mapping[str, Any]], now: datetime) -> Table:
    """Episodes, newest first, with the station page's link and how long each was (or
    has been) open."""
    now = to_local(now).replace(tzinfo=None)
    out = []
    for r in rows:
        opened = to_local(r["opened_at"]).replace(tzinfo=None)
        if r["state"] == "cleared":
            end = to_local(r["cleared_at"] or r["last_seen"]).replace(tzinfo=None)
        else:
            end = now
        out.append({"opened_at": opened.strftime("%Y-%m-%d %H:%M"),
                    "rule": rule_label(r["rule"]), "severity": severity_text(r["severity"]),
                    "state": STATE_LABELS.get(r["state"], r["state"]),
                    "duration": human_duration((end - opened).total_seconds()),
                    "enterprise": r["enterprise"], "outlet": r["outlet"],
                    "region": region_label(r["region"]), "code": r["code"],
                    "occurrences": int(r["occurrences"]), "message": r["message"],
                    "station": station_link(r["mn"]), "mn": r["mn"]})
    return out


# --- charts ---------------------------------------------------------------------------

COUNT_AXIS: Final = alt.Axis(format="d", tickMinStep=1)


def _data(rows: Table) -> alt.Data:
    return alt.Data(values=rows)  # type: ignore[no-untyped-call]


def per_day_chart(long: Table, period: Period, stack: str) -> alt.Chart:
    days = [d.date().isoformat() for d in period.days]
    groups = list(dict.fromkeys(sorted(r["group"] for r in long)))
    color = alt.Color("group:N", title=bi("规则", "rule") if stack == "rule"
                      else bi("级别", "severity"), sort=groups,
                      legend=alt.Legend(orient="right", labelLimit=260))
    if stack == "severity":
        order = [severity_text(s) for s in SEVERITIES]
        known = [g for g in order if g in groups] + [g for g in groups if g not in order]
        color = alt.Color("group:N", title=bi("级别", "severity"), sort=known,
                          scale=alt.Scale(domain=known, range=[
                              next((c for s, c in SEVERITY_COLORS.items()
                                    if g == severity_text(s)), "#999999") for g in known]),
                          legend=alt.Legend(orient="right"))
    chart: alt.Chart = (
        alt.Chart(_data(long)).mark_bar()
        .encode(x=alt.X("day:O", title=bi("日期", "day") + " (CST)", sort=days,
                        scale=alt.Scale(domain=days), axis=alt.Axis(labelAngle=-30)),
                y=alt.Y("sum(episodes):Q", title=bi("告警数", "episodes"), axis=COUNT_AXIS),
                color=color,
                tooltip=[alt.Tooltip("day:O", title=bi("日期", "day")),
                         alt.Tooltip("group:N", title=bi("分组", "group")),
                         alt.Tooltip("sum(episodes):Q", title=bi("告警数", "episodes"))])
        .add_params(alt.selection_point(fields=["group"], bind="legend"))
    )
    return chart


def bar_chart(rows: Table, label: str, title: str) -> alt.Chart:
    """Horizontal bars of ``episodes`` per ``label``, most first."""
    chart: alt.Chart = (
        alt.Chart(_data(rows)).mark_bar(color="#4c78a8")
        .encode(x=alt.X("episodes:Q", title=bi("告警数", "episodes"), axis=COUNT_AXIS),
                y=alt.Y(f"{label}:N", title=None, sort="-x",
                        axis=alt.Axis(labelLimit=260, labelOverlap=False)),
                tooltip=[alt.Tooltip(f"{label}:N", title=title),
                         alt.Tooltip("episodes:Q", title=bi("告警数", "episodes"))])
    )
    return chart


def duration_chart(long: Table) -> alt.Chart:
    labels = duration_class_labels()
    chart: alt.Chart = (
        alt.Chart(_data(long)).mark_bar()
        .encode(x=alt.X("duration:O", title=bi("持续时间", "time open"), sort=labels,
                        scale=alt.Scale(domain=labels), axis=alt.Axis(labelAngle=0)),
                y=alt.Y("sum(episodes):Q", title=bi("已关闭告警数", "cleared episodes"),
                        axis=COUNT_AXIS),
                color=alt.Color("rule:N", title=bi("规则", "rule"),
                                legend=alt.Legend(orient="right", labelLimit=260)),
                tooltip=[alt.Tooltip("duration:O", title=bi("持续时间", "time open")),
                         alt.Tooltip("rule:N", title=bi("规则", "rule")),
                         alt.Tooltip("sum(episodes):Q", title=bi("告警数", "episodes"))])
    )
    return chart


def height_for(rows: Sequence[Any], per_row: int = 28, base: int = 60) -> int:
    return base + per_row * max(len(rows), 1)
