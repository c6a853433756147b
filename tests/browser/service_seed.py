"""The service-record flow's own data in the browser suite's database
(tests/browser/test_service_flow_browser.py), added on top of tests/browser/browser_seed.py:

- a resident engineer of 京津冀鲁 whom the flow creates (``ENGINEER``), and a service
  settings file (a copy of admin/service.toml) whose roster names him for that region, so
  the duty desk's dispatch is routed by the roster, not by the seed's other engineer;
- an open ``offline`` alarm on the region's silent station (registered, never heard: what
  the detector would say of it), written as the worker writes episodes; ``offline`` is a
  fault that stops the system, so the work order runs the response and on-site clocks too.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from admin.accounts import Accounts, Role
from admin.service_settings import SAMPLE
from pipeline.config import Settings
from pipeline.store.client import ClickHouse
from pipeline.timebase import unix_from_local, version_ms
from tests.browser import browser_seed
from tests.browser.browser_seed import SeedStation

REGION = browser_seed.JJ
OTHER_REGION = browser_seed.YG
ENGINEER = "eng.svc"
ENGINEER_NAME = "驻地工程师 孙浩"

#: the sample's line for the region's roster, and what the flow's copy puts there
_ROSTER_LINE = f'"{REGION}" = []'


def settings_file(folder: Path) -> Path:
    """A copy of the sample service settings whose roster for REGION names ENGINEER."""
    text = SAMPLE.read_text(encoding="utf-8")
    assert text.count(_ROSTER_LINE) == 1, (
        f"admin/service.toml no longer has the line {_ROSTER_LINE!r}; update the test")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "service-flow.toml"
    path.write_text(text.replace(_ROSTER_LINE, f'"{REGION}" = ["{ENGINEER}"]'),
                    encoding="utf-8")
    rosters = tomllib.loads(path.read_text(encoding="utf-8"))["rosters"]["regions"]
    assert rosters[REGION] == [ENGINEER], rosters
    return path


def add_engineer(ch: ClickHouse, settings: Settings) -> None:
    accounts = Accounts(ch, settings)
    if accounts.get(ENGINEER) is None:
        accounts.add("browser-suite", ENGINEER, ENGINEER_NAME, [Role.FIELD_ENGINEER],
                     [REGION], browser_seed.PASSWORD, source="test")


def station(stations: tuple[SeedStation, ...], region: str, simulated: bool) -> SeedStation:
    return next(s for s in stations if s.region == region and s.simulated == simulated)


def offline_alarm(ch: ClickHouse, st: SeedStation, now: datetime) -> str:
    """An open offline episode of ``st`` opened 30 minutes before ``now``; its id."""
    opened = now.replace(microsecond=0) - timedelta(minutes=30)
    seen = int(unix_from_local(now - timedelta(minutes=1)))
    alarm_id = f"{st.mn}//offline/{opened:%Y%m%d%H%M%S}"
    row: dict[str, Any] = {
        "alarm_id": alarm_id, "mn": st.mn, "cn": 0, "code": "", "rule": "offline",
        "severity": "major", "state": "open", "opened_at": int(unix_from_local(opened)),
        "last_seen": seen, "cleared_at": None, "occurrences": 1, "value": float("nan"),
        "threshold": float("nan"), "message": f"{st.enterprise}: offline", "evidence": "{}",
        "version": version_ms()}
    ch.insert_columns("alarms", {k: [v] for k, v in row.items()})
    return alarm_id
