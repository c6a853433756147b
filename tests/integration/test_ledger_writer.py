"""The ledger writer on the real stack (ClickHouse 18.16 locally, Kafka), each test on a
topic, consumer group and database of its own.

Shown: two submitters acting on one record at the same moment end in one appended change
and one conflict naming the winner; 200 changes over 20 records in sequence are numbered
1..n per record with no gap; a stream's rule refuses with its own words, an unknown
stream is refused; kill -9 of a `hj212 ledger` subprocess mid-stream and a restart answer
every change exactly once (no twin events, the same reply for what was answered before
the kill). Measured and printed (run with -s): submit -> reply latency, and the writer's
throughput on a backlog.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped,unused-ignore]

from pipeline.config import Settings, load_settings
from pipeline.ledger import queries
from pipeline.ledger.client import LedgerClient, new_change
from pipeline.ledger.codec import change_to_json, record_key
from pipeline.ledger.model import APPENDED, CONFLICT, PENDING, REFUSED, Change, Check, Event
from pipeline.ledger.rules import accept_any
from pipeline.ledger.writer import Writer, WriterOptions, ensure_topic
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator

pytestmark = pytest.mark.integration

REFUSAL = "测试流拒绝一切 / the test stream refuses everything"


def refuse_all(history: Sequence[Event], change: Change) -> str | None:
    return REFUSAL


CHECKS: dict[str, Check] = {"t": accept_any, "deny": refuse_all}


@dataclass
class Ledger:
    settings: Settings
    env: dict[str, str]
    dsn: str

    def ch(self) -> ClickHouse:
        return ClickHouse(self.dsn)

    def count(self, sql: str) -> int:
        with self.ch() as ch:
            return int(ch.execute(sql)[0][0])


@pytest.fixture
def ledger(stack, tmp_path: Path) -> Iterator[Ledger]:
    tag = uuid.uuid4().hex[:8]
    db = f"hj212_it_ledger_{tag}"
    dsn = urlunsplit(urlsplit(stack.clickhouse_dsn)._replace(path=f"/{db}"))
    Migrator(dsn).migrate()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HJ212_")}
    env.update({
        "HJ212_KAFKA__BOOTSTRAP": stack.kafka_bootstrap,
        "HJ212_CLICKHOUSE__DSN": dsn,
        "HJ212_RUN_DIR": str(tmp_path / "run"),
        "HJ212_LOG_FORMAT": "json",
        "HJ212_TOPICS__LEDGER": f"test.ledger.{tag}",
        "HJ212_PARTITIONS__LEDGER": "2",
        "HJ212_LEDGER__GROUP_ID": f"test-ledger-{tag}",
        "HJ212_LEDGER__REPLY_WAIT_S": "20",
    })
    settings = load_settings(env=env)
    try:
        yield Ledger(settings, env, dsn)
    finally:
        with ClickHouse(dsn, database="default") as ch:
            ch.execute(f"DROP DATABASE IF EXISTS {db}")


class WriterThread:
    """A writer on its own event loop in a thread (in this process, with test checks)."""

    def __init__(self, settings: Settings, checks: dict[str, Check],
                 options: WriterOptions | None = None) -> None:
        self.writer = Writer(settings, checks, options)
        self.loop = asyncio.new_event_loop()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="it-ledger", daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self.writer.run())
        except BaseException as exc:  # re-raised by start() or stop()
            self.error = exc

    def __enter__(self) -> WriterThread:
        self.thread.start()
        wait_for("the writer to be ready",
                 lambda: self.error is not None or self.writer.ready.is_set(), 60)
        if self.error is not None:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.writer.stop)
        self.thread.join(timeout=30)
        if self.error is not None:
            raise self.error


def wait_for(what: str, fn: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not fn():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _produce(bootstrap: str, topic: str, changes: list[Change]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(topic, change_to_json(c),
                                       key=record_key(c.stream, c.record_id).encode())
                   for c in changes]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def chain(stream: str, records: int, per_record: int, prefix: str) -> list[Change]:
    """Changes record by record interleaved, each expecting its predecessor: all should
    be appended, numbered 1..per_record per record."""
    return [new_change(stream, f"{prefix}-{r:03d}", "comment", "op", k,
                       {"k": k + 1}, "test")
            for k in range(per_record) for r in range(records)]


# --- the tests ---------------------------------------------------------------------------


def test_two_at_once_on_one_record_one_appended_one_conflict(ledger: Ledger) -> None:
    with WriterThread(ledger.settings, CHECKS), LedgerClient(ledger.settings) as a, \
            LedgerClient(ledger.settings) as b:
        for n in range(5):
            record = f"race-{n}"
            barrier = threading.Barrier(2)
            got: dict[str, object] = {}

            def act(client: LedgerClient, actor: str, record: str = record,
                    barrier: threading.Barrier = barrier,
                    got: dict[str, object] = got) -> None:
                change = new_change("t", record, "ack", actor, 0, {}, "test")
                barrier.wait()
                got[actor] = client.submit(change)

            threads = [threading.Thread(target=act, args=(a, "王芳")),
                       threading.Thread(target=act, args=(b, "李雷"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            outcomes = sorted(r.outcome for r in got.values())  # type: ignore[attr-defined]
            assert outcomes == sorted([APPENDED, CONFLICT]), got
            winner = next(k for k, r in got.items() if r.outcome == APPENDED)  # type: ignore[attr-defined]
            loser = next(r for r in got.values() if r.outcome == CONFLICT)  # type: ignore[attr-defined]
            assert f"已被 {winner} 于" in loser.message
            assert "look at it as it is now and submit again" in loser.message
            assert loser.seq == 1
            with ledger.ch() as ch:
                history = queries.history(ch, "t", record)
            assert [(e.seq, e.actor) for e in history] == [(1, winner)]


def test_changes_in_sequence_are_numbered_without_gaps(ledger: Ledger) -> None:
    latencies: list[float] = []
    with WriterThread(ledger.settings, CHECKS), LedgerClient(ledger.settings) as client:
        client.connect()  # the producer's and ClickHouse's first connections, not timed
        seen: dict[str, int] = {}
        for i in range(200):
            record = f"seq-{i % 20:02d}"
            change = new_change("t", record, "comment", "op", seen.get(record, 0),
                                {"i": i, "text": f"第 {i} 条"}, "test")
            started = time.perf_counter()
            reply = client.submit(change)
            latencies.append((time.perf_counter() - started) * 1000)
            assert reply.outcome == APPENDED, reply
            assert reply.seq == seen.get(record, 0) + 1
            seen[record] = reply.seq
        with ledger.ch() as ch:
            got = queries.histories(ch, "t", seen)
            assert queries.last_seqs(ch, "t", seen) == dict.fromkeys(seen, 10)
    assert set(got) == {f"seq-{r:02d}" for r in range(20)}
    for record, events in got.items():
        assert [e.seq for e in events] == list(range(1, 11)), record
        n = int(record.split("-")[1])
        assert [e.payload["i"] for e in events] == list(range(n, 200, 20))
    assert ledger.count("SELECT count() FROM ledger_events") == 200
    assert ledger.count("SELECT count() FROM ledger_replies") == 200
    print(f"\n[ledger] submit -> reply, 200 in sequence: p50 {pct(latencies, 0.5):.1f} ms, "
          f"p99 {pct(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms")


def test_a_streams_rule_refuses_and_an_unknown_stream_is_refused(ledger: Ledger) -> None:
    with WriterThread(ledger.settings, CHECKS), LedgerClient(ledger.settings) as client:
        reply = client.submit(new_change("deny", "r1", "ack", "op", 0, {}, "test"))
        assert (reply.outcome, reply.seq, reply.message) == (REFUSED, 0, REFUSAL)
        reply = client.submit(new_change("no_such_stream", "r1", "ack", "op", 0, {}, "test"))
        assert reply.outcome == REFUSED and "'no_such_stream'" in reply.message
        # a refusal changes nothing: the next change still expects 0
        assert client.submit(new_change("t", "r1", "ack", "op", 0)).outcome == APPENDED
        with ledger.ch() as ch:
            assert queries.history(ch, "deny", "r1") == []
        assert client.reply("never-sent") is None


def test_no_writer_means_pending_then_answered_when_it_starts(ledger: Ledger) -> None:
    asyncio.run(ensure_topic(ledger.settings))
    with LedgerClient(ledger.settings) as client:
        change = new_change("t", "late", "ack", "op", 0)
        reply = client.submit(change, wait_s=0.5)
        assert reply.outcome == PENDING and "已排队" in reply.message
        with WriterThread(ledger.settings, CHECKS):
            later = client.wait(change.request_id, 30)
        assert (later.outcome, later.seq) == (APPENDED, 1)


def _ledger_proc(ledger: Ledger, log: Path) -> subprocess.Popen[bytes]:
    fh = log.open("ab")
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("hj212")), "ledger", "--batch-max", "50",
         "--extra-stream", "t=pipeline.ledger.rules:accept_any"],
        env=ledger.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def test_kill_9_mid_stream_then_restart_answers_every_change_once(ledger: Ledger,
                                                                  tmp_path: Path) -> None:
    records, per_record = 30, 100
    changes = chain("t", records, per_record, "k")
    asyncio.run(ensure_topic(ledger.settings))
    asyncio.run(_produce(ledger.settings.kafka.servers, ledger.settings.topics.ledger,
                         changes))
    log = tmp_path / "ledger.log"
    proc = _ledger_proc(ledger, log)
    try:
        wait_for("some replies", lambda: ledger.count(
            "SELECT count() FROM ledger_replies") >= 300, 60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        with ledger.ch() as ch:
            before = {r["request_id"]: (r["outcome"], r["seq"], r["message"])
                      for r in ch.query_dicts("SELECT request_id, outcome, seq, message "
                                              "FROM ledger_replies")}
        assert 300 <= len(before) < len(changes), "the kill did not land mid-stream"
        proc = _ledger_proc(ledger, log)
        wait_for("every change answered", lambda: ledger.count(
            "SELECT uniqExact(request_id) FROM ledger_replies") == len(changes), 120)
        time.sleep(1.0)  # anything written twice would land now
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    with ledger.ch() as ch:
        # one event per change, numbered 1..per_record per record
        assert ch.execute("SELECT count(), uniqExact(request_id), uniqExact(record_id, seq) "
                          "FROM ledger_events")[0] == (len(changes),) * 3, tail
        seqs = ch.execute("SELECT record_id, groupArray(seq) FROM "
                          "(SELECT record_id, seq FROM ledger_events ORDER BY record_id, seq) "
                          "GROUP BY record_id")
        assert len(seqs) == records
        assert all(list(s) == list(range(1, per_record + 1)) for _, s in seqs)
        # one answer per change, the same however often it was written
        assert ch.execute("SELECT count() FROM (SELECT request_id FROM ledger_replies "
                          "GROUP BY request_id HAVING uniqExact(outcome, seq, message) > 1)"
                          )[0][0] == 0
        after = {r["request_id"]: (r["outcome"], r["seq"], r["message"])
                 for r in ch.query_dicts("SELECT request_id, outcome, seq, message "
                                         "FROM ledger_replies")}
    assert {rid: after[rid] for rid in before} == before
    want = {c.request_id: (APPENDED, c.expected_seq + 1, "") for c in changes}
    assert after == want
    stops = [json.loads(line) for line in log.read_text(errors="replace").splitlines()
             if '"writer.stop"' in line]
    replayed = stops[-1].get("replayed", 0) if stops else "?"
    print(f"\n[ledger] kill -9 after {len(before)} of {len(changes)} answered; the restart "
          f"answered the rest ({replayed} of them replays of answers written before the "
          "kill), every one once")


def test_throughput_on_a_backlog(ledger: Ledger) -> None:
    n_records, per_record = 500, 20
    changes = chain("t", n_records, per_record, "b")
    asyncio.run(ensure_topic(ledger.settings))
    asyncio.run(_produce(ledger.settings.kafka.servers, ledger.settings.topics.ledger,
                         changes))
    with WriterThread(ledger.settings, CHECKS):
        wait_for("the backlog answered", lambda: ledger.count(
            "SELECT count() FROM ledger_replies") >= len(changes), 180)
    with ledger.ch() as ch:
        first, last, n = ch.execute("SELECT min(at_ms), max(at_ms), count() "
                                    "FROM ledger_replies")[0]
        appended = ch.execute("SELECT countIf(outcome = 'appended') FROM ledger_replies")[0][0]
    assert n == appended == len(changes)
    rate = n / max((last - first) / 1000, 0.001)
    print(f"\n[ledger] backlog of {n} changes over {n_records} records: "
          f"{rate:,.0f} changes/s through the writer")
    assert rate > 200  # a floor far below what it does, to catch a per-change round trip


def test_latency_with_concurrent_submitters(ledger: Ledger) -> None:
    """Eight submitters, each on its own records, 50 changes each."""
    latencies: list[float] = []
    lock = threading.Lock()
    with WriterThread(ledger.settings, CHECKS), LedgerClient(ledger.settings) as client:
        client.connect()

        def run(worker: int) -> None:
            seqs: dict[str, int] = {}
            for i in range(50):
                record = f"c{worker}-{i % 5}"
                change = new_change("t", record, "comment", "op", seqs.get(record, 0),
                                    {"i": i}, "test")
                started = time.perf_counter()
                reply = client.submit(change)
                took = (time.perf_counter() - started) * 1000
                assert reply.outcome == APPENDED, reply
                seqs[record] = reply.seq
                with lock:
                    latencies.append(took)

        threads = [threading.Thread(target=run, args=(w,)) for w in range(8)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    assert len(latencies) == 400
    print(f"\n[ledger] 8 concurrent submitters, 400 changes in {elapsed:.1f} s: "
          f"p50 {pct(latencies, 0.5):.1f} ms, p99 {pct(latencies, 0.99):.1f} ms, "
          f"mean {statistics.fmean(latencies):.1f} ms")
