"""The web app's pure logic: the overview's figures from query rows, region scopes,
sessions and login messages, and what `hj212 ui` prints and runs."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from admin.accounts import LoginResult, Role, User
from dashboards import cli, session
from dashboards import overview_figures as fig
from dashboards.data import bucket
from dashboards.scope import region_scope, scope_params
from pipeline.timebase import CST

NOW = datetime(2026, 3, 1, 14, 37, 42)


def user(*roles: Role, regions: tuple[str, ...] = ()) -> User:
    return User("u", "U", frozenset(roles), frozenset(regions), True)


def test_the_window_counts_whole_minutes_and_whole_hours():
    win = fig.window(NOW)
    assert win.frames_end == datetime(2026, 3, 1, 14, 37)
    assert win.frames_start == datetime(2026, 3, 1, 13, 37)
    assert (win.day_start, win.hours_end, win.hours) == (
        datetime(2026, 3, 1), datetime(2026, 3, 1, 14), 14)
    assert win.status_since == NOW - timedelta(days=1)
    assert fig.window(datetime(2026, 3, 1, 0, 20)).hours == 0
    # an aware time is read on the standard's clock
    assert fig.window(NOW.replace(tzinfo=CST)).now == NOW


def test_online_is_the_offline_alarms_rule():
    def row(mn: str, silent_s: float | None, rtd: int = 30) -> dict:
        last = NOW - timedelta(seconds=silent_s) if silent_s is not None else datetime(
            1970, 1, 1, 8)
        return {"mn": mn, "enterprise": "E" + mn, "outlet": "O", "region": "苏皖沪",
                "rtd_interval": rtd, "has_frame": int(silent_s is not None),
                "last_receive": last}

    states = fig.station_states([row("a", 60), row("b", 901), row("c", 1000, rtd=600),
                                 row("d", None)], NOW)
    assert [s.online for s in states] == [True, False, True, False]
    assert states[3].last_receive is None and states[3].silent_s is None
    off = fig.offline_table(states)
    assert [r["mn"] for r in off] == ["d", "b"]  # never heard first
    assert fig.status_by_region(states)[-1] == {"region": "合计 total", "stations": 4,
                                                "online": 2, "offline": 2}


def test_frames_series_fills_every_minute():
    rows = [{"minute": datetime(2026, 3, 1, 14, 1), "accepted": 5, "rejected": 1}]
    series = fig.frames_series(rows, datetime(2026, 3, 1, 14), datetime(2026, 3, 1, 14, 3))
    assert [(r["minute"][-8:], r["status"][:2], r["frames"]) for r in series] == [
        ("14:00:00", "接受", 0), ("14:00:00", "拒绝", 0), ("14:01:00", "接受", 5),
        ("14:01:00", "拒绝", 1), ("14:02:00", "接受", 0), ("14:02:00", "拒绝", 0)]
    assert fig.frames_total(rows) == (5, 1)


def test_alarms_are_ordered_gravest_first_and_pivoted_by_region():
    rows = [{"severity": "info", "region": "", "alarms": 1, "stations": 1},
            {"severity": "critical", "region": "苏皖沪", "alarms": 2, "stations": 1},
            {"severity": "warning", "region": "苏皖沪", "alarms": 3, "stations": 2}]
    assert [r["severity"] for r in fig.alarms_long(rows)] == [
        "严重 critical", "警告 warning", "提示 info"]
    assert fig.alarms_matrix(rows) == [
        {"region": "苏皖沪", "严重 critical": 2, "警告 warning": 3, "提示 info": 0, "total": 5},
        {"region": "未登记 unregistered", "严重 critical": 0, "警告 warning": 0,
         "提示 info": 1, "total": 1}]
    assert fig.open_alarm_count(rows) == 6


def test_rates_become_percentages_lowest_first():
    rows = [{"region": r, "stations": 1, "expected": 6, "received": rec, "valid": val,
             "transmission_rate": rec / 6, "validity_rate": val / rec,
             "transmission_efficiency": val / 6} for r, rec, val in
            (("京津冀鲁", 6, 6), ("苏皖沪", 3, 3))]
    table = fig.efficiency_table(rows)
    assert [r["region"] for r in table] == ["苏皖沪", "京津冀鲁"]
    assert table[0]["transmission_efficiency"] == pytest.approx(50.0)


def test_scopes():
    assert region_scope(user(Role.ADMIN, regions=("苏皖沪",))) is None
    assert region_scope(user(Role.ANALYST)) is None
    assert region_scope(user(Role.FIELD_ENGINEER, regions=("晋豫陕", "苏皖沪"))) == (
        "晋豫陕", "苏皖沪")
    assert scope_params(None) == {"all_regions": 1, "regions": ("",)}
    assert scope_params(("苏皖沪",)) == {"all_regions": 0, "regions": ("苏皖沪",)}
    with pytest.raises(ValueError):
        scope_params(())


def test_a_login_lasts_its_ttl_and_is_rechecked_every_minute():
    login = session.start(user(Role.ANALYST), 1000.0)
    assert not login.expired(1000.0 + 3599, 3600) and login.expired(1000.0 + 3600, 3600)
    assert not login.needs_recheck(1059.0) and login.needs_recheck(1060.0)
    assert login.rechecked(user(Role.QUALITY), 1060.0).checked_at == 1060.0
    assert not session.still_valid(None)


def test_login_messages_never_tell_whether_a_user_exists():
    bad = session.login_message(LoginResult(None, "bad_credentials"))
    assert bad == session.BAD_CREDENTIALS
    assert "30" in session.login_message(LoginResult(None, "bad_credentials", 30.0))
    assert "12" in session.login_message(LoginResult(None, "throttled", 11.6))
    assert session.login_message(LoginResult(None, "disabled")) == session.DISABLED


def test_bucket_rounds_down_within_the_hour():
    assert bucket(NOW) == datetime(2026, 3, 1, 14, 37, 30)
    assert bucket(NOW.replace(second=10, microsecond=5)) == datetime(2026, 3, 1, 14, 37)


def test_hj212_ui_runs_streamlit_as_a_server_without_error_details():
    argv = cli.streamlit_argv("127.0.0.1", 8600, python="/py")
    assert argv[:5] == ["/py", "-m", "streamlit", "run", str(cli.APP)]
    options = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert options["--server.port"] == "8600" and options["--server.address"] == "127.0.0.1"
    assert options["--server.headless"] == "true"
    assert options["--client.showErrorDetails"] == "none"
    assert options["--browser.gatherUsageStats"] == "false"


def test_hj212_ui_says_where_and_how_to_log_in():
    assert cli.url_of("0.0.0.0", 8501) == "http://127.0.0.1:8501/"
    assert cli.url_of("::1", 80) == "http://[::1]:80/"
    lines = cli.banner("http://127.0.0.1:8501/", None)
    assert "http://127.0.0.1:8501/" in lines[0]
    assert "hj212 users" in lines[1]
    assert "just entered" in cli.banner("u", user(Role.ADMIN))[1]
    assert "HJ212_ADMIN__INITIAL_PASSWORD" in cli.banner("u", user(Role.ADMIN), True)[1]
    generated = cli.banner("u", user(Role.ADMIN), False, Path(".run/ui/first-admin-password"))
    assert ".run/ui/first-admin-password" in generated[1]
    # a setting wins over the file: the file is then not written
    assert "HJ212_ADMIN__INITIAL_PASSWORD" in cli.banner("u", user(Role.ADMIN), True,
                                                          Path("f"))[1]
    env = cli.child_env(Path("x.toml"), {"A": "1"})
    assert env["A"] == "1" and env["HJ212_CONFIG"].endswith("x.toml")
    assert "HJ212_CONFIG" not in cli.child_env(None, {})


def test_generated_first_passwords_are_long_readable_and_differ():
    from admin.passwords import check_policy

    seen = {cli.generate_password() for _ in range(50)}
    assert len(seen) == 50
    for password in seen:
        assert len(password) == 16 and not set(password) & set("0O1lI")
        check_policy(password, "admin")


def test_a_secret_file_is_for_its_owner_only(tmp_path):
    path = tmp_path / "ui" / "secret"
    path.parent.mkdir()
    path.write_text("old")
    path.chmod(0o644)
    cli.write_secret(path, "s3cret")
    assert path.read_text() == "s3cret\n"
    assert path.stat().st_mode & 0o777 == 0o600


def test_hj212_ui_starts_while_clickhouse_is_away(capsys):
    import socket

    from pipeline.config import load_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket closes
    settings = load_settings(env={"HJ212_CLICKHOUSE__DSN":
                                  f"clickhouse://default:@127.0.0.1:{port}/hj212"})
    assert cli.ensure_first_admin(settings, interactive=False) is None
    assert "could not check for a first user" in capsys.readouterr().err
