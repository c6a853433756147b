"""Named queries of the completeness page (传输有效率, dashboards/completeness_page.py);
registered in pipeline/store/queries.py.

They count as the overview does (query_base.STATION_HOURS), so a day shows the same
figures on both pages: per active station in scope, from the station rows (code '') of
``completeness``, a period with no row counts as nothing received, expected comes from
the station's cadence and the number of whole periods, and received is capped at each
row's expected. ``%(period)s`` chooses the records: 'hour' rows count the minute (2051)
records, 60 / MinInterval expected per hour (the overview's basis); 'day' rows count the
hourly (2061) records, 24 expected per day (HJ 212's compliance basis). Enterprises and
regions are sums of their stations (dashboards/completeness_figures.py), so every level
comes from one answer.

ClickHouse 18.16: ``toDateTime(x, tz) + n`` loses its zone there, so days are counted as
whole numbers (``toDate`` of the start plus n, seconds as UInt32) and never as shifted
DateTimes.
"""

from __future__ import annotations

from pipeline.store.query_base import SCOPE, NamedQuery, T

#: records expected per period of ``%(period)s`` for a station (``min_interval`` 0 is 1)
PER_PERIOD = ("if(%(period)s = 'hour', greatest(intDiv(60, greatest(min_interval, 1)), 1), "
              "24)")

_RATES = """
       if(expected = 0, 0., received / expected) AS transmission_rate,
       if(received = 0, 0., valid / received) AS validity_rate,
       transmission_rate * validity_rate AS transmission_efficiency"""

STATIONS_SQL = f"""
SELECT mn, enterprise, outlet, region, expected, received, valid,{_RATES}
FROM
(
    SELECT mn, enterprise, outlet, region, %(units)s * per_period AS expected, received,
           valid
    FROM
    (
        SELECT mn, enterprise, outlet, region, {PER_PERIOD} AS per_period
        FROM stations FINAL
        WHERE active = 1 AND ({SCOPE})
    ) AS s
    ANY LEFT JOIN
    (
        SELECT mn, sum(least(received, expected)) AS received, sum(valid) AS valid
        FROM completeness FINAL
        WHERE period = %(period)s AND code = ''
          AND period_start >= {T.format("start")} AND period_start < {T.format("end")}
        GROUP BY mn
    ) AS c USING (mn)
)
ORDER BY transmission_efficiency, mn
"""

# Each day i of [start, end) (start is a day's 00:00 CST): its whole periods are those of
# the day before ``end``; hours or a day, as %(period)s counts.
DAY_UNITS = ("intDiv(least(86400, toInt64(toUInt32({end})) - toInt64(toUInt32({start})) "
             "- 86400 * toInt64(i)), if(%(period)s = 'hour', 3600, 86400))"
             ).format(end=T.format("end"), start=T.format("start"))

STATION_DAYS_SQL = f"""
SELECT mn, enterprise, outlet, region, day, expected, received, valid,{_RATES}
FROM
(
    SELECT mn, enterprise, outlet, region, day, units * per_period AS expected, received,
           valid
    FROM
    (
        SELECT mn, enterprise, outlet, region, per_period, i,
               toDate({T.format("start")}) + i AS day, greatest({DAY_UNITS}, 0) AS units
        FROM
        (
            SELECT mn, enterprise, outlet, region, {PER_PERIOD} AS per_period
            FROM stations FINAL
            WHERE active = 1 AND ({SCOPE}) AND (%(mn)s = '' OR mn = %(mn)s)
        )
        ARRAY JOIN range(toUInt64(%(days)s)) AS i
    ) AS s
    ANY LEFT JOIN
    (
        SELECT mn, toDate(period_start) AS day, sum(least(received, expected)) AS received,
               sum(valid) AS valid
        FROM completeness FINAL
        WHERE period = %(period)s AND code = ''
          AND period_start >= {T.format("start")} AND period_start < {T.format("end")}
          AND (%(mn)s = '' OR mn = %(mn)s)
        GROUP BY mn, day
    ) AS c USING (mn, day)
)
ORDER BY mn, day
"""

NAMED: tuple[NamedQuery, ...] = (
    NamedQuery(
        "completeness_stations",
        "transmission rate (received / expected), validity rate (valid / received) and "
        "transmission-efficiency (their product) of each active station in scope over "
        "[start, end), counted on completeness' station rows of %(period)s ('hour': "
        "minute records, 60 / MinInterval expected an hour; 'day': hourly records, 24 a "
        "day); expected = %(units)s whole periods x that, a period with no row counts as "
        "nothing received, received capped at each row's expected (as the overview "
        "counts); lowest efficiency first",
        STATIONS_SQL,
        ("start", "end", "period", "units", "all_regions", "regions"),
    ),
    NamedQuery(
        "completeness_station_days",
        "the figures of completeness_stations per day: each active station in scope (or "
        "only %(mn)s unless it is '') and each of the %(days)s days from start (a day's "
        "00:00 CST) before end; a day's expected counts its whole periods before end, so "
        "today counts the hours passed (a day not begun: expected 0)",
        STATION_DAYS_SQL,
        ("start", "end", "days", "period", "mn", "all_regions", "regions"),
    ),
)
