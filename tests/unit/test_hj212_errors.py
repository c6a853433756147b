"""hj212.FrameError: every kind with real offending input, and what a platform needs to answer
and keep the frame (.field .value .offset .qn_rtn .raw and the best-effort header)."""

from __future__ import annotations

import hj212
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.codec_vectors import STD_FRAME

MN = "010000A8900016F000169DC0"
QN = "20160801085857223"


def wrap(segment: str | bytes) -> bytes:
    seg = segment.encode() if isinstance(segment, str) else segment
    return b"##%04d%s%04X\r\n" % (len(seg), seg, hj212.crc16(seg))


def segment(**over: str) -> str:
    """A 2017 upload segment; keyword arguments replace header values (None drops a field)."""
    fields = {"QN": QN, "ST": "32", "CN": "2011", "PW": "123456", "MN": MN, "Flag": "5"}
    fields.update(over)
    head = "".join(f"{k}={v};" for k, v in fields.items() if v is not None)
    return head + "CP=&&DataTime=20160801085857;w01018-Rtd=2.2,w01018-Flag=N&&"


def fail(data: bytes, *, strict: bool = False) -> hj212.FrameError:
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(data, strict=strict)
    e = ei.value
    assert isinstance(e, ValueError)
    assert e.kind in hj212.ERROR_KINDS
    assert e.raw == data
    return e


def names_field_and_value(e: hj212.FrameError) -> None:
    text = str(e)
    assert e.kind in text
    assert e.field is not None and e.field in text
    assert e.value is not None and e.value in text


def test_frame_error_is_a_value_error():
    assert issubclass(hj212.FrameError, ValueError)
    with pytest.raises(ValueError):
        hj212.parse(b"not a frame")
    assert hj212.ERROR_KINDS == (
        "header", "length", "crc", "tail", "encoding", "field", "cp", "value",
    )


# --- header ----------------------------------------------------------------------------


def test_header_kind():
    data = b"XX" + STD_FRAME[2:]
    e = fail(data)
    assert (e.kind, e.field, e.value, e.offset, e.qn_rtn) == ("header", "header", "XX", 0, None)
    names_field_and_value(e)
    # the header scan still finds the station
    assert (e.mn, e.st, e.pw, e.cn, e.flag) == (MN, "32", "100000", "1062", 5)


@pytest.mark.parametrize("data", [b"", b"#", b"\r\n", b"garbage"])
def test_header_kind_on_nothing_like_a_frame(data):
    e = fail(data)
    assert e.kind == "header" and e.offset == 0
    assert e.qn is None and e.mn is None


# --- length ----------------------------------------------------------------------------


def test_length_not_digits():
    e = fail(STD_FRAME.replace(b"##0101", b"##01x1"))
    assert (e.kind, e.field, e.value, e.offset, e.qn_rtn) == ("length", "length", "01x1", 2, None)
    names_field_and_value(e)
    assert e.mn == MN and e.flag == 5


def test_length_over_1024():
    e = fail(STD_FRAME.replace(b"##0101", b"##2000"))
    assert (e.kind, e.field, e.value, e.offset) == ("length", "length", "2000", 2)
    assert "1024" in str(e)
    assert e.qn == QN and e.mn == MN


def test_length_wrong_in_strict_mode():
    e = fail(STD_FRAME.replace(b"##0101", b"##0099"), strict=True)
    assert (e.kind, e.field, e.value, e.offset) == ("length", "length", "0099", 2)
    assert e.qn == QN


def test_length_frame_cut_short():
    e = fail(STD_FRAME[:60])
    assert e.kind == "length" and e.field == "length" and e.value == "0101"
    e = fail(b"##01")
    assert e.kind == "length" and e.offset == 2


# --- crc -------------------------------------------------------------------------------


def test_crc_mismatch_answers_qnrtn_9():
    data = STD_FRAME.replace(b"1C80", b"1C81")
    e = fail(data)
    assert (e.kind, e.field, e.value, e.offset, e.qn_rtn) == ("crc", "CRC", "1C81", 107, 9)
    names_field_and_value(e)
    assert "1C80" in str(e)  # the CRC the segment really has
    assert (e.qn, e.st, e.cn, e.pw, e.mn, e.flag) == (QN, "32", "1062", "100000", MN, 5)
    # strict mode alike
    assert fail(data, strict=True).qn_rtn == 9


def test_crc_not_hex():
    e = fail(STD_FRAME.replace(b"1C80", b"1CZ0"))
    assert (e.kind, e.field, e.value, e.qn_rtn) == ("crc", "CRC", "1CZ0", 9)
    names_field_and_value(e)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=6, max_value=len(STD_FRAME) - 7), st.integers(1, 255))
def test_any_flipped_segment_byte_is_caught(at, xor):
    data = bytearray(STD_FRAME)
    data[at] ^= xor
    with pytest.raises(hj212.FrameError):
        hj212.parse(bytes(data), strict=True)


# --- tail ------------------------------------------------------------------------------


def test_tail_bare_lf_in_strict_mode():
    data = STD_FRAME[:-2] + b"\n"
    e = fail(data, strict=True)
    assert (e.kind, e.offset, e.qn_rtn) == ("tail", 111, None)
    assert "\\n" in str(e)
    assert e.mn == MN


def test_tail_bytes_after_the_frame():
    e = fail(STD_FRAME + b"zz")
    assert (e.kind, e.field, e.value, e.offset) == ("tail", "tail", "zz", 113)
    names_field_and_value(e)


def test_tail_missing():
    e = fail(STD_FRAME[:-2] + b"\r\r", strict=True)
    assert e.kind == "tail" and e.offset == 111
    assert "found" in str(e) and "\\r" in str(e)


def test_tail_error_names_the_tail_not_the_length():
    e = fail(STD_FRAME[:-2] + b"\r\r", strict=True)
    assert e.field != "length"
    assert e.value != "0101"


# --- encoding --------------------------------------------------------------------------


def test_encoding_not_utf8_in_strict_mode():
    seg = segment().encode().replace(b"w01018-Flag=N", b"w01018-Flag=\xff")
    e = fail(wrap(seg), strict=True)
    assert e.kind == "encoding" and e.field == "segment"
    assert e.value.startswith("\\xff")
    assert e.offset == 6 + seg.index(b"\xff")
    names_field_and_value(e)
    assert e.mn == MN and e.qn == QN


def test_encoding_lossy_accepted_by_lenient_mode_in_a_text_value():
    seg = segment().encode().replace(b"Flag=N&&", b"Flag=N;i11001-Info=\xc4\xe3&&")
    f = hj212.parse(wrap(seg))
    assert any(w.startswith("encoding_lossy") for w in f.warnings)


@pytest.mark.parametrize("strict", [False, True])
def test_encoding_control_byte(strict):
    seg = segment().encode().replace(b"2.2", b"2\x012")
    e = fail(wrap(seg), strict=strict)
    assert e.kind == "encoding"
    assert e.offset == 6 + seg.index(b"\x01")
    assert "control" in str(e)


# --- field: the QnRtn of each header fault -----------------------------------------------


@pytest.mark.parametrize(
    ("over", "field", "value", "qn_rtn"),
    [
        ({"PW": "12"}, "PW", "12", 3),
        ({"MN": "010000a8900016f000169dc0"}, "MN", "010000a8900016f000169dc0", 4),
        ({"ST": "3"}, "ST", "3", 5),
        ({"Flag": "999"}, "Flag", "999", 6),
        ({"QN": "20161301085857223"}, "QN", "20161301085857223", 7),
        ({"CN": "20x1"}, "CN", "20x1", 8),
        ({"CN": "7777"}, "CN", "7777", 8),
        ({"ST": "99"}, "ST", "99", 5),
    ],
)
def test_field_errors_in_strict_mode(over, field, value, qn_rtn):
    seg = segment(**over)
    e = fail(wrap(seg), strict=True)
    assert (e.kind, e.field, e.value, e.qn_rtn) == ("field", field, value, qn_rtn)
    assert e.offset == 6 + seg.index(f"{field}={value}") + len(field) + 1
    names_field_and_value(e)


@pytest.mark.parametrize(
    ("over", "field", "qn_rtn"),
    [
        ({"PW": "12 4"}, "PW", 3),
        ({"MN": "0100#0"}, "MN", 4),
        ({"ST": "3"}, "ST", 5),
        ({"Flag": "x"}, "Flag", 6),
        ({"QN": "2016-08-01"}, "QN", 7),
        ({"CN": "20111"}, "CN", 8),
    ],
)
def test_field_errors_lenient_mode_cannot_accept(over, field, qn_rtn):
    e = fail(wrap(segment(**over)))
    assert (e.kind, e.field, e.qn_rtn) == ("field", field, qn_rtn)
    names_field_and_value(e)


@pytest.mark.parametrize(
    ("drop", "qn_rtn"), [("ST", 5), ("CN", 8), ("PW", 3), ("MN", 4)]
)
def test_missing_header_field(drop, qn_rtn):
    e = fail(wrap(segment(**{drop: None})))
    assert (e.kind, e.field, e.qn_rtn) == ("field", drop, qn_rtn)
    assert drop in str(e)


def test_missing_qn_on_a_request_in_strict_mode():
    seg = f"ST=32;CN=1062;PW=123456;MN={MN};Flag=5;CP=&&RtdInterval=30&&"
    e = fail(wrap(seg), strict=True)
    assert (e.kind, e.field, e.qn_rtn) == ("field", "QN", 7)
    # an upload may leave QN out
    assert hj212.parse(wrap(segment(QN=None)), strict=True).qn is None


def test_split_flag_without_pnum():
    e = fail(wrap(segment(Flag="7")))
    assert (e.kind, e.field, e.qn_rtn) == ("field", "PNUM", 6)


def test_pno_larger_than_pnum():
    seg = segment(Flag="7;PNUM=2;PNO=3")
    e = fail(wrap(seg))
    assert (e.kind, e.field, e.value) == ("field", "PNO", "3")
    assert "PNUM=2" in str(e)


def test_missing_cp():
    seg = f"QN={QN};ST=32;CN=2011;PW=123456;MN={MN};Flag=5;"
    e = fail(wrap(seg))
    assert (e.kind, e.field) == ("field", "CP")
    assert "CP" in str(e)


def test_flag_hint_dropped_when_out_of_range():
    e = fail(wrap(segment(Flag="999")), strict=True)
    assert e.flag is None  # not a usable Flag
    assert e.cn == "2011" and e.mn == MN and e.qn == QN and e.pw == "123456" and e.st == "32"


# --- cp --------------------------------------------------------------------------------


def test_cp_must_start_with_ampersands():
    seg = f"QN={QN};ST=32;CN=2011;PW=123456;MN={MN};Flag=5;CP=DataTime=20160801085857&&"
    e = fail(wrap(seg))
    assert (e.kind, e.field, e.qn_rtn) == ("cp", "CP", None)
    assert e.value == "DataTime=20160801085857&&"
    assert e.offset == 6 + seg.index("CP=") + 3
    names_field_and_value(e)


def test_cp_must_end_with_ampersands_in_strict_mode():
    seg = f"QN={QN};ST=32;CN=2011;PW=123456;MN={MN};Flag=5;CP=&&DataTime=20160801085857"
    e = fail(wrap(seg), strict=True)
    assert (e.kind, e.field) == ("cp", "CP")
    f = hj212.parse(wrap(seg))
    assert any(w.startswith("cp_tail") for w in f.warnings)


def test_cp_field_without_equals():
    seg = segment().replace("w01018-Flag=N", "w01018-Flag=N;w01018")
    e = fail(wrap(seg))
    assert (e.kind, e.field, e.value) == ("cp", "CP", "w01018")
    assert e.offset == 6 + seg.rindex("w01018")
    names_field_and_value(e)


def test_cp_bad_field_name():
    seg = segment().replace("w01018-Flag=N", "w01018-Flag=N;w0#018-Rtd=1")
    e = fail(wrap(seg))
    assert e.kind == "cp"
    assert "w0#018-Rtd" in str(e)


def test_cp_duplicate_in_strict_mode():
    seg = segment().replace("w01018-Flag=N", "w01018-Flag=N;w01018-Rtd=3.3")
    e = fail(wrap(seg), strict=True)
    assert (e.kind, e.field, e.value) == ("cp", "w01018-Rtd", "3.3")
    names_field_and_value(e)


# --- value -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "bad", "why"),
    [
        ("w01018-Rtd", "abc", "number"),
        ("w01018-Rtd", "1.2.3", "number"),
        ("DataTime", "20160231085857", "day"),
        ("DataTime", "20161301085857", "month"),
        ("DataTime", "2016080108585", "YYYYMMDDhhmmss"),
        ("w01018-Flag", "NNNNNN", "flag"),
        ("w01018-SampleTime", "20160801256000", "hour"),
        ("RtdInterval", "x", "whole number"),
    ],
)
def test_value_errors(field, bad, why):
    fields = {"DataTime": "20160801085857", "w01018-Rtd": "2.2", "w01018-Flag": "N"}
    fields[field] = bad
    cp = ";".join(f"{k}={v}" for k, v in fields.items())
    seg = f"QN={QN};ST=32;CN=2011;PW=123456;MN={MN};Flag=5;CP=&&{cp}&&"
    e = fail(wrap(seg))
    assert (e.kind, e.field, e.value, e.qn_rtn) == ("value", field, bad, None)
    assert e.offset == 6 + seg.index(f"{field}={bad}") + len(field) + 1
    names_field_and_value(e)
    assert why.lower() in str(e).lower()
    assert e.mn == MN and e.qn == QN and e.cn == "2011"


def test_value_error_in_parse_segment_has_framed_raw():
    seg = segment().replace("2.2", "abc")
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse_segment(seg)
    e = ei.value
    assert e.kind == "value"
    assert e.raw == wrap(seg)
    assert e.offset == 6 + seg.index("abc")


def test_long_values_are_cut_in_messages():
    seg = segment().replace("2.2", "x" * 500)
    e = fail(wrap(seg))
    assert e.kind == "value"
    assert len(str(e)) < 300
    assert "500 bytes" in str(e)


# --- every kind, robustness ------------------------------------------------------------


def test_every_kind_is_covered_here():
    seen = set()
    samples = [
        b"XX" + STD_FRAME[2:],
        STD_FRAME.replace(b"##0101", b"##01x1"),
        STD_FRAME.replace(b"1C80", b"1C81"),
        STD_FRAME + b"zz",
        wrap(segment().encode().replace(b"2.2", b"2\x012")),
        wrap(segment(MN="0100#0")),
        wrap(segment().replace("w01018-Flag=N", "w01018")),
        wrap(segment().replace("2.2", "abc")),
    ]
    for data in samples:
        with pytest.raises(hj212.FrameError) as ei:
            hj212.parse(data)
        seen.add(ei.value.kind)
    assert seen == set(hj212.ERROR_KINDS)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data):
    try:
        f = hj212.parse(data)
    except hj212.FrameError as e:
        assert e.kind in hj212.ERROR_KINDS
        assert e.raw == data
        assert isinstance(e.offset, int) and e.offset >= 0
        assert e.qn_rtn is None or 1 <= e.qn_rtn <= 100
    else:
        assert f.raw == data


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 200), st.binary(min_size=1, max_size=3))
def test_damaged_segments_never_crash(at, junk):
    seg = segment().encode()
    at = min(at, len(seg))
    damaged = seg[:at] + junk + seg[at:]
    try:
        hj212.parse(wrap(damaged))
    except hj212.FrameError as e:
        assert e.kind in ("encoding", "field", "cp", "value")
        assert 6 <= e.offset <= len(damaged) + 6
