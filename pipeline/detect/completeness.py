"""Compliance figures (HJ212.md, the end): transmission rate, validity rate and their
product, transmission-efficiency, per station per hour and per day.

Pure functions over counts and over arrays of records, so the worker, the dashboards and
reports compute them the same way:

- transmission rate (传输率) = records received / records expected;
- validity rate (有效率) = valid records (flag N, inside the instrument range) / received;
- transmission-efficiency (传输有效率) = transmission rate x validity rate.

Per day the records are the hourly (2061) records: 24 expected. Per hour, the minute
(2051) records: 60 / MinInterval expected. A record received twice (a resend, a
back-fill of something already there) counts once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pipeline.timebase import cn_period


@dataclass(frozen=True, slots=True)
class Completeness:
    expected: int
    received: int
    valid: int

    @property
    def transmission_rate(self) -> float:
        return min(self.received / self.expected, 1.0) if self.expected else 0.0

    @property
    def validity_rate(self) -> float:
        return self.valid / self.received if self.received else 0.0

    @property
    def transmission_efficiency(self) -> float:
        return self.transmission_rate * self.validity_rate

    def as_dict(self) -> dict[str, float | int]:
        return {"expected": self.expected, "received": self.received, "valid": self.valid,
                "transmission_rate": self.transmission_rate,
                "validity_rate": self.validity_rate,
                "transmission_efficiency": self.transmission_efficiency}


def expected_records(cn: int, *, min_interval: int = 10, span_s: int = 86400) -> int:
    """Records of ``cn`` a span should hold (2061 per day: 24; 2051 per hour: 60/MinInterval)."""
    period = cn_period(cn, min_interval=min_interval) if cn != 2011 else None
    if period is None:
        raise ValueError(f"cn={cn}: completeness is counted on 2051, 2061 or 2031 records")
    return max(span_s // period, 1)


def is_valid(flag: str | None, value: float, range_low: float = float("nan"),
             range_high: float = float("nan")) -> bool:
    """One record counts as valid: flag N (or none sent) and inside the instrument range."""
    if flag not in (None, "", "N") or np.isnan(value):
        return False
    if not np.isnan(range_low) and value < range_low:
        return False
    return np.isnan(range_high) or value <= range_high


def of_records(data_times: npt.NDArray[np.int64], valid: npt.NDArray[np.bool_],
               expected: int) -> Completeness:
    """Figures for one station (or pollutant) over one span from its records' data times
    (any integer clock) and validity; repeated data times count once (valid if any copy
    is)."""
    if data_times.size == 0:
        return Completeness(expected, 0, 0)
    order = np.argsort(data_times, kind="stable")
    times = data_times[order]
    ok = valid[order]
    uniq, start = np.unique(times, return_index=True)
    valid_any = np.logical_or.reduceat(ok, start) if uniq.size else ok
    return Completeness(expected, int(uniq.size), int(np.count_nonzero(valid_any)))


def daily(hours_received: int, hours_valid: int) -> Completeness:
    """A station-day from its counts of distinct hourly records."""
    return Completeness(24, hours_received, hours_valid)
