"""admin/inspections.py: the inspection rule, the derived state and the schedule of dues,
with fixed times (naive CST) and dates worked out by hand."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from admin import inspections as ins
from admin.roles import Role
from admin.service_settings import InspectionRules, load
from pipeline.ledger.model import Change, Event
from tests.unit.rule_log import RuleLog

T0 = datetime(2026, 12, 2, 9, 0)
RID = "IN-20261202-ABC123"
ITEMS = ["采样管路 sampling line", "分析仪标定 analyser calibration", "站房环境 shelter"]
A, B, C = ITEMS

PLAN_SITE: dict[str, Any] = {
    "kind": "site", "region": "苏皖沪", "station": "MN_SU_001", "enterprise": "苏州某化工",
    "template": "site", "items": list(ITEMS), "due": "2026-12-10", "inspector": "eng.li",
}
PLAN_PLATFORM: dict[str, Any] = {
    "kind": "platform", "region": "云贵川渝", "template": "platform",
    "items": ["数据完整性 data integrity", "报警配置 alarm settings"], "due": "2026-12-31",
    "inspector": "duty1",
}


def change(kind: str, payload: Mapping[str, Any] | None = None, seq: int = 0,
           actor: str = "duty1", record_id: str = RID) -> Change:
    return Change(request_id=f"r{seq}{kind}", stream=ins.STREAM, record_id=record_id,
                  kind=kind, actor=actor, expected_seq=seq, payload=dict(payload or {}))


class Log(RuleLog):
    """Applies the rule as the ledger writer does, and appends (tests/unit/rule_log.py)."""

    def __init__(self, record_id: str = RID) -> None:
        super().__init__(ins, record_id, at=T0, actor="duty1")


def site_in_progress() -> Log:
    return Log().do(ins.PLAN, PLAN_SITE).do(ins.START, at=T0 + timedelta(days=1),
                                             actor="eng.li")


def site_completed() -> Log:
    log = site_in_progress()
    at = T0 + timedelta(days=1, hours=1)
    log.do(ins.RECORD, {"item": A, "result": "ok"}, at=at, actor="eng.li")
    log.do(ins.RECORD, {"item": B, "result": "problem", "note": "标定超期"}, at=at,
           actor="eng.li")
    log.do(ins.RECORD, {"item": C, "result": "na", "note": "无站房"}, at=at, actor="eng.li")
    log.do(ins.COMPLETE, {"summary": "一项问题"}, at=T0 + timedelta(days=1, hours=2),
           actor="eng.li")
    return log


# --- derived state ----------------------------------------------------------------------


def test_plan_derives_the_copied_checklist():
    s = Log().do(ins.PLAN, PLAN_SITE).state()
    assert s.record_id == RID and s.state == ins.PLANNED and s.opened
    assert s.opened_at == T0 and s.planned_by == "duty1"
    assert (s.kind, s.region, s.station, s.enterprise) == ("site", "苏皖沪", "MN_SU_001",
                                                           "苏州某化工")
    assert s.template == "site" and s.items == tuple(ITEMS)
    assert s.due == date(2026, 12, 10) and s.inspector == "eng.li"
    assert s.unanswered == tuple(ITEMS) and s.answered == () and s.problems == ()
    assert s.last_seq == 1


def test_full_flow_answers_problems_and_follow_ups():
    log = site_completed()
    s = log.state()
    assert s.state == ins.COMPLETED
    assert s.started_at == T0 + timedelta(days=1) and s.started_by == "eng.li"
    assert s.completed_at == T0 + timedelta(days=1, hours=2) and s.summary == "一项问题"
    assert s.answered == (A, B, C) and s.unanswered == ()
    assert s.problems == (B,)
    assert s.finding(B) is not None and s.finding(B).note == "标定超期"  # type: ignore[union-attr]
    assert s.missing_follow_ups == (B,)
    log.do(ins.FOLLOW_UP, {"item": B, "work_order_id": "WO-20261203-000001"},
           at=T0 + timedelta(days=2))
    s = log.state()
    assert [(f.item, f.work_order_id) for f in s.follow_ups] == [(B, "WO-20261203-000001")]
    assert s.missing_follow_ups == ()
    assert s.last_seq == 7


def test_findings_in_several_steps_latest_answer_wins_in_checklist_order():
    log = site_in_progress()
    log.do(ins.RECORD, {"item": C, "result": "problem", "note": "漏水"}, actor="eng.li")
    log.do(ins.RECORD, {"item": A, "result": "problem", "note": "堵塞"}, actor="eng.li")
    assert log.state().answered == (A, C)  # checklist order, not answer order
    assert log.state().problems == (A, C)
    log.do(ins.RECORD, {"item": A, "result": "ok", "note": "已疏通"}, actor="eng.li")
    s = log.state()
    assert s.problems == (C,) and s.unanswered == (B,)
    assert s.finding(A) is not None and s.finding(A).result == "ok"  # type: ignore[union-attr]


def test_cancel_and_notes():
    log = Log().do(ins.PLAN, PLAN_PLATFORM)
    log.do(ins.NOTE, {"text": "质量抽查"}, actor="qa1")
    log.do(ins.CANCEL, {"reason": "合并到下月"}, at=T0 + timedelta(hours=3), actor="sup")
    log.do(ins.NOTE, {"text": "已合并"}, actor="qa1")
    s = log.state()
    assert s.state == ins.CANCELLED and s.cancelled_by == "sup"
    assert s.cancelled_at == T0 + timedelta(hours=3) and s.cancel_reason == "合并到下月"
    assert [n.text for n in s.notes] == ["质量抽查", "已合并"]


def test_derive_orders_by_seq():
    log = site_completed()
    assert ins.derive(list(reversed(log.events))) == log.state()


def test_derive_of_nothing():
    s = ins.derive([], "X")
    assert s.record_id == "X" and s.state == "" and not s.opened and s.last_seq == 0


def test_next_kinds():
    assert ins.next_kinds("") == (ins.PLAN,)
    assert ins.next_kinds(ins.PLANNED) == (ins.START, ins.CANCEL, ins.NOTE)
    assert ins.next_kinds(ins.IN_PROGRESS) == (ins.RECORD, ins.COMPLETE, ins.CANCEL,
                                               ins.NOTE)
    assert ins.next_kinds(ins.COMPLETED) == (ins.FOLLOW_UP, ins.NOTE)
    assert ins.next_kinds(ins.CANCELLED) == (ins.NOTE,)
    assert ins.next_kinds("bogus") == ()


def test_contract_names_and_labels():
    assert ins.STREAM == "inspection"
    assert set(ins.KIND_LABELS) == set(ins.KINDS) == set(ins.FORMS) == set(ins.KIND_ROLES)
    assert set(ins.STATE_LABELS) == set(ins.STATES)
    for label in [*ins.KIND_LABELS.values(), *ins.STATE_LABELS.values()]:
        zh, en = label.split(" ", 1)
        assert zh and en
    assert [f.name for f in ins.FORMS[ins.PLAN]] == ["kind", "region", "station",
                                                     "enterprise", "template", "items",
                                                     "due", "inspector"]


def test_roles_table():
    ops = {Role.DUTY_OPERATOR, Role.DUTY_SUPERVISOR}
    eng = {Role.FIELD_ENGINEER}
    assert ins.roles_for(ins.START, "site") == eng
    assert ins.roles_for(ins.RECORD, "site") == eng
    assert ins.roles_for(ins.COMPLETE, "site") == eng
    assert ins.roles_for(ins.START, "platform") == ops
    assert ins.roles_for(ins.COMPLETE, "platform") == ops
    assert ins.roles_for(ins.PLAN, "site") == ops
    assert ins.roles_for(ins.FOLLOW_UP, "site") == ops | eng
    assert ins.roles_for(ins.CANCEL, "site") == {Role.DUTY_SUPERVISOR}
    assert Role.QUALITY in ins.roles_for(ins.NOTE, "platform")
    assert Role.QUALITY not in ins.roles_for(ins.RECORD, "site")
    assert all(Role.ANALYST not in r for r in ins.KIND_ROLES.values())
    assert ins.KIND_ROLES[ins.START] == ops | eng  # either kind
    assert ins.roles_for(ins.START, "other") == ops | eng


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(("patch", "needle"), [
    ({"kind": "audit"}, "inspection kind"),
    ({"region": "西藏"}, "not a service region"),
    ({"region": ""}, "not a service region"),
    ({"station": " "}, "station's MN"),
    ({"template": ""}, "template"),
    ({"items": []}, "checklist items"),
    ({"items": "a,b"}, "checklist items"),
    ({"items": ["a", 3]}, "checklist items"),
    ({"items": ["a", " "]}, "blank"),
    ({"items": ["a", "b", "a "]}, "appears twice"),
    ({"items": [f"i{n}" for n in range(ins.MAX_ITEMS + 1)]}, "at most 100"),
    ({"due": "2026-13-01"}, "not a date"),
    ({"due": None}, "not a date"),
    ({"inspector": ""}, "inspector"),
    ({"enterprise": 7}, "enterprise must be text"),
    ({"summary": "x" * (ins.MAX_TEXT + 1)}, "过长"),
    ({"items": ["x" * (ins.MAX_TEXT + 1)]}, "过长"),
])
def test_plan_refusals(patch, needle):
    assert needle in Log().refused(ins.PLAN, {**PLAN_SITE, **patch})


def test_platform_plan_refuses_a_station():
    assert "not station 'MN1'" in Log().refused(ins.PLAN, {**PLAN_PLATFORM, "station": "MN1"})


def test_general_refusals():
    log = Log()
    assert "unknown inspection action" in log.refused("delete")
    assert "sign in" in log.refused(ins.PLAN, PLAN_SITE, actor=" ")
    for kind in (ins.START, ins.RECORD, ins.COMPLETE, ins.FOLLOW_UP, ins.CANCEL, ins.NOTE):
        assert "not planned" in log.refused(kind, {"text": "x", "reason": "x"})
    log.do(ins.PLAN, PLAN_SITE)
    assert "already planned" in log.refused(ins.PLAN, PLAN_SITE)
    assert "empty note" in log.refused(ins.NOTE, {"text": " "})


@pytest.mark.parametrize(("kind", "payload"), [
    (ins.RECORD, {"item": A, "result": "ok"}),
    (ins.COMPLETE, {"summary": "x"}),
    (ins.FOLLOW_UP, {"item": A, "work_order_id": "WO-1"}),
])
def test_steps_out_of_order_on_a_planned_inspection(kind, payload):
    log = Log().do(ins.PLAN, PLAN_SITE)
    assert "inspection is planned" in log.refused(kind, payload)


def test_record_refusals():
    log = site_in_progress()
    assert "only a planned" in log.refused(ins.START)
    assert "not on this inspection's checklist" in log.refused(
        ins.RECORD, {"item": "空调 air conditioner", "result": "ok"})
    assert "result 'bad'" in log.refused(ins.RECORD, {"item": A, "result": "bad"})
    assert "needs a note" in log.refused(ins.RECORD, {"item": A, "result": "problem",
                                                      "note": " "})
    assert "follow-up work orders are linked after" in log.refused(
        ins.FOLLOW_UP, {"item": A, "work_order_id": "WO-1"})


def test_complete_needs_every_item_and_a_summary():
    log = site_in_progress()
    log.do(ins.RECORD, {"item": A, "result": "ok"}, actor="eng.li")
    why = log.refused(ins.COMPLETE, {"summary": "x"})
    assert "2 checklist items have no answer" in why and repr(B) in why and repr(C) in why
    log.do(ins.RECORD, {"item": B, "result": "na"}, actor="eng.li")
    log.do(ins.RECORD, {"item": C, "result": "ok"}, actor="eng.li")
    assert "summary" in log.refused(ins.COMPLETE, {"summary": ""})
    log.do(ins.COMPLETE, {"summary": "正常"}, actor="eng.li")
    assert log.state().state == ins.COMPLETED


def test_follow_up_refusals():
    log = site_completed()
    assert "was not found a problem" in log.refused(ins.FOLLOW_UP,
                                                    {"item": A, "work_order_id": "WO-1"})
    assert "was not found a problem" in log.refused(ins.FOLLOW_UP,
                                                    {"item": "nope", "work_order_id": "WO-1"})
    assert "work_order_id" in log.refused(ins.FOLLOW_UP, {"item": B, "work_order_id": ""})
    log.do(ins.FOLLOW_UP, {"item": B, "work_order_id": "WO-1"})
    assert "already has work order WO-1" in log.refused(ins.FOLLOW_UP,
                                                        {"item": B, "work_order_id": "WO-2"})
    # completed: no more findings, no cancel
    assert "is completed" in log.refused(ins.RECORD, {"item": A, "result": "ok"})
    assert "is completed" in log.refused(ins.CANCEL, {"reason": "x"})
    assert "is completed" in log.refused(ins.COMPLETE, {"summary": "x"})


def test_cancel_refusals():
    log = site_in_progress()
    assert "reason" in log.refused(ins.CANCEL, {"reason": ""})
    log.do(ins.CANCEL, {"reason": "站点停产"}, actor="sup")
    for kind, payload in [(ins.START, None), (ins.RECORD, {"item": A, "result": "ok"}),
                          (ins.COMPLETE, {"summary": "x"}), (ins.CANCEL, {"reason": "x"})]:
        assert "cancelled by sup" in log.refused(kind, payload)


# --- the schedule -----------------------------------------------------------------------

RULES = InspectionRules(platform_every_days=30, site_every_days=90,
                        templates={"site": ("a", "b"), "platform": ("p",),
                                   "night": ("n1", "n2")})


def record(record_id: str, plan: Mapping[str, Any], *, planned: datetime = T0,
           completed: datetime | None = None, cancelled: bool = False,
           started: bool = False) -> ins.InspectionState:
    log = Log(record_id).do(ins.PLAN, plan, at=planned)
    if cancelled:
        log.do(ins.CANCEL, {"reason": "x"}, at=planned, actor="sup")
        return log.state()
    if started or completed is not None:
        log.do(ins.START, at=planned)
    if completed is not None:
        for item in plan["items"]:
            log.do(ins.RECORD, {"item": item, "result": "ok"}, at=completed)
        log.do(ins.COMPLETE, {"summary": "ok"}, at=completed)
    return log.state()


def site_plan(mn: str, region: str, due: str) -> dict[str, Any]:
    return {**PLAN_SITE, "station": mn, "region": region, "due": due, "items": ["a", "b"]}


def platform_plan(region: str, due: str) -> dict[str, Any]:
    return {**PLAN_PLATFORM, "region": region, "due": due, "items": ["p"]}


def test_due_inspections_worked_by_hand():
    today = date(2026, 12, 21)
    stations = [ins.StationRef("S1", "苏皖沪", "甲厂"), ins.StationRef("S2", "苏皖沪", "乙厂"),
                ins.StationRef("S3", "云贵川渝", "丙厂")]
    done = [
        # 苏皖沪 platform completed 2026-11-20 -> due 30 days later, 2026-12-20: overdue
        record("P1", platform_plan("苏皖沪", "2026-11-20"), planned=datetime(2026, 11, 1),
               completed=datetime(2026, 11, 20, 10, 0)),
        # an older one and a cancelled one change nothing
        record("P0", platform_plan("苏皖沪", "2026-10-20"), planned=datetime(2026, 10, 1),
               completed=datetime(2026, 10, 18, 10, 0)),
        record("P2", platform_plan("苏皖沪", "2026-12-19"), cancelled=True),
        # S1 completed 2026-09-01 -> due 90 days later: Sep 29 + Oct 31 + Nov 30 = 90
        # -> 2026-11-30: overdue
        record("I1", site_plan("S1", "苏皖沪", "2026-09-01"), planned=datetime(2026, 8, 1),
               completed=datetime(2026, 9, 1, 15, 0)),
        # S2: in progress, planned for 12-25: covers the due, not overdue yet
        record("I2", site_plan("S2", "苏皖沪", "2026-12-25"), started=True),
        # S3: only a cancelled one that took the first key
        record("INS-S-S3-first", site_plan("S3", "云贵川渝", "2026-12-01"), cancelled=True),
    ]
    got = ins.due_inspections(stations, done, today, RULES)
    assert [(d.kind, d.region, d.station, d.due, d.overdue, d.key, d.covered_by)
            for d in got] == [
        ("site", "苏皖沪", "S1", date(2026, 11, 30), True, "INS-S-S1-20261130", ""),
        ("platform", "苏皖沪", "", date(2026, 12, 20), True, "INS-P-苏皖沪-20261220", ""),
        ("platform", "云贵川渝", "", today, False, "INS-P-云贵川渝-first", ""),
        ("site", "云贵川渝", "S3", today, False, "INS-S-S3-first-2", ""),
        ("site", "苏皖沪", "S2", date(2026, 12, 25), False, "I2", "I2"),
    ]
    by = {d.key: d for d in got}
    assert by["INS-S-S1-20261130"].last_completed == date(2026, 9, 1)
    assert by["INS-S-S1-20261130"].enterprise == "甲厂"
    assert by["I2"].last_completed is None


def test_due_boundary_and_planned_overdue():
    stations = [ins.StationRef("S1", "苏皖沪")]
    done = [record("I1", site_plan("S1", "苏皖沪", "2026-12-01"),
                   completed=datetime(2026, 12, 1, 8, 0)),
            record("I2", site_plan("S1", "苏皖沪", "2027-03-01"))]
    # the planned one (due 2027-03-01) covers the next due; the day itself is not overdue
    on_day = [d for d in ins.due_inspections(stations, done, date(2027, 3, 1), RULES)
              if d.kind == "site"]
    assert [(d.due, d.overdue, d.covered_by) for d in on_day] == [
        (date(2027, 3, 1), False, "I2")]
    after = [d for d in ins.due_inspections(stations, done, date(2027, 3, 2), RULES)
             if d.kind == "site"]
    assert after[0].overdue
    # without the plan: 2026-12-01 + 90 days = 2027-03-01 (Dec 31 + Jan 31 + Feb 28 = 90)
    alone = [d for d in ins.due_inspections(stations, done[:1], date(2027, 1, 1), RULES)
             if d.kind == "site"]
    assert [(d.due, d.key) for d in alone] == [(date(2027, 3, 1), "INS-S-S1-20270301")]


def test_stations_without_region_get_no_platform_due():
    got = ins.due_inspections([ins.StationRef("S9", "")], [], date(2026, 12, 1), RULES)
    assert [(d.kind, d.station) for d in got] == [("site", "S9")]


def test_plan_payload_copies_the_template():
    due = ins.Due("site", "苏皖沪", "S1", "甲厂", date(2026, 12, 5), False, "INS-S-S1-first")
    p = ins.plan_payload(due, RULES, "eng.li")
    assert p == {"kind": "site", "region": "苏皖沪", "station": "S1", "enterprise": "甲厂",
                 "template": "site", "items": ["a", "b"], "due": "2026-12-05",
                 "inspector": "eng.li"}
    assert ins.plan_payload(due, RULES, "eng.li", "night")["items"] == ["n1", "n2"]
    with pytest.raises(ValueError, match="'nope'"):
        ins.plan_payload(due, RULES, "eng.li", "nope")
    # the sample settings' templates make valid plans
    sample = load().inspections
    for kind in ("site", "platform"):
        d = ins.Due(kind, "苏皖沪", "S1" if kind == "site" else "", "", date(2026, 12, 5),
                    False, "k")
        assert ins.check([], change(ins.PLAN, ins.plan_payload(d, sample, "u"))) is None


# --- properties -------------------------------------------------------------------------

_PAYLOADS: dict[str, list[dict[str, Any]]] = {
    ins.PLAN: [PLAN_SITE, PLAN_PLATFORM, {**PLAN_SITE, "items": []},
               {**PLAN_SITE, "kind": "x"}],
    ins.START: [{}],
    ins.RECORD: [{"item": i, "result": r, "note": n} for i in [A, B, C, "zz"]
                 for r in ["ok", "problem", "na", "bad"] for n in ["", "说明"]],
    ins.COMPLETE: [{"summary": "s"}, {"summary": ""}],
    ins.FOLLOW_UP: [{"item": i, "work_order_id": w} for i in [A, B, C]
                    for w in ["WO-1", ""]],
    ins.CANCEL: [{"reason": "r"}, {}],
    ins.NOTE: [{"text": "t"}, {"text": ""}],
    "bogus": [{}],
}
_VERBS = sorted(_PAYLOADS)
_step = st.tuples(st.sampled_from(_VERBS), st.integers(0, 31),
                  st.sampled_from(["duty1", "eng.li", " "]))

#: the state changes the rules allow (verb -> (from, to))
_ALLOWED = {(ins.PLAN, "", ins.PLANNED), (ins.START, ins.PLANNED, ins.IN_PROGRESS),
            (ins.COMPLETE, ins.IN_PROGRESS, ins.COMPLETED),
            (ins.CANCEL, ins.PLANNED, ins.CANCELLED),
            (ins.CANCEL, ins.IN_PROGRESS, ins.CANCELLED)}
_STAYS = {ins.RECORD: {ins.IN_PROGRESS}, ins.FOLLOW_UP: {ins.COMPLETED},
          ins.NOTE: set(ins.STATES)}


def _run(steps: list[tuple[str, int, str]]) -> tuple[Log, list[str]]:
    """Apply random steps; check the rule's answers against a model kept here."""
    log = Log()
    model: dict[str, Any] = {"state": "", "items": [], "answers": {}, "followed": []}
    states = [""]
    for n, (verb, pick, actor) in enumerate(steps):
        options = _PAYLOADS[verb]
        payload = options[pick % len(options)]
        c = change(verb, payload, len(log.events), actor)
        why = ins.check(log.events, c)
        before = model["state"]
        if why is not None:
            assert " / " in why
            continue
        log.events.append(Event(ins.STREAM, RID, len(log.events) + 1, c.request_id, verb,
                                actor, T0 + timedelta(minutes=n), dict(payload)))
        # the model: what the change means, kept apart from derive
        if verb == ins.PLAN:
            model.update(state=ins.PLANNED, items=list(payload["items"]))
        elif verb == ins.START:
            model["state"] = ins.IN_PROGRESS
        elif verb == ins.RECORD:
            model["answers"][payload["item"]] = (payload["result"], payload["note"])
        elif verb == ins.COMPLETE:
            model["state"] = ins.COMPLETED
        elif verb == ins.FOLLOW_UP:
            model["followed"].append(payload["item"])
        elif verb == ins.CANCEL:
            model["state"] = ins.CANCELLED
        after = model["state"]
        assert (verb, before, after) in _ALLOWED or (before == after
                                                     and before in _STAYS.get(verb, ()))
        assert actor.strip()
        s = log.state()
        assert s.state == after
        states.append(after)
        answers: dict[str, tuple[str, str]] = model["answers"]
        assert set(s.answered) == set(answers) <= set(model["items"])
        assert {(f.item, f.result, f.note) for f in s.findings} == {
            (i, r, note) for i, (r, note) in answers.items()}
        problems = {i for i, (r, _) in answers.items() if r == "problem"}
        assert set(s.problems) == problems
        assert all(answers[i][1] for i in problems)  # every problem says what
        assert all(r in ins.RESULTS for r, _ in answers.values())
        if after == ins.COMPLETED:
            assert set(answers) == set(model["items"])
        followed: list[str] = model["followed"]
        assert len(followed) == len(set(followed)) and set(followed) <= problems
        assert [f.item for f in s.follow_ups] == followed
        assert set(s.missing_follow_ups) == problems - set(followed)
        if followed:
            assert after == ins.COMPLETED
    return log, states


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, max_size=40))
def test_no_sequence_reaches_a_forbidden_state(steps):
    _, states = _run(steps)
    # once completed or cancelled it never leaves (follow-ups and notes do not move it)
    for i, s in enumerate(states):
        if s in (ins.COMPLETED, ins.CANCELLED):
            assert set(states[i:]) == {s}


@settings(max_examples=200, deadline=None)
@given(st.lists(_step, max_size=40), st.randoms(use_true_random=False))
def test_derive_is_the_same_for_events_in_any_order(steps, rnd):
    log, _ = _run(steps)
    shuffled = list(log.events)
    rnd.shuffle(shuffled)
    assert ins.derive(shuffled) == log.state()


_REGIONS = ["苏皖沪", "云贵川渝", "浙闽赣"]


@st.composite
def _schedule(draw: st.DrawFn) -> tuple[list[ins.StationRef], list[ins.InspectionState],
                                          date]:
    mns = draw(st.lists(st.sampled_from([f"S{i}" for i in range(6)]), min_size=1,
                        max_size=6, unique=True))
    stations = [ins.StationRef(mn, draw(st.sampled_from(_REGIONS))) for mn in mns]
    today = date(2026, 6, 1) + timedelta(days=draw(st.integers(0, 400)))
    done: list[ins.InspectionState] = []
    for n in range(draw(st.integers(0, 8))):
        site = draw(st.booleans())
        st_ref = draw(st.sampled_from(stations))
        day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 700)))
        plan = (site_plan(st_ref.mn, st_ref.region, day.isoformat()) if site
                else platform_plan(st_ref.region, day.isoformat()))
        outcome = draw(st.sampled_from(["planned", "completed", "cancelled"]))
        done.append(record(f"R{n}", plan, planned=datetime(2026, 1, 1),
                           completed=(datetime.combine(day, datetime.min.time())
                                      if outcome == "completed" else None),
                           cancelled=outcome == "cancelled"))
    return stations, done, today


@settings(max_examples=200, deadline=None)
@given(_schedule())
def test_due_list_properties(case):
    stations, done, today = case
    got = ins.due_inspections(stations, done, today, RULES)
    # one due per station and one per region of the stations
    assert sorted(d.station for d in got if d.kind == "site") == sorted(
        s.mn for s in stations)
    assert sorted(d.region for d in got if d.kind == "platform") == sorted(
        {s.region for s in stations})
    assert len({d.key for d in got}) == len(got)
    for d in got:
        assert d.overdue == (today > d.due)
        same = [s for s in done if s.opened and s.kind == d.kind
                and (s.station == d.station if d.kind == "site" else s.region == d.region)]
        waiting = [s for s in same if s.state in (ins.PLANNED, ins.IN_PROGRESS)]
        finished = [s.completed_at.date() for s in same
                    if s.state == ins.COMPLETED and s.completed_at]
        every = 90 if d.kind == "site" else 30
        if waiting:
            assert d.covered_by in {s.record_id for s in waiting}
            assert d.due == min(s.due for s in waiting if s.due)
        elif finished:
            assert d.due == max(finished) + timedelta(days=every)
            assert d.key not in {s.record_id for s in done}
        else:
            assert d.due == today and d.key.endswith(("-first", "-first-2", "-first-3"))


@settings(max_examples=100, deadline=None)
@given(_schedule())
def test_completing_a_due_inspection_moves_it_on(case):
    stations, done, today = case
    for d in ins.due_inspections(stations, done, today, RULES):
        if d.covered_by:
            continue
        plan = ins.plan_payload(d, RULES, "u")
        new = record(d.key, plan, planned=datetime.combine(today, datetime.min.time()),
                     completed=datetime.combine(today, datetime.min.time()))
        again = ins.due_inspections(stations, [*done, new], today, RULES)
        assert d.key not in {x.key for x in again}
        mine = next(x for x in again if (x.kind, x.region, x.station) ==
                    (d.kind, d.region, d.station))
        every = 90 if d.kind == "site" else 30
        assert mine.due >= today + timedelta(days=every) or mine.covered_by
        assert not mine.overdue
