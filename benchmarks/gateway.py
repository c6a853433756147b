"""Gateway benchmark: one `hj212 gateway` process against the real local Kafka.

1. Load: N concurrent loopback connections (default 2,000), one MN each, every one
   sending real-time uploads (Flag=5, six pollutants) with a window of W unanswered
   frames. Measured: frames/s accepted + answered (answers are only sent after the spool
   fsync), frames/s published (Kafka acknowledged, from the gateway's metrics), and the
   ack latency (send -> answer) p50/p99.
2. Idle: 10,000 connections that each sent one frame and then stay silent; measured: the
   gateway process's RSS.

The load client runs in this process (uvloop) and competes for the same 2 cores as the
gateway and the Kafka broker, so the numbers are a floor for a gateway with its own
machine. Results go to benchmarks/results/gateway.json.

    python benchmarks/gateway.py [--connections 2000] [--seconds 20] [--window 4]
                                 [--idle 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import hj212
import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "gateway.json"
PW = "123456"


def raise_nofile(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = min(max(soft, want), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mn_of(i: int) -> str:
    return f"BE{i:022d}"


def frame_for(i: int, n: int) -> bytes:
    cp = (f"DataTime=202401011200{n % 60:02d};w01018-Rtd={n % 97}.5,w01018-Flag=N;"
          "w21003-Rtd=1.25,w21003-Flag=N;w21011-Rtd=0.31,w21011-Flag=N;"
          "w21001-Rtd=12.4,w21001-Flag=N;w01001-Rtd=7.12,w01001-Flag=N;"
          "w00000-Rtd=35.2,w00000-Flag=N")
    return hj212.encode(cn=2011, st=32, mn=mn_of(i), pw=PW, qn=f"2024{i:04d}{n:09d}"[-17:],
                        flag=5, cp=cp)


async def create_topics(bootstrap: str, frames: str, rejects: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(frames, 6, 1), NewTopic(rejects, 2, 1)])
    finally:
        await admin.close()


def metrics(port: int) -> dict[str, float]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    out: dict[str, float] = {}
    for line in data.split(b"\r\n\r\n", 1)[1].decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def published(m: dict[str, float]) -> float:
    return sum(v for k, v in m.items() if k.startswith("hj212_gateway_published_total"))


async def load_client(port: int, index: int, window: int, stop_at: float,
                      lat: list[float], counts: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    frames = [frame_for(index, k) for k in range(64)]  # reused: the gateway does not dedupe
    try:
        while time.perf_counter() < stop_at:
            burst = b"".join(frames[(n + k) % 64] for k in range(window))
            t0 = time.perf_counter()
            writer.write(burst)
            got = 0
            while got < window:
                data = await reader.readuntil(b"\r\n")
                got += 1
                if not data.startswith(b"##"):
                    raise RuntimeError(f"not an answer: {data[:60]!r}")
            dt = time.perf_counter() - t0
            lat.append(dt)
            n += window
        counts.append(n)
    finally:
        writer.close()


async def run_load(port: int, connections: int, seconds: float, window: int
                   ) -> dict[str, Any]:
    lat: list[float] = []
    counts: list[int] = []
    # connect in waves: a 2,000-connection SYN burst overflows the accept backlog
    stop_at = time.perf_counter() + 3600
    tasks = []
    for i in range(connections):
        tasks.append(asyncio.create_task(load_client(port, i, window, stop_at, lat, counts)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)
    await asyncio.sleep(2.0)  # warm-up: every connection busy
    lat.clear()
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    samples = len(lat)  # each sample is one answered window
    elapsed = time.perf_counter() - t0
    for t in tasks:
        t.cancel()
    errors = [r for r in await asyncio.gather(*tasks, return_exceptions=True)
              if isinstance(r, Exception) and not isinstance(r, asyncio.CancelledError)]
    if errors:
        print(f"[bench] {len(errors)} client errors, e.g. {errors[0]!r}", flush=True)
    answered = samples * window
    lat_sorted = sorted(lat[:samples])
    def pct(p: float) -> float:
        return round(lat_sorted[min(len(lat_sorted) - 1, int(p * len(lat_sorted)))] * 1e3, 2)
    return {"connections": connections, "window": window, "seconds": round(elapsed, 2),
            "answered": answered, "answered_per_s": round(answered / elapsed),
            "ack_latency_ms_p50": pct(0.50), "ack_latency_ms_p99": pct(0.99),
            "ack_latency_ms_max": round(lat_sorted[-1] * 1e3, 2) if lat_sorted else None}


async def run_idle(port: int, n: int) -> list[Any]:
    conns = []
    for i in range(n):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(frame_for(i, 0))
        conns.append((r, w))
        if i % 500 == 499:
            await asyncio.sleep(0.05)
    for r, _ in conns:
        await asyncio.wait_for(r.readuntil(b"\r\n"), 30)
    return conns


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--window", type=int, default=4)
    ap.add_argument("--idle", type=int, default=10_000)
    ap.add_argument("--fsync-interval", type=float, default=0.0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    nofile = raise_nofile(max(args.idle, args.connections) + 1000)
    from pipeline.config import load_settings
    from pipeline.stack import up

    settings = load_settings()
    print("[bench] local stack up ...", flush=True)
    up(settings)
    tag = uuid.uuid4().hex[:6]
    frames_topic, rejects_topic = f"bench.gw.{tag}.frames", f"bench.gw.{tag}.rejects"
    asyncio.run(create_topics(settings.kafka.bootstrap, frames_topic, rejects_topic))

    work = Path(tempfile.mkdtemp(prefix="hj212-gw-bench-"))
    n_mn = max(args.connections, args.idle)
    csv = work / "stations.csv"
    # the gateway reads the registry's stations format, with its checks
    from pipeline.registry.csv_io import write_stations
    from pipeline.registry.model import Station

    with csv.open("w", encoding="utf-8", newline="") as fh:
        write_stations((Station(mn=mn_of(i), pw=PW, enterprise="bench", outlet="", st="32",
                                edition=2017, province="江苏", region="苏皖沪",
                                rtd_interval=30, min_interval=1) for i in range(n_mn)), fh)
    port, mport = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HJ212_")}
    env.update({
        "HJ212_LOG_FORMAT": "json", "HJ212_LOG_LEVEL": "warning",
        "HJ212_GATEWAY__PORT": str(port), "HJ212_GATEWAY__METRICS_PORT": str(mport),
        "HJ212_GATEWAY__REGISTRY_CSV": str(csv), "HJ212_GATEWAY__ID": f"bench-{tag}",
        "HJ212_GATEWAY__MAX_CONNECTIONS": str(n_mn + 100),
        "HJ212_GATEWAY__MAX_PER_IP": str(n_mn + 100),
        "HJ212_GATEWAY__FRAMES_PER_S_PER_MN": "100000",
        "HJ212_SPOOL__DIR": str(work / "spool"),
        "HJ212_SPOOL__FSYNC_INTERVAL": str(args.fsync_interval),
        "HJ212_TOPICS__FRAMES": frames_topic, "HJ212_TOPICS__REJECTS": rejects_topic,
        "HJ212_KAFKA__BOOTSTRAP": settings.kafka.bootstrap,
    })
    launcher = ("import resource, sys; s, h = resource.getrlimit(resource.RLIMIT_NOFILE); "
                f"resource.setrlimit(resource.RLIMIT_NOFILE, (min(h, {nofile}), h)); "
                "from pipeline.cli import main; sys.argv = ['hj212', 'gateway']; main()")
    log = open(work / "gateway.log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, "-c", launcher], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    gw = psutil.Process(proc.pid)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                metrics(mport)
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gateway did not start; see {work / 'gateway.log'}") from None
                time.sleep(0.2)
        rss_start = gw.memory_info().rss

        import uvloop

        print(f"[bench] load: {args.connections} connections, window {args.window}, "
              f"{args.seconds:.0f} s ...", flush=True)
        pub0 = published(metrics(mport))
        cpu0 = gw.cpu_times()
        t0 = time.perf_counter()
        load = uvloop.run(run_load(port, args.connections, args.seconds, args.window))
        cpu1 = gw.cpu_times()
        pub1 = published(metrics(mport))
        wall = time.perf_counter() - t0
        load["published_per_s_during_load"] = round((pub1 - pub0) / wall)
        # the spool must empty: everything answered also reaches Kafka
        t_drain = time.perf_counter()
        while metrics(mport).get("hj212_gateway_spool_depth_records", 0) > 0:
            if time.perf_counter() - t_drain > 120:
                break
            time.sleep(0.1)
        m = metrics(mport)
        load["spool_drained_after_s"] = round(time.perf_counter() - t_drain, 2)
        load["spool_depth_records_end"] = int(m.get("hj212_gateway_spool_depth_records", 0))
        load["published_total"] = int(published(m))
        load["gateway_cpu_s_per_s"] = round(
            (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall, 2)
        load["gateway_rss_mb_after_load"] = round(gw.memory_info().rss / 2**20, 1)
        print(f"[bench] {json.dumps(load)}", flush=True)

        idle: dict[str, Any] = {}
        if args.idle:
            print(f"[bench] idle: {args.idle} connections ...", flush=True)
            rss_before = gw.memory_info().rss

            async def hold() -> tuple[int, int]:
                conns = await run_idle(port, args.idle)
                await asyncio.sleep(2.0)
                rss = gw.memory_info().rss
                opened = int(metrics(mport).get("hj212_gateway_connections_open", 0))
                for _, w in conns:
                    w.close()
                return rss, opened

            rss_idle, opened = uvloop.run(hold())
            idle = {"connections": args.idle, "open_at_gateway": opened,
                    "gateway_rss_mb": round(rss_idle / 2**20, 1),
                    "gateway_rss_mb_before": round(rss_before / 2**20, 1),
                    "kb_per_connection": round((rss_idle - rss_before) / args.idle / 1024, 1)}
            print(f"[bench] {json.dumps(idle)}", flush=True)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    result = {
        "benchmark": "gateway", "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                    "python": platform.python_version(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "settings": {"fsync_interval": args.fsync_interval, "window": args.window,
                     "event_loop": "uvloop", "kafka": "local single node, same machine"},
        "gateway_rss_mb_start": round(rss_start / 2**20, 1),
        "load": load, "idle": idle,
        "targets": {"answered_per_s": 100_000, "ack_latency_ms_p99": 50,
                    "idle_10k_rss_mb": 1024},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[bench] written {args.out}")


if __name__ == "__main__":
    main()
