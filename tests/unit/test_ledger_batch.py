"""batch.plan: a poll's changes answered in order, replays answered as the first time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from pipeline.ledger.batch import Bad, plan
from pipeline.ledger.model import APPENDED, CONFLICT, REFUSED, Change, Event, Reply
from pipeline.ledger.rules import accept_any

NOW = datetime(2026, 11, 24, 9, 0, 0)


def ch(rid: str, record: str, expected: int, kind: str = "comment",
       stream: str = "alarm") -> Change:
    return Change(request_id=rid, stream=stream, record_id=record, kind=kind,
                  actor="op", expected_seq=expected, payload={"i": rid})


def no_reopen(history: Sequence[Event], change: Change) -> str | None:
    closed = any(e.kind == "close" for e in history)
    return "closed" if closed and change.kind != "reopen" else None


CHECKS = {"alarm": no_reopen, "work_order": accept_any}


def test_changes_in_sequence_get_consecutive_seqs_per_record():
    items = [ch("a1", "A", 0), ch("b1", "B", 0), ch("a2", "A", 1), ch("a3", "A", 2),
             ch("b2", "B", 1)]
    p = plan(items, {("alarm", "A"): [], ("alarm", "B"): []}, {}, CHECKS, NOW)
    assert [(r.outcome, r.seq) for r in p.answers] == [
        (APPENDED, 1), (APPENDED, 1), (APPENDED, 2), (APPENDED, 3), (APPENDED, 2)]
    assert [(e.record_id, e.seq, e.request_id) for e in p.events] == [
        ("A", 1, "a1"), ("B", 1, "b1"), ("A", 2, "a2"), ("A", 3, "a3"), ("B", 2, "b2")]
    assert [e.seq for e in p.histories[("alarm", "A")]] == [1, 2, 3]
    assert all(e.at == NOW for e in p.events)
    assert [r for r, *_ in p.replies] == p.answers and p.replayed == 0


def test_two_changes_expecting_the_same_seq_one_wins():
    p = plan([ch("x", "A", 0), ch("y", "A", 0)], {("alarm", "A"): []}, {}, CHECKS, NOW)
    assert [r.outcome for r in p.answers] == [APPENDED, CONFLICT]
    assert p.answers[1].seq == 1 and len(p.events) == 1


def test_the_rule_sees_the_changes_before_it_in_the_batch():
    p = plan([ch("c", "A", 0, kind="close"), ch("d", "A", 1)], {("alarm", "A"): []}, {},
             CHECKS, NOW)
    assert [r.outcome for r in p.answers] == [APPENDED, REFUSED]
    assert p.answers[1] == Reply("d", REFUSED, 1, "closed")


def test_an_answered_change_is_answered_the_same_and_nothing_is_written():
    first = Reply("a1", CONFLICT, 4, "changed by x")
    p = plan([ch("a1", "A", 3)], {("alarm", "A"): []}, {"a1": first}, CHECKS, NOW)
    assert p.answers == [first] and p.events == [] and p.replies == [] and p.replayed == 1


def test_a_change_whose_event_is_there_but_not_its_reply_is_answered_appended():
    history = [Event("alarm", "A", 1, "a1", "comment", "op", NOW, {}),
               Event("alarm", "A", 2, "a2", "comment", "op", NOW, {})]
    p = plan([ch("a2", "A", 1), ch("a3", "A", 2)], {("alarm", "A"): history}, {}, CHECKS,
             NOW)
    assert [(r.outcome, r.seq) for r in p.answers] == [(APPENDED, 2), (APPENDED, 3)]
    assert [e.request_id for e in p.events] == ["a3"]  # a2 is not appended again
    assert [r.request_id for r, *_ in p.replies] == ["a2", "a3"] and p.replayed == 1
    assert len(history) == 2  # the caller's history is not changed


def test_the_same_request_twice_in_a_batch_is_one_change():
    p = plan([ch("a1", "A", 0), ch("a1", "A", 0)], {("alarm", "A"): []}, {}, CHECKS, NOW)
    assert p.answers[0] == p.answers[1] == Reply("a1", APPENDED, 1)
    assert len(p.events) == 1 and len(p.replies) == 1


def test_unknown_streams_and_unreadable_changes_are_refused():
    bad = Bad("zz", "", "", "unreadable change: x")
    p = plan([ch("u", "A", 0, stream="mystery"), bad], {("mystery", "A"): []}, {}, CHECKS,
             NOW)
    assert [r.outcome for r in p.answers] == [REFUSED, REFUSED]
    assert "mystery" in p.answers[0].message and p.answers[1].message == bad.reason
    assert p.events == []


def test_a_record_without_a_history_is_the_callers_bug():
    with pytest.raises(KeyError, match="alarm/A"):
        plan([ch("a", "A", 0)], {}, {}, CHECKS, NOW)
