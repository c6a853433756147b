"""End-to-end benchmark of the spine on the real local Kafka and ClickHouse.

The load is recorded fleet traffic (``fleet_frames.py``): the sample registry's stations,
their daily profiles, real-time, minute, hourly and daily data in their editions.

1. Drain: the frames, enveloped as the gateway does, are put on a fresh frames topic;
   then one ``hj212 worker`` drains it, once storing only (``--detectors none``) and once
   with the full station detector. Measured from the first stored frame to the last.
2. Spine: ``hj212 gateway`` and ``hj212 worker`` as processes; a load client holds one
   TCP connection per station and replays the traffic at ``--rate`` frames/s for
   ``--seconds``, reading the answers. Beside it, ``--probes`` further stations send
   minute data on a cycle of one negative value then clean values, so that each cycle
   opens and clears one alarm episode. Measured:
   * frames stored per second in ClickHouse over the steady part (after a warm-up)
     against the rate offered, the worker's lag when the load stops and how long it
     takes to drain;
   * frame sent -> its reading visible in ClickHouse (probe rows polled every 50 ms);
   * frame sent -> its alarm published on the alarms topic (read by a consumer);
   * CPU seconds per process kind over the steady part.

Everything shares the machine's 2 cores, the load client included, so the figures are a
floor. Results go to benchmarks/results/e2e.json.

    python benchmarks/e2e.py [--drain-frames 100000] [--rates 2000,6000,10000]
                             [--seconds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import hj212
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402
from fleet_frames import fleet, record  # noqa: E402

from pipeline.config import load_settings  # noqa: E402
from pipeline.gateway import envelope  # noqa: E402
from pipeline.store.client import ClickHouse  # noqa: E402
from pipeline.store.migrate import Migrator  # noqa: E402
from pipeline.timebase import local_from_unix, stamp, unix_from_local  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "e2e.json"
HJ212 = Path(sys.executable).parent / "hj212"
REGISTRY_CSV = ROOT / "pipeline" / "registry" / "data" / "stations.csv"
FRAMES_PARTITIONS = 6
# the recorded data starts here; the worker runs on the data clock (--clock data)
DATA_START = datetime(2026, 11, 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_of(pattern: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout
    return [int(x) for x in out.split()]


class Bench:
    """One run's own topics and database, and its processes' environment."""

    def __init__(self, tag: str, tmp: Path) -> None:
        self.settings = load_settings()
        self.bootstrap = self.settings.kafka.servers
        self.tag = tag
        self.tmp = tmp
        self.topics = {k: f"bench.e2e.{tag}.{k}" for k in ("frames", "rejects", "alarms",
                                                          "commands")}
        parts = urlsplit(self.settings.clickhouse.dsn)
        self.dsn = urlunsplit(parts._replace(path=f"/hj212_bench_{tag}"))
        self.state_topics: list[str] = []
        #: extra `hj212 worker` options (--worker-args)
        self.worker_args: list[str] = []

    async def setup(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topics["frames"], FRAMES_PARTITIONS, 1),
                                       NewTopic(self.topics["rejects"], 2, 1),
                                       NewTopic(self.topics["alarms"], 2, 1),
                                       NewTopic(self.topics["commands"], 2, 1)])
        finally:
            await admin.close()

    def fresh_db(self) -> None:
        self.drop_db()
        Migrator(self.dsn).migrate()
        # the registry: limits and cadences for the detectors
        subprocess.run([str(HJ212), "stations", "sample"], env=self.env(), check=True,
                       stdout=subprocess.DEVNULL)

    def drop_db(self) -> None:
        with ClickHouse(self.dsn, database="default") as ch:
            ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")

    def count(self, sql: str) -> int:
        with ClickHouse(self.dsn) as ch:
            return int(ch.execute(sql)[0][0])

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HJ212_")}
        env.update({"HJ212_CLICKHOUSE__DSN": self.dsn, "HJ212_LOG_FORMAT": "json",
                    "HJ212_KAFKA__BOOTSTRAP": self.bootstrap,
                    "HJ212_RUN_DIR": str(self.tmp / "run"),
                    **{f"HJ212_TOPICS__{k.upper()}": v for k, v in self.topics.items()},
                    **extra})
        return env

    def worker(self, app_id: str, detectors: str) -> subprocess.Popen[bytes]:
        self.state_topics.append(f"{app_id}-station-state")
        log = self.tmp / f"worker-{app_id}.log"
        return subprocess.Popen([str(HJ212), "worker", "--app-id", app_id, "--detectors",
                                 detectors, "--clock", "data", *self.worker_args],
                                env=self.env(), stdout=log.open("wb"), stderr=subprocess.STDOUT)

    def gateway(self, port: int, metrics_port: int) -> subprocess.Popen[bytes]:
        env = self.env(HJ212_GATEWAY__METRICS_PORT=str(metrics_port),
                       HJ212_SPOOL__DIR=str(self.tmp / "spool"),
                       # one station sends about rate/stations frames a second here
                       HJ212_GATEWAY__FRAMES_PER_S_PER_MN="1000",
                       **{k: v for k, v in os.environ.items()
                          if k.startswith(("HJ212_SPOOL__", "HJ212_GATEWAY__"))})
        log = self.tmp / "gateway.log"
        return subprocess.Popen([str(HJ212), "gateway", "--port", str(port),
                                 "--registry-csv", str(REGISTRY_CSV)],
                                env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)

    async def lag(self, group: str) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await admin.start()
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
            parts = [TopicPartition(self.topics["frames"], p) for p in range(FRAMES_PARTITIONS)]
            ends = await consumer.end_offsets(parts)
            return sum(end - (committed[tp].offset if tp in committed else 0)
                       for tp, end in ends.items())
        finally:
            await consumer.stop()
            await admin.close()

    async def cleanup(self) -> None:
        self.drop_db()
        # the gateway's spool (50 MB a spine run); the logs stay for a look
        shutil.rmtree(self.tmp / "spool", ignore_errors=True)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            doomed = [*self.topics.values(), *self.state_topics]
            await admin.delete_topics([n for n in doomed if n in existing])
        finally:
            await admin.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- 1. drain -----------------------------------------------------------------------------

async def produce(bootstrap: str, topic: str, traffic: list[tuple[str, bytes]]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                                max_batch_size=256 * 1024)
    await producer.start()
    try:
        now = time.time_ns()
        futs = []
        for i, (mn, chunk) in enumerate(traffic):
            futs.append(await producer.send(topic, envelope.encode(
                1, now, i, b"bench", b"127.0.0.1:1", b"", chunk), key=mn.encode()))
        await asyncio.gather(*futs)
    finally:
        await producer.stop()
    return len(traffic)


def drain(b: Bench, detectors: str, n: int) -> dict[str, Any]:
    """From the first stored frame to the last (of ``n``); then, for the record, until
    the group has committed them all (up to --commit-seconds later)."""
    b.fresh_db()
    app_id = f"bench-{b.tag}-drain-{detectors}"
    proc = b.worker(app_id, detectors)
    try:
        first = None
        while True:
            stored = b.count("SELECT count() FROM frames")
            if first is None and stored:
                first = time.monotonic()
            if stored >= n:
                break
            if proc.poll() is not None:
                raise SystemExit(f"worker exited {proc.returncode}; see {b.tmp}")
            time.sleep(0.1)
        assert first is not None
        seconds = time.monotonic() - first
        cpu = cpu_seconds(proc.pid)
        while asyncio.run(b.lag(app_id)) > 0:
            time.sleep(0.2)
        committed_after = time.monotonic() - first - seconds
    finally:
        stop(proc)
    n_frames = b.count("SELECT count() FROM frames")
    n_readings = b.count("SELECT count() FROM readings")
    out = {"detectors": detectors, "frames": n_frames, "readings": n_readings,
           "alarms": b.count("SELECT count() FROM alarms"),
           "seconds": round(seconds, 2), "frames_per_s": round(n_frames / seconds),
           "committed_after_s": round(committed_after, 2),
           "readings_per_s": round(n_readings / seconds),
           "worker_cpu_s": round(cpu, 1),
           "worker_us_per_frame": round(cpu / n_frames * 1e6, 1)}
    print(f"[bench] drain {json.dumps(out)}", flush=True)
    return out


# -- 2. the spine through the gateway ------------------------------------------------------

class Probes:
    """Stations that cycle a negative minute value, then clean ones: one alarm a cycle."""

    CLEAN = 2  # clear_after for 2051 in the default rules

    def __init__(self, stations: list[Any], start: datetime) -> None:
        self.stations = stations
        self.mns = [s.mn for s in stations]
        self.count = [0] * len(stations)
        self.base = int(unix_from_local(start))
        #: (mn, data epoch) -> wall time sent, for every probe frame and for negatives
        self.sent: dict[tuple[str, int], float] = {}
        self.negatives: dict[tuple[str, int], float] = {}
        self.order: list[tuple[str, int]] = []

    def frame(self, k: int) -> tuple[str, bytes]:
        s = self.stations[k]
        j = self.count[k]
        self.count[k] += 1
        epoch = self.base + 60 * j
        negative = j % (self.CLEAN + 1) == 0
        code = "w01018" if int(s.station.st) == 32 else "a21026"
        raw = hj212.encode(cn=2051, st=int(s.station.st), mn=s.mn, pw=s.station.pw,
                           qn=f"{int(time.time() * 1000)}"[:17].ljust(17, "0"), flag=4,
                           cp=[("DataTime", stamp(local_from_unix(epoch))),
                               (f"{code}-Min", "-6.0" if negative else "9.0"),
                               (f"{code}-Avg", "-5.0" if negative else "10.0"),
                               (f"{code}-Max", "-4.0" if negative else "11.0"),
                               (f"{code}-Flag", "N")])
        now = time.time()
        self.sent[(s.mn, epoch)] = now
        self.order.append((s.mn, epoch))
        if negative:
            self.negatives[(s.mn, epoch)] = now
        return s.mn, raw


async def replay(port: int, traffic: list[tuple[str, bytes]], probes: Probes, rate: float,
                 seconds: float, probe_hz: float, marks: dict[str, float]) -> int:
    """Send the traffic at ``rate`` frames/s (and the probes) over one connection per MN."""
    conns: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
    for mn in sorted({mn for mn, _ in traffic} | set(probes.mns)):
        conns[mn] = await asyncio.open_connection("127.0.0.1", port)

    async def discard(reader: asyncio.StreamReader) -> None:
        while await reader.read(1 << 16):
            pass

    readers = [asyncio.create_task(discard(r)) for r, _ in conns.values()]
    start = time.monotonic()
    marks["load_start"] = time.time()
    i = 0
    next_probe = start
    pk = 0
    while (elapsed := time.monotonic() - start) < seconds and i < len(traffic):
        due = min(len(traffic), int(elapsed * rate))
        while i < due:
            mn, chunk = traffic[i]
            conns[mn][1].write(chunk)
            i += 1
        while time.monotonic() >= next_probe:
            mn, raw = probes.frame(pk % len(probes.mns))
            conns[mn][1].write(raw)
            pk += 1
            next_probe += 1.0 / (probe_hz * len(probes.mns))
        await asyncio.sleep(0.002)
    marks["load_stop"] = time.time()
    await asyncio.sleep(1.0)  # the last answers
    for _, w in conns.values():
        w.close()
    for t in readers:
        t.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    return i


async def watch_alarms(b: Bench, probes: Probes, stop_evt: asyncio.Event,
                       seen: list[tuple[float, float]]) -> None:
    consumer = AIOKafkaConsumer(b.topics["alarms"], bootstrap_servers=b.bootstrap,
                                auto_offset_reset="earliest")
    await consumer.start()
    probe_mns = set(probes.mns)
    try:
        while not stop_evt.is_set():
            got = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in got.values():
                for rec in records:
                    msg = json.loads(rec.value)
                    if (msg["mn"] in probe_mns and msg["rule"] == "negative"
                            and msg["transition"] == "open"):
                        opened = datetime.fromisoformat(msg["opened_at"])
                        epoch = int(unix_from_local(opened))
                        sent = probes.negatives.get((msg["mn"], epoch))
                        if sent is not None:
                            seen.append((sent, now - sent))
    finally:
        await consumer.stop()


#: how often the probes' rows are looked for. Each look reads about 8 MB in ClickHouse
#: 18.16 (the granules of 20 MNs in every part, decompressed): every 50 ms that was a
#: quarter of a core taken from the spine it measures. Visibility is timed at the look
#: that finds a row, so latencies read up to this much high, never low.
VISIBLE_POLL_S = 0.2


async def watch_readings(b: Bench, probes: Probes, stop_evt: asyncio.Event,
                         seen: list[tuple[float, float]]) -> None:
    """Probe rows as they become visible; everything before the oldest unseen probe frame
    (in send order) is seen, so only rows from its data time on are read each time."""
    done: set[tuple[str, int]] = set()
    head = 0
    mns = ", ".join(f"'{m}'" for m in probes.mns)
    with ClickHouse(b.dsn) as ch:
        while not stop_evt.is_set():
            order = probes.order
            while head < len(order) and order[head] in done:
                head += 1
            low = order[head][1] if head < len(order) else probes.base
            # in a thread: the load client shares this event loop
            rows = await asyncio.to_thread(
                ch.execute, f"SELECT mn, toUInt32(data_time) FROM readings WHERE mn IN "
                f"({mns}) AND cn = 2051 AND data_time >= toDateTime({low})")
            now = time.time()
            for key in rows:
                t = probes.sent.get(key)
                if t is not None and key not in done:
                    done.add(key)
                    seen.append((t, now - t))
            await asyncio.sleep(VISIBLE_POLL_S)


def pct(values: list[float], p: float) -> float | None:
    return round(float(np.percentile(np.array(values) * 1000, p)), 1) if values else None


def spine(b: Bench, traffic: list[tuple[str, bytes]], probes: Probes, rate: float,
          seconds: float, warmup: float, probe_hz: float) -> dict[str, Any]:
    b.fresh_db()
    port, metrics_port = free_port(), free_port()
    gw = b.gateway(port, metrics_port)
    app_id = f"bench-{b.tag}-spine"
    wk = b.worker(app_id, "auto")
    marks: dict[str, float] = {}
    #: (sent at, latency) of each probe frame seen, and of each probe alarm
    visible: list[tuple[float, float]] = []
    alarmed: list[tuple[float, float]] = []
    counts: list[tuple[float, int]] = []
    cpu: dict[str, float] = {}
    kinds = {"gateway": [gw.pid], "worker": [wk.pid], "load client": [os.getpid()],
             "kafka": pids_of("kafka.Kafka"), "clickhouse": pids_of("clickhouse-server")}

    def cpu_now() -> dict[str, float]:
        return {k: sum(cpu_seconds(p) for p in pids) for k, pids in kinds.items()}

    async def run() -> int:
        for _ in range(100):
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.2)
        await asyncio.sleep(5)  # the worker joins its group
        stop_evt = asyncio.Event()
        watchers = [asyncio.create_task(watch_alarms(b, probes, stop_evt, alarmed)),
                    asyncio.create_task(watch_readings(b, probes, stop_evt, visible))]

        async def sample() -> None:
            with ClickHouse(b.dsn) as ch:
                while not stop_evt.is_set():
                    t = time.time()
                    got = await asyncio.to_thread(ch.execute, "SELECT count() FROM frames")
                    counts.append((t, int(got[0][0])))
                    if "load_start" in marks and "cpu0" not in marks \
                            and t >= marks["load_start"] + warmup:
                        marks["cpu0"] = t
                        cpu.update({f"{k}@0": v for k, v in cpu_now().items()})
                    await asyncio.sleep(1.0)

        sampler = asyncio.create_task(sample())
        sent = await replay(port, traffic, probes, rate, seconds, probe_hz, marks)
        cpu.update({f"{k}@1": v for k, v in cpu_now().items()})
        marks["cpu1"] = time.time()
        marks["lag_at_stop"] = await b.lag(app_id)
        while await b.lag(app_id) > 0 and time.time() - marks["load_stop"] < 300:
            await asyncio.sleep(0.5)
        marks["drained"] = time.time()
        await asyncio.sleep(2.0)  # the last probe rows and alarms
        stop_evt.set()
        await asyncio.gather(*watchers, sampler)
        return sent

    try:
        sent = _run_fast(run())
    finally:
        stop(gw)
        stop(wk)
    t0, t1 = marks["load_start"] + warmup, marks["load_stop"]

    def steady_of(samples: list[tuple[float, float]]) -> list[float]:
        return [lat for sent_at, lat in samples if t0 <= sent_at <= t1]

    steady = [(t, n) for t, n in counts if t0 <= t <= t1]
    stored_rate = ((steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
                   if len(steady) >= 2 else None)
    span = marks["cpu1"] - marks["cpu0"]
    out = {
        "rate_offered_per_s": rate, "seconds": seconds, "warmup_s": warmup,
        "frames_sent": sent + len(probes.order),
        "frames_stored": b.count("SELECT count() FROM frames"),
        "stored_per_s_steady": round(stored_rate) if stored_rate else None,
        "worker_lag_at_stop": marks["lag_at_stop"],
        "drain_after_stop_s": round(marks["drained"] - marks["load_stop"], 1),
        "probe_frames": len(probes.order), "probe_visible": len(visible),
        "probe_alarms_expected": len(probes.negatives), "probe_alarms_seen": len(alarmed),
        # latencies of what was sent after the warm-up, as the stored rate
        "visible_p50_ms": pct(steady_of(visible), 50),
        "visible_p99_ms": pct(steady_of(visible), 99),
        "alarm_p50_ms": pct(steady_of(alarmed), 50),
        "alarm_p99_ms": pct(steady_of(alarmed), 99),
        "alarm_p99_ms_all": pct([lat for _, lat in alarmed], 99),
        "cores_used_steady": {k: round((cpu[f"{k}@1"] - cpu[f"{k}@0"]) / span, 2)
                              for k in kinds},
        "alarms_total": b.count("SELECT count() FROM alarms"),
    }
    # the latencies in send order and the stored count over time, to line a slow spell
    # up with the worker's and ClickHouse's logs (system.part_log)
    series = {"visible": sorted(visible), "alarm": sorted(alarmed), "stored": counts,
              "marks": marks}
    (b.tmp / f"series-{b.tag}-{int(rate)}.json").write_text(json.dumps(series))
    print(f"[bench] spine {json.dumps(out)}", flush=True)
    return out


def _run_fast(coro: Any) -> Any:
    """The load client on uvloop when it is there (as the gateway runs): the client
    shares the 2 cores with what it measures, so its own cost is kept down."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drain-frames", type=int, default=100_000,
                    help="frames for the drain runs (0: skip them)")
    ap.add_argument("--stations", type=int, default=288,
                    help="stations replaying fleet traffic (with the probes, at most the "
                         "308 the sample registry can simulate)")
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--probe-hz", type=float, default=2.0,
                    help="frames a second per probe station")
    ap.add_argument("--rates", default="2000,6000,10000",
                    help="offered frames/s of the spine runs, one run each")
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--worker-args", default="",
                    help="extra hj212 worker options, e.g. '--commit-seconds 5'")
    ap.add_argument("--keep", action="store_true",
                    help="keep the run's databases and topics (to look into them)")
    args = ap.parse_args()
    tag = uuid.uuid4().hex[:8]
    tmp = Path(f"/tmp/hj212-bench-e2e-{tag}")
    tmp.mkdir(parents=True)
    everyone = fleet(args.stations + args.probes)
    stations, probe_stations = everyone[:args.stations], everyone[args.stations:]
    rates = [float(r) for r in args.rates.split(",") if r]
    want = max(args.drain_frames, int(max(rates, default=0) * args.seconds))
    print(f"[bench] recording {want} frames of {len(stations)} stations", flush=True)
    traffic = record(stations, want, DATA_START)
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "load": {"stations": len(stations), "frames_recorded": len(traffic),
                 "bytes_per_frame": round(sum(len(c) for _, c in traffic) / len(traffic))},
    }
    if args.drain_frames:
        b = Bench(tag, tmp)
        b.worker_args = args.worker_args.split()
        asyncio.run(b.setup())
        asyncio.run(produce(b.bootstrap, b.topics["frames"], traffic[:args.drain_frames]))
        try:
            results["drain"] = [drain(b, d, args.drain_frames) for d in ("none", "auto")]
        finally:
            if not args.keep:
                asyncio.run(b.cleanup())
    results["spine"] = []
    for rate in rates:
        s = Bench(uuid.uuid4().hex[:8], tmp)
        s.worker_args = args.worker_args.split()
        asyncio.run(s.setup())
        try:
            results["spine"].append(spine(s, traffic, Probes(probe_stations, DATA_START),
                                          rate, args.seconds, args.warmup, args.probe_hz))
        finally:
            if not args.keep:
                asyncio.run(s.cleanup())
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"[bench] wrote {args.out}; logs in {tmp}")


if __name__ == "__main__":
    main()
