"""What a logger puts on the wire: Flag per edition, QNs, and messages split into parts.

Frames are only ever built by ``hj212.encode``; this module decides the fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import hj212

from pipeline.timebase import STATE_EPOCH

MAX_CP = 950  # bytes of the data area (standard, table 2)
MAX_SEGMENT = 1024  # bytes of the whole data segment
_EDITION_BITS = {2005: 0, 2017: 1, 2025: 2}
FLAG_A = 1  # the sender wants an answer
FLAG_D = 2  # one part of a split message


def edition_flag(edition: int, *, ack: bool, split: bool = False) -> int:
    """Flag for an edition: bits 2..7 are the edition (0 = 2005, 1 = 2017, 2 = 2025)."""
    try:
        bits = _EDITION_BITS[edition]
    except KeyError:
        raise ValueError(f"edition={edition}: choose from 2005, 2017, 2025") from None
    return (bits << 2) | (FLAG_A if ack else 0) | (FLAG_D if split else 0)


class QnSource:
    """Request ids (``YYYYMMDDhhmmsszzz``) from simulated time, strictly increasing per
    logger: two frames in the same millisecond get consecutive ids, as a platform keys
    answers and split parts by QN."""

    __slots__ = ("_last_ms",)

    def __init__(self) -> None:
        self._last_ms = -1

    def next(self, when: datetime) -> str:
        ms = int((when - STATE_EPOCH).total_seconds() * 1000)
        if ms <= self._last_ms:
            ms = self._last_ms + 1
        self._last_ms = ms
        at = STATE_EPOCH + timedelta(milliseconds=ms)
        return f"{at:%Y%m%d%H%M%S}{ms % 1000:03d}"


@dataclass(frozen=True, slots=True)
class Header:
    """The fields of a logger's upload besides CP."""

    cn: int
    st: int
    mn: str
    pw: str
    edition: int
    ack: bool
    #: 2005 firmware that sends neither QN nor Flag (and so expects no answer)
    bare: bool = False
    rf: str | None = None


def encode_message(header: Header, head: str, groups: Sequence[str], qns: QnSource,
                   when: datetime, *, max_cp: int = MAX_CP,
                   force_parts: int = 1) -> list[tuple[str | None, bytes]]:
    """One message as frames: ``(qn, raw)`` each.

    ``head`` (``DataTime=...``) leads the data area and is repeated in every part, as
    appendix C.49/C.50 show, so each part stands on its own; ``groups`` (one pollutant's
    fields each) are never cut. The message is split (Flag D, PNUM/PNO) when it does not
    fit one frame, or into at least ``force_parts`` parts (the split-packet fault). Each
    part gets its own QN, as the appendix's example does (…534, …535).
    """
    def segment_room(qn: str | None, flag: int | None, pnum: int | None) -> int:
        probe = hj212.encode(cn=header.cn, st=header.st, mn=header.mn, pw=header.pw, qn=qn,
                             flag=flag, pnum=pnum, pno=pnum, rf=header.rf, cp="")
        # the probe frame is ## + 4 + segment + 4 + 2; its CP is empty
        return MAX_SEGMENT - (len(probe) - 12)

    qn = None if header.bare else qns.next(when)
    flag = None if header.bare else edition_flag(header.edition, ack=header.ack)
    whole = ";".join([head, *groups]) if head else ";".join(groups)
    limit = min(max_cp, segment_room(qn, flag, None))
    if (len(whole) <= limit and force_parts <= 1) or header.bare or len(groups) < 2:
        # 2005 bare firmware cannot split (no QN to join parts by): it sends what fits
        if len(whole) > limit:
            whole = _fit(head, groups, limit)
        raw = hj212.encode(cn=header.cn, st=header.st, mn=header.mn, pw=header.pw, qn=qn,
                           flag=flag, rf=header.rf, cp=whole)
        return [(qn, raw)]
    split_flag = edition_flag(header.edition, ack=header.ack, split=True)
    limit = min(max_cp, segment_room(qn, split_flag, 999))
    parts = _pack(head, groups, limit, max(force_parts, 1))
    out: list[tuple[str | None, bytes]] = []
    for pno, cp in enumerate(parts, start=1):
        part_qn = qn if pno == 1 else qns.next(when)
        raw = hj212.encode(cn=header.cn, st=header.st, mn=header.mn, pw=header.pw,
                           qn=part_qn, flag=split_flag, pnum=len(parts), pno=pno,
                           rf=header.rf, cp=cp)
        out.append((part_qn, raw))
    return out


def _fit(head: str, groups: Sequence[str], limit: int) -> str:
    kept: list[str] = [head] if head else []
    used = len(head)
    for group in groups:
        extra = len(group) + (1 if kept else 0)
        if used + extra > limit:
            break
        kept.append(group)
        used += extra
    return ";".join(kept)


def _pack(head: str, groups: Sequence[str], limit: int, at_least: int) -> list[str]:
    """Groups into parts of at most ``limit`` bytes each (head repeated), and into at
    least ``at_least`` parts when there are that many groups."""
    per_part = max(1, -(-len(groups) // at_least)) if at_least > 1 else len(groups)
    parts: list[str] = []
    current: list[str] = []
    size = len(head)
    for group in groups:
        extra = len(group) + 1
        if current and (size + extra > limit or len(current) >= per_part):
            parts.append(";".join([head, *current] if head else current))
            current, size = [], len(head)
        current.append(group)
        size += extra
    if current:
        parts.append(";".join([head, *current] if head else current))
    return parts
