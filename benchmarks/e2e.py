"""Stream worker benchmark: one `hj212 worker` process against the real local Kafka and
ClickHouse.

1. Throughput: N corpus frames (default 100,000; real-time, minute, hourly and daily data,
   2 % damaged) are enveloped as the gateway does and put on a fresh frames topic first;
   then one worker drains it. Measured from the first stored row to the consumer group's
   last commit: frames/s and readings/s, once with no detection (the sink path) and once
   with the full StationDetector.
2. Latency: with a worker running (full detection), frames are produced at a steady rate
   with the envelope's receive time set at send; a poller reads the new rows of
   ``readings`` every 50 ms. Measured: send -> reading visible in ClickHouse, p50/p99
   (resolution: the poll interval).

The worker, the broker, the server and this client share the machine's 2 cores, so the
numbers are a floor. Results go to benchmarks/results/e2e.json.

    python benchmarks/e2e.py [--frames 100000] [--rate 2000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import hj212
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from pipeline.config import load_settings  # noqa: E402
from pipeline.gateway import envelope  # noqa: E402
from pipeline.simulator.corpus import Corpus  # noqa: E402
from pipeline.stack.kafka import bootstrap_servers  # noqa: E402
from pipeline.store.client import ClickHouse  # noqa: E402
from pipeline.store.migrate import Migrator  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "e2e.json"
HJ212 = Path(sys.executable).parent / "hj212"


class Bench:
    def __init__(self, tag: str) -> None:
        self.settings = load_settings()
        self.bootstrap = bootstrap_servers(self.settings)
        self.tag = tag
        self.topics = {k: f"bench.e2e.{tag}.{k}" for k in ("frames", "rejects", "alarms",
                                                          "commands")}
        parts = urlsplit(self.settings.clickhouse.dsn)
        self.dsn = urlunsplit(parts._replace(path=f"/hj212_bench_{tag}"))

    async def setup(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topics["frames"], 6, 1),
                                       NewTopic(self.topics["rejects"], 2, 1),
                                       NewTopic(self.topics["alarms"], 2, 1),
                                       NewTopic(self.topics["commands"], 2, 1)])
        finally:
            await admin.close()

    def fresh_db(self) -> None:
        with ClickHouse(self.dsn, database="default") as ch:
            ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")
        Migrator(self.dsn).migrate()

    def drop_db(self) -> None:
        with ClickHouse(self.dsn, database="default") as ch:
            ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")

    def count(self, sql: str) -> int:
        with ClickHouse(self.dsn) as ch:
            return int(ch.execute(sql)[0][0])

    def worker(self, app_id: str, detectors: str, log: Path) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HJ212_")}
        env.update({"HJ212_CLICKHOUSE__DSN": self.dsn, "HJ212_LOG_FORMAT": "json",
                    "HJ212_KAFKA__BOOTSTRAP": self.bootstrap,
                    **{f"HJ212_TOPICS__{k.upper()}": v for k, v in self.topics.items()}})
        return subprocess.Popen([str(HJ212), "worker", "--app-id", app_id,
                                 "--detectors", detectors],
                                env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    async def lag(self, group: str) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await admin.start()
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
            parts = [TopicPartition(self.topics["frames"], p) for p in range(6)]
            ends = await consumer.end_offsets(parts)
            return sum(end - (committed[tp].offset if tp in committed else 0)
                       for tp, end in ends.items())
        finally:
            await consumer.stop()
            await admin.close()


async def delete_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        await admin.delete_topics([n for n in names if n in existing])
    finally:
        await admin.close()


def corpus(n: int) -> list[tuple[bytes, bytes]]:
    raws = Corpus(7, stations=300, error_rate=0.02).frames(n)
    mns = hj212.decode_batch(raws).columns["frame_mn"].tolist()
    return [(mn or b"unknown", raw) for mn, raw in zip(mns, raws, strict=True)]


async def produce(bootstrap: str, topic: str, frames: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        now = time.time_ns()
        futs = [await producer.send(topic, envelope.encode(1, now, i, b"bench", b"127.0.0.1:1",
                                                           b"", raw), key=mn)
                for i, (mn, raw) in enumerate(frames)]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


def throughput(b: Bench, frames: list[tuple[bytes, bytes]], detectors: str,
               tmp: Path) -> dict[str, Any]:
    b.fresh_db()
    app_id = f"bench-{b.tag}-{detectors}"
    proc = b.worker(app_id, detectors, tmp / f"worker-{detectors}.log")
    try:
        first = None
        while True:
            rows = b.count("SELECT count() FROM frames")
            if rows and first is None:
                first = time.monotonic()
            if first is not None and asyncio.run(b.lag(app_id)) == 0:
                break
            if proc.poll() is not None:
                raise SystemExit(f"worker exited {proc.returncode}; see {tmp}")
            time.sleep(0.2)
        seconds = time.monotonic() - first
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    n_frames = b.count("SELECT count() FROM frames")
    n_readings = b.count("SELECT count() FROM readings")
    out = {"detectors": detectors, "frames": n_frames, "readings": n_readings,
           "seconds": round(seconds, 2), "frames_per_s": round(n_frames / seconds),
           "readings_per_s": round(n_readings / seconds)}
    print(f"[bench] throughput {json.dumps(out)}", flush=True)
    return out


def latency(b: Bench, rate: float, seconds: float, tmp: Path) -> dict[str, Any]:
    b.fresh_db()
    app_id = f"bench-{b.tag}-latency"
    proc = b.worker(app_id, "auto", tmp / "worker-latency.log")
    sent: dict[tuple[str, int], float] = {}
    sent_order: list[tuple[str, int]] = []
    seen: list[float] = []

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=b.bootstrap, acks="all", linger_ms=2)
        await producer.start()
        await asyncio.sleep(5)  # the worker joins its group
        stop = asyncio.Event()
        stopped_at = [0.0]

        async def poll() -> None:
            # frames are sent in data-time order, so everything before the first unseen
            # one is seen: only rows from its data time on are read back each time
            order = sent_order
            done: set[tuple[str, int]] = set()
            head = 0
            with ClickHouse(b.dsn) as ch:
                while True:
                    while head < len(order) and order[head] in done:
                        head += 1
                    if stop.is_set() and head >= len(order):
                        break
                    if stop.is_set() and time.time() - stopped_at[0] > 30:
                        break
                    low = order[head][1] if head < len(order) else 0
                    rows = ch.execute(
                        "SELECT mn, toUInt32(data_time) FROM readings WHERE code = 'w01018' "
                        f"AND data_time >= toDateTime({low})")
                    now = time.time()
                    for key in rows:
                        t = sent.get(key)
                        if t is not None and key not in done:
                            done.add(key)
                            seen.append(now - t)
                    await asyncio.sleep(0.05)

        poller = asyncio.create_task(poll())
        base = 1_700_000_000
        start = time.time()
        end = start + seconds
        i = 0
        while time.time() < end:
            due = int((time.time() - start) * rate)
            while i < due:
                mn = f"BE{int(b.tag[:6], 16):06X}{i % 500:016X}"
                dt = base + 60 * (i // 500)
                raw = hj212.encode(cn=2051, st=32, mn=mn, pw="123456", qn=f"{i:017d}", flag=4,
                                   cp=[("DataTime", time.strftime("%Y%m%d%H%M%S",
                                                                  time.gmtime(dt + 8 * 3600))),
                                       ("w01018-Avg", "1.0")])
                sent[(mn, dt)] = time.time()
                sent_order.append((mn, dt))
                await producer.send(b.topics["frames"], envelope.encode(
                    1, time.time_ns(), i, b"bench", b"127.0.0.1:1", b"", raw), key=mn.encode())
                i += 1
            await asyncio.sleep(0.005)
        await producer.flush()
        stopped_at[0] = time.time()
        stop.set()
        await poller
        await producer.stop()

    try:
        asyncio.run(run())
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    lat = np.array(seen) * 1000
    out = {"rate_per_s": rate, "seconds": seconds, "frames": len(sent), "visible": len(seen),
           "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
           "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None}
    print(f"[bench] latency {json.dumps(out)}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    tag = uuid.uuid4().hex[:8]
    tmp = Path(f"/tmp/hj212-bench-e2e-{tag}")
    tmp.mkdir(parents=True)
    b = Bench(tag)
    asyncio.run(b.setup())
    print(f"[bench] producing {args.frames} corpus frames to {b.topics['frames']}", flush=True)
    frames = corpus(args.frames)
    asyncio.run(produce(b.bootstrap, b.topics["frames"], frames))
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "throughput": [throughput(b, frames, d, tmp) for d in ("none", "auto")],
    }
    lat_b = Bench(uuid.uuid4().hex[:8])
    asyncio.run(lat_b.setup())
    results["latency"] = latency(lat_b, args.rate, args.seconds, tmp)
    b.drop_db()
    lat_b.drop_db()
    doomed = [*b.topics.values(), *lat_b.topics.values(),
              *(f"bench-{b.tag}-{d}-station-state" for d in ("none", "auto")),
              f"bench-{lat_b.tag}-latency-station-state"]
    asyncio.run(delete_topics(b.bootstrap, doomed))
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"[bench] wrote {args.out}; worker logs in {tmp}")


if __name__ == "__main__":
    main()
