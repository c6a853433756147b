"""admin/visits.py: the return-visit rule, the derived state and the visits due, with
fixed times (naive CST) and dates worked out by hand."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from admin import visits as rv
from admin.roles import Role
from admin.service_settings import VisitRules
from pipeline.ledger.model import Change, Event
from tests.unit.rule_log import RuleLog

T0 = datetime(2026, 12, 2, 9, 0)
RID = "RV-WO-20261201-0001"

PLAN_WO: dict[str, Any] = {
    "reason": "work_order", "work_order_id": "WO-20261201-0001", "enterprise": "苏州某化工",
    "region": "苏皖沪", "due": "2026-12-08", "engineer": "eng.li",
}
PLAN_CONTRACT: dict[str, Any] = {
    "reason": "contract", "contract_no": "YW-2026-017", "period": 2,
    "enterprise": "昆明某电厂", "region": "云贵川渝", "due": "2027-01-01",
}
RECORD_OK: dict[str, Any] = {"channel": "phone", "contact": "王工", "satisfaction": 5,
                             "suggestions": "响应很快"}


def change(kind: str, payload: Mapping[str, Any] | None = None, seq: int = 0,
           actor: str = "duty1", record_id: str = RID) -> Change:
    return Change(request_id=f"r{seq}{kind}", stream=rv.STREAM, record_id=record_id,
                  kind=kind, actor=actor, expected_seq=seq, payload=dict(payload or {}))


class Log(RuleLog):
    """Applies the rule as the ledger writer does, and appends (tests/unit/rule_log.py)."""

    def __init__(self, record_id: str = RID) -> None:
        super().__init__(rv, record_id, at=T0, actor="duty1")


# --- derived state ----------------------------------------------------------------------


def test_work_order_visit_after_two_unanswered_calls():
    log = Log().do(rv.PLAN, PLAN_WO)
    log.do(rv.ATTEMPT, {"note": "无人接听"}, at=T0 + timedelta(hours=1))
    log.do(rv.ATTEMPT, {"note": "占线"}, at=T0 + timedelta(hours=3), actor="qa1")
    assert log.state().state == rv.PLANNED
    log.do(rv.RECORD, RECORD_OK, at=T0 + timedelta(days=1), actor="qa1")
    s = log.state()
    assert s.record_id == RID and s.state == rv.DONE and s.opened
    assert s.opened_at == T0 and s.planned_by == "duty1"
    assert (s.reason, s.work_order_id, s.contract_no, s.period) == (
        "work_order", "WO-20261201-0001", "", 0)
    assert (s.enterprise, s.region, s.due, s.engineer) == ("苏州某化工", "苏皖沪",
                                                           date(2026, 12, 8), "eng.li")
    assert [(a.actor, a.note) for a in s.attempts] == [("duty1", "无人接听"), ("qa1", "占线")]
    assert s.attempts[1].at == T0 + timedelta(hours=3)
    assert s.done_at == T0 + timedelta(days=1) and s.done_by == "qa1"
    assert (s.channel, s.contact, s.satisfaction, s.suggestions) == ("phone", "王工", 5,
                                                                     "响应很快")
    assert s.last_seq == 4


def test_contract_visit_and_cancel():
    log = Log("RV-C-YW-2026-017-2").do(rv.PLAN, PLAN_CONTRACT)
    s = log.state()
    assert (s.reason, s.contract_no, s.period, s.work_order_id) == (
        "contract", "YW-2026-017", 2, "")
    log.do(rv.CANCEL, {"reason": "合同终止"}, at=T0 + timedelta(hours=2), actor="sup")
    s = log.state()
    assert s.state == rv.CANCELLED and s.cancelled_by == "sup"
    assert s.cancel_reason == "合同终止" and s.cancelled_at == T0 + timedelta(hours=2)
    assert s.satisfaction is None


def test_derive_orders_by_seq_and_of_nothing():
    log = Log().do(rv.PLAN, PLAN_WO).do(rv.ATTEMPT, {"note": "x"}).do(rv.RECORD, RECORD_OK)
    assert rv.derive(list(reversed(log.events))) == log.state()
    empty = rv.derive([], "X")
    assert empty.record_id == "X" and empty.state == "" and not empty.opened


def test_next_kinds():
    assert rv.next_kinds("") == (rv.PLAN,)
    assert rv.next_kinds(rv.PLANNED) == (rv.ATTEMPT, rv.RECORD, rv.CANCEL)
    assert rv.next_kinds(rv.DONE) == () and rv.next_kinds(rv.CANCELLED) == ()


def test_contract_names_labels_and_roles():
    assert rv.STREAM == "visit"
    assert set(rv.KIND_LABELS) == set(rv.KINDS) == set(rv.FORMS) == set(rv.KIND_ROLES)
    assert set(rv.STATE_LABELS) == set(rv.STATES)
    for label in [*rv.KIND_LABELS.values(), *rv.STATE_LABELS.values()]:
        zh, en = label.split(" ", 1)
        assert zh and en
    doers = {Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR, Role.QUALITY}
    for verb in (rv.PLAN, rv.ATTEMPT, rv.RECORD):
        assert rv.KIND_ROLES[verb] == doers
    assert rv.KIND_ROLES[rv.CANCEL] == {Role.DUTY_SUPERVISOR}
    score = next(f for f in rv.FORMS[rv.RECORD] if f.name == "satisfaction")
    assert (score.kind, score.low, score.high, score.required) == ("int", 1, 5, True)


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(("base", "patch", "needle"), [
    (PLAN_WO, {"reason": "birthday"}, "reason 'birthday' is unknown"),
    (PLAN_WO, {"work_order_id": " "}, "work_order_id"),
    (PLAN_CONTRACT, {"contract_no": ""}, "contract number"),
    (PLAN_CONTRACT, {"period": 0}, "period 0"),
    (PLAN_CONTRACT, {"period": "2"}, "period '2'"),
    (PLAN_CONTRACT, {"period": True}, "period True"),
    (PLAN_WO, {"enterprise": ""}, "enterprise"),
    (PLAN_WO, {"region": "西藏"}, "not a service region"),
    (PLAN_WO, {"due": "12/08/2026"}, "not a date"),
    (PLAN_WO, {"due": None}, "not a date"),
    (PLAN_WO, {"enterprise": "x" * (rv.MAX_TEXT + 1)}, "过长"),
])
def test_plan_refusals(base, patch, needle):
    assert needle in Log().refused(rv.PLAN, {**base, **patch})


def test_contract_plan_without_period_is_accepted():
    p = {k: v for k, v in PLAN_CONTRACT.items() if k != "period"}
    assert rv.derive(Log().do(rv.PLAN, p).events).period == 0


def test_general_refusals():
    log = Log()
    assert "unknown return-visit action" in log.refused("call")
    assert "sign in" in log.refused(rv.PLAN, PLAN_WO, actor=" ")
    for kind, payload in [(rv.ATTEMPT, {"note": "x"}), (rv.RECORD, RECORD_OK),
                          (rv.CANCEL, {"reason": "x"})]:
        assert "not planned" in log.refused(kind, payload)
    log.do(rv.PLAN, PLAN_WO)
    assert "already planned" in log.refused(rv.PLAN, PLAN_WO)
    assert "note" in log.refused(rv.ATTEMPT, {"note": ""})
    assert "reason" in log.refused(rv.CANCEL, {})


@pytest.mark.parametrize(("patch", "needle"), [
    ({"channel": "wechat"}, "channel 'wechat'"),
    ({"channel": ""}, "channel ''"),
    ({"contact": ""}, "contact person"),
    ({"satisfaction": 0}, "satisfaction 0"),
    ({"satisfaction": 6}, "satisfaction 6"),
    ({"satisfaction": 4.5}, "satisfaction 4.5"),
    ({"satisfaction": "5"}, "satisfaction '5'"),
    ({"satisfaction": True}, "satisfaction True"),
    ({"satisfaction": None}, "satisfaction None"),
    ({"suggestions": 3}, "suggestions must be text"),
])
def test_record_refusals(patch, needle):
    log = Log().do(rv.PLAN, PLAN_WO)
    assert needle in log.refused(rv.RECORD, {**RECORD_OK, **patch})


@pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
def test_every_score_1_to_5_is_accepted_on_site_and_without_suggestions(score):
    log = Log().do(rv.PLAN, PLAN_WO)
    log.do(rv.RECORD, {"channel": "on_site", "contact": "李", "satisfaction": score})
    assert log.state().satisfaction == score and log.state().suggestions == ""


def test_done_and_cancelled_visits_are_final():
    done = Log().do(rv.PLAN, PLAN_WO).do(rv.RECORD, RECORD_OK, actor="qa1")
    cancelled = Log().do(rv.PLAN, PLAN_WO).do(rv.CANCEL, {"reason": "x"}, actor="sup")
    for kind, payload in [(rv.ATTEMPT, {"note": "x"}), (rv.RECORD, RECORD_OK),
                          (rv.CANCEL, {"reason": "x"})]:
        assert "made by qa1" in done.refused(kind, payload)
        assert "cancelled by sup" in cancelled.refused(kind, payload)


# --- record ids and months ----------------------------------------------------------------


def test_visit_record_id():
    assert rv.visit_record_id("work_order", "WO-20261201-0001") == "RV-WO-20261201-0001"
    assert rv.visit_record_id("contract", " YW-7 ", 3) == "RV-C-YW-7-3"
    with pytest.raises(ValueError, match="period 0"):
        rv.visit_record_id("contract", "YW-7")
    with pytest.raises(ValueError, match="needs the work order id"):
        rv.visit_record_id("work_order", " ")
    with pytest.raises(ValueError, match="unknown"):
        rv.visit_record_id("x", "a", 1)


@pytest.mark.parametrize(("start", "months", "end"), [
    (date(2026, 12, 15), 3, date(2027, 3, 15)),
    (date(2026, 11, 30), 3, date(2027, 2, 28)),
    (date(2027, 11, 30), 3, date(2028, 2, 29)),  # a leap year
    (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2026, 8, 31), 3, date(2026, 11, 30)),
    (date(2026, 10, 1), 12, date(2027, 10, 1)),
])
def test_add_months(start, months, end):
    assert rv.add_months(start, months) == end


# --- visits due -------------------------------------------------------------------------

RULES = VisitRules(after_close_days=7, contract_every_months=3)


def visit(record_id: str, plan: Mapping[str, Any], outcome: str = "planned",
          at: datetime = T0) -> rv.VisitState:
    log = Log(record_id).do(rv.PLAN, plan, at=at)
    if outcome == "done":
        log.do(rv.RECORD, RECORD_OK, at=at)
    elif outcome == "cancelled":
        log.do(rv.CANCEL, {"reason": "x"}, at=at, actor="sup")
    return log.state()


def wo_plan(wo: str, due: str = "2026-12-01") -> dict[str, Any]:
    return {**PLAN_WO, "work_order_id": wo, "due": due}


def c_plan(contract: str, due: str, period: int = 1) -> dict[str, Any]:
    return {**PLAN_CONTRACT, "contract_no": contract, "due": due, "period": period}


def order(wo: str, closed: datetime) -> rv.ClosedOrder:
    return rv.ClosedOrder(wo, closed, "苏皖沪", "某企业", "eng.li")


def contract(no: str, start: date, end: date) -> rv.ContractRef:
    return rv.ContractRef("某企业", no, "云贵川渝", start, end)


def test_visits_due_worked_by_hand():
    today = date(2026, 12, 10)
    orders = [
        order("WO-1", datetime(2026, 12, 2, 15, 30)),  # due 12-09: overdue on 12-10
        order("WO-2", datetime(2026, 12, 3, 8, 0)),  # due 12-10: not overdue that day
        order("WO-3", datetime(2026, 12, 1, 9, 0)),  # visited: gone
        order("WO-4", datetime(2026, 12, 5, 23, 59)),  # due 12-12, planned: covered
        order("WO-5", datetime(2026, 11, 20, 9, 0)),  # visit waived: gone
    ]
    contracts = [
        # visited 2026-10-01: next period 10-01 .. 2027-01-01, its 2nd
        contract("C1", date(2026, 1, 15), date(2027, 1, 14)),
        # never visited: Aug 31 + 3 months = Nov 30 (no Nov 31): overdue
        contract("C2", date(2026, 8, 31), date(2027, 8, 30)),
        # starts next year: not begun, not listed
        contract("C3", date(2027, 1, 1), date(2027, 12, 31)),
        # ended 2026-03-15 before a quarter passed: due on its end date, overdue
        contract("C4", date(2026, 2, 1), date(2026, 3, 15)),
        # period 1 (due 09-01) waived: period 2 runs 09-01 .. 12-01, overdue
        contract("C5", date(2026, 6, 1), date(2026, 12, 31)),
        # visited on its last day: nothing more
        contract("C6", date(2026, 1, 1), date(2026, 6, 30)),
        # period 1 planned: covered
        contract("C7", date(2026, 10, 1), date(2027, 9, 30)),
    ]
    visits = [
        visit("RV-WO-3", wo_plan("WO-3"), "done", datetime(2026, 12, 4, 10, 0)),
        visit("RV-WO-4", wo_plan("WO-4", "2026-12-12")),
        visit("RV-WO-5", wo_plan("WO-5"), "cancelled"),
        visit("RV-C-C1-1", c_plan("C1", "2026-04-15"), "done", datetime(2026, 10, 1, 10, 0)),
        visit("RV-C-C5-1", c_plan("C5", "2026-09-01"), "cancelled",
              datetime(2026, 8, 1, 10, 0)),
        visit("RV-C-C6-1", c_plan("C6", "2026-04-01"), "done", datetime(2026, 6, 30, 17, 0)),
        visit("RV-C-C7-1", c_plan("C7", "2027-01-01")),
    ]
    got = rv.visits_due(orders, contracts, visits, today, RULES)
    assert [(d.key, d.due, d.overdue, d.covered_by, d.since) for d in got] == [
        ("RV-C-C4-1", date(2026, 3, 15), True, "", date(2026, 2, 1)),
        ("RV-C-C2-1", date(2026, 11, 30), True, "", date(2026, 8, 31)),
        ("RV-C-C5-2", date(2026, 12, 1), True, "", date(2026, 9, 1)),
        ("RV-WO-1", date(2026, 12, 9), True, "", date(2026, 12, 2)),
        ("RV-WO-2", date(2026, 12, 10), False, "", date(2026, 12, 3)),
        ("RV-WO-4", date(2026, 12, 12), False, "RV-WO-4", date(2026, 12, 5)),
        ("RV-C-C1-2", date(2027, 1, 1), False, "", date(2026, 10, 1)),
        ("RV-C-C7-1", date(2027, 1, 1), False, "RV-C-C7-1", date(2026, 10, 1)),
    ]
    wo1 = got[3]
    assert (wo1.reason, wo1.work_order_id, wo1.engineer, wo1.region, wo1.period) == (
        "work_order", "WO-1", "eng.li", "苏皖沪", 0)
    c1 = got[6]
    assert (c1.reason, c1.contract_no, c1.period, c1.region, c1.work_order_id) == (
        "contract", "C1", 2, "云贵川渝", "")


def test_a_visit_planned_by_hand_under_another_id_covers_the_due():
    got = rv.visits_due([order("WO-1", datetime(2026, 12, 2, 15, 30))], [],
                        [visit("V-MANUAL", wo_plan("WO-1"))], date(2026, 12, 3), RULES)
    assert [(d.key, d.covered_by) for d in got] == [("RV-WO-1", "V-MANUAL")]


def test_a_taken_contract_id_is_skipped():
    c8 = contract("C8", date(2026, 10, 1), date(2027, 9, 30))
    visits = [visit("RV-C-C8-1", c_plan("C8", "2027-01-01"), "done",
                    datetime(2026, 11, 1, 10, 0)),
              # a record under C8's next id, but for another contract, cancelled
              visit("RV-C-C8-2", c_plan("C9", "2027-01-01"), "cancelled")]
    got = rv.visits_due([], [c8], visits, date(2026, 12, 1), RULES)
    # 2026-11-01 + 3 months = 2027-02-01
    assert [(d.key, d.period, d.due) for d in got] == [("RV-C-C8-3", 3, date(2027, 2, 1))]


def test_after_close_days_and_months_come_from_the_rules():
    rules = VisitRules(after_close_days=3, contract_every_months=1)
    got = rv.visits_due([order("WO-1", datetime(2026, 12, 2, 15, 30))],
                        [contract("C1", date(2026, 1, 31), date(2026, 12, 31))], [],
                        date(2026, 1, 31), rules)
    assert [(d.key, d.due) for d in got] == [("RV-C-C1-1", date(2026, 2, 28)),
                                             ("RV-WO-1", date(2026, 12, 5))]


def test_plan_payload_is_a_valid_plan():
    got = rv.visits_due([order("WO-1", datetime(2026, 12, 2, 15, 30))],
                        [contract("C1", date(2026, 1, 15), date(2027, 1, 14))], [],
                        date(2026, 12, 3), RULES)
    for d in got:
        p = rv.plan_payload(d)
        assert rv.check([], change(rv.PLAN, p, record_id=d.key)) is None
    assert rv.plan_payload(got[0]) == {
        "reason": "contract", "contract_no": "C1", "period": 1, "enterprise": "某企业",
        "region": "云贵川渝", "due": "2026-04-15"}
    assert rv.plan_payload(got[1]) == {
        "reason": "work_order", "work_order_id": "WO-1", "engineer": "eng.li",
        "enterprise": "某企业", "region": "苏皖沪", "due": "2026-12-09"}


# --- properties -------------------------------------------------------------------------

_PAYLOADS: dict[str, list[dict[str, Any]]] = {
    rv.PLAN: [PLAN_WO, PLAN_CONTRACT, {**PLAN_WO, "work_order_id": ""},
              {**PLAN_CONTRACT, "period": -1}],
    rv.ATTEMPT: [{"note": "x"}, {"note": ""}],
    rv.RECORD: [{"channel": c, "contact": n, "satisfaction": s}
                for c in ["phone", "on_site", "fax"] for n in ["王", ""]
                for s in [0, 1, 3, 5, 6, "4"]],
    rv.CANCEL: [{"reason": "r"}, {"reason": ""}],
    "bogus": [{}],
}
_step = st.tuples(st.sampled_from(sorted(_PAYLOADS)), st.integers(0, 40),
                  st.sampled_from(["duty1", "qa1", ""]))
_ALLOWED = {(rv.PLAN, "", rv.PLANNED), (rv.ATTEMPT, rv.PLANNED, rv.PLANNED),
            (rv.RECORD, rv.PLANNED, rv.DONE), (rv.CANCEL, rv.PLANNED, rv.CANCELLED)}


def _run(steps: list[tuple[str, int, str]]) -> Log:
    log = Log()
    state = ""
    attempts = 0
    for n, (verb, pick, actor) in enumerate(steps):
        options = _PAYLOADS[verb]
        payload = options[pick % len(options)]
        c = change(verb, payload, len(log.events), actor)
        why = rv.check(log.events, c)
        if why is not None:
            assert " / " in why
            continue
        log.events.append(Event(rv.STREAM, RID, len(log.events) + 1, c.request_id, verb,
                                actor, T0 + timedelta(minutes=n), dict(payload)))
        nxt = {rv.PLAN: rv.PLANNED, rv.ATTEMPT: state, rv.RECORD: rv.DONE,
               rv.CANCEL: rv.CANCELLED}[verb]
        assert (verb, state, nxt) in _ALLOWED
        assert actor
        state = nxt
        attempts += verb == rv.ATTEMPT
        s = log.state()
        assert s.state == state and len(s.attempts) == attempts
        if state == rv.DONE:
            assert s.satisfaction is not None and 1 <= s.satisfaction <= 5
            assert s.channel in ("phone", "on_site") and s.contact
        else:
            assert s.satisfaction is None
        if s.reason == rv.WORK_ORDER:
            assert s.work_order_id
        if s.reason == rv.CONTRACT:
            assert s.contract_no and s.period >= 0
    return log


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, max_size=30))
def test_no_sequence_reaches_a_forbidden_state(steps):
    _run(steps)


@settings(max_examples=200, deadline=None)
@given(st.lists(_step, max_size=30), st.randoms(use_true_random=False))
def test_derive_is_the_same_for_events_in_any_order(steps, rnd):
    log = _run(steps)
    shuffled = list(log.events)
    rnd.shuffle(shuffled)
    assert rv.derive(shuffled) == log.state()


_DAY0 = date(2026, 1, 1)


@st.composite
def _world(draw: st.DrawFn) -> tuple[list[rv.ClosedOrder], list[rv.ContractRef],
                                     list[rv.VisitState], date]:
    def day(hi: int = 700) -> date:
        return _DAY0 + timedelta(days=draw(st.integers(0, hi)))

    orders = [order(f"WO-{i}", datetime.combine(day(), datetime.min.time())
                    + timedelta(minutes=draw(st.integers(0, 1439))))
              for i in range(draw(st.integers(0, 5)))]
    contracts = []
    for i in range(draw(st.integers(0, 4))):
        start = day()
        contracts.append(contract(f"C{i}", start,
                                  start + timedelta(days=draw(st.integers(1, 800)))))
    visits = []
    for n in range(draw(st.integers(0, 8))):
        outcome = draw(st.sampled_from(["planned", "done", "cancelled"]))
        at = datetime.combine(day(), datetime.min.time())
        if draw(st.booleans()) and orders:
            o = draw(st.sampled_from(orders)).work_order_id
            visits.append(visit(f"V{n}", wo_plan(o, day().isoformat()), outcome, at))
        elif contracts:
            c = draw(st.sampled_from(contracts)).contract_no
            visits.append(visit(f"V{n}", c_plan(c, day().isoformat()), outcome, at))
    return orders, contracts, visits, day(900)


@settings(max_examples=300, deadline=None)
@given(_world())
def test_due_list_properties(world):
    orders, contracts, visits, today = world
    got = rv.visits_due(orders, contracts, visits, today, RULES)
    assert len({d.key for d in got}) == len(got)
    assert [d.due for d in got] == sorted(d.due for d in got)
    for d in got:
        assert d.overdue == (today > d.due)
        if d.reason == rv.WORK_ORDER:
            mine = [v for v in visits if v.work_order_id == d.work_order_id]
            o = next(o for o in orders if o.work_order_id == d.work_order_id)
            assert d.due == o.closed_at.date() + timedelta(days=7)
        else:
            mine = [v for v in visits if v.contract_no == d.contract_no]
            c = next(c for c in contracts if c.contract_no == d.contract_no)
            assert d.since <= today and c.start <= d.since < c.end
            assert d.due == min(rv.add_months(d.since, 3), c.end)
        assert all(v.state != rv.DONE or d.reason == rv.CONTRACT for v in mine)
        waiting = {v.record_id for v in mine if v.state == rv.PLANNED}
        assert (d.covered_by in waiting) if waiting else d.covered_by == ""
    # every closed order not visited nor waived is listed once
    settled = {v.work_order_id for v in visits if v.state in (rv.DONE, rv.CANCELLED)}
    assert sorted(d.work_order_id for d in got if d.reason == rv.WORK_ORDER) == sorted(
        o.work_order_id for o in orders if o.work_order_id not in settled)


@settings(max_examples=200, deadline=None)
@given(_world())
def test_completing_the_visit_removes_it_from_due(world):
    orders, contracts, visits, today = world
    for d in rv.visits_due(orders, contracts, visits, today, RULES):
        if d.covered_by:
            # the planned visit is the one to complete
            done = [visit(v.record_id, _plan_of(v), "done",
                          datetime.combine(today, datetime.min.time()))
                    if v.record_id == d.covered_by else v for v in visits]
        else:
            done = [*visits, visit(d.key, rv.plan_payload(d), "done",
                                   datetime.combine(today, datetime.min.time()))]
        again = rv.visits_due(orders, contracts, done, today, RULES)
        assert d.key not in {x.key for x in again}
        if d.reason == rv.WORK_ORDER:
            assert d.work_order_id not in {x.work_order_id for x in again}
        else:
            # the contract's next period starts today (or it is over)
            nxt = [x for x in again if x.contract_no == d.contract_no]
            assert all(x.since == today and not x.overdue for x in nxt)


def _plan_of(v: rv.VisitState) -> dict[str, Any]:
    p: dict[str, Any] = {"reason": v.reason, "enterprise": v.enterprise,
                         "region": v.region, "due": v.due.isoformat() if v.due else ""}
    if v.reason == rv.WORK_ORDER:
        p["work_order_id"] = v.work_order_id
    else:
        p.update(contract_no=v.contract_no, period=v.period or 1)
    return p
