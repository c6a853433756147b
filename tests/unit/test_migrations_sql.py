"""The migration files: names, numbering, statement splitting, and 18.16-safe SQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.store.migrate import (
    SCHEMA_DIR,
    MigrationError,
    iter_forbidden,
    load_migrations,
    split_statements,
)

MIGRATIONS = load_migrations()


def test_numbered_from_one_without_gaps():
    assert [m.number for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert all(m.checksum and len(m.checksum) == 64 for m in MIGRATIONS)


@pytest.mark.parametrize("mig", MIGRATIONS, ids=lambda m: m.name)
def test_no_feature_clickhouse_18_16_lacks(mig):
    assert list(iter_forbidden(mig.sql)) == []


@pytest.mark.parametrize("mig", MIGRATIONS, ids=lambda m: m.name)
def test_statements_are_rerunnable_creates_in_new_syntax(mig):
    stmts = mig.statements()
    assert stmts, f"{mig.name} has no statement"
    for stmt in stmts:
        upper = stmt.upper()
        if upper.startswith("CREATE MATERIALIZED VIEW"):
            # a view that fills a table of its own (TO), never an inner .inner table
            assert re.match(r"CREATE MATERIALIZED VIEW IF NOT EXISTS \w+ TO \w+ AS\s+SELECT ",
                            stmt), stmt[:80]
            continue
        if upper.startswith("INSERT"):
            # a one-off fill of a table this migration creates, from a table's rows
            target = re.match(r"INSERT INTO (\w+) SELECT .* FROM \w+$", stmt, re.S)
            assert target, stmt[:80]
            assert any(re.match(rf"CREATE TABLE IF NOT EXISTS {target.group(1)}\b", s)
                       for s in stmts), f"{mig.name} fills a table it does not create"
            continue
        if upper.startswith("ALTER TABLE"):
            # a column added with a default, so rows written before read a value; the
            # migrator skips it when the column is already there (18.16 has no IF NOT
            # EXISTS here)
            assert re.match(r"ALTER TABLE \w+ ADD COLUMN \w+ .+ DEFAULT .+$", stmt, re.S), \
                stmt[:80]
            for m in re.finditer(r"\bDateTime\b(\(?)", stmt):
                assert m.group(1) == "(", f"{mig.name}: DateTime without 'Asia/Shanghai'"
            continue
        assert upper.startswith("CREATE TABLE IF NOT EXISTS"), stmt[:60]
        engine = re.search(r"ENGINE\s*=\s*(\w+)", stmt)
        assert engine and engine.group(1) in ("MergeTree", "ReplacingMergeTree")
        assert re.search(r"\bORDER BY\b", stmt)
        # time columns carry the standard's zone, so the server's zone never matters
        for m in re.finditer(r"\bDateTime\b(\(?)", stmt):
            assert m.group(1) == "(", f"{mig.name}: DateTime without 'Asia/Shanghai'"


def test_issue_tables_are_all_created():
    sql = " ".join(m.sql for m in MIGRATIONS)
    names = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", sql))
    assert {"frames", "readings", "stations", "limits", "alarms", "missing_windows",
            "commands"} <= names


def test_readings_key_dedupes_replays():
    sql = next(m.sql for m in MIGRATIONS if "readings" in m.name)
    assert "ReplacingMergeTree(receive_time)" in sql
    assert "ORDER BY (mn, cn, code, data_time)" in sql
    assert "PARTITION BY toYYYYMM(data_time)" in sql


def test_readings_value_columns_match_decode_batch():
    import hj212

    sql = next(m.sql for m in MIGRATIONS if "readings" in m.name)
    for name in hj212.NUMERIC_SUFFIXES:
        assert re.search(rf"^\s+{name}\s+Float64", sql, re.M), name


def test_forbidden_detects_each_feature():
    found = set(iter_forbidden(
        "CREATE TABLE t (a DateTime64(3), b LowCardinality(String)) ENGINE = MergeTree "
        "ORDER BY a TTL a + INTERVAL 1 DAY; SELECT sum(x) OVER (PARTITION BY y) FROM t"))
    assert {"TTL", "DateTime64", "LowCardinality", "window functions (OVER)"} <= found
    assert "old MergeTree(date, key, granularity) form" in set(
        iter_forbidden("ENGINE = MergeTree(d, (a, b), 8192)"))
    # comments are not SQL
    assert list(iter_forbidden("-- no TTL here\nSELECT 1")) == []


def test_split_keeps_quotes_and_drops_comments():
    sql = "-- a; comment\nSELECT 'a;b', `c;d` /* x; y */ FROM t;\n\nSELECT 2;;"
    assert split_statements(sql) == ["SELECT 'a;b', `c;d`   FROM t", "SELECT 2"]
    assert split_statements("SELECT 'it\\'s;'") == ["SELECT 'it\\'s;'"]
    with pytest.raises(MigrationError, match="unterminated"):
        split_statements("SELECT 'oops")


def test_misnamed_and_duplicate_numbers_are_refused(tmp_path: Path):
    (tmp_path / "001_a.sql").write_text("SELECT 1")
    (tmp_path / "001_b.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="share number 001"):
        load_migrations(tmp_path)
    (tmp_path / "001_b.sql").unlink()
    (tmp_path / "2_bad.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match="misnamed"):
        load_migrations(tmp_path)


def test_schema_dir_is_packaged_next_to_the_code():
    assert SCHEMA_DIR.is_dir() and SCHEMA_DIR.parent.name == "store"
