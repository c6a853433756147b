"""Named queries of the duty desk (值守台, dashboards/duty_page.py); registered in
pipeline/store/queries.py.

Two sources meet here: the detector's alarm episodes (``alarms``, ReplacingMergeTree: the
newest row per episode under FINAL) and the people's side of each alarm, the ledger's
append-only events (``ledger_events``, stream 'alarm', record_id = alarm_id; see
pipeline/ledger/). The people's state is derived from the events in Python
(pipeline/duty/lifecycle.py), so these queries hand over the events as they are.

Every query takes the region scope. An alarm belongs to the region of its station in the
registry; a station the registry does not know is in no region, so only an all-regions
user sees its alarms. Events are scoped through their alarm: a field engineer never
receives another region's history.

ClickHouse 18.16 joins two tables per SELECT: a third is joined one level up.
"""

from __future__ import annotations

from pipeline.store.query_base import SCOPE, NamedQuery, T

#: the ledger's table (MergeTree, append-only; one writer per record, so a seq is written
#: once: LIMIT 1 BY only keeps the pages readable should a twin ever appear, as
#: pipeline/ledger/queries.py does)
LEDGER = "ledger_events"

#: the station of the row's ``mn`` is in the scope (all_regions = 1: any station, the
#: registry's or not)
MN_IN_SCOPE = ("(%(all_regions)s = 1 OR mn IN (SELECT mn FROM stations FINAL "
               "WHERE region IN %(regions)s))")

#: the station of %(alarm_id)s ('<mn>/<code>/<rule>/<opened_at>'): the alarms table's
#: key starts with mn, so naming it reads one station's part of the table
MN_OF_ID = "splitByChar('/', %(alarm_id)s)[1]"

#: the alarms on the desk at %(since)s: every open episode, and those cleared (or last
#: seen) since then, whose people's side may still be going on
ON_DESK = f"(state = 'open' OR ifNull(cleared_at, last_seen) >= {T.format('since')})"

#: raised_at .. rule_class: migration 015 (NULL, NULL, 0, '' on a row written before it:
#: dashboards/duty_figures.py falls back to opened_at, cn and names.rule_class)
ALARM_COLUMNS = ("alarm_id, mn, cn, code, rule, severity, state, opened_at, last_seen, "
                 "cleared_at, occurrences, value, threshold, message, raised_at, "
                 "raised_data_time, opened_cn, rule_class")

#: what pipeline.ledger.codec.event_from_row reads
EVENT_COLUMNS = "stream, record_id, seq, request_id, kind, actor, at_ms, payload, source"

#: the value plotted for a record: Avg where it has one, else Rtd (as the station page)
VALUE = "if(isFinite(avg), avg, rtd)"

NAMED: tuple[NamedQuery, ...] = (
    NamedQuery(
        "duty_feed",
        "the alarm episodes on the duty desk: open ones and those cleared at or after "
        "%(since)s, in scope, with their station's enterprise, outlet and region ('' for "
        "a station not in the registry) and when, from what data type and by which class "
        "of rule each was raised; open first, then newest, at most %(limit)s",
        f"""
        SELECT alarm_id, mn, enterprise, outlet, region, cn, code, rule, severity, state,
               opened_at, last_seen, cleared_at, occurrences, value, threshold, message,
               raised_at, raised_data_time, opened_cn, rule_class
        FROM
        (
            SELECT {ALARM_COLUMNS}
            FROM alarms FINAL
            WHERE {ON_DESK}
        ) AS a
        ANY LEFT JOIN
        (
            SELECT mn, enterprise, outlet, region FROM stations FINAL
        ) AS s USING (mn)
        WHERE {SCOPE}
        ORDER BY state = 'open' DESC, opened_at DESC, alarm_id
        LIMIT %(limit)s
        """,
        ("since", "limit", "all_regions", "regions"),
    ),
    NamedQuery(
        "duty_feed_events",
        "the ledger events (people's actions) of the alarms on the desk at %(since)s "
        "(as duty_feed selects them) in scope, by alarm and sequence",
        f"""
        SELECT {EVENT_COLUMNS}
        FROM {LEDGER}
        WHERE stream = 'alarm'
          AND record_id IN
              (
                  SELECT alarm_id FROM alarms FINAL
                  WHERE {ON_DESK} AND {MN_IN_SCOPE}
              )
        ORDER BY record_id, seq
        LIMIT 1 BY record_id, seq
        """,
        ("since", "all_regions", "regions"),
    ),
    NamedQuery(
        "duty_alarm",
        "one alarm episode %(alarm_id)s with its evidence (JSON text) and its station's "
        "enterprise, outlet and region; no row when it is unknown or outside the scope",
        f"""
        SELECT alarm_id, mn, enterprise, outlet, region, cn, code, rule, severity, state,
               opened_at, last_seen, cleared_at, occurrences, value, threshold, message,
               raised_at, raised_data_time, opened_cn, rule_class, evidence
        FROM
        (
            SELECT {ALARM_COLUMNS}, evidence
            FROM alarms FINAL
            WHERE mn = {MN_OF_ID} AND alarm_id = %(alarm_id)s
        ) AS a
        ANY LEFT JOIN
        (
            SELECT mn, enterprise, outlet, region FROM stations FINAL
        ) AS s USING (mn)
        WHERE {SCOPE}
        """,
        ("alarm_id", "all_regions", "regions"),
    ),
    NamedQuery(
        "duty_alarm_events",
        "every ledger event of alarm %(alarm_id)s, by sequence; none when the alarm is "
        "unknown or outside the scope",
        f"""
        SELECT {EVENT_COLUMNS}
        FROM {LEDGER}
        WHERE stream = 'alarm' AND record_id = %(alarm_id)s
          AND record_id IN
              (
                  SELECT alarm_id FROM alarms FINAL
                  WHERE mn = {MN_OF_ID} AND alarm_id = %(alarm_id)s AND {MN_IN_SCOPE}
              )
        ORDER BY seq
        LIMIT 1 BY seq
        """,
        ("alarm_id", "all_regions", "regions"),
    ),
    NamedQuery(
        "duty_alarm_series",
        "one pollutant %(code)s of station %(mn)s and data type %(cn)s over [start, end) "
        "in buckets of %(step)s seconds (1: each record): mean, min and max of the values "
        "(Avg, else Rtd), records and records flagged other than N; at most %(limit)s "
        "buckets, earliest first; nothing outside the scope",
        f"""
        SELECT bucket, value, value_min, value_max, records, flagged
        FROM
        (
            SELECT toDateTime(intDiv(toUInt32(data_time), %(step)s) * %(step)s,
                              'Asia/Shanghai') AS bucket,
                   avgIf(v, isFinite(v)) AS value,
                   minIf(v, isFinite(v)) AS value_min,
                   maxIf(v, isFinite(v)) AS value_max,
                   count() AS records,
                   countIf(f NOT IN ('N', '')) AS flagged
            FROM
            (
                SELECT data_time, {VALUE} AS v, flag AS f
                FROM readings FINAL
                WHERE mn = %(mn)s AND cn = %(cn)s AND code = %(code)s AND {MN_IN_SCOPE}
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
        "duty_active_silences",
        "the silences in force at %(at)s (started, not ended, not cancelled) that can "
        "match an alarm in scope: their region is '' or in scope, their station '' or in "
        "scope; oldest first",
        f"""
        SELECT silence_id, mn, code, rule, region, starts_at, ends_at, reason, created_by,
               created_at, cancelled_at, cancelled_by, version
        FROM silences FINAL
        WHERE starts_at <= {T.format("at")} AND ends_at > {T.format("at")}
          AND (isNull(cancelled_at) OR cancelled_at > {T.format("at")})
          AND (%(all_regions)s = 1 OR region = '' OR region IN %(regions)s)
          AND (mn = '' OR {MN_IN_SCOPE})
        ORDER BY starts_at, silence_id
        """,
        ("at", "all_regions", "regions"),
    ),
    NamedQuery(
        "duty_people",
        "the active users who may be given an alarm (assign) or a dispatch: user name, "
        "display name, roles and service regions as comma-separated text ('' regions: "
        "every region); those of the scope's regions or of every region, by name",
        """
        SELECT username, display_name, arrayStringConcat(roles, ',') AS role_list,
               arrayStringConcat(regions, ',') AS region_list
        FROM users FINAL
        WHERE active = 1
          AND (%(all_regions)s = 1 OR empty(regions)
               OR arrayExists(r -> r IN %(regions)s, regions))
        ORDER BY username
        """,
        ("all_regions", "regions"),
    ),
    NamedQuery(
        "duty_shift_opened",
        "alarm episodes opened in [start, end) in scope, with their station's enterprise "
        "and region, by opening time",
        f"""
        SELECT alarm_id, mn, enterprise, region, code, rule, severity, state, opened_at
        FROM
        (
            SELECT alarm_id, mn, code, rule, severity, state, opened_at
            FROM alarms FINAL
            WHERE opened_at >= {T.format("start")} AND opened_at < {T.format("end")}
        ) AS a
        ANY LEFT JOIN
        (
            SELECT mn, enterprise, region FROM stations FINAL
        ) AS s USING (mn)
        WHERE {SCOPE}
        ORDER BY opened_at, alarm_id
        """,
        ("start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "duty_shift_events",
        "the ledger events appended in [start, end) to alarms in scope, with the alarm's "
        "station, region, rule and severity, by time",
        f"""
        SELECT alarm_id, seq, kind, actor, at_ms, payload, mn, enterprise, region, code,
               rule, severity
        FROM
        (
            SELECT record_id AS alarm_id, seq, kind, actor, at_ms, payload
            FROM {LEDGER}
            WHERE stream = 'alarm'
              AND at >= {T.format("start")} AND at < {T.format("end")}
            LIMIT 1 BY record_id, seq
        ) AS e
        ANY LEFT JOIN
        (
            -- in scope (a LEFT join and this mark: ANY INNER keeps one left row per key
            -- on current releases)
            SELECT alarm_id, mn, enterprise, region, code, rule, severity,
                   toUInt8(1) AS in_scope
            FROM
            (
                SELECT alarm_id, mn, code, rule, severity FROM alarms FINAL
            ) AS a
            ANY LEFT JOIN
            (
                SELECT mn, enterprise, region FROM stations FINAL
            ) AS s USING (mn)
            WHERE {SCOPE}
        ) AS x USING (alarm_id)
        WHERE in_scope = 1
        ORDER BY at_ms, alarm_id, seq
        """,
        ("start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "duty_response_times",
        "alarm episodes opened in [start, end) in scope with their region, rule and "
        "severity and, from the ledger, their first acknowledgement and first resolution "
        "(resolve or close), in ms since the epoch, and who made them (acks / resolves 0: "
        "none yet)",
        f"""
        SELECT alarm_id, region, rule, severity, opened_at, acks, ack_ms AS acked_at_ms,
               acked_by, resolves, resolve_ms AS resolved_at_ms, resolved_by
        FROM
        (
            SELECT alarm_id, mn, region, rule, severity, opened_at
            FROM
            (
                SELECT alarm_id, mn, rule, severity, opened_at
                FROM alarms FINAL
                WHERE opened_at >= {T.format("start")} AND opened_at < {T.format("end")}
            ) AS a
            ANY LEFT JOIN
            (
                SELECT mn, region FROM stations FINAL
            ) AS s USING (mn)
            WHERE {SCOPE}
        ) AS x
        ANY LEFT JOIN
        (
            SELECT record_id AS alarm_id,
                   countIf(kind = 'ack') AS acks,
                   minIf(at_ms, kind = 'ack') AS ack_ms,
                   argMinIf(actor, at_ms, kind = 'ack') AS acked_by,
                   countIf(kind IN ('resolve', 'close')) AS resolves,
                   minIf(at_ms, kind IN ('resolve', 'close')) AS resolve_ms,
                   argMinIf(actor, at_ms, kind IN ('resolve', 'close')) AS resolved_by
            FROM {LEDGER}
            WHERE stream = 'alarm'
            GROUP BY record_id
        ) AS e USING (alarm_id)
        ORDER BY opened_at, alarm_id
        """,
        ("start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "duty_operator_counts",
        "people's actions on alarms in scope in [start, end): per actor and kind, the "
        "number of actions and of alarms acted on (the platform's own 'system:' actors "
        "left out)",
        f"""
        SELECT actor, kind, count() AS actions, uniqExact(record_id) AS alarms
        FROM {LEDGER}
        WHERE stream = 'alarm' AND NOT startsWith(actor, 'system:')
          AND at >= {T.format("start")} AND at < {T.format("end")}
          AND record_id IN (SELECT alarm_id FROM alarms FINAL WHERE {MN_IN_SCOPE})
        GROUP BY actor, kind
        ORDER BY actor, kind
        """,
        ("start", "end", "all_regions", "regions"),
    ),
)
