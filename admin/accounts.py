"""Accounts: the users table, logins and every change to a user, each one audited.

The web app and ``hj212 users`` call this module; the rules it applies live in pure
modules beside it (``roles``: roles, regions, permission checks; ``passwords``: policy and
argon2; ``throttle``: lockouts from recent failures). Here is only the I/O that joins
them: the ``users`` table (ReplacingMergeTree: each change is a new row with a larger
version; nothing is deleted, a disabled user is a row with active = 0) and the audit log.

A failed login says "bad_credentials" whether the name exists or the password is wrong,
takes as long either way, and is audited under the name that was typed (never the
password). "disabled" is said only to someone who gave that user's right password.

ClickHouse has no compare-and-set: two admins adding the same name at the same moment
would both succeed, the later row winning. Accounts change rarely and by few people, so
this is accepted; the audit log shows both.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher

from admin import audit
from admin.audit import AuditLog
from admin.passwords import check_policy, dummy_hash, hash_password, verify_password
from admin.roles import (
    ROLE_LABELS,
    AccountError,
    PermissionDenied,
    Role,
    User,
    can_see_region,
    check_scope,
    check_username,
    normalize_username,
    parse_regions,
    parse_roles,
    require,
    require_region,
)
from admin.throttle import LoginEvent, ThrottlePolicy, failures_that_count, retry_after
from pipeline.config import Settings
from pipeline.store.client import ClickHouse
from pipeline.timebase import version_ms

__all__ = ["FIRST_ADMIN", "ROLE_LABELS", "SYSTEM_ACTOR", "AccountError", "Accounts",
           "LoginResult", "PermissionDenied", "Role", "User", "can_see_region", "require",
           "require_region"]

TABLE = "users"
#: the first user's name, created when no user exists (``ensure_first_admin``)
FIRST_ADMIN = "admin"
#: the actor of changes the platform makes itself (the first admin)
SYSTEM_ACTOR = "system"

# reasons a login gives back; the web app words them for people
OK = ""
BAD_CREDENTIALS = "bad_credentials"
THROTTLED = "throttled"
DISABLED = "disabled"


@dataclass(frozen=True)
class LoginResult:
    """A login's outcome: ``user`` when it succeeded; else ``reason`` ("bad_credentials",
    "throttled" or "disabled") and how many seconds to wait before the next attempt."""

    user: User | None
    reason: str
    retry_after_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.user is not None


@dataclass(frozen=True)
class _Stored:
    """A users row: the user and what pages never see."""

    user: User
    password_hash: str
    version: int


class Accounts:
    """Users and logins over one ClickHouse connection (not thread-safe, as it is not)."""

    def __init__(self, ch: ClickHouse, settings: Settings, *,
                 clock: Callable[[], float] | None = None,
                 hasher: PasswordHasher | None = None) -> None:
        self._ch = ch
        self._clock = clock or time.time
        self._hasher = hasher
        self._policy = ThrottlePolicy.from_settings(settings.ui)
        self.audit = AuditLog(ch, clock=self._clock)

    # --- logins ----------------------------------------------------------------------

    def login(self, username: str, password: str, source: str) -> LoginResult:
        """Check a login: refuse it unchecked while its name or source is locked out,
        else verify the password; audit the outcome (login_ok or login_failed, never the
        password)."""
        name = normalize_username(username)
        now = self._clock()
        events = self.audit.login_events(name, source, since=now - self._policy.window_s)
        wait = retry_after(failures_that_count(events, name, source), now, self._policy)
        if wait > 0:
            self.audit.record(name, audit.LOGIN_THROTTLED, target=name, source=source,
                              detail={"retry_after_s": round(wait, 1)})
            return LoginResult(None, THROTTLED, wait)

        stored = self._stored(name)
        # an unknown name is verified against a stand-in hash: the same time spent
        matches = verify_password(stored.password_hash if stored else dummy_hash(),
                                  password, self._hasher)
        if stored is not None and matches and stored.user.active:
            self.audit.record(name, audit.LOGIN_OK, target=name, source=source)
            return LoginResult(stored.user, OK)

        # the audit log, read by admins only, keeps why; the person is told no more
        why = ("unknown_user" if stored is None else "wrong_password" if not matches
               else "disabled")
        self.audit.record(name, audit.LOGIN_FAILED, target=name, source=source,
                          detail={"reason": why})
        failures = failures_that_count(
            [*events, LoginEvent(now, audit.LOGIN_FAILED, name, source)], name, source)
        wait = retry_after(failures, now, self._policy)
        return LoginResult(None, DISABLED if why == "disabled" else BAD_CREDENTIALS, wait)

    def logout(self, user: User, source: str) -> None:
        self.audit.record(user.username, audit.LOGOUT, target=user.username, source=source)

    # --- reading ---------------------------------------------------------------------

    def get(self, username: str) -> User | None:
        """The user of that name (disabled ones too), or None."""
        stored = self._stored(normalize_username(username))
        return stored.user if stored else None

    def list(self) -> list[User]:
        """Every user, disabled ones too, by name."""
        return [row.user for row in self._rows()]

    # --- changes (each audited with its actor) --------------------------------------

    def add(self, actor: str, username: str, display_name: str, roles: Iterable[Role],
            regions: Iterable[str], password: str, *, source: str = "") -> User:
        """Create a user; AccountError if the name is taken (disabled users keep theirs)
        or a role or region is unknown, PasswordPolicyError if the password is weak."""
        name = check_username(username)
        role_set = parse_roles(roles)
        region_set = parse_regions(regions)
        check_scope(role_set, region_set)
        shown = display_name.strip() or name
        check_policy(password, name)
        existing = self._stored(name)
        if existing is not None:
            state = "" if existing.user.active else " (disabled)"
            raise AccountError(f"user {name!r} already exists{state}; fix: choose another "
                               "name, or `hj212 users passwd` / `enable` the existing one")
        user = User(username=name, display_name=shown, roles=role_set, regions=region_set,
                    active=True)
        self._write(user, hash_password(password, self._hasher), actor, previous=None)
        self.audit.record(actor, audit.USER_ADD, target=name, source=source, detail={
            "display_name": shown, "roles": sorted(role_set), "regions": sorted(region_set)})
        return user

    def set_password(self, actor: str, username: str, password: str, *,
                     source: str = "") -> None:
        """Give an existing user a new password (policy checked)."""
        stored = self._existing(username)
        check_policy(password, stored.user.username)
        self._write(stored.user, hash_password(password, self._hasher), actor,
                    previous=stored)
        self.audit.record(actor, audit.USER_PASSWD, target=stored.user.username,
                          source=source)

    def disable(self, actor: str, username: str, *, source: str = "") -> None:
        """Stop a user from logging in (the row stays, with active = 0). The last active
        admin cannot be disabled: nobody could manage users after that."""
        stored = self._existing(username)
        if not stored.user.active:
            return
        if stored.user.is_admin and not any(
                u.is_admin for u in self.list() if u.username != stored.user.username):
            raise AccountError(f"user {stored.user.username!r} is the last active admin "
                               "(管理员); fix: add another admin first")
        self._write(_with_active(stored.user, False), stored.password_hash, actor,
                    previous=stored)
        self.audit.record(actor, audit.USER_DISABLE, target=stored.user.username,
                          source=source)

    def enable(self, actor: str, username: str, *, source: str = "") -> None:
        """Let a disabled user log in again (with the password they had)."""
        stored = self._existing(username)
        if stored.user.active:
            return
        self._write(_with_active(stored.user, True), stored.password_hash, actor,
                    previous=stored)
        self.audit.record(actor, audit.USER_ENABLE, target=stored.user.username,
                          source=source)

    def ensure_first_admin(self, password: str | None,
                           prompt: Callable[[], str] | None) -> User | None:
        """When no user exists at all, create "admin" with ``password`` (the setting
        admin.initial_password), else with what ``prompt`` returns; None when users
        exist already. There is no default password: with neither, AccountError says how
        to give one."""
        if self._rows():
            return None
        origin = "setting"
        if not password:
            if prompt is None:
                raise AccountError(
                    "no user exists yet and no first password was given; fix: set "
                    "HJ212_ADMIN__INITIAL_PASSWORD (at least 10 characters) and start "
                    "again, or run `hj212 users add admin --role admin`")
            password, origin = prompt(), "prompt"
        return self.add(SYSTEM_ACTOR, FIRST_ADMIN, "管理员 Administrator", [Role.ADMIN], [],
                        password, source=origin)

    # --- plumbing --------------------------------------------------------------------

    def _existing(self, username: str) -> _Stored:
        name = normalize_username(username)
        stored = self._stored(name)
        if stored is None:
            raise AccountError(f"user {name!r} does not exist; fix: check the name with "
                               "`hj212 users list`")
        return stored

    def _stored(self, name: str) -> _Stored | None:
        rows = self._rows(name)
        return rows[0] if rows else None

    def _rows(self, name: str | None = None) -> builtins.list[_Stored]:
        where = "WHERE username = %(name)s" if name is not None else ""
        rows = self._ch.query_dicts(
            "SELECT username, display_name, roles, regions, password_hash, active, version "
            f"FROM users FINAL {where} ORDER BY username", {"name": name or ""})
        return [_from_row(row) for row in rows]

    def _write(self, user: User, password_hash: str, actor: str,
               previous: _Stored | None) -> None:
        # strictly above the row it replaces, even within one millisecond
        version = max(version_ms(), previous.version + 1 if previous else 0)
        self._ch.insert_columns(TABLE, {
            "username": [user.username],
            "display_name": [user.display_name],
            "roles": [sorted(role.value for role in user.roles)],
            "regions": [sorted(user.regions)],
            "password_hash": [password_hash],
            "active": [int(user.active)],
            "changed_by": [audit.clip(actor)],
            "changed_at": [int(self._clock())],
            "version": [version],
        })


def _with_active(user: User, active: bool) -> User:
    return User(username=user.username, display_name=user.display_name, roles=user.roles,
                regions=user.regions, active=active)


def _from_row(row: dict[str, Any]) -> _Stored:
    # a role this release does not know (written by a newer one) is dropped, not fatal
    known = {role.value for role in Role}
    user = User(username=row["username"], display_name=row["display_name"],
                roles=frozenset(Role(r) for r in row["roles"] if r in known),
                regions=frozenset(row["regions"]), active=bool(row["active"]))
    return _Stored(user=user, password_hash=row["password_hash"], version=int(row["version"]))
