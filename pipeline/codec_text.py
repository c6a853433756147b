"""Logic of the small inspection commands: ``hj212 parse``, ``hj212 crc``, ``hj212 codes``.

Kept out of ``cli.py`` so that click only wires options to these functions.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import hj212


@dataclass(frozen=True, slots=True)
class Parsed:
    """One frame read from the input, or the reason it was rejected."""

    where: str  # "line 3" in line mode, "frame 3" in stream mode
    frame: hj212.Frame | None
    error: hj212.FrameError | None


def read_frames(data: bytes, *, strict: bool = False) -> tuple[list[Parsed], int]:
    """Parse ``data``: one frame per line when every non-blank line starts with ``##``
    (so errors get line numbers), otherwise as a raw TCP capture through the Framer.
    Returns the results and the number of garbage bytes the Framer skipped."""
    lines = [ln for ln in data.splitlines(keepends=True) if ln.strip()]
    if lines and all(ln.lstrip().startswith(b"##") for ln in lines):
        return list(_by_line(data, strict)), 0
    framer = hj212.Framer(strict=strict)
    out: list[Parsed] = []
    for item in framer.feed(data):
        out.append(_wrap(f"frame {len(out) + 1}", item))
    if framer.buffered:
        # what is left can never complete: the input has ended
        error = _incomplete(data, framer.buffered, strict)
        if error is not None:
            out.append(Parsed(f"frame {len(out) + 1}", None, error))
    return out, framer.stats.get("garbage_bytes", 0)


def _incomplete(data: bytes, buffered: int, strict: bool) -> hj212.FrameError | None:
    # parse the tail on its own so the user gets the codec's own explanation
    try:
        hj212.parse(data[-buffered:], strict=strict)
    except hj212.FrameError as exc:
        return exc
    return None


def _by_line(data: bytes, strict: bool) -> Iterator[Parsed]:
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        if not line.strip():
            continue
        # leading blanks are an editor's, not the logger's
        yield _parse_one(f"line {number}", line.lstrip(), strict)


def _parse_one(where: str, raw: bytes, strict: bool) -> Parsed:
    try:
        return Parsed(where, hj212.parse(raw, strict=strict), None)
    except hj212.FrameError as exc:
        return Parsed(where, None, exc)


def _wrap(where: str, item: hj212.Frame | hj212.FrameError) -> Parsed:
    if isinstance(item, hj212.FrameError):
        return Parsed(where, None, item)
    return Parsed(where, item, None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, float) and value != value:
        return None
    raise TypeError(f"cannot show {type(value).__name__} as JSON")


def to_json(item: Parsed) -> str:
    """One JSON object per frame: the frame's or the error's ``to_dict()``, plus ``ok``."""
    body: dict[str, Any] = {"where": item.where, "ok": item.error is None}
    if item.frame is not None:
        body.update(item.frame.to_dict())
    elif item.error is not None:
        e = item.error
        # the documented attributes, named as in the frame's own to_dict()
        body.update(kind=e.kind, field=e.field, value=e.value, offset=e.offset,
                    qn_rtn=e.qn_rtn, message=str(e), qn=e.qn, st=e.st, cn=e.cn, pw=e.pw,
                    mn=e.mn, flag=e.flag, raw=e.raw)
    return json.dumps(body, ensure_ascii=False, default=_jsonable)


def describe(item: Parsed) -> str:
    """A readable account of one frame or one rejection."""
    if item.error is not None:
        e = item.error
        return (f"{item.where}: REJECTED kind={e.kind} field={e.field} value={e.value!r} "
                f"offset={e.offset} qn_rtn={e.qn_rtn}\n  {e}")
    f = item.frame
    assert f is not None
    head = (f"{item.where}: OK CN={f.cn} ST={f.st} MN={f.mn} QN={f.qn} PW={f.pw} "
            f"Flag={f.flag} edition={f.edition} needs_ack={f.needs_ack}")
    if f.pnum is not None:
        head += f" PNUM={f.pnum} PNO={f.pno}"
    if f.rf is not None:
        head += f" RF={f.rf}"
    lines = [head]
    if f.data_time:
        lines.append(f"  DataTime={f.data_time}")
    other = {k: v for k, v in f.cp.items() if k != "DataTime" and "-" not in k}
    if other:
        lines.append("  " + ";".join(f"{k}={v}" for k, v in other.items()))
    for code, fields in f.pollutants.items():
        values = ",".join(f"{s}={v:g}" if isinstance(v, float) else f"{s}={v}"
                          for s, v in fields.items())
        lines.append(f"  {code}: {values}")
    for w in f.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def crc_of(text: str) -> str:
    """The CRC16 of ``text`` (UTF-8) as the 4 upper-case hex digits a frame carries."""
    return f"{hj212.crc16(text.encode('utf-8')):04X}"


def check_frame_crc(text: str) -> tuple[str, str | None]:
    """(computed, declared) CRC of a whole frame given as text: the CRC is computed over
    the data segment the frame's length field names."""
    raw = text.rstrip("\r\n").encode("utf-8")
    if not raw.startswith(b"##") or not raw[2:6].isdigit():
        raise ValueError(
            f"{text[:20]!r}... is not a frame: it must start with ## and 4 length digits"
        )
    length = int(raw[2:6])
    segment = raw[6 : 6 + length]
    declared = raw[6 + length : 10 + length].decode("ascii", errors="replace") or None
    return f"{hj212.crc16(segment):04X}", declared


def _width(text: str) -> int:
    # Chinese names take two columns on a terminal
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def format_table(rows: Sequence[dict[str, str]]) -> str:
    """Rows of dicts as aligned columns (keys of the first row, then any others)."""
    if not rows:
        return "(no rows)"
    keys: list[str] = []
    for row in rows:
        keys.extend(k for k in row if k not in keys)
    widths = {k: max(_width(k), *(_width(str(r.get(k, ""))) for r in rows)) for k in keys}

    def cells(values: dict[str, str]) -> str:
        return "  ".join(
            str(values.get(k, "")) + " " * (widths[k] - _width(str(values.get(k, ""))))
            for k in keys
        ).rstrip()

    header = cells({k: k for k in keys})
    rule = "  ".join("-" * widths[k] for k in keys)
    return "\n".join([header, rule, *(cells(r) for r in rows)])


def format_record(row: dict[str, str]) -> str:
    width = max(len(k) for k in row) if row else 0
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in row.items())
