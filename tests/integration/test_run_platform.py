"""`hj212 run` goes on from the simulated future a previous accelerated run left behind."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline.run import continue_from
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 5, 15, 30)


def test_the_fleet_starts_after_the_newest_stored_record_only_when_it_is_ahead(stack) -> None:
    parts = urlsplit(stack.settings.clickhouse.dsn)
    dsn = urlunsplit(parts._replace(path=f"/hj212_it_run_{uuid.uuid4().hex[:8]}"))
    settings = dataclasses.replace(
        stack.settings, clickhouse=dataclasses.replace(stack.settings.clickhouse, dsn=dsn))
    Migrator(dsn).migrate()
    try:
        assert continue_from(settings, NOW) is None  # nothing stored
        with ClickHouse(dsn) as ch:
            # INSERT ... SELECT: the driver sends VALUES rows as data blocks, not as SQL
            ch.execute("INSERT INTO frames (mn, status, data_time) SELECT 'A', 'accepted', "
                       "toDateTime('2026-11-24 04:00:00', 'Asia/Shanghai')")
            assert continue_from(settings, NOW) is None  # in the past: start now
            ch.execute("INSERT INTO frames (mn, status, data_time) SELECT 'A', 'accepted', "
                       "toDateTime('2026-11-24 12:45:20', 'Asia/Shanghai')")
            ch.execute("INSERT INTO frames (mn, status, data_time) SELECT 'B', 'rejected', "
                       "toDateTime('2026-11-25 00:00:00', 'Asia/Shanghai')")
        assert continue_from(settings, NOW) == "2026-11-24T12:46:00"
    finally:
        with ClickHouse(dsn, database="default") as ch:
            ch.execute(f"DROP DATABASE IF EXISTS `{ch.dsn.database}`")
