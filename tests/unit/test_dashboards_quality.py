"""The quality page (质量考核, dashboards/quality_page.py, quality_figures.py).

A month of service records (work orders, return visits, complaints, inspections) is
written into ``ledger_events`` of a chDB database through the records' own rules (each
change decided by ``pipeline.ledger.rules.decide`` with the stream's check, so the seed
is a history the writer would have accepted); the page, under AppTest, must show the
figures counted here by plain loops over the seed's own description, with the simple
rules the users judge by (on time when met by the due time; counted in the month it was
decided; not counted while pending), never by admin/quality.py. The subcontractor scores
are worked out by hand from the rules this test's settings file gives.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from admin import complaints as co
from admin import inspections as ins
from admin import quality as q
from admin import visits as vi
from admin import work_orders as wo
from admin.accounts import Role, User
from admin.quality_facts import Facts
from admin.service_settings import ServiceSettings, parse
from dashboards import data, export, quality_page, widgets
from dashboards import quality_figures as fig
from dashboards.labels import bi
from pipeline.ledger import queries as lq
from pipeline.ledger.codec import event_columns
from pipeline.ledger.model import Change, Event, Reply
from pipeline.ledger.rules import decide
from pipeline.store.client import StoreError
from tests.unit.chdb_client import ChdbClickHouse, migrate

NOW = datetime(2026, 12, 10, 10, 0)
NOV, DEC = "2026-11", "2026-12"
R1, R2, R3 = "云贵川渝", "苏皖沪", "京津冀鲁"
M, H = timedelta(minutes=1), timedelta(hours=1)
LIMIT_CONTACT, LIMIT_RESPONSE, LIMIT_ON_SITE = 15 * M, H, 3 * H  # the settings below

SETTINGS_TEXT = f"""
version = "test"
[sla]
first_contact_min = 15
response_min = 60
on_site_min = 180
[quality]
full_fee_at = 90
no_fee_below = 70
[quality.points]
on_time_response = 25
on_time_arrival = 25
return_visit_rate = 20
satisfaction = 20
inspections_done = 10
[quality.targets]
on_time_response = 1.0
on_time_arrival = 1.0
return_visit_rate = 1.0
satisfaction_target = 4.5
inspections_done = 1.0
[quality.deductions]
per_complaint = 5
per_sla_breach = 1
[quality.subcontractors."川渝运维"]
regions = ["{R1}"]
monthly_fee = 50000
[quality.subcontractors."华东运维"]
regions = ["{R2}", "{R3}"]
monthly_fee = 40000
"""
SETTINGS: ServiceSettings = parse(SETTINGS_TEXT, where="test-service.toml")


def d(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute)


# --- the seed, described plainly ----------------------------------------------------------


@dataclass(frozen=True)
class Order:
    oid: str
    region: str
    engineer: str
    opened: datetime
    stops: bool
    contact: datetime | None = None
    respond: datetime | None = None
    arrive: datetime | None = None
    resolve: datetime | None = None  # resolved, verified and closed at once, same day
    notes: tuple[datetime, ...] = ()  # daily closing notes


@dataclass(frozen=True)
class Visit:
    vid: str
    region: str
    due: date
    work_order: str = ""  # "" : a contract visit
    done: datetime | None = None
    score: int | None = None


@dataclass(frozen=True)
class Complaint:
    cid: str
    region: str
    received: datetime
    work_order: str = ""


@dataclass(frozen=True)
class Inspection:
    iid: str
    region: str
    inspector: str
    due: date
    completed: datetime | None = None


T1, T2, T3, T4, T8 = d(11, 3, 9), d(11, 5, 10), d(11, 10, 14), d(11, 12, 8), d(11, 15, 9)
ORDERS = (
    # on time throughout
    Order("WO-1", R1, "li", T1, True, T1 + 10 * M, T1 + 40 * M, T1 + 2 * H, T1 + 3 * H),
    # first contact late; response and arrival on time
    Order("WO-2", R1, "li", T2, True, T2 + 20 * M, T2 + 50 * M, T2 + 150 * M, T2 + 4 * H),
    # not a stopped system: first contact only, exactly at its due time (on time)
    Order("WO-3", R1, "wang", T3, False, T3 + 15 * M, T3 + 30 * M, None, T3 + H),
    # fixed before anyone went: the resolution meets the on-site clock (on time)
    Order("WO-4", R2, "zhao", T4, True, T4 + 5 * M, T4 + 30 * M, None, T4 + 2 * H),
    # first contact late
    Order("WO-8", R3, "qian", T8, True, T8 + 30 * M, T8 + 50 * M, T8 + 170 * M, T8 + 4 * H),
    # December, still open at NOW: response late, never on site, a note on its first day
    Order("WO-6", R1, "li", d(12, 9, 9), True, d(12, 9, 9, 5), d(12, 9, 11), None, None,
          notes=(d(12, 9, 18),)),
    # December, opened 5 minutes before NOW: its first contact is not due yet
    Order("WO-7", R2, "zhao", d(12, 10, 9, 55), False),
)
VISITS = (
    Visit("V-1", R1, date(2026, 11, 10), "WO-1", d(11, 8, 10), 5),
    Visit("V-2", R1, date(2026, 11, 12), "WO-2", d(11, 14, 9), 3),  # late
    Visit("V-3", R1, date(2026, 11, 17), "WO-3"),  # never made
    Visit("V-4", R2, date(2026, 11, 19), "WO-4", d(11, 19, 18), 4),  # the due day itself
    Visit("V-5", R3, date(2026, 11, 22), "WO-8", d(11, 20, 9), 2),
    Visit("V-7", R1, date(2026, 12, 5)),  # a contract visit, overdue at NOW
    Visit("V-9", R2, date(2026, 12, 20)),  # not due yet
)
COMPLAINTS = (
    Complaint("CP-1", R1, d(11, 6, 11), "WO-2"),
    Complaint("CP-2", R2, d(11, 25, 15)),
    Complaint("CP-4", R3, d(11, 28, 9)),
    Complaint("CP-5", R3, d(11, 29, 9)),
    Complaint("CP-3", R1, d(12, 1, 8)),
)
INSPECTIONS = (
    Inspection("IN-1", R1, "wang", date(2026, 11, 30), d(11, 28, 16)),
    Inspection("IN-2", R2, "zhao", date(2026, 11, 15), d(11, 16, 9)),  # late
    Inspection("IN-3", R3, "qian", date(2026, 11, 20)),  # never
)


# --- the seed, written through the rules ---------------------------------------------------

CHECKS = {wo.STREAM: wo.check, vi.STREAM: vi.check, co.STREAM: co.check,
          ins.STREAM: ins.check}


class Seeder:
    def __init__(self, ch: ChdbClickHouse) -> None:
        self.ch = ch

    def do(self, stream: str, rid: str, kind: str, at: datetime, payload: dict[str, Any],
           actor: str = "duty") -> None:
        history = lq.history(self.ch, stream, rid)
        change = Change(f"{rid}-{len(history) + 1}", stream, rid, kind, actor, len(history),
                        payload, "test", at)
        reply = decide(history, change, CHECKS[stream])
        assert reply.ok, (rid, kind, reply.message)
        self.ch.insert_columns("ledger_events", event_columns([Event(
            stream, rid, reply.seq, change.request_id, kind, actor, at, payload, "test")]))


def seed(ch: ChdbClickHouse) -> None:
    s = Seeder(ch)
    for o in ORDERS:
        w = wo.STREAM
        s.do(w, o.oid, wo.OPEN, o.opened, {
            "source": "phone", "caller": "王工", "contact": "138", "organisation": "某厂",
            "station": "MN" + o.oid, "reason": "离线", "class": "technical_service",
            "region": o.region, "stops_system": o.stops})
        s.do(w, o.oid, wo.ASSIGN, o.opened + M, {"engineer": o.engineer})
        for kind, at in ((wo.CONTACT, o.contact), (wo.RESPOND, o.respond),
                         (wo.ARRIVE, o.arrive)):
            if at is not None:
                s.do(w, o.oid, kind, at, {}, actor=o.engineer)
        for at in o.notes:
            s.do(w, o.oid, wo.NOTE, at, {"text": "进展 progress"}, actor=o.engineer)
        if o.resolve is not None:
            s.do(w, o.oid, wo.RESOLVE, o.resolve, {
                "cause": "c", "action": "a", "result": "r",
                **({"report": "report.pdf"} if o.arrive else {})}, actor=o.engineer)
            s.do(w, o.oid, wo.VERIFY, o.resolve + 10 * M, {"verification": "数据恢复"})
            s.do(w, o.oid, wo.CLOSE, o.resolve + 20 * M, {})
    for v in VISITS:
        plan: dict[str, Any] = {"enterprise": "某厂", "region": v.region,
                                "due": v.due.isoformat()}
        if v.work_order:
            plan |= {"reason": vi.WORK_ORDER, "work_order_id": v.work_order}
        else:
            plan |= {"reason": vi.CONTRACT, "contract_no": "HT-" + v.vid}
        s.do(vi.STREAM, v.vid, vi.PLAN, datetime.combine(v.due, datetime.min.time())
             - timedelta(days=7), plan)
        if v.done is not None:
            s.do(vi.STREAM, v.vid, vi.RECORD, v.done, {
                "channel": vi.PHONE, "contact": "张总", "satisfaction": v.score})
    for c in COMPLAINTS:
        s.do(co.STREAM, c.cid, co.RECEIVE, c.received, {
            "complainant": "张总", "contact": "139", "organisation": "某厂",
            "region": c.region, "received_via": "phone", "text": "响应慢",
            **({"work_order_id": c.work_order} if c.work_order else {})})
    for i in INSPECTIONS:
        planned = datetime.combine(i.due, datetime.min.time()) - timedelta(days=10)
        s.do(ins.STREAM, i.iid, ins.PLAN, planned, {
            "kind": ins.PLATFORM, "region": i.region, "template": "platform",
            "items": ["数据完整性 integrity"], "due": i.due.isoformat(),
            "inspector": i.inspector})
        if i.completed is not None:
            s.do(ins.STREAM, i.iid, ins.START, i.completed - H, {}, actor=i.inspector)
            s.do(ins.STREAM, i.iid, ins.RECORD, i.completed - 30 * M, {
                "item": "数据完整性 integrity", "result": ins.OK}, actor=i.inspector)
            s.do(ins.STREAM, i.iid, ins.COMPLETE, i.completed, {"summary": "正常"},
                 actor=i.inspector)


# --- the expected figures, by plain loops over the description ----------------------------


def in_month(t: datetime | date, month: str) -> bool:
    return f"{t.year:04d}-{t.month:02d}" == month


@dataclass
class Expect:
    orders: int = 0
    counts: dict[str, list[int]] = field(default_factory=lambda: {
        k: [0, 0] for k in ("fc", "resp", "arr", "visits", "insp")})  # on time, counted
    scores: list[int] = field(default_factory=list)
    complaints: int = 0
    breaches: int = 0


def clocks(o: Order) -> list[tuple[str, datetime, datetime | None]]:
    """(name, due, met) of the order's contact, response and on-site clocks."""
    out = [("fc", o.opened + LIMIT_CONTACT, o.contact)]
    if o.stops:
        out.append(("resp", o.opened + LIMIT_RESPONSE, o.respond))
        out.append(("arr", o.opened + LIMIT_ON_SITE, o.arrive or o.resolve))
    return out


def breaches_at(o: Order, now: datetime) -> int:
    late = sum(1 for _n, due, met in clocks(o) if (met is None and now > due)
               or (met is not None and met > due))
    # the daily closing note: each day the order was open, due at the next midnight,
    # met by a note, the resolution or the close that day
    last = (o.resolve + 20 * M) if o.resolve else now
    entries = [*o.notes, *((o.resolve, o.resolve + 20 * M) if o.resolve else ())]
    day = o.opened.date()
    while day <= last.date():
        due = datetime.combine(day + timedelta(days=1), datetime.min.time())
        if not any(e.date() == day for e in entries) and now > due:
            late += 1
        day += timedelta(days=1)
    assert last - o.opened < timedelta(days=7)  # no weekly entry is due in this seed
    return late


def engineer_of(work_order: str) -> str:
    return next((o.engineer for o in ORDERS if o.oid == work_order), "")


def expected(month: str, by: str, now: datetime = NOW,
             sees: Callable[[str], bool] = lambda r: True) -> dict[str, Expect]:
    out: dict[str, Expect] = {}

    def row(region: str, engineer: str) -> Expect:
        return out.setdefault(region if by == "region" else engineer, Expect())

    for o in ORDERS:
        if not sees(o.region):
            continue
        if in_month(o.opened, month):
            e = row(o.region, o.engineer)
            e.orders += 1
            e.breaches += breaches_at(o, now)
        for name, due, met in clocks(o):
            on_time = met is not None and met <= due
            if met is None and due >= now:
                continue  # pending
            if in_month(met if on_time and met else due, month):
                c = row(o.region, o.engineer).counts[name]
                c[0] += on_time
                c[1] += 1
    for v in VISITS:
        if not sees(v.region):
            continue
        eng = engineer_of(v.work_order)
        if in_month(v.due, month) and not (v.done is None and now.date() <= v.due):
            c = row(v.region, eng).counts["visits"]
            c[0] += v.done is not None and v.done.date() <= v.due
            c[1] += 1
        if v.done is not None and v.score is not None and in_month(v.done, month):
            row(v.region, eng).scores.append(v.score)
    for cp in COMPLAINTS:
        if sees(cp.region) and in_month(cp.received, month):
            row(cp.region, engineer_of(cp.work_order)).complaints += 1
    for i in INSPECTIONS:
        if not sees(i.region):
            continue
        if in_month(i.due, month) and not (i.completed is None and now.date() <= i.due):
            c = row(i.region, i.inspector).counts["insp"]
            c[0] += i.completed is not None and i.completed.date() <= i.due
            c[1] += 1
    return out


def rate_text(c: list[int]) -> str:
    return "—" if c[1] == 0 else f"{100 * c[0] / c[1]:.1f}% ({c[0]}/{c[1]})"


def shown(e: Expect) -> list[str]:
    """A row as the page's table shows it, in its column order."""
    sat = "—" if not e.scores else f"{sum(e.scores) / len(e.scores):.2f} ({len(e.scores)})"
    return [str(e.orders), rate_text(e.counts["fc"]), rate_text(e.counts["resp"]),
            rate_text(e.counts["arr"]), rate_text(e.counts["visits"]), sat,
            str(e.complaints), str(e.breaches), rate_text(e.counts["insp"])]


def total(rows: dict[str, Expect]) -> Expect:
    t = Expect()
    for e in rows.values():
        t.orders += e.orders
        t.complaints += e.complaints
        t.breaches += e.breaches
        t.scores += e.scores
        for k, c in e.counts.items():
            t.counts[k][0] += c[0]
            t.counts[k][1] += c[1]
    return t


def test_the_expectation_is_what_the_seed_says_by_hand():
    """The loops above against a few numbers read off the seed by eye, so a slip in
    them cannot hide behind the page agreeing with it."""
    nov = expected(NOV, "region")
    r1 = nov[R1]
    assert (r1.orders, r1.counts["fc"], r1.counts["resp"], r1.counts["arr"]) == (
        3, [2, 3], [2, 2], [2, 2])
    assert (r1.counts["visits"], r1.scores, r1.complaints, r1.breaches,
            r1.counts["insp"]) == ([1, 3], [5, 3], 1, 1, [1, 1])
    assert nov[R2].counts["arr"] == [1, 1] and nov[R3].complaints == 2
    dec = expected(DEC, "region")
    assert (dec[R1].counts["resp"], dec[R1].counts["arr"], dec[R1].breaches) == (
        [0, 1], [0, 1], 2)
    assert dec[R1].counts["visits"] == [0, 1]  # V-7 overdue
    assert dec[R2].orders == 1 and dec[R2].counts["fc"] == [0, 0]  # WO-7 pending
    assert dec[R2].counts["visits"] == [0, 0]  # V-9 not due


# --- the pure shaping -------------------------------------------------------------------


def test_month_options_default_to_the_last_full_month():
    now = datetime(2026, 1, 15, 8)
    opts = fig.month_options(now)
    assert opts[:3] == ["2026-01", "2025-12", "2025-11"] and len(opts) == 13
    assert fig.default_month(now) == "2025-12"
    assert "本月至今" in fig.month_label("2026-01", now)
    assert "上月" in fig.month_label("2025-12", now)
    assert fig.month_label("2025-11", now) == "2025-11"
    assert fig.in_progress("2026-01", now) and not fig.in_progress("2025-12", now)


@pytest.mark.parametrize(("score", "band"), [
    (100.0, fig.FULL), (90.0, fig.FULL), (89.99, fig.PRO_RATA), (70.0, fig.PRO_RATA),
    (69.99, fig.NO_FEE), (0.0, fig.NO_FEE)])
def test_fee_band_edges(score, band):
    assert fig.fee_band(score, SETTINGS.quality) == band


def test_rates_show_their_counts_and_nothing_counted_is_a_dash():
    row = q.QualityRow(NOV, "region", R1, orders_opened=2, first_contact_counted=3,
                       first_contact_on_time=2, satisfaction_scores=2, satisfaction_sum=9)
    (out,) = fig.shown_rows([row])
    assert out["on_time_first_contact"] == "66.7% (2/3)"
    assert out["on_time_response"] == "—" and out["satisfaction"] == "4.50 (2)"
    (nums,) = fig.figure_rows([row])
    assert nums["on_time_first_contact"] == 66.7 and nums["on_time_response"] is None
    assert fig.chart_rows([row]) == [{"group": R1, "figure": q.FIGURE_LABELS[
        "on_time_first_contact"], "rate": 66.7, "on_time": 2, "counted": 3}]


def test_the_breakdown_says_when_the_score_was_kept_to_zero():
    # nothing counted: every figure earns its full points (100); 25 complaints take 125
    row = q.QualityRow(NOV, "region", R1, complaints=25)
    rows = {r["item"]: r for r in fig.score_rows(q.score(row, SETTINGS.quality),
                                                 SETTINGS.quality)}
    assert rows[bi("指标得分小计", "figures' points")]["earned"] == "100.00"
    assert rows[bi("投诉扣分", "complaints deduction")]["earned"] == "-125.00"
    final = rows[bi("月度得分", "monthly score")]
    assert final["earned"] == "0.00" and "-25.00" in final["value"]
    assert "—" in rows[q.FIGURE_LABELS["satisfaction"]]["value"]


def test_a_subcontractor_is_shown_only_when_all_its_regions_are_seen():
    shown_, hidden = fig.visible_subcontractors(SETTINGS.quality, lambda r: r == R1)
    assert (shown_, hidden) == (["川渝运维"], ["华东运维"])
    assert [s.name for s in fig.only(SETTINGS.quality, shown_).subcontractors] == ["川渝运维"]


def test_scoped_facts_hold_only_the_users_regions():
    o = q.OrderFacts("A", R1, "li", T1, None, False, q.ClockFacts(T1))
    p = q.OrderFacts("B", R2, "zhao", T1, None, False, q.ClockFacts(T1))
    f = fig.scoped(Facts([o, p], [], [], []), lambda r: r == R2)
    assert [x.work_order_id for x in f.orders] == ["B"]


# --- the page under AppTest -------------------------------------------------------------


class NoClose:
    def __init__(self, ch: ChdbClickHouse) -> None:
        self.ch = ch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ch, name)

    def close(self) -> None:
        pass


class NoLedger:
    """The page only reads: any change it would submit is a failure of this test."""

    def submit(self, change: Change, wait_s: float | None = None) -> Reply:
        raise AssertionError(f"the quality page submitted {change}")


def make_user(name: str, *roles: Role, regions: tuple[str, ...] = ()) -> User:
    return User(username=name, display_name=name, roles=frozenset(roles),
                regions=frozenset(regions), active=True)


QUALITY = make_user("quality", Role.QUALITY)
ENGINEER = make_user("eng.ygcy", Role.FIELD_ENGINEER, regions=(R1,))


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse() as conn:
        migrate(conn)
        seed(conn)
        yield conn


@pytest.fixture()
def page(monkeypatch: pytest.MonkeyPatch, chdb: ChdbClickHouse) -> None:
    monkeypatch.setattr(widgets, "now_local", lambda: NOW)
    monkeypatch.setattr(quality_page, "connect", lambda dsn: NoClose(chdb))
    monkeypatch.setattr(quality_page, "ledger", lambda: NoLedger())
    monkeypatch.setattr(quality_page, "service", lambda: SETTINGS)
    st.cache_data.clear()
    data.reset_breaker()


def _script() -> None:
    import streamlit as st

    from dashboards import quality_page

    quality_page.render(st.session_state["quality_test_user"])


def _open(user: User) -> AppTest:
    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["quality_test_user"] = user
    at.run()
    assert not at.exception, at.exception
    return at


def _rows(at: AppTest, index: int = 0) -> list[list[str]]:
    frame = at.table[index].value
    return [[str(v) for v in r] for r in frame.itertuples(index=False)]


def _texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.title, *at.subheader, *at.markdown, *at.caption,
                               *at.error, *at.warning, *at.info, *at.success)]
    return "\n".join(str(p) for p in parts)


def test_quality_sees_last_months_figures_by_region(page):
    at = _open(QUALITY)
    assert at.selectbox(key=quality_page.MONTH_KEY).value == NOV  # the last full month
    exp = expected(NOV, "region")
    rows = {r[0]: r[1:] for r in _rows(at)}
    for region, e in exp.items():
        assert rows[region] == shown(e), region
    assert rows[fig.TOTAL] == shown(total(exp))
    # every region is listed, those without records with nothing counted
    assert rows["浙闽赣"] == ["0", "—", "—", "—", "—", "—", "0", "0", "—"]
    assert "ledger_events" in _texts(at)


def test_by_engineer(page):
    at = _open(QUALITY)
    at.radio(key=quality_page.BY_KEY).set_value("engineer").run()
    assert not at.exception, at.exception
    exp = expected(NOV, "engineer")
    rows = {r[0]: r[1:] for r in _rows(at)}
    assert set(rows) == {*(g or fig.UNASSIGNED for g in exp), fig.TOTAL}
    for eng, e in exp.items():
        assert rows[eng or fig.UNASSIGNED] == shown(e), eng
    assert exp[""].complaints == 3  # CP-2, CP-4 and CP-5 name no work order
    assert rows[fig.TOTAL] == shown(total(exp))


def test_the_month_in_progress_counts_only_what_is_due(page):
    at = _open(QUALITY)
    at.selectbox(key=quality_page.MONTH_KEY).set_value(DEC).run()
    assert not at.exception, at.exception
    exp = expected(DEC, "region")
    rows = {r[0]: r[1:] for r in _rows(at)}
    for region, e in exp.items():
        assert rows[region] == shown(e), region
    assert any("尚未结束" in i.value for i in at.info)


def _score(rows: dict[str, Expect], rules: Any) -> tuple[float, int, int]:
    """The subcontractor's score by hand: points x min(1, value/target), full points
    when nothing counted, minus the deductions, kept to 0..100, 2 decimals."""
    t = total(rows)

    def part(pts: float, c: list[int], target: float) -> float:
        return pts if c[1] == 0 else pts * min(1.0, c[0] / c[1] / target)

    sat = pts = rules.points["satisfaction"]
    if t.scores:
        sat = pts * min(1.0, sum(t.scores) / len(t.scores) / 4.5)
    raw = (part(25, t.counts["resp"], 1.0) + part(25, t.counts["arr"], 1.0)
           + part(20, t.counts["visits"], 1.0) + sat + part(10, t.counts["insp"], 1.0)
           - 5 * t.complaints - 1 * t.breaches)
    return round(min(100.0, max(0.0, raw)), 2), t.complaints, t.breaches


def test_subcontractor_scores_and_fees(page):
    at = _open(QUALITY)
    exp = expected(NOV, "region")
    rules = SETTINGS.quality
    cy, _, _ = _score({R1: exp[R1]}, rules)
    hd, complaints, breaches = _score({R2: exp[R2], R3: exp[R3]}, rules)
    # by hand: 川渝 25 + 25 + 20/3 + 20*4/4.5 + 10 - 5 - 1 = 78.44: pro rata;
    # 华东 25 + 25 + 20 + 20*3/4.5 + 0 - 15 - 1 = 67.33: no fee
    assert (cy, hd) == (78.44, 67.33) and (complaints, breaches) == (3, 1)
    subs = {r[0]: r for r in _rows(at, 1)}
    assert subs["川渝运维"][2] == "78.44" and subs["华东运维"][2] == "67.33"
    assert "按比例" in subs["川渝运维"][3] and "不支付" in subs["华东运维"][3]
    assert subs["川渝运维"][5] == "¥39,220.00" and subs["华东运维"][5] == "¥0.00"
    # the breakdown of 川渝运维: value, target, points and earned per figure
    breakdown = {r[0]: r[1:] for r in _rows(at, 2)}
    assert breakdown[q.FIGURE_LABELS["return_visit_rate"]] == ["33.3%", "100.0%", "20.00",
                                                               "6.67"]
    assert breakdown[q.FIGURE_LABELS["satisfaction"]] == ["4.00", "4.50", "20.00", "17.78"]
    assert breakdown[bi("投诉扣分", "complaints deduction")][-1] == "-5.00"
    assert breakdown[bi("月度得分", "monthly score")][-1] == "78.44"
    # the rules, as the settings file gives them
    rules_shown = "\n".join(" ".join(r) for r in _rows(at, len(at.table) - 1))
    assert "test-service.toml" in rules_shown and "50,000.00" in rules_shown


def test_an_engineer_sees_only_their_region(page):
    at = _open(ENGINEER)
    rows = {r[0]: r[1:] for r in _rows(at)}
    assert list(rows) == [R1]  # one region: no total row
    assert rows[R1] == shown(expected(NOV, "region", sees=lambda r: r == R1)[R1])
    everything = "\n".join(" ".join(r) for i in range(len(at.table)) for r in _rows(at, i))
    for other in (R2, R3, "zhao", "qian", "华东运维"):
        assert other not in everything
    at.radio(key=quality_page.BY_KEY).set_value("engineer").run()
    rows = {r[0]: r[1:] for r in _rows(at)}
    exp = expected(NOV, "engineer", sees=lambda r: r == R1)
    assert set(rows) == {"li", "wang", fig.TOTAL}
    assert rows["li"] == shown(exp["li"]) and rows["wang"] == shown(exp["wang"])
    assert "华东运维" in _texts(at)  # named as not shown, no figure of it


def test_csv_export_matches_the_table(page):
    at = _open(QUALITY)
    exp = expected(NOV, "region")
    rows = fig.with_total(fig.month_rows(_facts(), NOV, "region", NOW), NOV)
    table, headers = fig.csv_rows(rows, NOV, "region")
    text = export.to_csv(table, headers, fig.RATE_COLUMNS).decode("utf-8-sig")
    got = {r[headers["group"]]: r for r in csv.DictReader(io.StringIO(text))}
    r1 = got[R1]
    assert r1[headers["on_time_first_contact"]] == "66.7%"
    assert r1[headers["first_contact_on_time"]] == "2"
    assert r1[headers["first_contact_counted"]] == "3"
    assert r1[headers["orders_opened"]] == str(exp[R1].orders)
    assert r1[headers["month"]] == NOV
    assert len(at.get("download_button")) == 2


def _facts() -> Facts:
    from admin.quality_facts import load_facts
    from admin.records import Records

    ch = quality_page.connect("")
    return load_facts(Records(NoLedger(), ch, SETTINGS), NOW)


def test_clickhouse_down_is_a_message(page, monkeypatch):
    def refuse(dsn: str) -> Any:
        raise StoreError("ClickHouse at clickhouse://default@127.0.0.1:9000/x did not answer")

    monkeypatch.setattr(quality_page, "connect", refuse)
    at = _open(QUALITY)
    assert data.UNAVAILABLE in [e.value for e in at.error]


def test_calls_are_none():
    assert quality_page.calls(None, NOW, "", "") == []
