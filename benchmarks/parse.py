#!/usr/bin/env python3
"""Throughput and memory of the HJ 212 codec (`hj212`) on a mixed, seeded corpus.

    python benchmarks/parse.py [--frames N] [--quick] [--json PATH]

Measures CRC16 alone, ``hj212.parse`` per frame, ``hj212.decode_batch`` in batches, the
streaming ``hj212.Framer`` over one large buffer and a plain-Python baseline parser
(``benchmarks/pyparser.py``), each as the best of several timed repeats after a warm-up, on one
core (the codec is single-threaded; the process is pinned to one CPU unless ``--no-pin``).
First of all (while this process is still small) a fresh child process decodes 1,000,000
frames in batches of 10,000 and reports its peak RSS. Prints a table and writes JSON
(default ``benchmarks/results/parse.json``; with ``--quick``,
``benchmarks/results/parse-quick.json``). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere, not only from the venv
    sys.path.insert(0, str(ROOT))

import hj212  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import pyparser  # noqa: E402

MB = 1_000_000  # MB/s means 10^6 bytes per second
CHUNK = 64 * 1024  # Framer feed size
TARGET_PARSE_FPS = 500_000
TARGET_BATCH_FPS = 1_500_000
TARGET_BATCH_CRC_SHARE = 0.5
TARGET_RSS_MB = 200.0
_LEN = struct.Struct("<I")


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- corpus ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    frames: int
    repeats: int
    baseline_frames: int
    baseline_repeats: int
    batch: int
    memory_frames: int
    memory_distinct: int
    seed: int
    stations: int
    error_rate: float
    deviation_rate: float
    pinned_cpu: int | None


def make_corpus(s: Settings) -> tuple[list[bytes], dict[str, Any]]:
    """The frames and the corpus shape (what is in it, for the report)."""
    corpus = _corpus(s)
    frames: list[bytes] = []
    cns: Counter[int] = Counter()
    editions: Counter[int] = Counter()
    defects: Counter[str] = Counter()
    deviations: Counter[str] = Counter()
    groups: list[int] = []
    step = max(1, s.frames // 4)
    for i in range(s.frames):
        if i and i % step == 0:
            progress(f"  {i:,} / {s.frames:,} frames")
        sample = corpus.sample()
        frames.append(sample.raw)
        cns[sample.cn] += 1
        editions[sample.station.edition] += 1
        if sample.defect:
            defects[sample.defect] += 1
        if sample.deviation:
            deviations[sample.deviation] += 1
        if sample.good:  # every pollutant group carries a Flag
            groups.append(sample.raw.count(b"-Flag="))
    n = len(frames)
    sizes = np.fromiter((len(f) for f in frames), dtype=np.int64, count=n)
    g = np.asarray(groups)
    shape = {
        "frames": n,
        "bytes": int(sizes.sum()),
        "mean_bytes": float(sizes.mean()),
        "min_bytes": int(sizes.min()),
        "max_bytes": int(sizes.max()),
        "pollutants_per_frame": {"mean": float(g.mean()), "min": int(g.min()),
                                 "max": int(g.max())},
        "seed": s.seed,
        "stations": s.stations,
        "cn_share": {str(k): v / n for k, v in sorted(cns.items())},
        "edition_share": {str(k): v / n for k, v in sorted(editions.items())},
        "error_rate": s.error_rate,
        "error_share": sum(defects.values()) / n,
        "errors": dict(sorted(defects.items())),
        "deviation_share": sum(deviations.values()) / n,
        "deviations": dict(sorted(deviations.items())),
    }
    return frames, shape


def print_shape(shape: dict[str, Any]) -> None:
    names = {"2011": "real-time", "2051": "minute", "2061": "hourly", "2031": "daily"}
    pct = "  ".join
    print(f"Corpus: {shape['frames']:,} frames, {shape['bytes'] / MB:.1f} MB, "
          f"{shape['mean_bytes']:.0f} bytes/frame on average ({shape['min_bytes']}.."
          f"{shape['max_bytes']}), {shape['pollutants_per_frame']['mean']:.1f} pollutants/frame "
          f"({shape['pollutants_per_frame']['min']}..{shape['pollutants_per_frame']['max']}); "
          f"seed {shape['seed']}, {shape['stations']} stations")
    print("  CN:      " + pct(f"{k} {names.get(k, '')} {v:.1%}"
                              for k, v in shape["cn_share"].items()))
    print("  edition: " + pct(f"{k} {v:.1%}" for k, v in shape["edition_share"].items()))
    errors = ", ".join(f"{k} {v}" for k, v in shape["errors"].items()) or "none"
    deviations = ", ".join(f"{k} {v}" for k, v in shape["deviations"].items()) or "none"
    print(f"  damaged: {shape['error_share']:.2%} ({errors}); "
          f"lenient deviations: {shape['deviation_share']:.2%} ({deviations})")


# --- timing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    key: str
    name: str
    frames: int
    bytes: int
    seconds: float  # best of the repeats
    runs: list[float]
    note: str = ""
    target: str = ""
    target_met: bool | None = None
    speedup_vs_baseline: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    @property
    def mbps(self) -> float:
        return self.bytes / self.seconds / MB


def best_of(fn: Callable[[], object], repeats: int) -> list[float]:
    """Run ``fn`` once to warm up, then ``repeats`` timed runs; returns their durations.
    The garbage collector stays on (it is part of the cost of making Python objects) but
    starts each run empty."""
    fn()
    runs = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return runs


def measure(key: str, name: str, fn: Callable[[], object], frames: int, nbytes: int,
            repeats: int, note: str = "") -> Row:
    progress(f"{name}: warm-up + {repeats} runs")
    runs = best_of(fn, repeats)
    row = Row(key, name, frames, nbytes, min(runs), runs, note)
    progress(f"  best {row.seconds * 1e3:.1f} ms: {row.fps:,.0f} frames/s, {row.mbps:,.1f} MB/s")
    return row


def run_benchmarks(frames: list[bytes], s: Settings) -> tuple[list[Row], dict[str, Any]]:
    n = len(frames)
    nbytes = sum(map(len, frames))
    crc16 = hj212.crc16
    parse = hj212.parse
    frame_error = hj212.FrameError
    rows: list[Row] = []
    checks: dict[str, Any] = {}

    def crc_per_frame() -> None:
        for f in frames:
            crc16(f)

    rows.append(measure("crc_per_frame", "crc16, one call per frame", crc_per_frame,
                        n, nbytes, s.repeats,
                        "over each whole frame's bytes; includes the Python call per frame"))

    big = b"".join(frames)
    rows.append(measure("crc_one_buffer", "crc16, one call over all frames joined",
                        lambda: crc16(big), n, nbytes, s.repeats,
                        "raw Rust CRC speed, no per-call overhead"))

    def parse_all() -> int:
        ok = 0
        for f in frames:
            try:
                parse(f)
                ok += 1
            except frame_error:
                pass
        return ok

    rows.append(measure("parse", "parse, per frame (a Frame each)", parse_all,
                        n, nbytes, s.repeats, "rejected frames raise FrameError"))
    checks["parse_accepted"] = parse_all()

    batches = [frames[i : i + s.batch] for i in range(0, n, s.batch)]
    decode_batch = hj212.decode_batch

    def decode_all() -> tuple[int, int]:
        rows_out = rejected = 0
        for b in batches:
            out = decode_batch(b)
            rows_out += out.n_rows
            rejected += out.n_rejected
        return rows_out, rejected

    rows.append(measure("decode_batch", f"decode_batch, {s.batch:,} frames a batch",
                        decode_all, n, nbytes, s.repeats, "columns as NumPy arrays"))
    rows_out, rejected = decode_all()
    checks["decode_batch_accepted"] = n - rejected
    checks["decode_batch_rows"] = rows_out

    def decode_all_validating() -> None:
        for b in batches:
            decode_batch(b, fast=False)

    # the same call with every data area read by the validating path: what the fast path gains
    rows.append(measure("decode_batch_validating",
                        f"decode_batch(fast=False), {s.batch:,} frames a batch",
                        decode_all_validating, n, nbytes, s.repeats,
                        "the validating path only (the fast path's oracle)"))

    chunks = [big[i : i + CHUNK] for i in range(0, len(big), CHUNK)]
    framer_type = hj212.Framer
    frame_type = hj212.Frame

    def frame_stream() -> tuple[int, int]:
        framer = framer_type()
        good = bad = 0
        for c in chunks:
            for item in framer.feed(c):
                if isinstance(item, frame_type):
                    good += 1
                else:
                    bad += 1
        return good, bad

    rows.append(measure("framer", f"Framer, one buffer in {CHUNK // 1024} KiB chunks",
                        frame_stream, n, nbytes, s.repeats,
                        "frames/s counts the frames in the buffer"))
    good, bad = frame_stream()
    checks["framer_frames"] = good
    checks["framer_errors"] = bad

    subset = frames[: s.baseline_frames]
    sub_n = len(subset)
    sub_bytes = sum(map(len, subset))
    py_parse = pyparser.parse
    py_error = pyparser.ParseError

    def baseline() -> int:
        ok = 0
        for f in subset:
            try:
                py_parse(f)
                ok += 1
            except py_error:
                pass
        return ok

    label = f"Python baseline parser, per frame ({sub_n:,} frames)"
    rows.append(measure("baseline", label, baseline, sub_n, sub_bytes, s.baseline_repeats,
                        "benchmarks/pyparser.py"))
    checks["baseline_accepted"] = baseline()
    checks["baseline_frames"] = sub_n
    checks["parse_accepted_on_baseline_frames"] = sum(1 for f in subset if _accepts(f))

    py_crc = pyparser.crc16

    def baseline_crc() -> None:
        for f in subset:
            py_crc(f)

    rows.append(measure("baseline_crc", f"Python baseline's CRC16 only ({sub_n:,} frames)",
                        baseline_crc, sub_n, sub_bytes, s.baseline_repeats,
                        "the baseline's share of time spent in its CRC"))

    base_fps = rows[-2].fps
    for row in rows:
        if row.key not in ("baseline", "baseline_crc"):
            row.speedup_vs_baseline = row.fps / base_fps
    return rows, checks


def _accepts(frame: bytes) -> bool:
    try:
        hj212.parse(frame)
    except hj212.FrameError:
        return False
    return True


# --- memory (child process) -----------------------------------------------------------------
#
# The child is started before the parent builds its corpus, and makes its own frames: on Linux
# a process's ru_maxrss starts at the high-water mark of the process that spawned it (the
# kernel carries it over fork and exec), so a child spawned after the parent held its corpus
# would report the parent's peak, not its own. VmHWM (/proc/self/status) belongs to the new
# address space only and is reported beside it.


def _corpus(s: Settings) -> Any:
    from pipeline.simulator.corpus import Corpus  # not needed by the timing rows

    return Corpus(seed=s.seed, stations=s.stations, error_rate=s.error_rate,
                  deviation_rate=s.deviation_rate)


def write_records(s: Settings, n: int, path: Path) -> None:
    """Generate ``n`` frames straight into a file (length-prefixed), holding one at a time."""
    corpus = _corpus(s)
    with path.open("wb") as f:
        for _ in range(n):
            raw = corpus.sample().raw
            f.write(_LEN.pack(len(raw)))
            f.write(raw)


def read_batches(f: BinaryIO, batch: int, total: int) -> Iterator[list[bytes]]:
    """Batches of frames read from a record file, from the start again at its end, until
    ``total`` frames have been read. Each batch is fresh bytes objects."""
    left = total
    while left > 0:
        want = min(batch, left)
        out: list[bytes] = []
        while len(out) < want:
            head = f.read(4)
            if not head:
                f.seek(0)
                continue
            (size,) = _LEN.unpack(head)
            out.append(f.read(size))
        left -= want
        yield out


def _psutil() -> Any:
    """The psutil module if it is installed (it is in the dev extras), else None."""
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    return psutil


def rss_mb() -> float | None:
    psutil = _psutil()
    if psutil is None:
        return None
    return float(psutil.Process().memory_info().rss) / 2**20


def maxrss_mb() -> float:
    """ru_maxrss of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def vm_hwm_mb() -> float | None:
    """Peak RSS of this address space (Linux only)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_child(s: Settings, path: Path, distinct: int) -> None:
    """Write ``distinct`` frames to ``path``, then decode ``s.memory_frames`` frames from it in
    batches of ``s.batch``, going round the file, holding one batch at a time. Prints the
    figures as one JSON line."""
    write_records(s, distinct, path)
    before = {"rss_mb": rss_mb(), "ru_maxrss_mb": maxrss_mb(), "vm_hwm_mb": vm_hwm_mb()}
    sampled = before["rss_mb"] or 0.0
    frames = rows = rejected = batches = 0
    t0 = time.perf_counter()
    with path.open("rb") as f:
        for chunk in read_batches(f, s.batch, s.memory_frames):
            out = hj212.decode_batch(chunk)
            frames += len(chunk)
            rows += out.n_rows
            rejected += out.n_rejected
            batches += 1
            now = rss_mb()
            if now is not None:
                sampled = max(sampled, now)
            del chunk, out  # hold nothing of this batch while reading the next one
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "frames": frames, "batches": batches, "batch": s.batch, "rows": rows,
        "rejected": rejected, "seconds": seconds, "distinct_frames": distinct,
        "before_decoding": before,
        "ru_maxrss_mb": maxrss_mb(), "vm_hwm_mb": vm_hwm_mb(),
        "psutil_max_sampled_rss_mb": sampled if before["rss_mb"] is not None else None,
    }))


def run_memory(s: Settings) -> dict[str, Any]:
    distinct = min(s.memory_frames, s.memory_distinct)
    progress(f"memory: a fresh process writes {distinct:,} frames to a file, then decodes "
             f"{s.memory_frames:,} from it in batches of {s.batch:,}")
    parent_peak = maxrss_mb()
    with tempfile.TemporaryDirectory(prefix="hj212-bench-") as tmp:
        path = Path(tmp) / "frames.bin"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(path),
               "--memory-frames", str(s.memory_frames), "--memory-distinct", str(distinct),
               "--batch", str(s.batch), "--seed", str(s.seed)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["passes_over_file"] = s.memory_frames / distinct
    result["parent_ru_maxrss_at_spawn_mb"] = parent_peak
    result["peak_rss_mb"] = result["ru_maxrss_mb"]
    result["target_mb"] = TARGET_RSS_MB
    result["target_met"] = result["peak_rss_mb"] < TARGET_RSS_MB
    hwm = result["vm_hwm_mb"]
    progress(f"  peak RSS {result['peak_rss_mb']:.1f} MB (ru_maxrss; VmHWM "
             f"{hwm if hwm is None else round(hwm, 1)} MB; "
             f"{result['before_decoding']['rss_mb'] or 0:.1f} MB before decoding), "
             f"{result['frames'] / result['seconds']:,.0f} frames/s including reads")
    return result


# --- report ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    logical = 0
    found = False
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not found:
                model = line.split(":", 1)[1].strip()
                found = True
            if line.startswith("processor"):
                logical += 1
    except OSError:
        pass
    psutil = _psutil()
    psutil_version: str | None = None if psutil is None else str(psutil.__version__)
    commit = None
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "core_rs"],
                               capture_output=True, text=True, check=True).stdout.strip()
        commit = rev + (" + uncommitted core_rs changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "cpu": model,
        "cores": logical or os.cpu_count(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "hj212": hj212.__version__,
        "psutil": psutil_version,
        "git": commit,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def judge(rows: list[Row], memory: dict[str, Any] | None) -> dict[str, Any]:
    """Fill each row's target column; return the targets with their figures."""
    by = {r.key: r for r in rows}
    targets: dict[str, Any] = {}
    p = by["parse"]
    p.target_met = p.fps >= TARGET_PARSE_FPS
    p.target = f">= 500k/s: {p.fps / TARGET_PARSE_FPS:.0%} {_ok(p.target_met)}"
    targets["parse_fps"] = {"target": TARGET_PARSE_FPS, "value": p.fps, "met": p.target_met}

    b = by["decode_batch"]
    per_frame = b.mbps / by["crc_per_frame"].mbps
    one_buffer = b.mbps / by["crc_one_buffer"].mbps
    fps_met = b.fps >= TARGET_BATCH_FPS
    share_met = per_frame >= TARGET_BATCH_CRC_SHARE
    # a batch API must beat the object API per frame, or it defeats its purpose
    over_parse = b.fps / p.fps
    b.target_met = fps_met and share_met and over_parse > 1
    b.target = (f">= 1.5M/s: {b.fps / TARGET_BATCH_FPS:.0%} {_ok(fps_met)}; "
                f">= 50% CRC MB/s: {per_frame:.0%} {_ok(share_met)}; "
                f"> parse: {over_parse:.2f}x {_ok(over_parse > 1)}")
    targets["decode_batch_over_parse"] = {"target": 1.0, "value": over_parse,
                                          "met": over_parse > 1}
    b.extra = {"mbps_share_of_crc_per_frame": per_frame,
               "mbps_share_of_crc_one_buffer": one_buffer}
    targets["decode_batch_fps"] = {"target": TARGET_BATCH_FPS, "value": b.fps, "met": fps_met}
    targets["decode_batch_crc_share"] = {
        "target": TARGET_BATCH_CRC_SHARE, "value": per_frame, "met": share_met,
        "against": "crc_per_frame (CRC over the same frames, one call each)",
        "vs_crc_one_buffer": one_buffer,
    }
    if memory is not None:
        targets["memory_peak_rss_mb"] = {"target": TARGET_RSS_MB, "value": memory["peak_rss_mb"],
                                         "met": memory["target_met"],
                                         "frames": memory["frames"], "batch": memory["batch"]}
    return targets


def _ok(met: bool) -> str:
    return "ok" if met else "MISSED"


def print_table(rows: list[Row], memory: dict[str, Any] | None, targets: dict[str, Any],
                s: Settings) -> None:
    head = ("measurement", "frames/s", "MB/s", "vs target", "x baseline")
    body = [
        (r.name, f"{r.fps:,.0f}", f"{r.mbps:,.1f}", r.target or "-",
         f"{r.speedup_vs_baseline:,.1f}x" if r.speedup_vs_baseline else "-")
        for r in rows
    ]
    if memory is not None:
        body.append((f"decode_batch memory, {memory['frames']:,} frames",
                     f"{memory['frames'] / memory['seconds']:,.0f}", "-",
                     f"peak RSS {memory['peak_rss_mb']:.0f} MB < 200 MB: "
                     f"{_ok(memory['target_met'])}", "-"))
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    line = "| " + " | ".join(f"{{:<{w}}}" for w in widths) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    print()
    print(line.format(*head))
    print(rule)
    for r in body:
        print(line.format(*r))
    share = targets["decode_batch_crc_share"]
    print()
    cpu = f"pinned to CPU {s.pinned_cpu}" if s.pinned_cpu is not None else "not pinned"
    print(f"One core ({cpu}): the codec is single-threaded. Best of {s.repeats} runs after a "
          f"warm-up ({s.baseline_repeats} for the baseline rows); MB = 10^6 bytes of whole "
          "frames (## to \\r\\n).")
    print(f"decode_batch MB/s is {share['value']:.0%} of the per-frame CRC row (the target's "
          f"'CRC over the same bytes': same frames, one call each) and "
          f"{share['vs_crc_one_buffer']:.0%} of the one-buffer CRC row (raw Rust CRC speed).")


def print_checks(checks: dict[str, Any], n: int) -> None:
    print(f"Accepted: parse {checks['parse_accepted']:,} / {n:,}, decode_batch "
          f"{checks['decode_batch_accepted']:,} ({checks['decode_batch_rows']:,} rows), Framer "
          f"{checks['framer_frames']:,} frames + {checks['framer_errors']:,} errors; baseline "
          f"{checks['baseline_accepted']:,} / {checks['baseline_frames']:,} "
          f"(parse: {checks['parse_accepted_on_baseline_frames']:,} of the same frames; "
          "lenient hj212 also recovers frames whose only fault is a wrong declared length)")


# --- main -----------------------------------------------------------------------------------


def pin_one_cpu() -> int | None:
    if not hasattr(os, "sched_setaffinity"):
        return None
    cpu = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return cpu


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--frames", type=int, help="corpus size (default 200,000; --quick 5,000)")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and few repeats: a few seconds, for CI")
    ap.add_argument("--json", type=Path, help="where to write the results "
                    "(default benchmarks/results/parse.json, or parse-quick.json with --quick)")
    ap.add_argument("--repeats", type=int, help="timed runs per measurement (default 5; quick 2)")
    ap.add_argument("--seed", type=int, default=212)
    ap.add_argument("--batch", type=int, default=10_000, help="decode_batch batch size")
    ap.add_argument("--memory-frames", type=int,
                    help="frames decoded in the memory check (default 1,000,000; quick 50,000)")
    ap.add_argument("--no-memory", action="store_true", help="skip the memory check")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    ap.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--memory-distinct", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = bool(args.quick)
    n = args.frames or (5_000 if quick else 200_000)
    if n < 1 or args.batch < 1:
        ap.error("--frames and --batch must be positive")
    repeats = args.repeats or (2 if quick else 5)
    s = Settings(
        frames=n,
        repeats=repeats,
        baseline_frames=min(n, 2_000 if quick else 50_000),
        baseline_repeats=min(repeats, 3),
        batch=args.batch,
        memory_frames=args.memory_frames or (50_000 if quick else 1_000_000),
        memory_distinct=args.memory_distinct or (10_000 if quick else 50_000),
        seed=args.seed,
        stations=500,
        error_rate=0.01,
        deviation_rate=0.01,
        pinned_cpu=None if args.no_pin or args.memory_child else pin_one_cpu(),
    )
    if args.memory_child is not None:
        memory_child(s, args.memory_child, s.memory_distinct)
        return 0
    out = args.json or ROOT / "benchmarks" / "results" / (
        "parse-quick.json" if quick else "parse.json")

    info = machine()
    print(f"Machine: {info['cpu']}, {info['cores']} logical CPUs, {info['os']}; Python "
          f"{info['python']}, numpy {info['numpy']}, hj212 {info['hj212']} ({info['git']}); "
          f"{info['date']}")
    # first, while this process is small (see the memory section)
    memory = None if args.no_memory else run_memory(s)
    progress(f"generating {n:,} frames (pipeline.simulator.corpus, seed {s.seed})")
    frames, shape = make_corpus(s)
    print_shape(shape)

    rows, checks = run_benchmarks(frames, s)
    del frames
    targets = judge(rows, memory)
    print_table(rows, memory, targets, s)
    print_checks(checks, n)

    result = {
        "machine": info,
        "settings": asdict(s) | {"quick": quick, "framer_chunk": CHUNK},
        "corpus": shape,
        "rows": [
            {"key": r.key, "name": r.name, "frames": r.frames, "bytes": r.bytes,
             "best_s": r.seconds, "runs_s": r.runs, "frames_per_s": r.fps, "mb_per_s": r.mbps,
             "note": r.note, "target": r.target or None, "target_met": r.target_met,
             "speedup_vs_baseline": r.speedup_vs_baseline, **r.extra}
            for r in rows
        ],
        "memory": memory,
        "targets": targets,
        "checks": checks,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nWrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
