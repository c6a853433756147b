"""Login throttling as a pure function of recent failures.

The failures come from the audit log (``admin.audit``), not from a process's memory, so
every web-app process, and one restarted, sees the same count. Two counts, each over the
last ``window_s`` seconds:

- per user name: guessing one account's password. Failures before that name's last
  successful login do not count (its owner got in);
- per source address: one address trying many names. A success does not reset it.

Past a count's limit, the next attempt waits ``lockout_s`` after the latest failure, and
the wait doubles with each further failure, up to ``lockout_max_s``. An attempt refused
for the wait is not a failure (it is not checked at all), so a person who retries too
early does not lengthen their own lockout. Failures under a user name that does not exist
count as any other, so a lockout does not tell whether a name exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.config import UiSettings

#: audit actions this module reads
LOGIN_OK = "login_ok"
LOGIN_FAILED = "login_failed"

# 2**30 lockouts already exceed any lockout_max_s the settings allow
_MAX_DOUBLINGS = 30


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    window_s: float = 900.0
    user_limit: int = 5  # 0: never
    source_limit: int = 20  # 0: never
    lockout_s: float = 30.0
    lockout_max_s: float = 900.0

    @classmethod
    def from_settings(cls, ui: UiSettings) -> ThrottlePolicy:
        return cls(window_s=ui.login_fail_window_s, user_limit=ui.login_fail_limit,
                   source_limit=ui.login_fail_source_limit, lockout_s=ui.login_lockout_s,
                   lockout_max_s=ui.login_lockout_max_s)


@dataclass(frozen=True, slots=True)
class LoginEvent:
    """One login outcome as the audit log holds it."""

    at: float  # Unix seconds
    action: str  # LOGIN_OK or LOGIN_FAILED
    username: str  # the audit row's target: the name that was tried
    source: str


@dataclass(frozen=True, slots=True)
class Failures:
    """Times (Unix seconds) of the failures that count, per user name and per source."""

    by_user: tuple[float, ...]
    by_source: tuple[float, ...]


def failures_that_count(events: Iterable[LoginEvent], username: str, source: str) -> Failures:
    """The failures of ``username`` since its last success, and those from ``source``
    (none for an empty source: addresses nobody knows are not lumped together)."""
    ordered = sorted(events, key=lambda e: e.at)
    last_ok = max((e.at for e in ordered if e.action == LOGIN_OK and e.username == username),
                  default=float("-inf"))
    by_user = tuple(e.at for e in ordered if e.action == LOGIN_FAILED
                    and e.username == username and e.at > last_ok)
    by_source = tuple(e.at for e in ordered if e.action == LOGIN_FAILED
                      and source != "" and e.source == source)
    return Failures(by_user=by_user, by_source=by_source)


def lockout_s(count: int, limit: int, policy: ThrottlePolicy) -> float:
    """How long attempts wait after the latest of ``count`` failures (0: no wait)."""
    if limit <= 0 or count < limit:
        return 0.0
    doublings = min(count - limit, _MAX_DOUBLINGS)
    return float(min(policy.lockout_s * 2.0**doublings, policy.lockout_max_s))


def _wait(times: Sequence[float], limit: int, now: float, policy: ThrottlePolicy) -> float:
    recent = [t for t in times if t > now - policy.window_s]
    lock = lockout_s(len(recent), limit, policy)
    if lock == 0.0:
        return 0.0
    # a failure stamped ahead of this clock (another host's) counts as now, no later
    return max(0.0, min(max(recent), now) + lock - now)


def retry_after(failures: Failures, now: float, policy: ThrottlePolicy) -> float:
    """Seconds until the next attempt may be checked (0.0: now)."""
    return max(_wait(failures.by_user, policy.user_limit, now, policy),
               _wait(failures.by_source, policy.source_limit, now, policy))
