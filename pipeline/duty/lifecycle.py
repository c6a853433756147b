"""The people's side of an alarm (告警处置): its verbs, the rule the ledger writer applies
to each change, and the state derived from the appended events. Pure: no I/O.

Two axes, kept apart as the best IoT platforms keep them:
- the detector's: an episode is ``active`` while its evidence lasts and ``cleared`` when
  the data are clean again (the ``alarms`` row's state; people cannot change it);
- the people's: ``unacknowledged`` → ``acknowledged`` → (``dispatched``) → ``resolved``
  → ``closed`` (and ``reopen`` back), kept in the ledger's stream ``alarm`` (one record
  per alarm_id, see pipeline/ledger/__init__.py).

An alarm cleared by the detector is still unacknowledged until someone looks at it: the
duty centre must still see and close it (SERVICE.md, scenario 1: the operator verifies the
data are back, then closes).

The rule (``check``, entry point ``hj212.ledger_streams: alarm``) says what may follow
what; the ledger writer applies it under the record's single writer, so two operators
acting at once end in one appended change and one clear refusal or conflict. ``derive``
replays events the writer appended, so it trusts them and never refuses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

from pipeline.duty.silences import Silence, matches
from pipeline.ledger.model import Change, Event

#: the ledger stream of alarms
STREAM: Final = "alarm"

# the verbs (Change.kind) of the alarm stream
ACK: Final = "ack"  # 确认: someone is looking at it
UNACK: Final = "unack"  # 取消确认: acknowledged by mistake
ASSIGN: Final = "assign"  # 指派: payload assignee (a user name)
COMMENT: Final = "comment"  # 备注: payload text
NOTIFY: Final = "notify"  # 通知企业: channel, receiver, text, recipient
DISPATCH: Final = "dispatch"  # 派单: work_order_id, engineer, region
RESOLVE: Final = "resolve"  # 处理完成: verification (the data are back)
CLOSE: Final = "close"  # 关闭
REOPEN: Final = "reopen"  # 重新打开: reason
KINDS: Final = (ACK, UNACK, ASSIGN, COMMENT, NOTIFY, DISPATCH, RESOLVE, CLOSE, REOPEN)

#: the verbs' names on pages and in the CLI: the users' word first
KIND_LABELS: Final = {
    ACK: "确认 acknowledge", UNACK: "取消确认 unacknowledge", ASSIGN: "指派 assign",
    COMMENT: "备注 comment", NOTIFY: "通知企业 notify", DISPATCH: "派单 dispatch",
    RESOLVE: "处理完成 resolve", CLOSE: "关闭 close", REOPEN: "重新打开 reopen",
}

# the people's axis
UNACKNOWLEDGED: Final = "unacknowledged"
ACKNOWLEDGED: Final = "acknowledged"
DISPATCHED: Final = "dispatched"
RESOLVED: Final = "resolved"
CLOSED: Final = "closed"
PHASES: Final = (UNACKNOWLEDGED, ACKNOWLEDGED, DISPATCHED, RESOLVED, CLOSED)
PHASE_LABELS: Final = {
    UNACKNOWLEDGED: "未确认 unacknowledged", ACKNOWLEDGED: "已确认 acknowledged",
    DISPATCHED: "已派单 dispatched", RESOLVED: "已处理 resolved", CLOSED: "已关闭 closed",
}

# the detector's axis
ACTIVE: Final = "active"
CLEARED: Final = "cleared"

#: how a notification reached the enterprise (recorded as told, and sent through a
#: receiver of hj212 notify where one is set)
CHANNELS: Final = ("phone", "wecom", "dingtalk", "sms", "email", "webhook", "web")

#: the longest free text kept in one event: a comment is a note, not a report (a report
#: belongs to the work order, issue 12)
MAX_TEXT: Final = 2000


@dataclass(frozen=True, slots=True)
class Comment:
    seq: int
    by: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Notification:
    """The enterprise was told: how, through which receiver, whom, what, by whom, when."""

    seq: int
    by: str
    at: datetime
    channel: str
    receiver: str
    recipient: str
    text: str


@dataclass(frozen=True, slots=True)
class AlarmState:
    """One alarm as the duty desk sees it: the detector's axis beside the people's."""

    alarm_id: str
    severity: str
    detector: str  # ACTIVE or CLEARED (the episode's state)
    phase: str  # one of PHASES
    acknowledged: bool = False
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    #: when first acknowledged (the response-time clock stops there; an unack does not
    #: restart it, or unack and ack again would hide a late response)
    first_acknowledged_at: datetime | None = None
    assignee: str = ""
    assigned_by: str = ""
    assigned_at: datetime | None = None
    notified: tuple[Notification, ...] = ()
    dispatched: str = ""  # the work order id
    dispatched_to: str = ""  # the engineer
    dispatched_region: str = ""
    dispatched_by: str = ""
    dispatched_at: datetime | None = None
    resolved_by: str = ""
    resolved_at: datetime | None = None
    verification: str = ""
    closed: bool = False
    closed_by: str = ""
    closed_at: datetime | None = None
    comments: tuple[Comment, ...] = ()
    last_seq: int = 0
    silenced: bool = False
    silenced_by: tuple[str, ...] = ()  # ids of the silences that match it now
    events: tuple[Event, ...] = field(default=(), repr=False)

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None


# --- the rule ---------------------------------------------------------------------------


def _refuse(zh: str, en: str) -> str:
    return f"{zh} / {en}"


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def _too_long(payload: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = payload.get(key, "")
        if isinstance(value, str) and len(value) > MAX_TEXT:
            return _refuse(f"{key} 过长（{len(value)} 字，最多 {MAX_TEXT}）",
                           f"{key} is {len(value)} characters long; fix: at most "
                           f"{MAX_TEXT} (put a long report in the work order)")
    return None


def check(history: Sequence[Event], change: Change) -> str | None:
    """Why ``change`` may not follow ``history`` (the alarm's events so far), in Chinese
    and English, or None when it may. The ledger writer calls this after checking the
    expected sequence, so ``history`` is what the submitter saw."""
    kind = change.kind
    if kind not in KINDS:
        return _refuse(f"未知的告警操作 {kind!r}",
                       f"unknown alarm action {kind!r}; fix: use one of {', '.join(KINDS)}")
    if not change.actor.strip():
        return _refuse("操作人为空", "the change names no actor; fix: sign in")
    s = _fold(change.record_id, history)
    p = change.payload
    long = _too_long(p, "text", "verification", "reason")
    if long:
        return long
    if s.closed and kind not in (COMMENT, REOPEN):
        return _refuse(f"告警已由 {s.closed_by} 关闭，不能{_zh(kind)}",
                       f"the alarm was closed by {s.closed_by}; fix: a duty supervisor "
                       "reopens it first")
    if kind == ACK:
        if s.acknowledged:
            return _refuse(f"告警已由 {s.acknowledged_by} 确认",
                           f"already acknowledged by {s.acknowledged_by}; nothing to do")
        return None
    if kind == UNACK:
        if not s.acknowledged:
            return _refuse("告警尚未确认，无需取消", "the alarm is not acknowledged")
        if s.dispatched or s.resolved:
            return _refuse("告警已派单或已处理，不能取消确认",
                           "the alarm was dispatched or resolved; fix: reopen or comment "
                           "instead of unacknowledging")
        return None
    if kind == ASSIGN:
        assignee = _text(p, "assignee")
        if not assignee:
            return _refuse("指派对象为空", "assign to nobody; fix: name the assignee's user "
                           "name")
        if assignee == s.assignee:
            return _refuse(f"告警已指派给 {assignee}", f"already assigned to {assignee}")
        return None
    if kind == COMMENT:
        if not _text(p, "text"):
            return _refuse("备注为空", "empty comment; fix: write the note")
        return None
    if kind == REOPEN:
        if not (s.closed or s.resolved):
            return _refuse("告警未处理也未关闭，无需重新打开",
                           "the alarm is neither resolved nor closed; nothing to reopen")
        if not _text(p, "reason"):
            return _refuse("请填写重新打开的原因", "reopen needs a reason; fix: say why")
        return None
    if kind == CLOSE:
        if not s.resolved:
            return _refuse("告警尚未处理完成，不能关闭",
                           "the alarm is not resolved; fix: resolve it (with the "
                           "verification that the data are back) before closing")
        return None
    # the rest act on the alarm: someone must have acknowledged it first, so the
    # response clock and "who is on it" are never skipped
    if not s.acknowledged:
        return _refuse(f"请先确认告警，再{_zh(kind)}",
                       f"acknowledge the alarm before you {kind} it")
    if kind == NOTIFY:
        channel = _text(p, "channel")
        if channel not in CHANNELS:
            return _refuse(f"通知渠道 {channel!r} 无效",
                           f"notify channel {channel!r} is unknown; fix: one of "
                           f"{', '.join(CHANNELS)}")
        if not _text(p, "text"):
            return _refuse("通知内容为空", "empty notification text; fix: write what the "
                           "enterprise was told")
        if not (_text(p, "recipient") or _text(p, "receiver")):
            return _refuse("请填写通知对象（企业联系人或接收群）",
                           "notify names nobody; fix: give the enterprise's contact "
                           "(recipient) or the receiver it went through")
        return None
    if kind == DISPATCH:
        if s.resolved:
            return _refuse("告警已处理，不能派单", "the alarm is resolved; fix: reopen it "
                           "first if the site must act")
        if s.dispatched:
            return _refuse(f"告警已派单 {s.dispatched}（{s.dispatched_to}）",
                           f"already dispatched as work order {s.dispatched} to "
                           f"{s.dispatched_to}; fix: transfer the work order instead")
        for key in ("work_order_id", "engineer", "region"):
            if not _text(p, key):
                return _refuse(f"派单缺少 {key}", f"dispatch without {key}; fix: give it")
        return None
    if kind == RESOLVE:
        if s.resolved:
            return _refuse(f"告警已由 {s.resolved_by} 处理完成",
                           f"already resolved by {s.resolved_by}")
        if not _text(p, "verification"):
            return _refuse("请说明如何确认数据已恢复",
                           "resolve needs a verification that the data are back (e.g. "
                           "'episode cleared at 10:42' or the operator's note); fix: "
                           "give it")
        return None
    return None  # unreachable: every kind of KINDS is answered above


def _zh(kind: str) -> str:
    return KIND_LABELS.get(kind, kind).split()[0]


# --- the state --------------------------------------------------------------------------


def derive(episode: Mapping[str, Any], events: Sequence[Event], *,
           silences: Iterable[Silence] = (), at: datetime | None = None) -> AlarmState:
    """The alarm's state from its episode (a row of ``alarms``, with its station's
    ``region`` when known) and its ledger events (in any order; ``seq`` orders them).
    ``silenced`` says whether any of ``silences`` matches it at ``at`` (default: the
    episode's last_seen): pass ``silences.active(ch, now)`` and now."""
    s = _fold(str(episode.get("alarm_id", "")), events)
    detector = CLEARED if str(episode.get("state", "open")) == "cleared" else ACTIVE
    when = at or episode.get("last_seen") or episode.get("opened_at")
    hits: tuple[str, ...] = ()
    if isinstance(when, datetime):
        hits = tuple(x.silence_id for x in silences if matches(x, episode, when))
    return replace(s, severity=str(episode.get("severity", "")), detector=detector,
                    silenced=bool(hits), silenced_by=hits)


def _fold(alarm_id: str, events: Sequence[Event]) -> AlarmState:
    ordered = sorted(events, key=lambda e: e.seq)
    v: dict[str, Any] = {"acknowledged": False, "closed": False}
    notified: list[Notification] = []
    comments: list[Comment] = []
    last = 0
    for e in ordered:
        last = max(last, e.seq)
        p = e.payload
        if e.kind == ACK:
            v.update(acknowledged=True, acknowledged_by=e.actor, acknowledged_at=e.at)
            v.setdefault("first_acknowledged_at", e.at)
        elif e.kind == UNACK:
            v.update(acknowledged=False, acknowledged_by="", acknowledged_at=None)
        elif e.kind == ASSIGN:
            v.update(assignee=_text(p, "assignee"), assigned_by=e.actor, assigned_at=e.at)
        elif e.kind == COMMENT:
            comments.append(Comment(e.seq, e.actor, e.at, _text(p, "text")))
        elif e.kind == NOTIFY:
            notified.append(Notification(e.seq, e.actor, e.at, _text(p, "channel"),
                                         _text(p, "receiver"), _text(p, "recipient"),
                                         _text(p, "text")))
        elif e.kind == DISPATCH:
            v.update(dispatched=_text(p, "work_order_id"), dispatched_to=_text(p, "engineer"),
                     dispatched_region=_text(p, "region"), dispatched_by=e.actor,
                     dispatched_at=e.at)
        elif e.kind == RESOLVE:
            v.update(resolved_by=e.actor, resolved_at=e.at,
                     verification=_text(p, "verification"))
        elif e.kind == CLOSE:
            v.update(closed=True, closed_by=e.actor, closed_at=e.at)
        elif e.kind == REOPEN:
            # back to work: the resolution and closing no longer hold, nor does the
            # dispatch (a new work order may be needed); the acknowledgement stays, as
            # someone is on it
            v.update(closed=False, closed_by="", closed_at=None, resolved_by="",
                     resolved_at=None, verification="", dispatched="", dispatched_to="",
                     dispatched_region="", dispatched_by="", dispatched_at=None)
    if v["closed"]:
        phase = CLOSED
    elif v.get("resolved_at") is not None:
        phase = RESOLVED
    elif v.get("dispatched"):
        phase = DISPATCHED
    elif v["acknowledged"]:
        phase = ACKNOWLEDGED
    else:
        phase = UNACKNOWLEDGED
    return AlarmState(alarm_id=alarm_id, severity="", detector=ACTIVE, phase=phase,
                      notified=tuple(notified), comments=tuple(comments), last_seq=last,
                      events=tuple(ordered), **v)
