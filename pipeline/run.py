"""`hj212 run`: the whole platform on one machine, with a one-screen summary.

It brings the local stack up, migrates, loads the sample registry when the registry is
empty, starts the web app (``hj212 ui``; on a fresh database it creates the first admin
with a password generated into ``<run_dir>/ui/first-admin-password``, and the screen
shows the URL and that login), seeds a week of history on a fresh database, then starts
the gateway, the stream worker, a simulated fleet, the ledger writer (``hj212 ledger``:
the duty desk's actions), the notifier (``hj212 notify --print``: what it would send)
and the service records' clock (``hj212 service-watch``) as child processes, each
logging to ``<run_dir>/logs/<name>.log``. Every second it reads the gateway's metrics
endpoint and prints what flows, and one line for each alarm episode as it opens (read
from ``hj212.alarms``). Ctrl-C, a SIGTERM (a service manager's stop, ``docker stop``) or
``--seconds`` stops the children gracefully, fleet first so that the gateway can drain,
the web app last.

The children are separate processes on purpose: it is how they run in production, a
crash of one shows in the summary instead of taking the others down, and their logs stay
apart.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from pipeline.alarm_feed import AlarmFeed
from pipeline.config import Settings
from pipeline.interrupts import sigterm_as_interrupt

#: the fleet's default fault script: trouble from the first simulated minutes, so alarms
#: open within a minute or two of wall time at 60x, then the sample script's day
SAMPLE_FAULTS = Path(__file__).parent / "simulator" / "faults" / "run.toml"
#: days of history seeded on a fresh machine (``hj212 seed``), so the pages have data
HISTORY_DAYS = 7

_METRIC = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>[0-9.e+-]+)$"
)


#: waits before restarting a child that exited on its own: doubling from the first to the
#: last, back to the first once it has run RESTART_HEALTHY_S
RESTART_WAIT_S = (1.0, 60.0)
RESTART_HEALTHY_S = 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    _fh: TextIO | None = None
    #: times restarted after exiting on its own
    restarts: int = 0
    _env: dict[str, str] | None = None
    _started_at: float = 0.0
    _wait_s: float = RESTART_WAIT_S[0]
    _restart_at: float | None = None

    def supervise(self, now: float) -> str | None:
        """Restart the child if it exited on its own with an error (a service that stops
        itself on what it cannot get past, the worker on a changelog it cannot load,
        counts on its supervisor), after a wait that doubles while it keeps failing;
        returns a line saying so when it exits or restarts, else None. An exit 0 is
        left alone: the child meant to finish."""
        if self.proc is None or self._env is None:
            return None
        code = self.proc.poll()
        if code is None:
            if now - self._started_at >= RESTART_HEALTHY_S:
                self._wait_s = RESTART_WAIT_S[0]
            return None
        if code == 0:
            return None
        if self._restart_at is None:
            self._restart_at = now + self._wait_s
            return (f"[run] {self.name} exited {code}; restarting it in {self._wait_s:.0f} s "
                    f"(log: {self.log})")
        if now < self._restart_at:
            return None
        self._restart_at = None
        self._wait_s = min(self._wait_s * 2, RESTART_WAIT_S[1])
        self.restarts += 1
        if self._fh is not None:
            self._fh.close()
        self.start(self._env)
        self._started_at = now  # on the caller's clock
        return f"[run] {self.name} restarted (restart {self.restarts})"

    def start(self, env: dict[str, str]) -> None:
        self._env = env
        self._started_at = time.monotonic()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.log.open("a", encoding="utf-8")
        self._fh.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(self.argv)}\n")
        self._fh.flush()
        # own process group: Ctrl-C in the terminal reaches us, and we stop them in order
        self.proc = subprocess.Popen(self.argv, stdout=self._fh, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)

    def state(self) -> str:
        if self.proc is None:
            return "not started"
        code = self.proc.poll()
        state = "running" if code is None else f"exited {code}"
        return f"{state}, restarted {self.restarts}x" if self.restarts else state

    def stop(self, timeout: float) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._fh is not None:
            self._fh.close()


@dataclass
class Snapshot:
    """Gateway counters at one moment."""

    at: float
    counters: dict[str, float] = field(default_factory=dict)

    def get(self, name: str, **labels: str) -> float:
        return sum(v for k, v in self.counters.items() if _matches(k, name, labels))

    def by_label(self, name: str, label: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, v in self.counters.items():
            if key.split("{", 1)[0] != name:
                continue
            found = re.search(rf'{label}="([^"]*)"', key)
            if found:
                out[found.group(1)] = out.get(found.group(1), 0.0) + v
        return out


def _matches(key: str, name: str, labels: dict[str, str]) -> bool:
    if key.split("{", 1)[0] != name:
        return False
    return all(f'{k}="{v}"' in key for k, v in labels.items())


def parse_metrics(text: str, at: float) -> Snapshot:
    """Prometheus text exposition -> a snapshot keyed by ``name{labels}``."""
    snap = Snapshot(at)
    for line in text.splitlines():
        m = _METRIC.match(line.strip())
        if m:
            key = m["name"] + (f"{{{m['labels']}}}" if m["labels"] else "")
            snap.counters[key] = float(m["value"])
    return snap


def scrape(port: int) -> Snapshot | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=0.5) as r:
            return parse_metrics(r.read().decode("utf-8", "replace"), time.monotonic())
    except OSError:
        return None


def summary(now: Snapshot | None, before: Snapshot | None, children: Sequence[Child],
            started: float) -> list[str]:
    """The screen: processes, then what the gateway saw (totals and rates)."""
    lines = [f"hj212 run: {time.monotonic() - started:,.0f} s   (Ctrl-C stops everything)", ""]
    lines += [f"  {c.name:<10} {c.state():<12} log: {c.log}" for c in children]
    lines.append("")
    if now is None:
        lines.append("gateway metrics: not answering yet")
        return lines
    dt = max(now.at - before.at, 1e-9) if before is not None else 0.0

    def rate(name: str, **labels: str) -> str:
        if before is None:
            return ""
        return f"{(now.get(name, **labels) - before.get(name, **labels)) / dt:>9,.0f}/s"

    frames = "hj212_gateway_frames_total"
    lines.append(f"connections open {now.get('hj212_gateway_connections_open'):>9,.0f}"
                 f"   total {now.get('hj212_gateway_connections_total'):,.0f}")
    lines.append(f"frames           {now.get(frames):>9,.0f}  {rate(frames)}")
    lines.append("  by CN          " + _pairs(now.by_label(frames, "cn")))
    lines.append("  by outcome     " + _pairs(now.by_label(frames, "outcome")))
    lines.append("answers          " + _pairs(now.by_label("hj212_gateway_answers_total", "cn")))
    lines.append("published        "
                 + _pairs(now.by_label("hj212_gateway_published_total", "topic"))
                 + f"  {rate('hj212_gateway_published_total')}")
    lines.append(f"spool depth      {now.get('hj212_gateway_spool_depth_records'):>9,.0f} records"
                 f"   publish errors {now.get('hj212_gateway_publish_errors_total'):,.0f}")
    lines.append(f"garbage bytes    {now.get('hj212_gateway_garbage_bytes_total'):>9,.0f}"
                 f"   throttled {now.get('hj212_gateway_throttled_total'):,.0f}")
    return lines


def _pairs(counts: dict[str, float]) -> str:
    return "  ".join(f"{k}={n:,.0f}" for k, n in sorted(counts.items()))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def prepare(settings: Settings, env: dict[str, str]) -> None:
    """Stack up, schema migrated, a registry to authenticate against."""
    for step in (["stack", "up"], ["db", "migrate"]):
        print(f"[run] hj212 {' '.join(step)}", flush=True)
        subprocess.run(_cli(*step), env=env, check=True)
    from pipeline.registry.store import known_mns
    from pipeline.store.client import ClickHouse

    with ClickHouse(settings.clickhouse.dsn) as ch:
        empty = not known_mns(ch)
    if empty:
        print("[run] hj212 stations sample (the registry is empty)", flush=True)
        subprocess.run(_cli("stations", "sample"), env=env, check=True)


def history_end(settings: Settings, now: datetime | None = None) -> datetime | None:
    """Where seeded history should end (CST, to the minute) when the database has no
    frame older than a day, else None: now, or the oldest stored record when an earlier
    short run left some (history must not write other values for its times)."""
    from pipeline.store.client import ClickHouse, StoreError
    from pipeline.timebase import now_local, unix_from_local

    now = (now or now_local()).replace(second=0, microsecond=0)
    try:
        with ClickHouse(settings.clickhouse.dsn) as ch:
            rows = ch.execute(
                "SELECT countIf(data_time < toDateTime(%(day_ago)s)), toString(min(data_time)) "
                "FROM frames WHERE status = 'accepted'",
                {"day_ago": int(unix_from_local(now - timedelta(days=1)))})
    except StoreError:
        return None
    older, oldest = rows[0] if rows else (0, None)
    if older:
        return None
    if oldest is not None:
        first = datetime.strptime(oldest, "%Y-%m-%d %H:%M:%S").replace(second=0)
        now = min(now, first)
    return now


def seed_history(settings: Settings, env: dict[str, str], stations: int, end: datetime,
                 days: int = HISTORY_DAYS) -> bool:
    """``hj212 seed`` for the fleet's stations up to ``end``; False (with a note) when it
    failed: the live run goes on without history."""
    argv = ["seed", "--days", str(days), "--stations", str(stations),
            "--end", end.isoformat(timespec="minutes")]
    print(f"[run] hj212 {' '.join(argv)} (no history older than a day; --no-history "
          "skips this)", flush=True)
    began = time.monotonic()
    done = subprocess.run(_cli(*argv), env=env, check=False)
    if done.returncode != 0:
        print(f"[run] seeding history failed (exit {done.returncode}); going on without it. "
              "Run `hj212 seed` by hand to see why.", flush=True)
        return False
    print(f"[run] history seeded in {time.monotonic() - began:,.0f} s", flush=True)
    return True


def continue_from(settings: Settings, now: datetime | None = None) -> str | None:
    """The simulated start (CST, ISO) just after the newest record already stored, when
    that is ahead of now; else None (the simulator starts now).

    An accelerated run leaves records hours into the future. A second run starting at now
    would send other values for the same stations and data times, and the worker would
    rightly report every one of them as resent with other values (time_conflict). Going
    on from where the last run stopped keeps one timeline, as real loggers do."""
    from pipeline.store.client import ClickHouse, StoreError
    from pipeline.timebase import now_local

    try:
        with ClickHouse(settings.clickhouse.dsn) as ch:
            rows = ch.execute("SELECT toString(max(data_time)) FROM frames "
                              "WHERE status = 'accepted'")
    except StoreError:
        return None
    if not rows or rows[0][0] is None:  # nothing stored yet
        return None
    latest = datetime.strptime(rows[0][0], "%Y-%m-%d %H:%M:%S")
    now = now or now_local()
    if latest < now:
        return None
    start = latest.replace(second=0) + timedelta(minutes=1)
    return start.isoformat()


def fleet_start(start: str | None, now: datetime | None = None) -> datetime:
    """The simulated time the fleet starts at (CST): ``start`` (``continue_from``), else
    now to the minute, as ``hj212 simulate`` takes it."""
    from pipeline.timebase import now_local

    if start is not None:
        return datetime.fromisoformat(start)
    return (now or now_local()).replace(second=0, microsecond=0)


def clues_not_before(began: datetime) -> datetime:
    """The first hour the clue sweep may judge: the first whole hour after the fleet
    began. The hour it began in holds records from before (seeded history, an earlier
    run) beside a logger's hourly record of the part since: they would disagree."""
    start = began.replace(minute=0, second=0, microsecond=0)
    return start if start == began else start + timedelta(hours=1)


def children(settings: Settings, stations: int, speed: float, faults: Path | None,
             start: str | None = None, clues_from: datetime | None = None) -> list[Child]:
    logs = settings.run_dir / "logs"
    out = [Child("gateway", _cli("gateway"), logs / "gateway.log")]
    # the simulator's clock runs `speed` times the wall's: the worker's offline and
    # overdue-data ticks must follow the data, or every station looks late at once
    clock = ["--clock", "data"] if speed != 1 else []
    out.append(Child("worker", _cli("worker", *clock), logs / "worker.log"))
    # the data-authenticity clues (异常线索): closed hours and days of stored data, on the
    # worker's clock, from the first whole hour of the fleet on
    floor = (["--not-before", clues_from.isoformat(timespec="minutes")]
             if clues_from is not None else [])
    out.append(Child("clues", _cli("clues", *clock, *floor), logs / "clues.log"))
    sim = ["simulate", "--stations", str(stations), "--speed", str(speed)]
    if faults is not None:
        sim += ["--faults", str(faults)]
    if start is not None:
        sim += ["--start", start]
    out.append(Child("simulate", _cli(*sim), logs / "simulate.log"))
    # the duty centre's services: the ledger writer answers the duty desk's actions, and
    # notify prints what it would send to WeCom, DingTalk, webhooks and mail (--print)
    out.append(Child("ledger", _cli("ledger"), logs / "ledger.log"))
    out.append(Child("notify", _cli("notify", "--print"), logs / "notify.log"))
    # the service records' clock: SLA warnings and breaches, visits due, renewal reminders
    out.append(Child("service-watch", _cli("service-watch"), logs / "service-watch.log"))
    return out


def first_password_file(settings: Settings) -> Path:
    return settings.run_dir / "ui" / "first-admin-password"


def ui_child(settings: Settings) -> Child:
    # through the CLI: pipeline/ may not import dashboards/ (hj212 ui is its plugin)
    return Child("ui", _cli("ui", "--first-password-file", str(first_password_file(settings))),
                 settings.run_dir / "logs" / "ui.log")


def ui_url(settings: Settings) -> str:
    host = settings.ui.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    return f"http://{shown}:{settings.ui.port}/"


def wait_for_ui(url: str, child: Child, timeout: float = 60.0) -> bool:
    """Whether the web app answers its health check within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.state() != "running":
            return False
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def ui_lines(settings: Settings, child: Child, up: bool) -> list[str]:
    """The web app's address and how to log in, for the screen."""
    url = ui_url(settings)
    if not up:
        return [f"web app          not answering at {url}; see {child.log}"]
    lines = [f"web app 网页端    {url}"]
    secret = first_password_file(settings)
    if secret.exists():
        password = secret.read_text(encoding="utf-8").strip()
        lines.append(f"log in 登录       user admin, password {password}  (generated on the "
                     f"first start into {secret}; `hj212 users passwd admin` changes it)")
    elif settings.admin.initial_password:
        lines.append("log in 登录       user admin, the password of "
                     "HJ212_ADMIN__INITIAL_PASSWORD")
    else:
        lines.append("log in 登录       with a user of `hj212 users list` "
                     "(`hj212 users add NAME --role ROLE` adds one)")
    return lines


def _alarm_feed(settings: Settings) -> AlarmFeed:

    feed = AlarmFeed(settings.kafka.servers, settings.topics.alarms)
    feed.start()
    return feed


def run(settings: Settings, *, stations: int, speed: float, faults: Path | None,
        seconds: float | None, setup: bool = True, history: bool = True,
        web: bool = True) -> int:
    # the children run in sessions of their own (so that a Ctrl-C reaches only this process,
    # which stops them in order): a SIGTERM must take the same way out
    with sigterm_as_interrupt():
        return _run(settings, stations=stations, speed=speed, faults=faults,
                    seconds=seconds, setup=setup, history=history, web=web)


def _run(settings: Settings, *, stations: int, speed: float, faults: Path | None,
         seconds: float | None, setup: bool, history: bool, web: bool) -> int:
    env = dict(os.environ)
    if setup:
        prepare(settings, env)
    # the web app first: its address is on screen while the history is written, and
    # its pages fill as the seed goes
    ui = ui_child(settings) if web else None
    web_lines: list[str] = []
    try:
        if ui is not None:
            print(f"[run] starting ui: hj212 {' '.join(ui.argv[3:])}", flush=True)
            ui.start(env)
            web_lines = ui_lines(settings, ui, wait_for_ui(ui_url(settings), ui))
            for line in web_lines:
                print(f"[run] {line}", flush=True)
        end = history_end(settings) if history else None
        if end is not None:
            seed_history(settings, env, stations, end)
    except KeyboardInterrupt:
        if ui is not None:
            ui.stop(timeout=10)
        return 130
    start = continue_from(settings)
    if start is not None:
        print(f"[run] the stored data reach into the simulated future: the fleet goes on "
              f"from {start} (CST)", flush=True)
    procs = children(settings, stations, speed, faults, start,
                     clues_from=clues_not_before(fleet_start(start)))
    if ui is not None:
        procs.insert(0, ui)  # stopped last
    tty = sys.stdout.isatty()
    started = time.monotonic()
    before: Snapshot | None = None
    feed: AlarmFeed | None = None
    recent: deque[str] = deque(maxlen=12)
    try:
        for c in procs:
            if c.proc is not None:
                continue  # the web app, already up
            print(f"[run] starting {c.name}: hj212 {' '.join(c.argv[3:])}", flush=True)
            c.start(env)
            if c.name == "gateway":
                time.sleep(1.0)  # let it listen before loggers connect
        feed = _alarm_feed(settings) if any(c.name == "worker" for c in procs) else None
        while seconds is None or time.monotonic() - started < seconds:
            time.sleep(1.0)
            for c in procs:
                said = c.supervise(time.monotonic())
                if said is not None:
                    print(said, flush=True)
                    recent.append(said)
            now = scrape(settings.gateway.metrics_port)
            screen = summary(now, before, procs, started)
            opened = feed.drain() if feed is not None else []
            if feed is not None:
                screen += ["", "alarms           " + _pairs(dict(feed.counts))]
            if tty:
                recent.extend(opened)
                shown = [screen[0], "", *web_lines, *screen[1:], *recent]
                sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(shown) + "\n")
            else:
                # the lines after the children's: connections and frames
                gateway = screen[2 + len(procs):5 + len(procs)]
                print(" | ".join(s.strip() for s in gateway if s.strip()), flush=True)
                if web_lines and int(time.monotonic() - started) % 60 == 0:
                    # a log read from its end still finds the address and the login
                    for line in web_lines:
                        print(line, flush=True)
                for line in opened:  # one line per episode as it opens
                    print(line, flush=True)
            sys.stdout.flush()
            before = now or before
            if all(c.proc is not None and c.proc.poll() == 0 for c in procs):
                break
    except KeyboardInterrupt:
        pass
    finally:
        # the fleet first, so the gateway answers what is in flight and drains to Kafka
        for c in reversed(procs):
            c.stop(timeout=settings.gateway.drain_timeout + 5)
        if feed is not None:
            feed.stop()
    print("\n".join(summary(before, None, procs, started)))
    if feed is not None:
        print("alarms           " + _pairs(dict(feed.counts)))
    failed = [c for c in procs if c.proc is not None and c.proc.returncode not in (0, -2, 130)]
    return 1 if failed else 0
