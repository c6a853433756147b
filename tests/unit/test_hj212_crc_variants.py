"""CRC variants: frames signed with another algorithm than the standard's are rejected by
default with the variant named on the error, and accepted, with a warning, where allowed."""

from __future__ import annotations

import hj212
import pytest

from tests.codec_vectors import STD_FRAME

MN = "010000A8900016F000169DC0"
SEG = STD_FRAME[6:-6]


def sign(segment: bytes, variant: str = "modbus") -> bytes:
    return b"##%04d%s%04X\r\n" % (len(segment), segment, hj212.crc16(segment, variant))


def codes(frame: hj212.Frame) -> list[str]:
    return [w.split(":", 1)[0] for w in frame.warnings]


MODBUS_FRAME = sign(SEG)


# --- crc16 -------------------------------------------------------------------------------


def test_crc16_computes_each_named_variant() -> None:
    assert hj212.CRC_VARIANTS == ("hj212", "modbus")
    assert hj212.crc16(SEG) == hj212.crc16(SEG, "hj212") == hj212.crc16(SEG, variant="hj212")
    assert hj212.crc16(SEG) == 0x1C80
    # the popular simulator's CRC of the standard's own example
    assert hj212.crc16(SEG, "modbus") == 0x0759
    # the catalogue check value of CRC-16/MODBUS
    assert hj212.crc16(b"123456789", "modbus") == 0x4B37
    assert STD_FRAME.replace(b"1C80", b"0759") == MODBUS_FRAME


def test_crc16_refuses_an_unknown_variant() -> None:
    with pytest.raises(ValueError, match="ccitt"):
        hj212.crc16(SEG, "ccitt")


# --- rejected by default, named on the error ---------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
def test_a_modbus_crc_is_rejected_naming_the_variant(strict: bool) -> None:
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(MODBUS_FRAME, strict=strict)
    e = ei.value
    assert (e.kind, e.field, e.value, e.qn_rtn) == ("crc", "CRC", "0759", 9)
    assert e.crc_variant == "modbus"
    assert "1C80" in str(e) and "MODBUS" in str(e)
    # what the gateway needs to find the station and answer
    assert (e.mn, e.qn, e.flag) == (MN, "20160801085857223", 5)
    assert e.raw == MODBUS_FRAME
    d = e.to_dict()
    assert d["crc_variant"] == "modbus" and d["kind"] == "crc" and d["mn"] == MN
    # the answer is still the 9011 of a CRC error
    answer = hj212.answer_error(e)
    assert answer is not None
    assert hj212.parse(answer, strict=True).cp == {"QnRtn": "9"}


def test_a_plainly_wrong_crc_names_no_variant() -> None:
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(STD_FRAME.replace(b"1C80", b"1C81"))
    assert ei.value.kind == "crc" and ei.value.crc_variant is None
    assert ei.value.to_dict()["crc_variant"] is None
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(sign(SEG.replace(b"MN=", b"MN"), "hj212"))
    assert ei.value.kind != "crc" and ei.value.crc_variant is None


# --- accepted where allowed --------------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
def test_parse_with_the_variant_allowed_accepts_and_warns(strict: bool) -> None:
    f = hj212.parse(MODBUS_FRAME, strict=strict, crc_variants=("modbus",))
    assert f.crc == 0x0759
    assert f.cp == {"RtdInterval": "30"} and f.mn == MN
    assert codes(f) == ["crc_variant"]
    assert "modbus" in f.warnings[0] and "CRC-16/MODBUS" in f.warnings[0]
    # a list works as well as a tuple; the standard's frame needs no warning
    g = hj212.parse(STD_FRAME, strict=strict, crc_variants=["modbus"])
    assert g.warnings == []
    # naming the standard's own algorithm allows nothing more
    with pytest.raises(hj212.FrameError):
        hj212.parse(MODBUS_FRAME, crc_variants=("hj212",))


def test_crc_variants_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown CRC variant"):
        hj212.parse(STD_FRAME, crc_variants=("crc32",))
    with pytest.raises(TypeError):
        hj212.parse(STD_FRAME, crc_variants="modbus")  # a str is not a list of names
    with pytest.raises(ValueError):
        hj212.Framer(crc_variants=("nope",))
    with pytest.raises(ValueError):
        hj212.decode_batch([STD_FRAME], crc_variants=("nope",))


def test_an_allowed_variant_does_not_excuse_a_wrong_crc() -> None:
    bad = MODBUS_FRAME.replace(b"0759", b"0758")
    with pytest.raises(hj212.FrameError) as ei:
        hj212.parse(bad, crc_variants=("modbus",))
    assert ei.value.kind == "crc" and ei.value.crc_variant is None


# --- the gateway's flow --------------------------------------------------------------------


def test_gateway_flow_reject_look_up_the_station_parse_again() -> None:
    """What the gateway does: a rejected frame names its variant; the station (found by the
    error's MN) allows it; the rejected bytes are parsed again with it allowed."""
    allowed = {MN: ("modbus",)}  # the registry's answer, per station
    framer = hj212.Framer()
    items = framer.feed(MODBUS_FRAME + STD_FRAME)
    assert [type(i).__name__ for i in items] == ["FrameError", "Frame"]
    err = items[0]
    assert isinstance(err, hj212.FrameError)
    assert err.kind == "crc" and err.crc_variant in allowed[err.mn or ""]
    frame = hj212.parse(err.raw, crc_variants=allowed[err.mn or ""])
    assert codes(frame) == ["crc_variant"]
    assert frame.raw == MODBUS_FRAME
    # the answer the logger expects for an accepted upload or request
    assert hj212.answer(frame) == hj212.answer(hj212.parse(STD_FRAME))


def test_the_framer_allows_variants_from_the_start_or_from_the_next_frame() -> None:
    fr = hj212.Framer(crc_variants=("modbus",))
    assert fr.crc_variants == ("modbus",)
    out = fr.feed(MODBUS_FRAME)
    assert len(out) == 1 and isinstance(out[0], hj212.Frame)
    assert codes(out[0]) == ["crc_variant"]

    fr = hj212.Framer()
    assert fr.crc_variants == ()
    first = fr.feed(MODBUS_FRAME)
    assert isinstance(first[0], hj212.FrameError)
    fr.crc_variants = ("modbus",)  # the station is known now, and allowed
    then = fr.feed(MODBUS_FRAME + STD_FRAME)
    assert [f.raw for f in then] == [MODBUS_FRAME, STD_FRAME]
    assert then[0] == out[0]
    fr.crc_variants = ()
    assert isinstance(fr.feed(MODBUS_FRAME)[0], hj212.FrameError)


def test_a_modbus_frame_with_a_wrong_length_is_named_and_recovered() -> None:
    long = MODBUS_FRAME.replace(b"##0101", b"##0500")
    err, frame = hj212.Framer().feed(long + STD_FRAME)
    assert isinstance(err, hj212.FrameError)
    assert err.kind == "crc" and err.crc_variant == "modbus" and err.raw == long
    assert frame == hj212.parse(STD_FRAME)
    f = hj212.parse(err.raw, crc_variants=("modbus",))
    assert codes(f) == ["length_mismatch", "crc_variant"]


def test_decode_batch_takes_crc_variants() -> None:
    frames = [MODBUS_FRAME, STD_FRAME]
    b = hj212.decode_batch(frames)
    assert [b.error_kind(i) for i in range(2)] == ["crc", None]
    b = hj212.decode_batch(frames, crc_variants=("modbus",))
    assert b.n_rejected == 0
    assert b.frame_warnings.tolist() == [1, 0]
    assert hj212.decode_batch(frames, crc_variants={"modbus"}).n_rejected == 0
