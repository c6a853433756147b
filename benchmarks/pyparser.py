"""A plain-Python HJ 212 frame parser, written only as the benchmark's comparison baseline.

It does what a careful Python implementation would do for each frame, with no native code:

- framing: ``##``, a 4-digit byte length (at most 1024), the data segment, 4 hex CRC digits
  (either case, in strict mode too; lower case is reported), ``\\r\\n`` (a bare ``\\n``
  accepted in lenient mode and reported);
- CRC16 of the standard's appendix A, table-driven, in pure Python;
- the data segment decoded as UTF-8, header fields QN, ST, CN, PW, MN, Flag, PNUM, PNO, RF
  read and checked (digits, real QN times, Flag's edition and A/D bits);
- the data area (CP) into a dict of text, ``DataTime`` and other times checked to be real
  dates, and ``code-Suffix`` fields grouped into ``pollutants`` with numeric suffixes as
  floats and the rest (Flag, EFlag, SampleTime, Info, ...) as text.

It is not the platform's parser (that is ``hj212.parse``, in Rust) and it covers less of the
standard: no table-4 range checks, no code tables, no split-message logic. Its errors use the
same kinds as ``hj212.FrameError`` so that the unit tests can compare the two.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

__all__ = ["MAX_SEGMENT", "NUMERIC_SUFFIXES", "ParseError", "PyFrame", "crc16", "parse"]

MAX_SEGMENT = 1024

#: suffixes whose values are numbers (the columns of hj212.decode_batch)
NUMERIC_SUFFIXES: frozenset[str] = frozenset((
    "Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "RS", "RT", "Data",
    "DayData", "NightData", "Ala", "UpValue", "LowValue",
))
#: plain CP fields holding a time YYYYMMDDhhmmss
_TIME_FIELDS: frozenset[str] = frozenset(
    ("DataTime", "BeginTime", "EndTime", "SystemTime", "RestartTime")
)
_DATA_FLAGS: frozenset[str] = frozenset("NFMSDCTB")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_EDITIONS = {0: 2005, 1: 2017, 2: 2025}


def _crc_table() -> tuple[int, ...]:
    """After ``crc = (crc >> 8) ^ byte`` the value is below 256, so appendix A's eight
    shift/xor rounds depend on one byte only: precompute them."""
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= 0xA001
        table.append(crc)
    return tuple(table)


_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """CRC16 of HJ 212 appendix A (not Modbus CRC16), one table lookup per byte."""
    crc = 0xFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc >> 8) ^ b]
    return crc


class ParseError(ValueError):
    """A rejected frame; ``kind`` uses the vocabulary of ``hj212.FrameError.kind``."""

    def __init__(self, kind: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.field = field


@dataclass(slots=True)
class PyFrame:
    qn: str | None
    st: str
    cn: str
    pw: str | None
    mn: str | None
    flag: int | None
    edition: int
    needs_ack: bool
    is_split: bool
    pnum: int | None
    pno: int | None
    rf: str | None
    cp: dict[str, str]
    data_time: str | None
    pollutants: dict[str, dict[str, float | str]]
    crc: int
    warnings: list[str] = field(default_factory=list)


def _is_real_time(v: str) -> bool:
    """``YYYYMMDDhhmmss`` (or with ``zzz`` milliseconds) naming a real calendar time."""
    if len(v) not in (14, 17) or not v.isascii() or not v.isdigit():
        return False
    year, month, day = int(v[0:4]), int(v[4:6]), int(v[6:8])
    if not 1 <= month <= 12:
        return False
    days = _DAYS[month]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        days = 29
    return 1 <= day <= days and int(v[8:10]) < 24 and int(v[10:12]) < 60 and int(v[12:14]) < 60


def _uint(name: str, v: str) -> int:
    if not v or not v.isascii() or not v.isdigit():
        raise ParseError("field", f"{name}={v!r} is not a whole number", name)
    return int(v)


def _number(name: str, v: str) -> float:
    if _NUMBER.fullmatch(v) is None:
        raise ParseError("value", f"{name}={v!r} is not a decimal number", name)
    x = float(v)
    if not math.isfinite(x):
        raise ParseError("value", f"{name}={v!r} is out of range", name)
    return x


def parse(data: bytes, *, strict: bool = False) -> PyFrame:
    """Parse one whole frame (``##`` .. ``\\r\\n``). Raises ParseError."""
    warnings: list[str] = []
    # --- framing
    if data[:2] != b"##":
        raise ParseError("header", "a frame starts with ##")
    digits = data[2:6]
    if len(digits) < 4 or not digits.isdigit():
        raise ParseError("length", f"length {digits!r} is not 4 digits")
    n = int(digits)
    if n > MAX_SEGMENT:
        raise ParseError("length", f"length {n} is over {MAX_SEGMENT}")
    if data.endswith(b"\r\n"):
        end = len(data) - 2
    elif data.endswith(b"\n") and not strict:
        end = len(data) - 1
        warnings.append("bare_lf: the frame ends in \\n, not \\r\\n")
    else:
        raise ParseError("tail", "a frame ends with \\r\\n")
    if end != 6 + n + 4:
        raise ParseError("length", f"length {n} does not match the {end - 10} bytes sent")
    seg = data[6 : 6 + n]
    crc_text = data[6 + n : end]
    if not _HEX.issuperset(crc_text):
        raise ParseError("crc", f"CRC {crc_text!r} is not 4 hex digits")
    crc = crc16(seg)
    if int(crc_text, 16) != crc:
        raise ParseError("crc", f"CRC {crc_text.decode()} != computed {crc:04X}")
    if not crc_text.isupper() and not crc_text.isdigit():
        # either case is allowed; lower case is noted
        warnings.append("crc_lowercase: the CRC is in lower-case hex")
    try:
        text = seg.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ParseError("encoding", f"not UTF-8 at byte {e.start}") from None

    # --- header fields
    at = text.find("CP=&&")
    if at < 0 or (at > 0 and text[at - 1] != ";"):
        raise ParseError("cp", "no CP=&& in the data segment", "CP")
    if len(text) < at + 7 or not text.endswith("&&"):
        raise ParseError("cp", "CP does not end with &&", "CP")
    head: dict[str, str] = {}
    if at:
        for item in text[: at - 1].split(";"):
            name, eq, value = item.partition("=")
            if not eq or not name:
                raise ParseError("field", f"{item!r} is not name=value", name or None)
            if name in head:
                raise ParseError("field", f"{name} appears twice", name)
            head[name] = value
    st = head.get("ST")
    cn = head.get("CN")
    if st is None or len(st) != 2 or not st.isdigit():
        raise ParseError("field", f"ST={st!r} is not 2 digits", "ST")
    if cn is None or len(cn) != 4 or not cn.isdigit():
        raise ParseError("field", f"CN={cn!r} is not 4 digits", "CN")
    qn = head.get("QN")
    if qn is not None and not (len(qn) == 17 and _is_real_time(qn)):
        raise ParseError("field", f"QN={qn!r} is not a real time YYYYMMDDhhmmsszzz", "QN")
    flag_text = head.get("Flag")
    flag = None if flag_text is None else _uint("Flag", flag_text)
    edition = 2005
    if flag is not None:
        bits = flag >> 2
        if bits not in _EDITIONS:
            raise ParseError("field", f"Flag={flag}: unknown edition bits {bits}", "Flag")
        edition = _EDITIONS[bits]
    is_split = flag is not None and flag & 2 != 0
    pnum = pno = None
    if is_split:
        pnum = _uint("PNUM", head.get("PNUM", ""))
        pno = _uint("PNO", head.get("PNO", ""))
        if not 1 <= pno <= pnum:
            raise ParseError("field", f"PNO={pno} is not within 1..PNUM={pnum}", "PNO")

    # --- data area
    cp_text = text[at + 5 : -2]
    cp: dict[str, str] = {}
    pollutants: dict[str, dict[str, float | str]] = {}
    data_time: str | None = None
    if cp_text:
        for group in cp_text.split(";"):
            for item in group.split(","):
                name, eq, value = item.partition("=")
                if not eq or not name:
                    raise ParseError("cp", f"{item!r} is not name=value", name or None)
                cp[name] = value
                code, dash, suffix = name.rpartition("-")
                if dash and code and suffix:
                    values = pollutants.get(code)
                    if values is None:
                        values = pollutants[code] = {}
                    if suffix in NUMERIC_SUFFIXES:
                        values[suffix] = _number(name, value)
                    else:
                        if suffix == "Flag" and value not in _DATA_FLAGS:
                            if strict or not (0 < len(value) <= 4 and value.isascii()
                                              and value.isalnum()):
                                raise ParseError("value", f"{name}={value!r} is not a data flag",
                                                 name)
                            warnings.append(f"unknown_data_flag: {name}={value!r}")
                        if suffix == "SampleTime" and not (len(value) == 14
                                                           and _is_real_time(value)):
                            raise ParseError("value", f"{name}={value!r} is not a time", name)
                        values[suffix] = value
                elif name in _TIME_FIELDS:
                    if len(value) != 14 or not _is_real_time(value):
                        raise ParseError("value", f"{name}={value!r} is not a real time", name)
                    if name == "DataTime":
                        data_time = value
    return PyFrame(
        qn=qn, st=st, cn=cn, pw=head.get("PW"), mn=head.get("MN"), flag=flag,
        edition=edition, needs_ack=flag is not None and flag & 1 != 0, is_split=is_split,
        pnum=pnum, pno=pno, rf=head.get("RF"), cp=cp, data_time=data_time,
        pollutants=pollutants, crc=crc, warnings=warnings,
    )
