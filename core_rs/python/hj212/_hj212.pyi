"""Type stubs for the native HJ 212 codec (built from core_rs/ by maturin).

Checked against the compiled module in both directions by
tests/unit/test_hj212_stubs.py (mypy's stubtest; exceptions, each with its reason, in
core_rs/python/stubtest_allowlist.txt).

CRC variants, and how a platform allows them per station. Some loggers sign frames with
another CRC algorithm than the standard's (a popular simulator uses CRC-16/MODBUS: `0759`
instead of `1C80` for the standard's example). They are rejected by default. The flow:

1. `Framer.feed` (or `parse`) yields a `FrameError` with `kind == "crc"`; its
   `crc_variant` names the known algorithm the frame's CRC does match ("modbus"), or is
   None for a CRC that is plain wrong. Only a mismatch pays for computing the variants.
2. Look the station up by the error's best-effort `mn`; if it allows that variant, parse
   the rejected bytes again: `parse(err.raw, crc_variants=("modbus",))`. The frame is
   accepted with a `"crc_variant: ..."` warning naming the algorithm (count it).
3. To stop paying for the rejection on every frame of that connection, set
   `framer.crc_variants = ("modbus",)`: from then on such frames come out as frames, with
   the same warning. `decode_batch(..., crc_variants=...)` reads them downstream.
"""

import os
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Self, final

import numpy as np
import numpy.typing as npt

__all__ = [
    "CRC_VARIANTS",
    "ERROR_KINDS",
    "KAFKA_BATCH_HEAD",
    "NUMERIC_SUFFIXES",
    "VALUE_RULES",
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
    "decode_batch_raw",
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

__version__: Final[str]

ErrorKind = Literal["header", "length", "crc", "tail", "encoding", "field", "cp", "value"]

#: error kinds in the order of their numeric codes in `decode_batch` (code = index + 1)
ERROR_KINDS: Final[tuple[str, ...]]
#: numeric suffix columns of `decode_batch`, in order
NUMERIC_SUFFIXES: Final[tuple[str, ...]]
#: bytes of a Kafka v2 record batch's header (``kafka_batch`` puts it before the records)
KAFKA_BATCH_HEAD: Final[int]
#: the rules `ValueKernel` runs, in the order it reports them for one reading, then a frame's
VALUE_RULES: Final[tuple[str, ...]]
#: the CRC algorithms `crc16` computes and `crc_variants` may name: "hj212" (the standard's,
#: appendix A) and "modbus" (CRC-16/MODBUS)
CRC_VARIANTS: Final[tuple[str, ...]]
CrcVariant = Literal["hj212", "modbus"]

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
    #: for kind "crc": the known non-standard algorithm whose CRC the frame carries
    #: ("modbus"), or None (a CRC that is simply wrong, or another kind of error); see the
    #: module docstring for what a platform does with it
    crc_variant: CrcVariant | None
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
        """kind, field, value, offset, qn_rtn, crc_variant, message, header hints and raw_hex."""

@final
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
    #: deviations, each "<code>: <explanation>": lenient mode's (e.g. "bare_lf", "length_mismatch",
    #: "header_after_cp" for a header field such as `;Flag=5` written after the data area's
    #: closing `&&`, read as the header's), and in both modes "crc_lowercase" and "crc_variant"
    #: (the CRC is an allowed non-standard algorithm's, named in the explanation)
    warnings: list[str]
    #: the whole frame as received
    raw: bytes
    #: the data segment text
    segment: str
    crc: int
    def text(self, name: str) -> str | None:
        """Original text of a header or CP field, e.g. "QN" or "a21026-Rtd"."""
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, other: object, /) -> bool: ...

def native_strings(data: npt.NDArray[np.uint8], width: int) -> bytes:
    """ClickHouse's Native form of a String column of NumPy ``S<width>`` items, given as
    the contiguous ``column.view(np.uint8)``: each value's LEB128 length and bytes,
    trailing NULs dropped. Raises ValueError if the data is not contiguous or ``width``
    does not divide it."""

def crc16(data: bytes, variant: str = "hj212") -> int:
    """CRC16 over `data` (the data segment): HJ 212 appendix A's, or the named variant's
    ("modbus": CRC-16/MODBUS). Raises ValueError for an unknown name."""

def parse(data: bytes, *, strict: bool = False, crc_variants: Sequence[str] = ()) -> Frame:
    """Parse one whole frame (`##` .. `\\r\\n`). Raises FrameError.

    `crc_variants` names CRC algorithms accepted besides the standard's (in both modes; each
    acceptance adds a "crc_variant" warning): e.g. `parse(err.raw, crc_variants=("modbus",))`
    for a station allowed to sign with CRC-16/MODBUS. The standard's CRC is checked first,
    and the variants only when it does not match."""

def parse_segment(segment: bytes | str, *, strict: bool = False) -> Frame:
    """Parse a bare data segment (no header, length, CRC or tail)."""

@final
class Framer:
    """Cuts a TCP byte stream into frames; bounded memory; resynchronises on `##`.

    A frame ends at its first `\\n` whatever its declared length says, so a damaged frame
    never holds the good frames behind it: each comes out of the `feed` that completes it.
    """

    def __new__(cls, *, strict: bool = False, crc_variants: Sequence[str] = ()) -> Self: ...
    def feed(self, chunk: bytes) -> list[Frame | FrameError]: ...
    def feed_accepting(self, chunk: bytes, mn: str, pw: str, topic: int, key: bytes,
                       receive_ns: int, seq: int, sender: bytes, /
                       ) -> tuple[str, bytes, bytes, bytes | None] | list[Frame | FrameError]:
        """`feed` for a connection whose frames come from `mn` with password `pw`.

        When the chunk completes exactly one frame from that MN with that PW that is not a
        command's answer (9011, 9012): `(cn, envelope, spool record, answer)`, the values
        `accept_frame(frame, topic, key, receive_ns, seq, sender)` gives after the frame's
        CN, with no `Frame` made. Anything else: the list `feed` gives.
        """
    def finish(self) -> list[Frame | FrameError]:
        """The connection closed: whatever is held becomes a FrameError (nothing is dropped)."""
    #: bytes held waiting for the rest of a frame
    @property
    def buffered(self) -> int: ...
    #: counters: frames, errors, garbage_bytes, resyncs
    @property
    def stats(self) -> dict[str, int]: ...
    #: CRC algorithms accepted besides the standard's, from the next frame on (set it once
    #: the connection's station is known to be allowed them; see the module docstring)
    @property
    def crc_variants(self) -> tuple[str, ...]: ...
    @crc_variants.setter
    def crc_variants(self, names: Sequence[str]) -> None: ...

@final
class Front:
    """The gateway's front end: a listener and its connections served by one epoll loop on
    a thread of its own (`core_rs/src/front.rs`; `pipeline/gateway/front.py` drives it).

    A bound connection's usual read (one frame from its MN with its PW, not 9011/9012) is
    kept there; every other read comes back as a data event.
    """

    def __new__(cls, host: str, port: int, *, reuse_port: bool = False,
                strict: bool = False) -> Self: ...
    #: the port listened on (the one the OS chose for port 0)
    @property
    def port(self) -> int: ...
    #: a descriptor that becomes readable when `take` has something
    @property
    def fd(self) -> int: ...
    @property
    def alive(self) -> bool: ...
    def take(self, first_seq: int, topic: int) -> tuple[
            list[tuple[Any, ...]],
            tuple[int, bytes, int, dict[str, int], list[tuple[int, str, int]], int,
                  dict[str, int], int] | None]:
        """`(events, group)`: events `("open", conn, peer)`, `("data", conn, bytes, seq)`,
        `("closed", conn, error | None)`, `("write_paused", conn)`, `("write_resumed",
        conn)`, `("accept_failed", 0, error)` in order; the group of frames kept since the
        last take, `(token, records, count, cns, conns, bytes_in, answers, answer_bytes)`,
        its `count` spool records numbered from `first_seq`, or None."""
    def write(self, conn: int, data: bytes) -> None: ...
    def pause(self, conn: int) -> None: ...
    def resume(self, conn: int) -> None: ...
    def close(self, conn: int) -> None:
        """Send what is queued, then close."""
    def abort(self, conn: int) -> None: ...
    def bind(self, conn: int, seq: int, mn: str, pw: str, key: bytes, sender: bytes
             ) -> None:
        """Keep `conn`'s usual reads from now on, if its last data event was the `seq`th."""
    def unbind(self, conn: int) -> None: ...
    def unbind_all(self) -> None: ...
    def release(self, token: int) -> None:
        """The spool kept the group of `token` and those before it: send their answers."""
    def stop_listening(self) -> None: ...
    def shutdown(self) -> None:
        """End the loop and its thread; open connections are dropped."""

def kafka_split(data: bytes, partitions: Sequence[Sequence[int]], rr: int, first_seq: int,
                written: Mapping[tuple[int, int], int], max_section: int
                ) -> tuple[list[tuple[int, int, bytes, int]], list[int], int]:
    """The gateway spool's records in `data` (a read, each CRC-checked) split by Kafka
    partition: `(sections, per_topic, rr)`. `partitions[tag]` lists a topic's partitions;
    a record goes to murmur2(key) as Kafka's default partitioner does, or round-robin
    (`rr`, returned advanced) without a key; one whose sequence number (`first_seq` + its
    index) is at or below `written[(tag, partition)]` is left out. Each section `(topic,
    partition, records, count)` holds at most `max_section` bytes of v2 records for
    `kafka_batch`; `per_topic` counts the records per tag. ValueError names the byte of a
    corrupt record."""
def kafka_batch(records: bytes, count: int, timestamp_ms: int, producer_id: int,
                producer_epoch: int, base_sequence: int) -> bytes:
    """A Kafka v2 record batch (CreateTime, no compression) around a section of
    `kafka_split`, with its CRC-32C."""

@final
class SpoolWriter:
    """The gateway spool's write-and-sync thread (`core_rs/src/spool_writer.rs`;
    `pipeline/gateway/spool.py` drives it): jobs are appended to their segments and
    fdatasynced in order, with no Python on that thread."""

    def __new__(cls, directory: str | os.PathLike[str]) -> Self: ...
    #: a descriptor that becomes readable when `done` has something
    @property
    def fd(self) -> int: ...
    def release_to(self, front: Front) -> None:
        """Once a job is synced, send the answers `front` holds under its release token."""
    def submit(self, chunks: Sequence[tuple[int, bytes | bytearray]], release: int = 0
               ) -> None:
        """Append `chunks` ((segment, bytes) in order) and sync; then release `release`."""
    def done(self) -> list[str | None]:
        """The jobs finished since the last call, in order: None, or why one failed."""
    def close(self) -> None:
        """Finish the jobs handed over, close the segment and end the thread."""

@final
class Reassembler:
    """Joins split messages (Flag D bit) keyed by (MN, QN), PNO 1..PNUM."""

    def __new__(cls, *, timeout_s: float = 300.0, max_messages: int = 10_000,
                max_bytes: int = 16 * 1024 * 1024) -> Self: ...
    def add(self, frame: Frame, now: float | None = None) -> Frame | None:
        """Add one part; the joined frame once every part is in.

        A frame that is not split passes through unchanged."""
    def expire(self, now: float | None = None) -> list[tuple[str, str, list[int]]]:
        """Drop incomplete messages older than the timeout: (mn, qn, missing PNOs) for each."""
    @property
    def pending(self) -> int: ...
    @property
    def pending_bytes(self) -> int: ...

@final
class ValueKernel:
    """The abnormal-value rules (core_rs/src/values.rs) over one frame at a time, each
    station's values state kept on the Rust side; see pipeline/detect/values_rs.py."""

    def __new__(cls) -> Self: ...
    def add_plan(self, plan: Mapping[str, Any]) -> int:
        """Register one series' resolved thresholds; the id readings name it by."""
    def add_station_plan(self, plan: Mapping[str, Any]) -> int:
        """Register a station's thresholds for one data type; its id."""
    def load(self, mn: str, state: Mapping[str, Any]) -> None:
        """Take a station's values state (the dict of pipeline.detect.state)."""
    def dump(self, mn: str) -> dict[str, Any]:
        """A station's values state as that dict ({} for a station never seen)."""
    def dump_json(self, mn: str) -> bytes:
        """That dict as JSON text (b"{}" for a station never seen), made without it."""
    def forget(self, mn: str) -> None: ...
    def __contains__(self, mn: str, /) -> bool: ...
    def observe(self, mn: str, station_plan: int, cn: int, t: int, ahead_s: float,
                resent: bool, period: int,
                readings: Sequence[tuple[str, str, int, int, Sequence[tuple[str, float]], int]],
                open: Sequence[tuple[str, str]] | None
                ) -> list[tuple[int, str, bool, int | None, tuple[Any, ...]]]:
        """One frame's observations, each (reading index or -1 for the station, rule, hit,
        data time the evidence began or None, the rule's evidence numbers); ``open``: the
        (code, rule) keys of the open episodes whose clean looks are wanted (None: every
        look)."""
    def observe_batch(self, frame_mn: Sequence[str], frame_start: npt.NDArray[np.int64],
                      frame_end: npt.NDArray[np.int64], frame_cn: npt.NDArray[np.int64],
                      frame_t: npt.NDArray[np.int64], frame_ahead: npt.NDArray[np.float64],
                      frame_period: npt.NDArray[np.int64], frame_plan: npt.NDArray[np.int64],
                      codes: bytes, code_width: int, flags: bytes, flag_width: int,
                      row_cn: npt.NDArray[np.int64], row_t: npt.NDArray[np.int64],
                      numeric: npt.NDArray[np.float64], row_plan: npt.NDArray[np.int64],
                      open: Mapping[str, Sequence[tuple[str, str]]]
                      ) -> list[tuple[int, int, str, bool, int | None, tuple[Any, ...]]]:
        """A batch's frames straight from its columns (rows frame_start[k]..frame_end[k]
        of the row columns); each observation with its frame's position k first. ``open``:
        MN -> the (code, rule) keys of its open episodes; a key hit in the batch is wanted
        from then on too."""

def decode_batch_raw(frames: Sequence[bytes], *, strict: bool = False,
                     crc_variants: Sequence[str] = (), fast: bool = True) -> dict[str, Any]:
    """Columnar decode; see hj212.decode_batch, which wraps this in a Batch.

    ``fast=False`` reads every data area with the validating path (same result, slower)."""

def decode_envelopes(values: list[bytes]) -> tuple[
        npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.uint64], list[str],
        list[str], list[str], list[bytes], list[tuple[int, str]]]:
    """Gateway envelopes (pipeline/gateway/envelope.py) a batch at a time: the columns
    kind, receive ns, sequence, gateway, peer, reason and raw of the values that are
    envelopes, and (index, what is wrong) for each that is not."""

def encode(*, cn: int | str, st: int | str, mn: str | None, pw: str | None,
           qn: str | None = None, flag: int | None = None, pnum: int | None = None,
           pno: int | None = None, rf: str | int | None = None,
           cp: str | Mapping[str, object] | Sequence[tuple[str, object]] | None = None) -> bytes:
    """Build a whole frame from its fields (CP as raw text, or name/value pairs)."""

def answer(frame: Frame, *, qn_rtn: int | None = None, exe_rtn: int | None = None,
           cn: int | None = None) -> bytes | None:
    """The platform's answer to an upload or notification, or None when none is due.

    Uploads with Flag A=1 get 9014 (the logger's restart time 2081 too, table C.24); the
    notification 1013 gets 9013; pass qn_rtn for a 9011 answer or exe_rtn for 9012. The
    answer is in the sender's edition.
    """

def accept_frame(frame: Frame, topic: int, key: bytes, receive_ns: int, seq: int,
                 sender: bytes, /) -> tuple[bytes, bytes, bytes | None]:
    """What the gateway keeps and sends for a frame it accepts, in one call.

    Gives the accepted frame's envelope (as ``envelope.encode_accepted(receive_ns, seq,
    sender, frame.raw)``), the spool record holding it under ``topic`` and ``key`` (as
    ``spool.record(topic, key, envelope)``), and ``answer(frame)``.
    """

def answer_error(error: FrameError) -> bytes | None:
    """The 9011 answer (QnRtn from the error) to a rejected frame, or None when none is due."""

def request(cn: int, mn: str, pw: str, *, st: int | str | None = None, qn: str | None = None,
            edition: int = 2017, needs_ack: bool = True, **fields: object) -> bytes:
    """A platform request (1000, 1011, 1012, 1061..1064, 1072, 2011.., 2051 with BeginTime/EndTime,
    3011..3021). Field names are the standard's (BeginTime=..., SystemTime=...); datetimes are
    formatted for you. `st` defaults to 32."""

def now_qn() -> str:
    """A fresh QN (YYYYMMDDhhmmsszzz) in China Standard Time (UTC+8), the standard's clock."""

def code_table(table: str) -> list[dict[str, str]]:
    """Rows of the code tables (st, cn, flag, qnrtn, exertn, pollutant, process, ...)."""

def lookup(table: str, code: str) -> dict[str, str] | None: ...

def pollutant_2017(code: str) -> str | None:
    """The 2017 code of a 2005 pollutant code (e.g. "011" -> "w01018"); None if unknown."""

_Array = npt.NDArray[Any]
_F64 = npt.NDArray[np.float64]
