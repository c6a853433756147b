"""admin/quality.py: the quality figures of a seeded month (expected values counted by
hand and by plain loops here, never taken from the code), the score and fee at the band
edges, and properties over random facts and rules."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from admin import quality as q
from admin import work_orders as wo
from admin.quality import (
    ClockFacts,
    ComplaintFacts,
    InspectionFacts,
    OrderFacts,
    QualityRow,
    VisitFacts,
)
from admin.service_settings import SCORE_FIGURES, QualityRules, Subcontractor, load
from pipeline.ledger.model import Event

MONTH = "2026-11"
START, END = datetime(2026, 11, 1), datetime(2026, 12, 1)
R1, R2, R3 = "云贵川渝", "苏皖沪", "京津冀鲁"
M = timedelta(minutes=1)
H = timedelta(hours=1)


def order(oid: str, region: str, engineer: str, opened: datetime,
          contact: datetime | None = None, respond: datetime | None = None,
          arrive: datetime | None = None, *, stops: bool = True,
          breaches: int = 0) -> OrderFacts:
    """An order with the default limits: contact 15 min, response 1 h, on site 3 h."""
    return OrderFacts(
        work_order_id=oid, region=region, engineer=engineer, opened_at=opened,
        closed_at=None, stops_system=stops,
        first_contact=ClockFacts(opened + 15 * M, contact),
        response=ClockFacts(opened + H, respond) if stops else None,
        on_site=ClockFacts(opened + 3 * H, arrive) if stops else None,
        breaches=breaches)


def d(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second)


T1, T2, T3 = d(11, 3, 9), d(11, 5, 10), d(11, 10, 14)
ORDERS = [
    # R1: on time throughout
    order("O1", R1, "li", T1, T1 + 10 * M, T1 + 40 * M, T1 + 2 * H),
    # R1: late throughout
    order("O2", R1, "li", T2, T2 + 20 * M, T2 + 90 * M, T2 + 4 * H, breaches=3),
    # R1: no response/on-site clocks; contact exactly at due (on time)
    order("O3", R1, "wang", T3, T3 + 15 * M, stops=False),
    # R1: opened 23:55 on the last day; contact met on time in Nov (due 00:10 Dec 1);
    # response met on time in Dec; on site not met, due in Dec
    order("O4", R1, "wang", d(11, 30, 23, 55), d(11, 30, 23, 58), d(12, 1, 0, 30),
          breaches=1),
    # R2: opened in October; contact met on time Nov 1 00:03 (due 00:05); response late
    # (due 00:50, met 01:10); on site never (due Nov 1 02:50)
    order("O5", R2, "zhao", d(10, 31, 23, 50), d(11, 1, 0, 3), d(11, 1, 1, 10),
          breaches=2),
    # R2: opened and breached in October; on site met late in November (due Oct 31 23:00)
    order("O6", R2, "zhao", d(10, 31, 20), d(10, 31, 20, 30), d(10, 31, 23, 59),
          d(11, 1, 0, 30), breaches=3),
    # R2: never assigned, nothing met
    order("O7", R2, "", d(11, 20, 8), breaches=5),
    # R3: opened exactly at the month's start
    order("O8", R3, "qian", d(11, 1), d(11, 1, 0, 5), stops=False),
    # R3: opened exactly at the next month's start
    order("O9", R3, "qian", d(12, 1), d(12, 1, 0, 5), stops=False),
    # R3: contact due Nov 30 23:55, met late after midnight; response and on site on time
    # in December (on site exactly at due)
    order("O10", R3, "qian", d(11, 30, 23, 40), d(12, 1, 0, 10), d(12, 1, 0, 20),
          d(12, 1, 2, 40), breaches=1),
]
VISITS = [
    VisitFacts("V1", R1, "li", date(2026, 11, 10), d(11, 8, 10), 5),
    VisitFacts("V2", R1, "li", date(2026, 11, 12), d(11, 12, 23, 59), 4),  # last minute
    VisitFacts("V3", R1, "wang", date(2026, 11, 15), d(11, 17, 9), 3),  # late
    VisitFacts("V4", R1, "wang", date(2026, 11, 20)),  # never
    VisitFacts("V5", R2, "", date(2026, 11, 30), d(12, 1), 2),  # late, scored in Dec
    VisitFacts("V6", R2, "zhao", date(2026, 10, 30), d(11, 2, 9), 4),  # due Oct
    VisitFacts("V7", R3, "qian", date(2026, 12, 1), d(11, 30, 23), 5),  # due Dec
    VisitFacts("V8", R3, "qian", date(2026, 11, 1), d(10, 31, 16)),  # early, no score
]
COMPLAINTS = [
    ComplaintFacts("C1", R1, "li", d(11, 6, 11), d(11, 9)),
    ComplaintFacts("C2", R2, "", d(11, 30, 23, 59, 59)),
    ComplaintFacts("C3", R2, "zhao", d(12, 1)),
    ComplaintFacts("C4", R3, "qian", d(10, 31, 23, 59)),
    ComplaintFacts("C5", R1, "wang", d(11, 1)),
]
INSPECTIONS = [
    InspectionFacts("I1", R1, "li", date(2026, 11, 30), d(11, 30, 18)),
    InspectionFacts("I2", R1, "wang", date(2026, 11, 15), d(11, 16, 9)),
    InspectionFacts("I3", R2, "zhao", date(2026, 11, 1)),
    InspectionFacts("I4", R3, "qian", date(2026, 12, 1), d(11, 28, 9)),
    InspectionFacts("I5", R3, "qian", date(2026, 11, 30), d(11, 29, 9)),
]


def figures(by: str = "region", **kw: Any) -> dict[str, QualityRow]:
    rows = q.figures(ORDERS, VISITS, COMPLAINTS, INSPECTIONS, MONTH, by, **kw)
    return {r.group: r for r in rows}


# --- the seeded month, by hand ----------------------------------------------------------


def test_region_figures_counted_by_hand():
    rows = figures()
    assert sorted(rows) == sorted([R1, R2, R3])
    r1 = rows[R1]
    assert (r1.orders_opened, r1.sla_breaches) == (4, 4)
    assert (r1.first_contact_on_time, r1.first_contact_counted) == (3, 4)
    assert (r1.response_on_time, r1.response_counted) == (1, 2)
    assert (r1.arrival_on_time, r1.arrival_counted) == (1, 2)
    assert (r1.visits_on_time, r1.visits_due) == (2, 4)
    assert r1.satisfaction == pytest.approx((5 + 4 + 3) / 3)
    assert r1.complaints == 2
    assert (r1.inspections_on_time, r1.inspections_due) == (1, 2)
    assert (r1.on_time_response, r1.on_time_arrival, r1.return_visit_rate,
            r1.inspections_done, r1.on_time_first_contact) == (0.5, 0.5, 0.5, 0.5, 0.75)

    r2 = rows[R2]
    assert (r2.orders_opened, r2.sla_breaches) == (1, 5)
    assert (r2.first_contact_on_time, r2.first_contact_counted) == (1, 2)
    assert (r2.response_on_time, r2.response_counted) == (0, 2)
    assert (r2.arrival_on_time, r2.arrival_counted) == (0, 2)
    assert (r2.visits_on_time, r2.visits_due) == (0, 1)
    assert (r2.satisfaction_scores, r2.satisfaction) == (1, 4.0)
    assert r2.complaints == 1
    assert (r2.inspections_on_time, r2.inspections_due) == (0, 1)

    r3 = rows[R3]
    assert (r3.orders_opened, r3.sla_breaches) == (2, 1)
    assert (r3.first_contact_on_time, r3.first_contact_counted) == (1, 2)
    assert r3.response_counted == r3.arrival_counted == 0
    assert r3.on_time_response is None and r3.on_time_arrival is None
    assert (r3.visits_on_time, r3.visits_due) == (1, 1)
    assert (r3.satisfaction_scores, r3.satisfaction) == (1, 5.0)
    assert r3.complaints == 0
    assert (r3.inspections_on_time, r3.inspections_due) == (1, 1)


def test_engineer_rows_by_hand():
    rows = figures("engineer")
    assert sorted(rows) == ["", "li", "qian", "wang", "zhao"]
    li, blank = rows["li"], rows[""]
    assert (li.orders_opened, li.response_on_time, li.response_counted) == (2, 1, 2)
    assert (li.visits_on_time, li.visits_due, li.satisfaction) == (2, 2, 4.5)
    assert (li.complaints, li.inspections_on_time, li.inspections_due) == (1, 1, 1)
    # the unassigned order, the visit of an order without engineer, the complaint
    assert (blank.orders_opened, blank.sla_breaches, blank.first_contact_counted) == (1, 5, 1)
    assert (blank.visits_due, blank.complaints, blank.satisfaction_scores) == (1, 1, 0)
    assert all(r.by == "engineer" and r.month == MONTH for r in rows.values())


# --- the seeded month, by plain loops ---------------------------------------------------


def in_month(t: datetime | None) -> bool:
    return t is not None and START <= t < END


def expected(group_of: Any) -> dict[str, dict[str, int]]:
    """The counts, by loops over the facts written out without the module's helpers."""
    out: dict[str, dict[str, int]] = {}

    def row(g: str) -> dict[str, int]:
        return out.setdefault(g, {
            "orders_opened": 0, "sla_breaches": 0, "first_contact_counted": 0,
            "first_contact_on_time": 0, "response_counted": 0, "response_on_time": 0,
            "arrival_counted": 0, "arrival_on_time": 0, "visits_due": 0,
            "visits_on_time": 0, "satisfaction_scores": 0, "satisfaction_sum": 0,
            "complaints": 0, "inspections_due": 0, "inspections_on_time": 0})

    for o in ORDERS:
        g = group_of(o)
        if in_month(o.opened_at):
            row(g)["orders_opened"] += 1
            row(g)["sla_breaches"] += o.breaches
        for c, name in ((o.first_contact, "first_contact"), (o.response, "response"),
                        (o.on_site, "arrival")):
            if c is None:
                continue
            # on time: counted where met; late or never: counted where it fell due
            if c.met_at is not None and c.met_at <= c.due:
                if in_month(c.met_at):
                    row(g)[f"{name}_counted"] += 1
                    row(g)[f"{name}_on_time"] += 1
            elif in_month(c.due):
                row(g)[f"{name}_counted"] += 1
    for v in VISITS:
        g = group_of(v)
        if v.due.year == 2026 and v.due.month == 11:
            row(g)["visits_due"] += 1
            if v.done_at is not None and v.done_at < datetime.combine(
                    v.due + timedelta(days=1), datetime.min.time()):
                row(g)["visits_on_time"] += 1
        if in_month(v.done_at) and v.satisfaction is not None:
            row(g)["satisfaction_scores"] += 1
            row(g)["satisfaction_sum"] += v.satisfaction
    for k in COMPLAINTS:
        if in_month(k.received_at):
            row(group_of(k))["complaints"] += 1
    for i in INSPECTIONS:
        if i.due.year == 2026 and i.due.month == 11:
            row(group_of(i))["inspections_due"] += 1
            if i.completed_at is not None and i.completed_at.date() <= i.due:
                row(group_of(i))["inspections_on_time"] += 1
    return out


def counts(r: QualityRow) -> dict[str, int]:
    return {k: getattr(r, k) for k in (
        "orders_opened", "sla_breaches", "first_contact_counted", "first_contact_on_time",
        "response_counted", "response_on_time", "arrival_counted", "arrival_on_time",
        "visits_due", "visits_on_time", "satisfaction_scores", "satisfaction_sum",
        "complaints", "inspections_due", "inspections_on_time")}


@pytest.mark.parametrize("by", ["region", "engineer"])
def test_figures_match_loops(by):
    want = expected(lambda f: getattr(f, by))
    got = figures(by)
    assert {g: counts(r) for g, r in got.items()} == want
    for g, r in got.items():
        w = want[g]
        if w["response_counted"]:
            assert r.on_time_response == w["response_on_time"] / w["response_counted"]
        if w["satisfaction_scores"]:
            assert r.satisfaction == w["satisfaction_sum"] / w["satisfaction_scores"]


def test_neighbouring_months_take_the_boundary_rows():
    oct_ = {r.group: r for r in q.figures(ORDERS, VISITS, COMPLAINTS, INSPECTIONS,
                                          "2026-10", "region")}
    dec = {r.group: r for r in q.figures(ORDERS, VISITS, COMPLAINTS, INSPECTIONS,
                                         "2026-12", "region")}
    # O5 and O6 opened in October; O6's three clocks were all decided there
    assert oct_[R2].orders_opened == 2 and oct_[R2].first_contact_counted == 1
    assert (oct_[R2].response_counted, oct_[R2].arrival_counted) == (1, 1)
    assert oct_[R3].complaints == 1  # C4, Oct 31 23:59
    # O4's response (on time) and on site (never) and O10's two on-time clocks
    assert (dec[R1].response_on_time, dec[R1].response_counted) == (1, 1)
    assert (dec[R1].arrival_on_time, dec[R1].arrival_counted) == (0, 1)
    assert (dec[R3].response_on_time, dec[R3].arrival_on_time) == (1, 1)
    assert dec[R3].orders_opened == 1 and dec[R2].complaints == 1  # O9, C3 at 00:00
    assert dec[R2].satisfaction_scores == 1  # V5 done Dec 1 00:00


def test_groups_always_listed_and_empty_month():
    rows = q.figures([], [], [], [], MONTH, "region", groups=[R1])
    assert [(r.group, r.orders_opened, r.on_time_response, r.satisfaction)
            for r in rows] == [(R1, 0, None, None)]
    assert q.figures([], [], [], [], MONTH, "engineer") == []


def test_now_leaves_pending_items_out():
    now = d(11, 20, 8, 10)
    o = order("P1", R1, "li", d(11, 20, 8))  # contact due 08:15: pending at 08:10
    late = order("P2", R1, "li", d(11, 20, 7))  # contact due 07:15: breached
    edge = order("P3", R1, "li", d(11, 20, 7, 55))  # due 08:10 = now: not yet breached
    visits = [VisitFacts("PV1", R1, "li", date(2026, 11, 20)),  # due today: pending
              VisitFacts("PV2", R1, "li", date(2026, 11, 19)),  # overdue
              VisitFacts("PV3", R1, "li", date(2026, 11, 25), d(11, 20, 8))]  # done early
    insp = [InspectionFacts("PI1", R1, "li", date(2026, 11, 28)),
            InspectionFacts("PI2", R1, "li", date(2026, 11, 2))]
    [r] = q.figures([o, late, edge], visits, [], insp, MONTH, "region", now=now)
    assert (r.first_contact_on_time, r.first_contact_counted) == (0, 1)
    assert (r.visits_on_time, r.visits_due) == (1, 2)
    assert (r.inspections_on_time, r.inspections_due) == (0, 1)
    [over] = q.figures([o, late, edge], visits, [], insp, MONTH, "region")
    assert (over.first_contact_counted, over.visits_due, over.inspections_due) == (3, 3, 2)


@pytest.mark.parametrize("bad", ["2026-13", "2026/11", "26-11", "2026-1", ""])
def test_bad_month_refused(bad):
    with pytest.raises(ValueError, match="YYYY-MM"):
        q.figures([], [], [], [], bad, "region")


def test_bad_grouping_refused():
    with pytest.raises(ValueError, match="region, engineer"):
        q.figures([], [], [], [], MONTH, "station")


def test_month_bounds_december():
    assert q.month_bounds("2026-12") == (datetime(2026, 12, 1), datetime(2027, 1, 1))
    assert q.month_bounds("2028-02") == (datetime(2028, 2, 1), datetime(2028, 3, 1))


# --- order_facts from a work order's events ---------------------------------------------


def test_order_facts_from_the_sla_clocks():
    t0 = d(11, 3, 9)
    opening: dict[str, Any] = {
        "source": "phone", "caller": "王工", "contact": "138", "organisation": "某厂",
        "station": "MN1", "reason": "离线", "class": "technical_service", "region": R1,
        "stops_system": True}
    steps: list[tuple[str, datetime, dict[str, Any]]] = [
        (wo.OPEN, t0, opening),
        (wo.ASSIGN, t0 + M, {"engineer": "li"}),
        (wo.CONTACT, t0 + 10 * M, {}),
        (wo.RESPOND, t0 + 70 * M, {})]  # response 10 minutes late
    events = [Event(wo.STREAM, "WO1", i + 1, f"r{i}", kind, "li", at, payload)
              for i, (kind, at, payload) in enumerate(steps)]
    state = wo.derive(events)
    f = q.order_facts(state, t0 + 5 * H)  # on site due t0 + 3 h, not met: breached
    assert (f.work_order_id, f.region, f.engineer, f.opened_at) == ("WO1", R1, "li", t0)
    assert f.stops_system and f.closed_at is None
    assert f.first_contact == ClockFacts(t0 + 15 * M, t0 + 10 * M)
    assert f.response == ClockFacts(t0 + H, t0 + 70 * M)
    assert f.on_site == ClockFacts(t0 + 3 * H, None)
    # response late, on site overdue; the day's closing note is not due until midnight
    assert f.breaches == 2
    plain = wo.derive([replace(events[0], payload={**opening, "stops_system": False})])
    g = q.order_facts(plain, t0 + 20 * M)
    assert g.response is None and g.on_site is None and g.breaches == 1
    with pytest.raises(ValueError, match="not open"):
        q.order_facts(wo.derive([]), t0)


# --- the score and the fee --------------------------------------------------------------


SAMPLE = load().quality


def test_score_of_the_seeded_region_by_hand():
    r1 = figures()[R1]
    s = q.score(r1, SAMPLE)
    # 25 x 0.5 + 25 x 0.5 + 20 x 0.5 + 20 x (4 / 4.5) + 10 x 0.5, minus 2 x 5 and 4 x 1
    want = 12.5 + 12.5 + 10 + 20 * 4 / 4.5 + 5 - 10 - 4
    assert s.raw == pytest.approx(want)
    assert s.score == round(want, 2) == 43.78
    assert [p.figure for p in s.parts] == ["on_time_response", "on_time_arrival",
                                           "return_visit_rate", "satisfaction",
                                           "inspections_done"]
    sat = s.parts[3]
    assert (sat.value, sat.target, sat.points) == (4.0, 4.5, 20)
    assert sat.earned == pytest.approx(20 * 4 / 4.5)
    assert (s.complaint_deduction, s.breach_deduction) == (10, 4)
    assert q.fee(s, 50_000, SAMPLE) == 0.0


def test_nothing_counted_earns_full_points():
    empty = QualityRow(MONTH, "region", R3)
    s = q.score(empty, SAMPLE)
    assert s.score == 100 and all(p.earned == p.points for p in s.parts)
    assert all(p.value is None for p in s.parts)


def test_value_above_target_is_capped():
    rules = replace(SAMPLE, targets={**SAMPLE.targets, "on_time_response": 0.5})
    row = QualityRow(MONTH, "region", R1, response_counted=4, response_on_time=3)
    part = q.score(row, rules).parts[0]
    assert part.figure == "on_time_response" and part.earned == 25


EDGE_RULES = replace(SAMPLE, per_complaint=10.0, per_sla_breach=0.01)


@pytest.mark.parametrize(("complaints", "breaches", "want_score", "want_fee"), [
    (3, 1, 69.99, 0.0),
    (3, 0, 70.0, 35_000.0),
    (1, 1, 89.99, 44_995.0),
    (1, 0, 90.0, 50_000.0),
    (0, 0, 100.0, 50_000.0),
])
def test_score_and_fee_at_the_band_edges(complaints, breaches, want_score, want_fee):
    row = QualityRow(MONTH, "region", R1, complaints=complaints, sla_breaches=breaches)
    s = q.score(row, EDGE_RULES)
    assert s.score == want_score
    assert q.fee(s, 50_000, EDGE_RULES) == pytest.approx(want_fee)
    assert q.fee(want_score, 50_000, EDGE_RULES) == pytest.approx(want_fee)


def test_score_clamped_at_zero_keeps_the_raw():
    row = QualityRow(MONTH, "region", R1, complaints=30)
    s = q.score(row, SAMPLE)
    assert (s.raw, s.score) == (100 - 150, 0.0)


def test_unknown_figure_in_rules_refused():
    with pytest.raises(ValueError, match=r"quality\.points"):
        q.score(QualityRow(MONTH, "region", R1), QualityRules(points={"speed": 100}))


# --- subcontractors ---------------------------------------------------------------------


def test_subcontractor_combines_counts_not_rates():
    rules = replace(SAMPLE, subcontractors=(
        Subcontractor("西南东南", (R1, R2), 40_000.0),
        Subcontractor("北方", (R3, "晋豫陕"), 10_000.0)))
    rows = q.figures(ORDERS, VISITS, COMPLAINTS, INSPECTIONS, MONTH, "region")
    both = q.subcontractor_scores(rows, rules)
    assert both == q.subcontractor_scores({r.group: r for r in rows}, rules)
    a, b = both
    assert (a.name, a.month, a.row.group, a.row.by) == ("西南东南", MONTH, "西南东南",
                                                       "subcontractor")
    # visits: R1 2 of 4, R2 0 of 1 -> 2 of 5 (not the mean of 0.5 and 0.0)
    assert a.row.return_visit_rate == 2 / 5
    # response: R1 1 of 2, R2 0 of 2; arrival likewise; inspections 1 of 3
    assert a.row.on_time_response == 1 / 4 and a.row.inspections_done == 1 / 3
    assert a.row.satisfaction == (12 + 4) / 4
    assert (a.row.complaints, a.row.sla_breaches) == (3, 9)
    want = (25 / 4 + 25 / 4 + 20 * 2 / 5 + 20 * 4 / 4.5 + 10 / 3) - 3 * 5 - 9
    assert a.score.score == round(want, 2) and a.fee == 0.0
    # R3 alone (晋豫陕 has no row): every figure at target or nothing counted, so 100
    # minus its one SLA breach
    assert b.score.score == 99.0 and b.fee == 10_000.0


def test_subcontractor_needs_rows_by_region():
    rows = q.figures(ORDERS, VISITS, COMPLAINTS, INSPECTIONS, MONTH, "engineer")
    with pytest.raises(ValueError, match="by region"):
        q.subcontractor_scores(rows, SAMPLE)


def test_sample_subcontractor():
    [s] = q.subcontractor_scores(figures(), SAMPLE)
    assert s.name == "川渝运维" and s.regions == (R1,) and s.monthly_fee == 50_000
    assert s.score.score == 43.78


# --- properties -------------------------------------------------------------------------

BASE = datetime(2026, 10, 1)
SPAN = int((datetime(2027, 1, 1) - BASE).total_seconds() // 60) - 1
REGIONS = st.sampled_from([R1, R2, R3])
ENGINEERS = st.sampled_from(["", "li", "wang"])
instants = st.integers(0, SPAN).map(lambda m: BASE + timedelta(minutes=m))
days = st.integers(0, 91).map(lambda n: BASE.date() + timedelta(days=n))
delays = st.integers(0, 600).map(lambda m: timedelta(minutes=m))


@st.composite
def clocks(draw: Any, opened: datetime, budget: timedelta) -> ClockFacts:
    met = draw(st.none() | delays)
    return ClockFacts(opened + budget, None if met is None else opened + met)


@st.composite
def orders(draw: Any) -> OrderFacts:
    opened = draw(instants)
    stops = draw(st.booleans())
    return OrderFacts(
        work_order_id="x", region=draw(REGIONS), engineer=draw(ENGINEERS), opened_at=opened,
        closed_at=None, stops_system=stops, first_contact=draw(clocks(opened, 15 * M)),
        response=draw(clocks(opened, H)) if stops else None,
        on_site=draw(clocks(opened, 3 * H)) if stops else None,
        breaches=draw(st.integers(0, 5)))


visit_st = st.builds(VisitFacts, st.just("v"), REGIONS, ENGINEERS, days,
                     st.none() | instants, st.none() | st.integers(1, 5))
complaint_st = st.builds(ComplaintFacts, st.just("c"), REGIONS, ENGINEERS, instants)
inspection_st = st.builds(InspectionFacts, st.just("i"), REGIONS, ENGINEERS, days,
                          st.none() | instants)
facts = st.tuples(st.lists(orders(), max_size=15), st.lists(visit_st, max_size=10),
                  st.lists(complaint_st, max_size=5), st.lists(inspection_st, max_size=5))
months = st.sampled_from(["2026-10", "2026-11", "2026-12"])


def total(rows: Iterable[QualityRow]) -> dict[str, int]:
    return counts(q.combine(rows, "all"))


@settings(max_examples=150, deadline=None)
@given(facts, months, st.none() | instants)
def test_rates_within_bounds_and_groupings_agree(f, month, now):
    o, v, c, i = f
    by_region = q.figures(o, v, c, i, month, "region", now=now)
    by_engineer = q.figures(o, v, c, i, month, "engineer", now=now)
    for r in [*by_region, *by_engineer]:
        for figure in q.FIGURES:
            v = r.value(figure)
            if v is None:
                continue
            if figure == "satisfaction":
                assert 1 <= v <= 5
            else:
                assert 0 <= v <= 1
    assert total(by_region) == total(by_engineer)


@settings(max_examples=100, deadline=None)
@given(facts)
def test_each_clock_counted_in_exactly_one_month(f):
    order_list, v, c, i = f
    per_month = [q.figures(order_list, v, c, i, m, "region")
                 for m in ("2026-09", "2026-10", "2026-11", "2026-12", "2027-01")]
    n = sum(r.first_contact_counted + r.response_counted + r.arrival_counted
            for rows in per_month for r in rows)
    want = sum(1 + 2 * o.stops_system for o in order_list)
    assert n == want
    assert sum(r.orders_opened for rows in per_month for r in rows) == len(order_list)


@st.composite
def any_row(draw: Any) -> QualityRow:
    def pair() -> tuple[int, int]:
        counted = draw(st.integers(0, 30))
        return counted, draw(st.integers(0, counted))

    fc, rs, ar, vi, ins = pair(), pair(), pair(), pair(), pair()
    scores = draw(st.integers(0, 30))
    return QualityRow(
        MONTH, "region", R1, orders_opened=draw(st.integers(0, 50)),
        first_contact_counted=fc[0], first_contact_on_time=fc[1],
        response_counted=rs[0], response_on_time=rs[1],
        arrival_counted=ar[0], arrival_on_time=ar[1], visits_due=vi[0],
        visits_on_time=vi[1], satisfaction_scores=scores,
        satisfaction_sum=sum(draw(st.lists(st.integers(1, 5), min_size=scores,
                                           max_size=scores))),
        complaints=draw(st.integers(0, 30)), sla_breaches=draw(st.integers(0, 100)),
        inspections_due=ins[0], inspections_on_time=ins[1])


@st.composite
def any_rules(draw: Any) -> QualityRules:
    figures_ = draw(st.lists(st.sampled_from(list(SCORE_FIGURES)), unique=True))
    points = {k: draw(st.floats(0, 100)) for k in figures_}
    targets = {k: draw(st.floats(0.01, 5 if k == "satisfaction_target" else 1))
               for k in draw(st.lists(st.sampled_from(
                   ["on_time_response", "on_time_arrival", "return_visit_rate",
                    "satisfaction_target", "inspections_done"]), unique=True))}
    full = draw(st.floats(0, 100))
    return QualityRules(full_fee_at=full, no_fee_below=draw(st.floats(0, full)),
                        points=points, targets=targets,
                        per_complaint=draw(st.floats(0, 100)),
                        per_sla_breach=draw(st.floats(0, 100)))


@settings(max_examples=300, deadline=None)
@given(any_row(), any_rules())
def test_score_within_0_and_100(row, rules):
    s = q.score(row, rules)
    assert 0 <= s.score <= 100
    assert all(0 <= p.earned <= p.points for p in s.parts)
    assert 0 <= q.fee(s, 10_000, rules) <= 10_000


@settings(max_examples=300, deadline=None)
@given(any_rules(), st.floats(0, 100), st.floats(0, 100), st.floats(0, 1e6))
def test_fee_monotone_in_score(rules, a, b, monthly):
    low, high = sorted((a, b))
    assert q.fee(low, monthly, rules) <= q.fee(high, monthly, rules)
