"""`hj212 orders` on the real stack: ClickHouse (18.16 locally), Kafka and the ledger
writer (pipeline/ledger/writer.py) running in this process on a topic of its own. The
group of admin/records_cli.py is invoked directly through click's CliRunner (and, for
the concurrent edit, as two processes at once), acting as the account named like the
OS user (LOGNAME/USER per step), as a person at a terminal would.

Shown: a work order from ``new`` (routed to the region's roster) through contact,
response, site visit, resolution, verification to ``close``, with its history, SLA
clocks and audit rows; two people changing one order from the same ``--expect``: one
change appended, the other refused with a conflict naming who moved it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result

from admin.accounts import Accounts, Role
from admin.records_cli import orders
from pipeline.config import Settings, load_settings
from pipeline.ledger import queries as lq
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from pipeline.timebase import now_local, unix_s_from_local
from tests.ledger_writer_thread import WriterThread, drop_topic

pytestmark = pytest.mark.integration

DB = "hj212_it_records_cli"
FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
ROOT = Path(__file__).resolve().parents[2]
SERVICE = """
version = "it"
[sla]
first_contact_min = 15
response_min = 60
on_site_min = 180
[rosters]
fallback = ""
[rosters.regions]
"苏皖沪" = ["li.gong"]
"""
OPEN_SETS = ["source=phone", "class=technical_service", "station=MN_RC_SU",
             "organisation=苏州某化工", "caller=王工", "contact=13800000000",
             "reason=COD 分析仪无数据", "stops_system=yes"]


def _dsn(stack) -> str:
    parts = urlsplit(stack.clickhouse_dsn)
    return urlunsplit(parts._replace(path=f"/{DB}"))


@pytest.fixture(scope="module")
def env(stack, tmp_path_factory) -> Iterator[dict[str, str]]:
    dsn = _dsn(stack)
    with ClickHouse(dsn, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS {DB}")
    Migrator(dsn).migrate()
    topic = f"hj212_it_records_ledger_{uuid.uuid4().hex[:8]}"
    service = tmp_path_factory.mktemp("records_cli") / "service.toml"
    service.write_text(SERVICE, encoding="utf-8")
    variables = {"HJ212_CLICKHOUSE__DSN": dsn, "HJ212_TOPICS__LEDGER": topic,
                 "HJ212_LEDGER__GROUP_ID": f"{topic}-writer",
                 "HJ212_LEDGER__REPLY_WAIT_S": "20", "HJ212_SERVICE__FILE": str(service)}
    mp = pytest.MonkeyPatch()
    for key, value in variables.items():
        mp.setenv(key, value)
    settings = load_settings()
    with ClickHouse(dsn) as ch:
        _seed(ch, settings)
    writer = WriterThread(settings)
    writer.start()
    try:
        yield variables
    finally:
        writer.stop()
        mp.undo()
        drop_topic(stack.kafka_bootstrap, topic)
    assert writer.error is None, writer.error


def _seed(ch: ClickHouse, settings: Settings) -> None:
    t = unix_s_from_local(now_local())
    ch.insert_columns("stations", {
        "mn": ["MN_RC_SU"], "pw": [""], "enterprise": ["苏州某化工"], "outlet": ["DA001"],
        "st": ["32"], "edition": [2017], "province": [""], "region": ["苏皖沪"],
        "rtd_interval": [30], "min_interval": [10], "active": [1], "updated_at": [t],
        "version": [1]})
    accounts = Accounts(ch, settings, hasher=FAST)
    for name, role, regions in (("zhang.wei", Role.DUTY_OPERATOR, ()),
                                ("li.gong", Role.FIELD_ENGINEER, ("苏皖沪",)),
                                ("liu.yang", Role.FIELD_ENGINEER, ("云贵川渝",))):
        accounts.add("it", name, name, [role], regions, "records cli test pw 2026",
                     source="test")


def hj212_orders(monkeypatch, who: str, *args: str) -> Result:
    monkeypatch.setenv("LOGNAME", who)
    monkeypatch.setenv("USER", who)
    return CliRunner().invoke(orders, list(args), catch_exceptions=False)


def new_order(monkeypatch) -> str:
    sets = [a for s in OPEN_SETS for a in ("--set", s)]
    r = hj212_orders(monkeypatch, "zhang.wei", "new", *sets)
    assert r.exit_code == 0 and "appended as event 1" in r.output, r.output
    return r.stdout.splitlines()[0].split(":")[0].split()[-1]


def show(monkeypatch, who: str, rid: str) -> dict:
    r = hj212_orders(monkeypatch, who, "show", rid, "--json")
    assert r.exit_code == 0, r.output
    shown: dict = json.loads(r.stdout)
    return shown


def test_a_work_order_from_new_to_close(env, monkeypatch):
    rid = new_order(monkeypatch)
    shown = show(monkeypatch, "zhang.wei", rid)
    # the region from the registry, the engineer from the region's roster
    assert shown["record"]["region"] == "苏皖沪" and shown["record"]["engineer"] == "li.gong"
    assert shown["state"] == "assigned" and shown["record"]["last_seq"] == 2

    r = hj212_orders(monkeypatch, "li.gong", "list", "--mine")
    assert r.exit_code == 0 and rid in r.output, r.output
    r = hj212_orders(monkeypatch, "liu.yang", "show", rid)  # another region's engineer
    assert r.exit_code == 1 and "may not see" in r.output

    steps = [
        ("li.gong", "contact", ["--set", "text=电话联系王工"]),
        ("li.gong", "respond", []),
        ("li.gong", "arrive", []),
        ("li.gong", "resolve", ["--set", "cause=采样管堵塞", "--set", "action=清洗管路",
                                "--set", "result=数据恢复", "--set", "report=SR-IT-1.pdf"]),
        ("zhang.wei", "verify", ["--set", "verification=分钟数据完整"]),
        ("zhang.wei", "close", []),
    ]
    for n, (who, verb, sets) in enumerate(steps, start=3):
        r = hj212_orders(monkeypatch, who, "do", rid, verb, *sets)
        assert r.exit_code == 0 and f"appended as event {n}" in r.output, (verb, r.output)

    shown = show(monkeypatch, "zhang.wei", rid)
    assert shown["state"] == "closed" and shown["next"] == ["reopen"]
    assert [(h["seq"], h["actor"], h["kind"]) for h in shown["history"]] == [
        (1, "zhang.wei", "open"), (2, "zhang.wei", "assign"), (3, "li.gong", "contact"),
        (4, "li.gong", "respond"), (5, "li.gong", "arrive"), (6, "li.gong", "resolve"),
        (7, "zhang.wei", "verify"), (8, "zhang.wei", "close")]
    # done within seconds: every clock met in time
    r = hj212_orders(monkeypatch, "zhang.wei", "sla", rid, "--json")
    clocks = {c["name"]: c for c in json.loads(r.stdout)}
    assert {"first_contact", "response", "on_site"} <= set(clocks)
    for name in ("first_contact", "response", "on_site"):
        assert clocks[name]["met_at"] is not None and not clocks[name]["breached"], name

    with ClickHouse(env["HJ212_CLICKHOUSE__DSN"]) as ch:
        assert [e.kind for e in lq.history(ch, "work_order", rid)] == [
            h["kind"] for h in shown["history"]]
        rows = ch.query_dicts("SELECT actor, action, source FROM audit_log "
                              "WHERE target = %(rid)s ORDER BY time_us", {"rid": rid})
    assert [r["action"] for r in rows] == [f"work_order_{h['kind']}"
                                           for h in shown["history"]]
    assert all(r["source"] == "cli" for r in rows)


def test_a_stale_expect_is_refused_with_who_moved_it(env, monkeypatch):
    rid = new_order(monkeypatch)
    looked = show(monkeypatch, "zhang.wei", rid)["record"]["last_seq"]
    r = hj212_orders(monkeypatch, "li.gong", "do", rid, "contact", "--expect", str(looked))
    assert r.exit_code == 0 and f"event {looked + 1}" in r.output, r.output
    r = hj212_orders(monkeypatch, "zhang.wei", "do", rid, "note", "--set", "text=客户催促",
                     "--expect", str(looked))
    assert r.exit_code == 1, r.output
    assert "conflict" in r.output and "changed by li.gong" in r.output
    assert "(contact)" in r.output
    with ClickHouse(env["HJ212_CLICKHOUSE__DSN"]) as ch:
        assert lq.last_seq(ch, "work_order", rid) == looked + 1


def test_two_people_at_once_one_appended_one_conflict(env, monkeypatch):
    """Two terminals, one order, the same --expect, at the same moment: the single
    writer appends one and refuses the other by name; no edit is lost silently."""
    rid = new_order(monkeypatch)
    looked = show(monkeypatch, "zhang.wei", rid)["record"]["last_seq"]
    code = "from admin.records_cli import orders; orders(prog_name='hj212 orders')"
    procs = {}
    for who, text in (("zhang.wei", "值守员记录"), ("li.gong", "工程师记录")):
        penv = {**os.environ, **env, "LOGNAME": who, "USER": who}
        procs[who] = subprocess.Popen(
            [sys.executable, "-c", code, "do", rid, "note", "--set", f"text={text}",
             "--expect", str(looked)], cwd=ROOT, env=penv, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    outs = {who: (p.communicate(timeout=120)[0], p.returncode) for who, p in procs.items()}
    winners = [who for who, (_, rc) in outs.items() if rc == 0]
    assert len(winners) == 1, outs
    loser = next(who for who in outs if who not in winners)
    text, rc = outs[loser]
    assert rc == 1 and "conflict" in text and f"changed by {winners[0]}" in text, outs
    with ClickHouse(env["HJ212_CLICKHOUSE__DSN"]) as ch:
        hist = lq.history(ch, "work_order", rid)
    assert len(hist) == looked + 1 and hist[-1].actor == winners[0]
