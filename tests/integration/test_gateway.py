"""The gateway on the real local stack (Kafka): answers, auth failures, framing cases, a
Kafka outage under load, a gateway restart, and a downlink round trip.

Each test run gets topics of its own, so counts are exact whatever else uses Kafka.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import hj212
import pytest

from pipeline.gateway import envelope
from pipeline.gateway.downlink import Downlink, MemoryRecorder
from pipeline.gateway.server import Gateway
from pipeline.stack import kafka as stack_kafka
from pipeline.stack.live import LiveStack
from tests.unit.gateway_helpers import MN, PW, directory, read_answers, upload

pytestmark = pytest.mark.integration


#: every test runs with the connections served by asyncio's transports and by the Rust
#: front end (gateway.io, pipeline/gateway/front.py)
IO_MODES = ("asyncio", "rust")


@pytest.fixture(params=IO_MODES)
def io(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _settings(stack: LiveStack, tmp: Path, tag: str, io: str = "asyncio") -> Any:
    s = stack.settings
    topics = dataclasses.replace(s.topics, frames=f"test.gw.{tag}.frames",
                                 rejects=f"test.gw.{tag}.rejects",
                                 commands=f"test.gw.{tag}.commands")
    g = dataclasses.replace(s.gateway, port=0, metrics_port=0, id=f"gw-{tag}",
                            frames_per_s_per_mn=1000.0, drain_timeout=5.0, io=io)
    sp = dataclasses.replace(s.spool, dir=str(tmp / "spool"), fsync_interval=0.0)
    return dataclasses.replace(s, topics=topics, gateway=g, spool=sp)


async def _create_topics(bootstrap: str, settings: Any) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.topics.frames, 6, 1),
                                   NewTopic(settings.topics.rejects, 2, 1),
                                   NewTopic(settings.topics.commands, 1, 1)])
    finally:
        await admin.close()


async def _consume(bootstrap: str, topic: str, want: int, timeout: float = 60.0
                   ) -> list[tuple[bytes, envelope.Envelope]]:
    """Every message of ``topic`` from the start, until ``want`` arrived and 2 s passed
    without more (so extra copies would be seen), or ``timeout``."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[tuple[bytes, envelope.Envelope]] = []
    try:
        parts = [TopicPartition(topic, p) for p in await _partitions(consumer, topic)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=500)
            n = sum(len(v) for v in got.values())
            for msgs in got.values():
                out.extend((m.key, envelope.decode(m.value)) for m in msgs)
            if n:
                quiet_since = time.monotonic()
            elif len(out) >= want and time.monotonic() - quiet_since > 2.0:
                break
    finally:
        await consumer.stop()
    return out


async def _partitions(consumer: Any, topic: str) -> set[int]:
    for _ in range(50):
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return set(parts)
        await asyncio.sleep(0.1)
    raise AssertionError(f"topic {topic} has no partitions")


class _Run:
    def __init__(self, stack: LiveStack, tmp: Path, io: str) -> None:
        self.tag = uuid.uuid4().hex[:8]
        self.io = io
        self.settings = _settings(stack, tmp, self.tag, io)
        self.bootstrap = stack.kafka_bootstrap

    def gateway(self) -> Gateway:
        return Gateway(self.settings, directory=directory(), downlink=False)


def aio(fn: Any) -> Any:
    """Run an async test body in its own loop (no pytest-asyncio here)."""
    def wrapper(stack: LiveStack, tmp_path: Path, io: str) -> None:
        async def main() -> None:
            r = _Run(stack, tmp_path, io)
            await _create_topics(r.bootstrap, r.settings)
            await fn(r)
        asyncio.run(main())
    # not functools.wraps: pytest would read fn's signature and look for a fixture "r"
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


@aio
async def test_every_answer_type_and_auth_failures_reach_kafka(r: _Run) -> None:
    gw = r.gateway()
    await gw.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        up = upload(1)
        note = hj212.encode(cn=1013, st=32, mn=MN, pw=PW, qn="20240101000000002", flag=5)
        bad_crc = upload(3)[:-6] + b"0000\r\n"
        unknown = upload(4, mn="FFFF00000000000000000001")
        wrong_pw = upload(5, pw="000000")
        for frame in (up, note, bad_crc, unknown, wrong_pw):
            writer.write(frame)
        answers = await read_answers(reader, 5)
        assert [(a.cn, a.cp.get("QnRtn")) for a in answers] == [
            ("9014", None), ("9013", None), ("9011", "9"), ("9011", "4"), ("9011", "3")]
        writer.close()
    finally:
        await gw.stop()
    frames = await _consume(r.bootstrap, r.settings.topics.frames, 2)
    assert sorted(e.raw for _, e in frames) == sorted([up, note])
    assert {k for k, _ in frames} == {MN.encode()}
    rejects = await _consume(r.bootstrap, r.settings.topics.rejects, 3)
    assert sorted(e.reason.split(":")[0] for _, e in rejects) == ["crc", "unknown_mn",
                                                                  "wrong_pw"]
    assert {e.raw for _, e in rejects} == {bad_crc, unknown, wrong_pw}


@aio
async def test_byte_by_byte_ten_in_one_write_and_garbage_flood(r: _Run) -> None:
    gw = r.gateway()
    await gw.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        one = upload(0)
        for b in one:
            writer.write(bytes([b]))
            await writer.drain()
        ten = [upload(i) for i in range(1, 11)]
        writer.write(b"".join(ten))
        junk = bytes(range(256)).replace(b"#", b"x") * 256
        for _ in range(100):  # ~6.5 MB of noise
            writer.write(junk)
            await writer.drain()
        last = upload(11)
        writer.write(last)
        answers = await read_answers(reader, 12, timeout=30)
        assert [a.qn for a in answers] == [hj212.parse(f).qn for f in [one, *ten, last]]
        assert all(s.framer.buffered <= 1036 for s in gw.sessions)
        writer.close()
    finally:
        await gw.stop()
    frames = await _consume(r.bootstrap, r.settings.topics.frames, 12)
    assert [e.raw for _, e in frames] == [one, *ten, last]  # one MN: one partition, in order


async def _logger(port: int, mn_index: int, stop: asyncio.Event, answered: list[bytes],
                  period: float) -> None:
    """A logger sending numbered uploads, each after the last one was answered."""
    mn = f"0000000000000000{mn_index:08d}"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = 0
    while not stop.is_set():
        frame = hj212.encode(cn=2011, st=32, mn=mn, pw=PW, qn=f"2024{mn_index:04d}{i:09d}",
                             flag=5, cp=f"DataTime=20240101000000;w01018-Rtd={i}")
        writer.write(frame)
        line = await asyncio.wait_for(reader.readuntil(b"\r\n"), 30)
        assert hj212.parse(line).cn == "9014"
        answered.append(frame)
        i += 1
        await asyncio.sleep(period)
    writer.close()


@aio
async def test_kafka_down_30s_under_load_and_gateway_restart_lose_nothing(r: _Run) -> None:
    from pipeline.gateway.auth import StaticDirectory, StationEntry

    mns = 20
    entries = [StationEntry(f"0000000000000000{i:08d}", PW) for i in range(200)]
    gw = Gateway(r.settings, directory=StaticDirectory(entries), downlink=False)
    await gw.start()
    answered: list[bytes] = []
    stop = asyncio.Event()
    loggers = [asyncio.create_task(_logger(gw.port, i, stop, answered, 0.02))
               for i in range(mns)]
    loop = asyncio.get_running_loop()
    await asyncio.sleep(3)
    before = len(answered)
    await loop.run_in_executor(None, stack_kafka.stop, r.settings)
    down_at = time.monotonic()
    try:
        await asyncio.sleep(15)
        # restart the gateway in the middle of the outage: answered frames wait in its spool
        stop.set()
        await asyncio.gather(*loggers)
        await gw.stop()
        assert gw.spool.depth_records > 0, "the outage left nothing in the spool?"
        gw = Gateway(r.settings, directory=StaticDirectory(entries), downlink=False)
        await gw.start()
        stop.clear()
        loggers = [asyncio.create_task(_logger(gw.port, 100 + i, stop, answered, 0.02))
                   for i in range(mns)]
        await asyncio.sleep(max(0.0, 30 - (time.monotonic() - down_at)))
    finally:
        await loop.run_in_executor(None, stack_kafka.start, r.settings)
    await asyncio.sleep(5)
    stop.set()
    await asyncio.gather(*loggers)
    during = len(answered) - before
    assert during > 1000, f"only {during} frames answered around the outage"
    assert await gw.publisher.drain(120) if gw.publisher else True
    await gw.stop()

    got = await _consume(r.bootstrap, r.settings.topics.frames, len(answered), timeout=120)
    by_mn_sent: dict[bytes, list[bytes]] = defaultdict(list)
    for f in answered:
        by_mn_sent[hj212.parse(f).mn.encode()].append(f)  # type: ignore[union-attr]
    by_mn_got: dict[bytes, list[bytes]] = defaultdict(list)
    for key, env in got:
        by_mn_got[key].append(env.raw)
    from collections import Counter

    extra = Counter(e.raw for _, e in got) - Counter(answered)
    missing = Counter(answered) - Counter(e.raw for _, e in got)
    repeated_seqs = [q for q, n in Counter(e.seq for _, e in got).items() if n > 1]
    assert not missing, f"{sum(missing.values())} answered frames are not in Kafka"
    assert not extra, (f"{sum(extra.values())} extra in Kafka ({len(repeated_seqs)} repeated "
                       f"gateway seqs), e.g. {list(extra)[:2]}")
    assert len(got) == len(answered), f"{len(got)} in Kafka, {len(answered)} answered"
    for mn, sent in by_mn_sent.items():
        assert by_mn_got[mn] == sent, f"MN {mn!r}: Kafka order or content differs"
    seqs = [env.seq for _, env in got]
    assert len(set(seqs)) == len(seqs)


@aio
async def test_downlink_round_trip_with_a_logger(r: _Run) -> None:
    from aiokafka import AIOKafkaProducer

    gw = r.gateway()
    await gw.start()
    recorder = MemoryRecorder()
    gw.downlink = Downlink(gw, recorder)
    gw.downlink.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(upload(1))
        await read_answers(reader, 1)  # now the gateway knows this MN's connection
        await asyncio.sleep(2)  # the consumer joins its group
        producer = AIOKafkaProducer(bootstrap_servers=r.bootstrap)
        await producer.start()
        qn = "20240102030405123"
        await producer.send_and_wait(r.settings.topics.commands, json.dumps({
            "mn": MN, "cn": 2051, "qn": qn, "purpose": "backfill",
            "fields": {"BeginTime": "20240101000000", "EndTime": "20240101010000"},
        }).encode(), key=MN.encode())
        await producer.stop()
        request = hj212.parse(await asyncio.wait_for(reader.readuntil(b"\r\n"), 30))
        assert (request.cn, request.qn, request.cp["BeginTime"]) == ("2051", qn,
                                                                     "20240101000000")
        writer.write(hj212.answer(request, qn_rtn=1) or b"")
        writer.write(hj212.encode(cn=2051, st=32, mn=MN, pw=PW, qn=qn, flag=4,
                                  cp="DataTime=20240101000000;w01018-Avg=1.0"))
        writer.write(hj212.answer(request, exe_rtn=1) or b"")
        for _ in range(100):
            if recorder.last.get(qn) and recorder.last[qn].state == "executed":
                break
            await asyncio.sleep(0.05)
        assert [s for q, _, s in recorder.rows if q == qn] == ["sent", "accepted", "executed"]
        writer.close()
    finally:
        await gw.stop()


@aio
async def test_backfill_round_trip_with_a_simulated_logger(r: _Run) -> None:
    """A history back-fill (2051 with BeginTime/EndTime) goes from hj212.commands through
    the gateway to a simulated logger, which answers 9011, replays its stored minute
    records and ends with 9012; the replays reach hj212.frames and the command's outcome
    is recorded as executed."""
    from datetime import datetime, timedelta

    from aiokafka import AIOKafkaProducer

    from pipeline.gateway.auth import StaticDirectory, StationEntry
    from pipeline.simulator.clock import SimClock
    from pipeline.simulator.datalogger import VirtualLogger
    from pipeline.simulator.fleet import Fleet, FleetOptions
    from pipeline.simulator.stations import made_fleet

    sim = made_fleet(1, seed=7, editions={2017: 1.0})[0]
    start = datetime(2024, 3, 1, 8, 0)
    logger = VirtualLogger(sim, start=start, seed=7)
    gw = Gateway(r.settings, directory=StaticDirectory([StationEntry(logger.mn, logger.pw)]),
                 downlink=False)
    await gw.start()
    recorder = MemoryRecorder()
    gw.downlink = Downlink(gw, recorder)
    gw.downlink.start()
    # an hour of simulated time per wall second: the logger builds a history of minute data
    fleet = Fleet([logger], SimClock(start, speed=3600),
                  FleetOptions(port=gw.port, stagger=0.0, tick=0.05))
    running = asyncio.create_task(fleet.run())
    try:
        await asyncio.sleep(4)
        assert logger.records(2051, start, start + timedelta(hours=1)), "no minute history"
        qn = "20240301120000001"
        producer = AIOKafkaProducer(bootstrap_servers=r.bootstrap)
        await producer.start()
        await producer.send_and_wait(r.settings.topics.commands, json.dumps({
            "mn": logger.mn, "cn": 2051, "qn": qn, "purpose": "backfill",
            "fields": {"BeginTime": "20240301080000", "EndTime": "20240301090000"},
        }).encode(), key=logger.mn.encode())
        await producer.stop()
        for _ in range(400):
            if recorder.last.get(qn) and recorder.last[qn].state == "executed":
                break
            await asyncio.sleep(0.05)
        assert [s for q, _, s in recorder.rows if q == qn] == ["sent", "accepted", "executed"]
        assert logger.stats.replayed > 0
    finally:
        fleet.stop()
        await asyncio.gather(running, return_exceptions=True)
        assert gw.publisher is None or await gw.publisher.drain(60)
        await gw.stop()
    frames = await _consume(r.bootstrap, r.settings.topics.frames, want=1)
    minute_times = [hj212.parse(env.raw).data_time for _, env in frames
                    if hj212.parse(env.raw).cn == "2051"]
    replayed = [t for t in minute_times if t and "20240301080000" <= t <= "20240301090000"]
    # each minute record of the window arrived twice: when it was made, and replayed
    assert len(replayed) >= 2 * logger.stats.replayed - 2, (len(replayed), logger.stats.replayed)


async def _closed_by_peer(reader: asyncio.StreamReader, timeout: float = 5.0) -> bool:
    """True when the gateway closes the connection (EOF or reset) within ``timeout``."""
    try:
        return await asyncio.wait_for(reader.read(), timeout) == b""
    except ConnectionError:
        return True


@aio
async def test_a_source_sending_wrong_passwords_is_slowed_then_refused(r: _Run) -> None:
    """Over a real socket: wrong passwords from one address are answered at once, then
    only after a delay, then the address is refused (its connection closed, new ones
    closed unread) until the block ends; every wrong-PW frame reaches hj212.rejects."""
    g = dataclasses.replace(r.settings.gateway, auth_fail_slow_after=3,
                            auth_fail_block_after=6, auth_fail_window_s=60.0,
                            auth_fail_delay_s=0.5, auth_block_s=3.0)
    gw = Gateway(dataclasses.replace(r.settings, gateway=g), directory=directory(),
                 downlink=False)
    await gw.start()
    loop = asyncio.get_running_loop()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        waits = []
        for i in range(5):
            t0 = loop.time()
            writer.write(upload(i, pw="000000"))
            [answer] = await read_answers(reader, 1)
            assert (answer.cn, answer.cp["QnRtn"]) == ("9011", "3")
            waits.append(loop.time() - t0)
        assert max(waits[:2]) < 0.4, waits  # the first two: answered at once
        assert min(waits[2:]) >= 0.45, waits  # from the third: slowed
        assert gw.metrics.auth_slowed_total == 3
        writer.write(upload(5, pw="000000"))  # the sixth: the address is blocked
        assert await _closed_by_peer(reader)
        assert gw.metrics.auth_blocked_total == 1
        # a new connection from the address is refused, even with the right password
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", gw.port)
        writer2.write(upload(6))
        assert await _closed_by_peer(reader2)
        assert gw.metrics.connections_refused["auth_blocked"] >= 1
        # the block ends: the address is let in again
        await asyncio.sleep(3.5)
        reader3, writer3 = await asyncio.open_connection("127.0.0.1", gw.port)
        writer3.write(upload(7))
        [ok] = await read_answers(reader3, 1)
        assert ok.cn == "9014"
        assert "hj212_gateway_auth_blocked_total 1" in gw.metrics.render()
        for w in (writer, writer2, writer3):
            w.close()
    finally:
        await gw.stop()
    rejects = await _consume(r.bootstrap, r.settings.topics.rejects, 6)
    assert sorted(e.reason.split(":")[0] for _, e in rejects) == ["wrong_pw"] * 6
    frames = await _consume(r.bootstrap, r.settings.topics.frames, 1)
    assert [e.raw for _, e in frames] == [upload(7)]


@aio
async def test_a_crc_variant_is_accepted_only_for_a_station_allowed_it(r: _Run) -> None:
    from pipeline.gateway.auth import StaticDirectory, StationEntry
    from tests.unit.gateway_helpers import CODEC_HAS_VARIANTS, VARIANT_MN, modbus_signed

    if not CODEC_HAS_VARIANTS:
        pytest.skip("the hj212 build has no CRC variants yet")
    entries = [StationEntry(MN, PW), StationEntry(VARIANT_MN, PW, crc_variants=("modbus",))]
    gw = Gateway(r.settings, directory=StaticDirectory(entries), downlink=False)
    await gw.start()
    allowed = modbus_signed(upload(1, mn=VARIANT_MN))
    refused = modbus_signed(upload(2))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(allowed + refused)
        a, b = await read_answers(reader, 2)
        assert (a.cn, a.mn, b.cn, b.cp["QnRtn"]) == ("9014", VARIANT_MN, "9011", "9")
        text = gw.metrics.render()
        assert (f'hj212_gateway_crc_variant_frames_total{{mn="{VARIANT_MN}",variant="modbus"}} 1'
                in text)
        writer.close()
    finally:
        await gw.stop()
    [(key, env)] = await _consume(r.bootstrap, r.settings.topics.frames, 1)
    assert (key, env.raw) == (VARIANT_MN.encode(), allowed)
    assert env.reason.startswith("crc_variant")  # the warning is stored with the frame
    # what a worker decodes: the frame reads under the variant, with the same warning
    frame = hj212.parse(env.raw, crc_variants=("modbus",))
    assert env.reason in frame.warnings
    [(_, rej)] = await _consume(r.bootstrap, r.settings.topics.rejects, 1)
    assert rej.raw == refused and "crc_variants=modbus" in rej.reason


def test_gateway_processes_on_one_port_each_send_their_loggers_commands(
        stack: LiveStack, tmp_path: Path, io: str) -> None:
    """`hj212 gateway --processes 2`: the kernel spreads the loggers over the two
    processes, and a command from hj212.commands reaches its logger whichever holds it."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    from pipeline.registry import csv_io
    from pipeline.store.client import ClickHouse
    from tests.integration.service_env import database_dsn, drop_database, fresh_database
    from tests.integration.worker_env import log_tail, worker_env

    mns = [f"0200000000000000000000{k:02d}" for k in range(24)]

    async def main(proc_log: Path) -> None:
        from aiokafka import AIOKafkaProducer

        tag = uuid.uuid4().hex[:8]
        s = _settings(stack, tmp_path, tag)
        await _create_topics(stack.kafka_bootstrap, s)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        registry = tmp_path / "stations.csv"
        registry.write_text(",".join(csv_io.STATION_COLUMNS) + "\n" + "".join(
            f"{mn},{PW},某化工有限公司,DW001,32,2017,江苏,,60,10,1\n" for mn in mns),
            encoding="utf-8")
        dsn = database_dsn(stack.clickhouse_dsn, f"hj212_it_gw_{tag}")
        fresh_database(dsn)  # the downlinks record each command's states in `commands`
        env = worker_env(stack.kafka_bootstrap, dsn,
                         {"frames": s.topics.frames, "rejects": s.topics.rejects,
                          "commands": s.topics.commands}, tmp_path / "run")
        env.update({"HJ212_GATEWAY__HOST": "127.0.0.1", "HJ212_GATEWAY__PORT": str(port),
                    "HJ212_GATEWAY__METRICS_PORT": "0", "HJ212_GATEWAY__ID": f"gw-{tag}",
                    "HJ212_GATEWAY__REGISTRY_CSV": str(registry),
                    "HJ212_GATEWAY__IO": io,
                    "HJ212_SPOOL__DIR": str(tmp_path / "spool")})
        with proc_log.open("ab") as fh:
            proc = subprocess.Popen(
                [str(Path(sys.executable).parent / "hj212"), "gateway", "--processes", "2"],
                env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            loggers = []
            for mn in mns:
                for _ in range(300):
                    try:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        break
                    except OSError:
                        assert proc.poll() is None, log_tail(proc_log, 30)
                        await asyncio.sleep(0.1)
                writer.write(upload(1, mn=mn))
                await read_answers(reader, 1, timeout=30)
                loggers.append((reader, writer))
            # each process publishes the MNs it holds; the kernel gave both some
            held: list[set[str]] = [set(), set()]
            for _ in range(100):
                held = [set((tmp_path / "spool" / "live" / f"p{i}.live").read_text().split())
                        if (tmp_path / "spool" / "live" / f"p{i}.live").exists() else set()
                        for i in range(2)]
                if held[0] | held[1] == set(mns):
                    break
                await asyncio.sleep(0.1)
            assert held[0] | held[1] == set(mns) and held[0] and held[1], held

            # the downlinks join their consumer groups at "latest": a command sent before
            # one has joined is not read, so each logger still waiting is sent another
            producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
            await producer.start()
            got: dict[str, list[hj212.Frame]] = {mn: [] for mn in mns}
            sent: dict[str, set[str]] = {mn: set() for mn in mns}
            try:
                for attempt in range(12):
                    waiting = [k for k, mn in enumerate(mns) if not got[mn]]
                    if not waiting:
                        break
                    for k in waiting:
                        qn = f"2024010203{attempt:02d}{k:05d}"
                        sent[mns[k]].add(qn)
                        await producer.send_and_wait(s.topics.commands, json.dumps({
                            "mn": mns[k], "cn": 2051, "qn": qn, "purpose": "backfill",
                            "fields": {"BeginTime": "20240101000000",
                                       "EndTime": "20240101010000"}}).encode(),
                            key=mns[k].encode())
                    lines = await asyncio.gather(*(_line(loggers[k][0], 2.5) for k in waiting))
                    for k, line in zip(waiting, lines, strict=True):
                        if line is not None:
                            got[mns[k]].append(hj212.parse(line))
            finally:
                await producer.stop()
            for mn in mns:
                assert got[mn], f"no command reached {mn}: {log_tail(proc_log, 30)}"
                [request] = got[mn]
                assert (request.mn, request.cn) == (mn, "2051") and request.qn in sent[mn]
            # recorded as sent by the process holding the logger; offline by none
            want = {(mn, f"gw-{tag}-p{0 if mn in held[0] else 1}", "sent") for mn in mns}
            rows: set[tuple[str, str, str]] = set()
            for _ in range(100):
                with ClickHouse(dsn) as ch:
                    rows = {(str(mn), str(gw), str(st)) for mn, gw, st in ch.execute(
                        "SELECT mn, gateway, state FROM commands")}
                if want <= rows:
                    break
                await asyncio.sleep(0.1)
            assert want <= rows and not {r for r in rows if r[2] == "offline"}, rows
            for _r, w in loggers:
                w.close()
        finally:
            drop_database(dsn)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    asyncio.run(main(tmp_path / "gateway.log"))


async def _line(reader: asyncio.StreamReader, wait_s: float) -> bytes | None:
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n"), wait_s)
    except TimeoutError:
        return None
