"""Reading alarm episodes for people's actions: one alarm, or a list, with its station's
service region and enterprise (the registry's; '' for a station it does not know).

Used by admin/duty_actions.py (the region check needs the alarm's region) and
``hj212 alarms``. The duty desk page reads through its own named queries
(pipeline/store/queries_duty.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Protocol

from pipeline.timebase import to_local

_T: Final = "toDateTime(%({})s, 'Asia/Shanghai')"

_FIELDS: Final = ("alarm_id, mn, cn, code, rule, severity, state, opened_at, last_seen, "
                  "cleared_at, occurrences, value, threshold, message, evidence")

#: every value of a filter
ANY: Final = ""


class Reader(Protocol):
    def query_dicts(self, sql: str, params: Any = None) -> list[dict[str, Any]]: ...


def _joined(where: str) -> str:
    return f"""
SELECT {_FIELDS}, enterprise, outlet, region
FROM
(
    SELECT {_FIELDS} FROM alarms FINAL WHERE {where}
) AS a
ANY LEFT JOIN
(
    SELECT mn, enterprise, outlet, region FROM stations FINAL
) AS s USING (mn)
"""


def mn_of(alarm_id: str) -> str:
    """The station of an alarm id ('<mn>/<code>/<rule>/<opened_at>'), '' if malformed."""
    parts = alarm_id.split("/")
    return parts[0] if len(parts) == 4 else ""


def get(ch: Reader, alarm_id: str) -> dict[str, Any] | None:
    """The episode ``alarm_id`` with region, enterprise and outlet, or None."""
    mn = mn_of(alarm_id)
    if not mn:
        return None
    rows = ch.query_dicts(_joined("mn = %(mn)s AND alarm_id = %(alarm_id)s"),
                         {"mn": mn, "alarm_id": alarm_id})
    return _clean(rows[0]) if rows else None


def find(ch: Reader, *, since: datetime, region: str = ANY, severity: str = ANY,
         rule: str = ANY, detector_state: str = ANY, limit: int = 500
         ) -> list[dict[str, Any]]:
    """Episodes opened since ``since`` (naive CST) or still open, filtered (''
    every value; detector_state 'open' or 'cleared'), newest first, at most ``limit``."""
    where = (f"(opened_at >= {_T.format('since')} OR state = 'open')"
             " AND (%(severity)s = '' OR severity = %(severity)s)"
             " AND (%(rule)s = '' OR rule = %(rule)s)"
             " AND (%(state)s = '' OR state = %(state)s)")
    sql = (_joined(where) + " WHERE (%(region)s = '' OR region = %(region)s) "
           "ORDER BY opened_at DESC, alarm_id LIMIT %(limit)s")
    rows = ch.query_dicts(sql, {"since": f"{to_local(since):%Y-%m-%d %H:%M:%S}",
                                "severity": severity, "rule": rule,
                                "state": detector_state, "region": region,
                                "limit": int(limit)})
    return [_clean(r) for r in rows]


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    """Times as naive CST, the evidence parsed, NaN as None."""
    out = dict(row)
    for key in ("opened_at", "last_seen", "cleared_at"):
        if isinstance(out.get(key), datetime):
            out[key] = to_local(out[key])
    for key in ("value", "threshold"):
        v = out.get(key)
        if isinstance(v, float) and math.isnan(v):
            out[key] = None
    try:
        out["evidence"] = json.loads(out.get("evidence") or "{}")
    except ValueError:
        out["evidence"] = {"text": out.get("evidence")}
    for key in ("region", "enterprise", "outlet"):
        out[key] = out.get(key) or ""
    return out
