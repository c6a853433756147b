"""The grouping engine on an injected clock: windows, repeats, resolved notices,
escalation, quiet hours, silences, the robots' rate limit and digests, and what a
restart takes back from the delivery log."""

from __future__ import annotations

from dataclasses import replace

from pipeline.notify.grouping import Engine, SlidingWindowLimit
from pipeline.notify.model import SENT
from tests.unit.notify_helpers import T0_MS, alarm, routing

S = 1000


def drain(e: Engine, receiver: str, now: int) -> list:
    out = []
    while (n := e.take(receiver, now)) is not None:
        out.append(n)
        e.settle(n, SENT)
    return out


def feed(e: Engine, a, now: int, origin=None, silence=None):
    return e.ingest(a, e.routing.targets(a), origin or a.alarm_id, now, silence)


def test_group_wait_gathers_a_stations_alarms_into_one_message():
    e = Engine(routing())
    feed(e, alarm(rule="over_limit"), T0_MS)
    feed(e, alarm(rule="negative"), T0_MS + 10 * S)
    feed(e, alarm(mn="MN2"), T0_MS + 12 * S)
    e.tick(T0_MS + 29 * S)
    assert drain(e, "a", T0_MS + 29 * S) == []
    e.tick(T0_MS + 30 * S)
    sent = drain(e, "a", T0_MS + 30 * S)
    assert len(sent) == 1 and {i.alarm.rule for i in sent[0].items} == {"over_limit",
                                                                       "negative"}
    e.tick(T0_MS + 42 * S)  # MN2's own group: 30 s after its first alarm
    sent2 = drain(e, "a", T0_MS + 42 * S)
    assert [i.alarm.mn for n in sent2 for i in n.items] == ["MN2"]


def test_group_interval_then_repeat_then_resolved():
    e = Engine(routing())
    a = alarm()
    feed(e, a, T0_MS)
    e.tick(T0_MS + 30 * S)
    assert len(drain(e, "a", T0_MS + 30 * S)) == 1
    # a second alarm of the station 60 s later waits for group_interval (300 s)
    feed(e, alarm(rule="spike"), T0_MS + 90 * S)
    e.tick(T0_MS + 200 * S)
    assert drain(e, "a", T0_MS + 200 * S) == []
    e.tick(T0_MS + 330 * S)
    assert [i.alarm.rule for n in drain(e, "a", T0_MS + 330 * S) for i in n.items] == [
        "spike"]
    # updates owe nothing
    assert feed(e, replace(a, transition="update"), T0_MS + 400 * S).waits == 0
    # still open an hour after its notice: one repeat
    e.tick(T0_MS + 30 * S + 3600 * S)
    rep = drain(e, "a", T0_MS + 30 * S + 3600 * S)
    assert [(i.kind, i.n, i.alarm.rule) for n in rep for i in n.items] == [
        ("repeat", 1, "over_limit")]
    # it clears: a resolved notice, within the group's interval
    t = T0_MS + 4000 * S
    assert feed(e, replace(a, transition="clear", state="cleared"), t).waits == 1
    e.tick(t + 300 * S)
    res = drain(e, "a", t + 300 * S)
    assert [(i.kind, i.alarm.alarm_id) for n in res for i in n.items
            if i.alarm.alarm_id == a.alarm_id] == [("resolved", a.alarm_id)]


def test_an_alarm_that_clears_before_its_window_is_told_once_as_cleared():
    e = Engine(routing())
    a = alarm()
    feed(e, a, T0_MS)
    feed(e, replace(a, transition="clear", state="cleared"), T0_MS + 5 * S)
    e.tick(T0_MS + 30 * S)
    sent = drain(e, "a", T0_MS + 30 * S)
    assert [(i.kind, i.alarm.cleared) for n in sent for i in n.items] == [("firing", True)]
    e.tick(T0_MS + 10_000 * S)
    assert drain(e, "a", T0_MS + 10_000 * S) == []  # no repeat, no second resolved


def test_escalation_only_for_the_unacknowledged_after_n_minutes():
    e = Engine(routing(defaults='escalate_after_min = 10\nescalate_to = "boss"'))
    x, y = alarm(mn="MN1"), alarm(mn="MN2")
    feed(e, x, T0_MS)
    feed(e, y, T0_MS)
    assert e.escalation_due(T0_MS + 599 * S) == []
    due = e.escalation_due(T0_MS + 600 * S)
    assert sorted(due) == sorted([x.alarm_id, y.alarm_id])
    assert e.escalate(due, {y.alarm_id}, T0_MS + 600 * S) == 1  # x was acknowledged
    sent = drain(e, "boss", T0_MS + 600 * S)
    assert [(i.kind, i.alarm.alarm_id, i.group_key) for n in sent for i in n.items] == [
        ("escalation", y.alarm_id, "esc:MN2")]
    assert e.escalation_due(T0_MS + 9_999 * S) == []  # once per alarm


def test_quiet_hours_hold_low_severities_until_morning_critical_goes_at_once():
    r = routing('[quiet_hours]\nstart = "22:00"\nend = "07:00"',
                defaults="group_wait_s = 0")
    e = Engine(r)
    night = T0_MS + 15 * 3600 * S  # 23:00 CST
    feed(e, alarm(severity="warning"), night)
    feed(e, alarm(severity="critical", rule="negative"), night)
    e.tick(night)
    now = drain(e, "a", night)
    assert [i.alarm.severity for n in now for i in n.items] == ["critical"]
    e.tick(night + 7 * 3600 * S)  # 06:00: only the critical's repeats
    assert {i.kind for n in drain(e, "a", night + 7 * 3600 * S) for i in n.items} == {
        "repeat"}
    e.tick(night + 8 * 3600 * S)  # 07:00
    later = drain(e, "a", night + 8 * 3600 * S)
    assert [i.alarm.severity for n in later for i in n.items if i.kind == "firing"] == [
        "warning"]


def test_a_silenced_alarm_is_suppressed_and_stays_quiet_when_it_clears():
    e = Engine(routing(defaults="group_wait_s = 0"))
    a = alarm()
    res = feed(e, a, T0_MS, silence="SIL-1")
    assert res.waits == 1 and [i.kind for i in res.suppressed] == ["firing"]
    e.tick(T0_MS)
    assert drain(e, "a", T0_MS) == []
    feed(e, replace(a, transition="clear", state="cleared"), T0_MS + 60 * S)
    e.tick(T0_MS + 3600 * S)
    assert drain(e, "a", T0_MS + 3600 * S) == []


def test_sliding_window_allows_twenty_in_any_minute():
    lim = SlidingWindowLimit(20)
    sent = []
    t = 0
    while t < 180_000:
        if lim.available(t):
            lim.take(t)
            sent.append(t)
        t += 100
    for i, at in enumerate(sent):
        assert sum(1 for s in sent[i:] if s < at + 60_000) <= 20
    assert len(sent) == 60  # and it uses every slot it has


def test_sliding_window_leaves_room_for_the_way_to_the_robot():
    # the robot counts arrivals: a send 1.5 s on the way (within the slack) never makes 21
    lim = SlidingWindowLimit(20)
    arrivals = []
    t = 0
    k = 0
    while t < 300_000:
        if lim.available(t):
            lim.take(t)
            k += 1
            arrivals.append(t + (1_500 if k % 40 == 1 else 0))
        t += 10
    arrivals.sort()
    for i, at in enumerate(arrivals):
        assert sum(1 for s in arrivals[i:] if s < at + 60_000) <= 20


def test_a_storm_becomes_digests_within_the_rate_limit_and_nothing_is_dropped():
    e = Engine(routing(defaults="group_wait_s = 0"))
    n_alarms = 3000
    msgs = []
    for k in range(n_alarms):
        now = T0_MS + k * 20  # 3000 alarms in 60 s over 300 stations
        feed(e, alarm(mn=f"MN{k % 300:03d}", rule=f"r{k // 300}"), now)
        e.tick(now)
        msgs += [(now, n) for n in drain(e, "a", now)]
    # the stations' later alarms wait for their group's interval (300 s)
    t = T0_MS + 60 * S
    while t < T0_MS + 700 * S:
        t += 1000
        e.tick(t)
        msgs += [(t, n) for n in drain(e, "a", t)]
    times = [at for at, _ in msgs]
    for i, at in enumerate(times):
        assert sum(1 for s in times[i:] if s < at + 60_000) <= 20
    ids = [i.alarm.alarm_id for _, n in msgs for i in n.items]
    assert len(ids) == n_alarms == len(set(ids))
    assert any(n.digest for _, n in msgs)
    assert times[-1] - T0_MS < 400_000


def test_restore_covers_logged_items_resumes_unfinished_and_reopens_open_alarms():
    e = Engine(routing(defaults="group_wait_s = 0"))
    a, b = alarm(mn="MN1"), alarm(mn="MN2")
    feed(e, a, T0_MS)
    feed(e, b, T0_MS)
    e.tick(T0_MS)
    n1 = e.take("a", T0_MS)
    n2 = e.take("a", T0_MS)
    import json

    from pipeline.notify.deliveries import items_json

    logged = [
        {"notification_id": n1.notification_id, "receiver": "a", "state": "sent",
         "items": json.loads(items_json(n1)), "at_ms": T0_MS, "created_ms": T0_MS},
        {"notification_id": n2.notification_id, "receiver": "a", "state": "pending",
         "items": json.loads(items_json(n2)), "at_ms": T0_MS, "created_ms": T0_MS},
    ]
    e2 = Engine(routing(defaults="group_wait_s = 0"))
    assert e2.restore(logged, T0_MS + 5 * S) == 1
    # the replay of both alarms makes nothing new
    assert feed(e2, a, T0_MS + 5 * S).waits == 0
    assert feed(e2, b, T0_MS + 5 * S).waits == 0
    e2.tick(T0_MS + 5 * S)
    again = drain(e2, "a", T0_MS + 5 * S)
    assert [(n.notification_id, n.resumed) for n in again] == [(n2.notification_id, True)]
    # a is open again: it clears -> resolved; it would have been repeated too
    assert feed(e2, replace(a, transition="clear", state="cleared"), T0_MS + 9 * S).waits == 1
    e2.tick(T0_MS + 400 * S)
    assert [i.kind for n in drain(e2, "a", T0_MS + 400 * S) for i in n.items] == ["resolved"]


def test_notification_id_is_the_same_for_the_same_content():
    e1, e2 = Engine(routing(defaults="group_wait_s = 0")), Engine(
        routing(defaults="group_wait_s = 0"))
    for e in (e1, e2):
        feed(e, alarm(rule="x"), T0_MS)
        feed(e, alarm(rule="y"), T0_MS)
        e.tick(T0_MS)
    n1, n2 = e1.take("a", T0_MS), e2.take("a", T0_MS + 77)
    assert n1.notification_id == n2.notification_id
    feed(e1, alarm(rule="z"), T0_MS)
    e1.tick(T0_MS + 1_000_000)
    assert e1.take("a", T0_MS + 1_000_000).notification_id != n1.notification_id
