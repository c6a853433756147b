"""Named queries of the anomalies page (异常统计, dashboards/anomalies_page.py);
registered in pipeline/store/queries.py.

An episode belongs to a period when it opened in it ([start, end), China Standard Time);
its service region and enterprise are its station's in the registry ('' for a station
the registry does not know, which only the all-regions scope sees). Filters take ANY
('*') for "every value": '' is a real region (unregistered), so it cannot mean "any".
"""

from __future__ import annotations

from typing import Final

from pipeline.store.query_base import SCOPE, NamedQuery, T

#: a filter parameter that matches every value
ANY: Final = "*"

#: upper edges (seconds, exclusive) of the open-duration classes of cleared episodes;
#: the last class is everything from the last edge on
DURATION_EDGES_S: Final = (300, 900, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600)

#: seconds a cleared episode stayed open; an episode cleared without a time counts to
#: its last evidence
DURATION = ("toInt64(toUInt32(ifNull(cleared_at, last_seen))) - "
            "toInt64(toUInt32(opened_at))")

_CLASS = "multiIf(" + ", ".join(
    f"duration_s < {edge}, {i}" for i, edge in enumerate(DURATION_EDGES_S)
) + f", {len(DURATION_EDGES_S)})"

# episodes opened in [start, end) with their station's region and enterprise, in scope
_EPISODES = f"""
SELECT alarm_id, mn, enterprise, outlet, region, cn, code, rule, severity, state,
       opened_at, last_seen, cleared_at, occurrences, message
FROM
(
    SELECT alarm_id, mn, cn, code, rule, severity, state, opened_at, last_seen,
           cleared_at, occurrences, message
    FROM alarms FINAL
    WHERE opened_at >= {T.format("start")} AND opened_at < {T.format("end")}
) AS a
ANY LEFT JOIN
(
    SELECT mn, enterprise, outlet, region FROM stations FINAL
) AS s USING (mn)
WHERE {SCOPE}
"""

NAMED: tuple[NamedQuery, ...] = (
    NamedQuery(
        "anomalies_counts",
        "alarm episodes opened in [start, end) in scope, counted per CST day, rule, "
        "severity, state, service region and enterprise (stations: distinct MNs)",
        f"""
        SELECT toStartOfDay(opened_at) AS day, rule, severity, state, region, enterprise,
               count() AS episodes, uniqExact(mn) AS stations
        FROM ({_EPISODES})
        GROUP BY day, rule, severity, state, region, enterprise
        ORDER BY day, rule, severity, state, region, enterprise
        """,
        ("start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "anomalies_open_longest",
        "alarm episodes still open in scope, whenever they opened, longest open first, "
        "at most %(limit)s",
        f"""
        SELECT alarm_id, mn, enterprise, outlet, region, code, rule, severity,
               opened_at, last_seen, occurrences, message
        FROM
        (
            SELECT alarm_id, mn, code, rule, severity, opened_at, last_seen,
                   occurrences, message
            FROM alarms FINAL
            WHERE state = 'open'
        ) AS a
        ANY LEFT JOIN
        (
            SELECT mn, enterprise, outlet, region FROM stations FINAL
        ) AS s USING (mn)
        WHERE {SCOPE}
        ORDER BY opened_at, alarm_id
        LIMIT %(limit)s
        """,
        ("limit", "all_regions", "regions"),
    ),
    NamedQuery(
        "anomalies_duration_stats",
        "per rule, the cleared alarm episodes opened in [start, end) in scope: how many, "
        "and how long they stayed open (seconds from opened_at to cleared_at): exact "
        "median, exact 90th percentile (quantileExact: the element at index "
        "floor(level x n) of the sorted durations), mean and longest",
        f"""
        SELECT rule, episodes, q[1] AS median_s, q[2] AS p90_s, mean_s, max_s
        FROM
        (
            SELECT rule, count() AS episodes,
                   quantilesExact(0.5, 0.9)(duration_s) AS q,
                   avg(duration_s) AS mean_s, max(duration_s) AS max_s
            FROM
            (
                SELECT rule, {DURATION} AS duration_s
                FROM ({_EPISODES})
                WHERE state = 'cleared'
            )
            GROUP BY rule
        )
        ORDER BY rule
        """,
        ("start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "anomalies_duration_classes",
        "per rule, the cleared alarm episodes opened in [start, end) in scope counted "
        "by how long they stayed open: class i is below DURATION_EDGES_S[i] seconds "
        "(and at or above the edge before it); the last class is the rest",
        f"""
        SELECT rule, duration_class, count() AS episodes
        FROM
        (
            SELECT rule, {_CLASS} AS duration_class
            FROM
            (
                SELECT rule, {DURATION} AS duration_s
                FROM ({_EPISODES})
                WHERE state = 'cleared'
            )
        )
        GROUP BY rule, duration_class
        ORDER BY rule, duration_class
        """,
        ("start", "end", "all_regions", "regions"),
    ),
    NamedQuery(
        "anomalies_episodes",
        "alarm episodes opened in [start, end) in scope, filtered by rule, severity, "
        "state, service region and enterprise (each ANY '*' for every value), newest "
        "first, at most %(limit)s",
        f"""
        SELECT alarm_id, mn, enterprise, outlet, region, cn, code, rule, severity, state,
               opened_at, last_seen, cleared_at, occurrences, message
        FROM ({_EPISODES})
        WHERE (%(rule)s = '{ANY}' OR rule = %(rule)s)
          AND (%(severity)s = '{ANY}' OR severity = %(severity)s)
          AND (%(state)s = '{ANY}' OR state = %(state)s)
          AND (%(region)s = '{ANY}' OR region = %(region)s)
          AND (%(enterprise)s = '{ANY}' OR enterprise = %(enterprise)s)
        ORDER BY opened_at DESC, alarm_id
        LIMIT %(limit)s
        """,
        ("start", "end", "rule", "severity", "state", "region", "enterprise", "limit",
         "all_regions", "regions"),
    ),
)
