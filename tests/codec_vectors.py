"""Shared test vectors of the codec: the standard's example frame and its appendix C
conversations. A module of its own (not conftest.py) so that test files import it by a
name no other folder's file has."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

#: the appendix C segments live with the codec, whose Rust tests read them too (and may read
#: nothing outside core_rs/)
APPENDIX_C = Path(__file__).parent.parent / "core_rs" / "tests" / "data" / "appendix_c.tsv"

#: the standard's own example frame (appendix A), CRC verified
STD_FRAME = (
    b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;"
    b"MN=010000A8900016F000169DC0;Flag=5;CP=&&RtdInterval=30&&1C80\r\n"
)


@dataclass(frozen=True)
class AppendixRow:
    id: str
    section: str
    direction: str
    description: str
    segment: str
    note: str

    @property
    def cleaned(self) -> str:
        """The segment with the appendix's printing deviations undone (as the Rust tests do)."""
        return (
            self.segment.replace(";…&&", "&&")
            .replace("…&&", "&&")
            .replace("&& ", "&&")
            .replace(" &&", "&&")
            .replace("Flag=5CP=", "Flag=5;CP=")
            .replace("534,ST=", "534;ST=")
        )


def load_appendix_c() -> list[AppendixRow]:
    with APPENDIX_C.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [AppendixRow(**{k: (v or "") for k, v in row.items()}) for row in reader]


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS, written out as an oracle: what some loggers sign frames with instead
    of appendix A's CRC (the byte goes into the low half before the shifts)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc
