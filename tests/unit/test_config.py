"""Settings: defaults, TOML file, environment, precedence and the errors people see."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import SETTINGS, ConfigError, Settings, load_settings, settings_rows


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hj212.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_cover_what_later_issues_need() -> None:
    s = load_settings(env={})
    assert s.kafka.bootstrap == "127.0.0.1:9092"
    assert s.clickhouse.dsn.startswith("clickhouse://")
    assert s.topic_partitions() == {
        "hj212.frames": 6, "hj212.rejects": 2, "hj212.commands": 2, "hj212.alarms": 2,
        "hj212.ledger": 2,
    }
    assert s.gateway.port == 9212 and s.gateway.host == "127.0.0.1"
    assert s.gateway.max_connections > s.gateway.max_per_ip > 0
    assert s.gateway.idle_timeout > 0 and s.gateway.frames_per_s_per_mn > 0
    assert s.run_dir == Path(".run")
    assert s.spool_dir == Path(".run/spool")
    assert s.spool.max_bytes == 1024**3
    assert s.log_format == "auto"
    assert s.strict is False
    assert s.config_file is None
    assert set(s.sources.values()) == {"default"}


def test_settings_are_frozen() -> None:
    s = load_settings(env={})
    with pytest.raises(AttributeError):
        s.strict = True  # type: ignore[misc]


def test_env_names_follow_the_documented_rule() -> None:
    envs = {info.env for info in SETTINGS.values()}
    assert "HJ212_KAFKA__BOOTSTRAP" in envs
    assert "HJ212_GATEWAY__MAX_PER_IP" in envs
    assert "HJ212_TOPICS__FRAMES" in envs
    assert "HJ212_PARTITIONS__FRAMES" in envs
    assert "HJ212_LOG_FORMAT" in envs
    assert "HJ212_SPOOL__DIR" in envs


def test_env_values_are_converted() -> None:
    s = load_settings(env={
        "HJ212_KAFKA__BOOTSTRAP": "k1:9092,k2:9093",
        "HJ212_GATEWAY__PORT": "7001",
        "HJ212_GATEWAY__IDLE_TIMEOUT": "2.5",
        "HJ212_STRICT": "yes",
        "HJ212_SPOOL__MAX_BYTES": "512M",
        "HJ212_SPOOL__DIR": "/var/spool/hj212",
        "HJ212_LOG_FORMAT": "JSON",
        "HJ212_TOPICS__ALARMS": "duty.alarms",
        "HJ212_PARTITIONS__FRAMES": "24",
        "HJ212_GATEWAY__UNKNOWN_MN": "quarantine",
    })
    assert s.kafka.bootstrap == "k1:9092,k2:9093"
    assert s.gateway.port == 7001
    assert s.gateway.idle_timeout == 2.5
    assert s.strict is True
    assert s.spool.max_bytes == 512 * 1024**2
    assert s.spool_dir == Path("/var/spool/hj212")
    assert s.log_format == "json"
    assert s.topic_partitions()["duty.alarms"] == 2
    assert s.topic_partitions()["hj212.frames"] == 24
    assert s.gateway.unknown_mn == "quarantine"
    assert s.sources["gateway.port"] == "env"
    assert s.sources["gateway.host"] == "default"


def test_toml_file_then_env_then_options(tmp_path: Path) -> None:
    path = write(tmp_path, """
log_format = "console"
strict = true
run_dir = "/srv/hj212"

[gateway]
port = 7000
max_per_ip = 20

[clickhouse]
dsn = "http://ch.example:8123/telemetry"
local = false
""")
    only_file = load_settings(path, env={})
    assert only_file.config_file == path
    assert only_file.gateway.port == 7000
    assert only_file.gateway.max_per_ip == 20
    assert only_file.clickhouse.local is False
    assert only_file.clickhouse.dsn == "http://ch.example:8123/telemetry"
    assert only_file.run_dir == Path("/srv/hj212")
    assert only_file.spool_dir == Path("/srv/hj212/spool")
    assert only_file.sources["gateway.port"] == "file"

    # env overrides the file; options override env
    both = load_settings(path, env={"HJ212_GATEWAY__PORT": "7100", "HJ212_LOG_FORMAT": "json"},
                         overrides={"log_format": "console"})
    assert both.gateway.port == 7100
    assert both.gateway.max_per_ip == 20
    assert both.log_format == "console"
    assert both.sources["log_format"] == "option"
    assert both.strict is True


def test_config_path_from_env(tmp_path: Path) -> None:
    path = write(tmp_path, "[kafka]\nbootstrap = \"broker:9092\"\n")
    s = load_settings(env={"HJ212_CONFIG": str(path)})
    assert s.kafka.bootstrap == "broker:9092"
    # --config wins over HJ212_CONFIG
    (tmp_path / "other").mkdir()
    other = write(tmp_path / "other", "[kafka]\nbootstrap = \"other:9092\"\n")
    assert load_settings(other, env={"HJ212_CONFIG": str(path)}).kafka.bootstrap == "other:9092"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HJ212_GATEWAY__PORT": "abc"}, ["HJ212_GATEWAY__PORT", "'abc'", "whole number"]),
        ({"HJ212_GATEWAY__PORT": "70000"}, ["HJ212_GATEWAY__PORT", "'70000'", "between 1 and"]),
        ({"HJ212_STRICT": "maybe"}, ["HJ212_STRICT", "'maybe'", "true/false"]),
        ({"HJ212_LOG_FORMAT": "xml"}, ["HJ212_LOG_FORMAT", "'xml'", "json", "console"]),
        ({"HJ212_SPOOL__MAX_BYTES": "lots"}, ["HJ212_SPOOL__MAX_BYTES", "'lots'", "512M"]),
        ({"HJ212_KAFKA__BOOTSTRAP": "nohost"}, ["HJ212_KAFKA__BOOTSTRAP", "host:port"]),
        ({"HJ212_CLICKHOUSE__DSN": "mysql://x"}, ["HJ212_CLICKHOUSE__DSN", "clickhouse://"]),
        ({"HJ212_TOPICS__FRAMES": "bad topic!"}, ["HJ212_TOPICS__FRAMES", "topic name"]),
        ({"HJ212_PARTITIONS__FRAMES": "0"}, ["HJ212_PARTITIONS__FRAMES", "between 1 and 10000"]),
        ({"HJ212_GATEWAY__PROT": "1"}, ["HJ212_GATEWAY__PROT", "not a setting",
                                        "did you mean HJ212_GATEWAY__PORT"]),
    ],
)
def test_bad_env_values_name_variable_value_and_fix(env: dict[str, str],
                                                    expected: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    message = str(info.value)
    for part in expected:
        assert part in message, message
    assert "fix:" in message


def test_bad_toml_value_names_key_and_env(tmp_path: Path) -> None:
    path = write(tmp_path, "[gateway]\nport = \"http\"\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env={})
    message = str(info.value)
    assert "[gateway] port" in message and "HJ212_GATEWAY__PORT" in message
    assert "'http'" in message and "fix:" in message


def test_toml_typos_are_errors_not_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'max_per_ipp'.*did you mean max_per_ip"):
        load_settings(write(tmp_path, "[gateway]\nmax_per_ipp = 3\n"), env={})
    with pytest.raises(ConfigError, match=r"unknown section \[gatway\].*did you mean gateway"):
        load_settings(write(tmp_path, "[gatway]\nport = 3\n"), env={})
    with pytest.raises(ConfigError, match=r"unknown top-level key 'stritc'"):
        load_settings(write(tmp_path, "stritc = true\n"), env={})


def test_missing_and_broken_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not found.*HJ212_CONFIG"):
        load_settings(env={"HJ212_CONFIG": str(tmp_path / "nope.toml")})
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[gateway\nport = 1\n"), env={})


def test_bool_in_toml_must_be_bool_like(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "strict = true\n"), env={}).strict is True
    with pytest.raises(ConfigError, match="not a boolean"):
        load_settings(write(tmp_path, "strict = 3\n"), env={})


def test_settings_rows_show_every_setting() -> None:
    s = load_settings(env={"HJ212_GATEWAY__PORT": "7001"})
    rows = settings_rows(s)
    assert len(rows) == len(SETTINGS)
    assert ("HJ212_GATEWAY__PORT", "[gateway] port", "7001", "env") in rows


def test_default_settings_object_equals_loaded_defaults() -> None:
    assert load_settings(env={}) == Settings()


def test_settings_rows_never_show_the_dsn_password() -> None:
    from pipeline.config import SECRET_SHOWN, load_settings, redact_dsn, settings_rows

    dsn = "clickhouse://bob:s3cr%40t@db.example:9000/hj212"
    rows = settings_rows(load_settings(env={"HJ212_CLICKHOUSE__DSN": dsn}))
    shown = next(value for env, _, value, _ in rows if env == "HJ212_CLICKHOUSE__DSN")
    assert "s3cr" not in shown
    assert shown == f"clickhouse://bob:{SECRET_SHOWN}@db.example:9000/hj212"
    assert redact_dsn("clickhouse://default:@127.0.0.1:9000/hj212") == \
        "clickhouse://default:@127.0.0.1:9000/hj212"
