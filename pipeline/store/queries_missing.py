"""Named queries of the missing-data statistics page (缺失统计, dashboards/missing_page.py);
registered in pipeline/store/queries.py.

Definitions (the page states them too):

- expected, received: records of the data type %(cn)s (2051 minute records, counted on
  completeness' hourly station rows; 2061 hourly records, on its daily rows) as the
  completeness page counts them: every whole period of the range expected from the
  station's cadence, a period with no row received nothing, received capped at each
  row's expected;
- missing (缺失) = expected - received (never below 0): the records the platform should
  have and does not, whether or not a gap was recorded for them (a station silent all
  day has no gap row but misses the whole day); the weekly report's 缺失 is the same
  figure (dashboards/report/data.py: expected - received of the station-week);
- a gap is a ``missing_windows`` row of that data type, counted in the period of its
  window_start; back-filled = records that arrived in answer to a back-fill request
  (``received`` of windows with requests > 0); unfilled in gaps (缺口内未补) =
  expected - received of the windows not filled (open, requested, partly_filled,
  given_up): the part of the missing records the gap detector saw and back-fill has not
  recovered.

Only active stations in scope are counted, in every query, so the table, the gaps and the
counts by outcome agree. Periods are days, ISO weeks (from Monday) or months of CST dates
(%(grain)s 'day', 'week', 'month'); days are whole numbers (see queries_completeness).
"""

from __future__ import annotations

from pipeline.store.queries_completeness import DAY_UNITS, PER_PERIOD
from pipeline.store.query_base import SCOPE, NamedQuery, T

#: the completeness period whose rows count the records of %(cn)s
_PERIOD = "if(%(cn)s = 2061, 'day', 'hour')"

#: the first day of the period (of %(grain)s) that ``day`` (a Date) falls in
_BUCKET = ("multiIf(%(grain)s = 'week', toMonday({day}), %(grain)s = 'month', "
           "toStartOfMonth({day}), {day})")

_NOT_FILLED = "('open', 'requested', 'partly_filled', 'given_up')"

_ACTIVE = f"""
SELECT mn, enterprise, outlet, region
FROM stations FINAL
WHERE active = 1 AND ({SCOPE})
"""

# windows of %(cn)s that start in [start, end) with their station, active and in scope
_WINDOWS = f"""
SELECT mn, enterprise, outlet, region, cn, window_start, window_end, state, expected,
       received, requests, last_request_at
FROM
(
    SELECT mn, cn, window_start, window_end, state, expected, received, requests,
           last_request_at
    FROM missing_windows FINAL
    WHERE cn = %(cn)s
      AND window_start >= {T.format("start")} AND window_start < {T.format("end")}
      AND mn IN (SELECT mn FROM ({_ACTIVE}))
) AS w
-- a LEFT join: ANY INNER keeps one row per key on current releases
ANY LEFT JOIN ({_ACTIVE}) AS s USING (mn)
"""

_SUMS = f"""
count() AS gaps, sumIf(received, requests > 0) AS backfilled,
sumIf(expected - least(received, expected), state IN {_NOT_FILLED}) AS unfilled"""

# completeness' own period name for %(cn)s, where the figures' SQL asks for %(period)s
_PER_PERIOD_CN = PER_PERIOD.replace("%(period)s", _PERIOD)
_DAY_UNITS_CN = DAY_UNITS.replace("%(period)s", _PERIOD)

STATION_PERIODS_SQL = f"""
-- expected - received on UInt64 would wrap below 0: a row's received is capped at that
-- row's own expected, which a changed MinInterval can set above the station's per_period
SELECT mn, enterprise, outlet, region, bucket AS period_start, expected, received,
       if(received < expected, expected - received, 0) AS missing, backfilled, unfilled,
       gaps
FROM
(
    -- summed under other names: an alias equal to a column would be read inside the
    -- next aggregate on current releases
    SELECT mn, enterprise, outlet, region, bucket, sum(day_expected) AS expected,
           sum(day_received) AS received
    FROM
    (
        SELECT mn, enterprise, outlet, region, {_BUCKET.format(day="day")} AS bucket,
               units * per_period AS day_expected, day_received
        FROM
        (
            SELECT mn, enterprise, outlet, region, per_period, i,
                   toDate({T.format("start")}) + i AS day,
                   greatest({_DAY_UNITS_CN}, 0) AS units
            FROM
            (
                SELECT mn, enterprise, outlet, region, {_PER_PERIOD_CN} AS per_period
                FROM stations FINAL
                WHERE active = 1 AND ({SCOPE})
            )
            ARRAY JOIN range(toUInt64(%(days)s)) AS i
        ) AS s
        ANY LEFT JOIN
        (
            SELECT mn, toDate(period_start) AS day,
                   sum(least(received, expected)) AS day_received
            FROM completeness FINAL
            WHERE period = {_PERIOD} AND code = ''
              AND period_start >= {T.format("start")} AND period_start < {T.format("end")}
            GROUP BY mn, day
        ) AS c USING (mn, day)
    )
    GROUP BY mn, enterprise, outlet, region, bucket
) AS p
ANY LEFT JOIN
(
    SELECT mn, {_BUCKET.format(day="toDate(window_start)")} AS bucket,{_SUMS}
    FROM ({_WINDOWS})
    GROUP BY mn, bucket
) AS g USING (mn, bucket)
ORDER BY period_start, mn
"""

GAPS_SQL = f"""
SELECT mn, enterprise, outlet, region, cn, window_start, window_end, state, expected,
       received, requests, last_request_at
FROM ({_WINDOWS})
ORDER BY window_start DESC, mn
LIMIT %(limit)s
"""

OUTCOMES_SQL = f"""
SELECT state, gaps, stations, expected_sum AS expected, received_sum AS received,
       backfilled, unfilled
FROM
(
    SELECT state, uniqExact(mn) AS stations, sum(expected) AS expected_sum,
           sum(received) AS received_sum,{_SUMS}
    FROM ({_WINDOWS})
    GROUP BY state
)
ORDER BY state
"""

_RANGE = ("the days [start, end) (start a day's 00:00 CST, %(days)s days; the whole hours "
          "(2051) or days (2061) before end count)")

NAMED: tuple[NamedQuery, ...] = (
    NamedQuery(
        "missing_station_periods",
        "per active station in scope and period (%(grain)s: day, week from Monday, "
        f"month) of {_RANGE}: records of %(cn)s expected and received (as "
        "completeness_stations counts them: a period with no completeness row received "
        "nothing, received capped at expected), missing (expected - received, never below "
        "0: the weekly report's 缺失), back-filled (received of the gaps with requests > "
        "0), unfilled in gaps (expected - received of the gaps open, requested, "
        "partly_filled or given_up) and gaps (missing_windows of %(cn)s starting in the "
        "period)",
        STATION_PERIODS_SQL,
        ("start", "end", "days", "cn", "grain", "all_regions", "regions"),
    ),
    NamedQuery(
        "missing_gaps",
        "the gaps (missing_windows) of %(cn)s of the active stations in scope starting in "
        "[start, end), newest first, at most %(limit)s, with their back-fill outcome "
        "(state, records received for them, requests sent, the last request's time)",
        GAPS_SQL,
        ("start", "end", "cn", "limit", "all_regions", "regions"),
    ),
    NamedQuery(
        "missing_outcomes",
        "the gaps of missing_gaps (no limit) counted by state (open, requested, filled, "
        "partly_filled, given_up): gaps, stations, records expected and received, "
        "back-filled (received where requests > 0) and unfilled in gaps (expected - "
        "received of the gaps, 0 for filled ones)",
        OUTCOMES_SQL,
        ("start", "end", "cn", "all_regions", "regions"),
    ),
)
