"""Accounts on the real ClickHouse (18.16 locally): users, logins, throttling, the audit
log, the first admin, and `hj212 users` through click's CliRunner."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from admin.accounts import FIRST_ADMIN, AccountError, Accounts, Role, User
from admin.cli import os_user
from admin.passwords import PasswordPolicyError
from pipeline.cli import main
from pipeline.config import Settings, load_settings
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator

pytestmark = pytest.mark.integration

# every password this module uses: none may reach the audit log
PASSWORDS = {
    "ops": "duty desk 0451 night",
    "ops2": "second duty pw 2024",
    "eng": "engineer pw Nanjing 8",
    "adm": "the admin's own pw 77",
    "first": "first admin from setting 1",
    "prompted": "first admin typed 2025",
    "cli": "typed at the cli 0001",
    "cli2": "piped into the cli 0002",
    "wrong": "not the right one at all",
}
# a cheap argon2 for speed; the CLI tests use the default one
FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


class Clock:
    """The wall clock plus an offset the tests move forward (lockouts pass at once)."""

    def __init__(self) -> None:
        import time

        self._time = time.time
        self.offset = 0.0

    def __call__(self) -> float:
        return self._time() + self.offset


def fresh_database(stack, name: str) -> str:
    parts = urlsplit(stack.clickhouse_dsn)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    with ClickHouse(url, database="default") as ch:
        ch.execute(f"DROP DATABASE IF EXISTS {name}")
    Migrator(url).migrate()
    return url


@pytest.fixture(scope="module")
def dsn(stack) -> str:
    return fresh_database(stack, "hj212_it_accounts")


def settings_for(dsn: str, **env: str) -> Settings:
    return load_settings(env={"HJ212_CLICKHOUSE__DSN": dsn, **env})


@pytest.fixture
def ch(dsn) -> Iterator[ClickHouse]:
    with ClickHouse(dsn) as conn:
        yield conn


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(ch, dsn, clock) -> Accounts:
    settings = settings_for(dsn, HJ212_UI__LOGIN_FAIL_LIMIT="3",
                            HJ212_UI__LOGIN_FAIL_SOURCE_LIMIT="6",
                            HJ212_UI__LOGIN_LOCKOUT_S="20")
    return Accounts(ch, settings, clock=clock, hasher=FAST)


def audit_rows(ch: ClickHouse, target: str) -> list[dict]:
    return ch.query_dicts("SELECT actor, action, target, source, detail FROM audit_log "
                          "WHERE target = %(t)s ORDER BY time_us", {"t": target})


def test_add_then_log_in_and_out(accounts, ch):
    user = accounts.add("root", "Zhang.Wei", "张伟", [Role.DUTY_OPERATOR], [],
                        PASSWORDS["ops"], source="10.1.0.1")
    assert user == User("zhang.wei", "张伟", frozenset({Role.DUTY_OPERATOR}), frozenset(),
                        True)
    assert accounts.get("ZHANG.WEI") == user
    assert user in accounts.list()

    result = accounts.login(" zhang.wei ", PASSWORDS["ops"], "10.1.0.2")
    assert (result.user, result.reason, result.retry_after_s) == (user, "", 0.0)
    accounts.logout(user, "10.1.0.2")

    rows = audit_rows(ch, "zhang.wei")
    assert [(r["actor"], r["action"], r["source"]) for r in rows] == [
        ("root", "user_add", "10.1.0.1"),
        ("zhang.wei", "login_ok", "10.1.0.2"),
        ("zhang.wei", "logout", "10.1.0.2"),
    ]
    assert '"roles": ["duty_operator"]' in rows[0]["detail"]
    recent = accounts.audit.recent(target="zhang.wei", limit=2)
    assert [r["action"] for r in recent] == ["logout", "login_ok"]
    assert str(recent[0]["time"].tzinfo) == "Asia/Shanghai"


def test_a_wrong_password_and_an_unknown_name_look_the_same(accounts, ch):
    accounts.add("root", "li.na", "李娜", [Role.ANALYST], [], PASSWORDS["ops2"])
    wrong = accounts.login("li.na", PASSWORDS["wrong"], "10.2.0.1")
    unknown = accounts.login("nobody.here", PASSWORDS["wrong"], "10.2.0.2")
    assert (wrong.user, wrong.reason) == (None, "bad_credentials")
    assert (unknown.user, unknown.reason) == (None, "bad_credentials")
    assert wrong.retry_after_s == unknown.retry_after_s == 0.0
    # the audit log, for admins, says which it was
    assert [(r["action"], r["detail"]) for r in audit_rows(ch, "nobody.here")] == [
        ("login_failed", '{"reason": "unknown_user"}')]
    assert audit_rows(ch, "li.na")[-1]["detail"] == '{"reason": "wrong_password"}'


def test_repeated_failures_lock_the_name_out_for_a_growing_while(accounts, ch, clock):
    accounts.add("root", "wang.fang", "王芳", [Role.QUALITY], [], PASSWORDS["eng"])
    results = [accounts.login("wang.fang", PASSWORDS["wrong"], f"10.3.0.{i}")
               for i in range(3)]
    assert [r.reason for r in results] == ["bad_credentials"] * 3
    assert results[0].retry_after_s == results[1].retry_after_s == 0.0
    assert 19.0 < results[2].retry_after_s <= 20.0  # the limit (3) is reached

    # locked: even the right password is not checked, and the wait is said
    locked = accounts.login("wang.fang", PASSWORDS["eng"], "10.3.0.9")
    assert (locked.user, locked.reason) == (None, "throttled")
    assert 0 < locked.retry_after_s <= 20.0
    assert audit_rows(ch, "wang.fang")[-1]["action"] == "login_throttled"

    clock.offset += 21  # the lockout has passed; one more failure doubles it
    again = accounts.login("wang.fang", PASSWORDS["wrong"], "10.3.0.9")
    assert again.reason == "bad_credentials" and 39.0 < again.retry_after_s <= 40.0
    assert accounts.login("wang.fang", PASSWORDS["eng"], "10.3.0.9").reason == "throttled"

    clock.offset += 41
    ok = accounts.login("wang.fang", PASSWORDS["eng"], "10.3.0.9")
    assert ok.user is not None and ok.reason == ""
    # the success cleared the name's count
    assert accounts.login("wang.fang", PASSWORDS["wrong"], "10.3.0.9").retry_after_s == 0.0


def test_one_source_guessing_many_names_is_locked_out(accounts):
    source = "10.4.0.1"
    for i in range(6):
        accounts.login(f"guess{i}", PASSWORDS["wrong"], source)
    result = accounts.login("guess99", PASSWORDS["wrong"], source)
    assert result.reason == "throttled" and result.retry_after_s > 0
    # from another address, the same names are still checked
    assert accounts.login("guess0", PASSWORDS["wrong"], "10.4.0.2").reason == "bad_credentials"


def test_a_disabled_user_cannot_log_in_and_keeps_their_row(accounts, ch):
    accounts.add("root", "zhao.lei", "赵磊", [Role.FIELD_ENGINEER], ["苏皖沪"],
                 PASSWORDS["eng"])
    accounts.disable("root", "zhao.lei")
    user = accounts.get("zhao.lei")
    assert user is not None and not user.active and user.regions == {"苏皖沪"}
    right = accounts.login("zhao.lei", PASSWORDS["eng"], "10.5.0.1")
    assert (right.user, right.reason) == (None, "disabled")
    # only the right password learns that the account is disabled
    assert accounts.login("zhao.lei", PASSWORDS["wrong"], "10.5.0.1").reason == \
        "bad_credentials"
    assert ch.execute("SELECT count() FROM users FINAL WHERE username = 'zhao.lei'")[0][0] == 1

    accounts.enable("root", "zhao.lei")
    assert accounts.login("zhao.lei", PASSWORDS["eng"], "10.5.0.2").reason == ""
    assert [r["action"] for r in audit_rows(ch, "zhao.lei")] == [
        "user_add", "user_disable", "login_failed", "login_failed", "user_enable",
        "login_ok"]


def test_new_password(accounts):
    accounts.add("root", "sun.li", "孙丽", [Role.DUTY_SUPERVISOR], [], PASSWORDS["ops"])
    with pytest.raises(PasswordPolicyError, match="at least 10"):
        accounts.set_password("root", "sun.li", "short")
    with pytest.raises(AccountError, match=r"'no\.such\.user' does not exist"):
        accounts.set_password("root", "no.such.user", PASSWORDS["ops2"])
    accounts.set_password("sun.li", "sun.li", PASSWORDS["ops2"])
    assert accounts.login("sun.li", PASSWORDS["ops"], "10.6.0.1").reason == "bad_credentials"
    assert accounts.login("sun.li", PASSWORDS["ops2"], "10.6.0.1").reason == ""


def test_what_add_refuses(accounts):
    accounts.add("root", "zhou.jie", "", [Role.ANALYST], [], PASSWORDS["ops"])
    assert accounts.get("zhou.jie").display_name == "zhou.jie"  # type: ignore[union-attr]
    with pytest.raises(AccountError, match="already exists"):
        accounts.add("root", "Zhou.Jie", "x", [Role.ANALYST], [], PASSWORDS["ops"])
    with pytest.raises(AccountError, match="field engineer"):
        accounts.add("root", "wu.gang", "", [Role.FIELD_ENGINEER], [], PASSWORDS["ops"])
    with pytest.raises(AccountError, match="region '江苏'"):
        accounts.add("root", "wu.gang", "", [Role.ANALYST], ["江苏"], PASSWORDS["ops"])
    with pytest.raises(PasswordPolicyError, match="user name"):
        accounts.add("root", "wu.gang.pass", "", [Role.ANALYST], [], "Wu.Gang.Pass")
    assert accounts.get("wu.gang") is None


def test_the_last_admin_cannot_be_disabled(accounts):
    accounts.add("root", "chief", "主任", [Role.ADMIN], [], PASSWORDS["adm"])
    others = [u for u in accounts.list() if u.is_admin and u.username != "chief"]
    for other in others:  # left by another test: this one needs chief to be the last
        accounts.disable("root", other.username)
    with pytest.raises(AccountError, match="last active admin"):
        accounts.disable("root", "chief")
    accounts.add("chief", "deputy", "副主任", [Role.ADMIN], [], PASSWORDS["adm"])
    accounts.disable("chief", "chief")
    assert not accounts.get("chief").active  # type: ignore[union-attr]


def test_first_admin_from_the_setting_then_never_again(stack):
    dsn = fresh_database(stack, "hj212_it_accounts_first")
    settings = settings_for(dsn, HJ212_ADMIN__INITIAL_PASSWORD=PASSWORDS["first"])
    with ClickHouse(dsn) as ch:
        accounts = Accounts(ch, settings, hasher=FAST)
        with pytest.raises(AccountError, match="HJ212_ADMIN__INITIAL_PASSWORD"):
            accounts.ensure_first_admin(None, None)  # no setting, no prompt: no default
        asked: list[int] = []

        def prompt() -> str:
            asked.append(1)
            return "unused but long enough"

        admin = accounts.ensure_first_admin(settings.admin.initial_password, prompt)
        assert admin is not None and admin.username == FIRST_ADMIN and admin.is_admin
        assert asked == []  # the setting was enough
        assert accounts.login("admin", PASSWORDS["first"], "10.7.0.1").reason == ""
        assert accounts.ensure_first_admin("another password 99", prompt) is None
        assert accounts.login("admin", "another password 99", "10.7.0.1").reason != ""
        row = audit_rows(ch, "admin")[0]
        assert (row["actor"], row["action"], row["source"]) == ("system", "user_add",
                                                                "setting")
        assert_no_password_stored(ch)


def test_first_admin_from_the_prompt(stack):
    dsn = fresh_database(stack, "hj212_it_accounts_prompt")
    with ClickHouse(dsn) as ch:
        accounts = Accounts(ch, settings_for(dsn), hasher=FAST)
        with pytest.raises(PasswordPolicyError):
            accounts.ensure_first_admin("", lambda: "short")
        assert accounts.list() == []
        admin = accounts.ensure_first_admin("", lambda: PASSWORDS["prompted"])
        assert admin is not None and admin.roles == {Role.ADMIN}
        assert accounts.login("admin", PASSWORDS["prompted"], "10.8.0.1").user == admin
        assert audit_rows(ch, "admin")[0]["source"] == "prompt"


def hj212(dsn: str, *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input,
                              env={"HJ212_CLICKHOUSE__DSN": dsn}, catch_exceptions=False)


def test_the_users_commands(dsn, ch):
    res = hj212(dsn, "users", "add", "ma.chao", "--name", "马超", "--role", "field_engineer",
                "--role", "duty_operator", "--region", "苏皖沪", "--region", "浙闽赣",
                input=f"{PASSWORDS['cli']}\n{PASSWORDS['cli']}\n")
    assert res.exit_code == 0, res.output
    assert "added ma.chao (马超): 值守员 duty operator, 驻地工程师 field engineer" in res.output
    assert PASSWORDS["cli"] not in res.output

    res = hj212(dsn, "users", "add", "he.yan", "--role", "analyst", "--password-stdin",
                input=f"{PASSWORDS['cli2']}\n")
    assert res.exit_code == 0, res.output
    res = hj212(dsn, "users", "add", "he.yan", "--role", "analyst", "--password-stdin",
                input=f"{PASSWORDS['cli2']}\n")
    assert res.exit_code == 1 and "already exists" in res.output

    res = hj212(dsn, "users", "list")
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("ma.chao"))
    assert "马超" in line and "驻地工程师 field engineer" in line
    assert "浙闽赣、苏皖沪" in line and "启用 active" in line
    assert "分析 analyst" in res.output and "全部 all" in res.output

    res = hj212(dsn, "users", "passwd", "he.yan", "--password-stdin",
                input=f"{PASSWORDS['cli']}\n")
    assert res.exit_code == 0, res.output
    res = hj212(dsn, "users", "passwd", "nobody.at.all", "--password-stdin", input="x\n")
    assert res.exit_code == 1 and "does not exist" in res.output
    res = hj212(dsn, "users", "disable", "ma.chao")
    assert res.exit_code == 0 and "disabled ma.chao" in res.output
    res = hj212(dsn, "users", "list")
    assert "停用 disabled" in next(x for x in res.output.splitlines()
                                  if x.startswith("ma.chao"))

    accounts = Accounts(ch, settings_for(dsn))
    assert accounts.login("he.yan", PASSWORDS["cli"], "10.9.0.1").reason == ""
    assert accounts.login("ma.chao", PASSWORDS["cli"], "10.9.0.1").reason == "disabled"

    changes = [(r["actor"], r["action"], r["target"], r["source"])
               for r in accounts.audit.recent(limit=1000) if r["source"] == "cli"]
    me = os_user()
    assert sorted(changes) == sorted([(me, "user_add", "ma.chao", "cli"),
                                      (me, "user_add", "he.yan", "cli"),
                                      (me, "user_passwd", "he.yan", "cli"),
                                      (me, "user_disable", "ma.chao", "cli")])
    res = hj212(dsn, "users", "audit", "--target", "he.yan")
    assert res.exit_code == 0 and "user_passwd" in res.output and "login_ok" in res.output


def assert_no_password_stored(ch: ClickHouse) -> None:
    audit = ch.execute("SELECT actor, action, target, source, detail FROM audit_log")
    users = ch.execute("SELECT username, display_name, password_hash FROM users")
    text = repr(audit) + repr(users)
    assert audit and users
    assert [name for name, pw in PASSWORDS.items() if pw in text] == []
    assert all(h.startswith("$argon2id$") for _u, _d, h in users)


def test_no_password_reached_the_audit_log_or_the_users_table(ch):
    # last in the file: after every other test here has written its rows
    assert_no_password_stored(ch)


def test_first_admin_with_a_generated_password_as_hj212_run_starts_the_ui(stack, tmp_path):
    """`hj212 ui --first-password-file F` (what `hj212 run` starts): no setting, no
    terminal; the password is generated into F (owner-only) and logs in; a second start
    neither makes another admin nor rewrites F."""
    from dashboards import cli as ui_cli

    dsn = fresh_database(stack, "hj212_it_accounts_generated")
    secret = tmp_path / "ui" / "first-admin-password"
    settings = settings_for(dsn)
    created = ui_cli.ensure_first_admin(settings, interactive=False, password_file=secret)
    assert created is not None and created.username == FIRST_ADMIN and created.is_admin
    password = secret.read_text(encoding="utf-8").strip()
    assert len(password) >= 16 and secret.stat().st_mode & 0o077 == 0
    with ClickHouse(dsn) as ch:
        accounts = Accounts(ch, settings)
        assert accounts.login(FIRST_ADMIN, password, "10.9.0.1").user == created
        assert_no_password_stored(ch)
    before = secret.stat().st_mtime_ns
    assert ui_cli.ensure_first_admin(settings, interactive=False, password_file=secret) is None
    assert secret.stat().st_mtime_ns == before
