"""Named queries of the weekly report (周报, dashboards/report/); registered in
pipeline/store/queries.py.

Each takes the week as [start, end) of naive CST text, the web app's region scope
(``all_regions``, ``regions``) and ``enterprise`` ('' = every enterprise in scope), so
the report of one enterprise (the page) and those of all of them (``hj212 report weekly
--all``, the benchmark) are the same six queries: rendering all reports asks each query
once, not once per enterprise. Stations are the active ones of the registry.
"""

from __future__ import annotations

from pipeline.store.query_base import SCOPE, NamedQuery, T

#: the enterprise filter every report query applies to stations
_ENTERPRISE = "(%(enterprise)s = '' OR enterprise = %(enterprise)s)"

#: the stations a report covers: active, in scope, of the enterprise (or all)
_STATIONS_IN = f"""
    SELECT mn FROM stations FINAL
    WHERE active = 1 AND ({SCOPE}) AND {_ENTERPRISE}
"""

_PARAMS = ("enterprise", "all_regions", "regions")

NAMED: tuple[NamedQuery, ...] = (
    NamedQuery(
        "report_enterprises",
        "the enterprises with an active station in scope, with their provinces, service "
        "regions and station count (the report page's choice of enterprise)",
        f"""
        SELECT enterprise,
               arrayStringConcat(arraySort(groupUniqArray(province)), '、') AS provinces,
               arrayStringConcat(arraySort(groupUniqArray(region)), '、') AS regions_of,
               count() AS stations
        FROM stations FINAL
        WHERE active = 1 AND ({SCOPE})
        GROUP BY enterprise
        ORDER BY enterprise
        """,
        ("all_regions", "regions"),
    ),
    NamedQuery(
        "report_stations",
        "the active stations (outlets) in scope of %(enterprise)s ('' = every enterprise) "
        "with their registry data",
        f"""
        SELECT mn, enterprise, outlet, province, region, st, min_interval
        FROM stations FINAL
        WHERE active = 1 AND ({SCOPE}) AND {_ENTERPRISE}
        ORDER BY enterprise, outlet, mn
        """,
        _PARAMS,
    ),
    NamedQuery(
        "report_station_days",
        "per station and day of [start, end) (day = whole days since start): minute "
        "records received (at most the expected per hour) and valid, from the station "
        "rows of hourly completeness, as the overview's STATION_HOURS counts them; an "
        "hour with no row is absent (nothing received)",
        f"""
        SELECT mn,
               intDiv(toUInt32(period_start) - toUInt32({T.format("start")}), 86400) AS day,
               sum(least(received, expected)) AS received_sum,
               sum(valid) AS valid_sum,
               count() AS hours_with_rows
        FROM completeness FINAL
        WHERE period = 'hour' AND code = ''
          AND period_start >= {T.format("start")} AND period_start < {T.format("end")}
          AND mn IN ({_STATIONS_IN})
        GROUP BY mn, day
        ORDER BY mn, day
        """,
        ("start", "end", *_PARAMS),
    ),
    NamedQuery(
        "report_over_limit",
        "hours over the emission limits per station and pollutant in [start, end): "
        "hourly records (2061) judged as the over_limit detector judges them (valid "
        "only: flag N or none, Avg finite, not negative and inside the instrument "
        "range; the limit's basis value, Zs Avg where the row has one, above limit_high "
        "or below limit_low of the active limits row), with the extreme values",
        f"""
        SELECT mn, code, any(unit) AS unit_of, any(limit_high) AS limit_hi,
               any(limit_low) AS limit_lo, any(basis) AS basis_of,
               count() AS hours_over,
               countIf(v > limit_high) AS hours_high,
               countIf(v < limit_low) AS hours_low,
               max(v) AS max_value, min(v) AS min_value,
               min(data_time) AS first_hour, max(data_time) AS last_hour
        FROM
        (
            SELECT mn, code, data_time, unit, limit_high, limit_low, basis,
                   if(basis = 'zs_avg' AND isFinite(zs_avg), zs_avg, avg) AS v
            FROM
            (
                SELECT mn, code, data_time, avg, zs_avg, flag
                FROM readings FINAL
                WHERE cn = 2061
                  AND data_time >= {T.format("start")} AND data_time < {T.format("end")}
                  AND mn IN ({_STATIONS_IN})
            ) AS r
            -- ANY INNER JOIN keeps one left row per key on current releases: a left
            -- join, and has_limit = 0 (the default) where no active limits row matched
            ANY LEFT JOIN
            (
                SELECT mn, code, toUInt8(1) AS has_limit, limit_low, limit_high, basis,
                       range_low, range_high, unit
                FROM limits FINAL
                WHERE active = 1
            ) AS l USING (mn, code)
            WHERE has_limit = 1 AND flag IN ('N', '') AND isFinite(avg) AND avg >= 0
              AND NOT (isFinite(range_high) AND avg > range_high)
              AND NOT (isFinite(range_low) AND avg < range_low)
        )
        WHERE (isFinite(limit_high) AND v > limit_high)
           OR (isFinite(limit_low) AND v < limit_low)
        GROUP BY mn, code
        ORDER BY mn, code
        """,
        ("start", "end", *_PARAMS),
    ),
    NamedQuery(
        "report_alarms",
        "alarm episodes that overlap [start, end): opened before end and open now or "
        "cleared (or last seen) at or after start; their current state",
        f"""
        SELECT alarm_id, mn, cn, code, rule, severity, state, opened_at, last_seen,
               cleared_at, occurrences, message
        FROM alarms FINAL
        WHERE opened_at < {T.format("end")}
          AND (state != 'cleared' OR ifNull(cleared_at, last_seen) >= {T.format("start")})
          AND mn IN ({_STATIONS_IN})
        ORDER BY mn, opened_at, alarm_id
        """,
        ("start", "end", *_PARAMS),
    ),
    NamedQuery(
        "report_missing_windows",
        "gaps (missing-data windows) that overlap [start, end), any data type, with "
        "their back-fill requests and outcome",
        f"""
        SELECT mn, cn, window_start, window_end, state, expected, received, requests,
               last_request_at, detected_at, updated_at
        FROM missing_windows FINAL
        WHERE window_start < {T.format("end")} AND window_end >= {T.format("start")}
          AND mn IN ({_STATIONS_IN})
        ORDER BY mn, cn, window_start
        """,
        ("start", "end", *_PARAMS),
    ),
    NamedQuery(
        "report_actions",
        "what people did about the alarms of the stations in scope of %(enterprise)s in "
        "[start, end), from the ledger: the alarm stream's ack, notify, dispatch, resolve "
        "and close, and the arrive, resolve and close of the work orders opened from "
        "those alarms (their open event's alarm_id); each event with the alarm_id it "
        "belongs to, the actor's and the dispatched engineer's display names ('' for a "
        "user name the users table does not know) and the payload fields its sentence "
        "needs, in time order per alarm",
        f"""
        SELECT alarm_id, stream, record_id, seq, kind, actor, actor_name, at, at_ms,
               channel, receiver, recipient, work_order_id, engineer, engineer_name,
               verification, cause, action_taken, result
        FROM
        (
            SELECT alarm_id, stream, record_id, seq, kind, actor, actor_name, at, at_ms,
                   channel, receiver, recipient, work_order_id, engineer, verification,
                   cause, action_taken, result
            FROM
            (
                SELECT if(stream = 'alarm', record_id, order_alarm) AS alarm_id,
                       stream, record_id, seq, kind, actor, at, at_ms,
                       visitParamExtractString(payload, 'channel') AS channel,
                       visitParamExtractString(payload, 'receiver') AS receiver,
                       visitParamExtractString(payload, 'recipient') AS recipient,
                       visitParamExtractString(payload, 'work_order_id') AS work_order_id,
                       visitParamExtractString(payload, 'engineer') AS engineer,
                       visitParamExtractString(payload, 'verification') AS verification,
                       visitParamExtractString(payload, 'cause') AS cause,
                       visitParamExtractString(payload, 'action') AS action_taken,
                       visitParamExtractString(payload, 'result') AS result
                FROM
                (
                    SELECT stream, record_id, seq, kind, actor, at, at_ms, payload
                    FROM ledger_events
                    WHERE at >= {T.format("start")} AND at < {T.format("end")}
                      AND ((stream = 'alarm'
                            AND kind IN ('ack', 'notify', 'dispatch', 'resolve', 'close'))
                           OR (stream = 'work_order'
                               AND kind IN ('arrive', 'resolve', 'close')))
                ) AS e
                -- a work order's alarm is named once, by its open event (which may be
                -- older than the week); an alarm's own events find no row here
                ANY LEFT JOIN
                (
                    SELECT stream, record_id,
                           visitParamExtractString(payload, 'alarm_id') AS order_alarm
                    FROM ledger_events
                    WHERE stream = 'work_order' AND kind = 'open'
                ) AS o USING (stream, record_id)
                WHERE alarm_id != ''
                  AND splitByChar('/', alarm_id)[1] IN ({_STATIONS_IN})
            ) AS ev
            ANY LEFT JOIN
            (
                SELECT username AS actor, display_name AS actor_name FROM users FINAL
            ) AS ua USING (actor)
        ) AS named
        ANY LEFT JOIN
        (
            SELECT username AS engineer, display_name AS engineer_name FROM users FINAL
        ) AS ue USING (engineer)
        ORDER BY alarm_id, at_ms, stream, record_id, seq
        LIMIT 1 BY stream, record_id, seq
        """,
        ("start", "end", *_PARAMS),
    ),
)
