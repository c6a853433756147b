"""Thin adapters between the agents and ``pipeline.store``: rejected frames, alarm
episodes, and the retry loop that turns "ClickHouse is down" into back-pressure.

Why retry here and not in the store: the store's rule is "a write is all or nothing and
safe to repeat"; only the worker knows that repeating forever is right, because its Kafka
offsets stay uncommitted (and its consumption stops) until the write returns.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import hj212
import numpy as np

from pipeline.detect.model import AlarmStep
from pipeline.gateway.envelope import Envelope
from pipeline.logs import get_logger
from pipeline.store.client import ClickHouse, StoreError
from pipeline.store.frame_rows import frame_columns
from pipeline.timebase import unix_s_from_local as local_epoch

T = TypeVar("T")

log = get_logger("stream.sink")


async def retry_store(what: str, fn: Callable[[], T], *, max_backoff: float = 30.0,
                      first_backoff: float = 0.2,
                      idle: Callable[[float], Awaitable[None]] | None = None) -> T:
    """Run the blocking ``fn`` in a thread until it returns, backing off on StoreError.

    In a thread so that the event loop keeps the consumer's heartbeats going while
    ClickHouse is slow or down (a blocked loop would cost the group membership and cause
    a rebalance storm). ``idle(seconds)`` waits between attempts (the runtime pauses
    fetching there but keeps polling, so the group keeps the worker). Other errors are
    bugs and propagate."""
    delay = first_backoff
    attempt = 0
    while True:
        try:
            return await asyncio.to_thread(fn)
        except StoreError as exc:
            attempt += 1
            log.warning("store.retry", what=what, attempt=attempt, retry_in_s=round(delay, 2),
                        error=str(exc))
            await (idle(delay) if idle is not None else asyncio.sleep(delay))
            delay = min(delay * 2, max_backoff)


class RejectSink:
    """Rejected and quarantined frames from ``hj212.rejects`` into ``frames``.

    The gateway's reason wins over what a parse would say: a frame refused for a wrong
    PW parses fine, yet it must be stored as refused and give no readings."""

    def __init__(self, ch: ClickHouse, *, strict: bool = False) -> None:
        self.ch = ch
        self.strict = strict

    def write(self, envelopes: Sequence[Envelope]) -> int:
        if not envelopes:
            return 0
        raws = [e.raw for e in envelopes]
        batch = hj212.decode_batch(raws, strict=self.strict)
        received = np.array([e.receive_ns // 1_000_000_000 for e in envelopes], dtype=np.int64)
        cols = frame_columns(batch, raws, received, [e.gateway for e in envelopes],
                             [e.peer for e in envelopes], strict=self.strict)
        for i, env in enumerate(envelopes):
            kind, _, _ = env.reason.partition(":")
            cols["status"][i] = env.kind_name
            cols["error_kind"][i] = kind.strip()[:64]
            cols["error_message"][i] = env.reason
            cols["n_readings"][i] = 0
        return self.ch.insert_columns("frames", cols)


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One alarm event made into the ``alarms`` row and the ``hj212.alarms`` message."""

    row: dict[str, Any]
    message: bytes
    key: bytes


def _finite(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat(sep=" ") if dt is not None else None


def alarm_record(step: AlarmStep, now: float | None = None) -> AlarmRecord:
    """The episode row and message for one alarm step. The alarm's opening time and the
    step's number come from the detector's episode record (``AlarmStep``), which lives in
    the station's state: that is what keeps the row's id and count stable across a
    worker restart. So do when and from what the alarm was raised (``raised_at``,
    ``raised_data_time``, ``opened_cn``), the same on every step of the alarm; the
    message also says when the evidence began (``evidence_began``: the episode's
    first_seen, which late evidence may move before ``opened_at``)."""
    event = step.event
    opened_at = step.opened_at
    version = int((time.time() if now is None else now) * 1000)
    state = "cleared" if event.transition == "clear" else "open"
    cleared_at = event.last_seen if event.transition == "clear" else None
    alarm_id = f"{event.mn}/{event.code}/{event.rule}/{opened_at:%Y%m%d%H%M%S}"
    evidence = json.dumps(event.evidence, ensure_ascii=False, default=str, sort_keys=True)
    row: dict[str, Any] = {
        "alarm_id": alarm_id, "mn": event.mn, "cn": event.cn, "code": event.code,
        "rule": event.rule, "severity": event.severity, "state": state,
        "opened_at": local_epoch(opened_at), "last_seen": local_epoch(event.last_seen),
        "cleared_at": local_epoch(cleared_at) if cleared_at else None,
        "occurrences": step.number,
        "value": _finite(event.evidence.get("value")),
        "threshold": _finite(event.evidence.get("threshold", event.evidence.get("limit"))),
        "message": event.message, "evidence": evidence, "version": version,
        "raised_at": local_epoch(step.raised_at) if step.raised_at else None,
        "raised_data_time": (local_epoch(step.raised_data_time) if step.raised_data_time
                             else None),
        "opened_cn": step.opened_cn, "rule_class": step.rule_class,
    }
    payload = {
        "alarm_id": alarm_id, "mn": event.mn, "cn": event.cn, "code": event.code,
        "rule": event.rule, "transition": event.transition, "severity": event.severity,
        "state": state, "opened_at": _iso(opened_at), "last_seen": _iso(event.last_seen),
        "cleared_at": _iso(cleared_at), "occurrences": step.number,
        "message": event.message, "evidence": event.evidence, "version": version,
        "raised_at": _iso(step.raised_at), "raised_data_time": _iso(step.raised_data_time),
        "evidence_began": _iso(step.evidence_began), "opened_cn": step.opened_cn,
        "rule_class": step.rule_class,
    }
    message = json.dumps(payload, ensure_ascii=False, default=str).encode()
    return AlarmRecord(row=row, message=message, key=event.mn.encode())


class AlarmSink:
    """Alarm episode rows into ``alarms`` (ReplacingMergeTree by version)."""

    COLUMNS = ("alarm_id", "mn", "cn", "code", "rule", "severity", "state", "opened_at",
               "last_seen", "cleared_at", "occurrences", "value", "threshold", "message",
               "evidence", "version", "raised_at", "raised_data_time", "opened_cn",
               "rule_class")

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def write(self, records: Sequence[AlarmRecord]) -> int:
        if not records:
            return 0
        cols = {name: [r.row[name] for r in records] for name in self.COLUMNS}
        return self.ch.insert_columns("alarms", cols)


class MissingSink:
    """Missing-data window rows into ``missing_windows`` (ReplacingMergeTree by version)."""

    COLUMNS = ("mn", "cn", "window_start", "window_end", "state", "expected", "received",
               "requests", "last_request_qn", "last_request_at", "detected_at", "updated_at")

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def write(self, rows: Sequence[dict[str, Any]], now: float | None = None) -> int:
        if not rows:
            return 0
        version = int((time.time() if now is None else now) * 1000)
        # the rows share one version, so of a window written twice (the worker stores
        # several batches' windows together) only the last, the newest, may go in
        rows = list({(r["mn"], r["cn"], r["window_start"]): r for r in rows}.values())
        cols: dict[str, list[Any]] = {}
        for name in self.COLUMNS:
            cols[name] = [local_epoch(v) if isinstance(v, datetime) else v
                          for v in (r[name] for r in rows)]
        cols["version"] = [version] * len(rows)
        return self.ch.insert_columns("missing_windows", cols)


def command_message(request: Any) -> tuple[bytes, bytes]:
    """(key, value) of a back-fill request on ``hj212.commands`` (JSON keyed by MN)."""
    return request.mn.encode(), json.dumps(request.to_command(), ensure_ascii=False).encode()
