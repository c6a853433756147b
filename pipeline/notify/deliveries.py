"""The notifier's ClickHouse I/O: the delivery log (``notify_deliveries``, migration 014),
acknowledgements from the ledger (``ledger_events``, migration 012), the stations'
region and enterprise (``stations``), and the silences in force (``silences``, through
pipeline/duty/silences.py). Small SQL, no logic beyond reading rows.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from pipeline.notify.model import Alarm, Notification
from pipeline.timebase import local_from_unix

TABLE: Final = "notify_deliveries"
#: how far back a restart reads the log (item keys older than this may be owed again:
#: an alarm open for longer gets a repeat, nothing more)
RESTORE_DAYS: Final = 7
_COLUMNS: Final = ("notification_id", "receiver", "route", "group_key", "alarm_ids",
                   "item_kinds", "items", "state", "attempts", "last_error", "silence_id",
                   "created_at", "at", "at_ms", "version")


class Store(Protocol):
    """What this module needs of pipeline.store.client.ClickHouse (and the chDB client)."""

    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None
                    ) -> list[dict[str, Any]]: ...

    def insert_columns(self, table: str, columns: Any, *, numpy: bool = False) -> int: ...

    def table_exists(self, table: str) -> bool: ...


class _Version:
    """Versions that grow within a process even when two rows share a microsecond."""

    def __init__(self) -> None:
        self.last = 0
        self.lock = threading.Lock()

    def next(self) -> int:
        with self.lock:
            self.last = max(self.last + 1, time.time_ns() // 1000)
            return self.last


_version = _Version()


@dataclass(frozen=True, slots=True)
class Row:
    notification: Notification
    state: str
    attempts: int = 0
    error: str = ""
    silence_id: str = ""
    at_ms: int = 0


def items_json(n: Notification) -> str:
    return json.dumps([{"route": i.route, "group_key": i.group_key, "kind": i.kind,
                        "n": i.n, "alarm": i.alarm.to_json(),
                        **({"operator": i.operator.to_json()} if i.operator else {})}
                       for i in n.items],
                      ensure_ascii=False, default=str)


def write(ch: Store, rows: Sequence[Row]) -> int:
    """Append states to the log (one insert for all)."""
    if not rows:
        return 0
    cols: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
    for r in rows:
        n = r.notification
        at_ms = r.at_ms or int(time.time() * 1000)
        cols["notification_id"].append(n.notification_id)
        cols["receiver"].append(n.receiver)
        cols["route"].append(",".join(n.routes))
        cols["group_key"].append(",".join(n.group_keys)[:2000])
        cols["alarm_ids"].append([i.alarm.alarm_id for i in n.items])
        cols["item_kinds"].append([i.kind for i in n.items])
        cols["items"].append(items_json(n))
        cols["state"].append(r.state)
        cols["attempts"].append(r.attempts)
        cols["last_error"].append(r.error[:500])
        cols["silence_id"].append(r.silence_id)
        cols["created_at"].append(n.created_ms // 1000)
        cols["at"].append(at_ms // 1000)
        cols["at_ms"].append(at_ms)
        cols["version"].append(_version.next())
    return ch.insert_columns(TABLE, cols)


def recent(ch: Store, now_ms: int, days: int = RESTORE_DAYS) -> list[dict[str, Any]]:
    """Each notification of the last ``days`` with its latest state, items parsed: what
    ``Engine.restore`` takes."""
    since = (now_ms // 1000) - days * 86400
    rows = ch.query_dicts(
        f"SELECT notification_id, receiver, state, items, at_ms, "
        f"toUInt64(toUnixTimestamp(created_at)) * 1000 AS created_ms FROM {TABLE} FINAL "
        "WHERE created_at >= toDateTime(%(since)s, 'Asia/Shanghai')",
        {"since": f"{local_from_unix(since):%Y-%m-%d %H:%M:%S}"})
    for r in rows:
        r["items"] = json.loads(r["items"])
    return rows


def states(ch: Store, ids: Iterable[str]) -> dict[str, str]:
    """notification_id -> its latest state, for the ids the log has."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = ch.query_dicts(f"SELECT notification_id, state FROM {TABLE} FINAL "
                          "WHERE notification_id IN %(ids)s", {"ids": tuple(wanted)})
    return {r["notification_id"]: r["state"] for r in rows}


def acknowledged(ch: Store, alarm_ids: Sequence[str]) -> set[str] | None:
    """The alarms among ``alarm_ids`` someone acknowledged (ledger_events kind 'ack');
    None when the ledger's table is not there (then nothing counts as acknowledged)."""
    if not alarm_ids:
        return set()
    if not ch.table_exists("ledger_events"):
        return None
    rows = ch.query_dicts("SELECT DISTINCT record_id FROM ledger_events "
                          "WHERE stream = 'alarm' AND kind = 'ack' AND record_id IN %(ids)s",
                          {"ids": tuple(alarm_ids)})
    return {r["record_id"] for r in rows}


@dataclass(frozen=True, slots=True)
class StationFacts:
    region: str
    enterprise: str
    outlet: str


def stations(ch: Store) -> dict[str, StationFacts]:
    rows = ch.query_dicts("SELECT mn, region, enterprise, outlet FROM stations FINAL")
    return {r["mn"]: StationFacts(r["region"], r["enterprise"], r["outlet"]) for r in rows}


def enrich(alarm: Alarm, facts: StationFacts | None) -> Alarm:
    if facts is None:
        return alarm
    from dataclasses import replace

    return replace(alarm, region=facts.region, enterprise=facts.enterprise,
                   outlet=facts.outlet)


def silence_for(ch: Store, alarm: Alarm, at: datetime,
                active: Sequence[Any] | None = None) -> str | None:
    """The id of a silence covering ``alarm`` at ``at`` (naive CST), or None. ``active``:
    the silences in force, read once per batch by the caller."""
    from pipeline.duty import silences as sil

    row = {"mn": alarm.mn, "code": alarm.code, "rule": alarm.rule, "region": alarm.region}
    for s in (active if active is not None else sil.active(ch, at)):
        if sil.matches(s, row, at):
            return str(s.silence_id)
    return None


def active_silences(ch: Store, at: datetime) -> list[Any]:
    """The silences in force at ``at``; none when the table is not there yet."""
    from pipeline.duty import silences as sil

    if not ch.table_exists(sil.TABLE):
        return []
    return list(sil.active(ch, at))


# --- operators' notify events (pipeline/notify/operator.py) -----------------------------


def operator_logged(ch: Store, lookback_ms: int) -> dict[str, int]:
    """The log's operator notifications (route 'operator', any state) from ``lookback_ms``
    before the newest one's event time: notification id -> event time (ms, to the
    second). Empty when the log has none: a first start."""
    top = ch.query_dicts(
        "SELECT count() AS n, toUInt64(toUnixTimestamp(max(created_at))) AS high "
        f"FROM {TABLE} WHERE route = 'operator'")
    if not top or not int(top[0]["n"]):
        return {}
    # a minute more: created_at is whole seconds, the events' at_ms are not
    since = int(top[0]["high"]) - lookback_ms // 1000 - 60
    rows = ch.query_dicts(
        "SELECT notification_id, "
        "max(toUInt64(toUnixTimestamp(created_at))) * 1000 AS created_ms "
        f"FROM {TABLE} WHERE route = 'operator' "
        "AND created_at >= toDateTime(%(since)s, 'Asia/Shanghai') "
        "GROUP BY notification_id",
        {"since": f"{local_from_unix(since):%Y-%m-%d %H:%M:%S}"})
    return {r["notification_id"]: int(r["created_ms"]) for r in rows}


def notify_events(ch: Store, since_ms: int) -> list[dict[str, Any]]:
    """The ledger's notify events (kind 'notify' of any stream: an operator's notice on
    an alarm, a work order's escalation, a subscription's renewal reminder) appended at
    or after ``since_ms``; [] when the ledger's table is not there."""
    if not ch.table_exists("ledger_events"):
        return []
    return ch.query_dicts(
        "SELECT stream, record_id, seq, request_id, actor, at_ms, payload FROM ledger_events "
        "WHERE kind = 'notify' AND at_ms >= %(since)s "
        "ORDER BY at_ms, record_id, seq", {"since": since_ms})


def alarm_rows(ch: Store, alarm_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """alarm_id -> its alarms row (FINAL), for the ids the table has."""
    wanted = sorted(set(alarm_ids))
    if not wanted or not ch.table_exists("alarms"):
        return {}
    rows = ch.query_dicts(
        "SELECT alarm_id, mn, cn, code, rule, severity, state, opened_at, last_seen, "
        "cleared_at, occurrences, message, evidence FROM alarms FINAL "
        "WHERE alarm_id IN %(ids)s", {"ids": tuple(wanted)})
    return {r["alarm_id"]: r for r in rows}
