"""The seed of tests/store_seed.py on the local ClickHouse (18.16): migrations, every named
query and the completeness SQL must give the answers derived from the seed, the same ones
tests/unit/test_store_chdb.py asks of current ClickHouse (chDB). Works in its own database,
dropped first."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator, load_migrations
from pipeline.store.queries import QUERIES
from tests import store_seed as s
from tests.query_coverage import checked_queries

pytestmark = pytest.mark.integration

CHECKS = s.query_checks()


@pytest.fixture(scope="module")
def ch(stack) -> Iterator[ClickHouse]:
    parts = urlsplit(stack.clickhouse_dsn)
    dsn = urlunsplit(parts._replace(path="/hj212_it_seeded"))
    with ClickHouse(dsn, database="default") as boot:
        boot.execute("DROP DATABASE IF EXISTS hj212_it_seeded")
    assert Migrator(dsn).migrate() == [m.name for m in load_migrations()]
    with ClickHouse(dsn) as conn:
        s.seed(conn)
        yield conn
        conn.execute("DROP DATABASE IF EXISTS hj212_it_seeded")


def test_every_migration_makes_its_tables_as_written(ch):
    for table, columns in s.schema_columns().items():
        assert s.described(ch, table) == columns, table


def test_values_come_back_as_the_driver_gives_them(ch):
    assert s.value_kinds(ch) == s.VALUE_KINDS


def test_every_named_query_has_a_seeded_check():
    # the store's seed here, the pages' seeds in their own databases (tests/query_coverage.py)
    assert checked_queries() == set(QUERIES)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_named_query(ch, check):
    assert s.answer(ch, check) == s.canon_rows(check.expected)


def test_completeness_sql(ch):
    want = s.canon_rows(s.expected_completeness())
    assert s.refresh_completeness(ch) == len(want)
    assert s.stored_completeness(ch) == want
    s.refresh_completeness(ch)
    assert s.stored_completeness(ch) == want
