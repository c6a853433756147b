"""`hj212 notify` sends an operator's "notify the enterprise" (issue 11 item 3) on the
real stack: notify events written into ledger_events exactly as the ledger writer writes
them (pipeline.ledger.codec.event_columns), an alarms row and a station in a ClickHouse
database of this run, the real local HTTP server standing in for a WeCom robot and a
webhook, `hj212 notify` as a subprocess.

Shown: the operator's text reaches the named receiver once (WeCom markdown and webhook
JSON), with who sent it and the enterprise; an event naming an unknown receiver and one
naming none are logged once as 'skipped' with the reason; a restart (SIGTERM, then
kill -9) resends nothing and sends what came while it was down.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import pytest

from pipeline.ledger.codec import event_columns
from pipeline.ledger.model import Event
from pipeline.notify.local_receiver import LocalReceiver
from pipeline.timebase import local_from_unix
from tests.integration.test_notify_service import NotifyRun

pytestmark = pytest.mark.integration

ROUTES = """
version = "it-op-1"
[defaults]
group_wait_s = 1
escalate_after_min = 0
[receivers.yg]
kind = "wecom"
url = "{wecom}"
[receivers.boss]
kind = "webhook"
url = "{boss}"
[root]
receivers = ["boss"]
"""
SECRETS = """
[yg]
key = "wecom-key-yg"
"""
MN = "YGOP1"
OPENED = local_from_unix(time.time() - 3600).replace(microsecond=0)
AID = f"{MN}/w01018/over_limit/{OPENED:%Y%m%d%H%M%S}"


def notify_event(ch: Any, seq: int, receiver: str, text: str, *, channel: str = "wecom",
                 actor: str = "op_zhang") -> str:
    rid = uuid.uuid4().hex
    ev = Event(stream="alarm", record_id=AID, seq=seq, request_id=rid, kind="notify",
               actor=actor, at=local_from_unix(time.time()),
               payload={"channel": channel, "receiver": receiver,
                        "recipient": "王经理 138****0000", "text": text}, source="web")
    ch.insert_columns("ledger_events", event_columns([ev]))
    return rid


def logged(run: NotifyRun) -> list[dict[str, Any]]:
    """Every row of the delivery log (not FINAL: a second 'skipped' row would show)."""
    with run.ch() as ch:
        return ch.query_dicts("SELECT notification_id, receiver, route, state, last_error "
                              "FROM notify_deliveries")


def final(run: NotifyRun) -> dict[str, dict[str, Any]]:
    with run.ch() as ch:
        rows = ch.query_dicts("SELECT notification_id, receiver, route, state, attempts, "
                              "last_error, at FROM notify_deliveries FINAL")
    return {r["notification_id"]: r for r in rows}


def test_operator_notify_sent_once_skipped_logged_restart_safe(stack, tmp_path):
    srv = LocalReceiver(wecom={"yg": "wecom-key-yg"}, webhooks={"boss": ""}).start()
    routes = ROUTES.format(wecom=srv.wecom_url, boss=srv.webhook_url("boss"))
    run = NotifyRun(stack, tmp_path, routes, receiver=srv, secrets=SECRETS, smtp_port=1)
    try:
        run.stations([(MN, "云贵川渝", "甲化工有限公司")])
        now = int(time.time())
        with run.ch() as ch:
            ch.insert_columns("alarms", {
                "alarm_id": [AID], "mn": [MN], "cn": [2051], "code": ["w01018"],
                "rule": ["over_limit"], "severity": ["major"], "state": ["open"],
                "opened_at": [now - 3600], "last_seen": [now - 60], "cleared_at": [None],
                "occurrences": [3], "value": [88.0], "threshold": [50.0],
                "message": ["COD 超标"], "evidence": ['{"value": 88.0}'],
                "version": [now * 1000]})
            text1 = "您好，贵司1号排口COD小时均值超标（88 mg/L，限值50），请立即核查并回复。"
            r1 = notify_event(ch, 1, "yg", text1)
            r2 = notify_event(ch, 2, "boss", "已电话通知，书面通知见附件", channel="webhook")
            r3 = notify_event(ch, 3, "nosuch_group", "这条发不出去")
            r4 = notify_event(ch, 4, "", "已电话告知王经理", channel="phone")
        t0 = time.monotonic()
        run.start()
        run.wait("the operator's messages", lambda: len(srv.messages("yg")) >= 1
                 and len(srv.messages("boss")) >= 1, 30)
        took = time.monotonic() - t0
        # a receiver has its message before the notifier logs it as sent: wait for both
        run.wait("the log's rows", lambda: len(final(run)) >= 4
                 and final(run)[f"OP-{r1}"]["state"] == "sent"
                 and final(run)[f"OP-{r2}"]["state"] == "sent", 15)

        # the WeCom robot got the operator's words, who, which enterprise and alarm
        (got,) = srv.messages("yg")
        assert text1 in got.text
        assert "op_zhang" in got.text and "甲化工有限公司" in got.text
        assert MN in got.text and "超标" in got.text and f"OP-{r1}" in got.text
        assert "王经理" in got.text
        # the webhook got JSON with the operator's note
        (hook,) = srv.messages("boss")
        assert hook.body["kind"] == "operator"
        assert hook.body["operator"]["text"] == "已电话通知，书面通知见附件"
        assert hook.body["operator"]["by"] == "op_zhang"
        assert hook.body["alarm"]["alarm_id"] == AID
        assert hook.headers.get("Idempotency-Key") == f"OP-{r2}"
        assert not srv.violations, srv.violations

        rows = final(run)
        assert rows[f"OP-{r1}"]["route"] == "operator"
        assert rows[f"OP-{r2}"]["state"] == "sent"
        assert rows[f"OP-{r3}"]["state"] == "skipped"
        assert "nosuch_group" in rows[f"OP-{r3}"]["last_error"]
        assert rows[f"OP-{r4}"]["state"] == "skipped"
        assert rows[f"OP-{r4}"]["receiver"] == ""
        assert "no receiver" in rows[f"OP-{r4}"]["last_error"]

        # restart (SIGTERM): nothing again; a new event is sent
        run.stop()
        run.start()
        time.sleep(5)  # two polls and more
        with run.ch() as ch:
            r5 = notify_event(ch, 5, "yg", "复查：数据已恢复正常，谢谢配合。")
        run.wait("the event after the restart", lambda: len(srv.messages("yg")) >= 2, 20)
        # idle means its 'sent' row is written: a kill between the answer and that row
        # resends under the same id (the receiver dedupes by it), shown in
        # test_notify_service's kill -9 storm, not here
        run.wait("the 'sent' row of the event after the restart",
                 lambda: final(run).get(f"OP-{r5}", {}).get("state") == "sent", 20)

        # kill -9 while idle, an event while down: sent once after the restart
        run.kill9()
        with run.ch() as ch:
            r6 = notify_event(ch, 6, "yg", "停机期间的通知")
        run.start()
        run.wait("the event written while down", lambda: len(srv.messages("yg")) >= 3, 20)
        time.sleep(5)
        yg = [m.text for m in srv.messages("yg")]
        assert len(yg) == 3, yg
        assert "复查：数据已恢复正常" in yg[1] and "停机期间的通知" in yg[2]
        assert len(srv.messages("boss")) == 1
        per_id = Counter(r["notification_id"] for r in logged(run)
                         if r["state"] == "skipped")
        assert per_id == {f"OP-{r3}": 1, f"OP-{r4}": 1}, per_id
        states = {k: v["state"] for k, v in final(run).items()}
        assert states[f"OP-{r5}"] == states[f"OP-{r6}"] == "sent"
        print(f"\noperator notify: event -> WeCom message {took:.1f} s (incl. start-up)")
    finally:
        run.cleanup()
        srv.stop()
