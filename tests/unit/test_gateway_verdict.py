"""Every gateway verdict, decided by the pure ``judge`` over real codec frames and errors:
no socket, no disk, no clock."""

from __future__ import annotations

from typing import Any

import hj212
import pytest

from pipeline.gateway import verdict as vd
from pipeline.gateway.auth import StaticDirectory, StationEntry
from pipeline.gateway.verdict import ACCEPT, SOURCE_BLOCKED, Action, Answer, Policy, judge
from tests.codec_vectors import crc16_modbus
from tests.unit.gateway_helpers import (
    CODEC_HAS_VARIANTS,
    MN,
    MN_2005,
    PW,
    VARIANT_MN,
    modbus_signed,
    resigned,
    upload,
)

DIRECTORY = StaticDirectory([StationEntry(MN, PW), StationEntry(MN_2005, PW, edition=2005),
                             StationEntry(VARIANT_MN, PW, crc_variants=("modbus",))])
REJECT = Policy()
QUARANTINE = Policy(unknown_mn="quarantine")
needs_variants = pytest.mark.skipif(not CODEC_HAS_VARIANTS,
                                    reason="the hj212 build has no CRC variants yet")


def item(raw: bytes) -> hj212.Frame | hj212.FrameError:
    """What the Framer would hand the session for ``raw`` (an unfinished frame: at close)."""
    framer = hj212.Framer()
    [out] = framer.feed(raw) or framer.finish()
    return out


def signed(segment: bytes) -> bytes:
    """A frame around ``segment`` with the right length and CRC, whatever it holds."""
    return b"##%04d" % len(segment) + segment + b"%04X" % hj212.crc16(segment) + b"\r\n"


SEGMENT = (b"QN=20240101000000001;ST=32;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;"
           b"CP=&&DataTime=20240101000000;w01018-Rtd=1.5&&")


def test_the_standards_example_is_0759_under_modbus() -> None:
    segment = (b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
               b"Flag=5;CP=&&RtdInterval=30&&")
    assert hj212.crc16(segment) == 0x1C80
    assert crc16_modbus(segment) == 0x0759


def test_a_good_frame_is_accepted_by_the_preallocated_verdict() -> None:
    frame = item(upload(1))
    v = judge(frame, DIRECTORY, REJECT)
    assert v is ACCEPT  # the hot path allocates no verdict
    assert (v.action, v.outcome, v.answer, v.reason) == (Action.ACCEPT, "accepted",
                                                         Answer.NORMAL, "")
    assert not v.auth_failure and v.crc_variant is None and v.reread is None
    assert judge(item(upload(2)), DIRECTORY, QUARANTINE) is ACCEPT
    assert hj212.parse(vd.answer_to(v, frame) or b"").cn == "9014"


def test_a_2005_frame_is_accepted_and_not_answered() -> None:
    old = item(hj212.encode(cn=2011, st=32, mn=MN_2005, pw=PW,
                            cp="DataTime=20240101000000;011-Rtd=1.0"))
    v = judge(old, DIRECTORY, REJECT)
    assert v is ACCEPT
    assert vd.answer_to(v, old) is None  # 2005 uploads ask for no answer


def test_unknown_mn_is_rejected_with_qnrtn_4_or_quarantined() -> None:
    frame = item(upload(1, mn="FFFF00000000000000000001"))
    v = judge(frame, DIRECTORY, REJECT)
    assert (v.action, v.outcome, v.answer, v.qn_rtn) == (Action.REJECT, "rejected_unknown_mn",
                                                         Answer.QN_RTN, 4)
    assert v.reason.startswith("unknown_mn: MN 'FFFF00000000000000000001'")
    assert v.log_event == vd.LOG_REJECT and not v.auth_failure
    answer = hj212.parse(vd.answer_to(v, frame) or b"")
    assert (answer.cn, answer.cp["QnRtn"]) == ("9011", "4")
    q = judge(frame, DIRECTORY, QUARANTINE)
    assert (q.action, q.outcome, q.answer) == (Action.QUARANTINE, "quarantined", Answer.NORMAL)
    assert q.reason.startswith("quarantine: MN 'FFFF00000000000000000001'")
    assert hj212.parse(vd.answer_to(q, frame) or b"").cn == "9014"


def test_wrong_pw_is_rejected_with_qnrtn_3_and_counts_against_the_source() -> None:
    frame = item(upload(1, pw="999999"))
    v = judge(frame, DIRECTORY, REJECT)
    assert (v.action, v.outcome, v.qn_rtn, v.auth_failure) == (Action.REJECT,
                                                              "rejected_wrong_pw", 3, True)
    assert v.reason.startswith(f"wrong_pw: PW '999999' does not match the registry's for MN {MN}")
    answer = hj212.parse(vd.answer_to(v, frame) or b"")
    assert (answer.cn, answer.cp["QnRtn"]) == ("9011", "3")


def test_an_auth_failure_is_answered_only_where_an_answer_is_due() -> None:
    quiet = item(upload(1, pw="999999", flag=4))  # Flag=4: no answer wanted
    v = judge(quiet, DIRECTORY, REJECT)
    assert v.outcome == "rejected_wrong_pw" and vd.answer_to(v, quiet) is None
    unknown = item(upload(1, mn="FFFF00000000000000000001", flag=4))
    assert vd.answer_to(judge(unknown, DIRECTORY, REJECT), unknown) is None
    note = item(hj212.encode(cn=1013, st=32, mn=MN, pw="999999", qn="20240101000000123",
                             flag=5))
    answer = hj212.parse(vd.answer_to(judge(note, DIRECTORY, REJECT), note) or b"")
    assert (answer.cn, answer.cp["QnRtn"]) == ("9011", "3")


@pytest.mark.parametrize(("raw", "kind", "qn_rtn"), [
    (resigned(upload(1), 0), "crc", "9"),
    (signed(SEGMENT.replace(b"Flag=5", b"Flag=X")), "field", None),  # no Flag: no answer
    (signed(SEGMENT.replace(b"Rtd=1.5", b"Rtd=abc")), "value", "100"),
    (upload(1)[:60], "length", None),  # cut off: what the Framer holds at a close
])
def test_framing_and_field_errors_are_rejected_with_the_errors_answer(
        raw: bytes, kind: str, qn_rtn: str | None) -> None:
    err = item(raw)
    assert isinstance(err, hj212.FrameError) and err.kind == kind
    v = judge(err, DIRECTORY, REJECT)
    assert (v.action, v.outcome, v.answer) == (Action.REJECT, f"rejected_{kind}", Answer.ERROR)
    assert v.reason == f"{kind}: {err.message}" and v.crc_variant is None
    reply = vd.answer_to(v, err)
    assert reply == hj212.answer_error(err)
    assert (hj212.parse(reply).cp["QnRtn"] if reply else None) == qn_rtn


def test_a_blocked_source_is_refused_unread_and_unanswered() -> None:
    for raw in (upload(1), upload(2, pw="999999"), resigned(upload(3), 0)):
        got = item(raw)
        v = judge(got, DIRECTORY, REJECT, source_blocked=True)
        assert v is SOURCE_BLOCKED
        assert (v.action, v.outcome, v.answer) == (Action.REJECT, "rejected_source_blocked",
                                                   Answer.NONE)
        assert v.reason.startswith("source_blocked:") and not v.auth_failure
        assert vd.answer_to(v, got) is None


@needs_variants
def test_a_modbus_crc_from_a_station_allowed_it_is_accepted_with_a_warning() -> None:
    raw = modbus_signed(upload(1, mn=VARIANT_MN))
    err = item(raw)
    assert isinstance(err, hj212.FrameError) and err.kind == "crc"
    assert err.crc_variant == "modbus"
    v = judge(err, DIRECTORY, REJECT)
    assert (v.action, v.outcome, v.answer, v.crc_variant) == (Action.ACCEPT, "accepted",
                                                              Answer.NORMAL, "modbus")
    assert v.reason.startswith("crc_variant") and v.log_event == vd.LOG_CRC_VARIANT
    assert isinstance(v.reread, hj212.Frame) and v.reread.raw == raw
    assert v.reason in v.reread.warnings
    answer = hj212.parse(vd.answer_to(v, v.reread) or b"")
    assert (answer.cn, answer.qn, answer.mn) == ("9014", "20240101000000001", VARIANT_MN)


@needs_variants
def test_a_modbus_crc_from_a_station_not_allowed_it_is_a_crc_reject_that_says_how() -> None:
    err = item(modbus_signed(upload(1)))
    v = judge(err, DIRECTORY, REJECT)
    assert (v.action, v.outcome, v.answer, v.crc_variant) == (Action.REJECT, "rejected_crc",
                                                              Answer.ERROR, "modbus")
    assert v.reason.startswith("crc: ") and "crc_variants=modbus" in v.reason and MN in v.reason
    assert hj212.parse(vd.answer_to(v, err) or b"").cp["QnRtn"] == "9"
    unknown = judge(item(modbus_signed(upload(1, mn="FFFF00000000000000000001"))), DIRECTORY,
                    REJECT)
    assert unknown.outcome == "rejected_crc" and unknown.crc_variant == "modbus"


@needs_variants
def test_an_allowed_variant_still_needs_the_right_pw_and_a_sound_frame() -> None:
    wrong_pw = item(modbus_signed(upload(1, mn=VARIANT_MN, pw="999999")))
    v = judge(wrong_pw, DIRECTORY, REJECT)
    assert (v.outcome, v.qn_rtn, v.auth_failure) == ("rejected_wrong_pw", 3, True)
    assert isinstance(v.reread, hj212.Frame)  # what the 9011 answers
    assert hj212.parse(vd.answer_to(v, v.reread) or b"").cp["QnRtn"] == "3"
    bad_field = item(modbus_signed(upload(1, mn=VARIANT_MN).replace(b"Flag=5", b"Flag=X")))
    assert isinstance(bad_field, hj212.FrameError)
    v = judge(bad_field, DIRECTORY, REJECT)
    assert v.action is Action.REJECT and v.outcome != "accepted"
    if v.reread is not None:  # the CRC passed under the variant: the real error is kept
        assert isinstance(v.reread, hj212.FrameError) and v.reread.kind != "crc"
        assert v.outcome == f"rejected_{v.reread.kind}"


def test_the_variant_branch_is_inert_when_the_codec_cannot_reparse(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A codec built before CRC variants: no FrameError.crc_variant, no parse(crc_variants=);
    the frame is a plain CRC reject."""
    err = item(modbus_signed(upload(1, mn=VARIANT_MN)))
    assert isinstance(err, hj212.FrameError) and err.kind == "crc"
    old = hj212.FrameError(str(err))  # as an old build makes it: no crc_variant attribute
    old.__dict__.update({k: v for k, v in err.__dict__.items() if k != "crc_variant"})
    assert not hasattr(old, "crc_variant")
    v = judge(old, DIRECTORY, REJECT)
    assert (v.outcome, v.crc_variant) == ("rejected_crc", None)
    # a build that names the variant but cannot parse with it: a plain CRC reject too
    monkeypatch.setattr(vd, "parse_with_crc_variant", lambda raw, variant, strict: None)
    old.__dict__["crc_variant"] = "modbus"
    v = judge(old, DIRECTORY, REJECT)
    assert (v.action, v.outcome, v.crc_variant) == (Action.REJECT, "rejected_crc", None)


def test_parse_with_crc_variant_says_none_for_a_codec_without_the_keyword(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def old_parse(data: bytes, *, strict: bool = False) -> hj212.Frame:
        return hj212.parse(data, strict=strict)

    monkeypatch.setattr(hj212, "parse", old_parse)
    assert vd.parse_with_crc_variant(upload(1), "modbus", strict=False) is None


def test_policy_follows_the_settings(tmp_path: Any) -> None:
    from tests.unit.gateway_helpers import settings

    s = settings(tmp_path, unknown_mn="quarantine")
    assert Policy.of(s) == Policy(unknown_mn="quarantine", strict=False)
