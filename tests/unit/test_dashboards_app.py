"""The web app's pages under Streamlit's AppTest (no browser, no server): the login
form, roles, session expiry, sign-out, the overview on current ClickHouse (chDB, the seed
of tests/store_seed.py) and what a page does when ClickHouse is down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from admin.accounts import LoginResult, Role, User
from dashboards import auth, data, navigation, session
from dashboards.navigation import PageSpec
from pipeline.store.client import StoreError
from tests import store_seed as s
from tests.unit.chdb_client import ChdbClickHouse, migrate

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PASSWORD = "right-password-123"


def user(name: str, *roles: Role, regions: tuple[str, ...] = (), active: bool = True) -> User:
    return User(username=name, display_name=f"{name} 显示名", roles=frozenset(roles),
                regions=frozenset(regions), active=active)


USERS = {
    "admin": user("admin", Role.ADMIN),
    "analyst": user("analyst", Role.ANALYST),
    "engineer": user("engineer", Role.FIELD_ENGINEER, regions=(s.JS,)),
    "gone": user("gone", Role.ANALYST, active=False),
}


class FakeAccounts:
    """admin.accounts.Accounts as the pages use it, over a dict."""

    users: ClassVar[dict[str, User]] = dict(USERS)
    logins: ClassVar[list[tuple[str, str]]] = []
    logouts: ClassVar[list[str]] = []
    down: ClassVar[bool] = False

    def login(self, username: str, password: str, source: str) -> LoginResult:
        if self.down:
            raise StoreError("ClickHouse at clickhouse://default@127.0.0.1:9000/x did not "
                             "answer")
        self.logins.append((username, source))
        found = self.users.get(username)
        if username == "slow":
            return LoginResult(None, "throttled", 42.0)
        if found is None or password != PASSWORD:
            return LoginResult(None, "bad_credentials")
        if not found.active:
            return LoginResult(None, "disabled")
        return LoginResult(found, "")

    def logout(self, user: User, source: str) -> None:
        self.logouts.append(user.username)

    def get(self, username: str) -> User | None:
        return self.users.get(username)


class KeepOpen:
    """The chDB session, which run_named must not close after each query."""

    def __init__(self, ch: ChdbClickHouse) -> None:
        self.ch = ch

    def query_dicts(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        return self.ch.query_dicts(sql, params)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse() as conn:
        migrate(conn)
        s.seed(conn)
        yield conn


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch, chdb: ChdbClickHouse) -> type[FakeAccounts]:
    FakeAccounts.users = dict(USERS)
    FakeAccounts.logins, FakeAccounts.logouts, FakeAccounts.down = [], [], False

    @contextmanager
    def accounts() -> Iterator[FakeAccounts]:
        yield FakeAccounts()

    monkeypatch.setattr(auth, "accounts", accounts)
    monkeypatch.setattr(data, "connect", lambda dsn: KeepOpen(chdb))
    st.cache_data.clear()
    data.reset_breaker()
    return FakeAccounts


def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    return at


def sign_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    at.text_input(key="login_username").input(username)
    # each refused attempt draws a fresh password field (dashboards/auth.py)
    try:
        attempt = at.session_state["hj212_login_attempt"]
    except KeyError:  # AppTest's session state has no .get()
        attempt = 0
    at.text_input(key=f"login_password_{attempt}").input(password)
    at.button[0].click()
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.title, *at.subheader, *at.markdown, *at.caption,
                               *at.error, *at.warning, *at.info, *at.success)]
    return "\n".join(str(p) for p in parts)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_before_a_sign_in_only_the_login_form_is_drawn(fake):
    at = app()
    assert "登录 Sign in" in texts(at)
    assert not at.metric and "总览 Overview" not in texts(at)


@pytest.mark.parametrize(("username", "password", "message"), [
    ("admin", "wrong", session.BAD_CREDENTIALS),
    ("nobody", PASSWORD, session.BAD_CREDENTIALS),  # the same words: no user is revealed
    ("gone", PASSWORD, session.DISABLED),
    ("", PASSWORD, session.MISSING_INPUT),
])
def test_a_refused_login_says_why_without_saying_who_exists(fake, username, password,
                                                            message):
    at = sign_in(app(), username, password)
    assert [e.value for e in at.error] == [message]
    assert not at.metric
    # the next attempt gets an empty password field
    assert at.text_input(key="login_password_1").value == ""


def test_a_throttled_login_says_when_to_try_again(fake):
    at = sign_in(app(), "slow", "anything")
    assert "42" in at.error[0].value and "登录失败次数过多" in at.error[0].value


def test_clickhouse_down_at_login_is_a_message_not_a_trace(fake):
    fake.down = True
    at = sign_in(app(), "admin")
    assert [e.value for e in at.error] == [session.LOGIN_UNAVAILABLE]


def test_admin_signs_in_and_sees_the_overview_of_every_region(fake):
    at = sign_in(app(), "admin")
    shown = texts(at)
    assert "总览 Overview" in shown
    assert "全部服务区域 all service regions" in shown
    # the seed's active stations (E was deactivated), none heard in the last day
    assert metrics(at) == {"站点 Stations": "5", "在线 Online": "0", "离线 Offline": "5"}
    # every open alarm of the seed, the unregistered station's too
    assert f"未关闭告警 Open alarms · {len(s._open_alarms(None))}" in shown
    for name in ("overview_station_status", "overview_frames_per_minute",
                 "overview_open_alarms", "overview_latest_open_alarms"):
        assert name in shown
    assert fake.logins == [("admin", "web")]
    sidebar = "\n".join(str(m.value) for m in (*at.sidebar.markdown, *at.sidebar.caption))
    assert "admin 显示名" in sidebar and "管理员 admin" in sidebar


def test_a_field_engineer_sees_only_their_regions_stations(fake):
    at = sign_in(app(), "engineer")
    shown = texts(at)
    assert "服务区域 service regions: 苏皖沪" in shown
    in_scope = [st_ for st_ in s.final_stations().values() if st_.active and st_.region == s.JS]
    assert metrics(at)["站点 Stations"] == str(len(in_scope))
    assert f"未关闭告警 Open alarms · {len(s._open_alarms((s.JS,)))}" in shown
    tables = [str(t.value) for t in at.table]
    for other in (s.C, s.D, s.E, s.U):
        assert all(other not in t for t in tables)


def test_the_session_expires_and_says_so(fake):
    at = sign_in(app(), "analyst")
    login = at.session_state[auth.LOGIN_KEY]
    at.session_state[auth.LOGIN_KEY] = session.Login(login.user, login.at - 9 * 3600,
                                                     login.checked_at)
    at.run()
    assert session.EXPIRED in [i.value for i in at.info]
    assert not at.metric


def test_a_disabled_account_is_signed_out_at_the_next_check(fake):
    at = sign_in(app(), "analyst")
    fake.users["analyst"] = user("analyst", Role.ANALYST, active=False)
    login = at.session_state[auth.LOGIN_KEY]
    at.session_state[auth.LOGIN_KEY] = session.Login(login.user, login.at,
                                                     login.checked_at - 120)
    at.run()
    assert session.ACCOUNT_GONE in [i.value for i in at.info]


def test_sign_out(fake):
    at = sign_in(app(), "analyst")
    at.sidebar.button[0].click()
    at.run()
    assert fake.logouts == ["analyst"]
    assert session.SIGNED_OUT in [i.value for i in at.info]
    assert not at.metric


def test_clickhouse_down_gives_each_figure_a_message_not_a_trace(fake, monkeypatch):
    at = sign_in(app(), "admin")

    def refuse(dsn: str) -> Any:
        raise StoreError("ClickHouse at clickhouse://default@127.0.0.1:9000/x did not answer")

    monkeypatch.setattr(data, "connect", refuse)
    st.cache_data.clear()
    at.run()
    assert not at.exception
    assert data.UNAVAILABLE in [e.value for e in at.error]
    # the admin is also told what failed; nobody sees a traceback
    assert any("did not answer" in c.value for c in at.caption)


def test_every_page_checks_the_role_itself(fake, monkeypatch):
    """A page whose roles the user lacks stops at guard(), before reading anything."""
    spec = PageSpec("quality_only", "views/overview.py", "质量 Quality", ":material/lock:",
                    navigation.ANALYSIS, roles=(Role.QUALITY,))
    monkeypatch.setitem(navigation.BY_KEY, "overview", spec)
    at = sign_in(app(), "analyst")
    assert [e.value for e in at.error] == [navigation.NO_ACCESS]
    assert not at.metric
