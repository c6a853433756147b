"""hj212.code_table / lookup / pollutant_2017, and crc16 against appendix A's bitwise algorithm."""

from __future__ import annotations

import hj212
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.codec_vectors import STD_FRAME, crc16_modbus

TABLES = ["st", "cn", "flag", "qnrtn", "exertn", "pollutant", "process", "equipment", "info",
          "info_class"]
KEYS = {"table", "code", "code_2005", "name_zh", "name_en", "unit", "unit_cou", "note"}

# (2017 code, 2005 code, English name contains, unit) from HJ212.md / appendix B
COMMON = [
    ("w00000", "B01", "flow", "L/s"),
    ("w01001", "001", "pH", "-"),
    ("w01018", "011", "COD", "mg/L"),
    ("w21003", "060", "ammonia", "mg/L"),
    ("w21011", "101", "phosphorus", "mg/L"),
    ("w21001", "065", "nitrogen", "mg/L"),
    ("a00000", "B02", "flow", "m3/s"),
    ("a34013", "01", "particulate", "mg/m3"),
    ("a21026", "02", "SO2", "mg/m3"),
    ("a21002", "03", "NOx", "mg/m3"),
    ("a19001", "S01", "O2", "%"),
    ("a01011", "S02", "velocity", "m/s"),
    ("a01012", "S03", "temperature", "degC"),
    ("a01013", "S08", "pressure", "kPa"),
    ("a01014", "S05", "humidity", "%"),
]


def crc16_reference(data: bytes) -> int:
    """Appendix A, bit by bit."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
    return crc


# --- crc16 -----------------------------------------------------------------------------


def test_crc16_of_the_standards_example():
    assert hj212.crc16(STD_FRAME[6:-6]) == 0x1C80
    assert crc16_reference(STD_FRAME[6:-6]) == 0x1C80


def test_crc16_edge_inputs():
    assert hj212.crc16(b"") == 0xFFFF
    for data in (b"\x00", b"\xff", b"A", bytes(range(256)), b"\xff" * 5000):
        assert hj212.crc16(data) == crc16_reference(data)


@given(st.binary(max_size=2048))
def test_crc16_equals_the_bitwise_definition(data):
    assert hj212.crc16(data) == crc16_reference(data)


@given(st.binary(min_size=1, max_size=64))
def test_crc16_is_not_modbus(data):
    # the two agree on some inputs by chance, never on the standard's example
    assert crc16_modbus(STD_FRAME[6:-6]) != 0x1C80
    if crc16_modbus(data) != crc16_reference(data):
        assert hj212.crc16(data) != crc16_modbus(data)


def test_crc16_takes_bytes_only():
    with pytest.raises(TypeError):
        hj212.crc16("text")  # type: ignore[arg-type]


# --- code tables -----------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_every_table_has_rows_with_every_column(table):
    rows = hj212.code_table(table)
    assert rows
    first: dict[str, dict[str, str]] = {}
    for r in rows:
        assert set(r) == KEYS
        assert r["table"] == table and r["code"]
        assert r["name_zh"] or r["name_en"]
        if r["code"] in first:
            # only the standard's own misprints repeat a code, and the data file says so
            assert "duplicate code as printed" in r["note"], r
        first.setdefault(r["code"], r)
    for code, r in first.items():
        assert hj212.lookup(table, code) == r


def test_unknown_table_raises_value_error_naming_the_tables():
    with pytest.raises(ValueError) as ei:
        hj212.code_table("nope")
    msg = str(ei.value)
    assert "nope" in msg
    for t in ("st", "cn", "pollutant", "qnrtn", "exertn", "flag"):
        assert t in msg


@pytest.mark.parametrize(("code", "c2005", "name", "unit"), COMMON)
def test_common_pollutants(code, c2005, name, unit):
    r = hj212.lookup("pollutant", code)
    assert r is not None
    assert name.lower() in r["name_en"].lower()
    assert r["name_zh"]
    assert r["unit"] == unit
    assert r["code_2005"] == c2005
    assert hj212.pollutant_2017(c2005) == code


def test_cou_units():
    assert hj212.lookup("pollutant", "w00000")["unit_cou"] == "m3"
    assert hj212.lookup("pollutant", "w01018")["unit_cou"] == "kg"
    assert hj212.lookup("pollutant", "a21026")["unit_cou"] == "kg"


def test_system_codes():
    st_codes = {r["code"] for r in hj212.code_table("st")}
    assert {"21", "22", "23", "31", "32", "51", "52", "91"} <= st_codes
    assert "waste water" in hj212.lookup("st", "32")["name_en"]
    assert "flue gas" in hj212.lookup("st", "31")["name_en"]


def test_command_codes():
    cn = {r["code"] for r in hj212.code_table("cn")}
    expected = {"1000", "1011", "1012", "1013", "1061", "1062", "1063", "1064", "1072", "2011",
                "2012", "2021", "2022", "2031", "2041", "2051", "2061", "2081", "3011", "3020",
                "3021", "9011", "9012", "9013", "9014"}
    assert expected <= cn
    assert "notify" in hj212.lookup("cn", "1013")["note"]
    assert "upload" in hj212.lookup("cn", "2011")["note"]


def test_data_flags_qnrtn_exertn():
    assert [r["code"] for r in hj212.code_table("flag")][:8] == list("NFMSDCTB")
    assert {r["code"] for r in hj212.code_table("qnrtn")} == {
        "1", "2", "3", "4", "5", "6", "7", "8", "9", "100",
    }
    assert "CRC" in hj212.lookup("qnrtn", "9")["name_en"]
    assert "MN" in hj212.lookup("qnrtn", "4")["name_en"]
    assert {r["code"] for r in hj212.code_table("exertn")} == {"1", "2", "3", "4", "5", "6", "100"}
    assert "no data" in hj212.lookup("exertn", "100")["name_en"]


def test_lookup_misses_give_none():
    assert hj212.lookup("pollutant", "zzz999") is None
    assert hj212.lookup("st", "99") is None
    assert hj212.lookup("no_such_table", "32") is None
    assert hj212.pollutant_2017("zzz") is None
    assert hj212.pollutant_2017("w01018") is None  # already a 2017 code


def test_every_2005_code_maps_back():
    rows = [r for r in hj212.code_table("pollutant") if r["code_2005"]]
    assert len(rows) > 50
    for r in rows:
        assert hj212.lookup("pollutant", hj212.pollutant_2017(r["code_2005"]))["code_2005"] == (
            r["code_2005"]
        )


def test_known_codes_draw_no_unknown_code_warning():
    cp = ";".join(f"{c}-Rtd=1" for c, *_ in COMMON) + ";" + ";".join(
        f"{c2005}-Rtd=1" for _, c2005, *_ in COMMON
    )
    seg = ("QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
           f"CP=&&DataTime=20160801085857;{cp}&&")
    f = hj212.parse_segment(seg, strict=True)
    assert f.warnings == []
    assert len(f.pollutants) == 2 * len(COMMON)
