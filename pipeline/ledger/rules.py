"""What the ledger writer answers to a change: pure, given the record's history and the
stream's check (see pipeline/ledger/__init__.py).

Order of the questions, and why: an unknown stream first (nothing else can be judged),
then the expected sequence (a person who acted on a stale page must refresh before the
stream's rule is even asked, or they would read a refusal about a state they have not
seen), then the stream's own rule on the current history.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib.metadata import entry_points
from typing import Final

from pipeline.ledger.model import APPENDED, CONFLICT, REFUSED, Change, Check, Event, Reply

#: the entry-point group of the streams' checks: stream name -> module:function
STREAMS_GROUP: Final = "hj212.ledger_streams"

#: what a record of each stream is called in a message (Chinese, English)
RECORD_NOUNS: Final[Mapping[str, tuple[str, str]]] = {
    "alarm": ("此告警", "this alarm"),
    "work_order": ("此工单", "this work order"),
    "inspection": ("此巡检", "this inspection"),
    "subscription": ("此服务订阅", "this subscription"),
    "visit": ("此回访", "this return visit"),
    "complaint": ("此投诉", "this complaint"),
}
_DEFAULT_NOUN: Final = ("此记录", "this record")

#: the streams' verbs in Chinese, for messages; an unlisted verb is shown as it is
KIND_LABELS: Final[Mapping[str, str]] = {
    "open": "创建", "create": "创建", "ack": "确认", "unack": "取消确认",
    "assign": "指派", "unassign": "取消指派", "comment": "评论", "notify": "通知企业",
    "dispatch": "派单", "resolve": "解决", "verify": "核实", "close": "关闭",
    "reopen": "重新打开", "silence": "静默", "escalate": "升级", "edit": "编辑",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)


def last_seq(history: Sequence[Event]) -> int:
    """The record's last event number (0: no event yet). History is in seq order."""
    return history[-1].seq if history else 0


def _when(at: datetime, now: datetime | None) -> str:
    # a time of today is enough for a desk watching live alarms; older ones need the day
    if now is not None and at.date() == now.date():
        return at.strftime("%H:%M:%S")
    if now is not None and at.year == now.year:
        return at.strftime("%m-%d %H:%M:%S")
    return at.strftime("%Y-%m-%d %H:%M:%S")


def conflict_message(history: Sequence[Event], change: Change) -> str:
    """Who changed the record since the submitter looked, and when (Chinese / English)."""
    zh, en = RECORD_NOUNS.get(change.stream, _DEFAULT_NOUN)
    last = last_seq(history)
    if change.expected_seq > last:
        return (f"{zh}只有 {last} 次修改，提交时看到的却是第 {change.expected_seq} 次，"
                f"请查看最新内容后重新提交 / {en} has {last} changes, not "
                f"{change.expected_seq} as the page showed; look at it as it is now and "
                "submit again")
    newer = [e for e in history if e.seq > change.expected_seq]
    latest = newer[-1]
    when = _when(latest.at, change.submitted_at)
    more_zh = f"（此后共 {len(newer)} 次修改）" if len(newer) > 1 else ""
    more_en = f"; {len(newer)} changes since you looked" if len(newer) > 1 else ""
    return (f"{zh}已被 {latest.actor} 于 {when} 修改（{kind_label(latest.kind)}）{more_zh}，"
            f"请查看最新内容后重新提交 / changed by {latest.actor} at {when} ({latest.kind})"
            f"{more_en}, look at it as it is now and submit again")


def unknown_stream_message(stream: str) -> str:
    return (f"未知的记录类型 {stream!r}，无法写入 / unknown stream {stream!r}: no rule is "
            f"registered for it (entry-point group {STREAMS_GROUP}); fix: correct the "
            "stream name, or install the package that registers it and restart hj212 ledger")


def decide(history: Sequence[Event], change: Change, check: Check | None) -> Reply:
    """The writer's answer to ``change`` given the record's ``history`` (in seq order) and
    its stream's ``check`` (None: the stream is unknown). Appended changes get seq
    last + 1; the caller appends the event."""
    last = last_seq(history)
    if check is None:
        return Reply(change.request_id, REFUSED, last, unknown_stream_message(change.stream))
    if change.expected_seq != last:
        return Reply(change.request_id, CONFLICT, last, conflict_message(history, change))
    try:
        refusal = check(history, change)
    except Exception as exc:  # a check is pure code: a raise is a bug, answered as such
        return Reply(change.request_id, REFUSED, last,
                     f"规则检查出错，未写入 / the {change.stream!r} rule failed on this change "
                     f"({type(exc).__name__}: {exc}); fix: report it with the request id "
                     f"{change.request_id}")
    if refusal:
        return Reply(change.request_id, REFUSED, last, str(refusal))
    return Reply(change.request_id, APPENDED, last + 1)


def accept_any(history: Sequence[Event], change: Change) -> str | None:
    """A check that refuses nothing: for a stream with no rule of its own, registered
    explicitly (``hj212 ledger --extra-stream name=pipeline.ledger.rules:accept_any``)."""
    return None


# --- the streams' checks, from the installed packages' entry points ---------------------

_streams: dict[str, Check] | None = None
_load_errors: dict[str, str] = {}


def load_check(target: str) -> Check:
    """A check from ``module:function``; ValueError names what is wrong."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{target!r} is not module:function, e.g. "
                         "pipeline.duty.lifecycle:check")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {target!r}: {exc}") from None
    if not callable(obj):
        raise ValueError(f"{target!r} is not callable")
    check: Check = obj
    return check


def streams() -> dict[str, Check]:
    """Stream name -> check, from entry-point group ``hj212.ledger_streams``; loaded on
    first call and cached. A stream whose check cannot be loaded is left out (its changes
    are then refused as unknown) and its error kept for ``load_errors()``."""
    global _streams
    if _streams is None:
        found: dict[str, Check] = {}
        for ep in entry_points(group=STREAMS_GROUP):
            try:
                found[ep.name] = ep.load()
            except Exception as exc:  # a broken plug-in must not stop the other streams
                _load_errors[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
        _streams = found
    return dict(_streams)


def load_errors() -> dict[str, str]:
    """Stream name -> why its check could not be loaded (after ``streams()``)."""
    streams()
    return dict(_load_errors)
