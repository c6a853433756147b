"""Properties of the work-order rule and its SLA clock (issue 12, "Done when"): random
sequences of actions, each judged by ``work_orders.check`` as the ledger writer would and
appended only when allowed, never reach a state the rules forbid (checked against this
test's own table of transitions and invariants, not the module's), and the SLA clock
gives the same answer for a history however it is replayed: events in any order, the
history re-judged event by event, or derived from a prefix and then the rest."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from admin import work_orders as wo
from pipeline.ledger.model import Change, Event

T0 = datetime(2026, 12, 2, 9, 0)
WO = "WO-PROP-1"
ENGINEERS = ("eng.a", "eng.b", "eng.c")

OPENS: list[dict[str, Any]] = [
    {"source": "alarm", "alarm_id": "MN1//offline/20261202090000", "organisation": "o",
     "station": "MN1", "reason": "离线", "class": "technical_service", "region": "苏皖沪",
     "stops_system": True},
    {"source": "phone", "caller": "王工", "contact": "138", "organisation": "o",
     "station": "MN1", "reason": "r", "class": "inquiry", "region": "苏皖沪"},
    {"source": "phone", "organisation": "o", "station": "MN1", "reason": "r",
     "class": "inquiry", "region": "苏皖沪"},  # no caller: refused
    {"source": "fax", "organisation": "o", "station": "MN1", "reason": "r",
     "class": "inquiry", "region": "苏皖沪"},  # unknown source: refused
]


def payloads(kind: str, state: wo.WorkOrderState, k: int) -> dict[str, Any]:
    """A payload for ``kind``: mostly well-formed for the state, sometimes not."""
    eng = ENGINEERS[k % 3]
    other = next(e for e in ENGINEERS if e != state.engineer)
    options: dict[str, list[dict[str, Any]]] = {
        wo.OPEN: OPENS,
        wo.ASSIGN: [{"engineer": eng}, {"engineer": ""}],
        wo.TRANSFER: [{"from": state.engineer, "to": other, "reason": "换人"},
                      {"from": state.engineer, "to": eng},
                      {"from": "nobody", "to": eng, "reason": "x"}],
        wo.CONTACT: [{}], wo.RESPOND: [{}], wo.ARRIVE: [{}], wo.CLOSE: [{}],
        wo.RESOLVE: [{"cause": "c", "action": "a", "result": "r", "report": "SR-1"},
                     {"cause": "c", "action": "a", "result": "r"},
                     {"cause": "c", "result": "r"}],
        wo.VERIFY: [{"verification": "数据恢复"}, {}],
        wo.REOPEN: [{"reason": "复发"}, {}],
        wo.ESCALATE: [{"level": wo.LEVELS[1 + k % 3], "note": "n"},
                      {"level": "ordinary", "note": "n"}, {"level": "x", "note": "n"}],
        wo.NOTE: [{"text": "日结"}, {"text": ""}],
        wo.REPORT: [{"text": "质量反馈报告", "attachment": "QF-1.pdf"}, {"text": ""}],
        wo.NOTIFY: [{"receiver": "supervisors", "text": "t"}, {"receiver": ""}],
        wo.SLA_MARK: [{"clock": wo.FIRST_CONTACT, "due": "2026-12-02 09:15:00",
                       "level": "breach"}, {"clock": "x", "due": "", "level": "y"}],
    }
    choices = options[kind]
    return dict(choices[k % len(choices)])


ACTORS = ("duty1", "duty1", "eng.a", "eng.a", "system:sla", " ")
#: a step: the verb (an index into the verbs the state offers next, most of the time, so
#: long walks happen; else any verb), a payload variant, an actor, minutes later
step = st.tuples(st.one_of(st.just(0), st.just(0), st.integers(0, 5),
                           st.sampled_from(wo.KINDS)),
                 st.integers(0, 11), st.sampled_from(ACTORS), st.integers(0, 240))

# --- this test's own model of the workflow --------------------------------------------

#: (state, verb) -> next state for the verbs that move it (reopen: see ``expect``)
MOVES: dict[tuple[str, str], str] = {
    ("", wo.OPEN): wo.NEW,
    (wo.NEW, wo.ASSIGN): wo.ASSIGNED,
    (wo.ASSIGNED, wo.CONTACT): wo.CONTACTED,
    (wo.CONTACTED, wo.RESPOND): wo.RESPONDED,
    (wo.RESPONDED, wo.ARRIVE): wo.ON_SITE,
    (wo.RESPONDED, wo.RESOLVE): wo.RESOLVED,
    (wo.ON_SITE, wo.RESOLVE): wo.RESOLVED,
    (wo.RESOLVED, wo.VERIFY): wo.VERIFIED,
    (wo.VERIFIED, wo.CLOSE): wo.CLOSED,
}
#: verbs that never move the state, and the states they are allowed in
STILL: dict[str, set[str]] = {
    wo.TRANSFER: {wo.ASSIGNED, wo.CONTACTED, wo.RESPONDED, wo.ON_SITE},
    wo.ESCALATE: {wo.NEW, wo.ASSIGNED, wo.CONTACTED, wo.RESPONDED, wo.ON_SITE, wo.RESOLVED,
                  wo.VERIFIED},
    wo.NOTE: set(wo.STATES) - {wo.CLOSED},
    wo.NOTIFY: set(wo.STATES),
    wo.SLA_MARK: set(wo.STATES),
    wo.REPORT: set(wo.STATES),
}


def expect(before: wo.WorkOrderState, kind: str) -> set[str]:
    """The states this test allows after ``kind`` from ``before`` (empty: not allowed)."""
    if kind == wo.REOPEN:
        if before.state not in (wo.RESOLVED, wo.VERIFIED, wo.CLOSED):
            return set()
        return {wo.ON_SITE if before.arrived_at is not None else wo.RESPONDED}
    if (before.state, kind) in MOVES:
        return {MOVES[(before.state, kind)]}
    if kind in STILL and before.state in STILL[kind]:
        return {before.state}
    return set()


def fold(steps: list[tuple[str | int, int, str, int]]) -> list[Event]:
    events: list[Event] = []
    at = T0
    for n, (verb, k, actor, minutes) in enumerate(steps):
        at = at + timedelta(minutes=minutes)
        before = wo.derive(events, WO)
        if isinstance(verb, int):
            offered = wo.next_kinds(before) or wo.KINDS
            kind = offered[verb % len(offered)]
        else:
            kind = verb
        payload = payloads(kind, before, k)
        c = Change(f"r{n}", wo.STREAM, WO, kind, actor, len(events), payload,
                   submitted_at=at)
        why = wo.check(events, c)
        allowed = expect(before, kind)
        if why is None:
            e = Event(wo.STREAM, WO, len(events) + 1, c.request_id, kind, actor, at, payload)
            events.append(e)
            after = wo.derive(events, WO)
            assert after.state in allowed, (before.state, kind, after.state, payload)
            invariants(before, after, e)
        else:
            assert " / " in why  # Chinese / English, always
    return events


def invariants(before: wo.WorkOrderState, after: wo.WorkOrderState, e: Event) -> None:
    assert after.opened
    assert after.region and after.station and after.order_class in wo.CLASSES
    if after.state not in (wo.NEW,):
        assert after.engineer, "an order past new has an engineer"
    if after.state == wo.CLOSED:
        assert after.verified_at is not None and after.resolved_at is not None
    if after.state in (wo.RESOLVED, wo.VERIFIED, wo.CLOSED):
        assert after.cause and after.action and after.result
        if after.arrived_at is not None:
            assert after.report, "a site visit's resolution carries the signed report"
    assert wo.LEVELS.index(after.escalation) >= wo.LEVELS.index(before.escalation)
    if e.kind == wo.SLA_MARK:
        assert e.actor.startswith("system:")
    assert e.actor.strip()
    if before.state == wo.CLOSED:
        assert e.kind in (wo.REOPEN, wo.NOTIFY, wo.SLA_MARK, wo.REPORT)
    # first times never move once set (a reopen does not reset the clocks)
    for name in ("contacted_at", "responded_at", "arrived_at", "opened_at"):
        if getattr(before, name) is not None:
            assert getattr(after, name) == getattr(before, name)


@settings(max_examples=400, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_no_sequence_of_actions_reaches_a_state_the_rules_forbid(steps):
    fold([(wo.OPEN, 0, "duty1", 0), *steps])


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=40), st.integers(0, 20_000), st.randoms())
def test_the_sla_clock_is_the_same_however_the_history_is_replayed(steps, later, rnd):
    events = fold([(wo.OPEN, 0, "duty1", 0), *steps])
    now = events[-1].at + timedelta(minutes=later)
    want = wo.sla(wo.derive(events, WO), now)
    # events in any order
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert wo.sla(wo.derive(shuffled, WO), now) == want
    # re-judged event by event, as a new writer replaying the log would: all accepted
    replayed: list[Event] = []
    for e in events:
        c = Change(e.request_id, wo.STREAM, WO, e.kind, e.actor, len(replayed),
                   dict(e.payload), submitted_at=e.at)
        assert wo.check(replayed, c) is None
        replayed.append(e)
    assert wo.sla(wo.derive(replayed, WO), now) == want
    # the clock at ``now`` depends on the history and ``now`` only, not on when it was
    # last asked
    cut = rnd.randrange(len(events) + 1)
    wo.sla(wo.derive(events[:cut], WO), now)
    assert wo.sla(wo.derive(events, WO), now) == want


@settings(max_examples=200, deadline=None)
@given(st.lists(step, min_size=1, max_size=30), st.integers(0, 20_000))
def test_the_watch_records_each_mark_once(steps, later):
    events = [e for e in fold([(wo.OPEN, 0, "duty1", 0), *steps]) if e.kind != wo.SLA_MARK]
    events = [Event(e.stream, e.record_id, i + 1, e.request_id, e.kind, e.actor, e.at,
                    e.payload) for i, e in enumerate(events)]
    now = events[-1].at + timedelta(minutes=later)
    marks = wo.sla_marks_due(wo.derive(events, WO), now)
    clocks = wo.sla(wo.derive(events, WO), now)
    # each breached clock has its breach mark; warnings only for clocks not met
    breached = {(c.name, f"{c.due_at:%Y-%m-%d %H:%M:%S}") for c in clocks if c.breached}
    assert {(m[0], m[1]) for m in marks if m[2] == "breach"} == breached
    for name, due, level in marks:
        if level == "warning":
            c = next(c for c in clocks if c.name == name
                     and f"{c.due_at:%Y-%m-%d %H:%M:%S}" == due)
            assert c.met_at is None and c.warn
    for name, due, level in marks:
        c = Change(f"m{len(events)}", wo.STREAM, WO, wo.SLA_MARK, "system:sla", len(events),
                   {"clock": name, "due": due, "level": level})
        assert wo.check(events, c) is None
        events.append(Event(wo.STREAM, WO, len(events) + 1, c.request_id, c.kind, c.actor,
                            now, c.payload))
    # recorded: nothing more to mark at the same moment, and the clocks did not move
    assert wo.sla_marks_due(wo.derive(events, WO), now) == []
    assert wo.sla(wo.derive(events, WO), now) == clocks


def test_the_model_is_not_vacuous():
    # a straight walk reaches every state: the properties above do judge transitions
    rnd = random.Random(7)
    seen = set()
    path = [(wo.OPEN, 0, "duty1", 0), (wo.ASSIGN, 0, "duty1", 1),
            (wo.CONTACT, 0, "eng.a", 5), (wo.RESPOND, 0, "eng.a", 20),
            (wo.ARRIVE, 0, "eng.a", 60), (wo.RESOLVE, 0, "eng.a", 30),
            (wo.VERIFY, 0, "duty1", 10), (wo.CLOSE, 0, "duty1", 5),
            (wo.REOPEN, 0, "duty1", 60)]
    events = fold(path)
    for n in range(1, len(events) + 1):
        seen.add(wo.derive(events[:n], WO).state)
    assert seen == set(wo.STATES)
    assert rnd.random() < 1


#: canonical walks to every state (with and without a site visit, and reopened)
WALKS: list[list[str]] = [
    [],
    [wo.ASSIGN],
    [wo.ASSIGN, wo.CONTACT],
    [wo.ASSIGN, wo.CONTACT, wo.RESPOND],
    [wo.ASSIGN, wo.CONTACT, wo.RESPOND, wo.ARRIVE],
    [wo.ASSIGN, wo.CONTACT, wo.RESPOND, wo.RESOLVE],
    [wo.ASSIGN, wo.CONTACT, wo.RESPOND, wo.ARRIVE, wo.RESOLVE],
    [wo.ASSIGN, wo.CONTACT, wo.RESPOND, wo.RESOLVE, wo.VERIFY],
    [wo.ASSIGN, wo.CONTACT, wo.RESPOND, wo.ARRIVE, wo.RESOLVE, wo.VERIFY, wo.CLOSE],
    [wo.ASSIGN, wo.CONTACT, wo.RESPOND, wo.RESOLVE, wo.VERIFY, wo.CLOSE, wo.REOPEN],
]


def test_every_verb_from_every_state_is_judged_as_the_model_says():
    for walk in WALKS:
        events = fold([(wo.OPEN, 0, "duty1", 0), *[(k, 0, "duty1", 5) for k in walk]])
        assert len(events) == len(walk) + 1, walk
        before = wo.derive(events, WO)
        for kind in wo.KINDS:
            if kind == wo.OPEN:
                continue
            allowed = expect(before, kind)
            actor = "system:sla" if kind == wo.SLA_MARK else "duty1"
            good = payloads(kind, before, 0)
            c = Change("x", wo.STREAM, WO, kind, actor, len(events), good)
            why = wo.check(events, c)
            # what the model allows, the rule allows with a well-formed payload; what the
            # model forbids, the rule refuses whatever the payload
            assert (why is None) == bool(allowed), (before.state, kind, why)
            for k in range(1, 4):
                c = Change("y", wo.STREAM, WO, kind, actor, len(events),
                           payloads(kind, before, k))
                if wo.check(events, c) is None:
                    assert allowed, (before.state, kind, k)
