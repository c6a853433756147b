"""What the service-record suites (test_service_flow.py, test_quality_month.py) share: a
database of their own on the real ClickHouse, the people of the service desk, ledger rows
written straight into ``ledger_events`` (a seeded past), and a ledger that refuses to be
written through (for suites that only read)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from argon2 import PasswordHasher

from admin.accounts import Accounts, Role
from pipeline.config import Settings
from pipeline.ledger.model import Change, Reply
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator

FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
CST = timezone(timedelta(hours=8))

#: the service desk: (user name, role, regions)
PEOPLE: tuple[tuple[str, Role, tuple[str, ...]], ...] = (
    ("zhang.wei", Role.DUTY_OPERATOR, ()),
    ("wang.fang", Role.DUTY_SUPERVISOR, ()),
    ("li.na", Role.FIELD_ENGINEER, ("宁青甘新",)),
    ("zhao.gang", Role.FIELD_ENGINEER, ("苏皖沪",)),
)


def database_dsn(cluster_dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(cluster_dsn)._replace(path=f"/{name}"))


def fresh_database(dsn: str) -> None:
    """Drop the database of ``dsn`` and create it again with every migration."""
    with ClickHouse(dsn, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")
    Migrator(dsn).migrate()


def drop_database(dsn: str) -> None:
    with ClickHouse(dsn, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")


def add_people(ch: ClickHouse, settings: Settings,
               people: Iterable[tuple[str, Role, tuple[str, ...]]] = PEOPLE) -> None:
    accounts = Accounts(ch, settings, hasher=FAST)
    for name, role, regions in people:
        accounts.add("it", name, name, [role], regions, "service flow test pw 2026",
                     source="test")


# --- a seeded past: ledger rows written directly --------------------------------------


@dataclass
class Seeded:
    """Ledger rows for one record, numbered 1, 2, ... as the writer would number them."""

    stream: str
    record_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, actor: str, at: datetime, /, **payload: Any) -> Seeded:
        self.rows.append({"stream": self.stream, "record_id": self.record_id,
                          "seq": len(self.rows) + 1, "kind": kind, "actor": actor,
                          "at": at, "payload": payload})
        return self


def epoch_ms_cst(at: datetime) -> int:
    """Milliseconds since the Unix epoch of a naive CST time (computed here with a fixed
    +08:00 zone, not with the code under test)."""
    return int(at.replace(tzinfo=CST).timestamp() * 1000)


def insert_seeded(ch: ClickHouse, records: Iterable[Seeded]) -> int:
    rows = [r for rec in records for r in rec.rows]
    if not rows:
        return 0
    ms = [epoch_ms_cst(r["at"]) for r in rows]
    return ch.insert_columns("ledger_events", {
        "stream": [r["stream"] for r in rows],
        "record_id": [r["record_id"] for r in rows],
        "seq": [r["seq"] for r in rows],
        "request_id": [f"seed-{r['stream']}-{r['record_id']}-{r['seq']}" for r in rows],
        "kind": [r["kind"] for r in rows],
        "actor": [r["actor"] for r in rows],
        "at": [m // 1000 for m in ms],
        "at_ms": ms,
        "payload": [json.dumps(r["payload"], ensure_ascii=False, default=str)
                    for r in rows],
        "source": ["seed"] * len(rows),
    })


class ReadOnlyLedger:
    """For suites that only read records: any submit is a bug in the test."""

    def submit(self, change: Change, wait_s: float | None = None) -> Reply:
        raise AssertionError(f"read-only suite submitted {change.kind} on "
                             f"{change.stream}/{change.record_id}")
