"""A header field after the data area, as a popular Java HJ 212 library writes it
(``...;MN=...;CP=&&...&&;Flag=5``): the data area ends at its closing ``&&``; lenient mode
reads the field as the header's and warns ``header_after_cp``, strict mode rejects the frame
naming the field and its value. The frames carry correct CRCs (the codec's crc16)."""

from __future__ import annotations

import hj212
import pytest

MN = "010000A8900016F000169DC0"
HEAD = f"QN=20160801085857223;ST=32;CN=2011;PW=123456;MN={MN}"
DATA = "DataTime=20160801085857;w01018-Rtd=2.5,w01018-Flag=N"


def wrap(segment: str) -> bytes:
    seg = segment.encode()
    return b"##%04d%s%04X\r\n" % (len(seg), seg, hj212.crc16(seg))


def codes(frame: hj212.Frame) -> list[str]:
    return [w.split(":", 1)[0] for w in frame.warnings]


JAVA_UPLOAD = wrap(f"{HEAD};CP=&&{DATA}&&;Flag=5")
JAVA_NEWPW = wrap(f"{HEAD.replace('CN=2011', 'CN=1072')};CP=&&NewPW=654321&&;Flag=5")


def test_lenient_mode_reads_flag_after_the_data_area() -> None:
    f = hj212.parse(JAVA_UPLOAD)
    assert (f.flag, f.edition, f.needs_ack) == (5, 2017, True)
    assert f.cp == {"DataTime": "20160801085857", "w01018-Rtd": "2.5", "w01018-Flag": "N"}
    assert f.cp_text == DATA
    assert f.pollutants == {"w01018": {"Rtd": 2.5, "Flag": "N"}}
    assert codes(f) == ["header_after_cp"]
    assert "Flag" in f.warnings[0]
    # the upload gets the answer its Flag asks for
    answer = hj212.answer(f)
    assert answer is not None
    assert hj212.parse(answer, strict=True).cn == "9014"


def test_new_password_is_not_misread() -> None:
    f = hj212.parse(JAVA_NEWPW)
    assert f.cp == {"NewPW": "654321"}
    assert f.text("NewPW") == "654321"
    assert f.text("Flag") == "5"
    assert codes(f) == ["header_after_cp"]  # no cp_tail, pw_length or unknown_field


def test_strict_mode_names_the_field_and_value() -> None:
    for data in (JAVA_UPLOAD, JAVA_NEWPW):
        with pytest.raises(hj212.FrameError) as ei:
            hj212.parse(data, strict=True)
        e = ei.value
        assert (e.kind, e.field, e.value, e.qn_rtn) == ("field", "Flag", "5", 6)
        assert "after the data area" in str(e)
        assert e.raw[e.offset:e.offset + 1] == b"5"
        # the best-effort header still has the Flag, for the 9011 answer
        assert (e.mn, e.flag) == (MN, 5)
        assert hj212.answer_error(e) is not None


def test_the_framer_and_the_batch_decoder_read_it_the_same_way() -> None:
    out = hj212.Framer().feed(JAVA_UPLOAD + JAVA_NEWPW)
    assert out == [hj212.parse(JAVA_UPLOAD), hj212.parse(JAVA_NEWPW)]
    b = hj212.decode_batch([JAVA_UPLOAD])
    assert b.n_rejected == 0
    assert b.frame_flag.tolist() == [5]
    assert b.frame_edition.tolist() == [2017]
    assert b.frame_warnings.tolist() == [1]


def test_a_crc_error_on_such_a_frame_still_hints_the_flag() -> None:
    bad = JAVA_UPLOAD[:-6] + (b"0000" if JAVA_UPLOAD[-6:-2] != b"0000" else b"0001") + b"\r\n"
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(bad)
    assert ei.value.kind == "crc" and ei.value.flag == 5 and ei.value.mn == MN


def test_several_fields_after_the_data_area() -> None:
    f = hj212.parse(wrap(f"{HEAD.replace('CN=2011', 'CN=2061')};CP=&&{DATA}&&;Flag=7;PNUM=2;PNO=1"))
    assert (f.flag, f.is_split, f.pnum, f.pno) == (7, True, 2, 1)
    assert codes(f) == ["header_after_cp"] * 3


@pytest.mark.parametrize(("tail", "lenient_codes"), [
    (";", ["cp_tail"]),
    ("  ", ["whitespace"]),
    (";Foo=1", ["unknown_header_field"]),
])
def test_other_things_after_the_closing_ampersands(tail: str, lenient_codes: list[str]) -> None:
    data = wrap(f"{HEAD};Flag=5;CP=&&NewPW=654321&&{tail}")
    f = hj212.parse(data)
    assert f.cp == {"NewPW": "654321"}
    assert codes(f) == lenient_codes
    with pytest.raises(hj212.FrameError):
        hj212.parse(data, strict=True)


def test_bytes_glued_to_the_closing_ampersands_are_rejected() -> None:
    data = wrap(f"{HEAD};CP=&&NewPW=654321&&Flag=5")
    for strict in (False, True):
        with pytest.raises(hj212.FrameError) as ei:
            hj212.parse(data, strict=strict)
        assert (ei.value.kind, ei.value.value) == ("cp", "Flag=5")


def test_flag_twice_is_rejected() -> None:
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(wrap(f"{HEAD};Flag=4;CP=&&{DATA}&&;Flag=5"))
    assert ei.value.field == "Flag"
