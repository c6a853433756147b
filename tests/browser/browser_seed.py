"""The browser suite's data: six stations of the sample registry in three service
regions, two calendar days of their history (yesterday and today up to now, so the
pages' default "yesterday" has figures) written by ``hj212 seed`` (pipeline.seed: the
simulator's loggers, the worker's sinks and detectors, completeness per hour and day) for
the first four, so the other two are registered but silent; a few open alarm episodes
written straight into ``alarms`` so the overview always has some, whatever the hour; and
one user per role through admin.accounts.

Times are relative to ``now`` (China Standard Time), so "the last hour" and "today" have
something in them whenever the suite runs.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from admin.accounts import Accounts, Role
from pipeline import seed as history
from pipeline.config import Settings
from pipeline.registry import csv_io, store
from pipeline.simulator.faults import load_script
from pipeline.simulator.stations import REGISTRY_DIR
from pipeline.store.client import ClickHouse
from pipeline.timebase import unix_from_local, version_ms

JS, JJ, YG = "苏皖沪", "京津冀鲁", "粤桂湘琼鄂"
REGIONS = (JS, JJ, YG)
#: stations simulated by the seed: the first of each region, and a second of 苏皖沪; the
#: second of 京津冀鲁 and of 粤桂湘琼鄂 stay silent (registered, never heard)
SIMULATED = 4
PASSWORD = "Browser-Suite-2024!"  # every seeded user's; long enough for the policy

#: (username, display name, roles, regions): one user per role
USERS: tuple[tuple[str, str, tuple[Role, ...], tuple[str, ...]], ...] = (
    ("admin", "管理员 Admin", (Role.ADMIN,), ()),
    ("duty", "值守员 王芳", (Role.DUTY_OPERATOR,), ()),
    ("supervisor", "值守主管 李强", (Role.DUTY_SUPERVISOR,), ()),
    ("engineer", "驻地工程师 赵磊", (Role.FIELD_ENGINEER,), (JJ,)),
    ("quality", "质量管理 陈静", (Role.QUALITY,), ()),
    ("analyst", "分析 刘洋", (Role.ANALYST,), ()),
)


@dataclass(frozen=True)
class SeedStation:
    mn: str
    enterprise: str
    region: str
    simulated: bool


@dataclass(frozen=True)
class Seeded:
    now: datetime
    stations: tuple[SeedStation, ...]
    report: list[str]


def pick_registry(folder: Path) -> tuple[SeedStation, ...]:
    """stations.csv and limits.csv in ``folder``: six active flue-gas or waste-water
    stations of the sample registry, two per region, ordered so that the seed's first
    SIMULATED are the ones it simulates."""
    with (REGISTRY_DIR / "stations.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_region: dict[str, list[dict[str, str]]] = {r: [] for r in REGIONS}
    for row in rows:
        if (row["active"] == "1" and row["st"] in ("31", "32")
                and row["region"] in by_region and len(by_region[row["region"]]) < 2):
            by_region[row["region"]].append(row)
    first, second = [by_region[r][0] for r in REGIONS], [by_region[r][1] for r in REGIONS]
    chosen = [*first, *second]  # JS, JJ, YG, JS | JJ, YG
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "stations.csv", list(rows[0]), chosen)
    mns = {r["mn"] for r in chosen}
    with (REGISTRY_DIR / "limits.csv").open(encoding="utf-8-sig", newline="") as fh:
        limits = [r for r in csv.DictReader(fh) if r["mn"] in mns]
    _write(folder / "limits.csv", list(limits[0]), limits)
    return tuple(SeedStation(r["mn"], r["enterprise"], r["region"], i < SIMULATED)
                 for i, r in enumerate(chosen))


def _write(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def seed(dsn: str, now: datetime, folder: Path) -> Seeded:
    """The registry of ``folder`` and yesterday's and today's history up to ``now`` (naive
    CST)."""
    now = now.replace(microsecond=0)
    stations = pick_registry(folder)
    reg = csv_io.read_files([folder / "stations.csv", folder / "limits.csv"])
    with ClickHouse(dsn) as ch:
        store.write_stations(ch, reg.stations)
        store.write_limits(ch, reg.limits)
    plan = history.make_plan(days=2, stations=SIMULATED, end=now, registry=folder,
                             faults=load_script(history.DEFAULT_FAULTS))
    assert [s.mn for s in plan.stations] == [s.mn for s in stations if s.simulated]
    report = history.seed(dsn, plan, jobs=1, stream=io.StringIO())
    with ClickHouse(dsn) as ch:
        ch.insert_columns("alarms", _columns(_alarms(stations, now)))
    return Seeded(now=now, stations=stations, report=report.lines())


def _alarms(stations: tuple[SeedStation, ...], now: datetime) -> list[dict[str, Any]]:
    """Open episodes on the simulated stations (and one cleared), as the worker writes
    them; opened within the last hour, so they are the overview's latest."""
    version = version_ms()
    sim = [s for s in stations if s.simulated]

    def row(st: SeedStation, code: str, rule: str, severity: str, minutes_ago: int,
            state: str = "open") -> dict[str, Any]:
        opened = now - timedelta(minutes=minutes_ago)
        seen = int(unix_from_local(now - timedelta(minutes=1)))
        return {"alarm_id": f"{st.mn}/{code}/{rule}/{opened:%Y%m%d%H%M%S}", "mn": st.mn,
                "cn": 2051, "code": code, "rule": rule, "severity": severity,
                "state": state, "opened_at": int(unix_from_local(opened)), "last_seen": seen,
                "cleared_at": seen if state == "cleared" else None, "occurrences": 2,
                "value": 120.0 if code else float("nan"),
                "threshold": 100.0 if code else float("nan"),
                "message": f"{st.enterprise}: {rule} {code}".strip(), "evidence": "{}",
                "version": version}

    return [
        row(sim[0], "w01018", "over_limit", "critical", 50),
        row(sim[1], "", "missing", "major", 35),
        row(sim[2], "w01001", "constant_streak", "warning", 20),
        row(sim[3], "w21003", "spike", "info", 10),
        row(sim[1], "w01018", "negative", "warning", 40, state="cleared"),
    ]


def add_users(ch: ClickHouse, settings: Settings) -> None:
    accounts = Accounts(ch, settings)
    for username, display, roles, regions in USERS:
        accounts.add("browser-suite", username, display, roles, regions, PASSWORD,
                     source="test")


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [r[name] for r in rows] for name in rows[0]}
