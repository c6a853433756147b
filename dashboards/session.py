"""A browser session's login, and what the login page says: pure, no Streamlit.

A login lasts ``ui.session_ttl_s`` from the moment the password was given, however busy
the session is since: a page left open on a duty desk still asks again. The user's
record is read again every ``RECHECK_S`` so a disabled account or a changed role takes
effect within that, not at the next login.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from admin.accounts import LoginResult, User
from dashboards.labels import bi

#: seconds between re-reads of a signed-in user's record
RECHECK_S: Final = 60.0

EXPIRED: Final = bi("登录已过期，请重新登录。", "Your session has expired; please sign in again.")
SIGNED_OUT: Final = bi("您已退出登录。", "You have signed out.")
ACCOUNT_GONE: Final = bi("您的账号已停用或已变更，请重新登录或联系管理员。",
                         "Your account was disabled or changed; sign in again or ask an "
                         "administrator.")
BAD_CREDENTIALS: Final = bi("用户名或密码错误。", "Wrong user name or password.")
DISABLED: Final = bi("该账号无法登录，请联系管理员。",
                     "This account cannot sign in; ask an administrator.")
MISSING_INPUT: Final = bi("请输入用户名和密码。", "Enter a user name and a password.")
LOGIN_UNAVAILABLE: Final = bi("数据库暂时无法访问，现在无法登录。"
                              "请稍后再试；若持续出现，请联系管理员。",
                              "The database cannot be reached right now, so nobody can sign "
                              "in. Try again in a moment; if this persists, tell an "
                              "administrator.")


@dataclass(frozen=True, slots=True)
class Login:
    user: User
    at: float  # epoch seconds of the login
    checked_at: float  # epoch seconds the user's record was last read

    def expires_at(self, ttl_s: float) -> float:
        return self.at + ttl_s

    def expired(self, now: float, ttl_s: float) -> bool:
        return now >= self.expires_at(ttl_s)

    def needs_recheck(self, now: float) -> bool:
        return now - self.checked_at >= RECHECK_S

    def rechecked(self, user: User, now: float) -> Login:
        return replace(self, user=user, checked_at=now)


def start(user: User, now: float) -> Login:
    return Login(user=user, at=now, checked_at=now)


def still_valid(user: User | None) -> bool:
    """Whether a re-read user record keeps the session: it exists and is active."""
    return user is not None and user.active


def _wait(seconds: float) -> str:
    s = max(1, round(seconds))
    return bi(f"请在 {s} 秒后再试。", f"Try again in {s} s.")


def login_message(result: LoginResult) -> str:
    """What the login page says about a refused login. The same words for an unknown
    name and a wrong password (accounts say "bad_credentials" for both), so the page
    never tells whether a user exists."""
    if result.reason == "throttled":
        return bi("登录失败次数过多。", "Too many failed sign-ins.") + " " + _wait(
            result.retry_after_s)
    if result.reason == "disabled":
        return DISABLED
    message = BAD_CREDENTIALS
    if result.retry_after_s > 0:
        message += " " + _wait(result.retry_after_s)
    return message
