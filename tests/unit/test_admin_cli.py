"""`hj212 users` without a server: help, password input and its checks, the table."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from admin.cli import format_table, os_user, users
from pipeline.cli import main


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_users_joins_hj212_through_the_entry_point(runner):
    result = runner.invoke(main, ["users", "--help"])
    assert result.exit_code == 0, result.output
    for sub in ("add", "passwd", "disable", "enable", "list", "audit"):
        assert sub in result.output


@pytest.mark.parametrize("sub", ["add", "passwd", "disable", "enable", "list", "audit"])
def test_every_subcommand_has_help(runner, sub):
    result = runner.invoke(users, [sub, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_add_help_lists_roles_with_labels_and_the_regions(runner):
    out = runner.invoke(users, ["add", "--help"], terminal_width=200).output
    assert "duty_operator 值守员" in out and "field_engineer 驻地工程师" in out
    assert "苏皖沪" in out


@pytest.mark.parametrize("sub", ["add", "passwd"])
def test_no_command_takes_a_password_as_an_argument(runner, sub):
    out = runner.invoke(users, [sub, "--help"]).output
    assert "--password-stdin" in out
    assert "--password " not in out and "--password=" not in out


def test_a_weak_password_from_stdin_is_refused_before_any_connection(runner):
    # the DSN points nowhere: reaching it would be a different error
    env = {"HJ212_CLICKHOUSE__DSN": "clickhouse://default:@127.0.0.1:1/nowhere"}
    result = runner.invoke(users, ["add", "bob.li", "--role", "analyst", "--password-stdin"],
                           input="short\n", env=env)
    assert result.exit_code == 1
    assert "at least 10" in result.output and "short" not in result.output
    result = runner.invoke(users, ["add", "bob.li", "--role", "analyst", "--password-stdin"],
                           input="bob.li\n", env=env)
    assert result.exit_code == 1 and "at least 10" in result.output


def test_an_empty_stdin_is_refused(runner):
    result = runner.invoke(users, ["add", "bob.li", "--role", "analyst", "--password-stdin"],
                           input="")
    assert result.exit_code == 1 and "stdin held no password" in result.output


def test_prompted_passwords_must_match(runner):
    result = runner.invoke(users, ["add", "bob.li", "--role", "analyst"],
                           input="first password 1\nsecond password 2\n"
                                 "first password 1\nfirst password 1\n",
                           env={"HJ212_CLICKHOUSE__DSN":
                                "clickhouse://default:@127.0.0.1:1/nowhere"})
    assert "do not match" in result.output.lower() or "match" in result.output.lower()
    # the matching pair got through to the server, which is not there
    assert "did not answer" in result.output
    assert "first password 1" not in result.output


def test_bad_names_roles_and_regions_are_refused(runner):
    result = runner.invoke(users, ["add", "Bob Li", "--role", "analyst", "--password-stdin"],
                           input="long enough pw\n")
    assert result.exit_code == 1 and "2 to 32 characters" in result.output
    result = runner.invoke(users, ["add", "bob.li", "--role", "boss"])
    assert result.exit_code == 2 and "duty_operator" in result.output
    result = runner.invoke(users, ["add", "bob.li", "--role", "analyst", "--region", "江苏"])
    assert result.exit_code == 2 and "苏皖沪" in result.output


def test_table_pads_chinese_by_terminal_width():
    text = format_table(["user", "roles"], [["admin", "管理员 admin"], ["bob", "分析 analyst"]])
    lines = text.splitlines()
    assert lines[0] == "user   roles"
    assert lines[2] == "admin  管理员 admin"
    assert lines[3] == "bob    分析 analyst"


def test_the_actor_is_the_os_user():
    assert os_user() and " " not in os_user()
