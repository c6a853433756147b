"""Server-free checks of the stack's configuration: DSN parsing, rendered config files,
ports, cluster ids, and the errors for settings a local server cannot honour."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings
from pipeline.stack import StackError, clickhouse, kafka
from pipeline.stack.status import ServerStatus, format_console, format_json


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings(env={"HJ212_RUN_DIR": str(tmp_path), **env})


def test_dsn_target_native_and_http(tmp_path: Path) -> None:
    t = clickhouse.target(_settings(tmp_path))
    assert (t.scheme, t.host, t.port, t.user, t.password, t.database) == (
        "clickhouse", "127.0.0.1", 9000, "default", "", "hj212")
    h = clickhouse.target(_settings(tmp_path, HJ212_CLICKHOUSE__DSN="http://u:p%40ss@h:8124/db"))
    assert (h.native, h.host, h.port, h.user, h.password, h.database) == (
        False, "h", 8124, "u", "p@ss", "db")


def test_local_ports_follow_the_dsn_and_http_port(tmp_path: Path) -> None:
    s = _settings(tmp_path, HJ212_CLICKHOUSE__DSN="clickhouse://default:@127.0.0.1:19000/x",
                  HJ212_CLICKHOUSE__HTTP_PORT="18123")
    assert clickhouse.local_ports(s) == (19000, 18123)
    # an http DSN names the HTTP side; the native port falls back to 9000
    s = _settings(tmp_path, HJ212_CLICKHOUSE__DSN="http://127.0.0.1:8123/x")
    assert clickhouse.local_ports(s)[0] == 9000


def test_clickhouse_config_is_loopback_with_everything_under_run_dir(tmp_path: Path) -> None:
    s = _settings(tmp_path, HJ212_CLICKHOUSE__DSN="clickhouse://default:@127.0.0.1:19000/x",
                  HJ212_CLICKHOUSE__HTTP_PORT="18123")
    p = clickhouse.render_config(s)
    text = p.config.read_text()
    assert "<listen_host>127.0.0.1</listen_host>" in text
    assert "<tcp_port>19000</tcp_port>" in text and "<http_port>18123</http_port>" in text
    root = str(tmp_path.resolve() / "clickhouse")
    for tag in ("path", "tmp_path", "user_files_path", "format_schema_path"):
        value = text.split(f"<{tag}>")[1].split(f"</{tag}>")[0]
        assert value.startswith(root), (tag, value)
    assert "$" not in text
    assert "<ip>127.0.0.1</ip>" in p.users.read_text()


def test_kafka_config_has_both_roles_on_loopback(tmp_path: Path) -> None:
    s = _settings(tmp_path, HJ212_KAFKA__BOOTSTRAP="127.0.0.1:19092",
                  HJ212_KAFKA__CONTROLLER_PORT="19093")
    p = kafka.render_config(s)
    props = dict(line.split("=", 1) for line in p.config.read_text().splitlines()
                 if line and not line.startswith("#"))
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path.resolve() / "kafka" / "data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert str(p.server_log) in p.log4j.read_text()


def test_java_command_uses_the_heap_setting(tmp_path: Path) -> None:
    s = _settings(tmp_path, HJ212_KAFKA__HEAP="768M")
    argv = kafka.java_argv(s, "java", kafka.MAIN_CLASS, "x.properties")
    assert "-Xmx768m" in argv and argv[-2:] == [kafka.MAIN_CLASS, "x.properties"]


def test_cluster_ids_are_kraft_shaped() -> None:
    ids = {kafka.new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 22 and "=" not in i for i in ids)


def test_no_cluster_id_starts_with_a_dash() -> None:
    # kafka-storage read such an id as an option and refused to format (CI, 2026-12-05);
    # one in 64 random ids starts with one, so 5,000 without any is no luck
    assert not [i for i in (kafka.new_cluster_id() for _ in range(5000)) if i[0] == "-"]


def test_local_servers_refuse_non_loopback_addresses(tmp_path: Path) -> None:
    s = _settings(tmp_path, HJ212_CLICKHOUSE__DSN="clickhouse://default:@10.1.2.3:9000/x")
    with pytest.raises(StackError, match="HJ212_CLICKHOUSE__LOCAL=false"):
        clickhouse.start(s)
    s = _settings(tmp_path, HJ212_KAFKA__BOOTSTRAP="kafka1:9092")
    with pytest.raises(StackError, match="HJ212_KAFKA__LOCAL=false"):
        kafka.start(s)


def test_stack_settings_have_variables(tmp_path: Path) -> None:
    s = _settings(tmp_path, HJ212_KAFKA__VERSION="3.9.1", HJ212_KAFKA__STARTUP_TIMEOUT="5",
                  HJ212_CLICKHOUSE__STARTUP_TIMEOUT="7")
    assert (s.kafka.version, s.kafka.startup_timeout, s.clickhouse.startup_timeout) == (
        "3.9.1", 5.0, 7.0)
    assert s.kafka.controller_port == 9093 and s.kafka.heap == 512 * 1024**2


def test_status_formats() -> None:
    rows = [ServerStatus(name="kafka", mode="local", endpoints=["127.0.0.1:9092 (broker)"],
                         running=True, healthy=False, pid=42, version="4.3.1",
                         detail="missing topics: x")]
    text = format_console(rows)
    assert "UNHEALTHY" in text and "pid 42" in text and "missing topics: x" in text
    assert '"pid": 42' in format_json(rows)
