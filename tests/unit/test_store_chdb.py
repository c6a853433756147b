"""The store's SQL on current ClickHouse: every migration, every named query and the
completeness SQL run on chDB (ClickHouse 26.x embedded) on the seed of tests/store_seed.py,
and must give the answers derived there from the seed. tests/integration/
test_store_seeded.py holds the local 18.16 server to the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from pipeline.store.queries import QUERIES
from tests import store_seed as s
from tests.query_coverage import checked_queries
from tests.unit.chdb_client import ChdbClickHouse, migrate

CHECKS = s.query_checks()


@pytest.fixture(scope="module")
def ch() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse() as conn:
        migrate(conn)
        s.seed(conn)
        yield conn


def test_the_engine_is_a_current_clickhouse(ch):
    assert ch.version_tuple() >= (24, 1), ch.version()
    # the seed's CST times must not be read on the server's own clock
    assert ch.execute("SELECT timezone()")[0][0] != "Asia/Shanghai"


def test_every_migration_makes_its_tables_as_written(ch):
    want = s.schema_columns()
    assert {"frames", "readings", "limits", "completeness"} <= set(want)
    for table, columns in want.items():
        assert s.described(ch, table) == columns, table
    assert [c for c, _ in s.described(ch, "schema_migrations")] == [
        "name", "checksum", "applied_at", "duration_ms", "server_version"]


def test_values_come_back_as_the_driver_gives_them(ch):
    assert s.value_kinds(ch) == s.VALUE_KINDS


def test_every_named_query_has_a_seeded_check():
    # the store's seed here, the pages' seeds in their own databases (tests/query_coverage.py)
    assert checked_queries() == set(QUERIES)
    assert all(c.expected for c in CHECKS if c.id != "station_readings-empty")


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_named_query(ch, check):
    assert s.answer(ch, check) == s.canon_rows(check.expected)


def test_completeness_sql(ch):
    want = s.canon_rows(s.expected_completeness())
    written = s.refresh_completeness(ch)
    assert written == len(want)
    assert s.stored_completeness(ch) == want
    # a second refresh rewrites the same figures with a newer version; FINAL keeps one
    s.refresh_completeness(ch)
    assert s.stored_completeness(ch) == want


def test_the_derived_answers_match_a_count_by_hand():
    """The expectations are derived by code; a few of them counted by hand from the seed
    so a slip in that code cannot pass on both servers unnoticed."""
    comp = {(r["mn"], r["code"]): (r["expected"], r["received"], r["valid"])
            for r in s.expected_completeness()}
    assert comp == {
        # 08:00 20; 08:10 600 out of range; 08:20 resent as N; 08:30 no Avg; 08:50 '' flag
        (s.A, "w01018"): (6, 5, 3),
        (s.A, "w01001"): (6, 4, 4),  # 20 is valid: its limits row was deactivated
        (s.A, "w00000"): (6, 2, 1),  # no limits row; 08:00 resent flagged M
        (s.A, ""): (6, 5, 2),  # 08:20 and 08:50 have every pollutant valid
        (s.C, "w01018"): (6, 2, 1),
        (s.C, ""): (6, 2, 1),
        # 00, 07 and 23 valid; 01 out of the narrowed range; 02 flag F; 12 no Avg
        (s.B, "a21026"): (24, 6, 3),
        (s.B, "a21002"): (24, 5, 5),  # -3 is valid: no limits row
        (s.B, ""): (24, 7, 4),  # 00, 05, 07 and 23
    }
    rejects = s.expected_rejects_by_reason(s.REJECTS_START, s.REJECTS_END)
    assert [(r["error_kind"], r["frames"], r["stations"]) for r in rejects] == [
        ("crc", 2, 2), ("field", 1, 1), ("header", 1, 1)]
    latest = {r["mn"]: r for r in s.expected_latest_frame_per_station()}
    assert latest[s.B]["last_status"] == "rejected"
    assert latest[s.B]["last_data_time"] == datetime(2024, 3, 1, 23, 0)
    assert latest[s.C]["last_data_time"] is None and latest[s.A]["frames"] == 4
    hourly = {(r["hour"].hour, r["code"]): r for r in s.expected_hourly_means(
        s.A, datetime(2024, 3, 1, 7), datetime(2024, 3, 1, 10))}
    # 08:00 w01018: minute Avgs 20, 25 (resent), Rtd 21 (no Avg), 30; real-time 19.5, 21;
    # 600 is flagged N and finite, so it counts too (the mean does not range-check)
    assert hourly[(8, "w01018")]["mean"] == pytest.approx(
        (20 + 600 + 25 + 21 + 30 + 19.5 + 21) / 7)
    assert hourly[(8, "w01001")]["flagged"] == 1
