"""`hj212 clues` on the real stack: readings with one case of each clue (the seed of
tests/unit/test_clues_queries.py) in a database of its own on the local ClickHouse
(18.16), one sweep over a day of data time through the command, the alarm rows it writes
and the messages it publishes on a topic of its own; the same range again writes
nothing."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from tests.integration.worker_env import worker_env
from tests.unit.test_clues_queries import EXPECTED, GAS, seed

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dsn(stack) -> str:
    parts = urlsplit(stack.clickhouse_dsn)
    url = urlunsplit(parts._replace(path="/hj212_it_clues"))
    with ClickHouse(url, database="default") as ch:
        ch.execute("DROP DATABASE IF EXISTS `hj212_it_clues`")
    Migrator(url).migrate()
    with ClickHouse(url) as ch:
        seed(ch)
    return url


async def _create(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()


async def _read_all(bootstrap: str, topic: str, want: int) -> list[dict]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    out: list[dict] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while len(out) < want and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out += [json.loads(r.value) for r in records]
    finally:
        await consumer.stop()
    return out


def _sweep(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "clues", "--once",
         "--from", "2026-11-10T00:00", "--to", "2026-11-11T00:00"],
        env=env, capture_output=True, text=True, timeout=180, check=False)


def test_one_sweep_writes_and_publishes_each_clue_once(stack, dsn, tmp_path: Path):
    topic = f"test.clues.{uuid.uuid4().hex[:8]}"
    asyncio.run(_create(stack.kafka_bootstrap, topic))
    env = worker_env(stack.kafka_bootstrap, dsn, {"alarms": topic}, tmp_path)
    done = _sweep(env)
    assert done.returncode == 0, done.stderr[-2000:]
    with ClickHouse(dsn) as ch:
        rows = ch.query_dicts("SELECT mn, code, rule, state, severity, cn, opened_at, "
                              "evidence, message FROM alarms FINAL")
    assert {(r["mn"], r["code"], r["rule"]) for r in rows} == EXPECTED
    # the converted SO2 is right again from 11:00: that clue cleared, the others stay
    assert {(r["mn"], r["rule"]) for r in rows if r["state"] == "cleared"} == {
        (GAS, "clue_o2_conversion")}
    for r in rows:
        evidence = json.loads(r["evidence"])
        assert evidence["class"] == "clue"
        zh, _, en = r["message"].partition(" / ")
        assert zh and en, r["message"]
    messages = asyncio.run(_read_all(stack.kafka_bootstrap, topic, len(EXPECTED) + 2))
    assert {(m["mn"], m["code"], m["rule"]) for m in messages} == EXPECTED
    # GAS: opened at 09:00, seen again at 10:00, cleared at 11:00
    assert sorted(m["transition"] for m in messages if m["mn"] == GAS) == [
        "clear", "open", "update"]
    # the same range again: the alarms written cover it, nothing new
    again = _sweep(env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "written: 0" in again.stdout
    with ClickHouse(dsn) as ch:
        assert ch.execute("SELECT count() FROM alarms FINAL")[0][0] == len(EXPECTED)
