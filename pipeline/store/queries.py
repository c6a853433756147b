"""Named queries that dashboards, the admin and the CLI reuse.

Each query is SQL with ``%(name)s`` parameters, run through ``run(ch, name, **params)``.
Times are naive local datetimes (China Standard Time, the standard's clock) and are
compared with ``toDateTime(..., 'Asia/Shanghai')`` so the server's own time zone never
matters. Queries read with FINAL where a replay's duplicates before a merge would
change the answer. Every query runs on ClickHouse 18.16 and current releases.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.store import (
    queries_anomalies,
    queries_completeness,
    queries_duty,
    queries_missing,
    queries_report,
    queries_station,
)
from pipeline.store.client import ClickHouse
from pipeline.store.query_base import SCOPE as _SCOPE
from pipeline.store.query_base import STATION_HOURS as _STATION_HOURS
from pipeline.store.query_base import NamedQuery
from pipeline.store.query_base import T as _T
from pipeline.timebase import to_local

QUERIES: dict[str, NamedQuery] = {
    q.name: q
    for q in (
        *queries_completeness.NAMED, *queries_missing.NAMED, *queries_station.NAMED,
        *queries_anomalies.NAMED, *queries_report.NAMED, *queries_duty.NAMED,
        NamedQuery(
            "station_readings",
            "readings of one station (optionally one data type) over [start, end)",
            f"""
            SELECT data_time, cn, code, rtd, min, avg, max, cou, zs_rtd, zs_avg, flag, eflag,
                   receive_time
            FROM readings FINAL
            WHERE mn = %(mn)s
              AND data_time >= {_T.format("start")} AND data_time < {_T.format("end")}
              AND (%(cn)s = 0 OR cn = %(cn)s)
            ORDER BY data_time, cn, code
            """,
            ("mn", "start", "end", "cn"),
        ),
        NamedQuery(
            "latest_frame_per_station",
            "the last frame received from each station, with its command and status",
            """
            SELECT mn,
                   max(receive_time) AS last_receive,
                   argMax(cn, receive_time) AS last_cn,
                   argMax(status, receive_time) AS last_status,
                   argMax(data_time, receive_time) AS last_data_time,
                   argMax(gateway, receive_time) AS gateway,
                   argMax(peer, receive_time) AS peer,
                   count() AS frames
            FROM frames
            WHERE mn != ''
            GROUP BY mn
            ORDER BY mn
            """,
            (),
        ),
        NamedQuery(
            "rejects_by_reason",
            "rejected frames over [start, end) counted by error kind and field",
            f"""
            SELECT error_kind, error_field, count() AS frames, uniqExact(mn) AS stations,
                   min(receive_time) AS first_seen, max(receive_time) AS last_seen,
                   any(error_message) AS example
            FROM frames FINAL
            WHERE status = 'rejected'
              AND receive_time >= {_T.format("start")} AND receive_time < {_T.format("end")}
            GROUP BY error_kind, error_field
            ORDER BY frames DESC, error_kind, error_field
            """,
            ("start", "end"),
        ),
        NamedQuery(
            "hourly_means",
            "hourly mean of valid (N-flag, finite) values per pollutant for one station",
            f"""
            SELECT toStartOfHour(data_time) AS hour, code,
                   avgIf(if(isFinite(avg), avg, rtd), flag IN ('N', '')
                         AND isFinite(if(isFinite(avg), avg, rtd))) AS mean,
                   countIf(flag NOT IN ('N', '')) AS flagged,
                   count() AS records
            FROM readings FINAL
            WHERE mn = %(mn)s
              AND data_time >= {_T.format("start")} AND data_time < {_T.format("end")}
            GROUP BY hour, code
            ORDER BY hour, code
            """,
            ("mn", "start", "end"),
        ),
        # --- the web app's overview (dashboards/views/overview.py) ---------------------
        # Every one is scoped to service regions: %(all_regions)s = 1 sees every station
        # (registered or not), else only stations whose region is in %(regions)s (never an
        # empty tuple: `IN ()` is an error on 18.16). The scope is applied here, in the
        # query, so a field engineer's page never receives another region's rows.
        NamedQuery(
            "overview_station_status",
            "each active station in scope with its cadence and the receive time of its last "
            "accepted frame in [since, until) (has_frame = 0: none in that range)",
            f"""
            SELECT mn, enterprise, outlet, province, region, rtd_interval, min_interval,
                   has_frame, last_receive
            FROM
            (
                SELECT mn, enterprise, outlet, province, region, rtd_interval, min_interval
                FROM stations FINAL
                WHERE active = 1 AND ({_SCOPE})
            ) AS s
            ANY LEFT JOIN
            (
                -- frame_times (migration 011): ordered by receive time; max() is the
                -- same with or without a replay's duplicates
                SELECT mn, toUInt8(1) AS has_frame, max(receive_time) AS last_receive
                FROM frame_times
                WHERE status = 'accepted'
                  AND receive_time >= {_T.format("since")} AND receive_time < {_T.format("until")}
                GROUP BY mn
            ) AS f USING (mn)
            ORDER BY region, mn
            """,
            ("since", "until", "all_regions", "regions"),
        ),
        NamedQuery(
            "overview_frames_per_minute",
            "frames received per minute over [start, end), accepted and rejected, of the "
            "stations in scope (a replay's copy of a frame counts once)",
            f"""
            SELECT toStartOfMinute(receive_time) AS minute,
                   uniqExactIf(mn, cn, qn, raw_hash, status = 'accepted') AS accepted,
                   uniqExactIf(mn, cn, qn, raw_hash, status = 'rejected') AS rejected
            FROM frame_times  -- ordered by receive time (migration 011)
            WHERE receive_time >= {_T.format("start")} AND receive_time < {_T.format("end")}
              AND (%(all_regions)s = 1
                   OR mn IN (SELECT mn FROM stations FINAL WHERE region IN %(regions)s))
            GROUP BY minute
            ORDER BY minute
            """,
            ("start", "end", "all_regions", "regions"),
        ),
        NamedQuery(
            "overview_open_alarms",
            "open alarm episodes counted by severity and service region of their station "
            "('' for a station not in the registry)",
            f"""
            SELECT severity, region, count() AS alarms, uniqExact(mn) AS stations
            FROM
            (
                SELECT mn, severity FROM alarms FINAL WHERE state = 'open'
            ) AS a
            ANY LEFT JOIN
            (
                SELECT mn, region FROM stations FINAL
            ) AS s USING (mn)
            WHERE {_SCOPE}
            GROUP BY severity, region
            ORDER BY severity, region
            """,
            ("all_regions", "regions"),
        ),
        NamedQuery(
            "overview_latest_open_alarms",
            "the most recently opened alarm episodes still open, newest first, at most "
            "%(limit)s",
            f"""
            SELECT alarm_id, mn, enterprise, region, code, rule, severity, opened_at,
                   last_seen, occurrences, message
            FROM
            (
                SELECT alarm_id, mn, code, rule, severity, opened_at, last_seen,
                       occurrences, message
                FROM alarms FINAL WHERE state = 'open'
            ) AS a
            ANY LEFT JOIN
            (
                SELECT mn, enterprise, region FROM stations FINAL
            ) AS s USING (mn)
            WHERE {_SCOPE}
            ORDER BY opened_at DESC, alarm_id
            LIMIT %(limit)s
            """,
            ("limit", "all_regions", "regions"),
        ),
        NamedQuery(
            "overview_efficiency_by_region",
            "transmission rate, validity rate and transmission-efficiency per service "
            "region over the whole hours [start, end) of a day, from the stations' hourly "
            "rows of completeness (minute records); an hour with no row counts as nothing "
            "received, so expected = %(hours)s x 60 / MinInterval per active station",
            f"""
            SELECT region, stations, expected_sum AS expected, received_sum AS received,
                   valid_sum AS valid,
                   if(expected_sum = 0, 0., received_sum / expected_sum) AS transmission_rate,
                   if(received_sum = 0, 0., valid_sum / received_sum) AS validity_rate,
                   transmission_rate * validity_rate AS transmission_efficiency
            FROM
            (
                -- summed under other names: an alias equal to a column would be read
                -- inside the next aggregate on current releases
                SELECT region, count() AS stations, sum(expected) AS expected_sum,
                       sum(received) AS received_sum, sum(valid) AS valid_sum
                FROM ({_STATION_HOURS})
                GROUP BY region
            )
            ORDER BY region
            """,
            ("start", "end", "hours", "all_regions", "regions"),
        ),
        NamedQuery(
            "overview_worst_stations",
            "the active stations in scope with the lowest transmission-efficiency over the "
            "whole hours [start, end) of a day (as overview_efficiency_by_region counts "
            "it), at most %(limit)s",
            f"""
            SELECT mn, enterprise, outlet, region, expected, received, valid,
                   if(expected = 0, 0., received / expected) AS transmission_rate,
                   if(received = 0, 0., valid / received) AS validity_rate,
                   transmission_rate * validity_rate AS transmission_efficiency
            FROM ({_STATION_HOURS})
            ORDER BY transmission_efficiency, mn
            LIMIT %(limit)s
            """,
            ("start", "end", "hours", "limit", "all_regions", "regions"),
        ),
    )
}


def run(ch: ClickHouse, name: str, **params: Any) -> list[dict[str, Any]]:
    """Run the named query; rows as dicts. Missing or unknown parameters are errors that
    list what the query takes."""
    query = QUERIES.get(name)
    if query is None:
        raise KeyError(f"no query named {name!r}; known: {', '.join(sorted(QUERIES))}")
    given = set(params)
    wanted = set(query.params)
    if given != wanted:
        raise TypeError(
            f"query {name!r} takes {', '.join(query.params) or 'no parameters'}; "
            f"got {', '.join(sorted(given)) or 'none'}"
        )
    values = {k: _param(v) for k, v in params.items()}
    return ch.query_dicts(query.sql, values)


def _param(value: Any) -> Any:
    if isinstance(value, datetime):
        # naive text in CST: the SQL wraps it in toDateTime(..., 'Asia/Shanghai')
        return to_local(value).strftime("%Y-%m-%d %H:%M:%S")
    return value


def station_readings(ch: ClickHouse, mn: str, start: datetime, end: datetime,
                     cn: int = 0) -> list[dict[str, Any]]:
    return run(ch, "station_readings", mn=mn, start=start, end=end, cn=cn)


def latest_frame_per_station(ch: ClickHouse) -> list[dict[str, Any]]:
    return run(ch, "latest_frame_per_station")


def rejects_by_reason(ch: ClickHouse, start: datetime, end: datetime) -> list[dict[str, Any]]:
    return run(ch, "rejects_by_reason", start=start, end=end)
