"""Speed of the web app's pages on a month of a fleet's history (issue 10, item 6).

Targets: with 30 days of a 320-station fleet stored, every page's queries return in
under 1 s (p95 over 20 loads), and the weekly reports of all enterprises render in under
a minute.

- Data: ``hj212 seed``'s generation (``pipeline.seed``) into a database of its own,
  ``hj212_bench`` on the DSN's server, reused while its options match (``--reseed``
  forces a new one). The sample registry has 320 stations of which 12 are inactive; the
  seed runs only active stations, so the bench database gets the registry with all 320
  active (the only change), which gives the 320-station fleet the target names.
  Frames, readings, alarm episodes, missing windows and completeness all come from the
  seed (its fault script repeats every day).
- Queries: each page's default view, as its module's ``calls`` lists them
  (``dashboards.page_calls``), run with ``pipeline.store.queries.run`` on a fresh
  connection per query (as ``dashboards.data.run_named`` does; Streamlit's cache is not
  involved, so every load reaches the server). A load is all of a page's queries in
  sequence; the pages take turns load by load, for two scopes: every region, and one
  field engineer's region (the one with the most stations). ``now`` is the data's end.
- Weekly reports: ``dashboards.report.render_all`` for every enterprise, the last full
  ISO week of the data, HTML and PDF, wall time.

    .venv/bin/python benchmarks/dashboards.py [--loads 20] [--reseed]
"""

from __future__ import annotations

import argparse
import csv
import importlib
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboards.page_calls import page_calls  # noqa: E402
from dashboards.scope import Scope  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.store import queries  # noqa: E402
from pipeline.store.client import ClickHouse  # noqa: E402
from pipeline.timebase import now_local  # noqa: E402

TARGET_QUERY_S = 1.0
TARGET_REPORTS_S = 60.0
TABLES = ("frames", "readings", "alarms", "missing_windows", "completeness", "stations",
          "limits")
#: counted in the results too: frame_times (migration 011) is filled by its view, never copied
ROW_TABLES = (*TABLES, "frame_times")
MARKER = "bench_seed"  # one row: the options the data were made with, and how long it took


# --- data -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedOptions:
    days: int
    stations: int
    realtime_days: int
    minute_days: int
    seed: int = 1


def bench_dsn(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def seeded(dsn: str, opts: SeedOptions, filled: bool = False
           ) -> tuple[datetime, float] | None:
    """(the data's end, the seed's seconds) when the database holds data made with
    ``opts``; None otherwise."""
    with ClickHouse(bench_dsn(dsn, "default")) as ch:
        db = urlsplit(dsn).path.lstrip("/")
        found = ch.execute("SELECT count() FROM system.tables WHERE database = %(db)s "
                           "AND name = %(t)s", {"db": db, "t": MARKER})
        if not found[0][0]:
            return None
    with ClickHouse(dsn) as ch:
        rows = ch.execute(f"SELECT options, end_local, seconds FROM {MARKER}")
    want = {**asdict(opts), "filled": True} if filled else asdict(opts)
    if not rows or json.loads(rows[0][0]) != want:
        return None
    return datetime.fromisoformat(rows[0][1]), float(rows[0][2])


def migrate(dsn: str) -> None:
    """A reused database brought up to the current schema: the queries timed are the
    current ones, and a migration may add what they read (011's frame_times is filled
    from the stored frames)."""
    from pipeline.store.migrate import Migrator

    Migrator(dsn).migrate()


def full_fleet_registry(out: Path) -> Path:
    """The sample registry with every station active (see the module docstring)."""
    from pipeline.registry.cli import SAMPLE_FILES

    out.mkdir(parents=True, exist_ok=True)
    for src in SAMPLE_FILES:
        with src.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if src.name == "stations.csv":
            rows = [{**r, "active": "1"} for r in rows]
        with (out / src.name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return out


def make_data(dsn: str, opts: SeedOptions, jobs: int) -> tuple[datetime, float]:
    """A fresh database seeded with ``opts``; (the data's end, the seed's seconds)."""
    from pipeline.registry import csv_io, store
    from pipeline.seed import DEFAULT_FAULTS, make_plan, seed
    from pipeline.simulator.faults import load_script
    from pipeline.store.migrate import Migrator

    db = urlsplit(dsn).path.lstrip("/")
    with ClickHouse(bench_dsn(dsn, "default")) as ch:
        ch.execute(f"DROP DATABASE IF EXISTS {db}")
    Migrator(dsn).migrate()
    end = now_local().replace(second=0, microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        registry = full_fleet_registry(Path(tmp))
        reg = csv_io.read_files([registry / "stations.csv", registry / "limits.csv"])
        with ClickHouse(dsn) as ch:
            store.write_stations(ch, reg.stations)
            store.write_limits(ch, reg.limits)
        plan = make_plan(days=opts.days, stations=opts.stations, end=end, seed=opts.seed,
                         faults=load_script(DEFAULT_FAULTS), realtime_days=opts.realtime_days,
                         minute_days=opts.minute_days, registry=registry)
    if len(plan.stations) < opts.stations:
        print(f"[bench] the registry gives {len(plan.stations)} stations, not "
              f"{opts.stations}", file=sys.stderr)
    report = seed(dsn, plan, jobs=jobs)
    for line in report.lines():
        print("[seed] " + line, file=sys.stderr)
    with ClickHouse(dsn) as ch:
        ch.execute(f"CREATE TABLE {MARKER} (options String, end_local String, "
                   "seconds Float64) ENGINE = TinyLog")
        ch.insert_columns(MARKER, {"options": [json.dumps(asdict(opts))],
                                   "end_local": [end.isoformat()],
                                   "seconds": [report.seconds]})
    return end, report.seconds


def table_rows(dsn: str) -> dict[str, int]:
    db = urlsplit(dsn).path.lstrip("/")
    with ClickHouse(dsn) as ch:
        rows = ch.execute("SELECT table, sum(rows) FROM system.parts WHERE active AND "
                          "database = %(db)s GROUP BY table", {"db": db})
    found = {str(t): int(n) for t, n in rows}
    return {t: found.get(t, 0) for t in ROW_TABLES}


#: frames' columns but raw_hash, which a copy sets anew (it is in the table's key)
FRAME_COLUMNS = ("gateway, peer, mn, st, cn, qn, flag, edition, status, error_kind, "
                 "error_field, error_message, warnings, n_readings, raw")
READING_COLUMNS = ("mn, st, cn, code, wire_code, rtd, min, avg, max, cou, zs_rtd, zs_min, "
                   "zs_avg, zs_max, rs, rt, data, day_data, night_data, ala, up_value, "
                   "low_value, flag, eflag, qn, edition")


def make_filled(dsn: str, source: str, opts: SeedOptions, end: datetime, seed_s: float
                ) -> None:
    """``dsn``'s database as a copy of ``source``'s with the last day's real-time (2011)
    frames and readings copied onto each earlier day (shifted by whole days, new row
    keys), so frames and readings have about the volume of a month at full rate, which
    the seed thins away. Everything else (alarms, windows, completeness) is the seed's."""
    from pipeline.store.migrate import Migrator

    db, src = (urlsplit(d).path.lstrip("/") for d in (dsn, source))
    with ClickHouse(bench_dsn(dsn, "default")) as ch:
        ch.execute(f"DROP DATABASE IF EXISTS {db}")
    Migrator(dsn).migrate()
    day = end.replace(hour=0, minute=0).strftime("%Y-%m-%d %H:%M:%S")
    began = time.perf_counter()
    with ClickHouse(dsn) as ch:
        for table in (*TABLES, "station_crc_variants"):
            ch.execute(f"INSERT INTO {db}.{table} SELECT * FROM {src}.{table}")
        for k in range(1, opts.days):
            shift = 86400 * k
            print(f"[bench] real-time day copied {k} day(s) back", file=sys.stderr)
            ch.execute(
                f"INSERT INTO frames (receive_time, data_time, raw_hash, {FRAME_COLUMNS}) "
                f"SELECT receive_time - {shift}, data_time - {shift}, cityHash64(raw, {k}), "
                f"{FRAME_COLUMNS} FROM {src}.frames WHERE cn = '2011' "
                f"AND receive_time >= toDateTime(%(day)s, 'Asia/Shanghai')", {"day": day})
            ch.execute(
                f"INSERT INTO readings (data_time, receive_time, {READING_COLUMNS}) "
                f"SELECT data_time - {shift}, receive_time - {shift}, {READING_COLUMNS} "
                f"FROM {src}.readings WHERE cn = 2011 "
                f"AND data_time >= toDateTime(%(day)s, 'Asia/Shanghai')", {"day": day})
        # merged as a month-old store is: the copies went in day by day, and parts of
        # one day each would let a query on the last hour skip the rest by their min-max
        # index, which a merged month does not
        parts = ch.execute("SELECT DISTINCT table, partition FROM system.parts WHERE active "
                           "AND database = %(db)s AND table IN ('frames', 'frame_times')",
                           {"db": db})
        for table, partition in parts:
            ch.execute(f"OPTIMIZE TABLE {table} PARTITION {partition} FINAL",
                       settings={"optimize_throw_if_noop": 0})
        ch.execute(f"CREATE TABLE {MARKER} (options String, end_local String, "
                   "seconds Float64) ENGINE = TinyLog")
        ch.insert_columns(MARKER, {"options": [json.dumps({**asdict(opts), "filled": True})],
                                   "end_local": [end.isoformat()], "seconds": [seed_s]})
    print(f"[bench] filled in {time.perf_counter() - began:,.0f} s", file=sys.stderr)


# --- timing the pages -------------------------------------------------------------------------


@dataclass(slots=True)
class Timings:
    """Seconds per named query and per whole load, of one page in one scope."""

    queries: dict[str, list[float]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def timed_query(dsn: str, name: str, params: dict[str, Any]) -> tuple[float, int]:
    began = time.perf_counter()
    ch = ClickHouse(dsn)
    try:
        rows = queries.run(ch, name, **params)
    finally:
        ch.close()
    return time.perf_counter() - began, len(rows)


def time_pages(dsn: str, scope: Scope, now: datetime, mn: str, enterprise: str,
               loads: int) -> tuple[dict[str, Timings], dict[str, str]]:
    """Page key -> its timings, and page key -> why it could not be measured (a query
    that failed: a page still being written). Pages whose ``calls`` is still empty are
    left out of both."""
    calls = {k: v for k, v in page_calls(scope, now, mn, enterprise).items() if v}
    out = {k: Timings() for k in calls}
    failed: dict[str, str] = {}
    for _ in range(loads):
        for key, page in calls.items():
            if key in failed:
                continue
            t = out[key]
            total = 0.0
            for i, (name, params) in enumerate(page):
                label = name if name not in dict(page[:i]) else f"{name} #{i}"
                try:
                    secs, n = timed_query(dsn, name, params)
                except Exception as exc:  # reported per page; the other pages go on
                    failed[key] = (f"{name}: {type(exc).__name__}: {str(exc)[:300]}"
                                   .replace("|", "/").replace("\n", " "))
                    break
                t.queries.setdefault(label, []).append(secs)
                t.rows[label] = n
                total += secs
            t.loads.append(total)
    return {k: v for k, v in out.items() if k not in failed}, failed


def p95(xs: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (of 20 loads: the 19th fastest)."""
    s = sorted(xs)
    return s[max(0, -(-95 * len(s) // 100) - 1)]


def pick_station(dsn: str) -> tuple[str, str, str]:
    """(region, mn, enterprise): the region with the most active stations (the heaviest
    field engineer), and its station with the most alarm episodes (a page worth
    opening)."""
    with ClickHouse(dsn) as ch:
        region = ch.execute("SELECT region, count() AS n FROM stations FINAL WHERE active = 1 "
                            "GROUP BY region ORDER BY n DESC, region LIMIT 1")[0][0]
        mn, enterprise = ch.execute(
            "SELECT mn, enterprise FROM (SELECT mn, enterprise FROM stations FINAL "
            "WHERE active = 1 AND region = %(r)s) ANY LEFT JOIN (SELECT mn, count() AS n "
            "FROM alarms GROUP BY mn) USING (mn) ORDER BY n DESC, mn LIMIT 1",
            {"r": region})[0]
    return str(region), str(mn), str(enterprise)


# --- weekly reports ---------------------------------------------------------------------------


def last_full_week(first_day: date, end: datetime) -> date | None:
    """Monday of the last ISO week that lies wholly inside [first_day, end)."""
    monday = end.date() - timedelta(days=end.weekday() + 7)
    return monday if monday >= first_day else None


def as_renderer_takes(render_all: Callable[..., Any], monday: date, text: str) -> Any:
    """The week as ``render_all`` annotates it: ISO text ("2026-W48"), a date (its
    Monday), or else the report package's own week (``dashboards.report.week``)."""
    params = list(inspect.signature(render_all).parameters.values())
    kind = str(params[1].annotation) if len(params) > 1 else "str"
    if "str" in kind:
        return text
    if kind in ("date", str(date)):
        return monday
    return importlib.import_module("dashboards.report.week").parse_week(text)


def time_reports(dsn: str, monday: date | None) -> dict[str, Any]:
    try:
        report = importlib.import_module("dashboards.report")
    except ImportError:
        return {"measured": False, "why": "not measured: dashboards.report not available"}
    render_all: Callable[..., list[Path]] | None = getattr(report, "render_all", None)
    if render_all is None:
        return {"measured": False, "why": "not measured: dashboards.report has no render_all"}
    if monday is None:
        return {"measured": False, "why": "not measured: the data hold no full week"}
    iso = monday.isocalendar()
    week_text = f"{iso.year}-W{iso.week:02d}"
    week = as_renderer_takes(render_all, monday, week_text)
    # the renderer's own split of the time (queries, model, HTML, Chromium, PDF) if it
    # keeps one
    timing_cls = getattr(report, "Timing", None)
    extra: dict[str, Any] = {} if timing_cls is None else {"timing": timing_cls()}
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        paths = render_all(dsn, week, Path(tmp), pdf=True, **extra)
        secs = time.perf_counter() - began
        kinds = sorted({p.suffix for p in paths})
    steps = {k: round(v, 2) for k, v in vars(extra["timing"]).items()} if extra else {}
    return {"measured": True, "week": week_text, "files": len(paths), "kinds": kinds,
            "reports": sum(p.suffix == ".html" for p in paths), "seconds": round(secs, 2),
            "steps": steps, "met": secs < TARGET_REPORTS_S}


# --- the report -------------------------------------------------------------------------------


def git_commit() -> str:
    def run(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                              text=True, check=True).stdout.strip()

    try:
        rev = run("log", "-1", "--format=%h %s")
        dirty = run("status", "--porcelain", "dashboards", "pipeline/store")
        return rev + (" (+ uncommitted changes in dashboards/ or pipeline/store/)" if dirty
                      else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def ms(x: float) -> str:
    return f"{x * 1000:,.0f}"


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = [
        "# Web app pages: query speed",
        "",
        f"- machine: {m['cpu']}, {m['cores']} cores; ClickHouse {m['clickhouse']}; "
        f"{m['date']}; 1-minute load average {m['load_average'][0]} before the run, "
        f"{m['load_average'][1]} after",
        f"- commit: {m['commit']}",
        f"- data: {result['data']['summary']}; seeded in {result['data']['seed_s']:,.0f} s",
        "- rows: " + ", ".join(f"{t} {n:,}" for t, n in result["data"]["rows"].items()),
        f"- loads per page: {result['settings']['loads']}; fresh connection per query, "
        f"no cache; the pages' now: {result['settings']['now'].replace('T', ' ')} CST; "
        "station drill-down: " + result["settings"]["station"],
        "",
        "| scope | page | query | rows | p50 ms | p95 ms | max ms | < 1 s |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    for s in result["scopes"]:
        for page, p in s["pages"].items():
            for q in p["queries"]:
                mark = "yes" if q["met"] else "**NO**"
                lines.append(f"| {s['scope']} | {page} | `{q['name']}` | {q['rows']:,} | "
                             f"{ms(q['p50_s'])} | {ms(q['p95_s'])} | {ms(q['max_s'])} | "
                             f"{mark} |")
            lines.append(f"| {s['scope']} | {page} | **whole load** | | "
                         f"{ms(p['load_p50_s'])} | **{ms(p['load_p95_s'])}** | "
                         f"{ms(p['load_max_s'])} | |")
    for s in result["scopes"]:
        for page, why in s["failed"].items():
            lines.append(f"| {s['scope']} | {page} | **failed**: {why} | | | | | |")
    if result["pages_not_measured"]:
        lines += ["", "Not measured (their `calls` list no query yet): "
                  + ", ".join(result["pages_not_measured"]) + "."]
    r = result["reports"]
    lines += ["", "## Weekly reports", ""]
    if r["measured"]:
        lines.append(f"{r['reports']} enterprises' reports ({r['files']} files: "
                     f"{', '.join(r['kinds'])}) for week {r['week']} in {r['seconds']:,.1f} s "
                     "wall: " + ("met" if r["met"] else "**missed**")
                     + f" (target {TARGET_REPORTS_S:.0f} s)")
        if r["steps"]:
            lines.append("")
            lines.append("Steps (the renderer's Timing): " + ", ".join(
                f"{k} {v:,}" for k, v in r["steps"].items()))
    else:
        lines.append(f"TODO: {r['why']}")
    t = result["targets"]
    lines += ["", "## Targets", "",
              f"- every query p95 < 1 s: {'met' if t['queries'] else 'MISSED'}"
              + ("" if t["queries"] else " (" + ", ".join(t["slow"]) + ")"),
              f"- weekly reports < 60 s: {t['reports']}", ""]
    return "\n".join(lines)


def summarise(timings: dict[str, Timings]) -> dict[str, Any]:
    pages: dict[str, Any] = {}
    for key, t in timings.items():
        qs = [{"name": name, "rows": t.rows[name], "p50_s": statistics.median(xs),
               "p95_s": p95(xs), "max_s": max(xs), "met": p95(xs) < TARGET_QUERY_S,
               "runs_s": [round(x, 4) for x in xs]}
              for name, xs in t.queries.items()]
        pages[key] = {"queries": qs, "load_p50_s": statistics.median(t.loads),
                      "load_p95_s": p95(t.loads), "load_max_s": max(t.loads)}
    return pages


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--dsn", help="server (its database is replaced by --database); "
                    "default: the platform's settings")
    ap.add_argument("--database", default="hj212_bench")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--stations", type=int, default=320)
    ap.add_argument("--realtime-days", type=int, default=1)
    ap.add_argument("--minute-days", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="seed processes (1 leaves a core to whoever shares the machine)")
    ap.add_argument("--reseed", action="store_true", help="seed again even if the data fit")
    ap.add_argument("--fill-realtime", action="store_true",
                    help="measure on <database>_full: the seeded data with the last day's "
                    "real-time frames and readings copied onto every earlier day")
    ap.add_argument("--at", choices=("end", "month-end"), default="end",
                    help="the pages' now: the data's end, or the same time on the last "
                    "day of the month before it (the current month's partition then holds "
                    "most of the data, which the queries on recent frames scan)")
    ap.add_argument("--loads", type=int, default=20)
    ap.add_argument("--no-reports", action="store_true")
    ap.add_argument("--out", type=Path, help="results without suffix (default: "
                    "benchmarks/results/dashboards, or dashboards-full with --fill-realtime)")
    args = ap.parse_args(argv)

    commit = git_commit()  # now: pages and queries are imported at this commit
    dsn = bench_dsn(args.dsn or load_settings().clickhouse.dsn, args.database)
    opts = SeedOptions(args.days, args.stations, args.realtime_days, args.minute_days)
    found = None if args.reseed else seeded(dsn, opts)
    if found is None:
        print(f"[bench] seeding {opts} into {args.database}", file=sys.stderr)
        found = make_data(dsn, opts, args.jobs)
    else:
        print(f"[bench] reusing {args.database} ({opts})", file=sys.stderr)
        migrate(dsn)
    end, seed_s = found
    out: Path = args.out or ROOT / "benchmarks" / "results" / (
        "dashboards-full" if args.fill_realtime else "dashboards")
    if args.fill_realtime:
        seeded_dsn, dsn = dsn, bench_dsn(dsn, args.database + "_full")
        if args.reseed or seeded(dsn, opts, filled=True) is None:
            make_filled(dsn, seeded_dsn, opts, end, seed_s)
        else:
            migrate(dsn)
    now = end if args.at == "end" else end - timedelta(days=end.day)
    region, mn, enterprise = pick_station(dsn)
    with ClickHouse(dsn) as ch:
        version = ch.version()
        n_stations = ch.execute("SELECT uniqExact(mn) FROM frames WHERE mn != ''")[0][0]

    # the machine is shared (other work, the stack): its load says how much to trust a run
    load_before = os.getloadavg()[0]
    scopes: list[tuple[str, Scope]] = [("all regions", None), (f"engineer: {region}", (region,))]
    out_scopes: list[dict[str, Any]] = []
    measured: set[str] = set()
    for label, scope in scopes:
        print(f"[bench] {label}: {args.loads} loads per page", file=sys.stderr)
        timings, failed = time_pages(dsn, scope, now, mn, enterprise, args.loads)
        measured |= set(timings) | set(failed)
        out_scopes.append({"scope": label, "pages": summarise(timings), "failed": failed})

    first_day = end.date() - timedelta(days=args.days - 1)
    reports = ({"measured": False, "why": "not measured: --no-reports"} if args.no_reports
               else time_reports(dsn, last_full_week(first_day, end)))
    slow = sorted({f"{s['scope']}/{page}/{q['name']}" for s in out_scopes
                   for page, p in s["pages"].items() for q in p["queries"] if not q["met"]})
    result: dict[str, Any] = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "clickhouse": version,
                    "python": platform.python_version(), "commit": commit,
                    "date": now_local().strftime("%Y-%m-%d %H:%M CST"),
                    "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
        "settings": {"loads": args.loads, "now": now.isoformat(),
                     "station": f"{mn} ({enterprise}, {region})", **asdict(opts)},
        "data": {"database": urlsplit(dsn).path.lstrip("/"), "seed_s": seed_s,
                 "rows": table_rows(dsn),
                 "summary": f"{args.days} days to {end:%Y-%m-%d %H:%M} CST x {n_stations} "
                            f"stations with frames (real-time records on the last "
                            f"{opts.realtime_days} day(s), minute records on the last "
                            f"{opts.minute_days}, hourly and daily before"
                            + ("; then the last day's real-time frames and readings copied "
                               "onto every earlier day (--fill-realtime)"
                               if args.fill_realtime else "") + ")"},
        "scopes": out_scopes,
        "pages_not_measured": [k for k in page_calls(None, now, mn, enterprise)
                               if k not in measured],
        "reports": reports,
        "targets": {"queries": not slow, "slow": slow,
                    "reports": ("met" if reports.get("met") else "MISSED")
                    if reports["measured"] else "not measured"},
    }
    text = markdown(result)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text, encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(result, ensure_ascii=False, indent=2)
                                             + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
