"""Registry CSV files: the sample reads clean; bad files report every error by line."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from pipeline.registry import csv_io, make_sample
from pipeline.registry.cli import SAMPLE_FILES

HEADER = ",".join(csv_io.STATION_COLUMNS)
GOOD = "010000A8900016F000169DC0,123456,某化工有限公司,DW001,32,2017,江苏,,60,10,1"


def test_sample_is_valid_and_matches_its_generator():
    reg = csv_io.read_files(SAMPLE_FILES)
    assert len(reg.stations) >= 300 and len(reg.limits) >= 2000
    assert {s.st for s in reg.stations} == {"31", "32"}
    assert {s.edition for s in reg.stations} == {2005, 2017, 2025}
    assert len({s.region for s in reg.stations}) == 8
    # the committed files are what the seeded generator writes
    stations, limits = make_sample.make()
    buf = io.StringIO()
    csv_io.write_stations(stations, buf)
    assert buf.getvalue() == SAMPLE_FILES[0].read_text(encoding="utf-8")
    buf = io.StringIO()
    csv_io.write_limits(limits, buf)
    assert buf.getvalue() == SAMPLE_FILES[1].read_text(encoding="utf-8")


def test_sample_limits_are_realistic():
    reg = csv_io.read_files(SAMPLE_FILES)
    by_code: dict[str, list] = {}
    for lim in reg.limits:
        by_code.setdefault(lim.code, []).append(lim)
    assert all(x.basis == "zs_avg" for x in by_code["a21026"])
    assert all(x.limit_low == 6 and x.limit_high == 9 for x in by_code["w01001"])
    assert all(math.isnan(x.limit_high) for x in by_code["a19001"])
    cod = {x.limit_high for x in by_code["w01018"]}
    assert cod <= {50, 60, 100, 500}
    for lim in reg.limits:
        assert lim.range_low < lim.range_high
        assert math.isnan(lim.limit_high) or lim.limit_high <= lim.range_high


def _read(text: str, name: str = "s.csv", known=()):
    return csv_io.read_texts([(name, text)], known)


def test_good_station_derives_region_and_defaults():
    reg = _read(f"{HEADER}\n{GOOD}\n")
    (s,) = reg.stations
    assert s.region == "苏皖沪" and s.province == "江苏" and s.active


def test_every_error_is_reported_with_line_column_value():
    rows = [
        GOOD,
        "XYZ,12345,,DW001,99,2017,Atlantis,,10,7,maybe",  # line 3: many errors
        GOOD,  # line 4: duplicate MN
        "12345678901234,123456,某厂,,32,2005,西藏,,60,10,1",  # line 5: no region
        "12345678901235,123456,某厂,,32,2005,江苏,晋豫陕,60,10,1",  # line 6: wrong region
    ]
    with pytest.raises(csv_io.CsvImportError) as info:
        _read(HEADER + "\n" + "\n".join(rows) + "\n")
    errors = info.value.errors
    text = str(info.value)
    assert "nothing was imported" in text
    on3 = {e.column for e in errors if e.line == 3}
    assert on3 >= {"mn", "pw", "enterprise", "st", "province", "rtd_interval",
                   "min_interval", "active"}
    mn3 = next(e for e in errors if e.line == 3 and e.column == "mn")
    assert mn3.value == "XYZ" and "24 characters" in mn3.message
    assert "s.csv:3: column mn='XYZ'" in text
    assert any(e.line == 4 and "duplicate" in e.message and "s.csv:2" in e.message
               for e in errors)
    assert any(e.line == 5 and "explicit" in e.message for e in errors)
    assert any(e.line == 6 and e.column == "region" and "苏皖沪" in e.message for e in errors)


def test_header_problems():
    with pytest.raises(csv_io.CsvImportError, match="missing column"):
        _read("mn,pw\nX,123456\n")
    with pytest.raises(csv_io.CsvImportError, match="unknown column"):
        _read(HEADER + ",colour\n" + GOOD + ",red\n")
    with pytest.raises(csv_io.CsvImportError, match="neither a stations file"):
        _read("a,b\n1,2\n")
    with pytest.raises(csv_io.CsvImportError, match="empty"):
        _read("")
    with pytest.raises(csv_io.CsvImportError, match="cells but the header"):
        _read(HEADER + "\n" + GOOD + ",extra\n")


def test_limits_checks_and_references():
    lh = ",".join(csv_io.LIMIT_COLUMNS)
    text = (f"{lh}\n"
            "010000A8900016F000169DC0,w01018,,50,avg,0,200,mg/L,1\n"
            "010000A8900016F000169DC0,w01018,,60,avg,0,200,mg/L,1\n"  # duplicate
            "FFFFFFFFFFFFFFFFFFFFFFFF,w21003,,5,avg,0,20,mg/L,1\n"  # unknown station
            "010000A8900016F000169DC0,011,9,6,max,10,5,,1\n"  # many errors
            "010000A8900016F000169DC0,a21026,,300,zs_avg,0,200,mg/m3,1\n")  # limit > range
    with pytest.raises(csv_io.CsvImportError) as info:
        csv_io.read_texts([("s.csv", f"{HEADER}\n{GOOD}\n"), ("l.csv", text)])
    errs = info.value.errors
    assert any(e.file == "l.csv" and e.line == 3 and "duplicate" in e.message for e in errs)
    assert any(e.line == 4 and e.column == "mn" and "no such station" in e.message
               for e in errs)
    on5 = {e.column for e in errs if e.line == 5}
    assert on5 >= {"code", "basis", "limit_low", "range_low", "unit"}
    assert any(e.line == 6 and e.column == "limit_high" for e in errs)
    # the station may already be in the registry instead of in the import
    ok = csv_io.read_texts([("l.csv", f"{lh}\n010000A8900016F000169DC0,w01018,,50,avg,0,200,"
                                      "mg/L,1\n")], known_mns={"010000A8900016F000169DC0"})
    assert len(ok.limits) == 1 and math.isnan(ok.limits[0].limit_low)


def test_gb18030_files_are_read(tmp_path: Path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(f"{HEADER}\n{GOOD}\n".encode("gb18030"))
    (s,) = csv_io.read_files([path]).stations
    assert s.enterprise == "某化工有限公司"


def test_round_trip(tmp_path: Path):
    reg = csv_io.read_files(SAMPLE_FILES)
    out_s, out_l = tmp_path / "s.csv", tmp_path / "l.csv"
    with out_s.open("w", encoding="utf-8", newline="") as fh:
        csv_io.write_stations(reg.stations, fh)
    with out_l.open("w", encoding="utf-8", newline="") as fh:
        csv_io.write_limits(reg.limits, fh)
    again = csv_io.read_files([out_s, out_l])
    assert again.stations == reg.stations
    assert len(again.limits) == len(reg.limits)
    for a, b in zip(again.limits, reg.limits, strict=True):
        assert (a.mn, a.code, a.basis, a.unit) == (b.mn, b.code, b.basis, b.unit)
        for f in ("limit_low", "limit_high", "range_low", "range_high"):
            x, y = getattr(a, f), getattr(b, f)
            assert (math.isnan(x) and math.isnan(y)) or x == y


def test_crc_variants_column_is_optional_checked_and_round_trips(tmp_path: Path):
    from pipeline.registry import model

    # without the column (the sample's form): no variants, and the export keeps that form
    (plain,) = _read(f"{HEADER}\n{GOOD}\n").stations
    assert plain.crc_variants == ()
    buf = io.StringIO()
    csv_io.write_stations([plain], buf)
    assert buf.getvalue().splitlines()[0] == HEADER
    # with it: names in any case, separated by , ; | or spaces, each once
    text = (f"{HEADER},crc_variants\n{GOOD},\"MODBUS, modbus\"\n"
            "12345678901234,123456,某厂,,32,2005,江苏,,60,10,1,\n")
    a, b = _read(text).stations
    assert (a.crc_variants, b.crc_variants) == (("modbus",), ())
    assert model.parse_crc_variants(" modbus ; x|y z") == ("modbus", "x", "y", "z")
    path = tmp_path / "s.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv_io.write_stations([a, b], fh)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER + ",crc_variants" and lines[1].endswith(",modbus")
    assert csv_io.read_files([path]).stations == [a, b]


def test_unknown_crc_variants_are_reported_with_line_and_value():
    rows = f"{HEADER},crc_variants\n{GOOD},crc32\n" \
           "12345678901234,123456,某厂,,32,2005,江苏,,60,10,1,hj212\n"
    with pytest.raises(csv_io.CsvImportError) as info:
        _read(rows)
    errs = {(e.line, e.column, e.value): e.message for e in info.value.errors}
    assert "unknown CRC variant crc32; known: modbus" in errs[(2, "crc_variants", "crc32")]
    assert "always accepted" in errs[(3, "crc_variants", "hj212")]
