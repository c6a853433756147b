"""Precision and recall of the detectors against the simulator's ground truth.

Three modes:

    # score an alarms export (JSON lines: AlarmEvents as the worker publishes them on
    # hj212.alarms, or rows of the ClickHouse alarms table) against a truth file
    python benchmarks/score_detectors.py score --truth truth.jsonl --alarms alarms.jsonl

    # no Kafka, no ClickHouse: drive the simulator's loggers on a manual clock with a
    # fault script, answer them as the gateway would (9014, 9011 for bad CRCs), decode
    # with hj212.decode_batch, run pipeline.detect.DetectorBundle (its back-fill
    # requests go back to the loggers), then score
    python benchmarks/score_detectors.py offline --stations 20 --duration 1d

    # through the live pipeline: a gateway, a worker on the data clock and the clue sweep
    # on topics and a database of their own on the local stack (started if down), the
    # simulated fleet through the gateway at --speed, the alarms table exported and
    # scored, with time to detect per rule; a markdown table to
    # benchmarks/results/detectors_live.md. Share the stack: run it under the lock,
    #   flock /tmp/hj212-stack.lock python benchmarks/score_detectors.py live
    python benchmarks/score_detectors.py live [--faults traps.toml] [--speed 480]

Matching: an alarm episode matches a truth line when the MN agrees, the code agrees (the
pollutant for value faults, "" for station-level rules) and its data-time span overlaps
the fault's, widened by ``--slack`` (an hourly record is stamped at the start of its
hour, a gap alarm waits for its grace period). Recall per rule counts truth lines
matched by an alarm of exactly their rule. Precision per rule counts alarms that match a
truth line whose fault explains that rule: a drop-out explains ``missing`` (its rule)
and ``offline`` (the station really went quiet); a disconnect explains ``offline`` and
``missing`` (``faults.ALSO_TRUE`` has the rest: a stop flagged N really is a zero streak,
a running source flagged F really carries F flags). An alarm without a code (station
level) and a truth line without a pollutant (station-wide faults, frame faults) match
any code of their station. Every other alarm is a false positive; truth lines whose
rule is null (traps: a resend, a low-resolution channel) are no detector's to find, and
alarms during them are reported with them.

Time to detect: the alarm's raised data time (``raised_data_time`` when the row has
it, else its ``last_seen`` when it opened; plus the period of a minute, hourly or daily
record that opened it, ``opened_cn``, as such a record exists only at its period's end)
minus the fault's start, judged against the
issue's targets (``target_s``): a rule on single values within 2 real-time cadences
(plus the flag's configured minimum duration for ``non_n_flag``), a streak within its
configured length plus one cadence, a rule on hourly data at the end of the first
faulty hour, an hourly clue at the end of its first judged hour(s), a daily clue at the
end of its first day.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
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

from pipeline.detect.names import CLUE_RULES, canonical  # noqa: E402
from pipeline.simulator.faults import ALSO_TRUE  # noqa: E402

#: rules a fault kind makes true besides its own (see the module docstring)
EXPLAINS: dict[str, set[str]] = {kind: set(rules) for kind, rules in ALSO_TRUE.items()}
#: clues judged per hour (the others per day)
HOURLY_CLUES = ("clue_o2_conversion", "clue_stopped_unflagged", "clue_flagged_running",
                "clue_hour_vs_minute")
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
    #: data time the alarm was raised (raised_data_time, else last_seen when it opened)
    raised: datetime | None = None
    #: the fault it matched (its own rule or one the fault makes true)
    fault: str = ""
    #: the data type that opened it (opened_cn; 0 when the row does not say)
    opened_cn: int = 0

    def raised_by(self, min_interval: int) -> datetime | None:
        """When the opening evidence was complete, in data time: a period record (minute,
        hour, day) is stamped with its period's start but exists only at its end."""
        if self.raised is None:
            return None
        period = {2051: 60 * max(min_interval, 1), 2061: 3600, 2031: 86400}.get(
            self.opened_cn, 0)
        if not self.opened_cn and self.rule in CLUE_RULES:
            # a clue's step stamps the start of the hour (day) it judged, once it closed
            period = 3600 if self.rule in HOURLY_CLUES else 86400
        return self.raised + timedelta(seconds=period)


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
    #: the earliest raised data time of an alarm of its rule that matched it
    detected: datetime | None = None

    @property
    def fault_start(self) -> datetime:
        return _dt(self.line["start"])


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(str(text).replace(" ", "T")).replace(tzinfo=None)


def load_truth(lines: Iterable[str], *, traps: bool = False) -> list[Truth]:
    """Truth lines with a rule to find; with ``traps``, those without one (split,
    duplicate, resend, low_resolution: nothing should fire), rule ""."""
    out = []
    for raw in lines:
        if not raw.strip():
            continue
        d = json.loads(raw)
        if bool(d.get("rule")) == traps:
            continue
        times = [_dt(d["start"]), _dt(d["end"]), _dt(d["first"]), _dt(d["last"])]
        for lo, hi in d.get("windows", {}).values():
            times += [_dt(lo), _dt(hi)]
        station_level = d["kind"] in ("dropout", "disconnect", "bad_crc", "garbage")
        out.append(Truth(d, d["mn"], "" if station_level else (d.get("pollutant") or ""),
                         d.get("rule") or "", d["kind"], min(times), max(times)))
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
        mn, code, rule = d["mn"], d.get("code", "") or "", canonical(d["rule"])
        first = d.get("first_seen", d.get("opened_at"))
        last = d.get("last_seen", first)
        raised = d.get("raised_data_time") or None
        transition = d.get("transition", "open")
        base = (mn, code, rule)
        key = open_key.get(base) if transition != "open" else None
        if key is None:
            key = (mn, code, rule, str(first))
            open_key[base] = key
        ep = episodes.get(key)
        if ep is None:
            # the first line of an episode is its opening (rows come in version order)
            ep = episodes[key] = Episode(mn, code, rule, _dt(first), _dt(last),
                                         raised=_dt(raised or last),
                                         opened_cn=int(d.get("opened_cn") or 0))
        elif raised and ep.raised is not None:
            ep.raised = min(ep.raised, _dt(raised))
        ep.first = min(ep.first, _dt(first))
        ep.last = max(ep.last, _dt(last))
        if transition == "clear":
            open_key.pop(base, None)
    return list(episodes.values())


def overlaps(t: Truth, ep: Episode, slack: timedelta) -> bool:
    """Same station, same code (or either has none), data times within ``slack``. A twin
    pair is one fault at both stations: the copy and the copied send the same series."""
    if ep.mn not in (t.mn, t.line.get("source")) or (t.code != ep.code and t.code and ep.code):
        return False
    return not (ep.first > t.end + slack or ep.last < t.start - slack)


def _explains(t: Truth) -> set[str]:
    if t.kind == "hour_vs_minute" and not t.line.get("params", {}).get("drop_minutes"):
        return set()  # a scaled hourly record withholds nothing
    return EXPLAINS.get(t.kind, set())


def score(truth: Sequence[Truth], alarms: Sequence[Episode], slack: timedelta
          ) -> list[dict[str, Any]]:
    for ep in alarms:
        for t in truth:
            if not overlaps(t, ep, slack):
                continue
            if ep.rule == t.rule:
                t.found = True
                ep.matched = True
                ep.fault = ep.fault or t.line["fault"]
                raised = ep.raised_by(int(t.line.get("min_interval") or 1))
                if raised is not None and (t.detected is None or raised < t.detected):
                    t.detected = raised
            elif ep.rule in _explains(t):
                ep.matched = True
                ep.fault = ep.fault or t.line["fault"]
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


# --- time to detect ----------------------------------------------------------------------

RULES_FILE = ROOT / "pipeline" / "detect" / "rules" / "default.toml"
CLUES_FILE = ROOT / "pipeline" / "detect" / "rules" / "clues.toml"
#: what each rule's target is, in words (the issue's targets)
TARGET_WORDS = {
    **{r: "2 cadences" for r in ("negative", "out_of_range", "spike", "time_conflict")},
    "non_n_flag": "2 cadences + flag min.",
    "zero_streak": "streak + 1 cadence",
    "constant_streak": "streak + 1 cadence",
    "over_limit": "end of 1st hour",
    "offline": "offline_after + 1 cadence",
    "missing": "grace + 1 h",
    **{r: "end of 1st judged hour" for r in HOURLY_CLUES},
    **{r: "end of 1st day" for r in CLUE_RULES if r not in HOURLY_CLUES},
}


def _settings(path: Path) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _layered(rules: dict[str, Any], key: str, code: str, st: int | None) -> Any:
    """A threshold with the rules file's pollutant and ST layers over the defaults."""
    value = rules.get("defaults", {}).get(key)
    for layer in (rules.get("st", {}).get(str(st), {}), rules.get("pollutant", {}).get(code, {}),
                  rules.get("st", {}).get(str(st), {}).get("pollutant", {}).get(code, {})):
        if key in layer:
            value = {**value, **layer[key]} if isinstance(value, dict) else layer[key]
    return value


def target_s(t: Truth, rules: dict[str, Any], clues: dict[str, Any]) -> float | None:
    """Seconds after the fault's start by which its rule should have been raised."""
    rtd = float(t.line.get("rtd_interval") or 30)
    rule, code, st = t.rule, t.code, t.line.get("st")
    start = t.fault_start
    hour_end = (start.replace(minute=0, second=0) + timedelta(hours=1) - start).total_seconds()
    if rule in ("negative", "out_of_range", "spike", "time_conflict"):
        return 2 * rtd
    if rule == "non_n_flag":
        flag = str(t.line.get("params", {}).get("flag", "D"))
        least = _layered(rules, "flag_min_duration_s", code, st) or {}
        return 2 * rtd + float(least.get(flag, 0))
    if rule == "zero_streak":
        return float((_layered(rules, "zero_streak", code, st) or {}).get("2011", 10)) * rtd + rtd
    if rule == "constant_streak":
        n = float((_layered(rules, "constant_streak", code, st) or {}).get("2011", 15))
        least = float(_layered(rules, "constant_min_duration_s", code, st) or 0)
        return max(n * rtd, least) + rtd
    if rule == "over_limit":
        return hour_end
    if rule == "offline":
        return float(rules.get("missing", {}).get("offline_after_s", 900)) + rtd
    if rule == "missing":
        return float(rules.get("missing", {}).get("grace_s", 1800)) + 3600
    if rule in HOURLY_CLUES:
        hours = int(clues.get(rule, {}).get("min_hours", 1))
        return hour_end + 3600 * (hours - 1)
    if rule in CLUE_RULES:
        day_end = start.replace(hour=0, minute=0, second=0) + timedelta(days=1)
        return (day_end - start).total_seconds()
    return None


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign, s = ("-" if seconds < 0 else ""), abs(int(seconds))
    if s < 120:
        return f"{sign}{s} s"
    if s < 7200:
        return f"{sign}{s // 60} min"
    return f"{sign}{s // 3600} h {s % 3600 // 60:02d}"


def timing(truth: Sequence[Truth], rows: list[dict[str, Any]], rules: dict[str, Any],
           clues: dict[str, Any]) -> None:
    """Adds median/max time to detect, the target and whether it was met to ``rows``."""
    for row in rows:
        ts = [t for t in truth if t.rule == row["rule"] and t.detected is not None]
        took = [(t.detected - t.fault_start).total_seconds() for t in ts
                if t.detected is not None]
        targets = [target_s(t, rules, clues) for t in ts]
        row["ttd_median"] = statistics.median(took) if took else None
        row["ttd_max"] = max(took) if took else None
        row["target"] = TARGET_WORDS.get(row["rule"], "-")
        row["late"] = [t for t, s, g in zip(ts, took, targets, strict=True)
                       if g is not None and s > g]
        row["met"] = None if not took else not row["late"]


def markdown(rows: Sequence[dict[str, Any]], truth: Sequence[Truth], traps: Sequence[Truth],
             alarms: Sequence[Episode], slack: timedelta, header: str) -> str:
    """The scored table, then each miss and false alarm with what it overlapped."""
    out = [header, "",
           "| rule | faults | detected | recall | alarms | true | precision | median TTD "
           "| max TTD | target | met |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in rows:
        met = "-" if r.get("met") is None else ("yes" if r["met"] else "**no**")
        note = " (gateway)" if r["rule"] in NOT_DETECTORS else ""
        out.append(f"| {r['rule']}{note} | {r['truth']} | {r['found']} | {_pct(r['recall'])} "
                   f"| {r['alarms']} | {r['true_alarms']} | {_pct(r['precision'])} "
                   f"| {_span(r.get('ttd_median'))} | {_span(r.get('ttd_max'))} "
                   f"| {r.get('target', '-')} | {met} |")
    det = [r for r in rows if r["rule"] not in NOT_DETECTORS]
    t, f = sum(r["truth"] for r in det), sum(r["found"] for r in det)
    a, ta = sum(r["alarms"] for r in det), sum(r["true_alarms"] for r in det)
    out.append(f"| **all** | {t} | {f} | {_pct(f / t if t else None)} | {a} | {ta} "
               f"| {_pct(ta / a if a else None)} | | | | |")
    everything = [*truth, *traps]

    def around(ep: Episode) -> str:
        hits = [x for x in everything if overlaps(x, ep, slack)]
        return ", ".join(f"{x.line['fault']} ({x.kind})" for x in hits) or "none"

    misses = [x for x in truth if not x.found and x.rule not in NOT_DETECTORS]
    false = [e for e in alarms if not e.matched]
    late = [x for r in rows for x in r.get("late", [])]
    out += ["", f"Misses ({len(misses)}):", ""]
    out += [f"- {m.rule} at {m.mn} {m.code or '-'} {m.start:%m-%d %H:%M}-{m.end:%m-%d %H:%M} "
            f"(fault {m.line['fault']}, {m.kind})" for m in misses] or ["- none"]
    out += ["", f"False alarms ({len(false)}), with the faults they overlapped:", ""]
    out += [f"- {e.rule} at {e.mn} {e.code or '-'} {e.first:%m-%d %H:%M}-{e.last:%m-%d %H:%M}"
            f": {around(e)}" for e in sorted(false, key=lambda e: (e.rule, e.mn, e.first))
            ] or ["- none"]
    out += ["", f"Late detections ({len(late)}):", ""]
    out += [f"- {x.rule} at {x.mn} {x.code or '-'} (fault {x.line['fault']}): raised "
            f"{_span((x.detected - x.fault_start).total_seconds() if x.detected else None)} "
            f"after the start" for x in late] or ["- none"]
    out += ["", "Traps (a stop may raise only its flag alarms, the others nothing; alarms "
            "during them are counted above as false):", ""]
    groups: dict[tuple[str, str], list[Truth]] = {}
    for x in [*traps, *(t for t in truth if t.kind == "stop")]:
        groups.setdefault((x.line["fault"], x.mn), []).append(x)
    for (fault, mn), xs in groups.items():
        during = {id(e): e for x in xs for e in alarms
                  if overlaps(x, e, timedelta(0)) and not e.matched}
        codes = ", ".join(sorted({x.code or "-" for x in xs}))
        out.append(f"- {fault} ({xs[0].kind}) at {mn} {codes}: {len(during)} false "
                   "alarm(s) during it")
    return "\n".join(out) + "\n"


def score_files(truth_path: Path, alarms_path: Path, slack: timedelta, header: str,
                out: Path | None) -> list[dict[str, Any]]:
    """Score, time and print (and write) the markdown report."""
    lines = truth_path.read_text(encoding="utf-8").splitlines()
    truth = load_truth(lines)
    traps = load_truth(lines, traps=True)
    alarms = load_alarms(alarms_path.read_text(encoding="utf-8").splitlines())
    rows = score(truth, alarms, slack)
    timing(truth, rows, _settings(RULES_FILE), _settings(CLUES_FILE))
    text = markdown(rows, truth, traps, alarms, slack, header)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return rows


# --- live mode ---------------------------------------------------------------------------

HJ212 = Path(sys.executable).parent / "hj212"
REGISTRY_CSV = ROOT / "pipeline" / "registry" / "data" / "stations.csv"
RESULTS_MD = ROOT / "benchmarks" / "results" / "detectors_live.md"
TOPICS = ("frames", "rejects", "alarms", "commands", "ledger")


class LiveRun:
    """One scoring run's topics, database and processes on the local stack."""

    def __init__(self, out: Path, tag: str) -> None:
        from urllib.parse import urlsplit, urlunsplit

        from pipeline.config import load_settings

        self.settings = load_settings()
        self.bootstrap = self.settings.kafka.servers
        self.out = out
        self.tag = tag
        self.topics = {k: f"score.{tag}.{k}" for k in TOPICS}
        parts = urlsplit(self.settings.clickhouse.dsn)
        self.dsn = urlunsplit(parts._replace(path=f"/hj212_score_{tag}"))
        self.app_id = f"score-{tag}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HJ212_")}
        env.update({"HJ212_CLICKHOUSE__DSN": self.dsn, "HJ212_LOG_FORMAT": "json",
                    "HJ212_KAFKA__BOOTSTRAP": self.bootstrap,
                    "HJ212_RUN_DIR": str(self.out / "run"),
                    **{f"HJ212_TOPICS__{k.upper()}": v for k, v in self.topics.items()},
                    **extra})
        return env

    def spawn(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.out / f"{name}.log").open("wb")
        proc = subprocess.Popen([str(HJ212), *args], env=self.env(**env), stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def hj212(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HJ212), *args], env=self.env(), capture_output=True,
                              text=True)

    async def create_topics(self) -> None:
        from aiokafka.admin import (  # type: ignore[import-untyped,unused-ignore]
            AIOKafkaAdminClient,
            NewTopic,
        )

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(t, 4 if k == "frames" else 2, 1)
                                       for k, t in self.topics.items()])
        finally:
            await admin.close()

    async def lag(self) -> int:
        from aiokafka import (  # type: ignore[import-untyped,unused-ignore]
            AIOKafkaConsumer,
            TopicPartition,
        )
        from aiokafka.admin import (  # type: ignore[import-untyped,unused-ignore]
            AIOKafkaAdminClient,
        )

        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await admin.start()
        await consumer.start()
        try:
            committed = await admin.list_consumer_group_offsets(self.app_id)
            parts = [TopicPartition(self.topics["frames"], p) for p in range(4)]
            ends = await consumer.end_offsets(parts)
            return sum(end - (committed[tp].offset if tp in committed else 0)
                       for tp, end in ends.items())
        finally:
            await consumer.stop()
            await admin.close()

    def fresh_db(self) -> None:
        from pipeline.store.migrate import Migrator

        self.drop_db()
        Migrator(self.dsn).migrate()
        loaded = self.hj212("stations", "sample")  # limits and cadences for the detectors
        if loaded.returncode:
            raise SystemExit(f"hj212 stations sample failed: {loaded.stderr[-2000:]}")

    def drop_db(self) -> None:
        from pipeline.store.client import ClickHouse

        with ClickHouse(self.dsn, database="default") as ch:
            ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")

    def export_alarms(self, path: Path) -> int:
        """Every version of every alarm row, oldest first, as JSON lines."""
        from pipeline.store.client import ClickHouse

        with ClickHouse(self.dsn) as ch:
            cols = [c[0] for c in ch.execute("DESCRIBE TABLE alarms")]
            rows = ch.execute(f"SELECT {', '.join(cols)} FROM alarms "
                              "ORDER BY mn, code, rule, opened_at, version")
        with path.open("w", encoding="utf-8") as fh:
            for row in rows:
                d = dict(zip(cols, row, strict=True))
                for k, v in d.items():
                    if isinstance(v, datetime):
                        d[k] = v.replace(tzinfo=None).isoformat()
                    elif isinstance(v, float) and v != v:
                        d[k] = None
                    elif isinstance(v, int) and k == "raised_data_time" and v > 0:
                        from pipeline.timebase import local_from_unix

                        d[k] = local_from_unix(v).isoformat()
                fh.write(json.dumps(d, ensure_ascii=False, default=str) + "\n")
        return len(rows)

    async def export_events(self, path: Path) -> int:
        """Every message of the run's alarms topic (every step of every alarm, worker's
        and clue sweep's: the table keeps only the latest version once it merges)."""
        from aiokafka import (  # type: ignore[import-untyped,unused-ignore]
            AIOKafkaConsumer,
            TopicPartition,
        )

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        n = 0
        try:
            parts = [TopicPartition(self.topics["alarms"], p)
                     for p in consumer.partitions_for_topic(self.topics["alarms"]) or {0, 1}]
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            with path.open("w", encoding="utf-8") as fh:
                while True:
                    behind = [tp for tp in parts if await consumer.position(tp) < ends[tp]]
                    if not behind:
                        break
                    batch = await consumer.getmany(*parts, timeout_ms=1000)
                    for records in batch.values():
                        for rec in records:
                            fh.write(rec.value.decode() + "\n")
                            n += 1
        finally:
            await consumer.stop()
        return n

    async def cleanup(self) -> None:
        from aiokafka.admin import (  # type: ignore[import-untyped,unused-ignore]
            AIOKafkaAdminClient,
        )

        self.drop_db()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            doomed = [*self.topics.values(), f"{self.app_id}-station-state"]
            await admin.delete_topics([n for n in doomed if n in existing])
        finally:
            await admin.close()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clues_available() -> bool:
    probe = subprocess.run([str(HJ212), "clues", "--help"], capture_output=True, text=True)
    return probe.returncode == 0


def run_live(args: argparse.Namespace) -> list[dict[str, Any]]:
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    status = subprocess.run([str(HJ212), "stack", "status"], capture_output=True, text=True)
    if status.returncode != 0:
        print("the local stack is down: hj212 stack up", flush=True)
        subprocess.run([str(HJ212), "stack", "up"], check=True)
    run = LiveRun(out, args.tag or f"{int(time.time())}")
    end = args.start + timedelta(seconds=args.duration)
    began = time.monotonic()
    clues = args.clues != "off" and _clues_available()
    try:
        asyncio.run(run.create_topics())
        run.fresh_db()
        port = _free_port()
        gateway = run.spawn("gateway", "gateway", "--port", str(port), "--registry-csv",
                            str(REGISTRY_CSV), HJ212_GATEWAY__METRICS_PORT=str(_free_port()),
                            HJ212_SPOOL__DIR=str(out / "spool"),
                            HJ212_GATEWAY__FRAMES_PER_S_PER_MN="1000")
        worker = run.spawn("worker", "worker", "--app-id", run.app_id, "--clock", "data",
                           "--tick-seconds", str(args.tick))
        if clues and args.clues == "live":
            run.spawn("clues", "clues", "--clock", "data", "--every", "2")
        elif not clues and args.clues != "off":
            # TODO(issue 13): `hj212 clues` (pipeline/clues/) is not installed here: the
            # clue rules are scored as missed until it is
            print("hj212 clues is not available: clue rules are not swept", flush=True)
        time.sleep(3)
        for name, proc in (("gateway", gateway), ("worker", worker)):
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited: see {out / (name + '.log')}")
        sim = subprocess.run(
            [str(HJ212), "simulate", "--stations", str(args.stations), "--speed",
             str(args.speed), "--duration", str(int(args.duration)), "--start",
             args.start.strftime("%Y-%m-%dT%H:%M"), "--faults", str(args.faults),
             "--truth", str(out / "truth.jsonl"), "--gateway", f"127.0.0.1:{port}",
             "--seed", str(args.seed), "--stats", str(out / "simulate-stats.json")],
            env=run.env(), stdout=(out / "simulate.log").open("wb"),
            stderr=subprocess.STDOUT)
        if sim.returncode:
            raise SystemExit(f"hj212 simulate failed: see {out / 'simulate.log'}")
        # the worker drains what the gateway took, then ticks the data clock a few times
        deadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < deadline:
            if asyncio.run(run.lag()) == 0:
                break
            time.sleep(1.0)
        time.sleep(max(5 * args.tick, 3.0))
        if clues:
            sweep = run.hj212("clues", "--once", "--from", args.start.strftime("%Y-%m-%dT%H:%M"),
                              "--to", end.strftime("%Y-%m-%dT%H:%M"))
            (out / "clues-once.log").write_text(sweep.stdout + sweep.stderr, encoding="utf-8")
            if sweep.returncode:
                print(f"hj212 clues --once failed: see {out / 'clues-once.log'}", flush=True)
        n = run.export_alarms(out / "alarms-table.jsonl")
        events = asyncio.run(run.export_events(out / "alarms.jsonl"))
        if not events:  # no messages: score the table's rows
            shutil.copyfile(out / "alarms-table.jsonl", out / "alarms.jsonl")
    finally:
        run.stop()
        if not args.keep:
            try:
                asyncio.run(run.cleanup())
            except Exception as exc:  # a busy server must not lose the score
                print(f"cleanup failed ({exc}); drop database hj212_score_{run.tag} and "
                      f"topics score.{run.tag}.* by hand", flush=True)
    took = time.monotonic() - began
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "pipeline"],
                           capture_output=True, text=True).stdout.strip()
    if dirty:
        commit += " with uncommitted changes in pipeline/"
    script = args.faults.relative_to(ROOT) if args.faults.is_relative_to(ROOT) else args.faults
    header = (
        f"Scored through the live pipeline ({datetime.now():%Y-%m-%d %H:%M}, commit {commit}): "
        f"`python benchmarks/score_detectors.py live` — {args.stations} stations, "
        f"{args.duration / 86400:g} simulated days from {args.start:%Y-%m-%d %H:%M}, fault "
        f"script `{script}`"
        f", seed {args.seed}, through `hj212 gateway`, `hj212 worker --clock data` and "
        f"{'`hj212 clues --clock data`' if clues else 'no clue sweep (hj212 clues missing)'} at "
        f"{args.speed:g}x; {n} alarm "
        f"rows, {events} alarm messages (scored); {took:.0f} s wall. Matching slack "
        f"{_span(args.slack.total_seconds())}; time to detect (TTD) = alarm raised data time "
        "(+ the period of the record that opened it) - fault start.")
    return score_files(out / "truth.jsonl", out / "alarms.jsonl", args.slack, header,
                       args.results)

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
    live = sub.add_parser("live", help="through the real gateway, worker and clue sweep")
    live.add_argument("--stations", type=int, default=16)
    live.add_argument("--duration", type=parse_span, default=parse_span("2d"))
    live.add_argument("--seed", type=int, default=1)
    live.add_argument("--speed", type=float, default=480.0,
                      help="simulated seconds per wall second")
    live.add_argument("--start", type=_dt, default=datetime(2026, 11, 2),
                      help="simulated start, a midnight (local time)")
    live.add_argument("--faults", type=Path,
                      default=ROOT / "pipeline" / "simulator" / "faults" / "traps.toml")
    live.add_argument("--tick", type=float, default=0.5,
                      help="the worker's --tick-seconds (wall)")
    live.add_argument("--clues", choices=("live", "once", "off"), default="live",
                      help="the clue sweep beside the worker (and once at the end), only "
                           "at the end, or none")
    live.add_argument("--drain-timeout", type=float, default=300.0)
    live.add_argument("--tag", default="", help="names the run's topics and database")
    live.add_argument("--keep", action="store_true",
                      help="keep the run's topics and database (to look into them)")
    live.add_argument("--out", type=Path, default=ROOT / ".run" / "score-live")
    live.add_argument("--results", type=Path, default=RESULTS_MD)
    for p in (sc, off, live):
        p.add_argument("--slack", type=lambda s: timedelta(seconds=parse_span(s)),
                       default=timedelta(hours=1),
                       help="how far outside the fault's span an alarm may start or end")
    args = parser.parse_args(argv)
    if args.mode == "score":
        run_score(args.truth, args.alarms, args.slack)
    elif args.mode == "live":
        run_live(args)
    else:
        run_offline(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
