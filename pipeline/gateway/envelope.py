"""The message format on ``hj212.frames`` and ``hj212.rejects``: a compact binary envelope
around the frame's raw bytes, untouched.

Kafka key: the MN as ASCII (for a reject without a readable MN, the peer's IP), so one
station's messages stay on one partition and in order.

Kafka value, version 1 (all integers big-endian)::

    offset  size  field
    0       4     magic b"HJGW"
    4       1     version = 1
    5       1     kind: 1 accepted frame, 2 rejected, 3 quarantined (unknown MN, kept aside)
    6       8     receive time, nanoseconds since the Unix epoch (u64)
    14      8     gateway sequence number (u64): +1 per message of one gateway id, in the
                  order the gateway received them; (gateway, seq) identifies a message, so a
                  consumer can drop a redelivery
    22      1     G = length of the gateway id
    23      G     gateway id, UTF-8
    .       1     P = length of the peer
    .       P     peer "ip:port", ASCII
    .       2     R = length of the reason (0 for accepted frames)
    .       R     reason, UTF-8, e.g. "unknown_mn: ...", "wrong_pw: ...", "crc: ..."
    .       4     N = length of the raw frame
    .       N     the frame's bytes exactly as received (``##`` .. tail)

Accepted frames go to ``hj212.frames``; kinds 2 and 3 go to ``hj212.rejects``. Stream
workers feed ``[decode(v).raw for v in values]`` to ``hj212.decode_batch``.

Why binary and not JSON: the raw bytes must stay byte-exact (rejects may be any bytes),
and base64 in JSON would cost a third more space and a decode per frame.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

import hj212
import numpy as np
import numpy.typing as npt

MAGIC: Final = b"HJGW"
VERSION: Final = 1
ACCEPTED: Final = 1
REJECTED: Final = 2
QUARANTINED: Final = 3
KIND_NAMES: Final = {ACCEPTED: "accepted", REJECTED: "rejected", QUARANTINED: "quarantined"}

_HEAD = struct.Struct(">4sBBQQ")  # magic, version, kind, receive ns, seq


class EnvelopeError(ValueError):
    """A Kafka value that is not a gateway envelope of a known version."""


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: int
    receive_ns: int
    seq: int
    gateway: str
    peer: str
    reason: str
    raw: bytes

    @property
    def receive_time(self) -> float:
        """Seconds since the epoch."""
        return self.receive_ns / 1e9

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, str(self.kind))


def encode(kind: int, receive_ns: int, seq: int, gateway: bytes, peer: bytes, reason: bytes,
           raw: bytes) -> bytes:
    """One envelope; ``gateway``, ``peer`` and ``reason`` are already encoded (the caller
    encodes the per-connection parts once, not per frame)."""
    return b"".join((
        _HEAD.pack(MAGIC, VERSION, kind, receive_ns, seq),
        len(gateway).to_bytes(1, "big"), gateway,
        len(peer).to_bytes(1, "big"), peer,
        len(reason).to_bytes(2, "big"), reason,
        len(raw).to_bytes(4, "big"), raw,
    ))


def sender_part(gateway: bytes, peer: bytes) -> bytes:
    """The envelope's gateway and peer fields, encoded once per connection."""
    return b"".join((len(gateway).to_bytes(1, "big"), gateway, len(peer).to_bytes(1, "big"),
                     peer))


_NO_REASON: Final = b"\x00\x00"


def encode_accepted(receive_ns: int, seq: int, sender: bytes, raw: bytes) -> bytes:
    """``encode(ACCEPTED, receive_ns, seq, gateway, peer, b"", raw)`` with ``sender`` =
    ``sender_part(gateway, peer)``: the gateway's hot path (one join, no per-frame
    re-encoding of what is the same for every frame of a connection)."""
    return b"".join((_HEAD.pack(MAGIC, VERSION, ACCEPTED, receive_ns, seq), sender, _NO_REASON,
                     len(raw).to_bytes(4, "big"), raw))


def _cut(value: bytes, pos: int, n: int, field: str) -> EnvelopeError:
    return EnvelopeError(f"envelope of {len(value)} bytes is too short: its {field} needs "
                         f"{n} bytes at offset {pos}")


def decode(value: bytes) -> Envelope:
    """Read one envelope; raises EnvelopeError naming what is wrong. The reference for
    ``hj212.decode_envelopes`` (the worker's batch reader in Rust): every field must be
    there whole; texts are read with each undecodable byte as U+FFFD."""
    if len(value) < _HEAD.size:
        raise EnvelopeError(f"envelope of {len(value)} bytes is too short: its head needs "
                            f"{_HEAD.size} bytes")
    magic, version, kind, receive_ns, seq = _HEAD.unpack_from(value, 0)
    if magic != MAGIC:
        raise EnvelopeError(f"value starts with {value[:4]!r}, not {MAGIC!r}: not a gateway "
                            "envelope (is this topic written by something else?)")
    if version != VERSION:
        raise EnvelopeError(f"envelope version {version} is not {VERSION}; upgrade the "
                            "reader to the gateway's version")
    pos = _HEAD.size
    texts: list[bytes] = []
    for field, width in (("gateway id", 1), ("peer", 1), ("reason", 2)):
        if pos + width > len(value):
            raise _cut(value, pos, width, f"{field} length")
        size = int.from_bytes(value[pos:pos + width], "big")
        pos += width
        if pos + size > len(value):
            raise _cut(value, pos, size, field)
        texts.append(value[pos:pos + size])
        pos += size
    if pos + 4 > len(value):
        raise _cut(value, pos, 4, "frame length")
    nlen = int.from_bytes(value[pos:pos + 4], "big")
    pos += 4
    if pos + nlen > len(value):
        raise EnvelopeError(f"envelope says the frame has {nlen} bytes but only "
                            f"{len(value) - pos} follow: the value was cut")
    gateway, peer, reason = texts
    return Envelope(kind, receive_ns, seq, gateway.decode("utf-8", "replace"),
                    peer.decode("ascii", "replace"), reason.decode("utf-8", "replace"),
                    bytes(value[pos:pos + nlen]))


@dataclass(frozen=True, slots=True)
class Envelopes:
    """A batch of envelopes as columns (``decode_many``), in the order read."""

    kind: npt.NDArray[np.uint8]
    receive_ns: npt.NDArray[np.int64]
    seq: npt.NDArray[np.uint64]
    gateway: list[str]
    peer: list[str]
    reason: list[str]
    raw: list[bytes]

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def receive_s(self) -> npt.NDArray[np.int64]:
        """Receive times, whole seconds since the epoch."""
        return self.receive_ns // 1_000_000_000


def decode_many(values: list[bytes]) -> tuple[Envelopes, list[tuple[int, str]]]:
    """The envelopes among ``values`` as columns (read in Rust: the worker takes
    thousands a batch), and (index in ``values``, what is wrong) for each value that is
    not one. The same reading as ``decode``, value by value."""
    kind, receive_ns, seq, gateway, peer, reason, raw, errors = hj212.decode_envelopes(values)
    return Envelopes(kind, receive_ns, seq, gateway, peer, reason, raw), errors
