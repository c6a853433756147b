"""What the clue judges are given and what they say.

The judges are pure: they take NumPy columns of one period's data (``HourStats``,
``O2Records``, ``DaySeries``) and the stations' setup, and return a ``Judgement`` per
clue: the findings (each with its evidence and a plain-words explanation) and the keys
they could judge, so that a clue judged clean in a later period clears
(``episodes.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.clues.settings import StationSetup

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Obj = npt.NDArray[np.object_]
Key = tuple[str, str]  # (mn, code); code '' for a clue on the station as a whole


@dataclass(frozen=True, slots=True)
class StationInfo:
    mn: str
    st: str
    min_interval: int  # minutes between 2051 records
    rtd_interval: int  # seconds between 2011 records
    setup: StationSetup


@dataclass(frozen=True, slots=True)
class Finding:
    """One clue seen in one period (an hour or a day) on (mn, code)."""

    mn: str
    code: str
    rule: str
    cn: int  # the data type of the evidence (2061, 2051, 2011)
    began: datetime  # data time the evidence began (start of the first period showing it)
    at: datetime  # start of the period judged (data time of the latest evidence)
    message: str  # Chinese, then English: what an enforcement officer reads
    evidence: dict[str, Any]  # the values that made the case; value / threshold included


@dataclass(slots=True)
class Judgement:
    rule: str
    findings: list[Finding] = field(default_factory=list)
    #: (mn, code) the judge had enough data to judge in the period (found or not)
    judged: set[Key] = field(default_factory=set)


def explain(zh: str, en: str) -> str:
    return f"{zh} / {en}"


def r(x: float, digits: int = 4) -> float | None:
    """A number for the evidence JSON (None for NaN)."""
    return round(float(x), digits) if math.isfinite(x) else None


@dataclass(frozen=True, slots=True)
class HourStats:
    """Per (mn, cn, code, hour) over a window of hours: what the hourly clues read.

    ``mean``: mean of Avg (Rtd where a record has no Avg); ``zs_mean`` likewise of
    ZsAvg/ZsRtd; ``n_flag_n``/``n_flag_f``: records flagged N (or unflagged) and F."""

    mn: Obj
    st: Obj
    cn: I64
    code: Obj
    hour: Obj  # naive CST datetimes (start of hour)
    records: I64
    mean: F64
    n_flag_n: I64
    n_flag_f: I64

    def __len__(self) -> int:
        return len(self.mn)

    def index(self) -> dict[tuple[str, str, datetime, int], int]:
        """(mn, code, hour, cn) -> row."""
        return {(self.mn[i], self.code[i], self.hour[i], int(self.cn[i])): i
                for i in range(len(self))}


@dataclass(frozen=True, slots=True)
class O2Records:
    """Records (2051, 2061) of converted pollutants with the O2 of the same record."""

    mn: Obj
    cn: I64
    data_time: Obj
    code: Obj
    avg: F64
    zs_avg: F64
    o2: F64  # NaN where the record had no O2

    def __len__(self) -> int:
        return len(self.mn)


@dataclass(frozen=True, slots=True)
class DaySeries:
    """Hourly (2061) series per (mn, code, day): 24 values, NaN where no record.

    ``n_ok`` marks values flagged N (or unflagged)."""

    avg: Mapping[tuple[str, str, date], F64]
    zs_avg: Mapping[tuple[str, str, date], F64]
    n_ok: Mapping[tuple[str, str, date], npt.NDArray[np.bool_]]


def columns(rows: list[dict[str, Any]], spec: Mapping[str, Any]) -> dict[str, Any]:
    """Query rows as NumPy columns of the given dtypes (``object`` for text and times)."""
    return {name: np.array([row[name] for row in rows], dtype=dtype)
            for name, dtype in spec.items()}
