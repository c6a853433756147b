"""hj212.decode_batch's fast path against its validating path (``fast=False``): the same
columns, bit for bit, the same statuses, warning counts and errors, in lenient and strict mode,
on the simulator's corpus (with damaged frames and lenient deviations), on the codec's fuzz
corpus and on hand-made deviations of a well-formed frame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hj212
import numpy as np
import pytest

from pipeline.simulator.corpus import Corpus

FUZZ = Path(__file__).resolve().parents[2] / "core_rs" / "fuzz"

HEADER = "QN=20240301080000174;ST=32;CN=2011;PW=123456;MN=CAB2C89C46DD9B1EC36EDC8D;Flag=5;"
PLAIN = ("DataTime=20240301080000;w01018-Rtd=30.2,w01018-Flag=N;"
         "w21003-Rtd=-1.25,w21003-RS=3,w21003-EFlag=A1,w21003-Flag=D")


def frame(cp: str, header: str = HEADER) -> bytes:
    seg = f"{header}CP=&&{cp}&&".encode()
    return b"##%04d" % len(seg) + seg + b"%04X\r\n" % hj212.crc16(seg)


def assert_same(frames: list[bytes], strict: bool) -> hj212.Batch:
    fast = hj212.decode_batch(frames, strict=strict)
    slow = hj212.decode_batch(frames, strict=strict, fast=False)
    assert fast.errors == slow.errors
    assert fast.columns.keys() == slow.columns.keys()
    for name, col in fast.columns.items():
        other: Any = slow.columns[name]
        assert col.dtype == other.dtype, name
        if col.dtype.kind in "fM":
            # NaN and NaT mark absent values and never equal themselves: compare the bits
            assert np.array_equal(col.view(np.int64), other.view(np.int64)), name
        else:
            assert np.array_equal(col, other), name
    return fast


@pytest.mark.parametrize("strict", [False, True])
def test_simulator_corpus(strict: bool) -> None:
    frames = Corpus(21, stations=40, error_rate=0.05, deviation_rate=0.2).frames(2000)
    b = assert_same(frames, strict)
    assert b.n_rows > 2000  # the corpus is mostly accepted, so the fast path did the work


@pytest.mark.parametrize("strict", [False, True])
def test_fuzz_corpus(strict: bool) -> None:
    frames = [p.read_bytes() for d in ("seeds", "corpus/parse") if (FUZZ / d).is_dir()
              for p in sorted((FUZZ / d).iterdir()) if p.is_file()]
    assert len(frames) > 100
    assert_same(frames, strict)


DEVIATIONS = [
    PLAIN.replace("30.2", " 30.2"),               # padded value
    PLAIN.replace("w01018-Rtd", "w01018 -Rtd"),   # space in a name
    PLAIN + ";w01018-Rtd=1",                      # duplicate field
    PLAIN.replace(";w21003", ",w21003"),           # ',' between groups
    PLAIN.replace("w21003", "zz999"),              # code outside appendix B
    PLAIN.replace("RS=3", "RS=7"),                 # RS outside 0..5
    PLAIN + ",w21003-RT=25",                       # RT outside 0..24
    PLAIN.replace("30.2", "30.1234567"),           # more decimals than N14.6
    PLAIN.replace("30.2", "3e1"),                  # exponent form
    PLAIN.replace("30.2", "abc"),                  # not a number (an error)
    PLAIN.replace("30.2", ""),                     # empty value
    PLAIN.replace("Flag=N", "Flag=X"),             # data flag outside table 8
    PLAIN.replace("EFlag=A1", "EFlag=ABCDE"),      # EFlag too long
    PLAIN.replace(";w21003", ";;w21003"),          # empty field
    ";" + PLAIN,                                   # empty first field
    PLAIN + ";",                                   # a trailing ';' (no deviation)
    PLAIN + ";Foo=1",                              # a name outside table 4
    PLAIN.replace("Rtd=30.2", "Xyz=30.2"),         # an unknown suffix
    PLAIN.replace("20240301080000", "20240230080000"),  # no such day
    PLAIN + ",w21003-SampleTime=20240301075500",   # a suffix the fast path leaves alone
    PLAIN + ";" + ";".join(f"a{i:05d}-Rtd=1" for i in range(40)),  # over 32 groups
]


@pytest.mark.parametrize("strict", [False, True])
def test_each_deviation_alone(strict: bool) -> None:
    frames = [frame(PLAIN)] + [frame(cp) for cp in DEVIATIONS]
    b = assert_same(frames, strict)
    # the well-formed frame's values, written out by hand
    assert b.status[0] == 0
    assert b.code[:2].tolist() == [b"w01018", b"w21003"]
    assert b.rtd[:2].tolist() == [30.2, -1.25]
    assert b.rs[1] == 3.0 and np.isnan(b.rs[0])
    assert b.flag[:2].tolist() == [b"N", b"D"]
    assert b.eflag[1] == b"A1"
    assert b.data_time[0] == np.datetime64("2024-03-01T08:00:00")
    # a trailing ';' is no deviation in either mode
    assert b.status[DEVIATIONS.index(PLAIN + ";") + 1] == 0


def test_fast_is_the_default_and_both_paths_are_reachable() -> None:
    frames = [frame(PLAIN)] * 3
    assert hj212.decode_batch(frames).n_rows == 6
    assert hj212.decode_batch(frames, fast=False).n_rows == 6
