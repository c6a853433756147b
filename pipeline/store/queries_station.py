"""Named queries of the station page (站点, dashboards/station_page.py);
registered in pipeline/store/queries.py.

Every query but the picker's asks about one station (``%(mn)s``) and returns nothing
unless that station is in the registry and in the user's scope (STATION_IN_SCOPE): a
field engineer who types another region's MN into the address gets no row of it, from
any of them, whatever the page does with the answer.
"""

from __future__ import annotations

from pipeline.store.query_base import SCOPE, NamedQuery, T

#: the station of %(mn)s is registered and in scope (an unknown MN is in no scope)
STATION_IN_SCOPE = f"mn IN (SELECT mn FROM stations FINAL WHERE mn = %(mn)s AND ({SCOPE}))"

#: the value plotted for a record: Avg where the record has one (2051, 2061, 2031),
#: else Rtd (2011, and a minute record sent without Avg)
VALUE = "if(isFinite(avg), avg, rtd)"
ZS_VALUE = "if(isFinite(zs_avg), zs_avg, zs_rtd)"

NAMED: tuple[NamedQuery, ...] = (
    NamedQuery(
        "station_list",
        "the registered stations in scope (active or not), for the station picker",
        f"""
        SELECT mn, enterprise, outlet, region, active
        FROM stations FINAL
        WHERE {SCOPE}
        ORDER BY enterprise, outlet, mn
        """,
        ("all_regions", "regions"),
    ),
    NamedQuery(
        "station_info",
        "the registry row of station %(mn)s with its CRC variants; no row when the "
        "station is unknown or outside the scope",
        f"""
        SELECT mn, enterprise, outlet, st, edition, province, region, rtd_interval,
               min_interval, active, updated_at, crc_variants
        FROM
        (
            SELECT mn, enterprise, outlet, st, edition, province, region, rtd_interval,
                   min_interval, active, updated_at
            FROM stations FINAL
            WHERE mn = %(mn)s AND ({SCOPE})
        ) AS s
        ANY LEFT JOIN
        (
            SELECT mn, crc_variants FROM station_crc_variants FINAL WHERE mn = %(mn)s
        ) AS v USING (mn)
        """,
        ("mn", "all_regions", "regions"),
    ),
    NamedQuery(
        "station_limits",
        "the limits rows of station %(mn)s (emission limits, basis, instrument range, "
        "unit), active or not, by pollutant code",
        f"""
        SELECT code, limit_low, limit_high, basis, range_low, range_high, unit, active,
               updated_at
        FROM limits FINAL
        WHERE mn = %(mn)s AND {STATION_IN_SCOPE}
        ORDER BY code
        """,
        ("mn", "all_regions", "regions"),
    ),
    NamedQuery(
        "station_codes",
        "the pollutants of station %(mn)s with records in [start, end): records and the "
        "last data time per data type (CN) and code",
        f"""
        SELECT cn, code, count() AS records, max(data_time) AS last_data_time
        FROM readings
        WHERE mn = %(mn)s AND {STATION_IN_SCOPE}
          AND data_time >= {T.format("start")} AND data_time < {T.format("end")}
        GROUP BY cn, code
        ORDER BY cn, code
        """,
        ("mn", "start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "station_series",
        "one pollutant of station %(mn)s and one data type over [start, end) in buckets "
        "of %(step)s seconds (1: each record): mean, min and max of the values (Avg, "
        "else Rtd) and of the converted ones (ZsAvg, else ZsRtd), records, records "
        "flagged other than N and the greatest such flag (by letter); at most %(limit)s "
        "buckets, earliest first",
        f"""
        SELECT bucket, value, value_min, value_max, zs_value, records, flagged, flag
        FROM
        (
            SELECT toDateTime(intDiv(toUInt32(data_time), %(step)s) * %(step)s,
                              'Asia/Shanghai') AS bucket,
                   avgIf(v, isFinite(v)) AS value,
                   minIf(v, isFinite(v)) AS value_min,
                   maxIf(v, isFinite(v)) AS value_max,
                   avgIf(zs, isFinite(zs)) AS zs_value,
                   count() AS records,
                   countIf(f NOT IN ('N', '')) AS flagged,
                   maxIf(f, f NOT IN ('N', '')) AS flag
            FROM
            (
                SELECT data_time, {VALUE} AS v, {ZS_VALUE} AS zs, flag AS f
                FROM readings FINAL
                WHERE mn = %(mn)s AND cn = %(cn)s AND code = %(code)s
                  AND {STATION_IN_SCOPE}
                  AND data_time >= {T.format("start")} AND data_time < {T.format("end")}
            )
            GROUP BY bucket
        )
        ORDER BY bucket
        LIMIT %(limit)s
        """,
        ("mn", "cn", "code", "start", "end", "step", "limit", "all_regions", "regions"),
    ),
    NamedQuery(
        "station_alarms",
        "alarm episodes of station %(mn)s for pollutant %(code)s and its station-wide "
        "ones (code ''), open at some time in [start, end): opened before the end, and "
        "still open or last seen (cleared) at or after the start",
        f"""
        SELECT alarm_id, code, rule, severity, state, opened_at, last_seen, cleared_at,
               occurrences, message
        FROM alarms FINAL
        WHERE mn = %(mn)s AND {STATION_IN_SCOPE}
          AND (code = %(code)s OR code = '')
          AND opened_at < {T.format("end")}
          AND (state = 'open' OR ifNull(cleared_at, last_seen) >= {T.format("start")})
        ORDER BY opened_at, alarm_id
        """,
        ("mn", "code", "start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "station_missing_windows",
        "gap and back-fill windows of station %(mn)s for data type %(cn)s overlapping "
        "[start, end), with their state",
        f"""
        SELECT cn, window_start, window_end, state, expected, received, requests,
               last_request_at, detected_at, updated_at
        FROM missing_windows FINAL
        WHERE mn = %(mn)s AND cn = %(cn)s AND {STATION_IN_SCOPE}
          AND window_start < {T.format("end")} AND window_end >= {T.format("start")}
        ORDER BY window_start
        """,
        ("mn", "cn", "start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "station_frames",
        "frames of station %(mn)s received in [start, end), accepted and rejected "
        "(%(status)s '' for both), newest first, at most %(limit)s, without their bytes "
        "(station_frame_raw fetches one)",
        f"""
        SELECT receive_time, cn, qn, data_time, status, error_kind, error_field,
               error_message, warnings, n_readings, gateway, peer, edition,
               length(raw) AS raw_bytes, toString(raw_hash) AS raw_hash
        FROM frames FINAL
        WHERE mn = %(mn)s AND {STATION_IN_SCOPE}
          AND receive_time >= {T.format("start")} AND receive_time < {T.format("end")}
          AND (%(status)s = '' OR status = %(status)s)
        ORDER BY receive_time DESC, cn, qn, raw_hash
        LIMIT %(limit)s
        """,
        ("mn", "start", "end", "status", "limit", "all_regions", "regions"),
    ),
    NamedQuery(
        "station_frame_raw",
        "the bytes (as hex: a rejected frame need not be UTF-8) of one frame of station "
        "%(mn)s, by its key (cn, qn, raw_hash as text)",
        f"""
        SELECT hex(raw) AS raw_hex, status, error_kind, error_field, error_message
        FROM frames
        WHERE mn = %(mn)s AND {STATION_IN_SCOPE}
          AND cn = %(cn)s AND qn = %(qn)s AND toString(raw_hash) = %(raw_hash)s
        LIMIT 1
        """,
        ("mn", "cn", "qn", "raw_hash", "all_regions", "regions"),
    ),
)
