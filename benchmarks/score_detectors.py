"""Precision and recall of the detectors against the simulator's ground truth.

Two modes:

    # score an alarms export (JSON lines: AlarmEvents as the worker publishes them on
    # hj212.alarms, or rows of the ClickHouse alarms table) against a truth file
    python benchmarks/score_detectors.py score --truth truth.jsonl --alarms alarms.jsonl

    # no Kafka, no ClickHouse: drive the simulator's loggers on a manual clock with a
    # fault script, answer them as the gateway would (9014, 9011 for bad CRCs), decode
    # with hj212.decode_batch, run pipeline.detect.DetectorBundle (its back-fill
    # requests go back to the loggers), then score
    python benchmarks/score_detectors.py offline --stations 20 --duration 1d

Matching: an alarm episode matches a truth line when the MN agrees, the code agrees (the
pollutant for value faults, "" for station-level rules) and its data-time span overlaps
the fault's, widened by ``--slack`` (an hourly record is stamped at the start of its
hour, a gap alarm waits for its grace period). Recall per rule counts truth lines
matched by an alarm of exactly their rule. Precision per rule counts alarms that match a
truth line whose fault explains that rule: a drop-out explains ``missing`` (its rule)
and ``offline`` (the station really went quiet); a disconnect explains ``offline`` and
``missing``. Every other alarm is a false positive.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: rules a fault kind makes true besides its own (see the module docstring)
EXPLAINS: dict[str, set[str]] = {"dropout": {"offline"}, "disconnect": {"missing"}}
#: truth rules that are not this package's business (the gateway and worker count them)
NOT_DETECTORS = {"rejected_crc", "garbage"}


@dataclass(slots=True)
class Episode:
    mn: str
    code: str
    rule: str
    first: datetime
    last: datetime
    matched: bool = False


@dataclass(slots=True)
class Truth:
    line: dict[str, Any]
    mn: str
    code: str
    rule: str
    kind: str
    start: datetime
    end: datetime
    found: bool = False


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace(" ", "T")).replace(tzinfo=None)


def load_truth(lines: Iterable[str]) -> list[Truth]:
    out = []
    for raw in lines:
        if not raw.strip():
            continue
        d = json.loads(raw)
        if not d.get("rule"):
            continue  # split, duplicate: nothing should fire
        times = [_dt(d["start"]), _dt(d["end"]), _dt(d["first"]), _dt(d["last"])]
        for lo, hi in d.get("windows", {}).values():
            times += [_dt(lo), _dt(hi)]
        station_level = d["kind"] in ("dropout", "disconnect", "bad_crc", "garbage")
        out.append(Truth(d, d["mn"], "" if station_level else (d.get("pollutant") or ""),
                         d["rule"], d["kind"], min(times), max(times)))
    return out


def load_alarms(lines: Iterable[str]) -> list[Episode]:
    """Episodes from AlarmEvent JSON lines (transition open/update/clear) or from rows of
    the alarms table (opened_at, last_seen, one row per version)."""
    episodes: dict[tuple[str, str, str, str], Episode] = {}
    open_key: dict[tuple[str, str, str], tuple[str, str, str, str]] = {}
    for raw in lines:
        if not raw.strip():
            continue
        d = json.loads(raw)
        mn, code, rule = d["mn"], d.get("code", "") or "", d["rule"]
        first = d.get("first_seen", d.get("opened_at"))
        last = d.get("last_seen", first)
        transition = d.get("transition", "open")
        base = (mn, code, rule)
        key = open_key.get(base) if transition != "open" else None
        if key is None:
            key = (mn, code, rule, str(first))
            open_key[base] = key
        ep = episodes.get(key)
        if ep is None:
            ep = episodes[key] = Episode(mn, code, rule, _dt(first), _dt(last))
        ep.first = min(ep.first, _dt(first))
        ep.last = max(ep.last, _dt(last))
        if transition == "clear":
            open_key.pop(base, None)
    return list(episodes.values())


def score(truth: Sequence[Truth], alarms: Sequence[Episode], slack: timedelta
          ) -> list[dict[str, Any]]:
    for ep in alarms:
        for t in truth:
            if t.mn != ep.mn or t.code != ep.code:
                continue
            if ep.first > t.end + slack or ep.last < t.start - slack:
                continue
            if ep.rule == t.rule:
                t.found = True
                ep.matched = True
            elif ep.rule in EXPLAINS.get(t.kind, set()):
                ep.matched = True
    rules = sorted({t.rule for t in truth} | {a.rule for a in alarms})
    rows = []
    for rule in rules:
        ts = [t for t in truth if t.rule == rule]
        als = [a for a in alarms if a.rule == rule]
        tp_alarms = sum(a.matched for a in als)
        found = sum(t.found for t in ts)
        rows.append({
            "rule": rule, "truth": len(ts), "found": found, "alarms": len(als),
            "true_alarms": tp_alarms,
            "recall": found / len(ts) if ts else None,
            "precision": tp_alarms / len(als) if als else None,
            "note": "not a detector here (gateway/worker)" if rule in NOT_DETECTORS else "",
        })
    return rows


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def print_table(rows: Sequence[dict[str, Any]], misses: Sequence[Truth],
                false: Sequence[Episode]) -> None:
    print(f"{'rule':<22}{'truth':>6}{'found':>6}{'recall':>8}{'alarms':>8}{'true':>6}"
          f"{'precision':>11}  note")
    for r in rows:
        print(f"{r['rule']:<22}{r['truth']:>6}{r['found']:>6}{_pct(r['recall']):>8}"
              f"{r['alarms']:>8}{r['true_alarms']:>6}{_pct(r['precision']):>11}  {r['note']}")
    det = [r for r in rows if r["rule"] not in NOT_DETECTORS]
    t = sum(r["truth"] for r in det)
    f = sum(r["found"] for r in det)
    a = sum(r["alarms"] for r in det)
    ta = sum(r["true_alarms"] for r in det)
    print(f"{'all detectors':<22}{t:>6}{f:>6}{_pct(f / t if t else None):>8}{a:>8}{ta:>6}"
          f"{_pct(ta / a if a else None):>11}")
    for m in misses:
        if m.rule not in NOT_DETECTORS:
            print(f"  missed: {m.rule} {m.mn} {m.code or '-'} {m.start:%H:%M}-{m.end:%H:%M} "
                  f"({m.line['fault']})")
    for e in false:
        print(f"  false: {e.rule} {e.mn} {e.code or '-'} {e.first:%m-%d %H:%M}-"
              f"{e.last:%H:%M}")


def run_score(truth_path: Path, alarms_path: Path, slack: timedelta) -> list[dict[str, Any]]:
    truth = load_truth(truth_path.read_text(encoding="utf-8").splitlines())
    alarms = load_alarms(alarms_path.read_text(encoding="utf-8").splitlines())
    rows = score(truth, alarms, slack)
    print_table(rows, [t for t in truth if not t.found], [a for a in alarms if not a.matched])
    return rows


# --- offline mode ---------------------------------------------------------------------


def run_offline(args: argparse.Namespace) -> list[dict[str, Any]]:
    from benchmarks.offline_fleet import OfflineRun

    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    run = OfflineRun(stations=args.stations, duration_s=args.duration, seed=args.seed,
                     faults=args.faults, truth_path=out_dir / "truth.jsonl",
                     step_s=args.step, start=args.start)
    stats = run.run(out_dir / "alarms.jsonl", out_dir / "windows.jsonl",
                    out_dir / "requests.jsonl")
    took = time.monotonic() - began
    print(f"offline: {args.stations} stations, {args.duration / 3600:g} h simulated in "
          f"{took:.1f} s; {json.dumps(stats)}")
    print(f"truth {out_dir / 'truth.jsonl'}, alarms {out_dir / 'alarms.jsonl'}")
    return run_score(out_dir / "truth.jsonl", out_dir / "alarms.jsonl", args.slack)


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.simulator.clock import parse_span

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    sc = sub.add_parser("score", help="score an alarms JSONL export against a truth file")
    sc.add_argument("--truth", type=Path, required=True)
    sc.add_argument("--alarms", type=Path, required=True)
    off = sub.add_parser("offline", help="simulate, detect and score without Kafka")
    off.add_argument("--stations", type=int, default=20)
    off.add_argument("--duration", type=parse_span, default=parse_span("1d"),
                     help="simulated span, e.g. 1d, 12h")
    off.add_argument("--seed", type=int, default=1)
    off.add_argument("--step", type=float, default=30.0,
                     help="simulated seconds between the loop's steps")
    off.add_argument("--start", type=_dt, default=datetime(2024, 3, 1),
                     help="simulated start (local time)")
    off.add_argument("--faults", type=Path,
                     default=ROOT / "pipeline" / "simulator" / "faults" / "sample.toml")
    off.add_argument("--out", type=Path, default=ROOT / ".run" / "score")
    for p in (sc, off):
        p.add_argument("--slack", type=lambda s: timedelta(seconds=parse_span(s)),
                       default=timedelta(hours=1),
                       help="how far outside the fault's span an alarm may start or end")
    args = parser.parse_args(argv)
    if args.mode == "score":
        run_score(args.truth, args.alarms, args.slack)
    else:
        run_offline(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
