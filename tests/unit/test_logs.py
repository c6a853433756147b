"""Logging: JSON lines for services and CI, readable lines for people."""

from __future__ import annotations

import io
import json

import pytest

from pipeline.logs import configure_logging, get_logger, resolve_format


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_carry_event_level_and_context() -> None:
    out = io.StringIO()
    assert configure_logging("json", "info", stream=out) == "json"
    get_logger("gateway", peer="127.0.0.1:5000").info("frame accepted", mn="ABC", cn="2011")
    get_logger().debug("not shown at info")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["event"] == "frame accepted"
    assert record["level"] == "info"
    assert record["logger"] == "gateway"
    assert record["mn"] == "ABC" and record["peer"] == "127.0.0.1:5000"
    assert "timestamp" in record


def test_console_format_is_not_json() -> None:
    out = io.StringIO()
    configure_logging("console", "debug", stream=out)
    get_logger().warning("spool nearly full", ratio=0.9)
    text = out.getvalue()
    assert "spool nearly full" in text and "ratio" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_auto_picks_by_terminal_and_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert resolve_format("auto", FakeTty()) == "console"
    assert resolve_format("auto", io.StringIO()) == "json"
    monkeypatch.setenv("CI", "true")
    assert resolve_format("auto", FakeTty()) == "json"
    assert resolve_format("console", io.StringIO()) == "console"
