"""Roles, the signed-in user, and the permission checks every page and action makes.

Pure: no I/O. The web app and the CLI check roles here, on the server side; a page that
hides a button is a convenience, never the check.

Two axes:
- roles say what a user may do (``require``, ``User.has``); ``admin`` has every role;
- service regions (服务区域) say which stations a user may see (``can_see_region``);
  an empty set means every region. A field engineer (驻地工程师) works in their regions,
  so one must be given at least one (``check_scope``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from pipeline.registry.model import REGIONS


class Role(StrEnum):
    DUTY_OPERATOR = "duty_operator"
    DUTY_SUPERVISOR = "duty_supervisor"
    FIELD_ENGINEER = "field_engineer"
    QUALITY = "quality"
    ANALYST = "analyst"
    ADMIN = "admin"


#: how pages and the CLI name each role: the users' word first, English beside it
ROLE_LABELS: dict[Role, str] = {
    Role.DUTY_OPERATOR: "值守员 duty operator",
    Role.DUTY_SUPERVISOR: "值守主管 duty supervisor",
    Role.FIELD_ENGINEER: "驻地工程师 field engineer",
    Role.QUALITY: "质量管理 quality",
    Role.ANALYST: "分析 analyst",
    Role.ADMIN: "管理员 admin",
}

#: the service regions of SERVICE.md, in its order (the registry's names)
SERVICE_REGIONS: tuple[str, ...] = tuple(REGIONS)

# lower case so "Zhang" and "zhang" cannot be two accounts; no spaces or quotes, so a
# name is safe in a log line, a URL and a shell
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")


class PermissionDenied(Exception):
    """The user lacks the role (or region) an action needs; the message names it."""


class AccountError(ValueError):
    """A user name, role, region or account state is not what the action needs; the
    message names the value and the fix."""


@dataclass(frozen=True)
class User:
    """A user as pages see them: no password hash here."""

    username: str
    display_name: str
    roles: frozenset[Role]
    regions: frozenset[str]  # empty: every region
    active: bool

    @property
    def is_admin(self) -> bool:
        return self.active and Role.ADMIN in self.roles

    def has(self, *roles: Role) -> bool:
        """True when the user is active and holds any of ``roles`` (admin holds every
        role); with no roles, True for any active user."""
        if not self.active:
            return False
        if not roles or self.is_admin:
            return True
        return any(role in self.roles for role in roles)

    def sees_region(self, region: str) -> bool:
        """True when stations of the service region ``region`` are visible to the user."""
        if not self.active:
            return False
        return self.is_admin or not self.regions or region in self.regions

    @property
    def role_labels(self) -> list[str]:
        """The user's roles as labels, in the order of ``Role``."""
        return [ROLE_LABELS[role] for role in Role if role in self.roles]


def require(user: User, *roles: Role) -> None:
    """Raise PermissionDenied unless ``user`` is active and holds one of ``roles``."""
    if user.has(*roles):
        return
    if not user.active:
        raise PermissionDenied(f"user {user.username!r} is disabled; fix: ask an admin "
                               "(管理员) to enable the account")
    needed = " or ".join(ROLE_LABELS[role] for role in roles)
    raise PermissionDenied(f"user {user.username!r} lacks the role {needed}; fix: ask an "
                           "admin (管理员) to grant it with `hj212 users add` or the "
                           "users page")


def can_see_region(user: User, region: str) -> bool:
    """Whether ``user`` may see the stations of service region ``region``."""
    return user.sees_region(region)


def require_region(user: User, region: str) -> None:
    """Raise PermissionDenied unless ``user`` may see service region ``region``."""
    if not user.sees_region(region):
        mine = "、".join(sorted(user.regions)) or "none"
        raise PermissionDenied(f"user {user.username!r} may not see region {region!r} "
                               f"(their regions: {mine}); fix: ask an admin (管理员) to "
                               "extend the account's regions")


# --- checking what a person typed ------------------------------------------------------


def normalize_username(text: str) -> str:
    """A user name as stored and looked up: trimmed, lower case."""
    return text.strip().lower()


def check_username(text: str) -> str:
    """The normalized user name, or AccountError saying what a name may hold."""
    name = normalize_username(text)
    if not _USERNAME.match(name):
        raise AccountError(f"user name {text!r} is not allowed; fix: 2 to 32 characters, "
                           "a letter first, then letters, digits, '.', '_' or '-' "
                           "(e.g. zhang.wei)")
    return name


def parse_roles(values: Iterable[str | Role]) -> frozenset[Role]:
    """Roles from their names (``duty_operator`` ...); AccountError names an unknown one."""
    out: set[Role] = set()
    for value in values:
        try:
            out.add(Role(str(value).strip().lower()))
        except ValueError:
            known = ", ".join(role.value for role in Role)
            raise AccountError(f"role {value!r} does not exist; fix: use one of {known}"
                               ) from None
    return frozenset(out)


def parse_regions(values: Iterable[str]) -> frozenset[str]:
    """Service regions by their names (辽吉黑蒙 ...); AccountError names an unknown one."""
    out: set[str] = set()
    for value in values:
        name = value.strip()
        if name not in REGIONS:
            raise AccountError(f"service region {value!r} does not exist; fix: use one of "
                               f"{', '.join(SERVICE_REGIONS)}")
        out.add(name)
    return frozenset(out)


def check_scope(roles: frozenset[Role], regions: frozenset[str]) -> None:
    """A user needs a role, and a field engineer (not also an admin) needs a region."""
    if not roles:
        raise AccountError("a user needs at least one role; fix: give one of "
                           f"{', '.join(role.value for role in Role)}")
    if Role.FIELD_ENGINEER in roles and Role.ADMIN not in roles and not regions:
        raise AccountError("a field engineer (驻地工程师) works in service regions; fix: "
                           f"give at least one region of {', '.join(SERVICE_REGIONS)}")
