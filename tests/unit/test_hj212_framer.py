"""hj212.Framer (TCP byte streams) and hj212.Reassembler (split messages)."""

from __future__ import annotations

import hj212
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.codec_vectors import STD_FRAME, load_appendix_c

MN = "010000A8900016F000169DC0"
MAX_FRAME = 2 + 4 + 1024 + 4 + 2


def wrap(segment: str | bytes) -> bytes:
    seg = segment.encode() if isinstance(segment, str) else segment
    return b"##%04d%s%04X\r\n" % (len(seg), seg, hj212.crc16(seg))


def upload(i: int, flag: int = 5) -> bytes:
    seg = (
        f"QN=20160801085857{i:03d};ST=32;CN=2011;PW=123456;MN={MN};Flag={flag};"
        f"CP=&&DataTime=20160801085857;w01018-Rtd={i}.5,w01018-Flag=N&&"
    )
    return wrap(seg)


def feed_all(framer: hj212.Framer, chunks) -> list:
    out = []
    for c in chunks:
        out.extend(framer.feed(c))
    return out


def summary(items) -> list[tuple]:
    """Comparable view of a Framer's output."""
    out = []
    for it in items:
        if isinstance(it, hj212.Frame):
            out.append(("frame", it.raw, tuple(it.warnings)))
        else:
            assert isinstance(it, hj212.FrameError)
            out.append(("error", it.kind, it.raw, str(it)))
    return out


# --- Framer ----------------------------------------------------------------------------


def test_one_frame_one_feed():
    fr = hj212.Framer()
    out = fr.feed(STD_FRAME)
    assert out == [hj212.parse(STD_FRAME)]
    assert fr.buffered == 0
    assert fr.stats["frames"] == 1 and fr.stats["errors"] == 0
    assert fr.finish() == []


def test_byte_by_byte():
    fr = hj212.Framer()
    got = []
    for i in range(len(STD_FRAME)):
        got.extend(fr.feed(STD_FRAME[i : i + 1]))
        if i < len(STD_FRAME) - 1:
            assert got == []
            assert fr.buffered == i + 1
    assert got == [hj212.parse(STD_FRAME)]
    assert fr.buffered == 0


def test_ten_frames_in_one_feed():
    frames = [upload(i) for i in range(10)]
    fr = hj212.Framer()
    out = fr.feed(b"".join(frames))
    assert [f.raw for f in out] == frames
    assert [f.pollutants["w01018"]["Rtd"] for f in out] == [i + 0.5 for i in range(10)]
    assert fr.stats["frames"] == 10
    assert fr.stats["bytes"] == sum(map(len, frames))
    assert fr.buffered == 0


def test_frame_split_over_many_chunks():
    data = upload(7)
    fr = hj212.Framer()
    out = feed_all(fr, [data[i : i + 7] for i in range(0, len(data), 7)])
    assert out == [hj212.parse(data)]


def test_garbage_between_frames_is_one_header_error_with_its_bytes():
    fr = hj212.Framer()
    junk = b"AT+CSQ\r\nOK\r\n"
    out = fr.feed(upload(1) + junk + upload(2) + b"\x00\xff" + upload(3))
    kinds = [type(o).__name__ for o in out]
    assert kinds == ["Frame", "FrameError", "Frame", "FrameError", "Frame"]
    assert out[1].kind == "header" and out[1].raw == junk
    assert out[3].kind == "header" and out[3].raw == b"\x00\xff"
    assert str(len(junk)) in str(out[1])
    assert [o.raw for o in out[::2]] == [upload(1), upload(2), upload(3)]
    s = fr.stats
    assert (s["frames"], s["errors"], s["garbage_bytes"]) == (3, 2, len(junk) + 2)
    assert s["resyncs"] == 2


def test_garbage_before_the_first_frame_and_a_hash_run():
    fr = hj212.Framer()
    out = fr.feed(b"noise###" + STD_FRAME[1:])  # "###0101..." : the frame starts at the last ##
    assert out[0].kind == "header"
    assert out[1] == hj212.parse(STD_FRAME)


def test_oversize_length_is_rejected_and_the_next_frame_found():
    fr = hj212.Framer()
    bad = b"##2000" + b"a" * 50
    out = fr.feed(bad + STD_FRAME)
    assert len(out) == 2
    assert (out[0].kind, out[0].field, out[0].value) == ("length", "length", "2000")
    assert out[0].raw.startswith(b"##2000")
    assert out[1] == hj212.parse(STD_FRAME)


def test_crc_error_in_a_stream_keeps_going():
    bad = STD_FRAME.replace(b"1C80", b"1C81")
    fr = hj212.Framer()
    out = fr.feed(bad + STD_FRAME)
    assert out[0].kind == "crc" and out[0].qn_rtn == 9 and out[0].raw == bad
    assert out[0].mn == MN
    assert out[1] == hj212.parse(STD_FRAME)
    assert fr.stats["errors"] == 1 and fr.stats["frames"] == 1


def test_invalid_frame_in_a_stream_is_an_error_with_its_bytes():
    bad = wrap(upload(1)[6:-6].replace(b"Rtd=1.5", b"Rtd=abc"))
    fr = hj212.Framer()
    out = fr.feed(bad + upload(2))
    assert (out[0].kind, out[0].field, out[0].raw) == ("value", "w01018-Rtd", bad)
    assert out[1].raw == upload(2)


def test_lenient_deviations_reach_the_frame_strict_rejects():
    lf = STD_FRAME[:-2] + b"\n"
    out = hj212.Framer().feed(lf + STD_FRAME)
    assert [type(o) for o in out] == [hj212.Frame, hj212.Frame]
    assert out[0].warnings and out[0].warnings[0].startswith("bare_lf")
    out = hj212.Framer(strict=True).feed(lf + STD_FRAME)
    assert out[0].kind == "tail"
    assert out[-1] == hj212.parse(STD_FRAME)


def test_buffered_is_bounded_under_a_garbage_flood():
    for junk in (b"x" * 1000, b"#" * 997, b"##0999" + b"a" * 991, b"##1024" + b"\n" * 1000):
        for strict in (False, True):
            fr = hj212.Framer(strict=strict)
            peak = 0
            for _ in range(200):
                fr.feed(junk)
                peak = max(peak, fr.buffered)
            assert peak <= MAX_FRAME + 2, (junk[:8], strict, peak)
            assert fr.stats["bytes"] == 200 * len(junk)
            # and it still finds its footing
            out = fr.feed(b"\r\n" + STD_FRAME)
            assert out and out[-1] == hj212.parse(STD_FRAME)


def test_garbage_run_over_many_chunks_is_reported_once():
    fr = hj212.Framer()
    out = feed_all(fr, [b"z" * 100] * 50)
    assert out == []
    out = fr.feed(STD_FRAME)
    assert len(out) == 2
    assert out[0].kind == "header" and "5000" in str(out[0])
    assert len(out[0].raw) <= MAX_FRAME
    assert fr.stats["garbage_bytes"] == 5000


def test_finish_on_a_half_frame():
    fr = hj212.Framer()
    half = STD_FRAME[:50]
    assert fr.feed(half) == []
    assert fr.buffered == 50
    out = fr.finish()
    assert len(out) == 1
    e = out[0]
    assert isinstance(e, hj212.FrameError)
    assert e.kind == "length" and e.raw == half
    assert e.mn is None or e.mn == MN
    assert fr.buffered == 0
    assert fr.stats["errors"] == 1
    assert fr.finish() == []


def test_finish_on_trailing_garbage():
    fr = hj212.Framer()
    fr.feed(STD_FRAME + b"tail junk")
    out = fr.finish()
    assert len(out) == 1 and out[0].kind == "header" and out[0].raw == b"tail junk"


def test_stats_keys():
    s = hj212.Framer().stats
    assert {"frames", "errors", "garbage_bytes", "resyncs", "bytes"} <= set(s)
    assert all(v == 0 for v in s.values())


STREAM_PARTS = [
    STD_FRAME,
    upload(1),
    b"junk\r\n",
    upload(2, flag=4),
    STD_FRAME.replace(b"1C80", b"1C81"),
    STD_FRAME[:-2] + b"\n",
    STD_FRAME.replace(b"1C80", b"1c80"),
    b"##2000aaaa",
    STD_FRAME[:2] + b"0099" + STD_FRAME[6:],
    upload(3),
    wrap(upload(4)[6:-6].replace(b"Rtd=4.5", b"Rtd=x")),
    upload(5),
]


@settings(max_examples=80, deadline=None)
@given(
    parts=st.lists(st.sampled_from(STREAM_PARTS), min_size=1, max_size=10),
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=60),
    strict=st.booleans(),
)
def test_random_chunkings_give_the_same_output_as_one_feed(parts, cuts, strict):
    data = b"".join(parts)
    whole = hj212.Framer(strict=strict)
    expected = summary(whole.feed(data) + whole.finish())
    chunks, pos = [], 0
    for c in cuts:
        chunks.append(data[pos : pos + c])
        pos += c
    chunks.append(data[pos:])
    pieces = hj212.Framer(strict=strict)
    got = summary(feed_all(pieces, chunks) + pieces.finish())
    assert got == expected
    assert pieces.stats == whole.stats


def test_byte_by_byte_stream_equals_one_feed():
    data = b"".join(STREAM_PARTS)
    whole = hj212.Framer()
    expected = summary(whole.feed(data) + whole.finish())
    fr = hj212.Framer()
    got = summary(feed_all(fr, [data[i : i + 1] for i in range(len(data))]) + fr.finish())
    assert got == expected
    # every good frame in the stream came out as a frame
    n_frames = sum(1 for s in expected if s[0] == "frame")
    assert n_frames == fr.stats["frames"] >= 7


def test_framer_on_a_simulated_corpus_stream():
    from pipeline.simulator.corpus import Corpus

    frames = Corpus(3, stations=10).frames(200)
    fr = hj212.Framer(strict=True)
    out = feed_all(fr, [b"".join(frames)[i : i + 333] for i in range(0, 10**6, 333)])
    assert [f.raw for f in out] == frames


# --- Reassembler ---------------------------------------------------------------------------

QN = "20160801085857534"


def part(pno: int, pnum: int = 3, qn: str = QN, extra: str = "") -> hj212.Frame:
    code = ["w00000", "w01001", "w01018", "w21003"][pno - 1]
    data = hj212.encode(
        cn=2061, st=32, mn=MN, pw="123456", qn=qn, flag=7, pnum=pnum, pno=pno,
        cp=[("DataTime", "20160801080000"), (f"{code}-Avg", f"{pno}.5{extra}"),
            (f"{code}-Flag", "N")],
    )
    return hj212.parse(data, strict=True)


def check_joined(j: hj212.Frame, pnum: int = 3) -> None:
    assert isinstance(j, hj212.Frame)
    assert j.is_split is False and j.pnum is None and j.pno is None
    assert j.flag == 5 and j.needs_ack is True
    assert j.qn == QN and j.mn == MN and j.cn == "2061"
    assert j.data_time == "20160801080000"
    assert list(j.cp).count("DataTime") == 1
    codes = ["w00000", "w01001", "w01018", "w21003"][:pnum]
    assert list(j.pollutants) == codes
    for i, c in enumerate(codes, 1):
        assert j.pollutants[c] == {"Avg": i + 0.5, "Flag": "N"}
    assert hj212.parse(j.raw) == j


def test_split_message_in_order():
    r = hj212.Reassembler()
    assert r.add(part(1), now=0) is None
    assert r.pending == 1 and r.pending_bytes == len(part(1).raw)
    assert r.add(part(2), now=1) is None
    j = r.add(part(3), now=2)
    check_joined(j)
    assert r.pending == 0 and r.pending_bytes == 0


@pytest.mark.parametrize("order", [(3, 1, 2), (2, 3, 1), (3, 2, 1)])
def test_split_message_out_of_order(order):
    r = hj212.Reassembler()
    results = [r.add(part(n), now=i) for i, n in enumerate(order)]
    assert results[:2] == [None, None]
    check_joined(results[2])


def test_duplicate_part_is_ignored_and_conflicting_part_rejected():
    r = hj212.Reassembler()
    r.add(part(1), now=0)
    assert r.add(part(1), now=1) is None  # a resend
    assert r.pending == 1
    with pytest.raises(hj212.FrameError) as ei:
        r.add(part(1, extra="1"), now=2)  # same PNO, other contents
    assert ei.value.field == "PNO"
    with pytest.raises(hj212.FrameError) as ei:
        r.add(part(2, pnum=4), now=3)  # another PNUM for the same (MN, QN)
    assert ei.value.field == "PNUM"


def test_timeout_via_now():
    r = hj212.Reassembler(timeout_s=10)
    r.add(part(1), now=1000.0)
    r.add(part(3), now=1001.0)
    assert r.expire(now=1005.0) == []
    assert r.pending == 1
    expired = r.expire(now=1011.5)
    assert expired == [(MN, QN, [2])]
    assert r.pending == 0 and r.pending_bytes == 0
    # the late part starts a new message rather than completing the dropped one
    assert r.add(part(2), now=1012.0) is None
    assert r.pending == 1


def test_non_split_frames_pass_through():
    r = hj212.Reassembler()
    f = hj212.parse(STD_FRAME)
    assert r.add(f) == f
    assert r.add(hj212.parse(upload(1)), now=5) == hj212.parse(upload(1))
    assert r.pending == 0


def test_max_messages_bound_evicts_oldest():
    r = hj212.Reassembler(max_messages=2)
    for i in range(3):
        r.add(part(1, qn=f"20160801085857{i:03d}"), now=i)
    assert r.pending == 2
    evicted = r.expire(now=3)
    assert evicted == [(MN, "20160801085857000", [2, 3])]


def test_appendix_c49_parts_with_their_own_qns_join():
    rows = {r.id: r for r in load_appendix_c()}
    p1 = hj212.parse_segment(rows["c147"].cleaned, strict=True)
    p2 = hj212.parse_segment(rows["c148"].cleaned, strict=True)
    assert p1.qn != p2.qn and p1.pnum == p2.pnum == 2
    r = hj212.Reassembler()
    assert r.add(p1, now=0) is None
    j = r.add(p2, now=1)
    assert j is not None
    assert list(j.pollutants) == ["w00000", "w01001", "w01018"]
    assert j.flag == 4 and j.qn == p1.qn
