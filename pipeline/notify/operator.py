"""An operator's "notify the enterprise" (通知企业, issue 11 item 3): the duty desk and
``hj212 alarms notify`` append a ledger event (stream 'alarm', kind 'notify', payload
channel, receiver, recipient, text); ``hj212 notify`` polls those events and sends each
whose receiver is one of the routing file's through that receiver, by the same sender
path as alarm notices (rate limit, retries, dead letter, delivery log with route
'operator'). Pure: the service (service.py) does the I/O.

Exactly once across restarts, and how:
- An event's notification id is ``OP-<request_id>`` (the change's idempotency key), so
  the delivery log says by id whether an event was handled: any row (pending, retrying,
  sent, dead, skipped) means it is never queued again; pending and retrying rows are
  resumed by ``Engine.restore`` like any notification.
- The high-water mark is derived from the log: the newest event time (``created_at``)
  among its operator rows. A restart reads events from ``LOOKBACK_MS`` before it, so an
  event the ledger wrote late (its ``at`` is the writer's clock, its row may land after
  a later one's) is still seen; the ids already in the log are left out. A first start
  (no operator row yet) looks back ``FIRST_LOOKBACK_MS``: older notify events were
  "recorded only" before this service sent them.
- An event seen more than ``MAX_AGE_MS`` after it was recorded (the service was down a
  long time) is logged 'skipped' with the reason rather than sent stale.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from pipeline.notify.model import OPERATOR, Alarm, Item, Notification, OperatorNote
from pipeline.notify.routing import Routing
from pipeline.timebase import local_from_unix

#: the delivery log's route for operators' notifications
ROUTE: Final = "operator"
#: how often the ledger is read for new notify events
POLL_S: Final = 2.0
#: events are read from this long before the high-water mark (late-landing rows)
LOOKBACK_MS: Final = 3_600_000
#: a first start (no operator row in the log) reads this far back
FIRST_LOOKBACK_MS: Final = 3_600_000
#: an event older than this when first seen is not sent (logged 'skipped')
MAX_AGE_MS: Final = 24 * 3_600_000


def notification_id(request_id: str) -> str:
    return f"OP-{request_id}"


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def note_from_row(row: Mapping[str, Any]) -> OperatorNote:
    """The note of a ledger_events row (columns request_id, seq, actor, at_ms, payload)."""
    try:
        payload = json.loads(row.get("payload") or "{}")
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    at_ms = int(row["at_ms"])
    return OperatorNote(
        request_id=str(row["request_id"]), seq=int(row["seq"]), by=str(row["actor"]),
        at=f"{local_from_unix(at_ms / 1000):%Y-%m-%d %H:%M:%S}", at_ms=at_ms,
        channel=_text(payload, "channel"), receiver=_text(payload, "receiver"),
        recipient=_text(payload, "recipient"), text=_text(payload, "text"))


def alarm_from_id(alarm_id: str) -> Alarm:
    """What an alarm id (``<mn>/<code>/<rule>/<YYYYmmddHHMMSS>``) tells, for an alarm
    whose row is not (yet) in the alarms table."""
    parts = alarm_id.split("/")
    if len(parts) >= 4:
        mn, code, rule, opened = parts[0], parts[1], "/".join(parts[2:-1]), parts[-1]
    else:
        mn, code, rule, opened = alarm_id, "", "", ""
    try:
        opened_at = f"{datetime.strptime(opened, '%Y%m%d%H%M%S'):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        opened_at = ""
    return Alarm(alarm_id=alarm_id, mn=mn, code=code, rule=rule, transition="update",
                 severity="", state="open", opened_at=opened_at, last_seen=opened_at)


def alarm_from_record(stream: str, record_id: str, payload_json: str) -> Alarm:
    """A notice about a service record (a work order's escalation, a subscription's
    reminder): the record stands where the alarm would (id ``<stream>:<record id>``),
    with the station the event names, if any."""
    try:
        payload = json.loads(payload_json or "{}")
    except ValueError:
        payload = {}
    mn = _text(payload, "station") if isinstance(payload, dict) else ""
    return Alarm(alarm_id=f"{stream}:{record_id}", mn=mn, code="", rule="",
                 transition="update", severity="", state="open", opened_at="",
                 last_seen="")


def alarm_from_row(row: Mapping[str, Any]) -> Alarm:
    """An alarms-table row (FINAL) as the notifier's Alarm."""

    def clock(v: Any) -> str:
        if isinstance(v, datetime):
            return f"{v:%Y-%m-%d %H:%M:%S}"
        return str(v or "")

    try:
        evidence = json.loads(row.get("evidence") or "{}")
    except ValueError:
        evidence = {}
    cleared = row.get("cleared_at")
    return Alarm(alarm_id=str(row["alarm_id"]), mn=str(row["mn"]), code=str(row["code"]),
                 rule=str(row["rule"]), transition="update", severity=str(row["severity"]),
                 state=str(row["state"]), opened_at=clock(row["opened_at"]),
                 last_seen=clock(row["last_seen"]),
                 cleared_at=clock(cleared) if cleared else None,
                 occurrences=int(row.get("occurrences") or 1),
                 message=str(row.get("message") or ""),
                 evidence=evidence if isinstance(evidence, dict) else {},
                 cn=int(row.get("cn") or 0))


@dataclass(frozen=True, slots=True)
class Planned:
    """One notify event, ready: the notification, and why it is not sent (None: send)."""

    notification: Notification
    skip: str | None = None


def plan(note: OperatorNote, alarm: Alarm, routing: Routing, now_ms: int) -> Planned:
    """The notification for an operator's notify event, and the reason it is only
    logged: no receiver named, a receiver the routing file lacks, or too old."""
    name = note.receiver
    item = Item(receiver=name, route=ROUTE, group_key=f"mn:{alarm.mn}", kind=OPERATOR,
                n=note.seq, alarm=alarm, operator=note)
    n = Notification(notification_id(note.request_id), name, (item,), note.at_ms)
    if not name:
        why = (f"未指定接收群，仅记录（渠道 {note.channel or '-'}）/ no receiver named: "
               f"recorded only (channel {note.channel or '-'}; told by "
               f"{note.recipient or 'the operator'})")
        return Planned(n, why)
    if name not in routing.receivers:
        known = ", ".join(sorted(routing.receivers)[:8])
        why = (f"接收群 {name!r} 不在路由文件中，未发送 / receiver {name!r} is not in the "
               f"routing file (version {routing.version or '-'}); not sent. Fix: add "
               f"[receivers.{name}] there, or choose one of: {known}")
        return Planned(n, why)
    age = now_ms - note.at_ms
    if age > MAX_AGE_MS:
        why = (f"通知已过时未发送（记录于 {note.at}，{age // 3_600_000} 小时后才读到）/ "
               f"too old: recorded at {note.at}, seen {age // 3_600_000} h later (hj212 "
               "notify was down); not sent. Fix: notify the enterprise again if still "
               "needed")
        return Planned(n, why)
    return Planned(n)


@dataclass
class Cursor:
    """Which notify events are handled: the ids the log has (or the service queued)
    within the look-back window, and the high-water mark of their event times."""

    high_ms: int
    seen: dict[str, int] = field(default_factory=dict)  # notification id -> event at_ms

    @classmethod
    def start(cls, logged: Mapping[str, int], now_ms: int) -> Cursor:
        """From the log's operator rows (notification id -> event time in ms)."""
        if not logged:
            return cls(now_ms - FIRST_LOOKBACK_MS + LOOKBACK_MS)
        return cls(max(logged.values()), dict(logged))

    @property
    def since_ms(self) -> int:
        return self.high_ms - LOOKBACK_MS

    def fresh(self, notes: Iterable[OperatorNote]) -> list[OperatorNote]:
        """The notes not handled yet, oldest first (each once even if listed twice)."""
        out: dict[str, OperatorNote] = {}
        for note in sorted(notes, key=lambda n: (n.at_ms, n.seq)):
            nid = notification_id(note.request_id)
            if nid not in self.seen and nid not in out:
                out[nid] = note
        return list(out.values())

    def mark(self, note: OperatorNote) -> None:
        self.seen[notification_id(note.request_id)] = note.at_ms
        self.high_ms = max(self.high_ms, note.at_ms)
        floor = self.since_ms - LOOKBACK_MS
        if len(self.seen) > 1000:  # forget what the query can no longer return
            self.seen = {k: v for k, v in self.seen.items() if v >= floor}
