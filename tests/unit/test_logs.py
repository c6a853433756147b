"""Logging: JSON lines for services and CI, readable lines for people."""

from __future__ import annotations

import io
import json
import logging

import pytest

from pipeline.logs import RepeatFilter, configure_logging, get_logger, resolve_format


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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_librarys_warnings_are_json_lines_with_its_logger_name() -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    library = logging.getLogger("aiokafka.cluster")
    library.info("routine chatter, not shown")
    library.warning("Topic %s not found in cluster metadata", "hj212.frames")
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "Topic hj212.frames not found in cluster metadata"
    assert record["level"] == "warning" and record["logger"] == "aiokafka.cluster"
    assert "timestamp" in record and "repeated" not in record


def test_a_message_repeated_within_the_window_is_shown_once_then_counted() -> None:
    out = io.StringIO()
    clock = Clock()
    configure_logging("json", "info", stream=out, repeat_window_s=60, clock=clock)
    library = logging.getLogger("aiokafka.conn")
    for _ in range(600):  # a minute of a gone server, ten a second
        library.warning("Unable connect to node with id 1")
        clock.now += 0.09
    library.warning("another message")  # is not held back by the first
    clock.now += 10
    library.warning("Unable connect to node with id 1")
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["event"], r.get("repeated")) for r in records] == [
        ("Unable connect to node with id 1", None),
        ("another message", None),
        ("Unable connect to node with id 1", 599),
    ]


def test_the_filter_forgets_the_oldest_message_past_its_memory() -> None:
    clock = Clock()
    repeats = RepeatFilter(60, clock)

    def shown(text: str) -> bool:
        return repeats.filter(logging.LogRecord("lib", logging.WARNING, __file__, 1, text,
                                                None, None))

    assert shown("first")
    assert not shown("first")
    for k in range(1000):
        assert shown(f"other {k}")
    assert shown("first")  # forgotten: shown again, without a count it no longer has


def test_a_logger_got_before_logging_is_configured_follows_the_configuration() -> None:
    early = get_logger("stream.app", app_id="x")  # as a module gets it, at import
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    early.info("worker.ready")
    record = json.loads(out.getvalue().splitlines()[0])
    assert record["event"] == "worker.ready"
    assert record["logger"] == "stream.app" and record["app_id"] == "x"
    early.bind(batch=3).warning("commit.skipped")
    assert json.loads(out.getvalue().splitlines()[1])["batch"] == 3
