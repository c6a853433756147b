"""The real local stack: both servers answer, every topic carries keyed messages, the
topics have the configured partitions, `up` twice is a no-op, status is healthy, and a
port taken by someone else is named in the error."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import load_settings
from pipeline.stack import StackError, control, kafka
from pipeline.stack.live import LiveStack

pytestmark = pytest.mark.integration


def test_clickhouse_answers_over_http(stack: LiveStack) -> None:
    assert stack.clickhouse_http("SELECT 1") == "1"
    assert stack.clickhouse_http("SELECT version()").split(".")[0].isdigit()
    assert stack.clickhouse_database in stack.clickhouse_http("SHOW DATABASES").split()


def test_clickhouse_answers_over_native_protocol(stack: LiveStack) -> None:
    pytest.importorskip("clickhouse_driver")
    client = stack.clickhouse_client(database="default")
    try:
        assert client.execute("SELECT 1 + 1") == [(2,)]
    finally:
        client.disconnect()


def test_topics_have_the_configured_partitions(stack: LiveStack) -> None:
    have = kafka.topic_partitions(stack.kafka_bootstrap)
    for topic, partitions in stack.settings.topic_partitions().items():
        assert have.get(topic) == partitions, f"{topic}: {have.get(topic)} != {partitions}"


async def _round_trip(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        first = await producer.send_and_wait(topic, value, key=key)
        second = await producer.send_and_wait(topic, value + b"-again", key=key)
    finally:
        await producer.stop()
    # keyed by MN in the platform: one key must always land on one partition
    assert first.partition == second.partition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, first.partition)
        consumer.assign([tp])
        consumer.seek(tp, first.offset)
        got = []
        while len(got) < 2:
            batch = await asyncio.wait_for(consumer.getmany(tp, timeout_ms=1000), 20)
            got.extend((m.key, m.value) for m in batch.get(tp, []))
    finally:
        await consumer.stop()
    assert got[:2] == [(key, value), (key, value + b"-again")]


async def _scratch_topic(bootstrap: str, name: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


@pytest.mark.parametrize("role", ["frames", "rejects", "commands", "alarms"])
def test_produce_and_consume_a_keyed_message(stack: LiveStack, role: str) -> None:
    """On a scratch topic shaped like the platform's (same partitions): a test message on
    the real topic would reach the next `hj212 run`'s worker as a foreign record."""
    partitions = stack.settings.topic_partitions()[getattr(stack.settings.topics, role)]
    topic = f"selftest-{role}-{uuid.uuid4().hex[:8]}"
    asyncio.run(_scratch_topic(stack.kafka_bootstrap, topic, partitions))
    key = f"MN{uuid.uuid4().hex[:12]}".encode()
    value = f"test message for {topic} {uuid.uuid4()}".encode()
    try:
        asyncio.run(asyncio.wait_for(_round_trip(stack.kafka_bootstrap, topic, key, value),
                                     60))
    finally:
        kafka.delete_topics(stack.kafka_bootstrap, [topic])


def test_up_twice_is_a_no_op(stack: LiveStack) -> None:
    before = {row.name: row.pid for row in control.status(stack.settings)}
    report = control.up(stack.settings)
    assert report.started == []
    assert report.topics == {}
    assert {row.name: row.pid for row in control.status(stack.settings)} == before


def test_status_is_healthy(stack: LiveStack) -> None:
    rows = control.status(stack.settings)
    assert [r.name for r in rows] == ["clickhouse", "kafka"]
    for row in rows:
        assert row.healthy, f"{row.name}: {row.detail}"
        assert row.version
    result = CliRunner().invoke(main, ["stack", "status"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "healthy" in result.output and "UNHEALTHY" not in result.output


def test_external_mode_starts_nothing_and_checks_the_configured_servers(
    stack: LiveStack, tmp_path: Path
) -> None:
    http = f"http://127.0.0.1:{stack.settings.clickhouse.http_port}/{stack.clickhouse_database}"
    external = load_settings(env={
        "HJ212_RUN_DIR": str(tmp_path),
        "HJ212_CLICKHOUSE__LOCAL": "false", "HJ212_CLICKHOUSE__DSN": http,
        "HJ212_KAFKA__LOCAL": "false", "HJ212_KAFKA__BOOTSTRAP": stack.kafka_bootstrap,
    })
    report = control.up(external)
    assert report.started == []
    rows = control.status(external)
    assert all(r.mode == "external" and r.healthy for r in rows), rows
    assert not any(tmp_path.iterdir()), "external mode must not write server files"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_port_taken_by_another_process_is_named_with_the_fix(
    stack: LiveStack, tmp_path: Path
) -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    try:
        settings = dataclasses.replace(
            stack.settings, run_dir=tmp_path,
            clickhouse=dataclasses.replace(
                stack.settings.clickhouse, http_port=taken,
                dsn=f"clickhouse://default:@127.0.0.1:{_free_port()}/hj212"),
        )
        with pytest.raises(StackError) as err:
            control.up(settings, ["clickhouse"])
    finally:
        squatter.close()
    message = str(err.value)
    assert f"127.0.0.1:{taken}" in message
    assert "HJ212_CLICKHOUSE__HTTP_PORT" in message
    assert f"pid {os.getpid()}" in message  # this test process holds the port


def test_the_local_servers_merge_threads_run_at_a_lower_priority(stack: LiveStack) -> None:
    """Merges yield the cores to inserts and detection on a shared machine; the query
    threads keep the server's priority."""
    from pipeline.stack.clickhouse import MERGE_THREADS, running_pid

    stack.clickhouse_http("SELECT 1")
    pid = running_pid(stack.settings)
    assert pid is not None
    nice = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        nice.setdefault((task / "comm").read_text().strip(), set()).add(
            os.getpriority(os.PRIO_PROCESS, int(task.name)))
    assert MERGE_THREADS & set(nice), sorted(nice)
    for name in MERGE_THREADS & set(nice):
        assert nice[name] == {stack.settings.clickhouse.merge_nice}, (name, nice[name])
    assert nice.get("TCPHandler", {0}) | nice.get("clickhouse-serv", {0}) == {0}


def test_a_kept_cluster_id_starting_with_a_dash_formats(stack: LiveStack, tmp_path: Path
                                                         ) -> None:
    """kafka-storage reads a value starting with `-` as an option: a cluster id kept from
    before (one in 64 random ids started so until 2026-12-05) made every `stack up` of
    that machine fail. The real storage tool formats a fresh log dir with one."""
    settings = load_settings(env={"HJ212_RUN_DIR": str(tmp_path)})
    p = kafka.render_config(settings)
    p.libs.parent.mkdir(parents=True, exist_ok=True)
    p.libs.symlink_to(kafka.paths(stack.settings).libs)
    kept = "-ykAHdXUSiCefRWd_56pNw"
    p.cluster_id.write_text(kept + "\n")
    kafka.ensure_formatted(settings, kafka.require_java())
    meta = (p.data / "meta.properties").read_text()
    assert f"cluster.id={kept}" in meta.splitlines()


async def _topic_config(bootstrap: str, topic: str) -> dict[str, str]:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    entries = responses[0].resources[0][4]
    return {entry[0]: entry[1] for entry in entries}


def test_the_development_broker_caps_what_a_partition_keeps(stack: LiveStack) -> None:
    """A week, and at most 1 GiB a partition: a `make run` left running, or many benchmark
    runs, must not fill a developer's disk (it once held 61 GB)."""
    if not stack.settings.kafka.local:
        pytest.skip("an external Kafka keeps its own retention")
    config = asyncio.run(_topic_config(stack.kafka_bootstrap, stack.settings.topics.frames))
    assert config["retention.bytes"] == str(2**30)
    assert config["retention.ms"] == str(168 * 3600 * 1000)


def test_delete_topics_deletes_the_named_ones_that_exist(stack: LiveStack) -> None:
    tag = uuid.uuid4().hex[:8]
    doomed, kept = f"selftest-doomed-{tag}", f"selftest-kept-{tag}"
    for name in (doomed, kept):
        asyncio.run(_scratch_topic(stack.kafka_bootstrap, name, 1))
    try:
        deleted = kafka.delete_topics(stack.kafka_bootstrap, [doomed, f"selftest-none-{tag}"])
        assert deleted == [doomed]
        have = kafka.topic_partitions(stack.kafka_bootstrap)
        assert doomed not in have and kept in have
    finally:
        kafka.delete_topics(stack.kafka_bootstrap, [doomed, kept])
