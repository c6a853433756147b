"""The stream worker on the real stack: `hj212 worker` as a subprocess (so kill -9 is a
real kill), frames enveloped as the gateway does on topics of this run only, rows counted
in a ClickHouse database of this run only.

What is checked: every frame and reading lands once; rejects are stored with their
reason; a replay of the whole topic by a second consumer group makes no duplicate; a
worker killed with SIGKILL mid-stream and restarted loses nothing and duplicates
nothing; the detector state of a station survives the kill (its changelog is replayed),
so an episode opened before the kill is cleared after it; alarms reach hj212.alarms as
JSON keyed by MN.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import hj212
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.config import load_settings
from pipeline.detect.state import load_station_state
from pipeline.gateway import envelope
from pipeline.stack import kafka
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from pipeline.stream.app import StreamOptions
from pipeline.stream.app import Worker as StreamWorker
from pipeline.stream.builtin import wiring_detector
from pipeline.stream.state import StationTable
from tests.integration.worker_env import log_tail, worker_env

pytestmark = pytest.mark.integration

HJ212 = Path(sys.executable).parent / "hj212"
WIRING = "pipeline.stream.builtin:wiring_detector"
CODES = ("w01018", "w00000")
T0 = datetime(2024, 3, 1, 8, 0, 0)


# --- frames as a logger sends them and the gateway envelopes them ------------------------


def mn_of(run: int, i: int) -> str:
    return f"AB{run:06X}{i:016X}"


def frame(mn: str, when: datetime, values: dict[str, float], seq: int) -> bytes:
    cp: list[tuple[str, object]] = [("DataTime", when.strftime("%Y%m%d%H%M%S"))]
    for code, value in values.items():
        cp.append((f"{code}-Avg", repr(value)))
    qn = when.strftime("%Y%m%d%H%M%S") + f"{seq % 1000:03d}"
    return hj212.encode(cn=2051, st=32, mn=mn, pw="123456", qn=qn, flag=4, cp=cp)


def enveloped(raw: bytes, seq: int, kind: int = envelope.ACCEPTED, reason: str = "") -> bytes:
    return envelope.encode(kind, time.time_ns(), seq, b"gw-test", b"127.0.0.1:40000",
                           reason.encode(), raw)


def clean_frames(run: int, stations: int, per_station: int, start: int = 0,
                 sign: float = 1.0) -> list[tuple[str, bytes]]:
    """(MN, frame) for minute data of ``stations`` stations, interleaved by time
    (``sign`` -1: the first pollutant's values negative, a wiring-detector alarm)."""
    out = []
    for k in range(start, start + per_station):
        for s in range(stations):
            mn = mn_of(run, s)
            when = T0 + timedelta(minutes=k)
            out.append((mn, frame(mn, when, {CODES[0]: sign * (10.0 + k % 7),
                                             CODES[1]: 100.0 + s}, k)))
    return out


# --- the stack: topics, database, worker processes ------------------------------------


class Run:
    def __init__(self, stack: Any, tmp: Path) -> None:
        self.stack = stack
        self.tmp = tmp
        self.tag = uuid.uuid4().hex[:8]
        self.run = int(self.tag[:6], 16)
        self.bootstrap = stack.kafka_bootstrap
        self.topics = {name: f"test.wk.{self.tag}.{name}"
                       for name in ("frames", "rejects", "alarms")}
        parts = urlsplit(stack.clickhouse_dsn)
        self.dsn = urlunsplit(parts._replace(path=f"/hj212_it_worker_{self.tag}"))
        self.workers: list[Worker] = []

    def env(self) -> dict[str, str]:
        env = worker_env(self.bootstrap, self.dsn, self.topics, self.tmp / "run")
        if "HJ212_LOG_LEVEL" in os.environ:  # debug a failing run with the worker's own logs
            env["HJ212_LOG_LEVEL"] = os.environ["HJ212_LOG_LEVEL"]
        return env

    def worker(self, app_id: str, name: str) -> Worker:
        # the app id is the consumer group and names the changelog: one per run
        w = Worker(self, f"{app_id}-{self.tag}", self.tmp / f"{name}.log")
        self.workers.append(w)
        return w

    def ch(self) -> ClickHouse:
        return ClickHouse(self.dsn)

    def count(self, sql: str) -> int:
        with self.ch() as ch:
            return int(ch.execute(sql)[0][0])

    def produce(self, messages: list[tuple[str, bytes]], topic: str = "frames") -> None:
        asyncio.run(_produce(self.bootstrap, self.topics[topic], messages))


class Worker:
    def __init__(self, r: Run, app_id: str, log: Path) -> None:
        self.r = r
        self.app_id = app_id
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str) -> Worker:
        fh = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(HJ212), "worker", "--app-id", self.app_id, "--detectors", WIRING,
             "--batch-frames", "2000", "--batch-seconds", "0.3", *extra],
            env=self.r.env(), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        fh.close()
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"worker {self.app_id} ignored SIGTERM for 30 s; log: "
                                 f"{self.tail()}") from None

    def tail(self, n: int = 30) -> str:
        return log_tail(self.log, n)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


async def _produce(bootstrap: str, topic: str, messages: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key.encode())
                   for key, value in messages]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _create_topics(bootstrap: str, topics: dict[str, str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topics["frames"], 6, 1),
                                   NewTopic(topics["rejects"], 2, 1),
                                   NewTopic(topics["alarms"], 2, 1)])
    finally:
        await admin.close()


async def _partition_ids(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (desc,) = await admin.describe_topics([topic])
        return sorted(p["partition"] for p in desc["partitions"])
    finally:
        await admin.close()


async def _consume_all(bootstrap: str, topic: str, settle: float = 2.0
                       ) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in await _partition_ids(bootstrap, topic)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        out: list[tuple[bytes, bytes]] = []
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < settle:
            got = await consumer.getmany(timeout_ms=300)
            for records in got.values():
                out.extend((rec.key, rec.value) for rec in records)
                quiet_since = time.monotonic()
        return out
    finally:
        await consumer.stop()


async def _lag(bootstrap: str, group: str, topics: list[str]) -> int:
    """Messages of ``topics`` not yet committed by consumer group ``group``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        parts = [TopicPartition(t, p) for t in topics for p in await _partition_ids(bootstrap, t)]
        ends = await consumer.end_offsets(parts)
        lag = 0
        for tp, end in ends.items():
            meta = committed.get(tp)
            lag += end - (meta.offset if meta is not None and meta.offset >= 0 else 0)
        return lag
    finally:
        await consumer.stop()
        await admin.close()


def caught_up(r: Run, group: str) -> int:
    """1 once ``group`` has committed every frame and reject produced so far."""
    return int(asyncio.run(_lag(r.bootstrap, group, [r.topics["frames"],
                                                      r.topics["rejects"]])) == 0)


def wait_for(what: str, fn: Callable[[], int], want: int, timeout: float,
             workers: list[Worker]) -> int:
    deadline = time.monotonic() + timeout
    got = fn()
    while got < want and time.monotonic() < deadline:
        for w in workers:
            if w.proc is not None and w.proc.poll() is not None and w.proc.returncode not in (
                    0, -signal.SIGKILL, -signal.SIGTERM):
                raise AssertionError(f"worker {w.app_id} exited {w.proc.returncode}: "
                                     f"{w.tail()}")
        time.sleep(0.5)
        got = fn()
    if got < want:
        logs = "\n---\n".join(w.tail() for w in workers)
        raise AssertionError(f"{what}: {got} of {want} after {timeout:.0f} s; logs:\n{logs}")
    return got


@pytest.fixture
def r(stack, tmp_path) -> Iterator[Run]:
    run = Run(stack, tmp_path)
    asyncio.run(_create_topics(run.bootstrap, run.topics))
    with ClickHouse(run.dsn, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")
    Migrator(run.dsn).migrate()
    yield run
    for w in run.workers:
        if w.alive():
            w.stop()
    with ClickHouse(run.dsn, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")
    # this run's topics and the state changelogs of its workers
    names = {*run.topics.values(), *(f"{w.app_id}-station-state" for w in run.workers)}
    kafka.delete_topics(run.bootstrap, names)


def readings_final(r: Run) -> int:
    return r.count("SELECT count() FROM readings FINAL")


def frames_final(r: Run) -> int:
    return r.count("SELECT count() FROM frames FINAL WHERE status = 'accepted'")


def duplicate_keys(r: Run) -> int:
    # after the merge FINAL forces, a key seen twice would be a duplicate that survived
    return r.count("SELECT count() - uniqExact(mn, cn, code, data_time) FROM readings FINAL")


class Proxy:
    """A TCP relay to ClickHouse that the test can cut and restore: "ClickHouse down" for
    the worker only, without stopping the server other suites share."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind(("127.0.0.1", self.port))
        self.port = lst.getsockname()[1]
        lst.listen(16)
        self._listener = lst
        threading.Thread(target=self._accept, args=(lst,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
            lst, self._listener = self._listener, None
        for sk in [*socks, *([lst] if lst else [])]:
            with contextlib.suppress(OSError):
                sk.shutdown(socket.SHUT_RDWR)
            sk.close()

    def _accept(self, lst: socket.socket) -> None:
        while True:
            try:
                client, _ = lst.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sk in (src, dst):
                with contextlib.suppress(OSError):
                    sk.shutdown(socket.SHUT_RDWR)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- tests ----------------------------------------------------------------------------------


def test_frames_rejects_and_alarms_land_and_a_replay_adds_nothing(r: Run) -> None:
    clean = clean_frames(r.run, stations=20, per_station=50)  # 1000 frames, 2000 readings
    neg_mn = mn_of(r.run, 999)
    neg = [(neg_mn, frame(neg_mn, T0 + timedelta(minutes=k), {CODES[0]: v}, k))
           for k, v in enumerate([1.0, -2.0, -3.5, -1.0, 4.0])]
    messages = [(mn, enveloped(raw, i)) for i, (mn, raw) in enumerate(clean + neg)]
    r.produce(messages)
    good = clean[0][1]
    rejects = [
        (clean[0][0], enveloped(good.replace(b"PW=123456", b"PW=654321"), 1, envelope.REJECTED,
                                "wrong_pw: PW '654321' does not match the registry's")),
        ("10.0.0.9", enveloped(b"##garbage\r\n", 2, envelope.REJECTED, "length: bad length")),
        ("FFFFFFFFFFFFFFFFFFFFFFFF", enveloped(
            frame("FFFFFFFFFFFFFFFFFFFFFFFF", T0, {CODES[0]: 1.0}, 0), 3,
            envelope.QUARANTINED, "quarantine: MN not in the registry")),
    ]
    r.produce(rejects, topic="rejects")

    w = r.worker("wk-a", "a").start()
    want_readings = len(clean) * 2 + len(neg)
    wait_for("readings", lambda: readings_final(r), want_readings, 120, r.workers)
    wait_for("frames", lambda: frames_final(r), len(clean) + len(neg), 30, r.workers)
    wait_for("rejects", lambda: r.count("SELECT count() FROM frames FINAL WHERE status != "
                                        "'accepted'"), 3, 30, r.workers)
    wait_for("alarm cleared", lambda: r.count(
        "SELECT count() FROM alarms FINAL WHERE state = 'cleared'"), 1, 30, r.workers)
    # the traffic has stopped: the next commits (every 5 s) take the last batch's offsets,
    # with no later batch to wait for (the completeness refresh, once a minute, is too late)
    wait_for("all committed", lambda: caught_up(r, f"wk-a-{r.tag}"), 1, 20, r.workers)

    with r.ch() as ch:
        rows = ch.execute("SELECT status, error_kind, n_readings FROM frames FINAL "
                          "WHERE status != 'accepted' ORDER BY error_kind")
        assert rows == [("rejected", "length", 0), ("quarantined", "quarantine", 0),
                        ("rejected", "wrong_pw", 0)]
        alarm = ch.query_dicts("SELECT * FROM alarms FINAL")
    assert len(alarm) == 1
    a = alarm[0]
    assert (a["mn"], a["code"], a["rule"], a["state"], a["occurrences"]) == (
        neg_mn, CODES[0], "negative", "cleared", 4)
    assert a["alarm_id"] == f"{neg_mn}/{CODES[0]}/negative/20240301080100"

    published = asyncio.run(_consume_all(r.bootstrap, r.topics["alarms"]))
    assert {k for k, _ in published} == {neg_mn.encode()}
    steps = [json.loads(v)["transition"] for _, v in published]
    assert steps == ["open", "update", "update", "clear"]

    # replay: a second consumer group reads both topics from the start
    assert w.stop() == 0
    r.worker("wk-b", "b").start()
    # committed offsets at the end = everything replayed and stored (commit follows insert)
    wait_for("replay committed", lambda: caught_up(r, f"wk-b-{r.tag}"), 1, 120, r.workers)
    assert readings_final(r) == want_readings
    assert frames_final(r) == len(clean) + len(neg)
    assert duplicate_keys(r) == 0
    assert r.count("SELECT count() FROM alarms FINAL") == 1


def open_negative_episode(r: Run, mn: str, app_id: str, name: str) -> Worker:
    """Two negative minute values of ``mn``, a worker started, its episode seen open."""
    r.produce([(mn, enveloped(frame(mn, T0 + timedelta(minutes=k), {CODES[0]: v}, k), k))
               for k, v in enumerate([-1.0, -2.0])])
    w = r.worker(app_id, name).start()
    wait_for("alarm opened", lambda: r.count(
        "SELECT count() FROM alarms FINAL WHERE state = 'open' AND occurrences = 2"), 1, 120,
        r.workers)
    return w


def stream_in_waves(r: Run, stations: int, per_station: int, waves: int,
                    pause: float = 0.0) -> tuple[threading.Thread, int]:
    """Clean minute frames produced wave by wave from a thread; (thread, frame count)."""
    batches = [clean_frames(r.run, stations, per_station, start=wave * per_station)
               for wave in range(waves)]

    def produce_all() -> None:
        seq = 0
        for batch in batches:
            r.produce([(mn, enveloped(raw, seq + i)) for i, (mn, raw) in enumerate(batch)])
            seq += len(batch)
            time.sleep(pause)

    producer = threading.Thread(target=produce_all)
    producer.start()
    return producer, sum(len(b) for b in batches)


def all_once_and_the_episode_cleared(r: Run, total: int, group: str) -> int:
    """Every clean frame's two readings and the negative station's three are stored once
    and committed by ``group``; the episode opened first is cleared. Returns the readings
    wanted."""
    want = 2 * total + 3
    wait_for("every reading", lambda: readings_final(r), want, 180, r.workers)
    wait_for("everything committed", lambda: caught_up(r, group), 1, 60, r.workers)
    assert readings_final(r) == want
    assert duplicate_keys(r) == 0
    assert frames_final(r) == total + 3
    wait_for("alarm cleared", lambda: r.count(
        "SELECT count() FROM alarms FINAL WHERE state = 'cleared' AND occurrences = 3"), 1,
        60, r.workers)
    assert r.count("SELECT count() FROM alarms FINAL") == 1
    return want


def test_kill_9_mid_stream_then_restart_loses_and_duplicates_nothing(r: Run) -> None:
    stations, per_station, waves = 100, 60, 5  # 30,000 frames, 60,000 readings
    neg_mn = mn_of(r.run, 777)
    # the negative station's episode opens before the kill and clears only after it, so
    # the clear needs the state the killed worker left in the table's changelog
    w1 = open_negative_episode(r, neg_mn, "wk-kill", "kill1")
    # waves a second apart: the worker no longer waits for each insert and could store
    # all of it between two looks at the count, so frames must still be arriving
    producer, total = stream_in_waves(r, stations, per_station, waves, pause=1.0)
    # mid-stream: frames are still arriving and the worker is still writing
    wait_for("a third of the readings", lambda: readings_final(r), 2 * total // 3, 120,
             r.workers)
    w1.kill9()
    killed_at = readings_final(r)
    producer.join()
    assert killed_at < 2 * total + 2, "the worker had everything before the kill"
    r.produce([(neg_mn, enveloped(frame(neg_mn, T0 + timedelta(minutes=5), {CODES[0]: 3.0},
                                        5), 99))])

    r.worker("wk-kill", "kill2").start()
    want = all_once_and_the_episode_cleared(r, total, f"wk-kill-{r.tag}")
    redelivered = r.count("SELECT count() FROM readings") - want
    print(f"\n[worker] killed with {killed_at} readings stored; {redelivered} readings "
          "written twice by the redelivery (not yet merged away)")


class SlowChangelog(StationTable):
    """A changelog that takes seconds to read, as on a loaded machine: frames the
    consumer fetches meanwhile must wait for the state, not be detected against none."""

    def __init__(self, table: StationTable) -> None:
        super().__init__(table.bootstrap, table.topic, table.partitions, table.replication)
        self.loaded = asyncio.Event()

    async def load(self, partitions: Iterable[int]) -> int:
        await asyncio.sleep(3.0)
        n = await super().load(partitions)
        self.loaded.set()
        return n


def test_frames_fetched_while_the_state_loads_are_detected_against_it(r: Run) -> None:
    neg_mn = mn_of(r.run, 555)
    app_id = f"wk-slow-{r.tag}"
    r.workers.append(Worker(r, app_id, r.tmp / "slow.log"))  # its changelog is cleaned up
    r.produce([(neg_mn, enveloped(frame(neg_mn, T0 + timedelta(minutes=k), {CODES[0]: v}, k),
                                  k)) for k, v in enumerate([-1.0, -2.0])])
    settings = load_settings(env=r.env())

    async def main() -> None:
        # no commit while the state loads: the changelog read is the one from before
        worker = StreamWorker(settings, StreamOptions(app_id=app_id, batch_frames=2000,
                                                      batch_seconds=0.3, commit_seconds=60),
                              wiring_detector())
        slow = worker.table = worker.agents.table = SlowChangelog(worker.table)
        running = asyncio.create_task(worker.run())
        try:
            await asyncio.wait_for(slow.loaded.wait(), 60)
            await asyncio.to_thread(wait_for, "alarm opened", lambda: r.count(
                "SELECT count() FROM alarms FINAL WHERE state = 'open' AND occurrences = 2"),
                1, 60, [])
            await _produce(r.bootstrap, r.topics["frames"], [(neg_mn, enveloped(
                frame(neg_mn, T0 + timedelta(minutes=2), {CODES[0]: 3.0}, 2), 2))])
            # the clear needs the episode the first batch opened, in the loaded state
            await asyncio.to_thread(wait_for, "alarm cleared", lambda: r.count(
                "SELECT count() FROM alarms FINAL WHERE state = 'cleared' AND "
                "occurrences = 3"), 1, 30, [])
        finally:
            worker.stop()
            await asyncio.wait_for(running, 30)

    asyncio.run(main())


def test_clickhouse_down_pauses_the_worker_and_loses_nothing(r: Run) -> None:
    parts = urlsplit(r.dsn)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 9000))
    direct = r.dsn
    r.dsn = urlunsplit(parts._replace(netloc=f"{parts.username or 'default'}:@127.0.0.1:"
                                             f"{proxy.port}"))
    w = r.worker("wk-down", "down").start()
    r.dsn = direct  # the test itself counts over the direct connection
    first = clean_frames(r.run, stations=50, per_station=20)
    r.produce([(mn, enveloped(raw, i)) for i, (mn, raw) in enumerate(first)])
    wait_for("first wave", lambda: readings_final(r), 2 * len(first), 120, r.workers)
    assert w.proc is not None
    rss_before = rss_mb(w.proc.pid)

    proxy.cut()
    cut_at = time.monotonic()
    second = clean_frames(r.run, stations=50, per_station=400, start=20)  # 20,000 frames
    r.produce([(mn, enveloped(raw, len(first) + i)) for i, (mn, raw) in enumerate(second)])
    # after ten batches of those, a station's negative values: detection goes on while
    # the store waits (it used to stop one batch after the insert that hung)
    neg_mn = mn_of(r.run, 999)
    neg = [(neg_mn, enveloped(frame(neg_mn, T0 + timedelta(minutes=k), {CODES[0]: v}, k),
                              len(first) + len(second) + k)) for k, v in enumerate([-1.0, -2.0])]
    r.produce(neg)
    def published() -> int:
        out = asyncio.run(_consume_all(r.bootstrap, r.topics["alarms"], settle=0.5))
        return sum(1 for k, _ in out if k == neg_mn.encode())

    wait_for("the alarm published while ClickHouse is cut", published, 1, 60, r.workers)
    time.sleep(max(0.0, 15 - (time.monotonic() - cut_at)))
    assert w.alive(), w.tail()
    stalled = readings_final(r)
    lag = asyncio.run(_lag(r.bootstrap, w.app_id, [r.topics["frames"]]))
    rss_down = rss_mb(w.proc.pid)
    assert stalled == 2 * len(first), "rows went somewhere while ClickHouse was unreachable"
    assert lag >= len(second) + len(neg), "offsets were committed for frames not stored"
    assert "store.retry" in w.log.read_text()

    proxy.restore()
    want = 2 * (len(first) + len(second)) + len(neg)
    wait_for("everything after the outage", lambda: readings_final(r), want, 180, r.workers)
    wait_for("committed after the outage", lambda: caught_up(r, w.app_id), 1, 60, r.workers)
    assert readings_final(r) == want
    assert duplicate_keys(r) == 0
    wait_for("the alarm row after the outage", lambda: r.count(
        "SELECT count() FROM alarms FINAL WHERE state = 'open'"), 1, 30, r.workers)
    print(f"\n[worker] ClickHouse cut for 15 s with {len(second)} frames waiting: RSS "
          f"{rss_before:.0f} MB before, {rss_down:.0f} MB during; lag {lag}")
    proxy.cut()


def flagged(mn: str, cn: int, when: datetime, flags: dict[str, str], seq: int) -> bytes:
    """A record of ``cn`` with Avg and Flag for each code of CODES (flag N unless given)."""
    cp: list[tuple[str, object]] = [("DataTime", when.strftime("%Y%m%d%H%M%S"))]
    for code in CODES:
        cp += [(f"{code}-Avg", "12.5"), (f"{code}-Flag", flags.get(code, "N"))]
    qn = when.strftime("%Y%m%d%H%M%S") + f"{seq % 1000:03d}"
    return hj212.encode(cn=cn, st=32, mn=mn, pw="123456", qn=qn, flag=4, cp=cp)


def test_completeness_per_hour_and_day_from_what_arrived(r: Run) -> None:
    """4 of the 6 ten-minute records of an hour (one with a D flag on one pollutant) and
    12 of the 24 hourly records of a day (one flagged D): transmission and validity
    rates per pollutant and per station, and a late record raising them."""
    mn = mn_of(r.run, 7)
    minutes = [(T0 + timedelta(minutes=10 * k), {CODES[0]: "D"} if k == 2 else {})
               for k in range(4)]
    day = T0.replace(hour=0)
    hours = [(day + timedelta(hours=h), {CODES[0]: "D"} if h == 5 else {}) for h in range(12)]
    records = [(2051, when, fl) for when, fl in minutes] + [(2061, when, fl)
                                                           for when, fl in hours]
    r.produce([(mn, enveloped(flagged(mn, cn, when, fl, i), i))
               for i, (cn, when, fl) in enumerate(records)])
    r.worker("wk-c", "c").start("--completeness-seconds", "1")

    def figures() -> dict[tuple[str, str], tuple[Any, ...]]:
        with r.ch() as ch:
            rows = ch.execute(
                "SELECT period, code, expected, received, valid, round(transmission_rate, 4), "
                "round(validity_rate, 4), round(transmission_efficiency, 4) "
                "FROM completeness FINAL WHERE mn = %(mn)s", {"mn": mn})
        return {(p, c): tuple(rest) for p, c, *rest in rows}

    wait_for("completeness rows", lambda: len(figures()), 6, 60, r.workers)
    got = figures()
    assert got[("hour", CODES[0])] == (6, 4, 3, 0.6667, 0.75, 0.5)
    assert got[("hour", CODES[1])] == (6, 4, 4, 0.6667, 1.0, 0.6667)
    assert got[("hour", "")] == (6, 4, 3, 0.6667, 0.75, 0.5)
    assert got[("day", CODES[0])] == (24, 12, 11, 0.5, 0.9167, 0.4583)
    assert got[("day", CODES[1])] == (24, 12, 12, 0.5, 1.0, 0.5)
    assert got[("day", "")] == (24, 12, 11, 0.5, 0.9167, 0.4583)

    # a late (back-filled) minute record of that hour: the hour is recomputed
    late = T0 + timedelta(minutes=50)
    r.produce([(mn, enveloped(flagged(mn, 2051, late, {}, 99), 99))])
    wait_for("recomputed hour", lambda: int(figures()[("hour", "")][1] == 5), 1, 60,
             r.workers)
    assert figures()[("hour", "")] == (6, 5, 4, 0.8333, 0.8, 0.6667)


def test_a_second_worker_joins_then_the_first_leaves_mid_stream(r: Run) -> None:
    """Two workers of one app id: partitions move twice under load (a join, then a
    graceful leave). Nothing is lost or doubled, and an episode opened on the first
    worker is cleared by whichever holds its station at the end (state follows the
    partition through the changelog)."""
    stations, per_station, waves = 100, 30, 10  # 30,000 frames, 60,000 readings
    neg_mn = mn_of(r.run, 555)
    a = open_negative_episode(r, neg_mn, "wk-two", "two-a")
    # a stream that lasts, so that both moves happen under load
    producer, total = stream_in_waves(r, stations, per_station, waves, pause=1.0)
    wait_for("a tenth of the readings", lambda: readings_final(r), 2 * total // 10, 120,
             r.workers)
    b = r.worker("wk-two", "two-b").start()
    wait_for("the second worker holding partitions",
             lambda: int("partitions.assigned" in b.log.read_text()), 1, 60, r.workers)
    moved_at = readings_final(r)
    time.sleep(2.0)  # both work side by side
    assert a.stop() == 0
    left_at = readings_final(r)
    producer.join()
    assert left_at < 2 * total, "the stream was over before the first worker left"
    r.produce([(neg_mn, enveloped(frame(neg_mn, T0 + timedelta(minutes=5), {CODES[0]: 3.0},
                                        5), 99))])
    all_once_and_the_episode_cleared(r, total, f"wk-two-{r.tag}")
    assert b.alive(), b.tail()
    assert a.log.read_text().count("partitions.assigned") >= 2  # shared after the join
    print(f"\n[worker] second worker joined at {moved_at} readings, first left at "
          f"{left_at} of {2 * total}")


def modbus_signed(raw: bytes) -> bytes:
    """The frame signed with CRC-16/MODBUS instead of the standard's CRC, as some loggers'
    firmware does."""
    segment = raw[6:-6]
    return raw[:-6] + f"{hj212.crc16(segment, 'modbus'):04X}\r\n".encode()


def test_a_crc_variant_the_gateway_vetted_is_stored_with_its_readings(r: Run) -> None:
    """The gateway accepts a MODBUS-signed frame only from a station allowed it; what it
    published on the frames topic is stored as accepted, with the codec's warning and its
    readings. The same bytes on the rejects topic (a station not allowed it) stay a CRC
    error."""
    mn = mn_of(r.run, 777)
    allowed = modbus_signed(frame(mn, T0, {CODES[0]: 12.5, CODES[1]: 3.0}, 1))
    refused = modbus_signed(frame(mn, T0 + timedelta(minutes=1), {CODES[0]: 7.0}, 2))
    assert hj212.parse(allowed, crc_variants=("modbus",)).warnings[0].startswith("crc_variant")
    r.produce([(mn, enveloped(allowed, 1, envelope.ACCEPTED, "crc_variant: modbus"))])
    r.produce([(mn, enveloped(refused, 2, envelope.REJECTED, "crc: CRC-16/MODBUS"))],
              topic="rejects")
    r.worker("wk-crc", "crc").start()
    wait_for("readings", lambda: readings_final(r), 2, 120, r.workers)
    wait_for("frames", lambda: r.count("SELECT count() FROM frames FINAL"), 2, 30, r.workers)
    with r.ch() as ch:
        rows = ch.execute("SELECT status, error_kind, n_readings, warnings "
                          "FROM frames FINAL ORDER BY status")
        values = ch.execute("SELECT code, avg FROM readings FINAL ORDER BY code")
    # warnings counts the codec's deviations: the accepted one carries crc_variant
    assert rows == [("accepted", "", 2, 1), ("rejected", "crc", 0, 0)]
    assert values == [(CODES[1], 3.0), (CODES[0], 12.5)]


# --- the changelog topic gone under a running worker ----------------------------------


async def _state_keys(bootstrap: str, topic: str) -> int:
    """The distinct stations in changelog ``topic`` (0 while it does not exist)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return 0
    finally:
        await admin.close()
    return len({key for key, _ in await _consume_all(bootstrap, topic, settle=1.0)})


async def _newest_states(bootstrap: str, topic: str) -> dict[str, Any]:
    """MN -> the newest state changelog ``topic`` holds for it."""
    newest = dict(await _consume_all(bootstrap, topic, settle=1.0))
    return {key.decode(): load_station_state(key.decode(), value)
            for key, value in newest.items()}


async def _join_and_leave(bootstrap: str, group: str, topics: list[str]) -> None:
    """A consumer joins ``group`` until it is given partitions, then leaves: two
    rebalances of the group's workers."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.subscribe(topics)
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=500)
        assert consumer.assignment(), f"no partitions for a second member of {group}"
    finally:
        await consumer.stop()


def committed_then_changelog_deleted(r: Run, app_id: str, per_station: int,
                                     sign: float = 1.0) -> tuple[Worker, str, str, int]:
    """A worker that has committed frames of 10 stations, whose changelog topic is then
    deleted: (worker, group, changelog topic, frames sent)."""
    w = r.worker(app_id, app_id).start()
    group, changelog = w.app_id, f"{w.app_id}-station-state"
    first = clean_frames(r.run, stations=10, per_station=per_station, sign=sign)
    r.produce([(mn, enveloped(raw, i)) for i, (mn, raw) in enumerate(first)])
    wait_for("the first frames committed", lambda: caught_up(r, group), 1, 120, r.workers)
    kafka.delete_topics(r.bootstrap, [changelog])
    return w, group, changelog, len(first)


def test_a_changelog_gone_before_a_rebalance_is_made_again_and_the_stream_goes_on(
        r: Run) -> None:
    """The changelog topic is deleted, then the group rebalances: the worker's state
    load finds no topic. It makes the topic again and goes on detecting (before, the
    load's error left the partitions held and never ready: the worker dropped every
    batch, silently, for good), and its stations keep their state: before it lets its
    partitions go it writes every station to the new changelog (before, every station
    started again from nothing: its open alarms were opened a second time)."""
    w, group, changelog, sent = committed_then_changelog_deleted(r, "wk-gone", 5, sign=-1)
    asyncio.run(_join_and_leave(r.bootstrap, group, [r.topics["frames"],
                                                     r.topics["rejects"]]))
    second = clean_frames(r.run, stations=10, per_station=5, start=5, sign=-1)
    r.produce([(mn, enveloped(raw, 100 + i)) for i, (mn, raw) in enumerate(second)])
    wait_for("every reading", lambda: readings_final(r), 2 * (sent + len(second)),
             90, r.workers)
    wait_for("everything committed", lambda: caught_up(r, group), 1, 60, r.workers)
    assert w.alive(), w.tail()
    assert "state.changelog_recreated" in w.log.read_text(), w.tail()
    states = asyncio.run(_newest_states(r.bootstrap, changelog))
    assert len(states) == 10
    # the data times each station's resend memory holds: the first frames' and the later
    # each station's negative-value episode: open since its first frame, ten hits
    hits = {mn: st["episodes"][f"{CODES[0]}|negative"]["hits"] for mn, st in states.items()}
    assert hits == {mn: 10 for mn in states}, hits
    # one alarm per station, open since the first frames (not a second one opened after)
    wait_for("ten hits on each alarm", lambda: r.count(
        "SELECT count() FROM alarms FINAL WHERE occurrences = 10"), 10, 60, r.workers)
    assert r.count("SELECT count() FROM alarms FINAL") == 10


def test_a_changelog_gone_under_a_running_worker_is_made_again_with_every_station(
        r: Run) -> None:
    """The changelog topic is deleted while the worker runs on: its next state send
    fails (after the producer's 40 s), the worker makes the topic again and writes every
    station it holds there, not only those changed since, so a restart loses none."""
    w, group, changelog, _ = committed_then_changelog_deleted(r, "wk-gone2", 3)
    # other stations: the first ten reach the new changelog only by being written again
    later = [(mn_of(r.run, 100 + s), when) for s in range(5)
             for when in (T0 + timedelta(minutes=k) for k in range(3))]
    r.produce([(mn, enveloped(frame(mn, when, {CODES[0]: 5.0}, i), 1000 + i))
               for i, (mn, when) in enumerate(later)])
    wait_for("every station in the new changelog",
             lambda: asyncio.run(_state_keys(r.bootstrap, changelog)), 15, 150, r.workers)
    wait_for("everything committed", lambda: caught_up(r, group), 1, 60, r.workers)
    assert w.alive(), w.tail()
    assert "state.changelog_recreated" in w.log.read_text(), w.tail()
