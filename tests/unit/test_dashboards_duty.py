"""The duty desk (值守台): its pure figures (the feed's order and response clocks, the
handover and its text, response times and operators), its named queries on current
ClickHouse (chDB, tests/unit/duty_seed.py, expected answers derived there in Python),
and the page under AppTest: a duty operator sees every region's alarms and acknowledges
one (through admin/duty_actions.py and an in-process stand-in of the ledger writer that
applies the ledger's own decide and the alarm rule), a field engineer sees only his
region's and gets no acknowledge button, ClickHouse down is a message.

The same query checks hold on the local 18.16: ``duty_seed.failing(ch)`` after
``duty_seed.seed(ch)`` in a migrated scratch database returns [] (run 2026-12-02).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from admin.accounts import Role
from dashboards import auth, data, duty_page, widgets
from dashboards import duty_figures as fig
from pipeline.duty import lifecycle as lc
from pipeline.duty import sla
from pipeline.ledger import queries as ledger_queries
from pipeline.ledger.codec import event_columns
from pipeline.ledger.model import APPENDED, Change, Event, Reply
from pipeline.ledger.rules import decide
from pipeline.store.client import StoreError
from pipeline.timebase import unix_from_local
from tests.store_seed import canon_rows
from tests.unit import duty_seed as ds
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.test_dashboards_app import APP, USERS, FakeAccounts, KeepOpen, sign_in, texts
from tests.unit.test_dashboards_app import user as make_user

NOW = ds.NOW

# --- pure figures -----------------------------------------------------------------------


def _alarm(aid: str, severity: str, opened: datetime, state: str = "open",
           region: str = ds.JS, rule: str = "over_limit") -> dict[str, Any]:
    return {"alarm_id": aid, "mn": "M" + aid, "enterprise": "E" + aid, "outlet": "",
            "region": region, "cn": 2051, "code": "w01018", "rule": rule,
            "severity": severity, "state": state, "opened_at": opened, "last_seen": opened,
            "cleared_at": None if state == "open" else opened, "occurrences": 1,
            "value": 1.0, "threshold": 2.0, "message": "m"}


def _ev(aid: str, seq: int, kind: str, actor: str, when: datetime,
        **payload: Any) -> dict[str, Any]:
    return {"stream": "alarm", "record_id": aid, "seq": seq, "request_id": f"r{aid}{seq}",
            "kind": kind, "actor": actor, "at_ms": round(unix_from_local(when) * 1000),
            "payload": json.dumps(payload), "source": "web"}


def test_the_feed_puts_unacknowledged_and_grave_first_and_breached_in_red():
    alarms = [
        _alarm("info-new", "info", NOW - timedelta(minutes=5)),
        _alarm("crit-acked", "critical", NOW - timedelta(minutes=50)),
        _alarm("major-late", "major", NOW - timedelta(minutes=40)),  # due after 30 min
        _alarm("crit-new", "critical", NOW - timedelta(minutes=5)),  # due after 15 min
        _alarm("crit-old", "critical", NOW - timedelta(minutes=14)),
        _alarm("warn-closed", "warning", NOW - timedelta(hours=3), state="cleared"),
    ]
    events = [_ev("crit-acked", 1, "ack", "duty", NOW - timedelta(minutes=20)),
              _ev("warn-closed", 1, "ack", "duty", NOW - timedelta(hours=2)),
              _ev("warn-closed", 2, "resolve", "duty", NOW - timedelta(hours=1),
                  verification="cleared"),
              _ev("warn-closed", 3, "close", "sup", NOW - timedelta(minutes=30))]
    items = fig.feed(alarms, events, [], NOW)
    # unacknowledged first (critical: least time left first), then acknowledged, closed
    assert [it.alarm_id for it in items] == ["crit-old", "crit-new", "major-late",
                                             "info-new", "crit-acked", "warn-closed"]
    by = {it.alarm_id: it for it in items}
    assert by["major-late"].late and by["major-late"].clock.time_left == timedelta(minutes=-10)
    assert not by["crit-old"].late
    assert by["crit-acked"].clock.breached  # acknowledged 30 min after, 15 min due
    assert by["crit-acked"].people == fig.ACKNOWLEDGED and not by["crit-acked"].late
    assert by["warn-closed"].people == fig.CLOSED and not by["warn-closed"].open
    assert fig.counts(items) == {"open": 5, "unacknowledged": 4, "breached": 1}
    rows = {r["enterprise"]: r for r in fig.feed_table(items, NOW)}
    assert rows["Emajor-late"]["response"] == "🔴 已超时 breached 10m"
    assert rows["Ecrit-old"]["response"] == "剩余 left 1m"
    assert rows["Ecrit-acked"]["response"] == "超时确认 acked late 15m"
    assert rows["Ewarn-closed"]["response"] == "按时确认 acked in time"
    assert rows["Emajor-late"]["age"] == "40m" and rows["Ewarn-closed"]["age"] == "3h00m"
    assert rows["Ewarn-closed"]["detector"] == "已恢复 cleared"


def test_people_states_assigned_and_notified_and_the_filters():
    alarms = [_alarm("a", "warning", NOW - timedelta(hours=1)),
              _alarm("b", "warning", NOW - timedelta(hours=1), region=ds.JJ, rule="spike"),
              _alarm("c", "major", NOW - timedelta(hours=1))]
    events = [_ev("a", 1, "ack", "duty", NOW), _ev("a", 2, "assign", "duty", NOW,
                                                  assignee="eng"),
              _ev("b", 1, "ack", "duty", NOW), _ev("b", 2, "assign", "duty", NOW,
                                                  assignee="eng"),
              _ev("b", 3, "notify", "duty", NOW, channel="phone", recipient="x", text="t")]
    items = fig.feed(alarms, events, [], NOW)
    people = {it.alarm_id: it.people for it in items}
    assert people == {"a": fig.ASSIGNED, "b": fig.NOTIFIED, "c": fig.UNACKNOWLEDGED}
    pick = fig.apply(items, fig.Filters(regions=(ds.JJ,)))
    assert [it.alarm_id for it in pick] == ["b"]
    assert [it.alarm_id for it in fig.apply(items, fig.Filters(severities=("major",)))] == ["c"]
    assert [it.alarm_id for it in fig.apply(items, fig.Filters(rules=("spike",)))] == ["b"]
    assert {it.alarm_id for it in fig.apply(items, fig.Filters(
        people=(fig.ASSIGNED, fig.NOTIFIED)))} == {"a", "b"}


def test_a_matching_silence_marks_the_alarm():
    row = {"silence_id": "S", "mn": "Ma", "code": "", "rule": "", "region": "",
           "starts_at": NOW - timedelta(hours=1), "ends_at": NOW + timedelta(hours=1),
           "reason": "r", "created_by": "duty", "created_at": NOW, "cancelled_at": None,
           "cancelled_by": "", "version": 1}
    items = fig.feed([_alarm("a", "info", NOW), _alarm("b", "info", NOW)], [], [row], NOW)
    assert {it.alarm_id: it.state.silenced for it in items} == {"a": True, "b": False}
    assert [r["silenced"] for r in fig.feed_table(items, NOW)].count("🔕 静默 silenced") == 1


def test_history_puts_the_detector_beside_the_people():
    a = _alarm("x", "critical", datetime(2024, 5, 10, 10), state="cleared")
    a["cleared_at"] = datetime(2024, 5, 10, 10, 30)
    events = [Event("alarm", "x", 1, "r1", "ack", "duty", datetime(2024, 5, 10, 10, 5), {}),
              Event("alarm", "x", 2, "r2", "dispatch", "duty", datetime(2024, 5, 10, 10, 6),
                    {"work_order_id": "WO-1", "engineer": "eng", "region": ds.JS}),
              Event("alarm", "x", 3, "r3", "resolve", "eng", datetime(2024, 5, 10, 10, 40),
                    {"verification": "data back"})]
    rows = fig.history_table(a, events)
    assert [(r["at"][11:16], r["who"], r["what"].split()[0]) for r in rows] == [
        ("10:00", fig.DETECTOR_ACTOR, "告警开始"), ("10:05", "duty", "确认"),
        ("10:06", "duty", "派单"), ("10:30", fig.DETECTOR_ACTOR, "告警恢复"),
        ("10:40", "eng", "处理完成")]
    assert rows[2]["detail"] == f"WO-1 → eng ({ds.JS})" and rows[4]["detail"] == "data back"


def test_evidence_is_a_small_table_and_bad_text_is_kept():
    assert fig.evidence_table('{"avg": 130.0, "hours": [1, 2], "x": NaN}') == [
        {"field": "avg", "value": "130"}, {"field": "hours", "value": "[1, 2]"},
        {"field": "x", "value": "—"}]
    assert fig.evidence_table("not json") == [{"field": "原文 text", "value": "not json"}]


def test_series_window_is_an_hour_either_side_and_not_past_now():
    a = _alarm("x", "critical", datetime(2024, 5, 10, 9))
    a["last_seen"] = datetime(2024, 5, 10, 9, 30)
    w = fig.series_window(a, datetime(2024, 5, 10, 12))
    assert (w.start, w.end, w.step) == (datetime(2024, 5, 10, 8), datetime(2024, 5, 10, 10, 30),
                                        1)
    w = fig.series_window(a, datetime(2024, 5, 10, 9, 45))
    assert w.end == datetime(2024, 5, 10, 9, 46)
    a["last_seen"] = datetime(2024, 5, 13, 9)  # three days: buckets keep it small
    w = fig.series_window(a, datetime(2024, 5, 14))
    assert (w.end - w.start).total_seconds() / max(w.step, 60) <= fig.SERIES_POINTS


@pytest.mark.parametrize(("now", "start", "end"), [
    (datetime(2024, 5, 10, 8), datetime(2024, 5, 10, 8), datetime(2024, 5, 10, 20)),
    (datetime(2024, 5, 10, 19, 59), datetime(2024, 5, 10, 8), datetime(2024, 5, 10, 20)),
    (datetime(2024, 5, 10, 20), datetime(2024, 5, 10, 20), datetime(2024, 5, 11, 8)),
    (datetime(2024, 5, 11, 7, 59), datetime(2024, 5, 10, 20), datetime(2024, 5, 11, 8)),
    (datetime(2024, 5, 1, 0, 30), datetime(2024, 4, 30, 20), datetime(2024, 5, 1, 8)),
])
def test_shifts(now, start, end):
    s = fig.shift_of(now)
    assert (s.start, s.end) == (start, end)
    assert s.name.startswith("白班" if start.hour == 8 else "夜班")


def test_handover_counts_what_is_open_and_what_the_shift_did():
    shift = fig.shift_of(NOW)
    alarms = [_alarm("a", "critical", NOW - timedelta(hours=1)),
              _alarm("b", "critical", NOW - timedelta(hours=2), region=ds.JJ),
              _alarm("c", "warning", NOW - timedelta(hours=9), state="cleared")]
    evs = [_ev("a", 1, "ack", "duty", NOW - timedelta(minutes=50)),
           _ev("a", 2, "dispatch", "duty", NOW - timedelta(minutes=40), work_order_id="W",
               engineer="eng", region=ds.JS),
           _ev("c", 1, "ack", "duty2", NOW - timedelta(hours=8)),  # the night shift's
           _ev("c", 2, "resolve", "duty2", NOW - timedelta(hours=3), verification="v"),
           _ev("c", 3, "close", "sup", NOW - timedelta(hours=2))]
    items = fig.feed(alarms, evs, [], NOW)
    in_shift = [dict(e, mn="M" + e["record_id"], enterprise="E" + e["record_id"],
                     code="w01018", rule="over_limit", severity="critical", region=ds.JS)
                for e in evs
                if shift.start <= datetime(1970, 1, 1, 8) + timedelta(
                    milliseconds=e["at_ms"]) < shift.end]
    opened = [a for a in alarms if a["opened_at"] >= shift.start]
    h = fig.handover(shift, NOW, items, opened, in_shift)
    assert h.open_by == {("critical", ds.JS): 1, ("critical", ds.JJ): 1}
    assert [it.alarm_id for it in h.open_items] == ["b", "a"]  # b unacknowledged
    assert h.opened == 2 and h.opened_by_severity == {"critical": 2}
    assert [(x[1], x[2].strftime("%H:%M")) for x in h.done[lc.ACK]] == [("duty", "11:10")]
    assert len(h.done[lc.DISPATCH]) == 1 and len(h.done[lc.RESOLVE]) == 1
    assert h.by_actor == {"duty": {"ack": 1, "dispatch": 1}, "duty2": {"resolve": 1},
                          "sup": {"close": 1}}
    text = fig.handover_text(h, "值守员 王芳")
    assert "白班 day shift 2024-05-10 08:00–20:00" in text and "交班人 by 值守员 王芳" in text
    assert "一、未处理完的告警 Still open: 2" in text
    assert f"严重 critical · {ds.JJ}: 1" in text and "已超时 BREACHED" in text
    assert "二、本班新开告警 Opened this shift: 2（严重 critical 2）" in text
    assert "11:10 duty: Ea w01018 over_limit" in text
    assert "  - duty: 确认 1，派单 1" in text


def test_response_figures_median_and_nearest_rank_p90():
    opened = datetime(2024, 5, 9, 10)
    base = round(unix_from_local(opened) * 1000)
    # minutes to acknowledge: 1..10 (region JS), 30 (JJ), one never acknowledged
    rows = [{"alarm_id": f"a{m}", "region": ds.JS, "rule": "over_limit",
             "severity": "critical", "opened_at": opened, "acks": 1,
             "acked_at_ms": base + m * 60_000, "acked_by": "duty", "resolves": 0,
             "resolved_at_ms": 0, "resolved_by": ""} for m in range(1, 11)]
    rows.append({"alarm_id": "b", "region": ds.JJ, "rule": "spike", "severity": "info",
                 "opened_at": opened, "acks": 1, "acked_at_ms": base + 30 * 60_000,
                 "acked_by": "duty2", "resolves": 1, "resolved_at_ms": base + 90 * 60_000,
                 "resolved_by": "eng"})
    rows.append({"alarm_id": "c", "region": ds.JJ, "rule": "spike", "severity": "info",
                 "opened_at": opened, "acks": 0, "acked_at_ms": 0, "acked_by": "",
                 "resolves": 0, "resolved_at_ms": 0, "resolved_by": ""})
    rs = fig.responses(rows)
    (overall,) = fig.response_summary(rs, None)
    # 11 times: 1..10 and 30; median 6; p90 = the ceil(0.9 * 11) = 10th smallest = 10
    assert overall == {"alarms": 12, "acked": 11, "ack_median_min": 6.0, "ack_p90_min": 10.0,
                       "resolved": 1, "resolve_median_min": 90.0, "resolve_p90_min": 90.0}
    by_region = {r["region"]: r for r in fig.response_summary(rs, "region")}
    assert by_region[ds.JS]["ack_median_min"] == 5.5 and by_region[ds.JS]["ack_p90_min"] == 9
    assert by_region[ds.JJ]["acked"] == 1 and by_region[ds.JJ]["resolve_median_min"] == 90
    by_rule = {r["rule"]: r for r in fig.response_summary(rs, "rule")}
    assert by_rule["数据突变 spike (spike)"]["alarms"] == 2
    assert fig.nearest_rank([5.0], 0.9) == 5.0


def test_operator_table_sums_kinds_per_operator():
    rows = [{"actor": "duty", "kind": "ack", "actions": 3, "alarms": 3},
            {"actor": "duty", "kind": "notify", "actions": 2, "alarms": 1},
            {"actor": "sup", "kind": "close", "actions": 1, "alarms": 1}]
    out = fig.operator_table(rows)
    assert [(r["actor"], r["ack"], r["notify"], r["close"], r["total"]) for r in out] == [
        ("duty", 3, 2, 0, 5), ("sup", 0, 0, 1, 1)]


def test_calls_name_the_default_views_queries():
    from pipeline.store.queries import QUERIES

    calls = duty_page.calls(None, NOW, "", "")
    assert [n for n, _ in calls] == ["duty_feed", "duty_feed_events", "duty_active_silences",
                                     "duty_shift_opened", "duty_shift_events",
                                     "duty_response_times", "duty_operator_counts"]
    for name, params in calls:
        assert set(params) == set(QUERIES[name].params), name
    assert dict(calls)["duty_feed"]["since"] == NOW - fig.FEED_LOOKBACK
    assert dict(calls)["duty_shift_opened"]["start"] == datetime(2024, 5, 10, 8)
    assert dict(calls)["duty_shift_events"]["end"] == NOW + timedelta(seconds=fig.REFRESH_S)
    assert dict(duty_page.calls((ds.JS,), NOW, "", ""))["duty_feed"]["regions"] == (ds.JS,)


# --- the named queries on chDB ----------------------------------------------------------

CHECKS = ds.checks()


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_duty") as conn:
        migrate(conn)
        ds.seed(conn)
        yield conn


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c[0])
def test_duty_query(chdb, check):
    from pipeline.store import queries

    _cid, name, params, want = check
    assert canon_rows(queries.run(chdb, name, **params)) == canon_rows(want)


def test_every_duty_query_is_checked_and_most_checks_expect_rows():
    from pipeline.store import queries_duty

    assert {c[1] for c in CHECKS} == {q.name for q in queries_duty.NAMED}
    assert sum(1 for c in CHECKS if c[3]) >= 50
    # a field engineer of 苏皖沪 gets nothing of 京津冀鲁 nor of the unregistered station
    js = [c for c in CHECKS if c[0].endswith("-苏皖沪")]
    assert all(ds.P2 not in json.dumps(c[3], default=str) and ds.U not in
               json.dumps(c[3], default=str) for c in js)


# --- the page under AppTest -------------------------------------------------------------


class NoClose:
    """The chDB session as duty_page.connect gives it (the page closes it after use)."""

    def __init__(self, ch: ChdbClickHouse) -> None:
        self.ch = ch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ch, name)

    def close(self) -> None:
        pass


class InProcessLedger:
    """The ledger's writer as one in-process call: the record's history from the table,
    the ledger's own ``decide`` with the alarm stream's rule, the event appended, the
    reply returned (Kafka and the writer's service loop are the integration's)."""

    changes: ClassVar[list[Change]] = []

    def __init__(self, ch: ChdbClickHouse) -> None:
        self.ch = ch

    def submit(self, change: Change, wait_s: float | None = None) -> Reply:
        self.changes.append(change)
        history = ledger_queries.history(self.ch, change.stream, change.record_id)
        reply = decide(history, change, lc.check)
        if reply.outcome == APPENDED:
            self.ch.insert_columns("ledger_events", event_columns([Event(
                change.stream, change.record_id, reply.seq, change.request_id, change.kind,
                change.actor, NOW + timedelta(minutes=1), change.payload, change.source)]))
        return reply


DUTY_USERS = {**USERS, "duty": make_user("duty", Role.DUTY_OPERATOR),
              "engineer": make_user("engineer", Role.FIELD_ENGINEER, regions=(ds.JS,))}


@pytest.fixture()
def page(monkeypatch: pytest.MonkeyPatch, chdb: ChdbClickHouse) -> None:
    @contextmanager
    def accounts() -> Iterator[FakeAccounts]:
        yield FakeAccounts()

    monkeypatch.setattr(FakeAccounts, "users", DUTY_USERS)
    monkeypatch.setattr(auth, "accounts", accounts)
    monkeypatch.setattr(data, "connect", lambda dsn: KeepOpen(chdb))
    monkeypatch.setattr(widgets, "now_local", lambda: NOW)
    monkeypatch.setattr(duty_page, "now_local", lambda: NOW)
    monkeypatch.setattr(duty_page, "connect", lambda dsn: NoClose(chdb))
    monkeypatch.setattr(duty_page, "ledger", lambda: InProcessLedger(chdb))
    InProcessLedger.changes = []
    st.cache_data.clear()
    data.reset_breaker()


def _open(username: str, alarm_id: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    sign_in(at, username)
    if alarm_id is not None:
        at.query_params["alarm"] = alarm_id
    at.switch_page("views/duty.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _tables(at: AppTest) -> str:
    return "\n".join(t.value.to_csv() for t in at.table)


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _expected_items(scope: ds.Scope) -> list[fig.Item]:
    alarms = [a for a in ds.final_alarms().values()
              if ds.on_desk(a, ds.SINCE) and ds._in(a.mn, scope)]
    out = []
    for a in alarms:
        row = ds.expected_alarm(a.alarm_id, None)[0]
        evs = [Event("alarm", e.record_id, e.seq, "r", e.kind, e.actor, e.at, e.payload)
               for e in ds.alarm_events() if e.record_id == a.alarm_id]
        out.append(fig.item(row, evs, [], NOW))
    return out


def test_a_duty_operator_sees_every_regions_alarms(page):
    at = _open("duty")
    shown = texts(at)
    assert "值守台 Duty desk" in shown
    items = _expected_items(None)
    # by hand from the seed: A1 dispatched, A2 assigned, A3 closed, A5 and A7
    # unacknowledged (A7 cleared, warning: acknowledged by nobody)
    assert _metrics(at)["未处理完 Open"] == "4"
    assert _metrics(at)["未确认 Unacknowledged"] == str(
        sum(it.people == fig.UNACKNOWLEDGED for it in items)) == "2"
    tables = _tables(at)
    assert "乙电力有限公司" in tables and ds.U in tables and "甲水务有限公司" in tables
    assert "🔕" in tables  # A1 is under SIL-1
    for name in ("duty_feed", "duty_feed_events", "duty_active_silences", "duty_shift_opened",
                 "duty_shift_events", "duty_response_times", "duty_operator_counts"):
        assert f"`{name}`" in shown, name
    assert duty_page.PICK_HINT in shown


def test_an_operator_opens_an_alarm_and_acknowledges_it(page, chdb):
    at = _open("duty", ds.A5.alarm_id)
    shown = texts(at)
    assert "告警详情 Alarm" in shown and "零值" in _tables(at)
    assert [b.label for b in at.button if b.label.startswith("确认")] == ["确认 acknowledge"]
    at.button(key="duty_do_ack").click().run()
    assert not at.exception, at.exception
    (change,) = InProcessLedger.changes
    assert (change.kind, change.actor, change.expected_seq, change.record_id) == (
        "ack", "duty", 0, ds.A5.alarm_id)
    assert "确认 acknowledge: 已记录（第 1 条） recorded as event 1" in [
        s.value for s in at.success]
    assert "duty" in _tables(at).split("告警开始")[-1]  # the history shows the ack
    assert ledger_queries.last_seq(chdb, "alarm", ds.A5.alarm_id) == 1


def test_a_stale_page_gets_the_conflict_message(page, chdb):
    at = _open("duty", ds.A2.alarm_id)  # seq 3 shown
    # another operator comments meanwhile
    InProcessLedger(chdb).submit(Change("other", "alarm", ds.A2.alarm_id, "comment", "duty2",
                                        3, {"text": "on it"}, "web", NOW))
    at.text_area(key="duty_in_comment").input("checking")
    at.button(key="duty_submit_comment").click().run()
    errors = [e.value for e in at.error]
    assert any("冲突 conflict" in e and "duty2" in e for e in errors), errors
    assert not at.exception


def test_a_field_engineer_sees_his_region_only_and_cannot_acknowledge(page):
    at = _open("engineer", ds.A2.alarm_id)  # A2 is 京津冀鲁's
    tables = _tables(at)
    assert "甲水务有限公司" in tables
    for other in (ds.P2, ds.U, "乙电力", ds.JJ):
        assert other not in tables and other not in texts(at).replace(
            duty_page.NOT_FOUND, "")
    assert duty_page.NOT_FOUND in [e.value for e in at.error]
    at = _open("engineer", ds.A1.alarm_id)
    labels = [b.label for b in at.button]
    assert "确认 acknowledge" not in labels  # an engineer comments and resolves only
    assert any("处理完成" in t.label for t in at.tabs)
    assert not any("派单" in t.label for t in at.tabs)


def test_clickhouse_down_is_a_message(page, monkeypatch):
    def refuse(dsn: str) -> Any:
        raise StoreError("ClickHouse at clickhouse://default@127.0.0.1:9000/x did not answer")

    monkeypatch.setattr(data, "connect", refuse)
    at = _open("duty", ds.A1.alarm_id)
    assert data.UNAVAILABLE in [e.value for e in at.error]
    assert not at.exception


def test_the_clock_the_page_uses_is_the_slas():
    # the feed's breached count rests on sla.ACK_DUE: the seed's A2 (warning, opened
    # 10:30) is due at 12:30, so at NOW it is neither breached nor acknowledged late
    assert sla.due_at("warning", ds.A2.opened_at) == datetime(2024, 5, 10, 12, 30)
