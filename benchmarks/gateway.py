"""Gateway benchmark: `hj212 gateway` alone against the real local Kafka, loaded by a Rust
load generator (benchmarks/loadgen, built here on demand; not a workspace member).

The load generator opens N connections (default 2,000), one MN each, and sends pre-encoded
real-time uploads (Flag=5, six pollutants) with one frame in flight per connection, as
loggers do, timing every answer (send -> 9014). Runs, each `--seconds` after a 2 s warm-up:

0. ceiling: the same load against a server that only answers (uvloop, no framing, spool or
   Kafka): what one Python process's sockets allow on this machine right now; and the
   floor: the same load against `gateway-floor` (benchmarks/loadgen/src/bin), the gateway's
   per-frame work (framing, checks, envelope, spool record, group fdatasync, answer after
   it) all in Rust with as many threads as gateway processes, no Kafka, no Python;
1. as fast as possible: the sustainable rate (answers only follow the spool's fsync);
2. set rates (`--rates`, default 10 k, 25 k, 50 k frames/s offered): ack p50/p90/p99/max;
3. twice the sustainable rate: the longest time without any answer (`stall_max_ms`), and
   whether publishing keeps up (published frames/s, spool growth, the longest time the
   published counter stood still while the spool held records);
4. a window of `--window` frames in flight (the old benchmark's shape);
5. 10,000 idle connections: the gateway's RSS.
For each: the gateway's CPU (cores, and us per accepted frame), the load generator's, and
the whole machine's busy cores (the 2 cores are shared with Kafka and anything else).

`--in-process ROUNDS` measures only the gateway's own per-frame cost (sessions over fake
transports, a real spool, no sockets, no Kafka; `--cprofile FILE` adds a profile).
`--floor THREADS` runs only the floor (no stack needed). `--io asyncio` measures the gateway
with asyncio's transports instead of the Rust front end (`gateway.io`).
`--processes N` runs N gateway processes on the port (SO_REUSEPORT). `--py-spy FILE`
records the gateway during run 1 (py-spy must be installed). Results go to
benchmarks/results/gateway.json (`--out`; the README's tables: gateway-rust*.json for the
Rust front end, gateway.json and gateway-2proc.json for asyncio).

    python benchmarks/gateway.py [--connections 2000] [--seconds 10] [--rates 10000,...]
                                 [--window 4] [--processes 1] [--idle 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shutil
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


def free_run(n: int) -> list[int]:
    """``n`` consecutive free ports (the gateway's processes take metrics_port + i)."""
    for _ in range(100):
        base = free_port()
        if base + n > 65535:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + n):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return list(range(base, base + n))
        except OSError:
            continue
    raise SystemExit(f"no {n} consecutive free ports found")


def mn_of(i: int) -> str:
    return f"BE{i:022d}"


def frame_for(i: int, n: int) -> bytes:
    cp = (f"DataTime=202401011200{n % 60:02d};w01018-Rtd={n % 97}.5,w01018-Flag=N;"
          "w21003-Rtd=1.25,w21003-Flag=N;w21011-Rtd=0.31,w21011-Flag=N;"
          "w21001-Rtd=12.4,w21001-Flag=N;w01001-Rtd=7.12,w01001-Flag=N;"
          "w00000-Rtd=35.2,w00000-Flag=N")
    # a real time as QN (the logger's send time), as loggers send: a QN that is no time is
    # a deviation, and a frame with a warning leaves the codec's fast path
    qn = f"2024010112{n // 60 % 60:02d}{n % 60:02d}{i % 1000:03d}"
    return hj212.encode(cn=2011, st=32, mn=mn_of(i), pw=PW, qn=qn, flag=5, cp=cp)


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


LOADGEN_DIR = ROOT / "benchmarks" / "loadgen"
LOADGEN_TARGET = ROOT / "target" / "loadgen"
LOADGEN = LOADGEN_TARGET / "release" / "hj212-loadgen"
#: the gateway's per-frame work in Rust alone (see floor_run)
FLOOR = LOADGEN_TARGET / "release" / "gateway-floor"


def build_loadgen() -> Path:
    """Build the Rust load generator (not a workspace member: CI does not build it)."""
    print("[bench] cargo build --release benchmarks/loadgen ...", flush=True)
    subprocess.run(["cargo", "build", "--release", "--quiet",
                    "--manifest-path", str(LOADGEN_DIR / "Cargo.toml"),
                    "--target-dir", str(LOADGEN_TARGET)], check=True, cwd=ROOT)
    return LOADGEN


class GatewayUnderTest:
    """The gateway process (or processes) and their metrics endpoints."""

    def __init__(self, proc: subprocess.Popen[bytes], mports: list[int]) -> None:
        self.proc = proc
        self.mports = mports
        self.root = psutil.Process(proc.pid)

    def procs(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def cpu_s(self) -> float:
        total = 0.0
        for p in self.procs():
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss(self) -> int:
        total = 0
        for p in self.procs():
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for mp in self.mports:
            for k, v in metrics(mp).items():
                out[k] = out.get(k, 0.0) + v
        return out

    def accepted(self, m: dict[str, float]) -> float:
        return sum(v for k, v in m.items()
                   if k.startswith("hj212_gateway_frames_total") and 'outcome="accepted"' in k)


def loadgen_run(gw: GatewayUnderTest, port: int, frames_file: Path, *, connections: int,
                seconds: float, rate: float, window: int, threads: int,
                warmup: float = 2.0) -> dict[str, Any]:
    """One load generator run, with the gateway's CPU, publishing and spool seen meanwhile
    (sampled every 0.25 s: the longest spell without publishing progress is reported)."""
    cmd = [str(LOADGEN), "--addr", f"127.0.0.1:{port}", "--frames", str(frames_file),
           "--connections", str(connections), "--seconds", str(seconds),
           "--warmup", str(warmup), "--rate", str(rate), "--window", str(window),
           "--threads", str(threads)]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    lg = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # sample the gateway over the load generator's measured window
    time.sleep(warmup + 0.5)  # connect + warm-up (connecting 2,000 takes ~0.3 s)
    m0, cpu0, t0 = gw.metrics(), gw.cpu_s(), time.perf_counter()
    busy0 = psutil.cpu_times()
    samples: list[tuple[float, float, float]] = []
    while lg.poll() is None and time.perf_counter() - t0 < seconds - 0.5:
        time.sleep(0.25)
        m = gw.metrics()
        samples.append((time.perf_counter(), published(m),
                        m.get("hj212_gateway_spool_depth_records", 0.0)))
    m1, cpu1, t1 = gw.metrics(), gw.cpu_s(), time.perf_counter()
    busy1 = psutil.cpu_times()
    out, err = lg.communicate(timeout=seconds + warmup + 120)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if lg.returncode != 0:
        raise SystemExit(f"load generator failed: {err.decode()}")
    res: dict[str, Any] = json.loads(out)
    wall = t1 - t0
    res["gateway_cpu_cores"] = round((cpu1 - cpu0) / wall, 2)
    # the whole machine (Kafka, the load generator, and whatever else runs meanwhile)
    idle = (busy1.idle + getattr(busy1, "iowait", 0.0)) - (busy0.idle
                                                            + getattr(busy0, "iowait", 0.0))
    res["machine_busy_cores"] = round((os.cpu_count() or 1) - idle / wall, 2)
    # the load generator's whole life (connecting and warm-up included): an upper bound
    res["loadgen_cpu_cores"] = round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime
                                      - ru0.ru_stime) / (seconds + warmup), 2)
    res["accepted_per_s_gateway"] = round((gw.accepted(m1) - gw.accepted(m0)) / wall)
    res["published_per_s"] = round((published(m1) - published(m0)) / wall)
    res["spool_records_start"] = int(m0.get("hj212_gateway_spool_depth_records", 0))
    res["spool_records_end"] = int(m1.get("hj212_gateway_spool_depth_records", 0))
    res["spool_growth_per_s"] = round((res["spool_records_end"] - res["spool_records_start"])
                                      / wall)
    # longest spell in which the published counter did not move while the spool held records
    worst = 0.0
    since: float | None = None
    for i in range(1, len(samples)):
        t, pub, depth = samples[i]
        if pub == samples[i - 1][1] and depth > 0:
            since = samples[i - 1][0] if since is None else since
            worst = max(worst, t - since)
        else:
            since = None
    res["publish_stall_max_s"] = round(worst, 2)
    us = 1e6 * (cpu1 - cpu0) / max(1.0, gw.accepted(m1) - gw.accepted(m0))
    res["gateway_cpu_us_per_frame"] = round(us, 1)
    return res


def wait_drained(gw: GatewayUnderTest, limit_s: float = 120.0) -> float:
    t = time.perf_counter()
    while gw.metrics().get("hj212_gateway_spool_depth_records", 0) > 0:
        if time.perf_counter() - t > limit_s:
            break
        time.sleep(0.1)
    return round(time.perf_counter() - t, 2)


def show(label: str, r: dict[str, Any]) -> None:
    keys = ("rate_offered_per_s", "answered_per_s", "ack_ms_p50", "ack_ms_p99", "ack_ms_max",
            "stall_max_ms", "published_per_s", "spool_growth_per_s", "publish_stall_max_s",
            "gateway_cpu_cores", "loadgen_cpu_cores", "machine_busy_cores",
            "gateway_cpu_us_per_frame", "server_cpu_cores", "server_cpu_us_per_frame",
            "errors")
    print(f"[bench] {label}: " + json.dumps({k: r.get(k) for k in keys}), flush=True)


#: the trivial server of the ceiling run: answers every line at once (no framing, no
#: spool, no Kafka); what the machine's sockets and event loop allow, gateway or not
_CEILING_SERVER = """
import asyncio, sys, uvloop
ANSWER = b"##0087QN=20240101000000001;ST=91;CN=9014;PW=123456;MN=X;Flag=4;CP=&&&&0000\\r\\n"
class Answer(asyncio.Protocol):
    def connection_made(self, t):
        self.t = t
    def data_received(self, data):
        self.t.write(ANSWER * data.count(b"\\n"))
async def main():
    await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", int(sys.argv[1]),
                                                   backlog=4096)
    await asyncio.Event().wait()
uvloop.run(main())
"""


def ceiling_run(frames_file: Path, *, connections: int, seconds: float, threads: int
                ) -> dict[str, Any]:
    """The same load against a server that only answers: the machine's ceiling for one
    Python (uvloop) process with this many connections and one frame in flight each."""
    port = free_port()
    return server_run([sys.executable, "-c", _CEILING_SERVER, str(port)], port, frames_file,
                      connections=connections, seconds=seconds, threads=threads,
                      label="ceiling")


def floor_run(frames_file: Path, spool: Path, *, connections: int, seconds: float,
              threads: int, server_threads: int) -> dict[str, Any]:
    """The same load against ``gateway-floor`` (benchmarks/loadgen/src/bin): the gateway's
    per-frame work (framing, checks, envelope, spool record, group fdatasync, answer after
    it) all in Rust, no Kafka and no Python: what that work costs on this machine."""
    port = free_port()
    res = server_run([str(FLOOR), "--port", str(port), "--spool", str(spool),
                      "--threads", str(server_threads)], port, frames_file,
                     connections=connections, seconds=seconds, threads=threads,
                     label="floor")
    res["server_threads"] = server_threads
    answered = float(res.get("answered_per_s") or 0.0)
    if answered:
        res["server_cpu_us_per_frame"] = round(1e6 * res["server_cpu_cores"] / answered, 1)
    return res


def server_run(argv: list[str], port: int, frames_file: Path, *, connections: int,
               seconds: float, threads: int, label: str) -> dict[str, Any]:
    """The load generator as fast as the answers come back against the server ``argv``
    starts on ``port``, with that server's CPU, the load generator's and the machine's."""
    srv = subprocess.Popen(argv)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if srv.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the {label} server did not start") from None
                time.sleep(0.1)
        ps = psutil.Process(srv.pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c0, busy0, t0 = ps.cpu_times(), psutil.cpu_times(), time.perf_counter()
        out = subprocess.run([str(LOADGEN), "--addr", f"127.0.0.1:{port}", "--frames",
                              str(frames_file), "--connections", str(connections),
                              "--seconds", str(seconds), "--warmup", "1", "--rate", "0",
                              "--threads", str(threads)],
                             capture_output=True, check=True).stdout
        c1, busy1, t1 = ps.cpu_times(), psutil.cpu_times(), time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        srv.terminate()
        srv.wait(10)
    res: dict[str, Any] = json.loads(out)
    wall = t1 - t0
    res["server_cpu_cores"] = round((c1.user + c1.system - c0.user - c0.system) / wall, 2)
    res["loadgen_cpu_cores"] = round((ru1.ru_utime + ru1.ru_stime - ru0.ru_utime
                                      - ru0.ru_stime) / wall, 2)
    idle = (busy1.idle + getattr(busy1, "iowait", 0.0)) - (busy0.idle
                                                            + getattr(busy0, "iowait", 0.0))
    res["machine_busy_cores"] = round((os.cpu_count() or 1) - idle / wall, 2)
    return res


class _FakeTransport:
    """Just enough of a transport for a Session: collects what is written."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.out: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", self.port) if name == "peername" else default

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def in_process(connections: int, rounds: int, profile: Path | None) -> dict[str, Any]:
    """The gateway's own per-frame cost without sockets or Kafka: ``connections`` sessions
    over fake transports each get one frame per read, ``rounds`` times; each round waits for
    the spool's fsync and the answers (as one frame in flight per logger does). CPU time per
    frame of this process (the fsync thread included); deterministic enough to compare
    code versions on a busy machine."""
    import cProfile
    import pstats

    from pipeline.config import load_settings
    from pipeline.gateway.auth import StaticDirectory, StationEntry
    from pipeline.gateway.server import Gateway
    from pipeline.gateway.session import Session

    work = Path(tempfile.mkdtemp(prefix="hj212-gw-inproc-"))
    s = load_settings(env={})
    import dataclasses

    s = dataclasses.replace(
        s, gateway=dataclasses.replace(s.gateway, id="inproc", frames_per_s_per_mn=1e9,
                                         max_per_ip=connections + 1,
                                         max_connections=connections + 1),
        spool=dataclasses.replace(s.spool, dir=str(work / "spool"), fsync_interval=0.0),
        run_dir=work)
    directory = StaticDirectory([StationEntry(mn_of(i), PW) for i in range(connections)])
    frames = [frame_for(i, i) for i in range(connections)]

    async def run() -> dict[str, Any]:
        gw = Gateway(s, directory=directory, publish=False, downlink=False)
        await gw.spool.open()
        sessions = []
        for i in range(connections):
            sess = Session(gw.context)
            t = _FakeTransport(10000 + i)
            sess.connection_made(t)  # type: ignore[arg-type]
            sessions.append((sess, t))
        prof = cProfile.Profile() if profile is not None else None
        cpu0, t0 = time.process_time(), time.perf_counter()
        if prof is not None:
            prof.enable()
        reading = answering = 0.0
        for _ in range(rounds):
            r0 = time.thread_time()
            for (sess, _t), frame in zip(sessions, frames, strict=True):
                sess.data_received(frame)
            r1 = time.thread_time()
            await gw.spool.flushed()
            a0 = time.thread_time()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            reading += r1 - r0
            answering += time.thread_time() - a0
        if prof is not None:
            prof.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        answered = sum(len(t.out) for _s, t in sessions)
        await gw.spool.close()
        if prof is not None and profile is not None:
            prof.dump_stats(str(profile))
            pstats.Stats(str(profile)).sort_stats("tottime").print_stats(18)
        n = connections * rounds
        return {"frames": n, "answered": answered, "cpu_us_per_frame": round(1e6 * cpu / n, 2),
                "read_path_us_per_frame": round(1e6 * reading / n, 2),
                "answer_path_us_per_frame": round(1e6 * answering / n, 2),
                "wall_us_per_frame": round(1e6 * wall / n, 2)}

    import uvloop

    try:
        return uvloop.run(run())
    finally:
        shutil.rmtree(work, ignore_errors=True)


#: a Kafka younger than this is warmed by a discarded run first: a minute after its start,
#: its JIT compiler and garbage collector took 10 % of the machine during a run (perf,
#: 2026-12-05), CPU the gateway did not get
KAFKA_WARM_S = 180.0
KAFKA_WARMUP_RUN_S = 20.0


def kafka_uptime_s(settings: Any) -> float | None:
    """Seconds since the local Kafka's process started (None when it is not ours)."""
    from pipeline.stack.kafka import running_pid

    pid = running_pid(settings)
    if pid is None:
        return None
    try:
        started: float = psutil.Process(pid).create_time()
    except psutil.Error:
        return None
    return time.time() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rates", default="10000,25000,50000",
                    help="offered rates (frames/s) for the ack-latency table")
    ap.add_argument("--window", type=int, default=4,
                    help="also measure this window as fast as possible (0: skip)")
    ap.add_argument("--threads", type=int, default=1, help="load generator threads")
    ap.add_argument("--processes", type=int, default=1,
                    help="gateway processes on one port (SO_REUSEPORT)")
    ap.add_argument("--io", choices=("rust", "asyncio"), default="rust",
                    help="the gateway's gateway.io: the Rust front end (the default) or "
                         "asyncio's transports")
    ap.add_argument("--idle", type=int, default=10_000)
    ap.add_argument("--fsync-interval", type=float, default=0.0)
    ap.add_argument("--only-max", action="store_true",
                    help="measure only the sustainable rate (for profiling)")
    ap.add_argument("--only-rate", type=float, default=None,
                    help="measure only this offered rate (frames/s; for profiling)")
    ap.add_argument("--py-spy", type=Path, default=None,
                    help="record the gateway with py-spy during the first run (collapsed "
                         "stacks to this file; py-spy must be installed)")
    ap.add_argument("--in-process", type=int, default=0, metavar="ROUNDS",
                    help="only the gateway's own per-frame cost: sessions over fake "
                         "transports, no sockets, no Kafka (prints JSON; no stack needed)")
    ap.add_argument("--cprofile", type=Path, default=None,
                    help="with --in-process: cProfile stats to this file (and the top 18)")
    ap.add_argument("--kafka-warm-s", type=float, default=KAFKA_WARM_S,
                    help="a Kafka that started less than this many seconds ago gets a "
                         f"discarded {KAFKA_WARMUP_RUN_S:.0f} s run first (0: never)")
    ap.add_argument("--floor", type=int, default=None, metavar="THREADS",
                    help="only the floor: gateway-floor with this many threads (the "
                         "gateway's per-frame work in Rust, no Kafka; prints JSON)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.in_process:
        from pipeline.logs import configure_logging

        configure_logging("console", "warning")
        print(json.dumps(in_process(args.connections, args.in_process, args.cprofile)))
        return

    build_loadgen()
    nofile = raise_nofile(max(args.idle, args.connections) + 1000)
    if args.floor is not None:
        with tempfile.TemporaryDirectory(prefix="hj212-floor-") as tmp:
            frames_file = Path(tmp) / "frames.bin"
            frames_file.write_bytes(b"".join(frame_for(i, i) for i in range(args.connections)))
            alone = floor_run(frames_file, Path(tmp) / "spool", connections=args.connections,
                              seconds=args.seconds, threads=args.threads,
                              server_threads=args.floor)
        print(json.dumps(alone))
        return
    from pipeline.config import load_settings
    from pipeline.stack import kafka, up

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
    # one pre-encoded frame per connection (its own MN), resent: the gateway does not dedupe
    frames_file = work / "frames.bin"
    frames_file.write_bytes(b"".join(frame_for(i, i) for i in range(args.connections)))
    ceiling: dict[str, Any] = {}
    floor: dict[str, Any] = {}
    if not args.only_max and args.only_rate is None:
        ceiling = ceiling_run(frames_file, connections=args.connections, seconds=args.seconds,
                              threads=args.threads)
        show("ceiling (a server that only answers)", ceiling)
        floor = floor_run(frames_file, work / "floor-spool", connections=args.connections,
                          seconds=args.seconds, threads=args.threads,
                          server_threads=args.processes)
        show("floor (the gateway's per-frame work in Rust, no Kafka)", floor)
    port = free_port()
    mports = free_run(args.processes)  # process i serves its metrics on mports[0] + i
    env = {k: v for k, v in os.environ.items() if not k.startswith("HJ212_")}
    env.update({
        "HJ212_LOG_FORMAT": "json", "HJ212_LOG_LEVEL": "warning",
        "HJ212_GATEWAY__PORT": str(port), "HJ212_GATEWAY__METRICS_PORT": str(mports[0]),
        "HJ212_GATEWAY__REGISTRY_CSV": str(csv), "HJ212_GATEWAY__ID": f"bench-{tag}",
        "HJ212_GATEWAY__MAX_CONNECTIONS": str(n_mn + 100),
        "HJ212_GATEWAY__MAX_PER_IP": str(n_mn + 100),
        "HJ212_GATEWAY__FRAMES_PER_S_PER_MN": "100000",
        "HJ212_GATEWAY__IO": args.io,
        "HJ212_SPOOL__DIR": str(work / "spool"),
        "HJ212_SPOOL__FSYNC_INTERVAL": str(args.fsync_interval),
        "HJ212_TOPICS__FRAMES": frames_topic, "HJ212_TOPICS__REJECTS": rejects_topic,
        "HJ212_KAFKA__BOOTSTRAP": settings.kafka.bootstrap,
    })
    argv = ["hj212", "gateway"]
    if args.processes > 1:
        argv += ["--processes", str(args.processes)]
    launcher = ("import resource, sys; s, h = resource.getrlimit(resource.RLIMIT_NOFILE); "
                f"resource.setrlimit(resource.RLIMIT_NOFILE, (min(h, {nofile}), h)); "
                f"from pipeline.cli import main; sys.argv = {argv!r}; main()")
    log = open(work / "gateway.log", "w")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([sys.executable, "-c", launcher], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    gw = GatewayUnderTest(proc, mports)
    runs: dict[str, Any] = {}
    idle: dict[str, Any] = {}
    common = {"connections": args.connections, "seconds": args.seconds,
              "threads": args.threads}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                gw.metrics()
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gateway did not start; see {work / 'gateway.log'}") from None
                time.sleep(0.2)
        rss_start = gw.rss()
        kafka_age = kafka_uptime_s(settings)
        kafka_warmup = 0.0
        if kafka_age is not None and kafka_age < args.kafka_warm_s:
            print(f"[bench] Kafka started {kafka_age:.0f} s ago: a discarded "
                  f"{KAFKA_WARMUP_RUN_S:.0f} s run first, while its JIT compiler works",
                  flush=True)
            loadgen_run(gw, port, frames_file, rate=0, window=1, connections=args.connections,
                        seconds=KAFKA_WARMUP_RUN_S, threads=args.threads)
            wait_drained(gw)
            kafka_warmup = KAFKA_WARMUP_RUN_S

        spy = None
        if args.py_spy is not None:
            # several processes: the first child is profiled
            target = gw.procs()[-1].pid
            spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record",
                                    "-p", str(target), "-d", str(int(args.seconds + 2)),
                                    "-r", "250", "-f", "raw", "-o", str(args.py_spy),
                                    "--nonblocking"], stdout=subprocess.DEVNULL)
        # 1. as fast as the answers come back, one frame in flight per connection
        if args.only_rate is not None:
            r = loadgen_run(gw, port, frames_file, rate=args.only_rate, window=1, **common)
            args.only_max = True
        else:
            r = loadgen_run(gw, port, frames_file, rate=0, window=1, **common)
        r["spool_drained_after_s"] = wait_drained(gw)
        runs["max_window1" if args.only_rate is None else f"rate_{int(args.only_rate)}"] = r
        show("max, one frame in flight", r)
        sustainable = float(r["answered_per_s"])
        if spy is not None:
            spy.wait(60)
        if not args.only_max:
            # 2. ack latency at set rates
            for rate in (float(x) for x in args.rates.split(",") if x):
                r = loadgen_run(gw, port, frames_file, rate=rate, window=1, **common)
                r["spool_drained_after_s"] = wait_drained(gw)
                runs[f"rate_{int(rate)}"] = r
                show(f"offered {rate:.0f}/s", r)
            # 3. twice the sustainable rate: stalls, publishing keeping up
            r = loadgen_run(gw, port, frames_file, rate=2 * sustainable, window=1, **common)
            r["spool_drained_after_s"] = wait_drained(gw)
            runs["overload_2x"] = r
            show(f"offered 2x sustainable ({2 * sustainable:.0f}/s)", r)
            # 4. the old benchmark's shape: a window of frames in flight
            if args.window > 1:
                r = loadgen_run(gw, port, frames_file, rate=0, window=args.window, **common)
                r["spool_drained_after_s"] = wait_drained(gw)
                runs[f"max_window{args.window}"] = r
                show(f"max, window {args.window}", r)

        if args.idle and not args.only_max:
            print(f"[bench] idle: {args.idle} connections ...", flush=True)
            rss_before = gw.rss()

            async def hold() -> tuple[int, int]:
                conns = await run_idle(port, args.idle)
                await asyncio.sleep(2.0)
                rss = gw.rss()
                opened = int(gw.metrics().get("hj212_gateway_connections_open", 0))
                for _, w in conns:
                    w.close()
                return rss, opened

            import uvloop

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
        # one run at full speed writes 0.5 to 1 GB to its topics
        kafka.delete_topics(settings.kafka.bootstrap, [frames_topic, rejects_topic])
        # the spools (the floor's alone is 0.5 GB a run); the log and inputs stay for a look
        for spool in ("spool", "floor-spool"):
            shutil.rmtree(work / spool, ignore_errors=True)
    result = {
        "benchmark": "gateway", "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
                    "python": platform.python_version(),
                    "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
        "settings": {"fsync_interval": args.fsync_interval, "processes": args.processes,
                     "event_loop": "uvloop", "io": args.io,
                     "kafka": "local single node, same machine",
                     "client": "benchmarks/loadgen (Rust, epoll)",
                     "loadgen_threads": args.threads,
                     "kafka_uptime_s": None if kafka_age is None else round(kafka_age),
                     "kafka_warmup_run_s": kafka_warmup},
        "gateway_rss_mb_start": round(rss_start / 2**20, 1),
        "ceiling": ceiling, "floor": floor, "runs": runs, "idle": idle,
        "targets": {"answered_per_s_window1": 100_000, "ack_ms_p99_at_50k": 50,
                    "stall_max_ms_at_2x": 1000, "idle_10k_rss_mb": 1024},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"[bench] written {args.out}")


if __name__ == "__main__":
    main()
