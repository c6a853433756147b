"""The station registry against the real ClickHouse: import good and bad files through
the CLI, export round trip."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.registry import csv_io, store
from pipeline.registry.cli import SAMPLE_FILES
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dsn(stack) -> str:
    parts = urlsplit(stack.clickhouse_dsn)
    url = urlunsplit(parts._replace(path="/hj212_it_registry"))
    with ClickHouse(url, database="default") as ch:
        ch.execute("DROP DATABASE IF EXISTS hj212_it_registry")
    Migrator(url).migrate()
    return url


def hj212(dsn: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"HJ212_CLICKHOUSE__DSN": dsn},
                              catch_exceptions=False)


def counts(dsn: str) -> tuple[int, int]:
    with ClickHouse(dsn) as ch:
        return (ch.execute("SELECT count() FROM stations FINAL")[0][0],
                ch.execute("SELECT count() FROM limits FINAL")[0][0])


def test_sample_import_and_export_round_trip(dsn, tmp_path: Path):
    res = hj212(dsn, "stations", "sample")
    assert res.exit_code == 0, res.output
    reg = csv_io.read_files(SAMPLE_FILES)
    assert counts(dsn) == (len(reg.stations), len(reg.limits))
    out, lim = tmp_path / "out.csv", tmp_path / "lim.csv"
    res = hj212(dsn, "stations", "export", str(out), "--limits", str(lim))
    assert res.exit_code == 0, res.output
    again = csv_io.read_files([out, lim])
    assert sorted(again.stations, key=lambda s: s.mn) == sorted(reg.stations,
                                                                key=lambda s: s.mn)
    assert len(again.limits) == len(reg.limits)
    # importing the export changes nothing (new versions of the same rows)
    assert hj212(dsn, "stations", "import", str(out), str(lim)).exit_code == 0
    assert counts(dsn) == (len(reg.stations), len(reg.limits))


def test_bad_files_report_lines_and_import_nothing(dsn, tmp_path: Path):
    before = counts(dsn)
    header = ",".join(csv_io.STATION_COLUMNS)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        f"{header}\n"
        "AAAAAAAAAAAAAAAAAAAAAAA1,123456,好厂,DW001,32,2017,浙江,,60,10,1\n"
        "BBBB,12,坏厂,DW001,32,2017,浙江,,60,10,1\n"
        "CCCCCCCCCCCCCCCCCCCCCCC3,123456,坏厂,DW001,32,2017,Narnia,,5,10,1\n",
        encoding="utf-8")
    res = hj212(dsn, "stations", "import", str(bad))
    assert res.exit_code == 1
    assert f"{bad}:3: column mn='BBBB'" in res.output
    assert f"{bad}:3: column pw='12'" in res.output
    assert f"{bad}:4: column province='Narnia'" in res.output
    assert f"{bad}:4: column rtd_interval='5'" in res.output
    assert "nothing was imported" in res.output
    assert counts(dsn) == before  # the good first row was not written either


def test_dry_run_writes_nothing_and_new_rows_replace_old(dsn, tmp_path: Path):
    header = ",".join(csv_io.STATION_COLUMNS)
    mn = "0123456789ABCDEF01234567"
    f = tmp_path / "one.csv"
    f.write_text(f"{header}\n{mn},654321,试点厂,DW001,32,2017,Guangdong,,30,5,1\n",
                 encoding="utf-8")
    before = counts(dsn)
    res = hj212(dsn, "stations", "import", "--dry-run", str(f))
    assert res.exit_code == 0 and "dry run" in res.output
    assert counts(dsn) == before
    assert hj212(dsn, "stations", "import", str(f)).exit_code == 0
    f.write_text(f"{header}\n{mn},654321,试点厂,DW001,32,2017,Guangdong,,60,5,0\n",
                 encoding="utf-8")
    assert hj212(dsn, "stations", "import", str(f)).exit_code == 0
    with ClickHouse(dsn) as ch:
        (s,) = [x for x in store.read_stations(ch) if x.mn == mn]
        assert (s.rtd_interval, s.active, s.region) == (60, False, "粤桂湘琼鄂")
        assert mn not in {x.mn for x in store.read_stations(ch, active_only=True)}


def test_crc_variants_are_stored_exported_and_seen_by_the_gateway(dsn, tmp_path: Path):
    from pipeline.gateway.auth import clickhouse_loader

    header = ",".join(csv_io.STATION_COLUMNS)
    mn, other = "0123456789ABCDEF0123CCC1", "0123456789ABCDEF0123CCC2"
    f = tmp_path / "variants.csv"
    f.write_text(f"{header},crc_variants\n"
                 f"{mn},654321,试点厂,DW001,32,2017,浙江,,60,5,1,modbus\n"
                 f"{other},654321,试点厂,DW002,32,2017,浙江,,60,5,1,\n", encoding="utf-8")
    assert hj212(dsn, "stations", "import", str(f)).exit_code == 0
    with ClickHouse(dsn) as ch:
        got = {s.mn: s.crc_variants for s in store.read_stations(ch) if s.mn in (mn, other)}
    assert got == {mn: ("modbus",), other: ()}
    assert clickhouse_loader(dsn)()[mn].crc_variants == ("modbus",)
    out = tmp_path / "out.csv"
    assert hj212(dsn, "stations", "export", str(out)).exit_code == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == header + ",crc_variants"
    assert next(line for line in lines if line.startswith(mn)).endswith(",modbus")
    # a file without the column (the sample's form) clears what was allowed
    f.write_text(f"{header}\n{mn},654321,试点厂,DW001,32,2017,浙江,,60,5,1\n",
                 encoding="utf-8")
    assert hj212(dsn, "stations", "import", str(f)).exit_code == 0
    with ClickHouse(dsn) as ch:
        (s,) = [x for x in store.read_stations(ch) if x.mn == mn]
    assert s.crc_variants == ()
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{header},crc_variants\n{mn},654321,试点厂,DW001,32,2017,浙江,,60,5,1,"
                   "crc32\n", encoding="utf-8")
    res = hj212(dsn, "stations", "import", str(bad))
    assert res.exit_code == 1 and f"{bad}:2: column crc_variants='crc32'" in res.output
