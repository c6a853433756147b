"""The people's side of an alarm on the real stack: ClickHouse (18.16 locally), Kafka and
the ledger writer (pipeline/ledger/writer.py) running in this process on a topic of its
own. ``hj212 alarms`` through click's CliRunner acts as the account named like the OS
user (LOGNAME/USER set per step), exactly as an operator at a terminal would.

Shown: ack -> notify -> dispatch -> resolve -> close on a seeded alarm, a close before
resolve refused by the alarm rule, a field engineer refused another region's alarm, a
stale change ending in a conflict, silences declared, listed and ended, and the audit
rows of every attempt."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from admin import duty_actions as da
from admin.accounts import Accounts, Role
from pipeline.cli import main
from pipeline.config import Settings, load_settings
from pipeline.duty import lifecycle as lc
from pipeline.ledger import queries as lq
from pipeline.ledger.client import LedgerClient
from pipeline.ledger.model import APPENDED, CONFLICT, REFUSED
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from pipeline.timebase import now_local, unix_s_from_local
from tests.ledger_writer_thread import WriterThread, drop_topic

pytestmark = pytest.mark.integration

DB = "hj212_it_duty"
FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
OPENED = now_local().replace(microsecond=0) - timedelta(minutes=10)
SU = f"MN_DUTY_SU/w01018/zero_streak/{OPENED:%Y%m%d%H%M%S}"  # 苏皖沪
YN = f"MN_DUTY_YN//offline/{OPENED:%Y%m%d%H%M%S}"  # 云贵川渝


def _dsn(stack) -> str:
    parts = urlsplit(stack.clickhouse_dsn)
    return urlunsplit(parts._replace(path=f"/{DB}"))


@pytest.fixture(scope="module")
def env(stack) -> Iterator[Settings]:
    dsn = _dsn(stack)
    with ClickHouse(dsn, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS {DB}")
    Migrator(dsn).migrate()
    topic = f"hj212_it_duty_ledger_{uuid.uuid4().hex[:8]}"
    mp = pytest.MonkeyPatch()
    mp.setenv("HJ212_CLICKHOUSE__DSN", dsn)
    mp.setenv("HJ212_TOPICS__LEDGER", topic)
    mp.setenv("HJ212_LEDGER__GROUP_ID", f"{topic}-writer")
    mp.setenv("HJ212_LEDGER__REPLY_WAIT_S", "20")
    settings = load_settings()
    with ClickHouse(dsn) as ch:
        _seed(ch, settings)
    writer = WriterThread(settings)
    writer.start()
    try:
        yield settings
    finally:
        writer.stop()
        mp.undo()
        drop_topic(stack.kafka_bootstrap, topic)
    assert writer.error is None, writer.error


def _seed(ch: ClickHouse, settings: Settings) -> None:
    t = unix_s_from_local(OPENED)
    for mn, region in (("MN_DUTY_SU", "苏皖沪"), ("MN_DUTY_YN", "云贵川渝")):
        ch.insert_columns("stations", {
            "mn": [mn], "pw": [""], "enterprise": [f"企业 {mn}"], "outlet": ["DA001"],
            "st": ["32"], "edition": [2017], "province": [""], "region": [region],
            "rtd_interval": [30], "min_interval": [10], "active": [1], "updated_at": [t],
            "version": [1]})
    for aid, severity in ((SU, "major"), (YN, "critical")):
        mn, code, rule, _ = aid.split("/")
        ch.insert_columns("alarms", {
            "alarm_id": [aid], "mn": [mn], "cn": [2051], "code": [code], "rule": [rule],
            "severity": [severity], "state": ["open"], "opened_at": [t],
            "last_seen": [t + 300], "cleared_at": [None], "occurrences": [3],
            "value": [0.0], "threshold": [float("nan")], "message": ["COD 连续为零"],
            "evidence": ['{"streak": 6, "value": 0.0}'], "version": [1]})
    accounts = Accounts(ch, settings, hasher=FAST)
    for name, role, regions in (("zhang.wei", Role.DUTY_OPERATOR, ()),
                                ("wang.fang", Role.DUTY_SUPERVISOR, ()),
                                ("zhao.gang", Role.FIELD_ENGINEER, ("苏皖沪",)),
                                ("liu.yang", Role.FIELD_ENGINEER, ("云贵川渝",))):
        accounts.add("it", name, name, [role], regions, "duty flow test pw 2026",
                     source="test")


def hj212(monkeypatch, who: str, *args: str):
    monkeypatch.setenv("LOGNAME", who)
    monkeypatch.setenv("USER", who)
    return CliRunner().invoke(main, ["alarms", *args], catch_exceptions=False)


def test_the_alarm_from_ack_to_close(env, monkeypatch):
    r = hj212(monkeypatch, "zhang.wei", "list", "--unacked")
    assert r.exit_code == 0, r.output
    assert SU in r.output and YN in r.output
    # critical first among the unacknowledged; the SLA column counts down
    assert r.output.index(YN) < r.output.index(SU)
    assert "left" in r.output or "late" in r.output

    r = hj212(monkeypatch, "zhang.wei", "ack", SU)
    assert r.exit_code == 0 and "appended as event 1" in r.output, r.output
    r = hj212(monkeypatch, "zhang.wei", "ack", SU)
    assert r.exit_code == 1 and "already acknowledged by zhang.wei" in r.output, r.output
    r = hj212(monkeypatch, "zhang.wei", "notify", SU, "--channel", "phone",
              "--recipient", "王工 13800000000", "--text", "COD 数据为零，请检查分析仪")
    assert r.exit_code == 0 and "event 2" in r.output, r.output
    r = hj212(monkeypatch, "zhang.wei", "dispatch", SU, "--engineer", "zhao.gang")
    assert r.exit_code == 0 and "event 3" in r.output, r.output

    # the supervisor may close, but not before it is resolved (the alarm rule)
    r = hj212(monkeypatch, "wang.fang", "close", SU)
    assert r.exit_code == 1 and "not resolved" in r.output and "不能关闭" in r.output

    # the engineer of another region is refused before anything is submitted
    r = hj212(monkeypatch, "liu.yang", "resolve", SU, "--verification", "fixed")
    assert r.exit_code == 1 and "may not act on alarm" in r.output, r.output
    assert "苏皖沪" in r.output

    r = hj212(monkeypatch, "zhao.gang", "resolve", SU, "--verification",
              "分析仪管路堵塞已清理，10:40 起分钟数据恢复")
    assert r.exit_code == 0 and "event 4" in r.output, r.output
    r = hj212(monkeypatch, "wang.fang", "close", SU)
    assert r.exit_code == 0 and "event 5" in r.output, r.output

    with ClickHouse(env.clickhouse.dsn) as ch:
        history = lq.history(ch, lc.STREAM, SU)
        audit = ch.query_dicts(
            "SELECT actor, action, target, source, detail FROM audit_log "
            "WHERE action LIKE 'alarm_%%' AND target = %(t)s ORDER BY time_us", {"t": SU})
    assert [(e.seq, e.kind, e.actor, e.source) for e in history] == [
        (1, "ack", "zhang.wei", "cli"), (2, "notify", "zhang.wei", "cli"),
        (3, "dispatch", "zhang.wei", "cli"), (4, "resolve", "zhao.gang", "cli"),
        (5, "close", "wang.fang", "cli")]
    wo = history[2].payload
    assert wo["engineer"] == "zhao.gang" and wo["region"] == "苏皖沪"
    assert wo["work_order_id"].startswith(f"WO-{now_local():%Y%m%d}-")
    got = [(a["actor"], a["action"], json.loads(a["detail"])["outcome"]) for a in audit]
    assert got == [("zhang.wei", "alarm_ack", APPENDED), ("zhang.wei", "alarm_ack", REFUSED),
                   ("zhang.wei", "alarm_notify", APPENDED),
                   ("zhang.wei", "alarm_dispatch", APPENDED),
                   ("wang.fang", "alarm_close", REFUSED),
                   ("liu.yang", "alarm_resolve", da.DENIED),
                   ("zhao.gang", "alarm_resolve", APPENDED),
                   ("wang.fang", "alarm_close", APPENDED)]
    assert all(a["source"] == "cli" for a in audit)

    r = hj212(monkeypatch, "zhang.wei", "show", SU)
    assert r.exit_code == 0, r.output
    for text in ("已关闭 closed", "work order WO-", "王工 13800000000", "wang.fang",
                 "zhao.gang", '"streak": 6', "acked in time"):
        assert text in r.output, text
    assert r.output.count("zhang.wei") >= 3  # ack, notify, dispatch rows
    # closed alarms leave the default list
    r = hj212(monkeypatch, "zhang.wei", "list")
    assert SU not in r.output and YN in r.output


def test_two_operators_at_once_one_conflict(env):
    with ClickHouse(env.clickhouse.dsn) as ch, LedgerClient(env) as ledger:
        ops = Accounts(ch, env).get("zhang.wei")
        sup = Accounts(ch, env).get("wang.fang")
        assert ops is not None and sup is not None
        seq = lq.last_seq(ch, lc.STREAM, YN)
        first = da.perform(ledger, ch, ops, YN, lc.ACK, seq, {}, "web")
        second = da.perform(ledger, ch, sup, YN, lc.COMMENT, seq, {"text": "我来看"}, "web")
        assert first.outcome == APPENDED
        assert second.outcome == CONFLICT and second.message, second


def test_silences_from_the_cli(env, monkeypatch):
    r = hj212(monkeypatch, "zhang.wei", "silence", "--mn", "MN_DUTY_SU", "--for", "2h",
              "--reason", "COD 分析仪校准")
    assert r.exit_code == 0, r.output
    sid = r.output.split()[1].rstrip(":")
    assert sid.startswith("SIL-")
    r = hj212(monkeypatch, "zhang.wei", "silence", "--mn", "MN_DUTY_SU", "--for", "2d",
              "--reason", "too long for an operator")
    assert r.exit_code == 1 and "at most 1 day" in r.output
    r = hj212(monkeypatch, "zhang.wei", "list", "--all")
    line = next(x for x in r.output.splitlines() if x.startswith(SU))
    assert "(silenced)" in line
    r = hj212(monkeypatch, "zhang.wei", "silences")
    assert sid in r.output and "in force" in r.output
    r = hj212(monkeypatch, "liu.yang", "unsilence", sid)
    assert r.exit_code == 1 and "may not end silences" in r.output
    r = hj212(monkeypatch, "zhang.wei", "unsilence", sid)
    assert r.exit_code == 0 and f"ended {sid}" in r.output, r.output
    r = hj212(monkeypatch, "zhang.wei", "silences")
    assert sid not in r.output
    r = hj212(monkeypatch, "nobody.here", "list")
    assert r.exit_code == 1 and "hj212 users add nobody.here" in r.output
