"""hj212.Framer never holds a good frame behind junk: whatever came before it (random bytes,
truncated frames, overrunning or short lengths, wrong CRCs, stray ``#``), a good frame comes
out of the very ``feed`` call that completes it, in lenient and strict mode."""

from __future__ import annotations

import hj212
from hypothesis import assume, given, settings
from hypothesis import strategies as st

MN = "010000A8900016F000169DC0"


def wrap(segment: str | bytes) -> bytes:
    seg = segment.encode() if isinstance(segment, str) else segment
    return b"##%04d%s%04X\r\n" % (len(seg), seg, hj212.crc16(seg))


def upload(i: int, pollutants: int = 1) -> bytes:
    cp = ";".join(f"w0{1018 + p}-Rtd={i}.{p},w0{1018 + p}-Flag=N" for p in range(pollutants))
    return wrap(f"QN=20160801085857{i % 1000:03d};ST=32;CN=2011;PW=123456;MN={MN};Flag=5;"
                f"CP=&&DataTime=20160801085857;{cp}&&")


def wrong_crc(frame: bytes) -> bytes:
    digit = b"1" if frame[-6:-5] == b"0" else b"0"
    return frame[:-6] + digit + frame[-5:]


def with_length(frame: bytes, declared: int) -> bytes:
    return b"##%04d" % min(declared, 9999) + frame[6:]


GOOD = upload(7)
assert len(GOOD) == 151  # the issue's case: frames of about 150 bytes


@st.composite
def junk(draw: st.DrawFn) -> bytes:
    frame = upload(draw(st.integers(0, 999)), draw(st.integers(1, 8)))
    seg_len = len(frame) - 12
    kind = draw(st.sampled_from(["bytes", "truncated", "overrun", "underrun", "bad_crc",
                                 "hex_less_crc", "hashes", "bad_length"]))
    if kind == "bytes":
        return draw(st.binary(min_size=1, max_size=300)
                    | st.lists(st.sampled_from(b"##\r\n0123456789ABCDEF;=&"), min_size=1,
                               max_size=300).map(bytes))
    if kind == "truncated":
        return frame[:draw(st.integers(1, len(frame) - 1))]
    if kind == "overrun":
        return wrong_crc(with_length(frame, seg_len + draw(st.integers(1, 1100))))
    if kind == "underrun":
        return wrong_crc(with_length(frame, seg_len - draw(st.integers(1, seg_len))))
    if kind == "bad_crc":
        return wrong_crc(frame)
    if kind == "hex_less_crc":
        return frame[:-6] + b"G" + frame[-5:]
    if kind == "hashes":
        return b"#" * draw(st.integers(1, 3))
    return frame[:3] + b"x" + frame[4:]


def crc_coincidence(items: list[hj212.Frame | hj212.FrameError], good: bytes) -> bool:
    """Junk before `good`, read up to `good`'s tail, carries `good`'s CRC digits as its own
    correct CRC (one chance in 65536): then the two are rightly one frame."""
    for it in items:
        raw = it.raw
        if len(raw) > len(good) + 6 and raw.endswith(good) \
                and b"%04X" % hj212.crc16(raw[6:-6]) == good[-6:-2]:
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(junk(), min_size=1, max_size=5),
       cuts=st.lists(st.integers(0, 2000), max_size=6), strict=st.booleans())
def test_no_good_frame_waits_behind_junk(pieces: list[bytes], cuts: list[int],
                                         strict: bool) -> None:
    stream = b"".join(pieces)
    # junk and the good frame in one feed
    fr = hj212.Framer(strict=strict)
    out = fr.feed(stream + GOOD)
    assume(not crc_coincidence(out, GOOD))
    assert out and out[-1] == hj212.parse(GOOD, strict=strict), out
    assert fr.buffered == 0

    # the junk in any chunks, then the good frame in a feed of its own
    fr = hj212.Framer(strict=strict)
    at = 0
    for cut in sorted(min(c, len(stream)) for c in cuts):
        fr.feed(stream[at:cut])
        at = cut
    fr.feed(stream[at:])
    last = fr.feed(GOOD)
    assert last and last[-1] == hj212.parse(GOOD, strict=strict), last
    assert fr.buffered == 0


def test_the_issue_case_each_good_frame_comes_out_of_its_own_feed() -> None:
    """One damaged 150-byte frame whose declared length runs past its end and whose CRC is
    wrong, then good frames: before, five of them waited until a kilobyte had come."""
    damaged = wrong_crc(with_length(upload(1), 500))
    for strict in (False, True):
        fr = hj212.Framer(strict=strict)
        out = fr.feed(damaged)
        if not strict:
            # lenient mode reads the frame to its tail and rejects it with its bytes
            assert [(e.kind, e.raw) for e in out if isinstance(e, hj212.FrameError)] \
                == [("crc", damaged)]
            assert len(out) == 1
        for i in range(10, 16):
            got = fr.feed(upload(i))
            assert got and got[-1] == hj212.parse(upload(i)), (strict, i, got)
            assert fr.buffered == 0
            out += got
        errors = [o for o in out if isinstance(o, hj212.FrameError)]
        assert len(errors) == 1 and errors[0].raw == damaged
        assert errors[0].mn == MN


def test_a_truncated_frame_is_rejected_with_its_bytes_when_the_next_one_is_in() -> None:
    cut = upload(1)[:60]
    for strict in (False, True):
        err, frame = hj212.Framer(strict=strict).feed(cut + GOOD)
        assert isinstance(err, hj212.FrameError)
        assert err.raw == cut and err.kind in ("length", "tail")
        assert frame == hj212.parse(GOOD)
