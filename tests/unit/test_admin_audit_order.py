"""Events recorded in the same millisecond keep the order they were recorded in
(admin/audit.py's stamps; migration 016). CI once listed a logout before its login."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from admin.audit import AuditLog, _Stamps
from tests.unit.chdb_client import ChdbClickHouse, migrate

T0 = 1_764_900_000.0


@pytest.fixture
def ch() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_audit_order") as conn:
        migrate(conn)
        conn.execute("TRUNCATE TABLE audit_log")
        yield conn


def test_events_of_one_instant_are_listed_as_recorded(ch):
    log = AuditLog(ch, clock=lambda: T0)
    actions = ["login_ok", "page_save", "page_undo", "page_save", "logout"]
    for action in actions:
        log.record("zhang.wei", action, target="zhang.wei", source="10.1.0.2")
    newest_first = [r["action"] for r in log.recent(target="zhang.wei")]
    assert newest_first == actions[::-1]
    times = {r["time_ms"] for r in log.recent(target="zhang.wei")}
    assert times == {int(T0 * 1000)}


def test_stamps_increase_through_ties_and_small_steps_back():
    stamps = _Stamps()
    first = stamps.next(T0)
    assert first == int(T0 * 1_000_000)
    assert stamps.next(T0) == first + 1
    assert stamps.next(T0 - 0.5) == first + 2
    assert stamps.next(T0 + 1.0) == first + 1_000_000


def test_a_clock_set_back_by_more_than_a_second_is_taken_as_it_is():
    stamps = _Stamps()
    stamps.next(T0 + 30.0)
    assert stamps.next(T0) == int(T0 * 1_000_000)
