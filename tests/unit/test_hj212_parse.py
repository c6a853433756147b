"""hj212.parse / parse_segment / Frame: every attribute, the three editions, strict vs lenient,
and every data segment of the standard's appendix C."""

from __future__ import annotations

import ast
from pathlib import Path

import hj212
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.codec_vectors import STD_FRAME, load_appendix_c

MN = "010000A8900016F000169DC0"
HEAD = f"QN=20160801085857223;ST=32;CN=2011;PW=123456;MN={MN};Flag=5;CP=&&"


def wrap(segment: str | bytes) -> bytes:
    seg = segment.encode() if isinstance(segment, str) else segment
    return b"##%04d%s%04X\r\n" % (len(seg), seg, hj212.crc16(seg))


def upload(cp: str) -> str:
    return HEAD + cp + "&&"


def codes(frame: hj212.Frame) -> list[str]:
    """The warning codes of a frame ("bare_lf", ...)."""
    return [w.split(":", 1)[0] for w in frame.warnings]


# --- the standard's frame ------------------------------------------------------------------


def test_standard_frame_every_attribute():
    f = hj212.parse(STD_FRAME, strict=True)
    assert f.qn == "20160801085857223"
    assert f.st == "32"
    assert f.cn == "1062"
    assert f.pw == "100000"
    assert f.mn == MN
    assert f.flag == 5
    assert f.edition == 2017
    assert f.needs_ack is True
    assert f.is_split is False
    assert f.pnum is None and f.pno is None
    assert f.rf is None
    assert f.cp == {"RtdInterval": "30"}
    assert f.cp_text == "RtdInterval=30"
    assert f.data_time is None
    assert f.pollutants == {}
    assert f.warnings == []
    assert f.raw == STD_FRAME
    assert f.segment == STD_FRAME[6:-6].decode()
    assert f.crc == 0x1C80
    assert f.crc == hj212.crc16(f.segment.encode())


def test_text_gives_original_text_of_header_and_cp_fields():
    f = hj212.parse(STD_FRAME)
    assert f.text("QN") == "20160801085857223"
    assert f.text("ST") == "32"
    assert f.text("CN") == "1062"
    assert f.text("PW") == "100000"
    assert f.text("MN") == MN
    assert f.text("Flag") == "5"
    assert f.text("CP") == "RtdInterval=30"
    assert f.text("RtdInterval") == "30"
    assert f.text("PNUM") is None
    assert f.text("NoSuchField") is None
    g = hj212.parse_segment(upload("DataTime=20160801085857;w01018-Rtd=02.50"))
    assert g.text("w01018-Rtd") == "02.50"  # the text as sent, not the float
    assert g.pollutants["w01018"]["Rtd"] == 2.5


def test_to_dict_has_every_field():
    f = hj212.parse(STD_FRAME)
    d = f.to_dict()
    assert d == {
        "qn": "20160801085857223",
        "st": "32",
        "cn": "1062",
        "pw": "100000",
        "mn": MN,
        "flag": 5,
        "edition": 2017,
        "needs_ack": True,
        "is_split": False,
        "pnum": None,
        "pno": None,
        "rf": None,
        "data_time": None,
        "cp": {"RtdInterval": "30"},
        "pollutants": {},
        "warnings": [],
        "crc": 0x1C80,
    }


def test_to_dict_of_a_data_upload():
    f = hj212.parse_segment(upload("DataTime=20160801085857;w01018-Rtd=2.2,w01018-Flag=N"))
    d = f.to_dict()
    assert d["data_time"] == "20160801085857"
    assert d["pollutants"] == {"w01018": {"Rtd": 2.2, "Flag": "N"}}
    assert d["cp"] == {"DataTime": "20160801085857", "w01018-Rtd": "2.2", "w01018-Flag": "N"}


def test_equality_and_hash():
    a = hj212.parse(STD_FRAME)
    b = hj212.parse(bytes(STD_FRAME))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    other = hj212.parse(STD_FRAME.replace(b"1C80", b"1c80"))  # same fields, other bytes
    assert a != other
    assert a != hj212.parse_segment(upload(""))
    assert a != STD_FRAME
    assert (a == "frame") is False


def test_frame_repr_names_the_frame():
    r = repr(hj212.parse(STD_FRAME))
    assert "1062" in r and MN in r


# --- editions ------------------------------------------------------------------------------


def test_edition_2005_no_qn_no_flag_short_mn_2005_codes():
    seg = (
        "ST=32;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20160801085857;"
        "011-Rtd=1.5,011-Flag=N;B01-Rtd=3&&"
    )
    f = hj212.parse(wrap(seg), strict=True)
    assert f.edition == 2005
    assert f.qn is None and f.flag is None
    assert f.needs_ack is False and f.is_split is False
    assert f.mn == "88888880000001"
    assert f.pollutants == {"011": {"Rtd": 1.5, "Flag": "N"}, "B01": {"Rtd": 3.0}}
    assert f.warnings == []  # 2005 codes are known codes
    assert hj212.pollutant_2017("011") == "w01018"


def test_edition_2005_with_qn_and_flag_1():
    seg = "QN=20160801085857223;ST=32;CN=2011;PW=123456;MN=88888880000001;Flag=1;CP=&&&&"
    f = hj212.parse(wrap(seg), strict=True)
    assert (f.edition, f.flag, f.needs_ack) == (2005, 1, True)


def test_edition_2017_flag_4_and_7():
    f = hj212.parse_segment(HEAD.replace("Flag=5", "Flag=4") + "&&", strict=True)
    assert (f.edition, f.needs_ack, f.is_split) == (2017, False, False)
    seg = HEAD.replace("Flag=5", "Flag=7;PNUM=3;PNO=2") + "DataTime=20160801085857&&"
    f = hj212.parse_segment(seg, strict=True)
    assert (f.edition, f.needs_ack, f.is_split, f.pnum, f.pno) == (2017, True, True, 3, 2)


def test_edition_2025_flag_9_with_rf():
    seg = (
        f"QN=20250801085857223;ST=32;CN=2061;PW=123456;MN={MN};Flag=9;RF=1;"
        "CP=&&DataTime=20250801080000;w01018-Avg=1.5&&"
    )
    f = hj212.parse(wrap(seg), strict=True)
    assert (f.edition, f.flag, f.needs_ack, f.is_split) == (2025, 9, True, False)
    assert f.rf == "1"
    assert f.text("RF") == "1"
    assert f.to_dict()["rf"] == "1"
    assert f.pollutants == {"w01018": {"Avg": 1.5}}


def test_edition_2025_split_with_rf():
    seg = (
        f"QN=20250801085857223;ST=32;CN=2061;PW=123456;MN={MN};Flag=11;PNUM=2;PNO=1;RF=1;"
        "CP=&&DataTime=20250801080000;w01018-Avg=1.5&&"
    )
    f = hj212.parse(wrap(seg), strict=True)
    assert (f.edition, f.is_split, f.pnum, f.pno, f.rf) == (2025, True, 2, 1, "1")


def test_rf_on_a_2017_frame_strict_rejects_lenient_warns():
    seg = HEAD.replace("Flag=5", "Flag=5;RF=1") + "&&"
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse_segment(seg, strict=True)
    assert ei.value.field == "RF"
    f = hj212.parse_segment(seg)
    assert "unknown_header_field" in codes(f)


# --- values --------------------------------------------------------------------------------


def test_numbers_become_float_and_flags_times_info_stay_str():
    cp = (
        "DataTime=20160801085857;w01018-SampleTime=20160801070000,w01018-Rtd=2,"
        "w01018-Flag=N,w01018-EFlag=A01;a21026-ZsRtd=-3.25,a21026-Cou=1000000;"
        "SB1-RS=1,SB1-RT=2.5;i13004-Info=168.0"
    )
    f = hj212.parse_segment(upload(cp), strict=True)
    p = f.pollutants
    assert p["w01018"] == {"SampleTime": "20160801070000", "Rtd": 2.0, "Flag": "N", "EFlag": "A01"}
    assert type(p["w01018"]["Rtd"]) is float
    assert p["a21026"] == {"ZsRtd": -3.25, "Cou": 1_000_000.0}
    assert p["SB1"] == {"RS": 1.0, "RT": 2.5}
    assert all(type(v) is float for v in p["SB1"].values())
    assert p["i13004"] == {"Info": "168.0"}  # Info is text even when it looks numeric
    assert f.data_time == "20160801085857"
    assert f.cp["w01018-Rtd"] == "2"  # the raw CP keeps text


def test_cp_keeps_every_field_in_order_and_last_of_repeats():
    f = hj212.parse_segment(upload("DataTime=20160801085857;w01018-Rtd=1;w01018-Rtd=2"))
    assert list(f.cp) == ["DataTime", "w01018-Rtd"]
    assert f.cp["w01018-Rtd"] == "2"
    assert f.pollutants["w01018"]["Rtd"] == 2.0


@given(st.decimals(min_value=-10**7, max_value=10**7, places=3, allow_nan=False))
def test_any_n14_6_number_parses_to_its_float(x):
    text = f"{x:f}"
    f = hj212.parse_segment(upload(f"DataTime=20160801085857;w01018-Rtd={text}"), strict=True)
    assert f.pollutants["w01018"]["Rtd"] == float(text)


# --- lenient deviations, each reported; strict rejects them -----------------------------


def test_bare_lf_tail():
    data = STD_FRAME[:-2] + b"\n"
    f = hj212.parse(data)
    assert codes(f) == ["bare_lf"]
    assert f.raw == data
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(data, strict=True)
    assert ei.value.kind == "tail"


def test_lower_case_crc_accepted_in_both_modes_with_a_warning():
    data = STD_FRAME.replace(b"1C80", b"1c80")
    for strict in (False, True):
        f = hj212.parse(data, strict=strict)
        assert codes(f) == ["crc_lowercase"]
        assert f.crc == 0x1C80


@pytest.mark.parametrize("declared", [b"0000", b"0099", b"0100", b"0103", b"0500"])
def test_wrong_declared_length_recovered_by_crc(declared):
    data = STD_FRAME[:2] + declared + STD_FRAME[6:]
    f = hj212.parse(data)
    assert "length_mismatch" in codes(f)
    assert f.cn == "1062" and f.cp == {"RtdInterval": "30"}
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(data, strict=True)
    assert ei.value.kind == "length"
    assert ei.value.value == declared.decode()


def test_declared_length_one_too_long_is_recovered():
    data = STD_FRAME[:2] + b"0102" + STD_FRAME[6:]
    f = hj212.parse(data)
    assert "length_mismatch" in codes(f)


def test_spaces_are_trimmed_and_reported():
    seg = HEAD.replace(";ST=", "; ST=") + " DataTime=20160801085857;w01018-Rtd = 1.5 &&"
    f = hj212.parse_segment(seg)
    assert f.st == "32"
    assert f.pollutants == {"w01018": {"Rtd": 1.5}}
    assert f.data_time == "20160801085857"
    assert "whitespace" in codes(f)
    with pytest.raises(hj212.FrameError):
        hj212.parse_segment(seg, strict=True)


def test_comma_between_groups():
    seg = upload("DataTime=20160801085857;w01018-Rtd=1.5,w01001-Rtd=7")
    f = hj212.parse_segment(seg)
    assert f.pollutants == {"w01018": {"Rtd": 1.5}, "w01001": {"Rtd": 7.0}}
    assert codes(f) == ["cp_separator"]
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse_segment(seg, strict=True)
    assert (ei.value.kind, ei.value.field) == ("cp", "w01001-Rtd")


def test_comma_within_a_group_is_the_standard():
    f = hj212.parse_segment(upload("DataTime=20160801085857;w01018-Rtd=1.5,w01018-Flag=N"),
                            strict=True)
    assert f.warnings == []


@pytest.mark.parametrize("strict", [False, True])
def test_unknown_pollutant_code_is_kept_with_a_warning_never_rejected(strict):
    f = hj212.parse_segment(upload("DataTime=20160801085857;x99999-Rtd=1.5,x99999-Flag=N"),
                            strict=strict)
    assert f.pollutants == {"x99999": {"Rtd": 1.5, "Flag": "N"}}
    assert codes(f) == ["unknown_code"]
    assert "x99999" in f.warnings[0]


def test_unknown_suffix_and_unknown_field_kept_as_text():
    f = hj212.parse_segment(upload("DataTime=20160801085857;w01018-Zzz=abc;Foo=1"))
    assert f.pollutants == {"w01018": {"Zzz": "abc"}}
    assert f.cp["Foo"] == "1"
    assert set(codes(f)) == {"unknown_suffix", "unknown_field"}
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse_segment(upload("Foo=1"), strict=True)
    assert ei.value.field == "Foo"


def test_empty_value():
    seg = upload("DataTime=20160801085857;w01018-Rtd=,w01018-Flag=N")
    f = hj212.parse_segment(seg)
    assert f.pollutants == {"w01018": {"Flag": "N"}}  # an empty number is absent
    assert f.cp["w01018-Rtd"] == ""
    assert codes(f) == ["empty_value"]
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse_segment(seg, strict=True)
    assert (ei.value.kind, ei.value.field, ei.value.value) == ("value", "w01018-Rtd", "")


def test_empty_field_between_separators():
    seg = upload("DataTime=20160801085857;;w01018-Rtd=1")
    f = hj212.parse_segment(seg)
    assert codes(f) == ["cp_empty_field"]
    assert f.pollutants == {"w01018": {"Rtd": 1.0}}
    with pytest.raises(hj212.FrameError):
        hj212.parse_segment(seg, strict=True)


def test_duplicates_keep_the_last_value():
    seg = upload("DataTime=20160801085857;w01018-Rtd=1;w01018-Rtd=2")
    f = hj212.parse_segment(seg)
    assert f.pollutants == {"w01018": {"Rtd": 2.0}}
    assert codes(f) == ["duplicate_field"]
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse_segment(seg, strict=True)
    assert (ei.value.kind, ei.value.field, ei.value.value) == ("cp", "w01018-Rtd", "2")


def test_lenient_header_deviations():
    # QN that is not a real time, PW of the wrong length, MN not EPC-96, unknown CN/ST
    seg = (
        "QN=20161301085857223;ST=99;CN=7777;PW=12;MN=STATION-7;Flag=5;CP=&&&&"
    )
    f = hj212.parse_segment(seg)
    assert set(codes(f)) == {"qn_form", "unknown_st", "unknown_cn", "pw_length", "mn_form"}
    assert (f.qn, f.st, f.cn, f.pw, f.mn) == ("20161301085857223", "99", "7777", "12", "STATION-7")
    with pytest.raises(hj212.FrameError):
        hj212.parse_segment(seg, strict=True)


def test_header_out_of_order():
    seg = f"ST=32;QN=20160801085857223;CN=2011;PW=123456;MN={MN};Flag=5;CP=&&&&"
    f = hj212.parse_segment(seg)
    assert codes(f) == ["header_order"]
    assert f.qn == "20160801085857223"
    with pytest.raises(hj212.FrameError):
        hj212.parse_segment(seg, strict=True)


def test_out_of_range_value_lenient_warns_strict_rejects():
    seg = upload("DataTime=20160801085857;SB1-RS=9")
    f = hj212.parse_segment(seg)
    assert "out_of_range" in codes(f)
    assert f.pollutants["SB1"]["RS"] == 9.0
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse_segment(seg, strict=True)
    assert (ei.value.kind, ei.value.field) == ("value", "SB1-RS")


def test_strict_defaults_to_false():
    data = STD_FRAME[:-2] + b"\n"
    assert hj212.parse(data).warnings  # lenient by default
    assert hj212.parse_segment(upload("Foo=1")).warnings


def test_parse_segment_accepts_str_and_bytes():
    seg = STD_FRAME[6:-6]
    assert hj212.parse_segment(seg) == hj212.parse_segment(seg.decode()) == hj212.parse(STD_FRAME)


def test_equipment_state_codes_are_not_unknown():
    f = hj212.parse_segment(upload("DataTime=20160801085857;SB1-RS=1;SB2-RS=0"), strict=True)
    assert f.pollutants == {"SB1": {"RS": 1.0}, "SB2": {"RS": 0.0}}
    assert f.warnings == []


def test_utf8_info_text():
    seg = upload("DataTime=20160801085857;PolId=w01018;i11001-Info=//清洗管路//")
    f = hj212.parse(wrap(seg), strict=True)
    assert f.pollutants == {"i11001": {"Info": "//清洗管路//"}}
    assert f.raw.decode("utf-8").count("清洗管路") == 1


def test_stray_header_piece_does_not_swallow_flag():
    seg = f"QN=20160801085857223;ST=32;CN=2011;PW=123456;MN={MN};junk;Flag=5;CP=&&&&"
    try:
        f = hj212.parse_segment(seg)
    except hj212.FrameError as e:
        assert e.kind == "field"
    else:
        assert (f.flag, f.edition, f.needs_ack) == (5, 2017, True)


# --- appendix C ----------------------------------------------------------------------------

ROWS = load_appendix_c()
#: noted rows whose note is not a wire deviation (see core_rs/tests/appendix_c.rs)
WELL_FORMED_DESPITE_NOTE = {"c001", "c114", "c124", "c125"}
#: noted rows even lenient mode rejects: '…' placeholders, and broken header separators
LENIENT_REJECTS = {"c051", "c063", "c142"}


def _ids(rows):
    return [r.id for r in rows]


CLEAN = [r for r in ROWS if not r.note or r.id in WELL_FORMED_DESPITE_NOTE]
NOTED = [r for r in ROWS if r.note and r.id not in WELL_FORMED_DESPITE_NOTE]


def test_appendix_c_is_complete():
    assert len(ROWS) == 156
    assert len(CLEAN) > 100 and len(NOTED) > 30


@pytest.mark.parametrize("row", CLEAN, ids=_ids(CLEAN))
def test_appendix_c_clean_segments_parse_strictly(row):
    f = hj212.parse_segment(row.segment, strict=True)
    assert f.warnings == []
    assert f.segment == row.segment
    # framed, the same frame parses whole
    assert hj212.parse(wrap(row.segment), strict=True) == f
    assert f"CN={f.cn};" in row.segment


@pytest.mark.parametrize("row", NOTED, ids=_ids(NOTED))
def test_appendix_c_noted_segments_strict_rejects_lenient_reports(row):
    with pytest.raises(hj212.FrameError):
        hj212.parse_segment(row.segment, strict=True)
    if "…" in row.segment or row.id in LENIENT_REJECTS:
        with pytest.raises(hj212.FrameError):
            hj212.parse_segment(row.segment)
    else:
        f = hj212.parse_segment(row.segment)
        assert f.warnings, row.note


def test_appendix_c_upload_values():
    c045 = next(r for r in ROWS if r.id == "c045")
    f = hj212.parse_segment(c045.cleaned, strict=True)
    assert f.data_time == "20160801084000"
    assert f.pollutants["w00000"] == {
        "Cou": 10.5, "Min": 16.4, "Avg": 17.5, "Max": 20.1, "Flag": "N",
    }
    assert f.pollutants["w01018"]["Cou"] == 10.5
    c073 = next(r for r in ROWS if r.id == "c073")
    f = hj212.parse_segment(c073.segment, strict=True)
    assert f.pollutants["Leq"] == {"Data": 50.0}
    assert f.st == "23"


# --- the API contract: stubs and runtime agree ---------------------------------------------

STUB = Path(hj212.__file__).with_name("_hj212.pyi")


def _stub_members() -> dict[str, set[str]]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    out: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            names = set()
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    names.add(item.target.id)
            out[node.name] = names
    return out


def test_every_stub_function_exists():
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    funcs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert {"parse", "parse_segment", "crc16", "encode", "request", "answer"} <= set(funcs)
    for name in funcs:
        assert callable(getattr(hj212, name)), name
    for name in hj212.__all__:
        assert hasattr(hj212, name), name


@pytest.mark.parametrize("cls", ["Frame", "Framer", "Reassembler"])
def test_stub_class_members_exist_at_runtime(cls):
    members = _stub_members()[cls] - {"__init__", "__eq__"}
    missing = {m for m in members if not hasattr(getattr(hj212, cls), m)}
    assert not missing


def test_frame_error_to_dict_declared_in_stub_exists():
    assert "to_dict" in _stub_members()["FrameError"]
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(STD_FRAME.replace(b"1C80", b"1C81"))
    d = ei.value.to_dict()
    assert d["kind"] == "crc" and d["qn_rtn"] == 9


def test_framer_finish_is_declared_in_stub():
    assert hasattr(hj212.Framer(), "finish")
    assert "finish" in _stub_members()["Framer"]
