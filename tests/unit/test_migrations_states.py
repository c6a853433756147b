"""Migration bookkeeping without a server: states and drift errors."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from pipeline.store.client import StoreError, parse_dsn
from pipeline.store.migrate import MigrationError, _refuse_drift, _states, load_migrations


def _files(tmp_path: Path) -> list:
    (tmp_path / "001_a.sql").write_text("CREATE TABLE IF NOT EXISTS a (x UInt8) "
                                        "ENGINE = MergeTree ORDER BY x")
    (tmp_path / "002_b.sql").write_text("CREATE TABLE IF NOT EXISTS b (x UInt8) "
                                        "ENGINE = MergeTree ORDER BY x")
    return load_migrations(tmp_path)


def test_states(tmp_path: Path):
    files = _files(tmp_path)
    at = datetime(2024, 1, 1)
    states = _states(files, {"001_a.sql": (files[0].checksum, at)})
    assert [(s.name, s.status) for s in states] == [("001_a.sql", "applied"),
                                                    ("002_b.sql", "pending")]
    _refuse_drift(states, tmp_path)  # nothing to refuse


def test_changed_applied_file_is_an_error_naming_it(tmp_path: Path):
    files = _files(tmp_path)
    states = _states(files, {"001_a.sql": ("0" * 64, datetime(2024, 1, 1))})
    assert states[0].status == "changed"
    with pytest.raises(MigrationError, match=r"001_a\.sql .*now differs.*new numbered"):
        _refuse_drift(states, tmp_path)


def test_applied_but_missing_file_is_an_error(tmp_path: Path):
    files = _files(tmp_path)
    states = _states(files, {"009_gone.sql": ("1" * 64, datetime(2024, 1, 1))})
    assert states[-1].status == "missing"
    with pytest.raises(MigrationError, match=r"009_gone\.sql"):
        _refuse_drift(states, tmp_path)


def test_dsn_parsing():
    d = parse_dsn("clickhouse://u:p%40ss@db.example:9001/hj212")
    assert (d.host, d.port, d.user, d.password, d.database) == ("db.example", 9001, "u",
                                                                "p@ss", "hj212")
    assert "p@ss" not in str(d)
    assert parse_dsn("clickhouse://127.0.0.1").database == "default"
    with pytest.raises(StoreError, match="native"):
        parse_dsn("http://127.0.0.1:8123/hj212")
    with pytest.raises(StoreError, match="identifier"):
        parse_dsn("clickhouse://h/bad-name")
