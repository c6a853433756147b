"""Batched columnar inserts of decoded frames into ``frames`` and ``readings``.

The stream workers hand over what the gateway put on Kafka (raw bytes, receive time,
gateway id, peer) in batches; ``FrameSink.write`` decodes them with ``hj212.decode_batch``
(or takes a batch already decoded) and sends one block per table. Columns go to the
driver as plain lists of ints, floats and bytes, which is its fastest path: no per-value
time-zone work (times are epoch seconds) and no null maps (absent values are NaN);
``readings`` goes as NumPy arrays (the driver's numpy mode), so no Python object is made
per value on the hot path.

Time: HJ 212 data times are the logger's local clock, China Standard Time. Asia/Shanghai
has had no daylight saving since 1991, so naive data times become epoch seconds by
subtracting a fixed 8 hours, vectorised, instead of a time-zone lookup per row.

A write is all-or-nothing per table, not across the two tables; both tables are keyed so
that writing the same batch again (after a failure or a Kafka redelivery) leaves no
duplicate. So the caller's rule is simple: retry the whole batch until ``write`` returns,
then commit the Kafka offsets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import hj212
import numpy as np
import numpy.typing as npt

from pipeline.store import native_strings
from pipeline.store.client import ClickHouse
from pipeline.timebase import CST_OFFSET_S

#: CRC algorithms a frame on ``hj212.frames`` may carry besides the standard's. The gateway
#: accepts one only from a station whose registry entry allows it (stations column
#: ``crc_variants``); what it published was vetted per station, so downstream decoding of
#: that topic takes them all. Rejects are decoded without them: a variant the gateway
#: refused stays a CRC error there.
VETTED_CRC_VARIANTS: tuple[str, ...] = tuple(v for v in hj212.CRC_VARIANTS if v != "hj212")

#: float columns of ``readings``, the same names as hj212.NUMERIC_SUFFIXES
VALUE_COLUMNS: tuple[str, ...] = tuple(hj212.NUMERIC_SUFFIXES)


@dataclass(frozen=True, slots=True)
class SinkResult:
    frames: int
    readings: int
    rejected: int
    seconds: float

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds if self.seconds > 0 else float("inf")


def local_to_epoch(times: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
    """Naive China Standard Time (datetime64[s]) -> epoch seconds; NaT stays as INT64_MIN."""
    secs = times.astype("datetime64[s]").astype(np.int64)
    nat = np.isnat(times)
    out = secs - CST_OFFSET_S
    out[nat] = np.iinfo(np.int64).min
    return out


def _as_epoch(values: Sequence[float] | npt.NDArray[Any] | float, n: int) -> npt.NDArray[np.int64]:
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if np.issubdtype(arr.dtype, np.datetime64):
        # an aware instant given as datetime64 is UTC by numpy's convention
        return arr.astype("datetime64[s]").astype(np.int64)
    if len(arr) != n:
        raise ValueError(f"receive_times has {len(arr)} values for {n} frames; fix: give "
                         "one receive time per frame (or one for all)")
    return arr.astype(np.float64).astype(np.int64)


def _per_frame(values: str | Sequence[str], n: int, what: str) -> list[str]:
    if isinstance(values, str):
        return [values] * n
    out = list(values)
    if len(out) != n:
        raise ValueError(f"{what} has {len(out)} values for {n} frames; fix: give one per "
                         "frame, or a single string for all")
    return out


_CODE_2017: dict[bytes, bytes] = {}


def normalise_codes(codes: npt.NDArray[np.bytes_], edition: npt.NDArray[np.integer[Any]]
                    ) -> npt.NDArray[np.bytes_]:
    """2017 codes for 2005 rows where the standard's table maps them; others unchanged.

    Works on the distinct codes only (a few dozen per batch), not row by row."""
    out = codes.copy()
    old = edition == 2005
    if not old.any():
        return out
    uniq, inverse = np.unique(codes[old], return_inverse=True)
    mapped = []
    for code in uniq.tolist():
        new = _CODE_2017.get(code)
        if new is None:
            text = hj212.pollutant_2017(code.decode("ascii", "replace"))
            new = text.encode("ascii") if text else code
            _CODE_2017[code] = new
        mapped.append(new)
    out = out.astype(f"S{max(out.dtype.itemsize, 16)}")
    out[old] = np.array(mapped, dtype=out.dtype)[inverse]
    return out


def reading_columns(batch: hj212.Batch, receive_epoch: npt.NDArray[np.int64]
                    ) -> dict[str, npt.NDArray[Any]]:
    """``readings`` columns for every row of ``batch``, as contiguous NumPy arrays."""
    c = batch.columns
    row_frame = c["row_frame"]
    received = receive_epoch[row_frame]
    data_time = local_to_epoch(c["data_time"])
    # a data row without DataTime (rare: e.g. a 3020 site-information upload) is stamped
    # with its receive time rather than dropped; the frame keeps the original text
    missing = data_time == np.iinfo(np.int64).min
    if missing.any():
        data_time[missing] = received[missing]
    edition = c["frame_edition"][row_frame]
    cols: dict[str, npt.NDArray[Any]] = {
        "mn": c["mn"],
        "st": c["st"],
        "cn": c["cn"],
        "code": normalise_codes(c["code"], edition),
        "wire_code": c["code"],
        "data_time": data_time.astype(np.uint32),
    }
    for name in VALUE_COLUMNS:
        # decode_batch's value columns may be strided views of one matrix
        cols[name] = np.ascontiguousarray(c[name], dtype=np.float64)
    cols["flag"] = c["flag"]
    cols["eflag"] = c["eflag"]
    cols["qn"] = c["frame_qn"][row_frame]
    cols["edition"] = edition
    cols["receive_time"] = received.astype(np.uint32)
    return cols


def frame_columns(batch: hj212.Batch, raws: Sequence[bytes], receive_epoch: npt.NDArray[np.int64],
                  gateways: list[str], peers: list[str], *, strict: bool = False
                  ) -> dict[str, list[Any]]:
    """``frames`` columns, one per input frame, rejected ones with their reason."""
    c = batch.columns
    n = batch.n_frames
    data_time = local_to_epoch(c["frame_data_time"])
    dt_list: list[int | None] = data_time.tolist()
    nat = np.isnat(c["frame_data_time"])
    for i in np.flatnonzero(nat).tolist():
        dt_list[i] = None
    cols: dict[str, list[Any]] = {
        "receive_time": receive_epoch.tolist(),
        "gateway": gateways,
        "peer": peers,
        "mn": c["frame_mn"].tolist(),
        "st": c["frame_st"].tolist(),
        "cn": c["frame_cn"].astype("S5").tolist(),
        "qn": c["frame_qn"].tolist(),
        "flag": c["frame_flag"].tolist(),
        "edition": c["frame_edition"].tolist(),
        "data_time": dt_list,
        "status": [b"accepted"] * n,
        "error_kind": [b""] * n,
        "error_field": [b""] * n,
        "error_message": [b""] * n,
        "warnings": c["frame_warnings"].tolist(),
        "n_readings": c["frame_rows"].tolist(),
        "raw": list(raws),
    }
    for i, kind, fld, message in batch.errors:
        cols["status"][i] = b"rejected"
        cols["error_kind"][i] = kind
        cols["error_field"][i] = fld or ""
        cols["error_message"][i] = message
        cols["cn"][i] = b""
        # the batch has no header for a rejected frame; a single parse recovers the
        # best-effort hints (MN, QN, ...) so the frame can be found by station
        try:
            hj212.parse(raws[i], strict=strict)
        except hj212.FrameError as err:
            cols["mn"][i] = err.mn or ""
            cols["st"][i] = err.st or ""
            cols["cn"][i] = err.cn or ""
            cols["qn"][i] = err.qn or ""
            cols["flag"][i] = err.flag if err.flag is not None else -1
    return cols


class FrameSink:
    """Writes batches of raw frames (with their envelopes) to ``frames`` and ``readings``."""

    def __init__(self, ch: ClickHouse, *, strict: bool = False,
                 crc_variants: Sequence[str] = ()) -> None:
        self.ch = ch
        self.strict = strict
        #: CRC variants accepted when decoding (VETTED_CRC_VARIANTS for hj212.frames)
        self.crc_variants = tuple(crc_variants)
        # clickhouse-driver imports its NumPy support (and with it pandas, half a second)
        # at the first NumPy insert: here, so that the first batch does not wait for it
        import clickhouse_driver.numpy.helpers  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
        native_strings.install()

    def write(self, raws: Sequence[bytes], receive_times: Sequence[float] | npt.NDArray[Any]
              | float, gateway: str | Sequence[str] = "", peer: str | Sequence[str] = "", *,
              batch: hj212.Batch | None = None) -> SinkResult:
        """Decode (unless ``batch`` is given) and insert; ``receive_times`` are epoch
        seconds (or UTC datetime64), one per frame or one for all."""
        start = time.perf_counter()
        return self.insert([self.rows(raws, receive_times, gateway, peer, batch=batch)],
                           start=start)

    def rows(self, raws: Sequence[bytes], receive_times: Sequence[float] | npt.NDArray[Any]
             | float, gateway: str | Sequence[str] = "", peer: str | Sequence[str] = "", *,
             batch: hj212.Batch | None = None) -> FrameRows:
        """The rows ``write`` would insert, for ``insert`` to send with others."""
        n = len(raws)
        if n == 0:
            return FrameRows({}, {}, 0, 0, 0)
        if batch is None:
            batch = hj212.decode_batch(raws, strict=self.strict,
                                          crc_variants=self.crc_variants)
        elif batch.n_frames != n:
            raise ValueError(f"batch has {batch.n_frames} frames but {n} raws were given; "
                             "fix: pass the raws the batch was decoded from")
        received = _as_epoch(receive_times, n)
        frames = frame_columns(batch, raws, received, _per_frame(gateway, n, "gateway"),
                               _per_frame(peer, n, "peer"), strict=self.strict)
        readings = reading_columns(batch, received) if batch.n_rows else {}
        return FrameRows(frames, readings, n, batch.n_rows, batch.n_rejected)

    def insert(self, parts: Sequence[FrameRows], *, start: float | None = None
               ) -> SinkResult:
        """One block per table for all of ``parts`` (a worker behind ClickHouse sends the
        batches detected meanwhile together: fewer, larger parts to merge)."""
        start = time.perf_counter() if start is None else start
        parts = [p for p in parts if p.frames]
        if not parts:
            return SinkResult(0, 0, 0, 0.0)
        # readings first: they are what the pages show, and a frames insert (the raw
        # bytes, about half the time) no longer stands before them
        rows = 0
        with_rows = [p.reading_cols for p in parts if p.readings]
        if with_rows:
            rows = self.ch.insert_columns("readings", _joined(with_rows, np.concatenate),
                                          numpy=True)
        self.ch.insert_columns("frames", _joined(
            [p.frame_cols for p in parts], lambda cols: [v for c in cols for v in c]))
        return SinkResult(sum(p.frames for p in parts), rows,
                          sum(p.rejected for p in parts), time.perf_counter() - start)


@dataclass(frozen=True, slots=True)
class FrameRows:
    """A batch's ``frames`` columns (lists) and ``readings`` columns (NumPy arrays)."""

    frame_cols: dict[str, list[Any]]
    reading_cols: dict[str, npt.NDArray[Any]]
    frames: int
    readings: int
    rejected: int


def _joined(blocks: Sequence[dict[str, Any]], join: Any) -> dict[str, Any]:
    """Column-wise concatenation of blocks with the same columns (one block as it is)."""
    if len(blocks) == 1:
        return blocks[0]
    return {name: join([b[name] for b in blocks]) for name in blocks[0]}
