"""Throughput of ``pipeline.detect.DetectorBundle`` alone, with a fingerprint of its output.

The workload is built once, the way ``score_detectors.py offline`` builds it: the
simulator's loggers on a manual clock with the sample fault script, their bytes framed and
answered as the gateway would, accepted frames decoded with ``hj212.decode_batch``, and a
detector in the loop (its back-fill requests go back to the loggers, so the replies are in
the workload too). Every ``on_frame`` and ``tick`` call is recorded with its arguments.

Then only the detector is timed: the recorded calls are replayed, in order, into a fresh
``DetectorBundle`` with empty states, ``--repeats`` times; the best run counts. The
simulator, the codec and JSON are outside the timed part.

The fingerprint is a SHA-256 over every alarm event, missing-window row and back-fill
request the replay produced (in order, as the offline benchmark writes them), and a second
one over the final per-station states: equal fingerprints before and after a change mean
the change produced the same alarms, windows and requests (and the same persisted state).

    .venv/bin/python benchmarks/detectors.py                      # 20 stations, 1 day
    .venv/bin/python benchmarks/detectors.py --save fp.json       # keep the fingerprint
    .venv/bin/python benchmarks/detectors.py --check fp.json      # exit 1 if it differs
    .venv/bin/python benchmarks/detectors.py --profile prof.out   # cProfile one replay
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.offline_fleet import OfflineRun, _json, event_json  # noqa: E402
from pipeline.detect.context import StationContext  # noqa: E402
from pipeline.detect.model import Reading  # noqa: E402
from pipeline.detect.state import dump_station_state  # noqa: E402
from pipeline.detect.station import (  # noqa: E402
    VALUES_IMPLS,
    DetectorBundle,
    Result,
    ValuesImpl,
)

#: ("f", mn, st, cn, data_time, receive_time, resent, readings) or ("t", mn, now)
Call = tuple[Any, ...]


@dataclass(slots=True)
class Workload:
    contexts: dict[str, StationContext]
    calls: list[Call] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return sum(1 for c in self.calls if c[0] == "f")

    @property
    def readings(self) -> int:
        return sum(len(c[7]) for c in self.calls if c[0] == "f")

    @property
    def ticks(self) -> int:
        return sum(1 for c in self.calls if c[0] == "t")


class _Recorder:
    """Stands in for the offline run's detector: records each call, then delegates."""

    def __init__(self, inner: DetectorBundle, calls: list[Call]) -> None:
        self.inner, self.calls = inner, calls

    def on_frame(self, state: dict[str, Any], readings: Sequence[Reading], *, mn: str,
                 st: str, cn: int, data_time: datetime | None, receive_time: datetime,
                 resent: bool = False) -> Result:
        self.calls.append(("f", mn, st, cn, data_time, receive_time, resent, list(readings)))
        return self.inner.on_frame(state, readings, mn=mn, st=st, cn=cn, data_time=data_time,
                                   receive_time=receive_time, resent=resent)

    def tick(self, state: dict[str, Any], mn: str, now: datetime) -> Result:
        self.calls.append(("t", mn, now))
        return self.inner.tick(state, mn, now)


def build(stations: int, duration_s: float, seed: int, faults: Path, step_s: float,
          start: datetime) -> Workload:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run = OfflineRun(stations=stations, duration_s=duration_s, seed=seed, faults=faults,
                         truth_path=out / "truth.jsonl", step_s=step_s, start=start)
        work = Workload(contexts=dict(run.detector.contexts))
        run.detector = _Recorder(run.detector, work.calls)  # type: ignore[assignment]
        run.run(out / "alarms.jsonl", out / "windows.jsonl", out / "requests.jsonl")
    return work


@dataclass(slots=True)
class Replay:
    on_frame_s: float
    tick_s: float
    results: list[Result]
    states: dict[str, dict[str, Any]]


def replay(work: Workload, values: ValuesImpl = "rust") -> Replay:
    """All calls into a fresh detector; the two kinds of call are timed apart."""
    detector = DetectorBundle(contexts=work.contexts, values=values)
    states: dict[str, dict[str, Any]] = {}
    results: list[Result] = []
    on_frame = detector.on_frame
    tick = detector.tick
    clock = time.perf_counter
    spent_f = spent_t = 0.0
    for call in work.calls:
        state = states.get(call[1])
        if state is None:
            state = states[call[1]] = {}
        if call[0] == "f":
            _, mn, st, cn, data_time, receive_time, resent, readings = call
            t0 = clock()
            result = on_frame(state, readings, mn=mn, st=st, cn=cn, data_time=data_time,
                              receive_time=receive_time, resent=resent)
            spent_f += clock() - t0
        else:
            t0 = clock()
            result = tick(state, call[1], call[2])
            spent_t += clock() - t0
        if result.events or result.windows or result.requests:
            results.append(result)
    for mn, state in states.items():  # what the worker would write to its changelog
        detector.sync(state, mn)  # type: ignore[arg-type]
    return Replay(spent_f, spent_t, results, states)


def fingerprint(rep: Replay) -> dict[str, Any]:
    out = hashlib.sha256()
    counts = {"events": 0, "windows": 0, "requests": 0}
    for result in rep.results:
        for ev in result.events:
            counts["events"] += 1
            out.update(b"E" + event_json(ev).encode() + b"\n")
        for row in result.windows:
            counts["windows"] += 1
            out.update(b"W" + json.dumps(row, default=_json, sort_keys=True).encode() + b"\n")
        for req in result.requests:
            counts["requests"] += 1
            out.update(b"R" + json.dumps(asdict(req), default=_json, sort_keys=True).encode()
                       + b"\n")
    state = hashlib.sha256(json.dumps(rep.states, sort_keys=True, default=_json).encode())
    return {**counts, "outputs": out.hexdigest(), "state": state.hexdigest()}


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.simulator.clock import parse_span

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--duration", type=parse_span, default=parse_span("1d"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--step", type=float, default=30.0)
    parser.add_argument("--start", type=datetime.fromisoformat, default=datetime(2024, 3, 1))
    parser.add_argument("--faults", type=Path,
                        default=ROOT / "pipeline" / "simulator" / "faults" / "sample.toml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--values", choices=VALUES_IMPLS, default="rust",
                        help="the value rules' implementation (the worker's --values)")
    parser.add_argument("--workload", type=Path,
                        help="pickle of the built workload: read it if it exists, else "
                             "build and write it (saves the simulator's time between runs)")
    parser.add_argument("--save", type=Path, help="write the fingerprint to this JSON file")
    parser.add_argument("--check", type=Path,
                        help="compare with a saved fingerprint; exit 1 if it differs")
    parser.add_argument("--profile", type=Path, help="cProfile one extra replay into this file")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    if args.workload is not None and args.workload.exists():
        work: Workload = pickle.loads(args.workload.read_bytes())
        how = f"read {args.workload}"
    else:
        work = build(args.stations, args.duration, args.seed, args.faults, args.step,
                     args.start)
        how = "built"
        if args.workload is not None:
            args.workload.write_bytes(pickle.dumps(work, protocol=pickle.HIGHEST_PROTOCOL))
    print(f"workload {how} in {time.perf_counter() - began:.1f} s: {work.frames} frames, "
          f"{work.readings} readings, {work.ticks} ticks, {len(work.contexts)} stations",
          file=sys.stderr)

    runs: list[Replay] = []
    for i in range(args.repeats):
        gc.collect()
        rep = replay(work, args.values)
        runs.append(rep)
        print(f"run {i + 1}: on_frame {rep.on_frame_s:.2f} s, tick {rep.tick_s:.2f} s",
              file=sys.stderr)
    prints = [fingerprint(r) for r in runs]
    if any(p != prints[0] for p in prints):
        print("replays disagree with each other: the detector is not deterministic",
              file=sys.stderr)
        return 1
    best = min(runs, key=lambda r: r.on_frame_s + r.tick_s)
    sizes = [len(dump_station_state(s)) for s in best.states.values()]  # type: ignore[arg-type]
    total = best.on_frame_s + best.tick_s
    report = {
        "frames": work.frames, "readings": work.readings, "ticks": work.ticks,
        "values": args.values,
        "on_frame_s": round(best.on_frame_s, 3), "tick_s": round(best.tick_s, 3),
        "on_frame_frames_per_s": round(work.frames / best.on_frame_s),
        "frames_per_s_with_ticks": round(work.frames / total),
        "readings_per_s_with_ticks": round(work.readings / total),
        "ticks_per_s": round(work.ticks / best.tick_s) if best.tick_s else None,
        # what the worker persists per station at the end (the changelog's record size)
        "state_bytes_per_station": round(sum(sizes) / max(1, len(sizes))),
        "fingerprint": prints[0],
    }
    print(json.dumps(report, indent=2))

    if args.profile is not None:
        import cProfile

        cProfile.runctx("replay(work, values)", globals(),
                        {"work": work, "values": args.values}, str(args.profile))
        print(f"profile in {args.profile}", file=sys.stderr)
    if args.save is not None:
        args.save.write_text(json.dumps(prints[0], indent=2) + "\n", encoding="utf-8")
    if args.check is not None:
        want = json.loads(args.check.read_text(encoding="utf-8"))
        if want != prints[0]:
            print(f"FINGERPRINT DIFFERS from {args.check}:\n  want {want}\n  got  {prints[0]}",
                  file=sys.stderr)
            return 1
        print(f"fingerprint matches {args.check}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

