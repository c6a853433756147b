"""HJ 212 codec: framing, CRC, parsing, validation, encoding and columnar batch decode.

The work is done in Rust (``hj212._hj212``); this package adds the ``Batch`` view over
``decode_batch``'s columns.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hj212._hj212 import (
    CRC_VARIANTS,
    ERROR_KINDS,
    KAFKA_BATCH_HEAD,
    NUMERIC_SUFFIXES,
    VALUE_RULES,
    Frame,
    FrameError,
    Framer,
    Front,
    Reassembler,
    SpoolWriter,
    ValueKernel,
    __version__,
    accept_frame,
    answer,
    answer_error,
    code_table,
    crc16,
    decode_batch_raw,
    decode_envelopes,
    encode,
    kafka_batch,
    kafka_split,
    lookup,
    native_strings,
    now_qn,
    parse,
    parse_segment,
    pollutant_2017,
    request,
)

__all__ = [
    "CRC_VARIANTS",
    "ERROR_KINDS",
    "KAFKA_BATCH_HEAD",
    "NUMERIC_SUFFIXES",
    "VALUE_RULES",
    "Batch",
    "Frame",
    "FrameError",
    "Framer",
    "Front",
    "Reassembler",
    "SpoolWriter",
    "ValueKernel",
    "__version__",
    "accept_frame",
    "answer",
    "answer_error",
    "code_table",
    "crc16",
    "decode_batch",
    "decode_envelopes",
    "encode",
    "kafka_batch",
    "kafka_split",
    "lookup",
    "native_strings",
    "now_qn",
    "parse",
    "parse_segment",
    "pollutant_2017",
    "request",
]


_ERROR_FIELDS = ("kind", "field", "value", "offset", "qn_rtn", "crc_variant", "message", "qn", "st",
                 "cn", "pw", "mn", "flag")


def _frame_error_to_dict(self: FrameError) -> dict[str, Any]:
    """Everything about a rejected frame, for storing it with its reason (raw bytes as hex)."""
    out: dict[str, Any] = {name: getattr(self, name, None) for name in _ERROR_FIELDS}
    raw = getattr(self, "raw", b"")
    out["raw_hex"] = raw.hex()
    return out


# FrameError is created by the native module; its methods that need no Rust live here.
FrameError.to_dict = _frame_error_to_dict  # type: ignore[method-assign]


@dataclass(frozen=True, slots=True)
class Batch:
    """Columns of a decoded batch.

    Row columns (one row per pollutant per accepted frame): ``row_frame`` (index of the frame),
    ``mn``, ``st``, ``cn``, ``data_time``, ``code``, one float64 column per numeric suffix
    (``rtd``, ``min``, ``avg``, ``max``, ``cou``, ``zs_rtd``, ... NaN where absent; strided
    views of ``numeric``, the rows x suffixes matrix, in ``NUMERIC_SUFFIXES`` order), ``flag``
    and ``eflag``.

    Frame columns (one per input frame): ``status`` (0 accepted, else 1 + index into
    ``ERROR_KINDS``), ``frame_mn``, ``frame_st``, ``frame_cn``, ``frame_qn``, ``frame_flag``
    (-1 when absent), ``frame_edition``, ``frame_data_time``, ``frame_rows``,
    ``frame_warnings`` (count).

    Each column is an array over a buffer the codec made (its base is an
    ``hj212.ColumnBuffer``); once no array or view over a buffer is left, the buffer goes
    back to a pool and a later ``decode_batch`` writes its columns there, on pages already
    in place. Keeping any view keeps that column's whole buffer.
    """

    columns: dict[str, npt.NDArray[Any]]
    #: (frame index, kind, field, message) for each rejected frame
    errors: list[tuple[int, str, str | None, str]] = field(default_factory=list)

    def __getattr__(self, name: str) -> npt.NDArray[Any]:
        try:
            return self.columns[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def n_frames(self) -> int:
        return int(self.columns["status"].shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.columns["row_frame"].shape[0])

    @property
    def n_rejected(self) -> int:
        return int(np.count_nonzero(self.columns["status"]))

    def error_kind(self, i: int) -> str | None:
        """The error kind of frame ``i``, or None if it was accepted."""
        code = int(self.columns["status"][i])
        return None if code == 0 else ERROR_KINDS[code - 1]


def decode_batch(frames: Sequence[bytes], *, strict: bool = False,
                 crc_variants: Collection[str] = (), fast: bool = True) -> Batch:
    """Decode many whole frames into NumPy columns, in Rust with the GIL released.

    ``crc_variants`` names CRC algorithms accepted besides the standard's (e.g. ``("modbus",)``
    for frames a gateway accepted from stations allowed them); see ``hj212.parse``.
    Well-formed data areas take a fast path; ``fast=False`` sends every one through the
    validating path instead, which gives the same batch (for tests that hold the two equal).
    """
    raw = decode_batch_raw(frames, strict=strict, crc_variants=list(crc_variants), fast=fast)
    errors = raw.pop("errors")
    # Rust writes the numbers row by row (one memory stream instead of seventeen); each
    # suffix's column is a strided view of that matrix, with no copy.
    matrix = raw["numeric"].reshape(-1, len(NUMERIC_SUFFIXES))
    raw["numeric"] = matrix
    for i, name in enumerate(NUMERIC_SUFFIXES):
        raw[name] = matrix[:, i]
    return Batch(columns=raw, errors=errors)
