"""rules.decide: appended with the next seq, a stale change is a conflict naming who and
when, a stream's refusal, an unknown stream; and the entry-point loading."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from pipeline.ledger import rules
from pipeline.ledger.model import APPENDED, CONFLICT, REFUSED, Change, Event, Reply
from pipeline.ledger.rules import accept_any, decide

NOW = datetime(2026, 11, 24, 21, 5, 0)


def change(expected: int, *, kind: str = "ack", stream: str = "alarm", rid: str = "r1",
           actor: str = "李雷", at: datetime | None = NOW) -> Change:
    return Change(request_id=rid, stream=stream, record_id="MN1/a21026/over_limit/1",
                  kind=kind, actor=actor, expected_seq=expected, payload={"note": "x"},
                  source="web", submitted_at=at)


def event(seq: int, actor: str = "王芳", kind: str = "ack",
          at: datetime = datetime(2026, 11, 24, 21, 3, 12)) -> Event:
    return Event(stream="alarm", record_id="MN1/a21026/over_limit/1", seq=seq,
                 request_id=f"req{seq}", kind=kind, actor=actor, at=at, payload={})


def test_first_change_of_a_record_is_appended_as_seq_1():
    assert decide([], change(0), accept_any) == Reply("r1", APPENDED, 1, "")


@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_a_change_expecting_the_last_seq_gets_the_next(n):
    history = [event(i) for i in range(1, n + 1)]
    reply = decide(history, change(n), accept_any)
    assert (reply.outcome, reply.seq, reply.ok) == (APPENDED, n + 1, True)


def test_a_stale_change_is_a_conflict_naming_who_and_when():
    history = [event(1, actor="王芳", kind="ack")]
    reply = decide(history, change(0), accept_any)
    assert reply.outcome == CONFLICT and not reply.ok
    assert reply.seq == 1  # the record's last seq, to refresh against
    assert reply.message == ("此告警已被 王芳 于 21:03:12 修改（确认），请查看最新内容后重新提交 / "
                             "changed by 王芳 at 21:03:12 (ack), look at it as it is now "
                             "and submit again")


def test_a_conflict_names_the_latest_change_and_how_many_came_since():
    history = [event(1), event(2, actor="张三", kind="assign",
                                at=datetime(2026, 11, 24, 21, 4, 1)),
               event(3, actor="赵六", kind="comment", at=datetime(2026, 11, 24, 21, 4, 30))]
    reply = decide(history, change(1), accept_any)
    assert reply.outcome == CONFLICT and reply.seq == 3
    assert "赵六 于 21:04:30 修改（评论）" in reply.message
    assert "此后共 2 次修改" in reply.message and "2 changes since you looked" in reply.message


def test_a_conflict_on_another_day_shows_the_date():
    history = [event(1, at=datetime(2026, 11, 23, 8, 0, 0))]
    assert "于 11-23 08:00:00 修改" in decide(history, change(0), accept_any).message
    history = [event(1, at=datetime(2025, 12, 31, 23, 59, 59))]
    assert "2025-12-31 23:59:59" in decide(history, change(0), accept_any).message


def test_a_change_expecting_more_than_there_is_is_a_conflict():
    reply = decide([event(1)], change(5), accept_any)
    assert reply.outcome == CONFLICT and reply.seq == 1
    assert "只有 1 次修改" in reply.message and "not 5" in reply.message


def test_other_streams_name_their_record_and_unknown_verbs_show_as_they_are():
    history = [event(1, kind="weird_verb")]
    reply = decide(history, change(0, stream="work_order"), accept_any)
    assert reply.message.startswith("此工单已被 王芳")
    assert "（weird_verb）" in reply.message
    reply = decide(history, change(0, stream="something_new"), accept_any)
    assert reply.message.startswith("此记录已被 王芳")


def test_the_streams_check_refuses_with_its_own_words():
    seen: list[tuple[int, str]] = []

    def check(history: Sequence[Event], ch: Change) -> str | None:
        seen.append((len(history), ch.kind))
        return "已关闭的告警不能再确认 / a closed alarm cannot be acknowledged"

    reply = decide([event(1), event(2)], change(2), check)
    assert reply == Reply("r1", REFUSED, 2,
                          "已关闭的告警不能再确认 / a closed alarm cannot be acknowledged")
    assert seen == [(2, "ack")]


def test_the_check_is_not_asked_about_a_stale_change():
    def check(history: Sequence[Event], ch: Change) -> str | None:
        raise AssertionError("asked")

    assert decide([event(1)], change(0), check).outcome == CONFLICT


def test_a_check_that_raises_refuses_naming_the_error():
    def check(history: Sequence[Event], ch: Change) -> str | None:
        raise KeyError("assignee")

    reply = decide([], change(0), check)
    assert reply.outcome == REFUSED and reply.seq == 0
    assert "KeyError" in reply.message and "r1" in reply.message


def test_an_unknown_stream_is_refused_naming_it_and_the_fix():
    reply = decide([event(1)], change(1, stream="nope"), None)
    assert reply.outcome == REFUSED and reply.seq == 1
    assert "'nope'" in reply.message and "hj212.ledger_streams" in reply.message


def test_streams_are_loaded_once_from_the_entry_points(monkeypatch):
    calls: list[str] = []

    class FakeEp:
        def __init__(self, name: str, ok: bool) -> None:
            self.name, self.ok, self.value = name, ok, f"mod:{name}"

        def load(self) -> object:
            calls.append(self.name)
            if not self.ok:
                raise ImportError("no module named mod")
            return accept_any

    monkeypatch.setattr(rules, "_streams", None)
    monkeypatch.setattr(rules, "_load_errors", {})
    monkeypatch.setattr(rules, "entry_points",
                        lambda group: [FakeEp("good", True), FakeEp("broken", False)]
                        if group == rules.STREAMS_GROUP else [])
    assert rules.streams() == {"good": accept_any}
    assert rules.streams() == {"good": accept_any}
    assert calls == ["good", "broken"]  # once, not per call
    assert "ImportError" in rules.load_errors()["broken"]


def test_the_installed_alarm_stream_is_registered():
    from importlib.metadata import entry_points

    names = {ep.name: ep.value for ep in entry_points(group=rules.STREAMS_GROUP)}
    assert names.get("alarm") == "pipeline.duty.lifecycle:check"


def test_load_check_names_what_is_wrong():
    assert rules.load_check("pipeline.ledger.rules:accept_any") is accept_any
    for bad in ("nocolon", "pipeline.ledger.rules:nothing_here", "no_such_mod_x:f",
                "pipeline.ledger.rules:STREAMS_GROUP"):
        with pytest.raises(ValueError, match=r"cannot load|not module:function|not callable"):
            rules.load_check(bad)
