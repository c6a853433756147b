"""The quality figures operators are judged by (质量考核, issue 12 item 7), the
subcontractor monthly score and the fee it earns. Pure: plain fact rows in, figures out;
no I/O, no clock reads. The I/O layer maps the derived states of the record streams onto
the fact rows (``order_facts`` does it for a work order).

All times are naive CST; a month "YYYY-MM" is [the 1st 00:00, the next 1st 00:00), so an
instant at exactly midnight on the 1st belongs to the new month.

Counting rules, per group (service region or engineer) and calendar month:

- 工单数 orders opened: orders whose ``opened_at`` is in the month.
- 按时响应率 on-time response, 按时到场率 on-time arrival, 首次联系及时率 first-contact on
  time: per SLA clock (response, on_site, first_contact). An order without the clock (only
  a fault that stops a system has the response and on-site clocks) is not counted for it.
  A clock is *on time* when it was met at or before its due time. Each clock is counted
  in exactly one month, the month it was decided in: the month it was met when met on
  time, the month it fell due otherwise (late or not met: it was breached at its due
  time). So an on-time clock is counted in the month it was met, a late or missing one in
  the month it was due; a clock due on the 1st 00:10 and met on time the evening before
  counts for the earlier month, one due on the 31st 23:50 and met late after midnight
  counts (late) for the month it was due. Rate = on time / counted; None (shown "—") when
  nothing was counted.
- 回访率 return-visit rate: visits whose due date is in the month; on time when done on
  or before the due date (any time that day). Target 100 %.
- 满意度 average satisfaction: the mean score (1..5) of the visits done in the month that
  carry a score, whatever their due date.
- 投诉 complaints: complaints received in the month (open or closed).
- 超时 SLA breaches: the breached SLA clocks (all of them: first contact, response, on
  site, daily note, weekly entry) of the orders opened in the month.
- 巡检完成率 inspections done: inspections whose due date is in the month; on time when
  completed on or before the due date.
- ``now`` (optional): the figures of a month still in progress. A clock, visit or
  inspection not yet met or done whose due time has not passed at ``now`` is pending and
  not counted (rather than counted late). Without ``now`` the month is taken as over: all
  that is due in it is judged.
- Grouping by engineer: the engineer of the order, of the visited order, of the complaint
  and of the inspection; "" collects those without one (未指派 unassigned).

The subcontractor score (分包商月度考核, rules in admin/service.toml ``[quality]``):

- each figure in ``points`` earns points x min(1, value / target) (satisfaction against
  ``targets["satisfaction_target"]`` on the 1..5 scale; a figure without a target is
  judged against its full scale, 1.0 or 5); a figure with nothing counted in the month
  (rate None) earns its full points: nothing was due, so nothing was missed;
  figures not in ``points`` earn nothing (with no ``points`` at all every score is 0:
  the settings file must give them);
- minus ``per_complaint`` x complaints and ``per_sla_breach`` x SLA breaches;
- clamped to 0..100 and rounded to 2 decimals (the fee is computed on the score the page
  shows);
- fee: the full monthly fee at ``full_fee_at`` (90) or above, fee x score / 100 from
  ``no_fee_below`` (70) up to it, nothing below.
- A subcontractor serving several regions is scored on its regions together: the counts
  are added and the rates recomputed from them (not an average of the regions' rates).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import Final

from admin.service_settings import SCORE_FIGURES, QualityRules
from admin.work_orders import (
    FIRST_CONTACT,
    ON_SITE_CLOCK,
    RESPONSE,
    Clock,
    SlaLimits,
    WorkOrderState,
    sla,
)

BY_REGION: Final = "region"
BY_ENGINEER: Final = "engineer"
GROUPINGS: Final = (BY_REGION, BY_ENGINEER)

#: the figures a row holds (SCORE_FIGURES are those the score may give points for)
FIGURES: Final = ("on_time_first_contact", "on_time_response", "on_time_arrival",
                  "return_visit_rate", "satisfaction", "inspections_done")

FIGURE_LABELS: Final = {
    "orders_opened": "工单数 orders opened",
    "on_time_first_contact": "首次联系及时率 first contact on time",
    "on_time_response": "按时响应率 on-time response",
    "on_time_arrival": "按时到场率 on-time arrival",
    "return_visit_rate": "回访率 return-visit rate",
    "satisfaction": "满意度 satisfaction",
    "complaints": "投诉 complaints",
    "sla_breaches": "超时 SLA breaches",
    "inspections_done": "巡检完成率 inspections done",
}

#: the target key of a figure in QualityRules.targets
_TARGET_KEY: Final = {"satisfaction": "satisfaction_target"}
#: a figure's full scale: its target when the rules give none
_FULL_SCALE: Final = {"satisfaction": 5.0}


# --- the facts --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockFacts:
    """One SLA clock of an order: when it fell due and when it was met (None: not yet)."""

    due: datetime
    met_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OrderFacts:
    work_order_id: str
    region: str
    engineer: str
    opened_at: datetime
    closed_at: datetime | None
    stops_system: bool
    first_contact: ClockFacts
    response: ClockFacts | None = None  # only a fault that stops a system has it
    on_site: ClockFacts | None = None  # likewise
    breaches: int = 0  # the order's breached SLA clocks (admin.work_orders.sla)


@dataclass(frozen=True, slots=True)
class VisitFacts:
    visit_id: str
    region: str
    engineer: str  # of the work order visited; "" for a contract visit without one
    due: date
    done_at: datetime | None = None
    satisfaction: int | None = None  # 1..5


@dataclass(frozen=True, slots=True)
class ComplaintFacts:
    complaint_id: str
    region: str
    engineer: str  # "" when the complaint names nobody
    received_at: datetime
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InspectionFacts:
    inspection_id: str
    region: str
    engineer: str
    due: date
    completed_at: datetime | None = None


def _clock_facts(clocks: Sequence[Clock], name: str) -> ClockFacts | None:
    c = next((c for c in clocks if c.name == name), None)
    return None if c is None else ClockFacts(c.due_at, c.met_at)


def order_facts(state: WorkOrderState, now: datetime, limits: SlaLimits | None = None
                ) -> OrderFacts:
    """The facts of a work order at ``now`` from its derived state and SLA clocks. The
    order must be open (``state.opened_at`` set)."""
    if state.opened_at is None:
        raise ValueError(f"工单 {state.work_order_id} 尚未开立 / work order "
                         f"{state.work_order_id!r} is not open; it has no quality facts")
    clocks = sla(state, now, limits)
    first = _clock_facts(clocks, FIRST_CONTACT)
    assert first is not None  # every opened order has the first-contact clock
    return OrderFacts(
        work_order_id=state.work_order_id, region=state.region, engineer=state.engineer,
        opened_at=state.opened_at, closed_at=state.closed_at,
        stops_system=state.stops_system, first_contact=first,
        response=_clock_facts(clocks, RESPONSE), on_site=_clock_facts(clocks, ON_SITE_CLOCK),
        breaches=sum(1 for c in clocks if c.breached))


# --- the figures ------------------------------------------------------------------------


def _rate(good: int, counted: int) -> float | None:
    return good / counted if counted else None


@dataclass(frozen=True, slots=True)
class QualityRow:
    """One group's counts for one month; the rates are computed from the counts, so rows
    can be added (``combine``) and the rates stay right."""

    month: str
    by: str  # BY_REGION, BY_ENGINEER, or "subcontractor"/"total" for combined rows
    group: str  # the region, the engineer ("" unassigned), or the combined row's name
    orders_opened: int = 0
    first_contact_counted: int = 0
    first_contact_on_time: int = 0
    response_counted: int = 0
    response_on_time: int = 0
    arrival_counted: int = 0
    arrival_on_time: int = 0
    visits_due: int = 0
    visits_on_time: int = 0
    satisfaction_scores: int = 0  # visits done in the month with a score
    satisfaction_sum: int = 0
    complaints: int = 0
    sla_breaches: int = 0
    inspections_due: int = 0
    inspections_on_time: int = 0

    @property
    def on_time_first_contact(self) -> float | None:
        return _rate(self.first_contact_on_time, self.first_contact_counted)

    @property
    def on_time_response(self) -> float | None:
        return _rate(self.response_on_time, self.response_counted)

    @property
    def on_time_arrival(self) -> float | None:
        return _rate(self.arrival_on_time, self.arrival_counted)

    @property
    def return_visit_rate(self) -> float | None:
        return _rate(self.visits_on_time, self.visits_due)

    @property
    def satisfaction(self) -> float | None:
        return _rate(self.satisfaction_sum, self.satisfaction_scores)

    @property
    def inspections_done(self) -> float | None:
        return _rate(self.inspections_on_time, self.inspections_due)

    def value(self, figure: str) -> float | None:
        """The figure by name (one of FIGURES)."""
        if figure not in FIGURES:
            raise ValueError(f"未知的考核指标 {figure!r} / unknown quality figure {figure!r}; "
                             f"fix: one of {', '.join(FIGURES)}")
        v: float | None = getattr(self, figure)
        return v


_COUNTS: Final = tuple(f.name for f in fields(QualityRow)
                       if f.name not in ("month", "by", "group"))


def combine(rows: Iterable[QualityRow], group: str, by: str = "total",
            month: str = "") -> QualityRow:
    """The rows added up under one name (counts summed, rates recomputed from them)."""
    listed = list(rows)
    months = {r.month for r in listed}
    if len(months) > 1:
        raise ValueError(f"不能合并不同月份 {sorted(months)} / rows of several months "
                         f"{sorted(months)} cannot be combined; fix: one month at a time")
    sums = {name: sum(getattr(r, name) for r in listed) for name in _COUNTS}
    return QualityRow(month=month or next(iter(months), ""), by=by, group=group, **sums)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month "YYYY-MM" (naive CST)."""
    try:
        start = datetime.strptime(month, "%Y-%m")
    except (TypeError, ValueError):
        raise ValueError(f"月份 {month!r} 格式不对 / month {month!r} is not YYYY-MM; "
                         "fix: e.g. 2026-12") from None
    if len(month) != 7:  # strptime takes "2026-1" too; the pages send two digits
        raise ValueError(f"月份 {month!r} 格式不对 / month {month!r} is not YYYY-MM; "
                         "fix: e.g. 2026-01")
    end = (start + timedelta(days=32)).replace(day=1)
    return start, end


def _decided(c: ClockFacts) -> datetime:
    """When a clock was decided: met on time -> when met; otherwise its due time."""
    return c.met_at if c.met_at is not None and c.met_at <= c.due else c.due


class _Tally:
    def __init__(self) -> None:
        self.n: dict[str, int] = dict.fromkeys(_COUNTS, 0)

    def add(self, name: str, k: int = 1) -> None:
        self.n[name] += k


def figures(orders: Iterable[OrderFacts], visits: Iterable[VisitFacts],
            complaints: Iterable[ComplaintFacts], inspections: Iterable[InspectionFacts],
            month: str, by: str = BY_REGION, *, now: datetime | None = None,
            groups: Iterable[str] = ()) -> list[QualityRow]:
    """The quality figures of ``month`` per region or engineer (``by``), sorted by group,
    by the counting rules of the module docstring. A group gets a row when anything of
    it counts in the month, or when it is in ``groups`` (rows always shown)."""
    if by not in GROUPINGS:
        raise ValueError(f"分组 {by!r} 无效 / group by {by!r} is unknown; fix: one of "
                         f"{', '.join(GROUPINGS)}")
    start, end = month_bounds(month)
    first_day, last_day = start.date(), (end - timedelta(days=1)).date()
    tallies: dict[str, _Tally] = {g: _Tally() for g in groups}

    def tally(region: str, engineer: str) -> _Tally:
        key = region if by == BY_REGION else engineer
        return tallies.setdefault(key, _Tally())

    def in_month(t: datetime) -> bool:
        return start <= t < end

    def pending_at(due: datetime) -> bool:
        # not met and not yet breached at ``now``
        return now is not None and due >= now

    def pending_on(due: date, done: datetime | None) -> bool:
        # not done and its due day not over at ``now``
        return done is None and now is not None and now.date() <= due

    for o in orders:
        t: _Tally | None = None
        if in_month(o.opened_at):
            t = tally(o.region, o.engineer)
            t.add("orders_opened")
            t.add("sla_breaches", o.breaches)
        for clock, prefix in ((o.first_contact, "first_contact"), (o.response, "response"),
                              (o.on_site, "arrival")):
            if clock is None or not in_month(_decided(clock)):
                continue
            on_time = clock.met_at is not None and clock.met_at <= clock.due
            if not on_time and clock.met_at is None and pending_at(clock.due):
                continue
            t = t or tally(o.region, o.engineer)
            t.add(f"{prefix}_counted")
            if on_time:
                t.add(f"{prefix}_on_time")
    for v in visits:
        if first_day <= v.due <= last_day and not pending_on(v.due, v.done_at):
            t = tally(v.region, v.engineer)
            t.add("visits_due")
            if v.done_at is not None and v.done_at.date() <= v.due:
                t.add("visits_on_time")
        if v.done_at is not None and in_month(v.done_at) and v.satisfaction is not None:
            t = tally(v.region, v.engineer)
            t.add("satisfaction_scores")
            t.add("satisfaction_sum", v.satisfaction)
    for c in complaints:
        if in_month(c.received_at):
            tally(c.region, c.engineer).add("complaints")
    for i in inspections:
        if first_day <= i.due <= last_day and not pending_on(i.due, i.completed_at):
            t = tally(i.region, i.engineer)
            t.add("inspections_due")
            if i.completed_at is not None and i.completed_at.date() <= i.due:
                t.add("inspections_on_time")
    return [QualityRow(month=month, by=by, group=g, **tallies[g].n) for g in sorted(tallies)]


# --- the score and the fee --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FigurePoints:
    """What one figure earned: ``points`` x min(1, value / target); full when None."""

    figure: str
    label: str
    value: float | None
    target: float
    points: float  # what it earns at its target
    earned: float


@dataclass(frozen=True, slots=True)
class Score:
    parts: tuple[FigurePoints, ...]
    earned: float  # the figures' points together
    complaints: int
    complaint_deduction: float
    sla_breaches: int
    breach_deduction: float
    raw: float  # earned - deductions, before clamping
    score: float  # clamped to 0..100, rounded to 2 decimals


def _target(figure: str, rules: QualityRules) -> float:
    return rules.targets.get(_TARGET_KEY.get(figure, figure), _FULL_SCALE.get(figure, 1.0))


def score(row: QualityRow, rules: QualityRules) -> Score:
    """The monthly score of ``row`` by ``rules``, with its breakdown."""
    parts: list[FigurePoints] = []
    unknown = sorted(set(rules.points) - set(SCORE_FIGURES))
    if unknown:
        raise ValueError(f"考核规则中的指标 {unknown[0]!r} 无效 / quality.points names "
                         f"{unknown[0]!r}; fix: one of {', '.join(SCORE_FIGURES)}")
    for figure in SCORE_FIGURES:
        if figure not in rules.points:
            continue
        points = rules.points[figure]
        value = row.value(figure)
        target = _target(figure, rules)
        # nothing counted (or no bar to reach): nothing was missed, full points
        full = value is None or target <= 0
        earned = points if full or value is None else points * min(1.0, value / target)
        parts.append(FigurePoints(figure, FIGURE_LABELS[figure], value, target, points,
                                  earned))
    earned_total = sum(p.earned for p in parts)
    complaint_deduction = rules.per_complaint * row.complaints
    breach_deduction = rules.per_sla_breach * row.sla_breaches
    raw = earned_total - complaint_deduction - breach_deduction
    return Score(parts=tuple(parts), earned=earned_total, complaints=row.complaints,
                 complaint_deduction=complaint_deduction, sla_breaches=row.sla_breaches,
                 breach_deduction=breach_deduction, raw=raw,
                 score=round(min(100.0, max(0.0, raw)), 2))


def fee(score: Score | float, monthly_fee: float, rules: QualityRules) -> float:
    """The fee a score earns: full at ``full_fee_at`` or above, ``monthly_fee`` x score /
    100 from ``no_fee_below`` up to it, nothing below."""
    s = score.score if isinstance(score, Score) else float(score)
    if s >= rules.full_fee_at:
        return monthly_fee
    if s >= rules.no_fee_below:
        return monthly_fee * s / 100
    return 0.0


@dataclass(frozen=True, slots=True)
class SubcontractorScore:
    name: str
    regions: tuple[str, ...]
    month: str
    row: QualityRow  # its regions' rows combined (by="subcontractor", group=name)
    score: Score
    monthly_fee: float
    fee: float


def subcontractor_scores(rows_by_region: Mapping[str, QualityRow] | Iterable[QualityRow],
                         rules: QualityRules) -> list[SubcontractorScore]:
    """Each subcontractor of ``rules`` scored on the month's rows of the regions it serves
    (``figures(..., by="region")``, as a list or region -> row); a region without a row
    counts nothing."""
    if isinstance(rows_by_region, Mapping):
        by_region = dict(rows_by_region)
    else:
        by_region = {}
        for r in rows_by_region:
            if r.by != BY_REGION:
                raise ValueError(f"分包商考核需要按区域的数据，不是按 {r.by} / subcontractor "
                                 f"scores need rows by region, not by {r.by!r}; fix: "
                                 "figures(..., by=\"region\")")
            by_region[r.group] = r
    months = {r.month for r in by_region.values()}
    if len(months) > 1:
        raise ValueError(f"不能合并不同月份 {sorted(months)} / rows of several months "
                         f"{sorted(months)}; fix: one month at a time")
    month = next(iter(months), "")
    out: list[SubcontractorScore] = []
    for sub in rules.subcontractors:
        row = combine((by_region[g] for g in sub.regions if g in by_region), sub.name,
                      by="subcontractor", month=month)
        s = score(row, rules)
        out.append(SubcontractorScore(sub.name, sub.regions, month, row, s, sub.monthly_fee,
                                      fee(s, sub.monthly_fee, rules)))
    return out
