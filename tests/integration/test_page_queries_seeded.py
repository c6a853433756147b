"""The pages' named queries on the local ClickHouse 18.16: each page seed (see
tests/query_coverage.py) in a database of its own, and every one of its checks, which
the unit suite runs on current ClickHouse (chDB)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from tests.query_coverage import failing, page_groups

pytestmark = pytest.mark.integration

GROUPS = page_groups()


@pytest.mark.parametrize("group", GROUPS, ids=[g.name for g in GROUPS])
def test_page_queries_on_18_16(stack, group):
    parts = urlsplit(stack.clickhouse_dsn)
    name = "hj212_it_pages_" + str(GROUPS.index(group))
    dsn = urlunsplit(parts._replace(path=f"/{name}"))
    with ClickHouse(dsn, database="default") as boot:
        boot.execute(f"DROP DATABASE IF EXISTS {name}")
    Migrator(dsn).migrate()
    try:
        with ClickHouse(dsn) as ch:
            group.seed(ch)
            assert group.checks
            assert failing(ch, group) == []
    finally:
        with ClickHouse(dsn, database="default") as boot:
            boot.execute(f"DROP DATABASE IF EXISTS {name}")
