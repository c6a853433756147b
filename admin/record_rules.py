"""What the rules of the service-record streams (admin/work_orders.py, subscriptions.py,
complaints.py, inspections.py, visits.py) share. Pure: no I/O.

- refusal text: ``refuse`` joins the Chinese and the English ("中文 / English; fix: ..."),
  and the refusals worded alike in every stream (``unknown_value``, ``not_a_date``,
  ``missing``, ``check_notify``, ``check_service_region``);
- payload values read leniently (``text``, ``iso_date``, ``whole``, ``finite``): a value
  of the wrong type reads as empty or None, so ``derive`` never fails on what ``check``
  would have refused;
- the checks every ``check`` starts with (``check_start``: a known verb, an actor, no text
  over the stream's limit);
- the first steps of every ``derive`` (``history``: the events in ``seq`` order, the
  record id, the last seq) and the ``Note`` its notes are kept as.

What differs between the streams (their states, the words naming the record, each verb's
own rule) stays in their modules.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from admin.roles import SERVICE_REGIONS
from pipeline.ledger.model import Change, Event

# --- refusal text -----------------------------------------------------------------------


def refuse(zh: str, en: str) -> str:
    """A refusal as the pages and the CLI show it: Chinese first, English beside."""
    return f"{zh} / {en}"


def first_word(labels: Mapping[str, str], kind: str) -> str:
    """The Chinese of a label "中文 english" (the verb as a refusal names it); the key
    itself when there is no label."""
    return labels.get(kind, kind).split()[0]


def unknown_value(value: str, known: Collection[str], zh: str, en: str) -> str | None:
    """Why ``value`` may not stand (it is none of ``known``, which the refusal lists), or
    None. ``zh`` and ``en`` name the field."""
    if value in known:
        return None
    return refuse(f"{zh} {value!r} 无效",
                  f"{en} {value!r} is unknown; fix: one of {', '.join(known)}")


def check_service_region(region: str) -> str | None:
    """Why ``region`` may not be a record's service region (scope: engineers see their
    regions' records only), or None."""
    if region in SERVICE_REGIONS:
        return None
    return refuse(f"服务区域 {region!r} 无效",
                  f"region {region!r} is not a service region; fix: one of "
                  f"{', '.join(SERVICE_REGIONS)}")


def not_a_date(value: Any, zh: str, en: str) -> str:
    """The refusal of ``value`` where a date (YYYY-MM-DD) is needed; ``zh`` and ``en``
    name the field."""
    return refuse(f"{zh} {value!r} 无效", f"{en} {value!r} is not a date; fix: YYYY-MM-DD")


def missing(payload: Mapping[str, Any], keys: Sequence[tuple[str, str]], kind: str
            ) -> str | None:
    """Why a ``kind`` change may not stand: the first of ``keys`` (payload key, its
    Chinese) with no text; None when each has one."""
    for key, zh in keys:
        if not text(payload, key):
            return refuse(f"请填写{zh}", f"{kind} needs the {key}; fix: give it")
    return None


def check_notify(payload: Mapping[str, Any]) -> str | None:
    """The rule of a ``notify`` change (a message ``hj212 notify`` sends): a receiver and
    a text."""
    if not text(payload, "receiver") or not text(payload, "text"):
        return refuse("通知须指定接收群和内容",
                      "notify needs a receiver and a text; fix: give both")
    return None


# --- payload values ---------------------------------------------------------------------


def text(payload: Mapping[str, Any], key: str) -> str:
    """The payload's text at ``key``, stripped; "" when absent or not a text."""
    value = payload.get(key, "")
    return value.strip() if isinstance(value, str) else ""


def iso_date(value: Any) -> date | None:
    """A date from an ISO text (the forms' DATE) or a date; None when it is neither (a
    datetime is not a date here: a due date has no time of day)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def whole(value: Any) -> int | None:
    """A whole number, or None (a bool is an int to Python, never a score or a period to
    a person)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def finite(value: Any) -> float | None:
    """A finite number (int or float, not a bool) as a float, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


# --- the start of every check -----------------------------------------------------------


def check_verb_and_actor(change: Change, kinds: Sequence[str], zh: str, en: str
                         ) -> str | None:
    """Why ``change`` may not stand whatever the record: a verb not in ``kinds``, or no
    actor. ``zh`` and ``en`` name the stream's actions ("工单", "work-order")."""
    kind = change.kind
    if kind not in kinds:
        return refuse(f"未知的{zh}操作 {kind!r}",
                      f"unknown {en} action {kind!r}; fix: use one of {', '.join(kinds)}")
    if not change.actor.strip():
        return refuse("操作人为空", "the change names no actor; fix: sign in")
    return None


def too_long(payload: Mapping[str, Any], limit: int, *, in_lists: bool = False
             ) -> str | None:
    """Why the payload may not stand: a text over ``limit`` characters (also one inside a
    list value when ``in_lists``, for a stream whose lists are free texts); or None."""
    for key, value in payload.items():
        texts = value if in_lists and isinstance(value, list | tuple) else [value]
        for one in texts:
            if isinstance(one, str) and len(one) > limit:
                return refuse(f"{key} 过长（{len(one)} 字，最多 {limit}）",
                              f"{key} is {len(one)} characters long; fix: at most {limit}")
    return None


def check_start(change: Change, kinds: Sequence[str], zh: str, en: str, limit: int, *,
                in_lists: bool = False) -> str | None:
    """``check_verb_and_actor``, then ``too_long``: the first refusal, or None."""
    return (check_verb_and_actor(change, kinds, zh, en)
            or too_long(change.payload, limit, in_lists=in_lists))


# --- the start of every derive ----------------------------------------------------------


class History(NamedTuple):
    """A record's events as ``derive`` folds them."""

    events: tuple[Event, ...]  # in seq order
    record_id: str  # the one asked for, else the first event's that names one
    last_seq: int  # 0 before the first event


def history(events: Sequence[Event], record_id: str = "") -> History:
    """The events in ``seq`` order (they may come in any order), the record's id and its
    last seq."""
    ordered = tuple(sorted(events, key=lambda e: e.seq))
    rid = record_id or next((e.record_id for e in ordered if e.record_id), "")
    return History(ordered, rid, max([0, *(e.seq for e in ordered)]))


@dataclass(frozen=True, slots=True)
class Note:
    """A text appended to a record (a note, a reason), with who and when."""

    seq: int
    actor: str
    at: datetime
    text: str
