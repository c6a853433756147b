"""Type stubs for the native HJ 212 codec (built from core_rs/ by maturin)."""

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

__version__: Final[str]

ErrorKind = Literal["header", "length", "crc", "tail", "encoding", "field", "cp", "value"]

#: error kinds in the order of their numeric codes in `decode_batch` (code = index + 1)
ERROR_KINDS: Final[tuple[str, ...]]
#: numeric suffix columns of `decode_batch`, in order
NUMERIC_SUFFIXES: Final[tuple[str, ...]]

class FrameError(ValueError):
    """A frame that cannot be accepted, with what a platform needs to answer and keep it."""

    kind: ErrorKind
    #: the field at fault (e.g. "MN", "CP", "a21026-Rtd"), or None for framing errors
    field: str | None
    #: the offending value as text, or None
    value: str | None
    #: byte offset of the fault inside the frame (from the first `#`)
    offset: int
    #: the QnRtn a platform should answer with (9 for CRC, 4 for MN, ...), or None
    qn_rtn: int | None
    #: the raw bytes of the rejected frame (as much as was framed)
    raw: bytes
    #: best-effort header fields read from the frame, for answering and storing it
    qn: str | None
    st: str | None
    cn: str | None
    pw: str | None
    mn: str | None
    flag: int | None
    #: the message without the kind and offset prefix
    message: str
    def to_dict(self) -> dict[str, Any]:
        """kind, field, value, offset, qn_rtn, message, header hints and raw_hex."""

class Frame:
    qn: str | None
    st: str | None
    cn: str
    pw: str | None
    mn: str | None
    #: the Flag field as sent, or None when absent (2005)
    flag: int | None
    #: 2005, 2017 or 2025, from Flag's edition bits (2005 when Flag is absent)
    edition: int
    #: Flag's A bit: the sender expects an answer
    needs_ack: bool
    #: Flag's D bit: one part of a split message
    is_split: bool
    pnum: int | None
    pno: int | None
    #: 2025 resend flag (RF) as sent, or None
    rf: str | None
    #: the data area: every `name=value` of CP in order, as text (a repeated name keeps the last)
    cp: dict[str, str]
    #: the CP text between `&&` and `&&`
    cp_text: str
    #: DataTime as sent (YYYYMMDDhhmmss), or None
    data_time: str | None
    #: code -> suffix -> value: float for numbers; str for Flag, EFlag, SampleTime, Info
    pollutants: dict[str, dict[str, float | str]]
    #: lenient-mode deviations, each "<code>: <explanation>" (code e.g. "bare_lf", "crc_lowercase")
    warnings: list[str]
    #: the whole frame as received
    raw: bytes
    #: the data segment text
    segment: str
    crc: int
    def text(self, name: str) -> str | None:
        """Original text of a header or CP field, e.g. "QN" or "a21026-Rtd"."""
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, other: object) -> bool: ...

def crc16(data: bytes) -> int:
    """CRC16 of HJ 212 appendix A over `data` (the data segment)."""

def parse(data: bytes, *, strict: bool = False) -> Frame:
    """Parse one whole frame (`##` .. `\\r\\n`). Raises FrameError."""

def parse_segment(segment: bytes | str, *, strict: bool = False) -> Frame:
    """Parse a bare data segment (no header, length, CRC or tail)."""

class Framer:
    """Cuts a TCP byte stream into frames; bounded memory; resynchronises on `##`."""

    def __init__(self, *, strict: bool = False) -> None: ...
    def feed(self, chunk: bytes) -> list[Frame | FrameError]: ...
    def finish(self) -> list[Frame | FrameError]:
        """The connection closed: whatever is held becomes a FrameError (nothing is dropped)."""
    #: bytes held waiting for the rest of a frame
    @property
    def buffered(self) -> int: ...
    #: counters: frames, errors, garbage_bytes, resyncs
    @property
    def stats(self) -> dict[str, int]: ...

class Reassembler:
    """Joins split messages (Flag D bit) keyed by (MN, QN), PNO 1..PNUM."""

    def __init__(self, *, timeout_s: float = 300.0, max_messages: int = 10_000,
                 max_bytes: int = 16 * 1024 * 1024) -> None: ...
    def add(self, frame: Frame, now: float | None = None) -> Frame | None:
        """Add one part; the joined frame once every part is in.

        A frame that is not split passes through unchanged."""
    def expire(self, now: float | None = None) -> list[tuple[str, str, list[int]]]:
        """Drop incomplete messages older than the timeout: (mn, qn, missing PNOs) for each."""
    @property
    def pending(self) -> int: ...
    @property
    def pending_bytes(self) -> int: ...

def decode_batch_raw(frames: Sequence[bytes], *, strict: bool = False) -> dict[str, Any]:
    """Columnar decode; see hj212.decode_batch, which wraps this in a Batch."""

def encode(*, cn: int | str, st: int | str, mn: str | None, pw: str | None,
           qn: str | None = None, flag: int | None = None, pnum: int | None = None,
           pno: int | None = None, rf: str | int | None = None,
           cp: str | Mapping[str, object] | Sequence[tuple[str, object]] = "") -> bytes:
    """Build a whole frame from its fields (CP as raw text, or name/value pairs)."""

def answer(frame: Frame, *, qn_rtn: int | None = None, exe_rtn: int | None = None,
           cn: int | None = None) -> bytes | None:
    """The platform's answer to an upload or notification, or None when none is due.

    Data uploads with Flag A=1 get 9014; notifications (1013, 2081) get 9013; pass qn_rtn for a
    9011 answer or exe_rtn for 9012. The answer is in the sender's edition.
    """

def answer_error(error: FrameError) -> bytes | None:
    """The 9011 answer (QnRtn from the error) to a rejected frame, or None when none is due."""

def request(cn: int, mn: str, pw: str, *, st: int | str = 32, qn: str | None = None,
            edition: int = 2017, needs_ack: bool = True, **fields: object) -> bytes:
    """A platform request (1000, 1011, 1012, 1061..1064, 1072, 2011.., 2051 with BeginTime/EndTime,
    3011..3021). Field names are the standard's (BeginTime=..., SystemTime=...); datetimes are
    formatted for you."""

def now_qn() -> str:
    """A fresh QN (YYYYMMDDhhmmsszzz) in China Standard Time (UTC+8), the standard's clock."""

def code_table(table: str) -> list[dict[str, str]]:
    """Rows of the code tables (st, cn, flag, qnrtn, exertn, pollutant, process, ...)."""

def lookup(table: str, code: str) -> dict[str, str] | None: ...

def pollutant_2017(code: str) -> str | None:
    """The 2017 code of a 2005 pollutant code (e.g. "011" -> "w01018"); None if unknown."""

_Array = npt.NDArray[Any]
_F64 = npt.NDArray[np.float64]
