"""Sign-in, sign-out and the signed-in user of a browser session (Streamlit glue over
``admin.accounts``; the rules are in ``session.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Final, NoReturn

import streamlit as st

from admin.accounts import ROLE_LABELS, Accounts, Role, User
from dashboards import session
from dashboards.data import CONNECT_TIMEOUT_S, RECEIVE_TIMEOUT_S
from dashboards.labels import APP_TITLE_EN, APP_TITLE_ZH, bi
from dashboards.settings_source import app_settings
from pipeline.logs import get_logger
from pipeline.store.client import ClickHouse, StoreError
from pipeline.timebase import local_from_unix

LOGIN_KEY: Final = "hj212_login"
NOTE_KEY: Final = "hj212_login_note"


@contextmanager
def accounts() -> Iterator[Accounts]:
    """Accounts over a connection of its own, with the pages' short timeouts."""
    settings = app_settings()
    with ClickHouse(settings.clickhouse.dsn, connect_timeout=CONNECT_TIMEOUT_S,
                    send_receive_timeout=RECEIVE_TIMEOUT_S) as ch:
        yield Accounts(ch, settings)


def source() -> str:
    """The browser's address, as the login throttle and the audit log key it."""
    try:
        ip = st.context.ip_address
    except Exception:  # outside a browser session (AppTest) there is none
        ip = None
    # only a real address: under AppTest the runtime hands back a stand-in object
    return f"web:{ip}" if isinstance(ip, str) and ip else "web"


def current_user() -> User | None:
    """The signed-in user, or None (never signed in, expired, disabled since)."""
    login: session.Login | None = st.session_state.get(LOGIN_KEY)
    if login is None:
        return None
    now = time.time()
    if login.expired(now, app_settings().ui.session_ttl_s):
        _end(session.EXPIRED)
        return None
    if login.needs_recheck(now):
        try:
            with accounts() as acc:
                fresh = acc.get(login.user.username)
        except StoreError:
            # the database is away: keep the session; the pages will say so
            return login.user
        if not session.still_valid(fresh):
            _end(session.ACCOUNT_GONE)
            return None
        assert fresh is not None
        login = login.rechecked(fresh, now)
        st.session_state[LOGIN_KEY] = login
    return login.user


def _end(note: str) -> None:
    st.session_state.pop(LOGIN_KEY, None)
    st.session_state[NOTE_KEY] = note


ERROR_KEY: Final = "hj212_login_error"
ATTEMPT_KEY: Final = "hj212_login_attempt"


def login_page() -> None:
    """The sign-in form (the only page before a login)."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        _login_form()


def _login_form() -> None:
    st.header(APP_TITLE_ZH)
    st.caption(APP_TITLE_EN)
    st.subheader(bi("登录", "Sign in"))
    note = st.session_state.pop(NOTE_KEY, None)
    if note:
        st.info(note)
    # a refused password must not stay in the page: each refusal draws a new, empty
    # password field (a widget under a new key), the name field stays as typed
    attempt = int(st.session_state.get(ATTEMPT_KEY, 0))
    with st.form("login", clear_on_submit=False):
        username = st.text_input(bi("用户名", "User name"), key="login_username")
        password = st.text_input(bi("密码", "Password"), type="password",
                                 key=f"login_password_{attempt}")
        submitted = st.form_submit_button(bi("登录", "Sign in"), type="primary")
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.error(error)
    ttl_h = app_settings().ui.session_ttl_s / 3600
    st.caption(bi(f"登录后 {ttl_h:g} 小时内有效；刷新浏览器需要重新登录。",
                  f"A sign-in lasts {ttl_h:g} h; reloading the browser tab asks again."))
    if not submitted:
        return
    if not username.strip() or not password:
        _refuse(session.MISSING_INPUT)
    try:
        with accounts() as acc:
            result = acc.login(username, password, source())
    except StoreError as exc:
        get_logger("dashboards").warning("ui.login_unavailable", error=str(exc))
        _refuse(session.LOGIN_UNAVAILABLE)
    if result.user is None:
        _refuse(session.login_message(result))
    st.session_state[LOGIN_KEY] = session.start(result.user, time.time())
    st.session_state.pop(f"login_password_{attempt}", None)
    st.rerun()


def _refuse(message: str) -> NoReturn:
    """Draw the form again with the message and an empty password field."""
    attempt = int(st.session_state.get(ATTEMPT_KEY, 0))
    st.session_state.pop(f"login_password_{attempt}", None)
    st.session_state[ATTEMPT_KEY] = attempt + 1
    st.session_state[ERROR_KEY] = message
    st.rerun()


def logout() -> None:
    login: session.Login | None = st.session_state.get(LOGIN_KEY)
    if login is not None:
        try:
            with accounts() as acc:
                acc.logout(login.user, source())
        except StoreError as exc:
            # signing out must work while the database is away; only the audit line is lost
            get_logger("dashboards").warning("ui.logout_not_audited", error=str(exc))
    _end(session.SIGNED_OUT)


def sidebar(user: User) -> None:
    """Who is signed in, as what, until when; and the way out."""
    login: session.Login | None = st.session_state.get(LOGIN_KEY)
    with st.sidebar:
        st.markdown(f"**{user.display_name}** · `{user.username}`")
        st.caption(" · ".join(ROLE_LABELS[r] for r in Role if r in user.roles))
        if user.regions and not user.is_admin:
            st.caption(bi("服务区域", "regions") + ": " + "、".join(sorted(user.regions)))
        if login is not None:
            until = local_from_unix(login.expires_at(app_settings().ui.session_ttl_s))
            st.caption(bi("登录有效至", "signed in until") + f" {_hm(until)} (CST)")
        if st.button(bi("退出登录", "Sign out"), key="logout"):
            logout()
            st.rerun()


def _hm(when: datetime) -> str:
    return when.strftime("%m-%d %H:%M")
