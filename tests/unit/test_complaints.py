"""admin/complaints.py: the complaint rule and the derived state, with fixed times (naive
CST)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from admin import complaints as co
from admin.roles import Role
from pipeline.ledger.model import Change, Event
from tests.unit.rule_log import RuleLog

T0 = datetime(2026, 12, 2, 9, 0)
TS = "TS-20261202-0001"

RECEIVE: dict[str, Any] = {
    "complainant": "王经理", "contact": "13800000000", "organisation": "苏州某化工",
    "station": "MN_SU_001", "region": "苏皖沪", "work_order_id": "WO-20261201-0003",
    "text": "工程师迟到两天", "received_via": "phone",
}
INVESTIGATE = {"findings": "派工延误：区域工程师休假未转派"}
CAPA: dict[str, Any] = {
    "correction": "当日改派并到场", "corrective_action": "休假前必须转派在办工单",
    "preventive_action": "排班表与派工联动", "owner": "qa.chen", "due": "2026-12-31",
}
REPLY_OK: dict[str, Any] = {"channel": "phone", "text": "已改派并致歉", "customer_accepts": True}
REPLY_NO: dict[str, Any] = {**REPLY_OK, "customer_accepts": False}


def change(kind: str, payload: Mapping[str, Any] | None = None, seq: int = 0,
           actor: str = "qa") -> Change:
    return Change(request_id=f"r{seq}{kind}", stream=co.STREAM, record_id=TS, kind=kind,
                  actor=actor, expected_seq=seq, payload=dict(payload or {}))


class Log(RuleLog):
    """Applies the rule as the ledger writer does, and appends (tests/unit/rule_log.py)."""

    def __init__(self) -> None:
        super().__init__(co, TS, at=T0, actor="qa")


def full_flow() -> Log:
    log = Log()
    log.do(co.RECEIVE, RECEIVE, at=T0, actor="duty1")
    log.do(co.INVESTIGATE, INVESTIGATE, at=T0 + timedelta(hours=3), actor="qa")
    log.do(co.CAPA, CAPA, at=T0 + timedelta(days=1), actor="qa")
    log.do(co.REPLY, REPLY_OK, at=T0 + timedelta(days=1, hours=2), actor="duty2")
    log.do(co.CLOSE, at=T0 + timedelta(days=2), actor="qa")
    return log


# --- derived state ----------------------------------------------------------------------


def test_full_flow_derives_each_step_time_and_actor() -> None:
    s = full_flow().state()
    assert s.record_id == TS and s.state == co.CLOSED and s.opened
    assert (s.complainant, s.contact, s.organisation, s.station, s.region) == (
        "王经理", "13800000000", "苏州某化工", "MN_SU_001", "苏皖沪")
    assert s.work_order_id == "WO-20261201-0003" and s.received_via == "phone"
    assert s.opened_at == T0 and s.received_by == "duty1"
    assert (s.findings, s.investigated_at, s.investigated_by) == (
        INVESTIGATE["findings"], T0 + timedelta(hours=3), "qa")
    assert (s.correction, s.corrective_action, s.preventive_action, s.capa_owner) == (
        CAPA["correction"], CAPA["corrective_action"], CAPA["preventive_action"], "qa.chen")
    assert s.capa_due == date(2026, 12, 31) and s.capa_at == T0 + timedelta(days=1)
    assert (s.reply_channel, s.customer_accepts, s.replied_by) == ("phone", True, "duty2")
    assert s.closed_at == T0 + timedelta(days=2) and s.closed_by == "qa"
    assert [(x.kind, x.actor) for x in s.steps] == [
        (co.RECEIVE, "duty1"), (co.INVESTIGATE, "qa"), (co.CAPA, "qa"), (co.REPLY, "duty2"),
        (co.CLOSE, "qa")]
    assert s.received_month == "2026-12"
    assert s.time_to_close == timedelta(days=2)
    assert s.last_seq == 5


def test_derive_orders_by_seq() -> None:
    log = full_flow()
    assert co.derive(list(reversed(log.events))) == log.state()


def test_reopen_starts_a_new_pass_and_keeps_the_first_close() -> None:
    log = full_flow()
    log.do(co.REOPEN, {"reason": "客户来电：仍未改进"}, at=T0 + timedelta(days=5),
           actor="sup")
    s = log.state()
    assert s.state == co.RECEIVED
    assert s.findings == "" and s.capa_due is None and s.customer_accepts is None
    assert s.closed_at is None and s.first_closed_at == T0 + timedelta(days=2)
    assert [r.text for r in s.reopens] == ["客户来电：仍未改进"]
    assert s.time_to_close == timedelta(days=2)
    assert "close after the customer has had a reply" in log.refused(co.CLOSE)
    log.do(co.INVESTIGATE, {"findings": "复查"}, at=T0 + timedelta(days=6))
    log.do(co.CAPA, CAPA, at=T0 + timedelta(days=6))
    log.do(co.REPLY, REPLY_OK, at=T0 + timedelta(days=7))
    log.do(co.CLOSE, at=T0 + timedelta(days=8))
    s = log.state()
    assert s.state == co.CLOSED and s.closed_at == T0 + timedelta(days=8)
    assert s.first_closed_at == T0 + timedelta(days=2)
    assert [x.kind for x in s.steps].count(co.CLOSE) == 2


def test_steps_repeat_while_current_and_notes_go_anywhere() -> None:
    log = Log()
    log.do(co.RECEIVE, RECEIVE)
    log.do(co.NOTE, {"text": "客户要求书面答复"})
    log.do(co.INVESTIGATE, {"findings": "初查"})
    log.do(co.INVESTIGATE, {"findings": "补充：备件缺货"})
    assert log.state().findings == "补充：备件缺货"
    log.do(co.CAPA, CAPA)
    log.do(co.CAPA, {**CAPA, "due": "2027-01-15"})
    assert log.state().capa_due == date(2027, 1, 15)
    log.do(co.REPLY, REPLY_NO)
    log.do(co.REPLY, REPLY_OK)
    s = log.state()
    assert s.customer_accepts is True and [n.text for n in s.notes] == ["客户要求书面答复"]
    assert co.NOTE not in [x.kind for x in s.steps]


def test_close_after_a_refused_reply_needs_a_note() -> None:
    log = Log()
    log.do(co.RECEIVE, RECEIVE)
    log.do(co.INVESTIGATE, INVESTIGATE)
    log.do(co.CAPA, CAPA)
    log.do(co.REPLY, REPLY_NO)
    assert "did not accept" in log.refused(co.CLOSE)
    assert "did not accept" in log.refused(co.CLOSE, {"note": "  "})
    log.do(co.CLOSE, {"note": "客户诉求超出合同范围，已由销售跟进"})
    assert log.state().close_note == "客户诉求超出合同范围，已由销售跟进"


# --- refusals ---------------------------------------------------------------------------


def test_receive_refusals() -> None:
    log = Log()
    for kind in (co.INVESTIGATE, co.CAPA, co.REPLY, co.CLOSE, co.REOPEN, co.NOTE):
        assert "尚未受理" in log.refused(kind, {"text": "x", "reason": "x"})
    for key in ("complainant", "contact", "organisation", "text"):
        assert key in log.refused(co.RECEIVE, {**RECEIVE, key: " "})
    assert "region" in log.refused(co.RECEIVE, {**RECEIVE, "region": "火星"})
    assert "received_via" in log.refused(co.RECEIVE, {**RECEIVE, "received_via": "fax"})
    assert "unknown complaint action" in log.refused("delete")
    assert "过长" in log.refused(co.RECEIVE, {**RECEIVE, "text": "x" * (co.MAX_TEXT + 1)})
    assert co.check([], change(co.RECEIVE, RECEIVE, actor=" ")) is not None
    # station and work order are optional
    assert co.check([], change(co.RECEIVE, {**RECEIVE, "station": "",
                                            "work_order_id": ""})) is None
    log.do(co.RECEIVE, RECEIVE)
    assert "already received" in log.refused(co.RECEIVE, RECEIVE)


def test_steps_refused_out_of_order() -> None:
    log = Log()
    log.do(co.RECEIVE, RECEIVE)
    assert "record the findings first" in log.refused(co.CAPA, CAPA)
    assert "reply after" in log.refused(co.REPLY, REPLY_OK)
    assert "close after" in log.refused(co.CLOSE)
    assert "only a closed" in log.refused(co.REOPEN, {"reason": "x"})
    assert "findings" in log.refused(co.INVESTIGATE, {"findings": ""})
    log.do(co.INVESTIGATE, INVESTIGATE)
    assert "before its corrective action" not in log.refused(co.REPLY, REPLY_OK)
    for key in ("correction", "corrective_action", "preventive_action", "owner"):
        assert key in log.refused(co.CAPA, {**CAPA, key: ""})
    assert "due" in log.refused(co.CAPA, {**CAPA, "due": "next week"})
    assert "due" in log.refused(co.CAPA, {k: v for k, v in CAPA.items() if k != "due"})
    log.do(co.CAPA, CAPA)
    assert "before its corrective action" in log.refused(co.INVESTIGATE, INVESTIGATE)
    assert "channel" in log.refused(co.REPLY, {**REPLY_OK, "channel": "pigeon"})
    assert "text" in log.refused(co.REPLY, {**REPLY_OK, "text": ""})
    assert "customer_accepts" in log.refused(co.REPLY, {**REPLY_OK, "customer_accepts": "y"})
    assert "customer_accepts" in log.refused(co.REPLY, {"channel": "mail", "text": "x"})
    assert "note" in log.refused(co.NOTE, {"text": ""})


def test_closed_complaint_refuses_all_but_reopen() -> None:
    log = full_flow()
    for kind, payload in [(co.INVESTIGATE, INVESTIGATE), (co.CAPA, CAPA),
                          (co.REPLY, REPLY_OK), (co.CLOSE, None)]:
        assert "关闭" in log.refused(kind, payload)
    assert "reason" in log.refused(co.REOPEN, {})
    # a note on a closed complaint is a later remark, allowed
    assert co.check(log.events, change(co.NOTE, {"text": "回访：满意"}, 5)) is None
    assert co.check(log.events, change(co.REOPEN, {"reason": "x"}, 5)) is None


def test_next_kinds_forms_roles() -> None:
    assert co.next_kinds("") == (co.RECEIVE,)
    assert co.next_kinds(co.RECEIVED) == (co.INVESTIGATE, co.NOTE)
    assert co.next_kinds(co.REPLIED) == (co.REPLY, co.CLOSE, co.NOTE)
    assert co.next_kinds(co.CLOSED) == (co.REOPEN, co.NOTE)
    assert set(co.FORMS) == set(co.KINDS) == set(co.KIND_ROLES) == set(co.KIND_LABELS)
    assert set(co.STATE_LABELS) == set(co.STATES)
    for kind in (co.INVESTIGATE, co.CAPA, co.CLOSE):
        assert co.KIND_ROLES[kind] == frozenset({Role.QUALITY})
    for kind in (co.RECEIVE, co.REPLY):
        assert co.KIND_ROLES[kind] == frozenset({Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR})


# --- properties -------------------------------------------------------------------------

PAYLOADS: dict[str, list[dict[str, Any]]] = {
    co.RECEIVE: [RECEIVE, {**RECEIVE, "region": "x"}, {**RECEIVE, "text": ""}],
    co.INVESTIGATE: [INVESTIGATE, {"findings": ""}],
    co.CAPA: [CAPA, {**CAPA, "due": "soon"}, {**CAPA, "owner": ""}],
    co.REPLY: [REPLY_OK, REPLY_NO, {**REPLY_OK, "channel": "x"},
               {"channel": "mail", "text": "x"}],
    co.CLOSE: [{}, {"note": "客户诉求已转销售"}],
    co.REOPEN: [{"reason": "again"}, {}],
    co.NOTE: [{"text": "x"}, {"text": ""}],
}

#: the test's own model: (state, verb) -> next state
MODEL: dict[tuple[str, str], str] = {
    ("", co.RECEIVE): co.RECEIVED,
    (co.RECEIVED, co.INVESTIGATE): co.INVESTIGATED,
    (co.INVESTIGATED, co.INVESTIGATE): co.INVESTIGATED,
    (co.INVESTIGATED, co.CAPA): co.CAPA_SET,
    (co.CAPA_SET, co.CAPA): co.CAPA_SET,
    (co.CAPA_SET, co.REPLY): co.REPLIED,
    (co.REPLIED, co.REPLY): co.REPLIED,
    (co.REPLIED, co.CLOSE): co.CLOSED,
    (co.CLOSED, co.REOPEN): co.RECEIVED,
}
for _s in co.STATES:
    MODEL[(_s, co.NOTE)] = _s

Action = tuple[str, int, str, int]
_one = st.tuples(st.sampled_from(co.KINDS), st.sampled_from([0, 0, 0, 1, 2, 3]),
                 st.sampled_from(["qa", "duty1", " "]), st.integers(0, 2000))


def _chunk(*steps: tuple[str, int]) -> st.SearchStrategy[list[Action]]:
    return st.lists(st.integers(0, 2000), min_size=len(steps), max_size=len(steps)).map(
        lambda minutes: [(k, w, "qa", m) for (k, w), m in zip(steps, minutes, strict=True)])


# random single actions mixed with runs that usually succeed, so that sequences reach
# replied, closed and reopened complaints (and near misses) as well as refusals
actions = st.lists(st.one_of(
    _one.map(lambda a: [a]),
    _chunk((co.RECEIVE, 0), (co.INVESTIGATE, 0), (co.CAPA, 0)),
    _chunk((co.INVESTIGATE, 0), (co.CAPA, 0), (co.REPLY, 0), (co.CLOSE, 0)),
    _chunk((co.REPLY, 1), (co.CLOSE, 0)), _chunk((co.REPLY, 1), (co.CLOSE, 1)),
    _chunk((co.CAPA, 0), (co.REPLY, 0)), _chunk((co.REOPEN, 0),), _chunk((co.CLOSE, 0),),
    # near misses: a step skipped
    _chunk((co.RECEIVE, 0), (co.CAPA, 0), (co.REPLY, 0), (co.CLOSE, 1)),
    _chunk((co.RECEIVE, 0), (co.INVESTIGATE, 0), (co.REPLY, 0)),
    _chunk((co.RECEIVE, 0), (co.INVESTIGATE, 0), (co.CAPA, 0), (co.CLOSE, 1)),
), max_size=12).map(lambda chunks: [a for chunk in chunks for a in chunk])


def fold(steps: list[Action]) -> list[Event]:
    events: list[Event] = []
    at = T0
    state = ""
    for kind, which, actor, minutes in steps:
        at += timedelta(minutes=minutes)
        pool = PAYLOADS[kind]
        payload = pool[which % len(pool)]
        c = Change(f"r{len(events)}", co.STREAM, TS, kind, actor, len(events), payload)
        if co.check(events, c) is not None:
            continue
        assert (state, kind) in MODEL, (state, kind)
        assert kind in co.next_kinds(state)
        events.append(Event(co.STREAM, TS, len(events) + 1, c.request_id, kind, actor, at,
                            payload))
        state = MODEL[(state, kind)]
        assert co.derive(events).state == state
    return events


def invariants(events: list[Event]) -> None:
    s = co.derive(events)
    assert s.state in ("", *co.STATES)
    assert s.last_seq == len(events)
    assert all(e.actor.strip() for e in events)
    # each close: since the last receive or reopen, an investigation, a CAPA and a reply,
    # in that order; a close after a reply the customer refused carries a note
    passes: list[list[Event]] = []
    for e in events:
        if e.kind in (co.RECEIVE, co.REOPEN):
            passes.append([])
        elif e.kind != co.NOTE:
            passes[-1].append(e)
    for steps in passes:
        kinds = [e.kind for e in steps]
        order = [co.INVESTIGATE, co.CAPA, co.REPLY, co.CLOSE]
        assert [order.index(k) for k in kinds] == sorted(order.index(k) for k in kinds)
        if co.CLOSE in kinds:
            assert kinds.count(co.CLOSE) == 1 and kinds[-1] == co.CLOSE
            assert {co.INVESTIGATE, co.CAPA, co.REPLY} <= set(kinds)
            last_reply = [e for e in steps if e.kind == co.REPLY][-1]
            if last_reply.payload["customer_accepts"] is not True:
                assert steps[-1].payload.get("note", "").strip()
    # the current pass's values are those of its own last steps, nothing older
    current = passes[-1] if passes else []

    def last(kind: str) -> Event | None:
        return next((e for e in reversed(current) if e.kind == kind), None)

    inv, rep, clo = last(co.INVESTIGATE), last(co.REPLY), last(co.CLOSE)
    assert s.findings == (inv.payload["findings"] if inv else "")
    assert s.replied_at == (rep.at if rep else None)
    assert s.customer_accepts == (rep.payload["customer_accepts"] if rep else None)
    assert s.closed_at == (clo.at if clo else None)
    closes = [e.at for e in events if e.kind == co.CLOSE]
    assert s.first_closed_at == (closes[0] if closes else None)
    if s.time_to_close is not None:
        assert s.time_to_close >= timedelta(0)
    if s.state == co.CLOSED:
        assert s.closed_at == closes[-1] and s.replied_at is not None


@settings(max_examples=300, deadline=None)
@given(actions)
def test_no_sequence_reaches_a_forbidden_state(steps: list[Action]) -> None:
    invariants(fold(steps))


@settings(max_examples=150, deadline=None)
@given(actions, st.randoms(use_true_random=False))
def test_derive_is_the_same_in_any_order(steps: list[Action], rnd: Random) -> None:
    events = fold(steps)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert co.derive(shuffled) == co.derive(events)


@pytest.mark.parametrize("state", ["", *co.STATES])
def test_next_kinds_match_the_model(state: str) -> None:
    assert set(co.next_kinds(state)) == {k for (s, k) in MODEL if s == state}
