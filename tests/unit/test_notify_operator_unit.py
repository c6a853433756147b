"""Operators' notify events (pipeline/notify/operator.py): what is sent and what is only
logged, the cursor that neither resends nor skips, the rendering, the engine's queue and
restore, and the SQL on chDB."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from pipeline.ledger.codec import event_columns
from pipeline.ledger.model import Event
from pipeline.notify import deliveries, render
from pipeline.notify import operator as op
from pipeline.notify.grouping import Engine
from pipeline.notify.model import OPERATOR, PENDING, SENT, SKIPPED, OperatorNote
from pipeline.notify.routing import Target
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.notify_helpers import T0_MS, alarm, routing

TEXT = "您好，贵司1号排口COD超标，请立即核查。"


def note(receiver: str = "a", *, at_ms: int = T0_MS, seq: int = 3, text: str = TEXT,
         rid: str | None = None) -> OperatorNote:
    return OperatorNote(request_id=rid or uuid.uuid4().hex, seq=seq, by="op_zhang",
                        at="2024-06-01 08:00:00", at_ms=at_ms, channel="wecom",
                        receiver=receiver, recipient="王经理", text=text)


def test_plan_sends_to_a_known_receiver_and_skips_the_rest_with_the_reason():
    r = routing()
    a = alarm()
    ok = op.plan(note("a", rid="r1"), a, r, T0_MS + 5000)
    assert ok.skip is None
    n = ok.notification
    assert n.notification_id == "OP-r1" and n.receiver == "a"
    assert n.items[0].kind == OPERATOR and n.items[0].route == "operator"
    assert n.created_ms == T0_MS  # the event's time: the log's high-water mark
    none = op.plan(note(""), a, r, T0_MS)
    assert none.skip is not None and "no receiver named" in none.skip
    unknown = op.plan(note("gone_group"), a, r, T0_MS)
    assert unknown.skip is not None and "'gone_group'" in unknown.skip
    assert "[receivers.gone_group]" in unknown.skip
    old = op.plan(note("a"), a, r, T0_MS + 25 * 3_600_000)
    assert old.skip is not None and "too old" in old.skip


def test_cursor_first_start_restart_and_dedup():
    first = op.Cursor.start({}, T0_MS)
    assert first.since_ms == T0_MS - op.FIRST_LOOKBACK_MS
    n1, n2 = note(at_ms=T0_MS - 10_000, rid="x1"), note(at_ms=T0_MS - 5000, rid="x2")
    # the same event listed twice comes once; marked, it does not come again
    assert [n.request_id for n in first.fresh([n2, n1, n1])] == ["x1", "x2"]
    first.mark(n1)
    assert [n.request_id for n in first.fresh([n1, n2])] == ["x2"]
    # a restart: the log has OP-x1 (to the second); reads from an hour before it
    again = op.Cursor.start({"OP-x1": (T0_MS - 10_000) // 1000 * 1000}, T0_MS)
    assert again.since_ms == (T0_MS - 10_000) // 1000 * 1000 - op.LOOKBACK_MS
    assert [n.request_id for n in again.fresh([n1, n2])] == ["x2"]


def test_alarm_from_id_when_the_row_is_missing():
    a = op.alarm_from_id("MN9/w01018/over_limit/20240601075900")
    assert (a.mn, a.code, a.rule, a.opened_at) == ("MN9", "w01018", "over_limit",
                                                   "2024-06-01 07:59:00")
    b = op.alarm_from_id("MN9//offline/20240601075900")
    assert (b.mn, b.code, b.rule) == ("MN9", "", "offline")


def test_render_operator_text_first_and_within_the_robot_limit():
    r = routing()
    n = op.plan(note("a", rid="r9"), alarm(enterprise="甲公司"), r, T0_MS).notification
    recv = r.receivers["a"]
    md = render.wecom_body(n, recv)["markdown"]["content"]
    lines = md.splitlines()
    assert lines[0].startswith("### 【值守中心通知】甲公司")
    assert lines[1] == f"> {TEXT}"  # the operator's words right under the title
    assert "op_zhang" in md and "王经理" in md and "OP-r9" in md and "超标" in md
    long = op.plan(note("a", text="超标" * 3000), alarm(), r, T0_MS).notification
    md = render.wecom_body(long, recv)["markdown"]["content"]
    assert len(md.encode()) <= render.WECOM_BYTES
    assert "全文见值守台" in md and "op_zhang" in md and long.notification_id in md
    subject, body = render.mail_text(n, recv)
    assert "甲公司" in subject and TEXT in body
    hook = render.webhook_body(n, r.receivers["boss"])
    assert hook["kind"] == "operator" and hook["operator"]["text"] == TEXT
    assert hook["items"][0]["kind"] == "operator"


def test_engine_sends_operator_before_grouped_and_restores_it_without_reopening():
    r = routing()
    eng = Engine(r)
    a = alarm()
    target = Target("root", "a", r.defaults)
    eng.ingest(a, [target], None, T0_MS)
    eng.tick(T0_MS + 31_000)  # the alarm's firing notice is ready
    told = op.plan(note("a", rid="q1"), a, r, T0_MS).notification
    eng.queue_operator(told)
    first = eng.take("a", T0_MS + 31_000)
    assert first is not None and first.notification_id == "OP-q1"
    second = eng.take("a", T0_MS + 31_000)
    assert second is not None and second.items[0].kind == "firing"
    # the log as a restart reads it: the operator's message still pending
    logged = [{"notification_id": told.notification_id, "receiver": "a",
               "state": PENDING, "at_ms": T0_MS,
               "items": json.loads(deliveries.items_json(told))}]
    eng2 = Engine(r)
    assert eng2.restore(logged, T0_MS + 60_000) == 1
    back = eng2.take("a", T0_MS + 60_000)
    assert back is not None and back.resumed and back.operator == told.operator
    assert not eng2.groups  # an operator's message reopens no alarm for repeats


def test_sql_on_chdb_events_logged_ids_and_alarm_rows():
    with ChdbClickHouse("hj212_notify_operator_unit") as ch:
        migrate(ch)
        assert deliveries.operator_logged(ch, op.LOOKBACK_MS) == {}
        at = datetime(2024, 6, 1, 8, 0, 0, 250000)
        evs = [Event("alarm", "MN1/w01018/over_limit/20240601075900", 2, "rid-a", "notify",
                     "op_zhang", at, {"channel": "wecom", "receiver": "a", "text": TEXT}),
               Event("alarm", "MN1/w01018/over_limit/20240601075900", 1, "rid-b", "ack",
                     "op_zhang", at, {})]
        ch.insert_columns("ledger_events", event_columns(evs))
        rows = deliveries.notify_events(ch, T0_MS)
        assert [r["request_id"] for r in rows] == ["rid-a"]
        assert deliveries.notify_events(ch, T0_MS + 251) == []
        got = op.note_from_row(rows[0])
        assert (got.text, got.receiver, got.by, got.at_ms) == (TEXT, "a", "op_zhang",
                                                               T0_MS + 250)
        assert got.at == "2024-06-01 08:00:00"
        r = routing()
        sent = op.plan(got, alarm(), r, T0_MS).notification
        skipped = op.plan(note("", at_ms=T0_MS + 7000, rid="rid-c"), alarm(), r,
                          T0_MS).notification
        deliveries.write(ch, [deliveries.Row(sent, SENT, 1, at_ms=T0_MS + 2000),
                              deliveries.Row(skipped, SKIPPED, error="x", at_ms=T0_MS)])
        assert deliveries.operator_logged(ch, op.LOOKBACK_MS) == {
            "OP-rid-a": T0_MS, "OP-rid-c": T0_MS + 7000}
        assert deliveries.alarm_rows(ch, ["nope"]) == {}
