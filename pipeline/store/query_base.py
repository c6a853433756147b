"""What every named query module shares: the NamedQuery record, the CST time parameter
and the region scope of the web app's queries (see pipeline/store/queries.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str
    params: tuple[str, ...]


T = "toDateTime(%({})s, 'Asia/Shanghai')"

#: the region scope of the web app's queries: a field engineer's regions, or
#: all_regions = 1 for everyone else
SCOPE = "%(all_regions)s = 1 OR region IN %(regions)s"

# Per active station in scope: records expected, received (at most the expected per hour,
# as the transmission rate is capped at 1) and valid over the whole hours [start, end),
# from the station rows (code '') of completeness' hourly periods.
STATION_HOURS = f"""
SELECT mn, enterprise, outlet, region,
       %(hours)s * greatest(intDiv(60, greatest(min_interval, 1)), 1) AS expected,
       received, valid
FROM
(
    SELECT mn, enterprise, outlet, region, min_interval
    FROM stations FINAL
    WHERE active = 1 AND ({SCOPE})
) AS s
ANY LEFT JOIN
(
    SELECT mn, sum(least(received, expected)) AS received, sum(valid) AS valid
    FROM completeness FINAL
    WHERE period = 'hour' AND code = ''
      AND period_start >= {T.format("start")} AND period_start < {T.format("end")}
    GROUP BY mn
) AS c USING (mn)
"""
