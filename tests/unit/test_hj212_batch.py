"""hj212.decode_batch: columns, dtypes, NaN where absent, and agreement with parse() row by row."""

from __future__ import annotations

import math
import sys
from datetime import datetime

import hj212
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.simulator.corpus import Corpus
from tests.codec_vectors import STD_FRAME

MN = "010000A8900016F000169DC0"

#: the standard's numeric suffixes, in the order of decode_batch's numeric columns
SUFFIXES = (
    "Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "RS", "RT", "Data",
    "DayData", "NightData", "Ala", "UpValue", "LowValue",
)
COLUMN = dict(zip(SUFFIXES, hj212.NUMERIC_SUFFIXES, strict=True))

ROW_COLUMNS = {
    "row_frame": np.int32, "mn": "S32", "st": "S2", "cn": np.uint16,
    "data_time": "datetime64[s]", "code": "S16", "flag": "S1", "eflag": "S4",
}
FRAME_COLUMNS = {
    "status": np.uint8, "frame_mn": "S32", "frame_st": "S2", "frame_cn": np.uint16,
    "frame_qn": "S32", "frame_flag": np.int16, "frame_edition": np.uint16,
    "frame_data_time": "datetime64[s]", "frame_rows": np.int32, "frame_warnings": np.uint32,
}


def wrap(segment: str | bytes) -> bytes:
    seg = segment.encode() if isinstance(segment, str) else segment
    return b"##%04d%s%04X\r\n" % (len(seg), seg, hj212.crc16(seg))


HOURLY = wrap(
    f"QN=20160801090000001;ST=32;CN=2061;PW=123456;MN={MN};Flag=5;CP=&&DataTime=20160801080000;"
    "w00000-Cou=63.0,w00000-Min=16.4,w00000-Avg=17.5,w00000-Max=20.1,w00000-Flag=N;"
    "w01018-Avg=40.1,w01018-Flag=D,w01018-EFlag=A01;SB1-RS=1,SB1-RT=2.5&&"
)
OLD = wrap("ST=31;CN=2011;PW=123456;MN=88888880000001;CP=&&DataTime=20160801085857;02-Rtd=1.5&&")
BAD_CRC = HOURLY[:-6] + (b"0000" if not HOURLY.endswith(b"0000\r\n") else b"1111") + b"\r\n"


def test_column_dtypes_and_lengths():
    b = hj212.decode_batch([HOURLY, STD_FRAME, BAD_CRC, OLD])
    assert b.n_frames == 4 and b.n_rows == 4 and b.n_rejected == 1
    for name, dtype in ROW_COLUMNS.items():
        assert b.columns[name].dtype == np.dtype(dtype), name
        assert b.columns[name].shape == (4,), name
    for name in hj212.NUMERIC_SUFFIXES:
        assert b.columns[name].dtype == np.float64 and b.columns[name].shape == (4,), name
    for name, dtype in FRAME_COLUMNS.items():
        assert b.columns[name].dtype == np.dtype(dtype), name
        assert b.columns[name].shape == (4,), name
    assert set(b.columns) == (
        set(ROW_COLUMNS) | set(FRAME_COLUMNS) | set(hj212.NUMERIC_SUFFIXES) | {"numeric"}
    )
    # the per-suffix columns are views of the rows x suffixes matrix
    assert b.numeric.shape == (4, len(hj212.NUMERIC_SUFFIXES))
    for i, name in enumerate(hj212.NUMERIC_SUFFIXES):
        assert np.shares_memory(b.columns[name], b.numeric)
        np.testing.assert_array_equal(b.columns[name], b.numeric[:, i])
    assert len(hj212.NUMERIC_SUFFIXES) == 17
    # attribute access is the same array
    assert b.rtd is b.columns["rtd"]
    with pytest.raises(AttributeError):
        _ = b.no_such_column


def test_values_rows_and_nan_where_absent():
    b = hj212.decode_batch([HOURLY, STD_FRAME, BAD_CRC, OLD])
    assert b.row_frame.tolist() == [0, 0, 0, 3]
    assert b.code.tolist() == [b"w00000", b"w01018", b"SB1", b"02"]
    assert b.mn.tolist() == [MN.encode()] * 3 + [b"88888880000001"]
    assert b.st.tolist() == [b"32", b"32", b"32", b"31"]
    assert b.cn.tolist() == [2061, 2061, 2061, 2011]
    assert b.columns[COLUMN["Cou"]][0] == 63.0
    assert b.columns[COLUMN["Min"]][0] == 16.4
    assert b.columns[COLUMN["Avg"]].tolist()[:2] == [17.5, 40.1]
    assert math.isnan(b.columns[COLUMN["Cou"]][1])
    assert math.isnan(b.rtd[0]) and b.rtd[3] == 1.5
    assert b.columns[COLUMN["RS"]][2] == 1.0 and b.columns[COLUMN["RT"]][2] == 2.5
    assert b.flag.tolist() == [b"N", b"D", b"", b""]
    assert b.eflag.tolist() == [b"", b"A01", b"", b""]
    # every other numeric column is NaN on the w00000 row
    present = {COLUMN[s] for s in ("Cou", "Min", "Avg", "Max")}
    for name in hj212.NUMERIC_SUFFIXES:
        if name not in present:
            assert math.isnan(b.columns[name][0]), name


def test_frame_columns():
    b = hj212.decode_batch([HOURLY, STD_FRAME, BAD_CRC, OLD])
    assert b.status.tolist() == [0, 0, hj212.ERROR_KINDS.index("crc") + 1, 0]
    assert [b.error_kind(i) for i in range(4)] == [None, None, "crc", None]
    assert b.frame_rows.tolist() == [3, 0, 0, 1]
    assert b.frame_cn.tolist() == [2061, 1062, 0, 2011]
    assert b.frame_qn.tolist() == [b"20160801090000001", b"20160801085857223", b"", b""]
    assert b.frame_flag.tolist() == [5, 5, -1, -1]
    assert b.frame_edition.tolist() == [2017, 2017, 0, 2005]
    assert b.frame_mn.tolist() == [MN.encode(), MN.encode(), b"", b"88888880000001"]
    assert b.frame_st.tolist() == [b"32", b"32", b"", b"31"]
    assert b.frame_warnings.tolist() == [len(hj212.parse(HOURLY).warnings), 0, 0, 0]
    assert b.frame_data_time[0] == np.datetime64("2016-08-01T08:00:00")
    assert np.isnat(b.frame_data_time[1]) and np.isnat(b.frame_data_time[2])
    assert b.data_time[3] == np.datetime64(datetime(2016, 8, 1, 8, 58, 57))
    assert len(b.errors) == 1
    i, kind, field, message = b.errors[0]
    assert (i, kind, field) == (2, "crc", "CRC")
    assert "CRC" in message


def test_status_codes_map_to_error_kinds():
    cases = {
        "header": b"XX" + STD_FRAME[2:],
        "length": STD_FRAME.replace(b"##0101", b"##01x1"),
        "crc": STD_FRAME.replace(b"1C80", b"1C81"),
        "tail": STD_FRAME + b"zz",
        "encoding": wrap(STD_FRAME[6:-6].replace(b"30", b"3\x010")),
        "field": wrap(STD_FRAME[6:-6].replace(b"ST=32", b"ST=3")),
        "cp": wrap(STD_FRAME[6:-6].replace(b"CP=&&", b"CP=")),
        "value": wrap(STD_FRAME[6:-6].replace(b"=30", b"=x")),
    }
    b = hj212.decode_batch(list(cases.values()))
    assert [hj212.ERROR_KINDS[s - 1] for s in b.status] == list(cases)
    assert [e[0] for e in b.errors] == list(range(len(cases)))
    assert [e[1] for e in b.errors] == list(cases)
    assert b.n_rows == 0 and b.n_rejected == len(cases)


def test_lenient_warnings_counted_and_strict_rejects():
    lf = HOURLY[:-2] + b"\n"
    b = hj212.decode_batch([lf])
    n = len(hj212.parse(HOURLY).warnings)
    assert b.status.tolist() == [0] and b.frame_warnings.tolist() == [n + 1]
    b = hj212.decode_batch([lf], strict=True)
    assert b.error_kind(0) == "tail"


def test_rejected_frames_leave_no_rows():
    bad_late = HOURLY.replace(b"SB1-RT=2.5", b"SB1-RT=x.5")
    bad_late = wrap(bad_late[6:-6])
    b = hj212.decode_batch([bad_late, HOURLY])
    assert b.status.tolist() == [hj212.ERROR_KINDS.index("value") + 1, 0]
    assert b.row_frame.tolist() == [1, 1, 1]
    assert b.frame_rows.tolist() == [0, 3]


def test_accepts_list_tuple_generator_and_empty():
    ref = hj212.decode_batch([HOURLY, OLD])
    for seq in ((HOURLY, OLD), iter([HOURLY, OLD]), (x for x in [HOURLY, OLD])):
        b = hj212.decode_batch(seq)
        assert b.n_frames == 2 and b.code.tolist() == ref.code.tolist()
    empty = hj212.decode_batch([])
    assert empty.n_frames == 0 and empty.n_rows == 0 and empty.errors == []


@pytest.mark.parametrize("bad", [[STD_FRAME, "text"], [bytearray(STD_FRAME)], [1], "abc", 5])
def test_type_error_on_non_bytes(bad):
    with pytest.raises(TypeError):
        hj212.decode_batch(bad)


def test_long_lists_are_read_whole_and_let_go():
    """A list longer than the read-ahead of its items: every frame decoded in order, a
    non-bytes item anywhere refused, and no reference to a frame kept afterwards."""
    frames = [bytes(bytearray(f)) for f in [HOURLY, OLD] * 40]  # distinct objects
    before = [sys.getrefcount(f) for f in frames]
    b = hj212.decode_batch(frames)
    assert b.n_frames == 80 and b.status.tolist() == [0] * 80
    assert b.frame_mn.tolist() == [hj212.parse(f).mn.encode() for f in frames]
    for at in (0, 17, 63, 79):
        bad: list[object] = list(frames)
        bad[at] = "text"
        with pytest.raises(TypeError):
            hj212.decode_batch(bad)
        del bad
    assert [sys.getrefcount(f) for f in frames] == before


def check_against_parse(frames: list[bytes], *, strict: bool = False) -> int:
    """Every column of decode_batch agrees with parse() frame by frame; returns rows checked."""
    b = hj212.decode_batch(frames, strict=strict)
    assert b.n_frames == len(frames)
    row = 0
    for i, raw in enumerate(frames):
        try:
            f = hj212.parse(raw, strict=strict)
        except hj212.FrameError as e:
            assert b.error_kind(i) == e.kind
            assert b.frame_rows[i] == 0
            continue
        assert b.status[i] == 0
        assert b.frame_mn[i] == (f.mn or "").encode()
        assert b.frame_st[i] == (f.st or "").encode()
        assert b.frame_cn[i] == int(f.cn)
        assert b.frame_qn[i] == (f.qn or "").encode()
        assert b.frame_flag[i] == (-1 if f.flag is None else f.flag)
        assert b.frame_edition[i] == f.edition
        assert b.frame_warnings[i] == len(f.warnings)
        assert b.frame_rows[i] == len(f.pollutants)
        if f.data_time is None:
            assert np.isnat(b.frame_data_time[i])
        else:
            expected = np.datetime64(datetime.strptime(f.data_time, "%Y%m%d%H%M%S"), "s")
            assert b.frame_data_time[i] == expected
        for code, fields in f.pollutants.items():
            assert b.row_frame[row] == i
            assert b.code[row] == code.encode()
            assert b.mn[row] == (f.mn or "").encode()
            assert b.cn[row] == int(f.cn)
            assert b.data_time[row] == b.frame_data_time[i] or np.isnat(b.data_time[row])
            for suffix in SUFFIXES:
                got = b.columns[COLUMN[suffix]][row]
                if suffix in fields:
                    assert got == fields[suffix], (code, suffix)
                else:
                    assert math.isnan(got), (code, suffix)
            assert b.flag[row] == fields.get("Flag", "").encode()[:1]
            assert b.eflag[row] == fields.get("EFlag", "").encode()[:4]
            row += 1
    assert row == b.n_rows
    return row


def test_corpus_cross_check_with_parse():
    frames = Corpus(11, stations=30, error_rate=0.1).frames(600)
    rows = check_against_parse(frames)
    assert rows > 1000
    b = hj212.decode_batch(frames)
    assert 0 < b.n_rejected < 600
    assert len(b.errors) == b.n_rejected


def test_corpus_cross_check_strict_with_deviations():
    frames = Corpus(12, stations=20, error_rate=0.05, deviation_rate=0.2).frames(300)
    check_against_parse(frames, strict=True)
    check_against_parse(frames, strict=False)


VALUES = st.decimals(min_value=-10**6, max_value=10**6, places=2, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["w01018", "w00000", "a21026", "a34013", "x12345"]),
            st.sampled_from(SUFFIXES[:9]),
            VALUES,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_generated_frames_agree_with_parse(fields):
    cp = {"DataTime": "20240301080000"}
    for code, suffix, value in fields:
        cp[f"{code}-{suffix}"] = f"{value:f}"
    frame = hj212.encode(cn=2061, st=32, mn=MN, pw="123456", qn="20240301080000001", flag=4,
                         cp=sorted(cp.items(), key=lambda kv: kv[0].split("-")[0]))
    check_against_parse([frame, frame])


def _pooled_columns(batch: hj212.Batch) -> dict[str, np.ndarray]:
    """Each column of a batch once (the numeric suffixes are views of ``numeric``)."""
    return {k: v for k, v in batch.columns.items() if k not in COLUMN.values()}


def _corpus_frames(n: int, seed: int) -> list[bytes]:
    c = Corpus(seed=seed)
    return [c.sample().raw for _ in range(n)]


def test_a_batch_never_shares_memory_with_one_still_held():
    frames = _corpus_frames(3000, 7)
    held = hj212.decode_batch(frames)
    before = {k: v.copy() for k, v in _pooled_columns(held).items()}
    for seed in (8, 9, 10):
        other = hj212.decode_batch(_corpus_frames(3000, seed))
        for name, col in _pooled_columns(other).items():
            for mine in _pooled_columns(held).values():
                assert not np.shares_memory(col, mine), name
        del other  # its buffers go back to the pools, for the next round
    # nothing written over the held batch's columns
    for name, col in _pooled_columns(held).items():
        np.testing.assert_array_equal(col, before[name], err_msg=name)


def test_a_view_kept_alone_keeps_its_column_from_the_next_batch():
    frames = _corpus_frames(2000, 11)
    batch = hj212.decode_batch(frames)
    rtd = batch.rtd  # a strided view of the numbers' matrix
    mn = batch.mn
    rtd_copy, mn_copy = rtd.copy(), mn.copy()
    del batch
    for seed in (12, 13):
        hj212.decode_batch(_corpus_frames(2000, seed))
    np.testing.assert_array_equal(rtd, rtd_copy)
    np.testing.assert_array_equal(mn, mn_copy)


def test_a_batch_let_go_lends_its_buffers_to_the_next():
    # the pools' point: the next batch's columns are written where the last one's were,
    # pages already in place (the buffer comes back once no array over it is left)
    frames = _corpus_frames(2000, 14)
    first = hj212.decode_batch(frames)
    at = first.numeric.__array_interface__["data"][0]
    size = first.numeric.nbytes
    del first
    # the allocator would hand memory just freed to the next request: this one takes it
    # if the buffer went back there instead of to the pool
    squatters = [np.ones(size // 8) for _ in range(4)]
    second = hj212.decode_batch(frames)
    assert second.numeric.__array_interface__["data"][0] == at
    assert all(s.__array_interface__["data"][0] != at for s in squatters)
