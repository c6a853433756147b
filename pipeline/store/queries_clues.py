"""Named queries of the clue sweep (``hj212 clues``, pipeline/clues/): what the judges
read from readings, the registry and the clue alarms already written.

Kept in their own registry (``QUERIES``, run by ``run``) with the same rules as
pipeline/store/queries.py: SQL with ``%(name)s`` parameters only, never text from a
user; naive CST times wrapped in toDateTime(..., 'Asia/Shanghai'); FINAL where a
resend's or replay's twin before a merge would change a count. Each runs on ClickHouse
18.16 and on current releases (tests/unit/test_clues_queries.py runs them on chDB).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.store.query_base import NamedQuery, T
from pipeline.timebase import to_local

#: the value of a record: Avg where it has one (2051, 2061), else Rtd (2011)
_VALUE = "if(isFinite(avg), avg, rtd)"

NAMED: tuple[NamedQuery, ...] = (
    NamedQuery(
        "clue_stations",
        "the active stations of the registry with their system code and cadences",
        """
        SELECT mn, st, min_interval, rtd_interval
        FROM stations FINAL
        WHERE active = 1
        ORDER BY mn
        """,
        (),
    ),
    NamedQuery(
        "clue_limits",
        "active upper emission limits per station and pollutant, with the value they "
        "apply to (basis avg or zs_avg); a band with a lower bound too (pH 6-9) is no "
        "emission limit to sit under and is left out",
        """
        SELECT mn, code, limit_high, basis
        FROM limits FINAL
        WHERE active = 1 AND isFinite(limit_high) AND NOT isFinite(limit_low)
        ORDER BY mn, code
        """,
        (),
    ),
    NamedQuery(
        "clue_hour_stats",
        "per station, data type (2011, 2051, 2061), pollutant and hour of [start, end): "
        "records, the mean of their values (Avg, else Rtd), records flagged N (or with no "
        "flag) and flagged F",
        f"""
        SELECT mn, any(st) AS st, cn, code, toStartOfHour(data_time) AS hour,
               count() AS records,
               avgIf({_VALUE}, isFinite({_VALUE})) AS mean,
               countIf(flag IN ('N', '')) AS n_flag_n,
               countIf(flag = 'F') AS n_flag_f
        FROM readings FINAL
        WHERE cn IN (2011, 2051, 2061)
          AND data_time >= {T.format("start")} AND data_time < {T.format("end")}
        GROUP BY mn, cn, code, hour
        ORDER BY mn, cn, code, hour
        """,
        ("start", "end"),
    ),
    NamedQuery(
        "clue_o2_records",
        "minute and hourly records of [start, end) carrying a converted value (ZsAvg) and "
        "an Avg, with the O2 (a19001) Avg of the same record (has_o2 = 0: none)",
        f"""
        SELECT mn, cn, data_time, code, avg, zs_avg, o2, has_o2
        FROM
        (
            SELECT mn, cn, data_time, code, avg, zs_avg
            FROM readings FINAL
            WHERE cn IN (2051, 2061) AND code != 'a19001'
              AND isFinite(zs_avg) AND isFinite(avg)
              AND data_time >= {T.format("start")} AND data_time < {T.format("end")}
        ) AS p
        ANY LEFT JOIN
        (
            SELECT mn, cn, data_time, avg AS o2, toUInt8(1) AS has_o2
            FROM readings FINAL
            WHERE cn IN (2051, 2061) AND code = 'a19001'
              AND data_time >= {T.format("start")} AND data_time < {T.format("end")}
        ) AS o USING (mn, cn, data_time)
        ORDER BY mn, cn, code, data_time
        """,
        ("start", "end"),
    ),
    NamedQuery(
        "clue_minute_last",
        "each station's latest minute (2051) record time in [start, end)",
        f"""
        SELECT mn, max(data_time) AS last
        FROM readings
        WHERE cn = 2051
          AND data_time >= {T.format("start")} AND data_time < {T.format("end")}
        GROUP BY mn
        ORDER BY mn
        """,
        ("start", "end"),
    ),
    NamedQuery(
        "clue_frame_minutes",
        "per station, the minutes (Unix epoch minutes) in which it had a frame received "
        "(accepted or rejected) in [start, end): where its link was up, for the hours in "
        "which it began; from frame_times, ordered by receive time (migration 011)",
        f"""
        SELECT mn, groupUniqArray(toUInt32(intDiv(toUInt32(receive_time), 60))) AS minutes
        FROM frame_times
        WHERE mn != ''
          AND receive_time >= {T.format("start")} AND receive_time < {T.format("end")}
        GROUP BY mn
        ORDER BY mn
        """,
        ("start", "end"),
    ),
    NamedQuery(
        "clue_day_series",
        "hourly (2061) records of [start, end) per station, pollutant and CST day: the "
        "hours (0..23), Avg, ZsAvg and flag of each, in time order",
        f"""
        SELECT mn, code, day, groupArray(h) AS hours, groupArray(avg) AS avgs,
               groupArray(zs_avg) AS zs_avgs, groupArray(flag) AS flags
        FROM
        (
            SELECT mn, code, toDate(data_time) AS day, toHour(data_time) AS h, avg, zs_avg,
                   flag
            FROM readings FINAL
            WHERE cn = 2061
              AND data_time >= {T.format("start")} AND data_time < {T.format("end")}
            ORDER BY mn, code, data_time
        )
        GROUP BY mn, code, day
        ORDER BY mn, code, day
        """,
        ("start", "end"),
    ),
    NamedQuery(
        "clue_alarms",
        "the clue alarms (rule in %(rules)s) open now, or seen since %(since)s, in their "
        "newest version",
        f"""
        SELECT alarm_id, mn, code, rule, severity, state, cn, opened_at, last_seen,
               occurrences, message, evidence, raised_at, raised_data_time, opened_cn
        FROM alarms FINAL
        WHERE rule IN %(rules)s
          AND (state = 'open' OR last_seen >= {T.format("since")})
        ORDER BY mn, code, rule, opened_at
        """,
        ("rules", "since"),
    ),
    NamedQuery(
        "clue_latest_data_time",
        "the latest data time of any reading at or after %(since)s (the data clock); "
        "has_data = 0 when there is none",
        f"""
        SELECT max(data_time) AS latest, toUInt8(count() > 0) AS has_data
        FROM readings
        WHERE data_time >= {T.format("since")}
        """,
        ("since",),
    ),
)

QUERIES: dict[str, NamedQuery] = {q.name: q for q in NAMED}


def run(ch: Any, name: str, **params: Any) -> list[dict[str, Any]]:
    """Run the named clue query; rows as dicts. Missing or unknown parameters are errors
    that list what the query takes."""
    query = QUERIES.get(name)
    if query is None:
        raise KeyError(f"no clue query named {name!r}; known: {', '.join(sorted(QUERIES))}")
    if set(params) != set(query.params):
        raise TypeError(f"query {name!r} takes {', '.join(query.params) or 'no parameters'}; "
                        f"got {', '.join(sorted(params)) or 'none'}")
    values = {k: (to_local(v).strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime)
                  else v) for k, v in params.items()}
    result: list[dict[str, Any]] = ch.query_dicts(query.sql, values)
    return result
