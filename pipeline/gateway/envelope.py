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


def decode(value: bytes) -> Envelope:
    """Read one envelope; raises EnvelopeError naming what is wrong."""
    try:
        magic, version, kind, receive_ns, seq = _HEAD.unpack_from(value, 0)
        if magic != MAGIC:
            raise EnvelopeError(f"value starts with {value[:4]!r}, not {MAGIC!r}: not a gateway "
                                "envelope (is this topic written by something else?)")
        if version != VERSION:
            raise EnvelopeError(f"envelope version {version} is not {VERSION}; upgrade the "
                                "reader to the gateway's version")
        pos = _HEAD.size
        glen = value[pos]
        gateway = value[pos + 1:pos + 1 + glen].decode()
        pos += 1 + glen
        plen = value[pos]
        peer = value[pos + 1:pos + 1 + plen].decode("ascii", "replace")
        pos += 1 + plen
        rlen = int.from_bytes(value[pos:pos + 2], "big")
        reason = value[pos + 2:pos + 2 + rlen].decode("utf-8", "replace")
        pos += 2 + rlen
        nlen = int.from_bytes(value[pos:pos + 4], "big")
        raw = bytes(value[pos + 4:pos + 4 + nlen])
        if len(raw) != nlen:
            raise EnvelopeError(f"envelope says the frame has {nlen} bytes but only {len(raw)} "
                                "follow: the value was cut")
    except (struct.error, IndexError) as exc:
        raise EnvelopeError(f"envelope of {len(value)} bytes is too short: {exc}") from None
    return Envelope(kind, receive_ns, seq, gateway, peer, reason, raw)
