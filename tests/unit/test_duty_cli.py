"""`hj212 alarms` without servers: every command's help, durations, option checks that
fail before any connection (the acting commands run in tests/integration/test_duty_flow.py)."""

from __future__ import annotations

from datetime import timedelta

import click
import pytest
from click.testing import CliRunner

from admin.alarms_cli import alarms, parse_span

COMMANDS = ("list", "show", "ack", "unack", "assign", "comment", "notify", "dispatch",
            "resolve", "close", "reopen", "silence", "unsilence", "silences")


def test_the_group_has_every_command():
    assert set(alarms.commands) == set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name):
    r = CliRunner().invoke(alarms, [name, "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output


@pytest.mark.parametrize("text,span", [("90m", timedelta(minutes=90)),
                                       ("2h", timedelta(hours=2)),
                                       ("1d12h", timedelta(days=1, hours=12)),
                                       ("1d2h3m", timedelta(days=1, hours=2, minutes=3))])
def test_durations(text, span):
    assert parse_span(text) == span


@pytest.mark.parametrize("text", ["", "2", "h", "2 hours", "-1h"])
def test_bad_durations(text):
    with pytest.raises(click.BadParameter, match="not a duration"):
        parse_span(text)


def test_silence_needs_exactly_one_end():
    r = CliRunner().invoke(alarms, ["silence", "--mn", "X", "--reason", "r"])
    assert r.exit_code == 2 and "exactly one of --to and --for" in r.output
    r = CliRunner().invoke(alarms, ["silence", "--mn", "X", "--reason", "r", "--for", "1h",
                                    "--to", "2026-12-02 10:00"])
    assert r.exit_code == 2 and "exactly one of --to and --for" in r.output


def test_notify_channel_is_checked_by_click():
    r = CliRunner().invoke(alarms, ["notify", "A", "--channel", "pigeon", "--text", "t"])
    assert r.exit_code == 2 and "pigeon" in r.output
