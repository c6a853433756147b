"""The weekly report's model (周报): what one enterprise's report holds for one ISO week,
built from the rows of the report's named queries (pipeline/store/queries_report.py).

``fetch_rows`` asks each query once, for one enterprise or for every enterprise in scope
(``enterprise=''``); ``build_reports`` is pure (rows in, reports out) so unit tests hold
it to figures computed by hand. Nothing here knows HTML.

How figures are counted:
- completeness: minute records (2051) of the station rows of hourly completeness, as the
  overview's STATION_HOURS counts them: expected = whole hours x 60 / MinInterval,
  received at most the expected per hour, an hour without a row counts as nothing
  received. A week still running counts its whole hours up to now.
- over-limit hours: hourly records (2061) judged as the over_limit detector judges them
  (queries_report.report_over_limit); hours are pollutant-hours, summed over pollutants.
- anomalies: alarm episodes overlapping the week, in their current state; handled =
  cleared. What was done is a list of Actions per episode: its own state, the back-fill
  of the gaps under a missing-data episode, and whatever HANDLING_SOURCES add (the
  place where acknowledgements and work orders plug in).
- missing data: expected and received as in completeness; back-filled = records that
  arrived later for the minute-data gaps (missing_windows, cn 2051) starting in the
  week; still missing = expected - received.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any, Final, TypeVar

import hj212

from dashboards.labels import RULE_ZH
from dashboards.report.week import DAYS, Week
from pipeline.detect.names import SEVERITY_ZH
from pipeline.timebase import to_local

#: runs a named query: run(name, **params) -> rows (dashboards.data.fetch with a DSN
#: bound, or pipeline.store.queries.run with a connection bound)
Run = Callable[..., list[dict[str, Any]]]

#: the named queries a report asks, in the order fetch_rows asks them
QUERY_NAMES: Final = ("report_stations", "report_station_days", "report_over_limit",
                      "report_alarms", "report_missing_windows")

SEVERITY_ORDER: Final = ("critical", "major", "warning", "info")
#: missing-data windows' states (schema 005) as outcomes
GAP_STATE_ZH: Final[dict[str, str]] = {
    "open": "待补传", "requested": "已请求补传", "filled": "已补齐",
    "partly_filled": "部分补传", "given_up": "补传失败（已放弃）",
}
CN_ZH: Final[dict[int, str]] = {2011: "实时数据", 2051: "分钟数据", 2061: "小时数据",
                                2031: "日数据"}
#: rules whose episodes are answered by back-fill requests
MISSING_RULES: Final = frozenset({"missing", "missing_data", "offline"})


def pollutant_name(code: str) -> str:
    """The Chinese name of a 2017 pollutant code (the codec's table), else the code."""
    if not code:
        return "整站"
    row = hj212.lookup("pollutant", code)
    return str(row["name_zh"]) if row and row.get("name_zh") else code


def pollutant_unit(code: str) -> str:
    row = hj212.lookup("pollutant", code) if code else None
    unit = str(row.get("unit") or "") if row else ""
    return "" if unit == "-" else unit  # the table's '-' is "no unit" (pH)


# --- the model ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counts:
    """Records expected, received and valid; the three rates of HJ 212's compliance."""

    expected: int = 0
    received: int = 0
    valid: int = 0

    @property
    def transmission_rate(self) -> float:
        return self.received / self.expected if self.expected else 0.0

    @property
    def validity_rate(self) -> float:
        return self.valid / self.received if self.received else 0.0

    @property
    def efficiency(self) -> float:
        return self.transmission_rate * self.validity_rate

    @property
    def missing(self) -> int:
        return max(self.expected - self.received, 0)

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.expected + other.expected, self.received + other.received,
                      self.valid + other.valid)


def total(counts: Iterable[Counts]) -> Counts:
    out = Counts()
    for c in counts:
        out = out + c
    return out


@dataclass(frozen=True, slots=True)
class Station:
    mn: str
    enterprise: str
    outlet: str
    province: str
    region: str
    st: str
    min_interval: int

    @property
    def per_hour(self) -> int:
        """Minute records expected per hour (the overview's formula)."""
        return max(60 // max(self.min_interval, 1), 1)


@dataclass(frozen=True, slots=True)
class StationWeek:
    station: Station
    days: tuple[Counts, ...]  # Monday .. Sunday
    week: Counts


@dataclass(frozen=True, slots=True)
class OverLimit:
    station: Station
    code: str
    name: str
    unit: str
    limit_high: float  # NaN when the bound does not apply
    limit_low: float
    basis: str
    hours: int
    hours_high: int
    hours_low: int
    max_value: float
    min_value: float
    first_hour: datetime
    last_hour: datetime

    @property
    def limit_text(self) -> str:
        hi, lo = _finite(self.limit_high), _finite(self.limit_low)
        if hi is not None and lo is not None:
            return f"{lo:g}–{hi:g}"
        if hi is not None:
            return f"≤ {hi:g}"
        return f"≥ {lo:g}" if lo is not None else "—"

    @property
    def worst_text(self) -> str:
        """The extreme values: the highest above the upper limit, the lowest below the
        lower one, or both ('9.9 / 5')."""
        if self.hours_high and self.hours_low:
            return f"{self.max_value:g} / {self.min_value:g}"
        return f"{self.max_value:g}" if self.hours_high else f"{self.min_value:g}"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing done about an episode, in one short Chinese sentence."""

    kind: str  # cleared, open, backfill; acknowledged, work_order (issues 11 and 12)
    text: str
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Episode:
    alarm_id: str
    station: Station
    cn: int
    code: str
    rule: str
    severity: str
    state: str
    opened_at: datetime
    last_seen: datetime
    cleared_at: datetime | None
    occurrences: int
    message: str
    duration: timedelta  # to its clearing, or to the report's generation while open
    actions: tuple[Action, ...] = ()

    @property
    def handled(self) -> bool:
        return self.state == "cleared"

    @property
    def rule_zh(self) -> str:
        return RULE_ZH.get(self.rule, self.rule)

    @property
    def severity_zh(self) -> str:
        return SEVERITY_ZH.get(self.severity, self.severity)

    @property
    def subject(self) -> str:
        return pollutant_name(self.code)


@dataclass(frozen=True, slots=True)
class AnomalyGroup:
    rule: str
    severity: str
    count: int
    cleared: int
    still_open: int
    total: timedelta
    longest: timedelta

    @property
    def rule_zh(self) -> str:
        return RULE_ZH.get(self.rule, self.rule)

    @property
    def severity_zh(self) -> str:
        return SEVERITY_ZH.get(self.severity, self.severity)


@dataclass(frozen=True, slots=True)
class Gap:
    station: Station
    cn: int
    start: datetime  # data times of the first and last missing record
    end: datetime
    state: str
    expected: int
    received: int
    requests: int
    last_request_at: datetime | None

    @property
    def missing(self) -> int:
        return max(self.expected - self.received, 0)

    @property
    def outcome(self) -> str:
        return GAP_STATE_ZH.get(self.state, self.state)

    @property
    def kind(self) -> str:
        return CN_ZH.get(self.cn, str(self.cn))


@dataclass(frozen=True, slots=True)
class StationMissing:
    station: Station
    expected: int
    received: int
    backfilled: int
    still_missing: int
    gaps: tuple[Gap, ...]


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    enterprise: str
    provinces: str
    regions: str
    week: Week
    generated_at: datetime
    hours: int  # whole hours of the week counted (168 for a week that has ended)
    stations: tuple[StationWeek, ...]
    days: tuple[Counts, ...]  # the enterprise's, Monday .. Sunday
    week_total: Counts
    over_limits: tuple[OverLimit, ...]
    episodes: tuple[Episode, ...]
    groups: tuple[AnomalyGroup, ...]
    missing: tuple[StationMissing, ...]
    summary: tuple[str, ...] = field(default=())

    @property
    def over_limit_hours(self) -> int:
        return sum(o.hours for o in self.over_limits)

    @property
    def handled(self) -> int:
        return sum(e.handled for e in self.episodes)

    @property
    def backfilled(self) -> int:
        return sum(m.backfilled for m in self.missing)

    @property
    def still_missing(self) -> int:
        return sum(m.still_missing for m in self.missing)

    @property
    def gaps(self) -> tuple[Gap, ...]:
        return tuple(g for m in self.missing for g in m.gaps)


# --- the rows ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportRows:
    """The named queries' rows for one week (one enterprise, or every one in scope)."""

    stations: list[dict[str, Any]]
    station_days: list[dict[str, Any]]
    over_limit: list[dict[str, Any]]
    alarms: list[dict[str, Any]]
    missing_windows: list[dict[str, Any]]
    #: alarm_id -> actions from HANDLING_SOURCES
    extra_actions: Mapping[str, Sequence[Action]] = field(default_factory=dict)


def counted_end(week: Week, now: datetime) -> datetime:
    """The end of the whole hours counted: the week's end, or the last whole hour of a
    week still running (an hour in progress has not had all its records yet)."""
    hour = to_local(now).replace(minute=0, second=0, microsecond=0)
    return max(week.start, min(week.end, hour))


def query_params(week: Week, now: datetime, scope: Mapping[str, Any], enterprise: str
                 ) -> list[tuple[str, dict[str, Any]]]:
    """Each report query with its parameters, in QUERY_NAMES order."""
    base = {"enterprise": enterprise, **scope}
    span = {"start": week.start, "end": week.end}
    return [
        ("report_stations", dict(base)),
        ("report_station_days", {"start": week.start, "end": counted_end(week, now), **base}),
        ("report_over_limit", {**span, **base}),
        ("report_alarms", {**span, **base}),
        ("report_missing_windows", {**span, **base}),
    ]


#: A source of what was done about alarm episodes beyond their own state: given the
#: query runner, the week and the scope parameters, alarm_id -> actions. Issue 11 (the
#: duty desk's acknowledgements, kind 'acknowledged') and issue 12 (work orders, kind
#: 'work_order') each append one here; their actions then show in every report's
#: anomaly table, after the episode's own.
HandlingSource = Callable[[Run, Week, Mapping[str, Any]], Mapping[str, Sequence[Action]]]
HANDLING_SOURCES: list[HandlingSource] = []


def fetch_rows(run: Run, week: Week, now: datetime, scope: Mapping[str, Any],
               enterprise: str = "") -> ReportRows:
    """The report queries' rows: each query asked once, whatever the number of
    enterprises (``enterprise=''``: every one in ``scope``)."""
    got = {name: run(name, **params)
           for name, params in query_params(week, now, scope, enterprise)}
    extra: dict[str, list[Action]] = {}
    for source in HANDLING_SOURCES:
        for alarm_id, actions in source(run, week, {"enterprise": enterprise, **scope}).items():
            extra.setdefault(alarm_id, []).extend(actions)
    return ReportRows(stations=got["report_stations"], station_days=got["report_station_days"],
                      over_limit=got["report_over_limit"], alarms=got["report_alarms"],
                      missing_windows=got["report_missing_windows"], extra_actions=extra)


# --- building ----------------------------------------------------------------------------


def build_reports(rows: ReportRows, week: Week, now: datetime) -> list[WeeklyReport]:
    """One report per enterprise of ``rows.stations`` (in name order); ``now`` (naive
    CST) is the generation time."""
    now = to_local(now).replace(microsecond=0)
    stations = [_station(r) for r in rows.stations]
    by_mn = {s.mn: s for s in stations}
    per_enterprise: dict[str, list[Station]] = {}
    for s in stations:
        per_enterprise.setdefault(s.enterprise, []).append(s)

    end = counted_end(week, now)
    day_hours = _day_hours(week, end)
    received = {(r["mn"], int(r["day"])): (int(r["received_sum"]), int(r["valid_sum"]))
                for r in rows.station_days}
    over = _grouped((_over_limit(r, by_mn[r["mn"]]) for r in rows.over_limit
                     if r["mn"] in by_mn), lambda o: o.station.enterprise)
    gaps = [_gap(r, by_mn[r["mn"]]) for r in rows.missing_windows if r["mn"] in by_mn]
    episodes = _grouped((_episode(r, by_mn[r["mn"]], now, gaps, rows.extra_actions)
                         for r in rows.alarms if r["mn"] in by_mn),
                        lambda e: e.station.enterprise)
    gaps_by_mn = _grouped(gaps, lambda g: g.station.mn)

    out = []
    for enterprise in sorted(per_enterprise):
        mine = per_enterprise[enterprise]
        weeks = []
        for s in mine:
            days = tuple(Counts(h * s.per_hour, *received.get((s.mn, i), (0, 0)))
                         for i, h in enumerate(day_hours))
            weeks.append(StationWeek(s, days, total(days)))
        days_total = tuple(total(w.days[i] for w in weeks) for i in range(DAYS))
        missing = tuple(_missing(w, gaps_by_mn.get(w.station.mn, []), week) for w in weeks)
        eps = tuple(sorted(episodes.get(enterprise, []),
                           key=lambda e: (e.opened_at, e.station.outlet, e.alarm_id)))
        report = WeeklyReport(
            enterprise=enterprise,
            provinces="、".join(sorted({s.province for s in mine if s.province})),
            regions="、".join(sorted({s.region for s in mine if s.region})),
            week=week, generated_at=now, hours=sum(day_hours), stations=tuple(weeks),
            days=days_total, week_total=total(days_total),
            over_limits=tuple(sorted(over.get(enterprise, []),
                                     key=lambda o: (-o.hours, o.station.outlet, o.code))),
            episodes=eps, groups=anomaly_groups(eps), missing=missing)
        out.append(_with_summary(report))
    return out


def _day_hours(week: Week, end: datetime) -> tuple[int, ...]:
    """Whole hours of each day of ``week`` before ``end``."""
    out = []
    for i in range(DAYS):
        start = week.start + timedelta(days=i)
        secs = (min(end, start + timedelta(days=1)) - start).total_seconds()
        out.append(max(int(secs) // 3600, 0))
    return tuple(out)


_T = TypeVar("_T")


def _grouped(items: Iterable[_T], key: Callable[[_T], str]) -> dict[str, list[_T]]:
    out: dict[str, list[_T]] = {}
    for item in items:
        out.setdefault(key(item), []).append(item)
    return out


def _station(r: Mapping[str, Any]) -> Station:
    return Station(mn=r["mn"], enterprise=r["enterprise"], outlet=r["outlet"] or r["mn"],
                   province=r["province"], region=r["region"], st=r["st"],
                   min_interval=int(r["min_interval"]))


def _finite(x: float) -> float | None:
    return x if x == x and x not in (float("inf"), float("-inf")) else None


def _time(value: Any) -> datetime:
    return to_local(value).replace(microsecond=0)


def _over_limit(r: Mapping[str, Any], station: Station) -> OverLimit:
    code = r["code"]
    return OverLimit(
        station=station, code=code, name=pollutant_name(code),
        unit=(r["unit_of"] if r["unit_of"] not in ("", "-") else pollutant_unit(code)),
        limit_high=float(r["limit_hi"]),
        limit_low=float(r["limit_lo"]), basis=r["basis_of"], hours=int(r["hours_over"]),
        hours_high=int(r["hours_high"]), hours_low=int(r["hours_low"]),
        max_value=float(r["max_value"]), min_value=float(r["min_value"]),
        first_hour=_time(r["first_hour"]), last_hour=_time(r["last_hour"]))


def _gap(r: Mapping[str, Any], station: Station) -> Gap:
    last = r["last_request_at"]
    return Gap(station=station, cn=int(r["cn"]), start=_time(r["window_start"]),
               end=_time(r["window_end"]), state=r["state"], expected=int(r["expected"]),
               received=int(r["received"]), requests=int(r["requests"]),
               last_request_at=_time(last) if last is not None else None)


def _episode(r: Mapping[str, Any], station: Station, now: datetime, gaps: Sequence[Gap],
             extra: Mapping[str, Sequence[Action]]) -> Episode:
    opened = _time(r["opened_at"])
    cleared = _time(r["cleared_at"]) if r["cleared_at"] is not None else None
    state = r["state"]
    until = cleared if state == "cleared" and cleared is not None else now
    ep = Episode(alarm_id=r["alarm_id"], station=station, cn=int(r["cn"]), code=r["code"],
                 rule=r["rule"], severity=r["severity"], state=state, opened_at=opened,
                 last_seen=_time(r["last_seen"]), cleared_at=cleared,
                 occurrences=int(r["occurrences"]), message=r["message"],
                 duration=max(until - opened, timedelta(0)))
    # in the order they happened (the episode's own undated lines, e.g. "still open", last)
    actions = sorted([*own_actions(ep, gaps), *extra.get(ep.alarm_id, ())],
                     key=lambda a: (a.at is None, a.at or datetime.min))
    return replace(ep, actions=tuple(actions))


def own_actions(ep: Episode, gaps: Sequence[Gap]) -> list[Action]:
    """What the platform itself knows was done: the episode cleared or not, and for a
    missing-data or offline episode the back-fill of the station's gaps within it."""
    out: list[Action] = []
    if ep.rule in MISSING_RULES:
        until = ep.cleared_at or ep.last_seen
        mine = [g for g in gaps if g.station.mn == ep.station.mn
                and g.start <= until and g.end >= ep.opened_at]
        if mine:
            out.append(Action("backfill", backfill_sentence(mine),
                              max((g.last_request_at for g in mine if g.last_request_at),
                                  default=None)))
    if ep.handled:
        out.append(Action("cleared", "已恢复正常", ep.cleared_at))
    else:
        out.append(Action("open", "尚未恢复，持续跟进中"))
    return out


def backfill_sentence(gaps: Sequence[Gap]) -> str:
    """'补传请求 3 次：2 段已补齐，1 段待补传；补回 40 条，仍缺 5 条'"""
    requests = sum(g.requests for g in gaps)
    states: dict[str, int] = {}
    for g in gaps:
        states[g.outcome] = states.get(g.outcome, 0) + 1
    parts = "，".join(f"{n} 段{label}" for label, n in states.items())
    return (f"补传请求 {requests} 次：{parts}；补回 {sum(g.received for g in gaps)} 条，"
            f"仍缺 {sum(g.missing for g in gaps)} 条")


def anomaly_groups(episodes: Sequence[Episode]) -> tuple[AnomalyGroup, ...]:
    """Episodes counted per rule and severity, gravest first, then most frequent."""
    groups = _grouped(episodes, lambda e: f"{e.rule}\t{e.severity}")
    out = []
    for key, eps in groups.items():
        rule, severity = key.split("\t")
        out.append(AnomalyGroup(
            rule=rule, severity=severity, count=len(eps), cleared=sum(e.handled for e in eps),
            still_open=sum(not e.handled for e in eps),
            total=sum((e.duration for e in eps), timedelta(0)),
            longest=max(e.duration for e in eps)))
    rank = {s: i for i, s in enumerate(SEVERITY_ORDER)}
    out.sort(key=lambda g: (rank.get(g.severity, len(rank)), -g.count, g.rule))
    return tuple(out)


def _missing(w: StationWeek, gaps: Sequence[Gap], week: Week) -> StationMissing:
    # back-filled: what a back-fill request brought (a logger's own late upload is not),
    # as the missing-data page counts it
    backfilled = sum(g.received for g in gaps
                     if g.cn == 2051 and g.requests > 0 and week.start <= g.start < week.end)
    return StationMissing(station=w.station, expected=w.week.expected,
                          received=w.week.received, backfilled=backfilled,
                          still_missing=w.week.missing,
                          gaps=tuple(sorted(gaps, key=lambda g: (g.start, g.cn))))


def percent(rate: float) -> str:
    return f"{100.0 * rate:.1f}%"


def _with_summary(r: WeeklyReport) -> WeeklyReport:
    """The report with its summary sentences: the figures an officer reads first."""
    c = r.week_total
    n = len(r.episodes)
    lines = [f"本周传输有效率 {percent(c.efficiency)}，超标 {r.over_limit_hours} 小时，"
             f"异常 {n} 起（已处理 {r.handled} 起）。"]
    lines.append(f"{len(r.stations)} 个排口应收分钟数据 {c.expected} 条，实收 {c.received} 条"
                 f"（传输率 {percent(c.transmission_rate)}），有效 {c.valid} 条"
                 f"（有效率 {percent(c.validity_rate)}）。")
    if r.over_limits:
        worst = r.over_limits[0]
        lines.append(f"超标最多：{worst.station.outlet} {worst.name} {worst.hours} 小时，"
                     f"最高 {worst.worst_text} {worst.unit}（限值 {worst.limit_text}）。")
    else:
        lines.append("本周无超标小时。")
    open_now = n - r.handled
    if n:
        lines.append(f"{n} 起异常中 {r.handled} 起已恢复" +
                     (f"，{open_now} 起仍在处理。" if open_now else "。"))
    gaps = r.gaps
    if c.missing or gaps:
        lines.append(f"缺失 {c.missing} 条，已补传 {r.backfilled} 条；"
                     f"数据缺口 {len(gaps)} 段，其中已补齐 "
                     f"{sum(g.state == 'filled' for g in gaps)} 段。")
    else:
        lines.append("本周无数据缺失。")
    weakest = min(r.stations, key=lambda w: (w.week.efficiency, w.station.outlet),
                  default=None)
    if weakest is not None and len(r.stations) > 1:
        lines.append(f"传输有效率最低的排口：{weakest.station.outlet}"
                     f" {percent(weakest.week.efficiency)}。")
    return replace(r, summary=tuple(lines))


def day_label(d: date) -> str:
    return f"{d:%m-%d}"
