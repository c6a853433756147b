"""The alarm stream's rule (check) and derived state (derive): pure, no servers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipeline.duty import lifecycle as lc
from pipeline.duty.silences import Silence
from pipeline.ledger.model import Change, Event

ALARM = "MN001/w01018/zero_streak/20261202080000"
T0 = datetime(2026, 12, 2, 8, 5)

PAYLOADS = {
    lc.ACK: {}, lc.UNACK: {}, lc.ASSIGN: {"assignee": "li.na"},
    lc.COMMENT: {"text": "called the site"},
    lc.NOTIFY: {"channel": "phone", "receiver": "", "recipient": "王工 13800000000",
                "text": "COD 数据为零，请检查"},
    lc.DISPATCH: {"work_order_id": "WO-1", "engineer": "zhao.gang", "region": "苏皖沪"},
    lc.RESOLVE: {"verification": "episode cleared at 10:42"},
    lc.CLOSE: {}, lc.REOPEN: {"reason": "zero again"},
}


def change(kind: str, payload=None, actor: str = "zhang.wei", seq: int = 0) -> Change:
    return Change(request_id=f"r-{kind}-{seq}", stream="alarm", record_id=ALARM, kind=kind,
                  actor=actor, expected_seq=seq,
                  payload=PAYLOADS[kind] if payload is None else payload, source="test")


def run(*steps: str | tuple[str, dict]) -> list[Event]:
    """Append each step (kind, or (kind, payload)) after checking it is allowed."""
    events: list[Event] = []
    for i, step in enumerate(steps):
        kind, payload = (step, None) if isinstance(step, str) else step
        ch = change(kind, payload, seq=len(events))
        why = lc.check(events, ch)
        assert why is None, f"step {i} {kind}: {why}"
        events.append(Event("alarm", ALARM, len(events) + 1, ch.request_id, kind, ch.actor,
                            T0 + timedelta(minutes=i), ch.payload, "test"))
    return events


def refusal(events: list[Event], kind: str, payload=None) -> str:
    why = lc.check(events, change(kind, payload, seq=len(events)))
    assert why is not None, f"{kind} was allowed"
    return why


def test_the_whole_path_is_allowed():
    events = run(lc.ACK, lc.ASSIGN, lc.NOTIFY, lc.DISPATCH, lc.COMMENT, lc.RESOLVE, lc.CLOSE)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6, 7]


def test_close_before_resolve_is_refused_in_both_languages():
    why = refusal(run(lc.ACK), lc.CLOSE)
    assert "不能关闭" in why and "not resolved" in why


def test_ack_twice_and_unack_of_nothing():
    assert "already acknowledged by zhang.wei" in refusal(run(lc.ACK), lc.ACK)
    assert "not acknowledged" in refusal([], lc.UNACK)
    # unack then ack again is fine
    run(lc.ACK, lc.UNACK, lc.ACK)


def test_a_closed_alarm_takes_only_comments_and_reopen():
    closed = run(lc.ACK, lc.RESOLVE, lc.CLOSE)
    for kind in (lc.RESOLVE, lc.ACK, lc.ASSIGN, lc.NOTIFY, lc.DISPATCH, lc.CLOSE, lc.UNACK):
        assert "closed" in refusal(closed, kind), kind
    assert lc.check(closed, change(lc.COMMENT, seq=3)) is None
    assert lc.check(closed, change(lc.REOPEN, seq=3)) is None


@pytest.mark.parametrize("kind,payload,words", [
    (lc.COMMENT, {"text": "   "}, "empty comment"),
    (lc.COMMENT, {}, "empty comment"),
    (lc.ASSIGN, {"assignee": ""}, "assign to nobody"),
    (lc.ASSIGN, {"assignee": 7}, "assign to nobody"),
    (lc.REOPEN, {"reason": ""}, "nothing to reopen"),  # nothing resolved yet either
])
def test_empty_payloads_are_refused(kind, payload, words):
    assert words in refusal(run(lc.ACK), kind, payload)


def test_actions_need_an_acknowledgement_first():
    for kind in (lc.NOTIFY, lc.DISPATCH, lc.RESOLVE):
        why = refusal([], kind)
        assert "acknowledge the alarm before" in why and "请先确认" in why
    # assigning and commenting do not
    run(lc.ASSIGN, lc.COMMENT)


def test_notify_needs_a_known_channel_text_and_someone():
    acked = run(lc.ACK)
    base = PAYLOADS[lc.NOTIFY]
    assert "channel 'pigeon'" in refusal(acked, lc.NOTIFY, {**base, "channel": "pigeon"})
    assert "empty notification" in refusal(acked, lc.NOTIFY, {**base, "text": ""})
    assert "names nobody" in refusal(acked, lc.NOTIFY, {**base, "recipient": ""})
    # through a receiver only (a robot group) is fine
    assert lc.check(acked, change(lc.NOTIFY, {**base, "recipient": "", "receiver": "wecom-1"},
                                  seq=1)) is None


def test_dispatch_once_and_with_its_fields():
    acked = run(lc.ACK)
    for key in ("work_order_id", "engineer", "region"):
        assert f"without {key}" in refusal(acked, lc.DISPATCH,
                                           {**PAYLOADS[lc.DISPATCH], key: ""})
    assert "already dispatched as work order WO-1" in refusal(run(lc.ACK, lc.DISPATCH),
                                                               lc.DISPATCH)
    assert "resolved" in refusal(run(lc.ACK, lc.RESOLVE), lc.DISPATCH)


def test_resolve_needs_verification_and_happens_once():
    acked = run(lc.ACK)
    assert "verification" in refusal(acked, lc.RESOLVE, {"verification": ""})
    assert "already resolved" in refusal(run(lc.ACK, lc.RESOLVE), lc.RESOLVE)


def test_unknown_kind_long_text_and_no_actor():
    bad = Change("r", "alarm", ALARM, "delete", "zhang.wei", 0, {}, "test")
    assert "unknown alarm action 'delete'" in (lc.check([], bad) or "")
    long = "x" * (lc.MAX_TEXT + 1)
    assert f"at most {lc.MAX_TEXT}" in refusal([], lc.COMMENT, {"text": long})
    nobody = Change("r", "alarm", ALARM, lc.COMMENT, " ", 0, {"text": "hi"}, "test")
    assert "no actor" in (lc.check([], nobody) or "")


def test_unack_after_dispatch_is_refused():
    assert "dispatched or resolved" in refusal(run(lc.ACK, lc.DISPATCH), lc.UNACK)


# --- derive -------------------------------------------------------------------------------

EPISODE = {"alarm_id": ALARM, "mn": "MN001", "code": "w01018", "rule": "zero_streak",
           "severity": "major", "state": "open", "region": "苏皖沪",
           "opened_at": datetime(2026, 12, 2, 8, 0), "last_seen": datetime(2026, 12, 2, 9)}


def test_derive_keeps_the_two_axes_apart():
    cleared = {**EPISODE, "state": "cleared"}
    st = lc.derive(cleared, [])
    assert (st.detector, st.phase, st.last_seq) == (lc.CLEARED, lc.UNACKNOWLEDGED, 0)
    st = lc.derive(EPISODE, run(lc.ACK, lc.RESOLVE, lc.CLOSE))
    assert (st.detector, st.phase) == (lc.ACTIVE, lc.CLOSED)
    assert st.severity == "major"


def test_derive_collects_who_did_what_when():
    events = run(lc.ACK, (lc.ASSIGN, {"assignee": "li.na"}), lc.NOTIFY,
                 (lc.COMMENT, {"text": "first"}), lc.DISPATCH,
                 (lc.COMMENT, {"text": "second"}), lc.RESOLVE)
    st = lc.derive(EPISODE, list(reversed(events)))  # order of the list does not matter
    assert st.phase == lc.RESOLVED and st.resolved
    assert (st.acknowledged_by, st.acknowledged_at) == ("zhang.wei", T0)
    assert (st.assignee, st.assigned_at) == ("li.na", T0 + timedelta(minutes=1))
    assert [(n.channel, n.recipient, n.at) for n in st.notified] == [
        ("phone", "王工 13800000000", T0 + timedelta(minutes=2))]
    assert [c.text for c in st.comments] == ["first", "second"]
    assert (st.dispatched, st.dispatched_to, st.dispatched_region) == ("WO-1", "zhao.gang",
                                                                       "苏皖沪")
    assert st.resolved_at == T0 + timedelta(minutes=6)
    assert st.verification == "episode cleared at 10:42"
    assert st.last_seq == 7 and not st.closed


def test_phases_in_order_and_reopen():
    assert lc.derive(EPISODE, run(lc.ACK)).phase == lc.ACKNOWLEDGED
    assert lc.derive(EPISODE, run(lc.ACK, lc.DISPATCH)).phase == lc.DISPATCHED
    st = lc.derive(EPISODE, run(lc.ACK, lc.DISPATCH, lc.RESOLVE, lc.CLOSE, lc.REOPEN))
    # reopened: back to work with the acknowledgement, but no resolution, close or order
    assert st.phase == lc.ACKNOWLEDGED and not st.closed and not st.resolved
    assert st.dispatched == "" and st.acknowledged


def test_first_acknowledgement_survives_unack():
    st = lc.derive(EPISODE, run(lc.ACK, lc.UNACK, lc.ACK))
    assert st.first_acknowledged_at == T0
    assert st.acknowledged_at == T0 + timedelta(minutes=2)
    st = lc.derive(EPISODE, run(lc.ACK, lc.UNACK))
    assert st.phase == lc.UNACKNOWLEDGED and st.acknowledged_by == ""


def _silence(**kw) -> Silence:
    base = dict(silence_id="SIL-1", mn="", code="", rule="", region="",
                starts_at=datetime(2026, 12, 2, 8), ends_at=datetime(2026, 12, 2, 12),
                reason="calibration", created_by="zhang.wei",
                created_at=datetime(2026, 12, 2, 7))
    return Silence(**{**base, **kw})


def test_derive_marks_silenced_alarms():
    at = datetime(2026, 12, 2, 9)
    sils = [_silence(silence_id="SIL-a", mn="MN002"), _silence(silence_id="SIL-b",
                                                                mn="MN001")]
    st = lc.derive(EPISODE, [], silences=sils, at=at)
    assert st.silenced and st.silenced_by == ("SIL-b",)
    assert not lc.derive(EPISODE, [], silences=sils[:1], at=at).silenced
    # after the window it is no longer silenced
    assert not lc.derive(EPISODE, [], silences=sils, at=datetime(2026, 12, 2, 12)).silenced
