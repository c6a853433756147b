"""The ``completeness`` table (migration 007): compliance figures per station, pollutant
and period, recomputed from ``readings`` for the periods that received data.

Per hour the records are the minute (2051) records, 60 / MinInterval expected; per day the
hourly (2061) records, 24 expected (``pipeline.detect.completeness``). A record is valid
when its flag is N (or absent), its Avg is a number and it lies inside the instrument
range of ``limits``. Each pollutant gets a row, and the station a row with code '': a
station record is one data time, valid when every pollutant in it is.

Rows are rewritten with a larger ``version`` whenever a period is recomputed (late and
back-filled records change a period after the fact); read with FINAL. Recomputing is
idempotent, so two workers recomputing the same period write the same figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.detect.completeness import Completeness, expected_records
from pipeline.store.client import ClickHouse
from pipeline.timebase import CST_OFFSET_S

#: period name -> (the data type counted, its length in seconds)
PERIODS: dict[str, tuple[int, int]] = {"hour": (2051, 3600), "day": (2061, 86400)}


# one JOIN per SELECT: ClickHouse 18.16 allows no more; the joined subqueries need aliases
# on current releases (joined_subquery_requires_alias, on by default since 20.x)
_RECORDS = """
SELECT mn, code, data_time,
       flag IN ('N', '') AND isFinite(avg)
       AND NOT (has_range = 1 AND isFinite(range_low) AND avg < range_low)
       AND NOT (has_range = 1 AND isFinite(range_high) AND avg > range_high) AS ok
FROM
(
    SELECT mn, code, data_time, flag, avg FROM readings FINAL
    WHERE cn = %(cn)s AND mn IN %(mns)s
      AND data_time >= toDateTime(%(start)s) AND data_time < toDateTime(%(end)s)
) AS r
ANY LEFT JOIN
(
    -- a pollutant with no limits row joins as zeros, not NaN: has_range tells them apart
    SELECT mn, code, range_low, range_high, toUInt8(1) AS has_range
    FROM limits FINAL WHERE active = 1
) AS l USING (mn, code)
"""

POLLUTANT_SQL = f"""
SELECT mn, code, uniqExact(data_time) AS received, uniqExactIf(data_time, ok) AS valid
FROM ({_RECORDS})
GROUP BY mn, code
"""

STATION_SQL = f"""
SELECT mn, count() AS received, sum(all_ok) AS valid
FROM
(
    SELECT mn, data_time, min(ok) AS all_ok FROM ({_RECORDS}) GROUP BY mn, data_time
)
GROUP BY mn
"""

COLUMNS = ("mn", "code", "period", "period_start", "expected", "received", "valid",
           "transmission_rate", "validity_rate", "transmission_efficiency", "updated_at",
           "version")


@dataclass(frozen=True, slots=True)
class Period:
    name: str  # "hour" or "day"
    start: int  # epoch seconds of the period's first second (local CST boundaries)


def periods_of(cns: npt.NDArray[Any], data_epochs: npt.NDArray[np.int64],
               mns: Iterable[str]) -> set[tuple[str, Period]]:
    """The (MN, period) pairs a batch of frames touches: hours of its 2051 records and
    days of its 2061 records (``data_epochs``: epoch seconds of each frame's DataTime)."""
    out: set[tuple[str, Period]] = set()
    mn_list = list(mns)
    for name, (cn, length) in PERIODS.items():
        idx = np.flatnonzero(cns == cn)
        if idx.size == 0:
            continue
        # periods start on Asia/Shanghai boundaries (a day starts at 00:00 CST)
        starts = ((data_epochs[idx] + CST_OFFSET_S) // length) * length - CST_OFFSET_S
        for i, start in zip(idx.tolist(), starts.tolist(), strict=True):
            out.add((mn_list[i], Period(name, int(start))))
    return out


def figures(period: Period, expected_of: Mapping[str, int],
            pollutants: Iterable[tuple[str, str, int, int]],
            stations: Iterable[tuple[str, int, int]], *, now: float | None = None
            ) -> dict[str, list[Any]]:
    """``completeness`` columns from the counts of ``POLLUTANT_SQL`` and ``STATION_SQL``;
    ``expected_of`` gives each MN's expected records in the period."""
    at = time.time() if now is None else now
    rows: list[tuple[str, str, Completeness]] = [
        (mn, code, Completeness(expected_of[mn], int(received), int(valid)))
        for mn, code, received, valid in pollutants]
    rows += [(mn, "", Completeness(expected_of[mn], int(received), int(valid)))
             for mn, received, valid in stations]
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for mn, code, c in rows:
        cols["mn"].append(mn)
        cols["code"].append(code)
        cols["period"].append(period.name)
        cols["period_start"].append(period.start)
        cols["expected"].append(c.expected)
        cols["received"].append(c.received)
        cols["valid"].append(c.valid)
        cols["transmission_rate"].append(c.transmission_rate)
        cols["validity_rate"].append(c.validity_rate)
        cols["transmission_efficiency"].append(c.transmission_efficiency)
        cols["updated_at"].append(int(at))
        cols["version"].append(int(at * 1000))
    return cols


def refresh(ch: ClickHouse, touched: Iterable[tuple[str, Period]],
            min_interval_of: Mapping[str, int]) -> int:
    """Recompute the touched (MN, period) pairs; returns the rows written."""
    by_period: dict[Period, list[str]] = {}
    for mn, period in touched:
        by_period.setdefault(period, []).append(mn)
    written = 0
    for period, mns in sorted(by_period.items(), key=lambda kv: (kv[0].name, kv[0].start)):
        cn, length = PERIODS[period.name]
        params = {"cn": cn, "mns": tuple(sorted(mns)), "start": period.start,
                  "end": period.start + length}
        expected = {mn: expected_records(cn, min_interval=min_interval_of.get(mn, 10),
                                         span_s=length) for mn in mns}
        cols = figures(period, expected, ch.execute(POLLUTANT_SQL, params),
                       ch.execute(STATION_SQL, params))
        written += ch.insert_columns("completeness", cols)
    return written
