"""The audit log: who did what, when, from where. Append-only, one row per event.

Every write a person makes (CLI or page) and every login outcome is recorded here
(``audit_log``, pipeline/store/schema/). Rows are never changed or deleted. The detail
is JSON text; keys that look like secrets are refused, so a password cannot reach the
log by a careless caller.

Also the source of login throttling: ``login_events`` reads back recent login outcomes
for ``admin.throttle``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from admin.throttle import LOGIN_FAILED, LOGIN_OK, LoginEvent
from pipeline.store.client import ClickHouse

TABLE = "audit_log"

# what people and the platform record (any page's write adds its own action name)
LOGOUT = "logout"
LOGIN_THROTTLED = "login_throttled"  # refused unchecked while locked out; not a failure
USER_ADD = "user_add"
USER_PASSWD = "user_passwd"
USER_DISABLE = "user_disable"
USER_ENABLE = "user_enable"
__all__ = ["LOGIN_FAILED", "LOGIN_OK", "LOGIN_THROTTLED", "LOGOUT", "TABLE", "USER_ADD",
           "USER_DISABLE", "USER_ENABLE", "USER_PASSWD", "AuditLog", "encode_detail"]

_ACTION = re.compile(r"^[a-z][a-z0-9_.]{1,63}$")
_SECRET_KEY = re.compile(r"pass|secret|token|hash|pwd|\bpw\b", re.IGNORECASE)
# a name typed at a login is recorded as typed; longer text is not a name (often a
# password typed into the wrong field), so only its start is kept
_MAX_FIELD = 64


def encode_detail(detail: Mapping[str, object] | None) -> str:
    """``detail`` as JSON text (keys sorted, Chinese kept readable); ValueError for a key
    that looks like a secret (password, token, hash ...), naming the key."""
    if not detail:
        return "{}"
    for key in detail:
        if _SECRET_KEY.search(str(key)):
            raise ValueError(f"audit detail key {key!r} looks like a secret; fix: the "
                             "audit log never holds passwords, hashes or tokens: leave it "
                             "out")
    return json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str)


class _Stamps:
    """Microsecond stamps that order one process's events: strictly increasing, so two
    events in the same microsecond (or after a small step back of the clock) keep the
    order they were recorded in. A step back of more than a second (a clock set back,
    a test's clock reset) is taken as it is, so the stamp never drifts far from the
    event's time."""

    _SLACK_US = 1_000_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next(self, now_s: float) -> int:
        us = int(now_s * 1_000_000)
        with self._lock:
            if self._last - self._SLACK_US < us <= self._last:
                us = self._last + 1
            self._last = us
        return us


_STAMPS = _Stamps()


def clip(text: str) -> str:
    """A name or address as recorded: at most 64 characters."""
    return text if len(text) <= _MAX_FIELD else text[:_MAX_FIELD] + "…"


class AuditLog:
    """Writes and reads ``audit_log`` over one connection."""

    def __init__(self, ch: ClickHouse, *, clock: Callable[[], float] = time.time) -> None:
        self._ch = ch
        self._clock = clock

    def record(self, actor: str, action: str, target: str = "", source: str = "",
               detail: Mapping[str, object] | None = None) -> None:
        """Append one event. ``actor`` is who did it (a user name, the OS user of a CLI
        call, or "system"), ``target`` what it was done to, ``source`` the address or
        "cli"."""
        if not _ACTION.match(action):
            raise ValueError(f"audit action {action!r} is not a plain name; fix: lower case "
                             "letters, digits and '_' (e.g. user_add)")
        text = encode_detail(detail)
        now = self._clock()
        self._ch.insert_columns(TABLE, {
            "time": [int(now)],
            "time_ms": [int(now * 1000)],
            "time_us": [_STAMPS.next(now)],
            "actor": [clip(actor)],
            "action": [action],
            "target": [clip(target)],
            "source": [clip(source)],
            "detail": [text],
        })

    def recent(self, *, limit: int = 100, actor: str | None = None,
               action: str | None = None, target: str | None = None,
               since: datetime | float | None = None) -> list[dict[str, Any]]:
        """The newest events first, optionally only one actor's, action's or target's,
        or those since a time (a datetime, or Unix seconds). Each row: time (China
        Standard Time), actor, action, target, source, detail (a dict)."""
        where: list[str] = ["1 = 1"]
        params: dict[str, object] = {"limit": max(1, int(limit))}
        for column, value in (("actor", actor), ("action", action), ("target", target)):
            if value is not None:
                where.append(f"{column} = %({column})s")
                params[column] = value
        if since is not None:
            seconds = since.timestamp() if isinstance(since, datetime) else float(since)
            where.append("time_ms >= %(since_ms)s")
            params["since_ms"] = int(seconds * 1000)
        rows = self._ch.query_dicts(
            "SELECT time, time_ms, actor, action, target, source, detail FROM audit_log "
            f"WHERE {' AND '.join(where)} ORDER BY time_us DESC LIMIT %(limit)s", params)
        for row in rows:
            row["detail"] = _decode(row["detail"])
        return rows

    def login_events(self, username: str, source: str, since: float) -> list[LoginEvent]:
        """Login outcomes since ``since`` (Unix seconds) for ``username`` or from
        ``source`` (the throttle's input)."""
        rows = self._ch.execute(
            "SELECT time_ms, action, target, source FROM audit_log "
            "WHERE time >= toDateTime(%(since_s)s) AND time_ms >= %(since_ms)s "
            "AND action IN (%(ok)s, %(failed)s) "
            "AND (target = %(username)s OR (source = %(source)s AND source != ''))",
            {"since_s": int(since), "since_ms": int(since * 1000), "ok": LOGIN_OK,
             "failed": LOGIN_FAILED, "username": clip(username), "source": clip(source)})
        return [LoginEvent(at=ms / 1000.0, action=action, username=target, source=src)
                for ms, action, target, src in rows]


def _decode(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}
