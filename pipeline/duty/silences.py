"""Silences and maintenance windows (静默 / 维护窗口) declared by operators: e.g. a planned
calibration of one station's analyser, or a region's network maintenance. A silence
suppresses notifications (hj212 notify calls ``active`` and ``matches``); the alarm is
still recorded and shown, marked silenced.

A silence matches an alarm when the alarm's station (mn), pollutant (code), rule and
service region each equal the silence's, an empty field of the silence matching any
value, and the time is in [starts_at, ends_at) and before it was cancelled.

What may be declared (``validate``, the rule of ``add``):
- it ends after it starts, and not in the past (a silence over already is no silence);
- it lasts at most ``MAX_SILENCE`` (30 days): longer than a month is not maintenance
  but a station that should be deactivated in the registry;
- it names at least one of mn, code, rule and region; one that names none silences the
  whole fleet and is accepted only with ``fleet_wide=True`` (the CLI's --fleet-wide,
  allowed only to supervisors: admin/duty_actions.py);
- it gives a reason (who asked for the calibration, the ticket ...).
Who may declare how long a silence is admin/duty_actions.py's rule.

Table ``silences`` (migration 013): one row per change of a silence, newest version
wins (FINAL). Cancelling writes the row again with cancelled_at; nothing is deleted.
Silences are not in the ledger: they change rarely, two cancels of one silence agree,
and the audit log records who did each.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from pipeline.timebase import now_local, to_local, unix_s_from_local, version_ms

TABLE: Final = "silences"
#: the longest silence (see the module docstring)
MAX_SILENCE: Final = timedelta(days=30)

_COLUMNS: Final = ("silence_id", "mn", "code", "rule", "region", "starts_at", "ends_at",
                   "reason", "created_by", "created_at", "cancelled_at", "cancelled_by",
                   "version")
_T = "toDateTime(%({})s, 'Asia/Shanghai')"


class SilenceError(ValueError):
    """A silence that may not be declared or cancelled; the message names the value
    and the fix."""


class _Store(Protocol):
    """What this module needs of pipeline.store.client.ClickHouse (and the chDB test
    client)."""

    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None
                    ) -> list[dict[str, Any]]: ...

    def insert_columns(self, table: str, columns: Any, *, numpy: bool = False) -> int: ...


@dataclass(frozen=True, slots=True)
class Silence:
    silence_id: str
    mn: str  # '' any station
    code: str  # '' any pollutant
    rule: str  # '' any rule
    region: str  # '' any service region
    starts_at: datetime  # naive CST
    ends_at: datetime  # naive CST, exclusive
    reason: str
    created_by: str
    created_at: datetime
    cancelled_at: datetime | None = None
    cancelled_by: str = ""
    version: int = 0

    @property
    def fleet_wide(self) -> bool:
        return not (self.mn or self.code or self.rule or self.region)

    def scope_text(self) -> str:
        """``mn=... code=...`` or ``全部 fleet-wide``, for lists and audit details."""
        parts = [f"{k}={getattr(self, k)}" for k in ("mn", "code", "rule", "region")
                 if getattr(self, k)]
        return " ".join(parts) or "全部 fleet-wide"


def matches(silence: Silence, alarm_row: Mapping[str, Any], at: datetime) -> bool:
    """Whether ``silence`` covers the alarm ``alarm_row`` (keys mn, code, rule and, when
    known, region: an alarm of an unregistered station has region '') at ``at`` (naive
    CST; an aware time is converted)."""
    when = to_local(at)
    if not silence.starts_at <= when < silence.ends_at:
        return False
    if silence.cancelled_at is not None and when >= silence.cancelled_at:
        return False
    for key in ("mn", "code", "rule", "region"):
        want = getattr(silence, key)
        if want and str(alarm_row.get(key, "") or "") != want:
            return False
    return True


def validate(silence: Silence, *, now: datetime, fleet_wide: bool = False) -> None:
    """Raise SilenceError unless ``silence`` may be declared at ``now`` (module
    docstring)."""
    if silence.ends_at <= silence.starts_at:
        raise SilenceError(f"silence ends at {silence.ends_at:%Y-%m-%d %H:%M}, not after it "
                           f"starts ({silence.starts_at:%Y-%m-%d %H:%M}); fix: an end "
                           "after the start (静默结束时间须晚于开始时间)")
    if silence.ends_at <= now:
        raise SilenceError(f"silence ends at {silence.ends_at:%Y-%m-%d %H:%M}, already past "
                           "(静默已过期); fix: an end in the future")
    length = silence.ends_at - silence.starts_at
    if length > MAX_SILENCE:
        raise SilenceError(f"silence lasts {_span(length)}, longer than {_span(MAX_SILENCE)} "
                           "(静默最长 30 天); fix: a shorter window, or deactivate the "
                           "station in the registry")
    if silence.fleet_wide and not fleet_wide:
        raise SilenceError("silence names no station, pollutant, rule or region, so it "
                           "would silence every alarm of the fleet (全网静默); fix: give "
                           "--mn, --code, --rule or --region, or say --fleet-wide")
    if not silence.reason.strip():
        raise SilenceError("silence has no reason (请填写静默原因); fix: say why, e.g. "
                           "'planned calibration of the COD analyser, ticket 123'")
    if not silence.created_by.strip():
        raise SilenceError("silence names nobody who declared it; fix: sign in")


def _span(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} h"


def new_id(at: datetime) -> str:
    """``SIL-YYYYMMDDhhmmss-<8 hex>``: sortable by creation, unique without a counter."""
    return f"SIL-{at:%Y%m%d%H%M%S}-{secrets.token_hex(4)}"


# --- I/O --------------------------------------------------------------------------------


def add(ch: _Store, *, starts_at: datetime, ends_at: datetime, reason: str,
        created_by: str, mn: str = "", code: str = "", rule: str = "", region: str = "",
        fleet_wide: bool = False, now: datetime | None = None) -> Silence:
    """Declare a silence (validated: module docstring) and write it; returns it."""
    at = now or now_local()
    silence = Silence(silence_id=new_id(at), mn=mn.strip(), code=code.strip(),
                      rule=rule.strip(), region=region.strip(),
                      starts_at=to_local(starts_at).replace(microsecond=0),
                      ends_at=to_local(ends_at).replace(microsecond=0),
                      reason=reason.strip(), created_by=created_by.strip(),
                      created_at=at.replace(microsecond=0), version=version_ms())
    validate(silence, now=at, fleet_wide=fleet_wide)
    _write(ch, silence)
    return silence


def get(ch: _Store, silence_id: str) -> Silence | None:
    rows = ch.query_dicts(f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} FINAL "
                          "WHERE silence_id = %(id)s", {"id": silence_id})
    return _from_row(rows[0]) if rows else None


def cancel(ch: _Store, silence_id: str, by: str, *, now: datetime | None = None
           ) -> Silence:
    """End the silence ``silence_id`` now (its row written again with cancelled_at and
    cancelled_by); SilenceError for an unknown, cancelled or expired one."""
    at = (now or now_local()).replace(microsecond=0)
    current = get(ch, silence_id)
    if current is None:
        raise SilenceError(f"silence {silence_id!r} does not exist; fix: see the ids with "
                           "`hj212 alarms silences`")
    if current.cancelled_at is not None:
        raise SilenceError(f"silence {silence_id} was cancelled by {current.cancelled_by} at "
                           f"{current.cancelled_at:%Y-%m-%d %H:%M}; nothing to do")
    if current.ends_at <= at:
        raise SilenceError(f"silence {silence_id} ended at {current.ends_at:%Y-%m-%d %H:%M};"
                           " nothing to do")
    done = replace(current, cancelled_at=at, cancelled_by=by,
                   version=max(version_ms(), current.version + 1))
    _write(ch, done)
    return done


def active(ch: _Store, at: datetime) -> list[Silence]:
    """The silences in force at ``at`` (naive CST), oldest first."""
    rows = ch.query_dicts(
        f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} FINAL "
        f"WHERE starts_at <= {_T.format('at')} AND ends_at > {_T.format('at')} "
        f"AND (isNull(cancelled_at) OR cancelled_at > {_T.format('at')}) "
        "ORDER BY starts_at, silence_id", {"at": _param(at)})
    return [_from_row(r) for r in rows]


def list_(ch: _Store, include_expired: bool = False, *, at: datetime | None = None,
          limit: int = 500) -> list[Silence]:
    """Silences not yet over at ``at`` (in force or planned), or with ``include_expired``
    also the ended and cancelled ones; newest start first."""
    where = "1 = 1"
    if not include_expired:
        where = (f"ends_at > {_T.format('at')} AND (isNull(cancelled_at) OR "
                 f"cancelled_at > {_T.format('at')})")
    rows = ch.query_dicts(
        f"SELECT {', '.join(_COLUMNS)} FROM {TABLE} FINAL WHERE {where} "
        "ORDER BY starts_at DESC, silence_id LIMIT %(limit)s",
        {"at": _param(at or now_local()), "limit": int(limit)})
    return [_from_row(r) for r in rows]


def _param(at: datetime) -> str:
    # as text on the standard's clock: toDateTime(text, 'Asia/Shanghai') reads it so,
    # whatever the server's and this host's zones
    return f"{to_local(at):%Y-%m-%d %H:%M:%S}"


def _write(ch: _Store, s: Silence) -> None:
    ch.insert_columns(TABLE, {
        "silence_id": [s.silence_id], "mn": [s.mn], "code": [s.code], "rule": [s.rule],
        "region": [s.region], "starts_at": [unix_s_from_local(s.starts_at)],
        "ends_at": [unix_s_from_local(s.ends_at)], "reason": [s.reason],
        "created_by": [s.created_by], "created_at": [unix_s_from_local(s.created_at)],
        "cancelled_at": [None if s.cancelled_at is None
                         else unix_s_from_local(s.cancelled_at)],
        "cancelled_by": [s.cancelled_by], "version": [s.version],
    })


def _from_row(row: Mapping[str, Any]) -> Silence:
    def t(v: Any) -> datetime:
        return to_local(v)

    return Silence(silence_id=row["silence_id"], mn=row["mn"], code=row["code"],
                   rule=row["rule"], region=row["region"], starts_at=t(row["starts_at"]),
                   ends_at=t(row["ends_at"]), reason=row["reason"],
                   created_by=row["created_by"], created_at=t(row["created_at"]),
                   cancelled_at=None if row["cancelled_at"] is None
                   else t(row["cancelled_at"]),
                   cancelled_by=row["cancelled_by"], version=int(row["version"]))
