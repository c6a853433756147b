"""Named queries that dashboards, the admin and the CLI reuse.

Each query is SQL with ``%(name)s`` parameters, run through ``run(ch, name, **params)``.
Times are naive local datetimes (China Standard Time, the standard's clock) and are
compared with ``toDateTime(..., 'Asia/Shanghai')`` so the server's own time zone never
matters. Queries read with FINAL where a replay's duplicates before a merge would
change the answer. Every query runs on ClickHouse 18.16 and current releases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.store.client import ClickHouse
from pipeline.timebase import to_local


@dataclass(frozen=True, slots=True)
class NamedQuery:
    name: str
    description: str
    sql: str
    params: tuple[str, ...]


_T = "toDateTime(%({})s, 'Asia/Shanghai')"

QUERIES: dict[str, NamedQuery] = {
    q.name: q
    for q in (
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
