"""`hj212 notify` on the real stack, as a subprocess (so kill -9 is a real kill): alarms
published to a topic of this run in the worker's own format (pipeline.stream.sinks
``alarm_record``), stations and silences and acknowledgements in a ClickHouse database
of this run, a real local HTTP server standing in for the WeCom and DingTalk robots and
the webhooks (it checks formats, keys and signatures), and a real SMTP server
(aiosmtpd).

Shown: routing by region, grouping, repeat, resolved, escalation of the unacknowledged
only, a silence suppressing, retries after a receiver fails then recovers,
dead-lettering on a permanent error, mail delivered; and kill -9 mid-storm: every alarm
reaches the receiver in exactly one message.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiosmtpd.controller import Controller

from pipeline.detect.model import AlarmEvent, AlarmStep
from pipeline.notify.local_receiver import LocalReceiver
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from pipeline.stream.sinks import alarm_record
from pipeline.timebase import unix_s_from_local
from tests.integration.worker_env import log_tail, worker_env

pytestmark = pytest.mark.integration

HJ212 = Path(sys.executable).parent / "hj212"
T0 = datetime.now().replace(microsecond=0) - timedelta(hours=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
        return "250 OK"


def message(mn: str, rule: str, transition: str = "open", severity: str = "major",
            code: str = "w01018", opened: datetime = T0, **evidence: Any) -> bytes:
    """An alarm message exactly as the stream worker publishes it."""
    ev = AlarmEvent(mn=mn, code=code, rule=rule, transition=transition,  # type: ignore[arg-type]
                    severity=severity, first_seen=opened,  # type: ignore[arg-type]
                    last_seen=opened + timedelta(minutes=1), cn=2051,
                    message=f"{mn} {rule} 测试", evidence={"value": 12.5, "threshold": 10,
                                                          **evidence})
    return alarm_record(AlarmStep(ev, opened, 1)).message


def alarm_id(mn: str, rule: str, code: str = "w01018", opened: datetime = T0) -> str:
    return f"{mn}/{code}/{rule}/{opened:%Y%m%d%H%M%S}"


class NotifyRun:
    """A database, a topic, a receiver server, a mailbox and `hj212 notify` processes."""

    def __init__(self, stack: Any, tmp: Path, routes: str, *, receiver: LocalReceiver,
                 secrets: str, smtp_port: int) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.tmp = tmp
        self.bootstrap = stack.kafka_bootstrap
        self.topic = f"test.notify.{self.tag}"
        parts = urlsplit(stack.clickhouse_dsn)
        self.dsn = urlunsplit(parts._replace(path=f"/hj212_it_notify_{self.tag}"))
        Migrator(self.dsn).migrate()
        self.receiver = receiver
        (tmp / "routes.toml").write_text(routes, encoding="utf-8")
        (tmp / "secrets.toml").write_text(secrets, encoding="utf-8")
        self.env = worker_env(self.bootstrap, self.dsn, {"alarms": self.topic}, tmp / "run")
        self.env.update({"HJ212_NOTIFY__ROUTES": str(tmp / "routes.toml"),
                         "HJ212_NOTIFY__SECRETS_FILE": str(tmp / "secrets.toml"),
                         "HJ212_NOTIFY__GROUP_ID": f"it-notify-{self.tag}",
                         "HJ212_NOTIFY__SMTP_PORT": str(smtp_port)})
        asyncio.run(self._create())
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "notify.log"
        self.producer_loop = asyncio.new_event_loop()

    async def _create(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topic, 2, 1)])
        finally:
            await admin.close()

    def ch(self) -> ClickHouse:
        return ClickHouse(self.dsn)

    def stations(self, rows: list[tuple[str, str, str]]) -> None:
        """(mn, region, enterprise) into the registry."""
        now = int(time.time())
        cols: dict[str, list[Any]] = {
            "mn": [r[0] for r in rows], "pw": ["123456"] * len(rows),
            "enterprise": [r[2] for r in rows], "outlet": ["1号排口"] * len(rows),
            "st": ["32"] * len(rows), "edition": [2017] * len(rows),
            "province": [""] * len(rows), "region": [r[1] for r in rows],
            "rtd_interval": [60] * len(rows), "min_interval": [10] * len(rows),
            "active": [1] * len(rows), "updated_at": [now] * len(rows),
            "version": [now * 1000] * len(rows)}
        with self.ch() as ch:
            ch.insert_columns("stations", cols)

    def start(self, start_from: str | None = "earliest") -> None:
        fh = self.log.open("ab")
        where = ["--from", start_from] if start_from else []
        self.proc = subprocess.Popen([str(HJ212), "notify", *where],
                                     env=self.env, stdout=fh, stderr=subprocess.STDOUT,
                                     cwd=self.tmp)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                # a service that ignores SIGTERM is killed by `hj212 run` and systemd
                raise AssertionError("hj212 notify did not stop within 20 s of SIGTERM; "
                                     f"see {self.log}") from None

    def publish(self, messages: list[tuple[str, bytes]], per_s: float = 0,
                timestamp_ms: int | None = None) -> None:
        """Publish ``messages`` (at ``per_s`` a second if given; with the time
        ``timestamp_ms``, as if published then, if given)."""
        async def go() -> None:
            p = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
            await p.start()
            try:
                start = time.monotonic()
                for k, (mn, value) in enumerate(messages):
                    await p.send(self.topic, value, key=mn.encode(), timestamp_ms=timestamp_ms)
                    if per_s and k % 10 == 9:
                        await p.flush()
                        wait = start + (k + 1) / per_s - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                await p.flush()
            finally:
                await p.stop()

        asyncio.run(go())

    def wait(self, what: str, cond: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            if self.proc is not None and self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{what} did not happen within {timeout} s; notify log:\n"
                             f"{log_tail(self.log, 40)}")

    def deliveries(self) -> list[dict[str, Any]]:
        with self.ch() as ch:
            return ch.query_dicts(
                "SELECT notification_id, receiver, alarm_ids, item_kinds, state, attempts, "
                "last_error, silence_id FROM notify_deliveries FINAL")

    def cleanup(self) -> None:
        self.stop()
        with ClickHouse(self.dsn, database="default") as ch:
            ch.execute(f"DROP DATABASE IF EXISTS hj212_it_notify_{self.tag}")


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    yield box, port
    ctl.stop()


ROUTES = """
version = "it-1"
[defaults]
group_wait_s = 1
group_interval_s = 3
repeat_interval_s = 12
escalate_after_min = 0.1
escalate_to = "boss"
[delivery]
max_attempts = 4
backoff_base_s = 0.5
backoff_cap_s = 2
[receivers.yg]
kind = "wecom"
url = "{wecom}"
[receivers.js]
kind = "dingtalk"
url = "{ding}"
[receivers.boss]
kind = "webhook"
url = "{boss}"
[receivers.flaky]
kind = "webhook"
url = "{flaky}"
[receivers.broken]
kind = "wecom"
url = "{wecom}"
[receivers.mailbox]
kind = "mail"
to = ["duty@example.com"]
[[routes]]
name = "critical-mail"
match = {{ severity = "critical" }}
receivers = ["mailbox"]
escalate_after_min = 0
continue = true
[[routes]]
name = "flaky"
match = {{ rule = "flaky_rule" }}
receivers = ["flaky"]
escalate_after_min = 0
[[routes]]
name = "broken"
match = {{ rule = "broken_rule" }}
receivers = ["broken"]
escalate_after_min = 0
[[routes]]
name = "云贵川渝"
match = {{ region = "云贵川渝" }}
receivers = ["yg"]
[[routes]]
name = "苏皖沪"
match = {{ region = "苏皖沪" }}
receivers = ["js"]
escalate_after_min = 0
[root]
receivers = ["boss"]
"""
SECRETS = """
[yg]
key = "wecom-key-yg"
[js]
access_token = "ding-token-js"
secret = "SEC-ding-secret-js"
[broken]
key = "wecom-key-revoked"
[flaky]
token = "flaky-bearer"
"""


def test_routing_grouping_repeat_escalation_silence_retry_dead_mail(stack, tmp_path, mailbox):
    box, smtp_port = mailbox
    srv = LocalReceiver(wecom={"yg": "wecom-key-yg"},
                        dingtalk={"js": ("ding-token-js", "SEC-ding-secret-js")},
                        webhooks={"boss": "", "flaky": "flaky-bearer"}).start()
    routes = ROUTES.format(wecom=srv.wecom_url, ding=srv.dingtalk_url,
                           boss=srv.webhook_url("boss"), flaky=srv.webhook_url("flaky"))
    run = NotifyRun(stack, tmp_path, routes, receiver=srv, secrets=SECRETS,
                    smtp_port=smtp_port)
    try:
        run.stations([("YG1", "云贵川渝", "甲化工"), ("YG2", "云贵川渝", "乙水务"),
                      ("JS1", "苏皖沪", "丙电厂"), ("FL1", "晋豫陕", "丁"),
                      ("BR1", "晋豫陕", "戊")])
        a1, a2 = alarm_id("YG1", "over_limit"), alarm_id("YG1", "negative")
        with run.ch() as ch:
            # YG2 is being calibrated: silenced
            ch.insert_columns("silences", {
                "silence_id": ["SIL-it-1"], "mn": ["YG2"], "code": [""], "rule": [""],
                "region": [""], "starts_at": [int(time.time()) - 600],
                "ends_at": [int(time.time()) + 3600], "reason": ["标定 calibration"],
                "created_by": ["op1"], "created_at": [int(time.time()) - 600],
                "cancelled_at": [None], "cancelled_by": [""],
                "version": [int(time.time() * 1000)]})
            # a1 is acknowledged on the duty desk: no escalation for it
            ch.insert_columns("ledger_events", {
                "stream": ["alarm"], "record_id": [a1], "seq": [1],
                "request_id": [uuid.uuid4().hex], "kind": ["ack"], "actor": ["op1"],
                "at": [unix_s_from_local(T0)], "at_ms": [unix_s_from_local(T0) * 1000],
                "payload": ["{}"], "source": ["cli"]})
        srv.fail("flaky", 2, "http500")
        run.start()
        run.publish([("YG1", message("YG1", "over_limit")),
                     ("YG1", message("YG1", "negative")),
                     ("YG2", message("YG2", "zero_streak")),
                     ("JS1", message("JS1", "spike", severity="critical")),
                     ("FL1", message("FL1", "flaky_rule")),
                     ("BR1", message("BR1", "broken_rule"))])
        run.wait("the first messages", lambda: len(srv.messages("yg")) >= 1
                 and len(srv.messages("js")) >= 1 and len(srv.messages("flaky")) >= 1
                 and len(box.mails) >= 1, 40)
        # grouping: YG1's two alarms in one WeCom message; YG2 silenced
        first = srv.messages("yg")[0].text
        assert "超标(over_limit)" in first and "负值(negative)" in first
        assert "共 2 条" in first and "YG2" not in first
        # routing: 苏皖沪 to DingTalk (signed), the critical one also by mail
        assert "数据突变(spike)" in srv.messages("js")[0].text
        rcpts, mail = box.mails[0]
        assert rcpts == ["duty@example.com"] and "JS1" in mail
        # retries: flaky failed twice, then took it
        assert srv.refused.count(("flaky", "http500")) == 2
        # escalation: a2 (not acknowledged) to the boss after 6 s, a1 not
        run.wait("the escalation", lambda: any(
            i["kind"] == "escalation" for m in srv.messages("boss") for i in m.body["items"]),
            30)
        esc = [i["alarm"]["alarm_id"] for m in srv.messages("boss") for i in m.body["items"]
               if i["kind"] == "escalation"]
        assert esc == [a2]
        # a1 clears: resolved
        run.publish([("YG1", message("YG1", "over_limit", transition="clear"))])
        run.wait("the resolved notice", lambda: any("已恢复" in m.text
                                                  for m in srv.messages("yg")), 20)
        # a2 still open 12 s after its notice: repeated
        run.wait("the repeat", lambda: any("仍未恢复(第1次)" in m.text
                                           for m in srv.messages("yg")), 30)
        rows = {(r["receiver"], tuple(r["alarm_ids"])): r for r in run.deliveries()
                if r["item_kinds"] == ["firing"]}
        sil = rows[("yg", (alarm_id("YG2", "zero_streak"),))]
        assert sil["state"] == "suppressed" and sil["silence_id"] == "SIL-it-1"
        flaky = rows[("flaky", (alarm_id("FL1", "flaky_rule"),))]
        assert (flaky["state"], flaky["attempts"]) == ("sent", 3)
        dead = rows[("broken", (alarm_id("BR1", "broken_rule"),))]
        assert dead["state"] == "dead" and "93000" in dead["last_error"]
        assert "wecom-key-revoked" not in dead["last_error"]
        # the revoked key's attempts (its firing and repeats), nothing else
        assert set(srv.violations) == {"wecom: unknown key"}
        log_text = run.log.read_text()
        for secret in ("wecom-key-yg", "SEC-ding-secret-js", "flaky-bearer",
                       "wecom-key-revoked"):
            assert secret not in log_text
    finally:
        run.cleanup()
        srv.stop()


STORM_ROUTES = """
version = "it-storm"
[defaults]
group_wait_s = 0
group_interval_s = 1
repeat_interval_s = 86400
[receivers.r0]
kind = "webhook"
url = "{url}/webhook/r0"
[receivers.r1]
kind = "webhook"
url = "{url}/webhook/r1"
[receivers.r2]
kind = "webhook"
url = "{url}/webhook/r2"
[[routes]]
match = {{ region = "云贵川渝" }}
receivers = ["r0"]
[[routes]]
match = {{ region = "苏皖沪" }}
receivers = ["r1"]
[root]
receivers = ["r2"]
"""


def storm(n: int, stations: int, tag: str) -> list[tuple[str, bytes]]:
    out = []
    for k in range(n):
        mn = f"{tag}{k % stations:03d}"
        out.append((mn, message(mn, f"rule{k // stations}", opened=T0 + timedelta(
            seconds=k // stations), sent_ms=0)))
    return out


def test_kill_9_mid_storm_every_alarm_delivered_in_exactly_one_message(stack, tmp_path):
    srv = LocalReceiver(webhooks={"r0": "", "r1": "", "r2": ""}).start()
    srv.slow(0.03)  # a receiver a little slow, so the storm is still going at the kill
    run = NotifyRun(stack, tmp_path, STORM_ROUTES.format(url=srv.url), receiver=srv,
                    secrets="", smtp_port=25)
    try:
        regions = ["云贵川渝", "苏皖沪", "晋豫陕"]
        run.stations([(f"ST{i:03d}", regions[i % 3], f"企业{i}") for i in range(60)])
        msgs = storm(2000, 60, "ST")
        want = {json.loads(v)["alarm_id"] for _, v in msgs}
        run.start()
        run.publish(msgs[:1000], per_s=400)
        run.wait("the first deliveries", lambda: len(srv.messages()) >= 5, 30)
        run.kill9()
        got_before = len(srv.messages())
        run.publish(msgs[1000:], per_s=1000)
        run.start()

        def delivered() -> set[str]:
            return {i["alarm"]["alarm_id"] for m in srv.messages() for i in m.body["items"]}

        run.wait("every alarm delivered", lambda: delivered() >= want, 90)
        time.sleep(2)  # anything extra would come now
        per_id: dict[str, list[str]] = {}
        raw = Counter(m.body["notification_id"] for m in srv.messages())
        for m in srv.messages():
            per_id.setdefault(m.body["notification_id"], [
                i["alarm"]["alarm_id"] for i in m.body["items"]])
        counts = Counter(a for ids in per_id.values() for a in ids)
        dup = {a: c for a, c in counts.items() if c > 1}
        print(f"\n[notify kill -9] {len(srv.messages())} messages ({got_before} before the "
              f"kill), {len(per_id)} distinct, {len(counts)} alarms, resends of one id: "
              f"{sum(c - 1 for c in raw.values())}")
        assert set(counts) == want and not dup
        # a message resent under its own id (its answer came, its 'sent' row was not
        # written at the kill) is at most the one in flight per receiver
        assert sum(c - 1 for c in raw.values()) <= 3
        assert srv.violations == []
    finally:
        run.cleanup()
        srv.stop()


def test_a_group_new_to_the_topic_notifies_the_recent_alarms_not_the_old(stack, tmp_path):
    """A notifier whose consumer group Kafka does not know (a new group id, or Kafka's data
    lost with its offsets) starts at the alarms of the last half hour: those published
    before it joined are notified, those of two hours ago are not (before, it started at
    the end of the topic and notified neither)."""
    srv = LocalReceiver(webhooks={"r0": "", "r1": "", "r2": ""}).start()
    run = NotifyRun(stack, tmp_path, STORM_ROUTES.format(url=srv.url), receiver=srv,
                    secrets="", smtp_port=25)
    try:
        run.stations([("NEWGRP01", "晋豫陕", "企业1"), ("NEWGRP02", "晋豫陕", "企业2")])
        now_ms = int(time.time() * 1000)
        run.publish([("NEWGRP01", message("NEWGRP01", "over_limit"))],
                    timestamp_ms=now_ms - 2 * 3600 * 1000)
        run.publish([("NEWGRP02", message("NEWGRP02", "over_limit"))],
                    timestamp_ms=now_ms - 60 * 1000)
        run.start(start_from=None)  # the default: --from recent

        def delivered() -> set[str]:
            return {i["alarm"]["alarm_id"] for m in srv.messages() for i in m.body["items"]}

        run.wait("the recent alarm delivered",
                 lambda: alarm_id("NEWGRP02", "over_limit") in delivered(), 40)
        # an alarm published after it joined is delivered too, and nothing of the old one
        run.publish([("NEWGRP01", message("NEWGRP01", "zero_streak"))])
        run.wait("the new alarm delivered",
                 lambda: alarm_id("NEWGRP01", "zero_streak") in delivered(), 40)
        time.sleep(1.5)
        assert delivered() == {alarm_id("NEWGRP02", "over_limit"),
                               alarm_id("NEWGRP01", "zero_streak")}
        assert "notify.group_new_to_partitions" in run.log.read_text()
    finally:
        run.cleanup()
        srv.stop()
