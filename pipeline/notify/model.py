"""What hj212 notify handles: alarms as the worker publishes them, the items a receiver
is owed for them, and the notifications that carry those items. Plain data, no I/O.

An alarm message on ``hj212.alarms`` (pipeline/stream/sinks.py ``alarm_record``) is one
step of an episode: ``transition`` open, update or clear, keyed by ``alarm_id``
(``<mn>/<code>/<rule>/<opened_at>``). A receiver is owed, per alarm: one ``firing``
notice, ``repeat`` notices while it stays open, one ``resolved`` notice when it clears,
and, at the escalation receiver, one ``escalation`` notice when nobody acknowledged it
in time. Each such item has a key (receiver, alarm_id, kind, n) which the delivery log
records, so a restart never owes it twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

Severity = Literal["info", "warning", "major", "critical"]
SEVERITIES: Final = ("info", "warning", "major", "critical")
ItemKind = Literal["firing", "repeat", "resolved", "escalation", "operator"]
#: an operator's "notify the enterprise" (通知企业) from the duty desk: a ledger event
#: sent as it is, never grouped (pipeline/notify/operator.py)
OPERATOR: Final = "operator"
ReceiverKind = Literal["wecom", "dingtalk", "webhook", "mail", "print"]
RECEIVER_KINDS: Final = ("wecom", "dingtalk", "webhook", "mail", "print")

#: delivery-log states (notify_deliveries.state)
PENDING: Final = "pending"  # formed, written ahead of the first attempt
RETRYING: Final = "retrying"  # an attempt failed; another is scheduled
SENT: Final = "sent"
DEAD: Final = "dead"  # dead-lettered: a permanent error, or out of attempts
SUPPRESSED: Final = "suppressed"  # a silence covered the alarm: nothing sent
#: an operator's notify event that names no receiver of the routing file (told by
#: phone, or a receiver since removed): recorded only, last_error says why
SKIPPED: Final = "skipped"
#: states after which nothing more is done for a notification
FINAL_STATES: Final = frozenset({SENT, DEAD, SUPPRESSED, SKIPPED})


class AlarmFormatError(ValueError):
    """An alarms-topic message that is not an alarm; the message says which field."""


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm message, with the station's registry facts added by the service."""

    alarm_id: str
    mn: str
    code: str
    rule: str
    transition: str  # open, update, clear
    severity: str
    state: str  # open, cleared
    opened_at: str  # 'YYYY-MM-DD HH:MM:SS', the standard's local clock
    last_seen: str
    cleared_at: str | None = None
    occurrences: int = 1
    message: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    version: int = 0
    cn: int = 0
    # from the station registry (stations FINAL); '' when the MN is not registered
    region: str = ""
    enterprise: str = ""
    outlet: str = ""
    #: the enterprise is on the 365 service (routes.toml [service365] enterprises)
    service_365: bool = False
    #: when and from what the alarm was raised (sinks.alarm_record; None/0/'' in a
    #: message from before they were sent): wall time, the data time it was raised for,
    #: when its evidence began, the data type that opened it, the rule's class
    raised_at: str | None = None
    raised_data_time: str | None = None
    evidence_began: str | None = None
    opened_cn: int = 0
    rule_class: str = ""

    @property
    def cleared(self) -> bool:
        return self.state == "cleared" or self.transition == "clear"

    def labels(self) -> dict[str, Any]:
        """What routes match on."""
        return {"region": self.region, "severity": self.severity, "rule": self.rule,
                "mn": self.mn, "code": self.code, "enterprise": self.enterprise,
                "service_365": self.service_365}

    def to_json(self) -> dict[str, Any]:
        return {"alarm_id": self.alarm_id, "mn": self.mn, "code": self.code,
                "rule": self.rule, "transition": self.transition,
                "severity": self.severity, "state": self.state,
                "opened_at": self.opened_at, "last_seen": self.last_seen,
                "cleared_at": self.cleared_at, "occurrences": self.occurrences,
                "message": self.message, "evidence": dict(self.evidence),
                "version": self.version, "cn": self.cn, "region": self.region,
                "enterprise": self.enterprise, "outlet": self.outlet,
                "service_365": self.service_365, "raised_at": self.raised_at,
                "raised_data_time": self.raised_data_time,
                "evidence_began": self.evidence_began, "opened_cn": self.opened_cn,
                "rule_class": self.rule_class}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Alarm:
        return cls(**{k: d[k] for k in _FIELDS if k in d})


_FIELDS: Final = tuple(Alarm.__dataclass_fields__)
_REQUIRED: Final = ("alarm_id", "mn", "rule", "transition", "severity")


def parse_alarm(value: bytes | None) -> Alarm:
    """The alarm of an ``hj212.alarms`` message; AlarmFormatError naming what is wrong."""
    try:
        msg = json.loads(value or b"")
    except ValueError as exc:
        raise AlarmFormatError(f"alarm message is not JSON ({exc}); it is skipped") from None
    if not isinstance(msg, dict):
        raise AlarmFormatError(f"alarm message is a JSON {type(msg).__name__}, not an "
                               "object; it is skipped")
    missing = [k for k in _REQUIRED if not msg.get(k)]
    if missing:
        raise AlarmFormatError(f"alarm message {str(msg.get('alarm_id', '?'))!r} lacks "
                               f"{', '.join(missing)}; it is skipped")
    if msg["transition"] not in ("open", "update", "clear"):
        raise AlarmFormatError(f"alarm {msg['alarm_id']!r}: transition "
                               f"{msg['transition']!r} is not open, update or clear")
    return Alarm(
        alarm_id=str(msg["alarm_id"]), mn=str(msg["mn"]), code=str(msg.get("code") or ""),
        rule=str(msg["rule"]), transition=str(msg["transition"]),
        severity=str(msg["severity"]),
        state=str(msg.get("state") or ("cleared" if msg["transition"] == "clear" else "open")),
        opened_at=str(msg.get("opened_at") or ""), last_seen=str(msg.get("last_seen") or ""),
        cleared_at=msg.get("cleared_at"), occurrences=int(msg.get("occurrences") or 1),
        message=str(msg.get("message") or ""),
        evidence=ev if isinstance(ev := msg.get("evidence"), dict) else {},
        version=int(msg.get("version") or 0), cn=int(msg.get("cn") or 0),
        raised_at=_text(msg.get("raised_at")),
        raised_data_time=_text(msg.get("raised_data_time")),
        evidence_began=_text(msg.get("evidence_began")),
        opened_cn=int(msg.get("opened_cn") or 0), rule_class=str(msg.get("rule_class") or ""))


def _text(value: object) -> str | None:
    return str(value) if value else None


@dataclass(frozen=True, slots=True)
class Receiver:
    """A receiver of the routing file. Secrets are not here: they are looked up by name
    in the secrets file when sending (receivers.py)."""

    name: str
    kind: str  # one of RECEIVER_KINDS
    title: str = ""  # shown name, e.g. 云贵川渝 365 群
    url: str = ""  # wecom/dingtalk: override of the robot's API address; webhook: target
    to: tuple[str, ...] = ()  # mail addresses
    #: messages a minute at most (WeCom and DingTalk robots: 20); 0: no limit
    per_minute: int = 0
    #: most items one message lists line by line before it becomes a digest
    max_lines: int = 20


#: item key as recorded in the delivery log: (receiver, alarm_id, kind, n)
ItemKey = tuple[str, str, str, int]


@dataclass(frozen=True, slots=True)
class OperatorNote:
    """What an operator told the enterprise (a ledger event of stream 'alarm', kind
    'notify'; payload fields as pipeline/duty/lifecycle.py checks them)."""

    request_id: str  # the change's idempotency key: the notification id's base
    seq: int  # the event's number within the alarm's record
    by: str  # the operator's user name
    at: str  # 'YYYY-MM-DD HH:MM:SS' CST, when the ledger appended it
    at_ms: int
    channel: str
    receiver: str  # as the operator named it ('' when none)
    recipient: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "seq": self.seq, "by": self.by,
                "at": self.at, "at_ms": self.at_ms, "channel": self.channel,
                "receiver": self.receiver, "recipient": self.recipient, "text": self.text}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> OperatorNote:
        return cls(request_id=str(d.get("request_id", "")), seq=int(d.get("seq") or 0),
                   by=str(d.get("by", "")), at=str(d.get("at", "")),
                   at_ms=int(d.get("at_ms") or 0), channel=str(d.get("channel", "")),
                   receiver=str(d.get("receiver", "")),
                   recipient=str(d.get("recipient", "")), text=str(d.get("text", "")))


@dataclass(frozen=True, slots=True)
class Item:
    """What one receiver is owed about one alarm."""

    receiver: str
    route: str
    group_key: str  # 'mn:<MN>' or 'ent:<enterprise>' or 'esc:<MN>'
    kind: str  # ItemKind
    n: int  # the repeat's number; 0 otherwise
    alarm: Alarm
    #: opaque tokens of the Kafka records waiting for this item (service.py)
    origins: tuple[Any, ...] = ()
    #: kind 'operator' only: what the operator wrote, by whom, when
    operator: OperatorNote | None = None

    @property
    def key(self) -> ItemKey:
        return (self.receiver, self.alarm.alarm_id, self.kind, self.n)

    def with_alarm(self, alarm: Alarm, origin: Any = None) -> Item:
        extra = () if origin is None else (origin,)
        return replace(self, alarm=alarm, origins=self.origins + extra)


def notification_id(receiver: str, group_keys: Iterable[str],
                    items: Iterable[ItemKey]) -> str:
    """Deterministic: the same receiver, groups and items give the same id after a
    restart, so the delivery log can tell a resend from a new message."""
    h = hashlib.sha256()
    h.update(receiver.encode())
    for g in sorted(set(group_keys)):
        h.update(b"\0g" + g.encode())
    for _r, alarm_id, kind, n in sorted(items):
        h.update(f"\0i{alarm_id}\x01{kind}\x01{n}".encode())
    return "N-" + h.hexdigest()[:28]


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one receiver: the items of one group, or under a storm a digest
    of several groups."""

    notification_id: str
    receiver: str
    items: tuple[Item, ...]
    created_ms: int
    #: taken back from the delivery log after a restart (check its state before sending)
    resumed: bool = False

    @property
    def group_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.group_key for i in self.items))

    @property
    def routes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.route for i in self.items))

    @property
    def digest(self) -> bool:
        return len(self.group_keys) > 1

    @property
    def operator(self) -> OperatorNote | None:
        """The operator's note when this is an operator's notify (one item)."""
        return self.items[0].operator if self.items else None

    @classmethod
    def of(cls, receiver: str, items: Iterable[Item], now_ms: int) -> Notification:
        its = tuple(items)
        return cls(notification_id(receiver, (i.group_key for i in its),
                                   (i.key for i in its)), receiver, its, now_ms)
