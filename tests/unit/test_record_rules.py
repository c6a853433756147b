"""admin/record_rules.py: the pieces the service-record rules share. Expected texts are
written out by hand; properties check the helpers against plain loops."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from admin import record_rules as rr
from dashboards import records_figures as fig
from pipeline.ledger.model import Change, Event
from pipeline.registry.model import REGIONS

T0 = datetime(2026, 12, 2, 9, 0)


def change(kind: str = "open", actor: str = "duty1", payload: dict[str, Any] | None = None
           ) -> Change:
    return Change(request_id="r1", stream="s", record_id="R1", kind=kind, actor=actor,
                  expected_seq=0, payload=payload or {})


def event(seq: int, record_id: str = "R1", kind: str = "note") -> Event:
    return Event("s", record_id, seq, f"r{seq}", kind, "duty1", T0, {})


# --- refusal text -----------------------------------------------------------------------


def test_refuse_puts_chinese_first():
    assert rr.refuse("操作人为空", "no actor") == "操作人为空 / no actor"


def test_first_word_is_the_chinese_of_a_label():
    labels = {"open": "开单 open", "sla": "时限记录 SLA mark"}
    assert rr.first_word(labels, "open") == "开单"
    assert rr.first_word(labels, "sla") == "时限记录"
    assert rr.first_word(labels, "bogus") == "bogus"  # no label: the key


def test_unknown_value_names_the_known_ones():
    assert rr.unknown_value("phone", ("phone", "mail"), "方式", "channel") is None
    assert rr.unknown_value("fax", ("phone", "mail"), "方式", "channel") == (
        "方式 'fax' 无效 / channel 'fax' is unknown; fix: one of phone, mail")
    assert rr.unknown_value("", ("a",), "类别", "class") == (
        "类别 '' 无效 / class '' is unknown; fix: one of a")


def test_service_region_is_one_of_the_registry_regions():
    for region in REGIONS:
        assert rr.check_service_region(region) is None
    listed = ", ".join(REGIONS)
    assert rr.check_service_region("火星") == (
        f"服务区域 '火星' 无效 / region '火星' is not a service region; fix: one of {listed}")
    assert rr.check_service_region("") is not None


def test_not_a_date_shows_the_value_as_given():
    assert rr.not_a_date("2026-13-01", "到期日", "due date") == (
        "到期日 '2026-13-01' 无效 / due date '2026-13-01' is not a date; fix: YYYY-MM-DD")
    assert rr.not_a_date(None, "完成期限", "due") == (
        "完成期限 None 无效 / due None is not a date; fix: YYYY-MM-DD")


def test_missing_names_the_first_empty_key_in_order():
    keys = (("cause", "原因"), ("action", "处理措施"))
    assert rr.missing({"cause": "x", "action": "y"}, keys, "resolve") is None
    assert rr.missing({"cause": " ", "action": ""}, keys, "resolve") == (
        "请填写原因 / resolve needs the cause; fix: give it")
    assert rr.missing({"cause": "x", "action": 3}, keys, "resolve") == (
        "请填写处理措施 / resolve needs the action; fix: give it")
    assert rr.missing({}, (), "note") is None


def test_notify_needs_receiver_and_text():
    both = "通知须指定接收群和内容 / notify needs a receiver and a text; fix: give both"
    assert rr.check_notify({"receiver": "desk", "text": "hi"}) is None
    assert rr.check_notify({"receiver": "desk"}) == both
    assert rr.check_notify({"receiver": " ", "text": "hi"}) == both
    assert rr.check_notify({}) == both


# --- payload values ---------------------------------------------------------------------


def test_text_strips_and_reads_non_texts_as_empty():
    p = {"a": "  x y ", "b": 3, "c": None, "d": ["x"]}
    assert rr.text(p, "a") == "x y"
    assert [rr.text(p, k) for k in ("b", "c", "d", "absent")] == ["", "", "", ""]


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-12-08", date(2026, 12, 8)),
    (" 2026-12-08 ", date(2026, 12, 8)),
    (date(2027, 1, 1), date(2027, 1, 1)),
    (datetime(2027, 1, 1, 8, 0), None),  # a time of day is not a due date
    ("2026-13-01", None),
    ("", None),
    (20261208, None),
    (None, None),
])
def test_iso_date(value: Any, expected: date | None):
    assert rr.iso_date(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (3, 3), (0, 0), (-2, -2), (True, None), (False, None), (3.0, None), ("3", None),
    (None, None),
])
def test_whole(value: Any, expected: int | None):
    got = rr.whole(value)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize(("value", "expected"), [
    (2, 2.0), (0.95, 0.95), (-1, -1.0), (True, None), (math.nan, None), (math.inf, None),
    (-math.inf, None), ("0.9", None), (None, None),
])
def test_finite(value: Any, expected: float | None):
    got = rr.finite(value)
    assert got == expected and (got is None or isinstance(got, float))


# --- the start of every check -----------------------------------------------------------


def test_unknown_verb_lists_the_stream_verbs():
    assert rr.check_verb_and_actor(change("fly"), ("open", "close"), "工单", "work-order") == (
        "未知的工单操作 'fly' / unknown work-order action 'fly'; fix: use one of open, close")


def test_a_change_needs_an_actor():
    no_actor = "操作人为空 / the change names no actor; fix: sign in"
    assert rr.check_verb_and_actor(change(actor=" "), ("open",), "巡检", "inspection") == no_actor
    assert rr.check_verb_and_actor(change(actor=""), ("open",), "巡检", "inspection") == no_actor
    assert rr.check_verb_and_actor(change(), ("open",), "巡检", "inspection") is None


def test_too_long_at_the_limit_and_one_over():
    assert rr.too_long({"text": "x" * 10}, 10) is None
    assert rr.too_long({"text": "x" * 11, "n": 5}, 10) == (
        "text 过长（11 字，最多 10） / text is 11 characters long; fix: at most 10")


def test_too_long_looks_into_lists_only_when_asked():
    p = {"items": ["ok", "y" * 12]}
    assert rr.too_long(p, 10) is None
    assert rr.too_long(p, 10, in_lists=True) == (
        "items 过长（12 字，最多 10） / items is 12 characters long; fix: at most 10")
    assert rr.too_long({"items": ("y" * 11,)}, 10, in_lists=True) is not None


def test_check_start_refuses_the_verb_before_the_length():
    long = {"text": "x" * 11}
    assert rr.check_start(change("fly", payload=long), ("open",), "回访", "return-visit",
                          10) == ("未知的回访操作 'fly' / unknown return-visit action 'fly'; "
                                  "fix: use one of open")
    assert rr.check_start(change(actor="", payload=long), ("open",), "回访", "return-visit",
                          10) == "操作人为空 / the change names no actor; fix: sign in"
    assert rr.check_start(change(payload=long), ("open",), "回访", "return-visit", 10) == (
        "text 过长（11 字，最多 10） / text is 11 characters long; fix: at most 10")
    assert rr.check_start(change(payload={"text": "ok"}), ("open",), "回访", "return-visit",
                          10) is None


values = st.one_of(st.text(max_size=14), st.integers(), st.none(),
                   st.lists(st.text(max_size=14), max_size=3))


@given(st.dictionaries(st.sampled_from("abcde"), values, max_size=5),
       st.integers(min_value=0, max_value=12), st.booleans())
def test_too_long_is_none_exactly_when_every_text_fits(p: dict[str, Any], limit: int,
                                                       in_lists: bool):
    texts = []
    for v in p.values():
        if isinstance(v, str):
            texts.append(v)
        elif in_lists and isinstance(v, list):
            texts.extend(x for x in v if isinstance(x, str))
    fits = all(len(t) <= limit for t in texts)
    assert (rr.too_long(p, limit, in_lists=in_lists) is None) == fits


# --- the start of every derive ----------------------------------------------------------


def test_history_orders_by_seq_and_takes_the_last():
    h = rr.history([event(3), event(1), event(2)])
    assert [e.seq for e in h.events] == [1, 2, 3]
    assert h.record_id == "R1" and h.last_seq == 3


def test_history_of_nothing():
    assert rr.history([]) == rr.History((), "", 0)
    assert rr.history([], "WO-1") == rr.History((), "WO-1", 0)


def test_history_keeps_the_id_asked_for():
    assert rr.history([event(1, "R1")], "R9").record_id == "R9"
    # the first event that names one, in seq order
    assert rr.history([event(2, "R2"), event(1, "")]).record_id == "R2"


@given(st.lists(st.integers(min_value=1, max_value=50), unique=True, max_size=8),
       st.randoms(use_true_random=False))
def test_history_is_the_same_in_any_order(seqs: list[int], rnd: Any):
    events = [event(s) for s in seqs]
    shuffled = events[:]
    rnd.shuffle(shuffled)
    h = rr.history(shuffled)
    assert h == rr.history(events)
    assert [e.seq for e in h.events] == sorted(seqs)
    assert h.last_seq == (max(seqs) if seqs else 0)


def test_note_is_plain_data():
    n = rr.Note(4, "qa1", T0, "已电话确认")
    assert (n.seq, n.actor, n.at, n.text) == (4, "qa1", T0, "已电话确认")
    assert n == rr.Note(4, "qa1", T0, "已电话确认")


# --- the due-list row the inspections and visits pages share (dashboards) ----------------


@dataclass(frozen=True)
class _Due:
    due: date
    overdue: bool
    covered_by: str = ""


TODAY = date(2026, 12, 10)


@pytest.mark.parametrize(("due", "overdue", "expected"), [
    (date(2026, 12, 7), True, "🔴 逾期 overdue 3d"),
    (date(2026, 12, 10), False, "🟠 今日到期 due today"),
    (date(2026, 12, 24), False, "14 天后 in 14d"),
])
def test_due_status(due: date, overdue: bool, expected: str):
    assert fig.due_status(due, overdue, TODAY) == expected


def test_due_row_puts_the_type_cells_between_status_and_plan():
    row = fig.due_row(_Due(date(2026, 12, 11), False), TODAY, {"kind": "平台巡检", "region": "—"})
    assert list(row) == ["due", "status", "kind", "region", "covered_by"]
    assert row == {"due": "2026-12-11", "status": "1 天后 in 1d", "kind": "平台巡检",
                   "region": "—", "covered_by": "—"}
    planned = fig.due_row(_Due(date(2026, 12, 9), True, "INS-P-1"), TODAY, {})
    assert planned["covered_by"] == "INS-P-1" and planned["status"] == "🔴 逾期 overdue 1d"
