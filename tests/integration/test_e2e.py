"""End to end on the real stack: simulator -> gateway -> Kafka ->
worker -> ClickHouse, with a fault script on an accelerated clock.

The simulator's loggers (in-process ``Fleet``) talk TCP to an in-process gateway that
publishes to topics of this run only; ``hj212 worker`` runs as a subprocess on a database
of this run only, on the data clock (``--clock data``: the simulated hours pass far
faster than the wall) and with a rules file that turns the time rules off (the gateway
stamps receive times with the wall clock, which an accelerated simulator is far from).

Checked: every injected fault of a detectable kind has an alarm with its station,
pollutant and rule (matched by ``benchmarks/score_detectors.py``'s own matching); the
clean stations raise nothing; the drop-out's minute-data gap is back-filled through a
real request (worker -> hj212.commands -> gateway downlink -> logger replay) and its
window in ``missing_windows`` ends ``filled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped,unused-ignore]

from benchmarks.score_detectors import (
    NOT_DETECTORS,
    Episode,
    Truth,
    load_alarms,
    load_truth,
    score,
)
from pipeline.detect.rules import DEFAULT_PATH
from pipeline.gateway.auth import StaticDirectory, StationEntry
from pipeline.gateway.server import Gateway
from pipeline.registry.csv_io import read_files
from pipeline.registry.store import write_limits, write_stations
from pipeline.simulator.clock import SimClock
from pipeline.simulator.datalogger import make_loggers
from pipeline.simulator.faults import GroundTruth, assign, load_script
from pipeline.simulator.fleet import Fleet, FleetOptions
from pipeline.simulator.stations import REGISTRY_DIR, load_fleet
from pipeline.stack import kafka
from pipeline.stack.live import LiveStack
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from tests.integration.test_worker import _lag
from tests.integration.worker_env import log_tail, worker_env

pytestmark = pytest.mark.integration

HJ212 = Path(sys.executable).parent / "hj212"
START = datetime(2024, 3, 1, 8, 0, 0)
HOURS = 5
SPEED = 360.0  # simulated seconds per wall second: 5 h in 50 s
SEED = 1
STATIONS = 8  # the registry's first eight; #6 and #7 get no fault
CLEAN = (6, 7)
DROPOUT = 5

# Small on purpose: one fault of each detectable value kind and a back-fillable drop-out,
# spread so no two faults of one station overlap. Registry stations by index:
# 0 and 2, 4, 6 are waste water (st=32), 1 (edition 2005), 3, 5, 7 flue gas (st=31).
FAULTS = f"""
[[fault]]
id = "cod-over-limit"
kind = "over_limit"
stations = "#0"
pollutant = "w01018"
start = "1h"
duration = "2h"
factor = 1.6

[[fault]]
id = "tp-out-of-range"
kind = "out_of_range"
stations = "#0"
pollutant = "w21011"
start = "3h30m"
duration = "45m"

[[fault]]
id = "nox-zero"
kind = "zero"
stations = "#1"
pollutant = "a21002"
start = "1h"
duration = "1h"

[[fault]]
id = "nh3n-stuck"
kind = "constant"
stations = "#2"
pollutant = "w21003"
start = "1h"
duration = "90m"

[[fault]]
id = "dust-spike"
kind = "spike"
stations = "#3"
pollutant = "a34013"
start = "2h"
duration = "2m"
factor = 10.0

[[fault]]
id = "o2-calibration"
kind = "flag"
stations = "#3"
pollutant = "a19001"
start = "3h"
duration = "45m"
flag = "C"

[[fault]]
id = "flow-negative"
kind = "negative"
stations = "#4"
pollutant = "w00000"
start = "2h"
duration = "30m"

[[fault]]
id = "silent-75m"
kind = "dropout"
stations = "#{DROPOUT}"
start = "2h"
duration = "75m"
"""


async def _create_topics(bootstrap: str, names: dict[str, str], partitions: dict[str, int]
                         ) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions[kind], 1)
                                   for kind, topic in names.items()])
    finally:
        await admin.close()


class E2E:
    """Topics, database, settings and the worker process of one run."""

    def __init__(self, stack: LiveStack, tmp: Path) -> None:
        self.tmp = tmp
        self.tag = uuid.uuid4().hex[:8]
        self.bootstrap = stack.kafka_bootstrap
        s = stack.settings
        self.topics = {kind: f"test.e2e.{self.tag}.{kind}"
                       for kind in ("frames", "rejects", "commands", "alarms")}
        self.partitions = {kind: getattr(s.partitions, kind) for kind in self.topics}
        self.dsn = urlunsplit(urlsplit(stack.clickhouse_dsn)._replace(
            path=f"/hj212_it_e2e_{self.tag}"))
        self.app_id = f"e2e-{self.tag}"
        self.settings = dataclasses.replace(
            s,
            topics=dataclasses.replace(s.topics, **self.topics),
            clickhouse=dataclasses.replace(s.clickhouse, dsn=self.dsn),
            gateway=dataclasses.replace(s.gateway, port=0, metrics_port=0, id=f"gw-{self.tag}",
                                        frames_per_s_per_mn=1000.0, drain_timeout=10.0),
            spool=dataclasses.replace(s.spool, dir=str(tmp / "spool"), fsync_interval=0.0))
        self.worker_log = tmp / "worker.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def ch(self) -> ClickHouse:
        return ClickHouse(self.dsn)

    def rules_file(self) -> Path:
        # the packaged rules with the time rules off; everything else as shipped
        text = DEFAULT_PATH.read_text(encoding="utf-8")
        assert "\ndisabled = []\n" in text, "default.toml changed its [defaults] layout"
        text = text.replace("\ndisabled = []\n",
                            '\ndisabled = ["time_future", "time_stale"]\n', 1)
        path = self.tmp / "rules-e2e.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def start_worker(self) -> None:
        env = worker_env(self.bootstrap, self.dsn, self.topics, self.tmp / "run")
        fh = self.worker_log.open("ab")
        self.proc = subprocess.Popen(
            [str(HJ212), "worker", "--app-id", self.app_id, "--clock", "data",
             "--tick-seconds", "0.5", "--rules", str(self.rules_file()),
             "--batch-frames", "2000", "--batch-seconds", "0.2"],
            env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        fh.close()

    def tail(self, n: int = 40) -> str:
        return log_tail(self.worker_log, n)

    def check_worker(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited {self.proc.returncode}: {self.tail()}")

    def stop_worker(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _wait(what: str, fn: Any, timeout: float, run: E2E) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        run.check_worker()
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:.0f} s; worker log:\n"
                                 f"{run.tail()}")
        time.sleep(0.5)


def _naive_cst(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)


async def _simulate(run: E2E, truth_path: Path, faults_path: Path) -> dict[str, Any]:
    fleet_spec = load_fleet(STATIONS, SEED)[:STATIONS]
    directory = StaticDirectory([StationEntry(s.mn, s.station.pw, str(s.station.st),
                                              s.station.edition) for s in fleet_spec])
    gw = Gateway(run.settings, directory=directory)  # publisher and downlink on
    await gw.start()
    try:
        # the downlink consumer starts at the topic's end: let it join before any request
        await asyncio.sleep(3)
        truth = GroundTruth(truth_path)
        assigned = assign(load_script(faults_path), fleet_spec, START, SEED)
        loggers = make_loggers(fleet_spec, start=START, seed=SEED, faults=assigned,
                               truth=truth)
        fleet = Fleet(loggers, SimClock(START, SPEED),
                      FleetOptions(port=gw.port, tick=0.05, stagger=0.0, seed=SEED),
                      truth=truth)
        totals = await fleet.run(START + timedelta(hours=HOURS))
        return {"totals": totals.as_dict(),
                "replayed": {lg.mn: lg.stats.replayed for lg in loggers},
                "mns": [s.mn for s in fleet_spec]}
    finally:
        assert gw.publisher is None or await gw.publisher.drain(60)
        await gw.stop()


@dataclasses.dataclass
class Outcome:
    """What one run of the scenario left, for the tests below to judge."""

    mns: list[str]
    truth: list[Truth]
    alarms: list[Episode]
    rows: list[dict[str, Any]]
    windows: list[dict[str, Any]]
    commands: list[dict[str, Any]]
    replayed: dict[str, int]
    seconds: float

    @property
    def dropout_mn(self) -> str:
        return self.mns[DROPOUT]

    def dropout_truth(self) -> Truth:
        (t,) = [t for t in self.truth if t.kind == "dropout"]
        return t


@pytest.fixture(scope="module")
def outcome(stack: LiveStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """The scenario, run once for the module (about a minute): the tests share it."""
    tmp = tmp_path_factory.mktemp("e2e")
    run = E2E(stack, tmp)
    asyncio.run(_create_topics(run.bootstrap, run.topics, run.partitions))
    with ClickHouse(run.dsn, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")
    Migrator(run.dsn).migrate()
    # the worker reads cadences and emission limits from the registry in ClickHouse
    registry = read_files([REGISTRY_DIR / "stations.csv", REGISTRY_DIR / "limits.csv"])
    with run.ch() as ch:
        write_stations(ch, registry.stations)
        write_limits(ch, registry.limits)
    try:
        yield _scenario(run, tmp)
    finally:
        run.stop_worker()
        with ClickHouse(run.dsn, database="default") as ch:
            ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")
        kafka.delete_topics(run.bootstrap, [*run.topics.values(), f"{run.app_id}-station-state"])


def _scenario(e2e: E2E, tmp_path: Path) -> Outcome:
    began = time.monotonic()
    faults_path = tmp_path / "faults.toml"
    faults_path.write_text(FAULTS, encoding="utf-8")
    truth_path = tmp_path / "truth.jsonl"

    e2e.start_worker()
    _wait("worker joined its group", lambda: "partitions.assigned" in e2e.worker_log.read_text(
        errors="replace") if e2e.worker_log.exists() else False, 60, e2e)
    joined = time.monotonic()

    sim = asyncio.run(_simulate(e2e, truth_path, faults_path))
    simulated = time.monotonic()
    mns: list[str] = sim["mns"]
    dropout_mn = mns[DROPOUT]

    # drained: every frame the gateway published is stored and committed by the worker
    _wait("worker caught up", lambda: asyncio.run(_lag(
        e2e.bootstrap, e2e.app_id, [e2e.topics["frames"], e2e.topics["rejects"]])) == 0,
        90, e2e)

    def minute_windows() -> list[dict[str, Any]]:
        with e2e.ch() as ch:
            return ch.query_dicts(
                "SELECT cn, window_start, window_end, state, expected, received, requests "
                f"FROM missing_windows FINAL WHERE mn = '{dropout_mn}' ORDER BY cn, "
                "window_start")

    # the replay of the last request may still be on its way through Kafka
    with contextlib.suppress(AssertionError):  # asserted below, with the windows shown
        _wait("the drop-out's minute-data window filled", lambda: any(
            w["cn"] == 2051 and w["state"] == "filled" for w in minute_windows()), 30, e2e)
    drained = time.monotonic()

    with e2e.ch() as ch:
        rows = ch.query_dicts("SELECT mn, code, rule, state, opened_at, last_seen "
                              "FROM alarms FINAL ORDER BY mn, opened_at")
        commands = ch.query_dicts(
            "SELECT qn, cn, state, begin_time, end_time FROM commands FINAL "
            f"WHERE mn = '{dropout_mn}' ORDER BY qn")
        readings = int(ch.execute("SELECT count() FROM readings FINAL")[0][0])
    windows = minute_windows()
    if os.environ.get("E2E_DEBUG"):  # the rows behind the FINAL states above
        with e2e.ch() as ch:
            for h in ch.execute(
                    "SELECT cn, window_start, window_end, state, expected, received, requests, "
                    f"version FROM missing_windows WHERE mn = '{dropout_mn}' ORDER BY cn, "
                    "window_start, version"):
                print("[e2e] history", h)

    truth = load_truth(truth_path.read_text(encoding="utf-8").splitlines())
    alarms = load_alarms(json.dumps({
        "mn": r["mn"], "code": r["code"], "rule": r["rule"],
        "opened_at": _naive_cst(r["opened_at"]).isoformat(),
        "last_seen": _naive_cst(r["last_seen"]).isoformat()}) for r in rows)
    table = score(truth, alarms, timedelta(hours=1))
    print(f"\n[e2e] worker joined in {joined - began:.1f} s; {HOURS} h simulated in "
          f"{simulated - joined:.1f} s; drained and back-filled in {drained - simulated:.1f} s; "
          f"{readings} readings; fleet {json.dumps(sim['totals'])}")
    for row in table:
        print(f"[e2e] {row['rule']:<18} truth {row['truth']} found {row['found']} "
              f"alarms {row['alarms']} true {row['true_alarms']}")
    for a in alarms:
        if not a.matched:
            print(f"[e2e] unexplained alarm: {a.rule} {a.mn} {a.code or '-'} "
                  f"{a.first:%H:%M}-{a.last:%H:%M}")
    print(f"[e2e] drop-out {dropout_mn}: windows {windows}; commands {commands}")

    return Outcome(mns=mns, truth=truth, alarms=alarms, rows=rows, windows=windows,
                   commands=commands, replayed=sim["replayed"],
                   seconds=time.monotonic() - began)


# --- the checks ---------------------------------------------------------------------


def test_every_injected_fault_is_alarmed_with_its_station_pollutant_and_rule(
        outcome: Outcome) -> None:
    detectable = [t for t in outcome.truth if t.rule not in NOT_DETECTORS]
    kinds = {t.kind for t in detectable}
    assert kinds == {"over_limit", "out_of_range", "zero", "constant", "spike", "flag",
                     "negative", "dropout"}, f"the simulator injected {sorted(kinds)}"
    missed = [f"{t.line['fault']}: {t.rule} {t.mn} {t.code or '-'} {t.start:%H:%M}-"
              f"{t.end:%H:%M}" for t in detectable if not t.found]
    assert not missed, f"injected faults without their alarm: {missed}; alarms: {outcome.rows}"
    assert outcome.seconds < 180, f"the scenario took {outcome.seconds:.0f} s, over budget"


def test_clean_stations_raise_nothing(outcome: Outcome) -> None:
    clean = {outcome.mns[i] for i in CLEAN}
    noisy = [r for r in outcome.rows if r["mn"] in clean]
    assert not noisy, f"clean stations raised alarms: {noisy}"


def test_dropout_is_backfilled_through_the_downlink_and_its_window_filled(
        outcome: Outcome) -> None:
    gap = outcome.dropout_truth()
    lo, hi = (datetime.fromisoformat(x) for x in gap.line["windows"]["2051"])
    requests = [c for c in outcome.commands if c["cn"] == 2051]
    assert requests, f"no minute-data back-fill request reached the gateway: {outcome.commands}"
    # the request went out through the gateway, the logger took it and finished it
    assert any(c["state"] == "executed" and _naive_cst(c["begin_time"]) <= lo
               and _naive_cst(c["end_time"]) >= hi for c in requests), (
        f"no executed 2051 request covers the withheld {lo}..{hi}: {requests}")
    assert outcome.replayed[outcome.dropout_mn] > 0, "the logger replayed nothing"
    minute = [w for w in outcome.windows if w["cn"] == 2051]
    assert minute and all(w["state"] == "filled" for w in minute), (
        f"the drop-out's minute-data window is not filled: {outcome.windows}")
    assert _naive_cst(minute[0]["window_start"]) == lo


def test_dropout_window_counts_every_withheld_record(outcome: Outcome) -> None:
    hi = datetime.fromisoformat(outcome.dropout_truth().line["windows"]["2051"][1])
    (minute,) = [w for w in outcome.windows if w["cn"] == 2051]
    assert _naive_cst(minute["window_end"]) == hi, outcome.windows
    assert minute["expected"] == minute["received"] >= 2, outcome.windows
