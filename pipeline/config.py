"""The platform's one settings object, read from defaults, a TOML file and the environment.

Precedence, lowest first: the defaults below, the TOML file, environment variables, and
finally command-line options (``--log-format`` ...) passed in as ``overrides``.

The TOML file is optional. Its path comes from ``--config`` or, failing that, from the
environment variable ``HJ212_CONFIG``. Nothing is read from the working directory by
surprise.

Names
-----
Every setting has one TOML key and one environment variable, derived mechanically:

==============================  =====================================
TOML                            environment variable
==============================  =====================================
``log_format = "json"``         ``HJ212_LOG_FORMAT=json``
``[kafka] bootstrap = "h:9092"`` ``HJ212_KAFKA__BOOTSTRAP=h:9092``
``[gateway] max_per_ip = 50``   ``HJ212_GATEWAY__MAX_PER_IP=50``
``[topics] frames = "x"``       ``HJ212_TOPICS__FRAMES=x``
==============================  =====================================

That is ``HJ212_`` + ``SECTION`` + ``__`` (two underscores) + ``FIELD``, upper case, and
``HJ212_`` + ``FIELD`` for the top-level fields. The separator is doubled because field
names contain single underscores. ``HJ212_CONFIG`` is the only other ``HJ212_`` variable;
any unknown ``HJ212_*`` variable or TOML key is an error (with a did-you-mean), because a
misspelt setting that is silently ignored costs hours on a live gateway.

Value forms in the environment: booleans ``1/0``, ``true/false``, ``yes/no``, ``on/off``;
sizes in bytes, optionally with ``K``/``M``/``G`` (powers of 1024, e.g. ``512M``);
durations in seconds (decimals allowed). Relative paths are relative to the working
directory of the process.

Run ``hj212 settings`` to see every setting, its variable, value and source.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

ENV_PREFIX = "HJ212_"
ENV_CONFIG = "HJ212_CONFIG"
SEP = "__"

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]
UnknownMnPolicy = Literal["reject", "quarantine"]
GatewayIo = Literal["asyncio", "rust"]


class ConfigError(ValueError):
    """A setting has a value the platform cannot use; the message says which, and the fix."""


def _opt(default: Any, help: str, **checks: Any) -> Any:
    """A dataclass field carrying its help text and value checks (min, max, kind).

    ``secret=True`` marks a value that is never shown: not in ``hj212 settings``, not in
    an error message, not in the settings object's repr (which logs may print)."""
    return field(default=default, repr=not checks.get("secret", False),
                 metadata={"help": help, **checks})


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap: str = _opt(
        "127.0.0.1:9092", "Kafka bootstrap servers, comma separated host:port", kind="hostports"
    )
    local: bool = _opt(
        True, "start a single-node broker under run_dir (false: use the servers in bootstrap)"
    )
    replication: int = _opt(1, "replication factor for the topics the platform creates", min=1)
    client_id: str = _opt("hj212", "Kafka client id prefix")
    # the local broker takes its client port from the first entry of bootstrap
    controller_port: int = _opt(
        9093, "KRaft controller port of the local broker (loopback)", min=1, max=65535
    )
    heap: int = _opt(
        512 * 1024**2, "Java heap of the local broker in bytes (suffix K/M/G allowed)",
        min=64 * 1024**2, kind="bytes",
    )
    version: str = _opt(
        "4.3.1", "Apache Kafka release the local broker runs (org.apache.kafka:kafka_2.13)"
    )
    startup_timeout: float = _opt(
        90.0, "seconds the local broker may take to answer metadata requests", min=1
    )

    @property
    def servers(self) -> str:
        """``bootstrap`` as Kafka clients take it (no spaces around the commas)."""
        return ",".join(p.strip() for p in self.bootstrap.split(","))


@dataclass(frozen=True, slots=True)
class TopicSettings:
    frames: str = _opt("hj212.frames", "accepted frames from the gateway, keyed by MN",
                       kind="topic")
    rejects: str = _opt("hj212.rejects", "rejected frames with raw bytes and reason", kind="topic")
    commands: str = _opt("hj212.commands", "downlink requests to loggers", kind="topic")
    alarms: str = _opt("hj212.alarms", "alarm episodes for the duty centre", kind="topic")
    ledger: str = _opt("hj212.ledger", "people's changes to event-sourced records (alarm "
                       "lifecycle, service records), keyed by record, for the ledger writer",
                       kind="topic")


@dataclass(frozen=True, slots=True)
class PartitionSettings:
    # frames is keyed by MN, so its partition count caps the number of stream workers
    frames: int = _opt(6, "partitions of the frames topic", min=1, max=10_000)
    rejects: int = _opt(2, "partitions of the rejects topic", min=1, max=10_000)
    commands: int = _opt(2, "partitions of the commands topic", min=1, max=10_000)
    alarms: int = _opt(2, "partitions of the alarms topic", min=1, max=10_000)
    ledger: int = _opt(2, "partitions of the ledger topic", min=1, max=10_000)


@dataclass(frozen=True, slots=True)
class ClickHouseSettings:
    dsn: str = _opt(
        "clickhouse://default:@127.0.0.1:9000/hj212",
        "ClickHouse DSN: clickhouse://user:password@host:port/database (native protocol) "
        "or http(s)://...",
        kind="dsn",
    )
    local: bool = _opt(True, "start a ClickHouse server under run_dir (false: use the DSN's)")
    http_port: int = _opt(8123, "HTTP port of the local ClickHouse server", min=1, max=65535)
    # the local server's native port is the DSN's port (9000 when the DSN is http)
    startup_timeout: float = _opt(
        60.0, "seconds the local ClickHouse server may take to answer queries", min=1
    )
    merge_nice: int = _opt(
        10, "nice level of the local server's background merge threads (0: as the "
        "server's own)", min=0, max=19
    )


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    # loopback by default: opening the listener to the network is a deliberate act
    host: str = _opt("127.0.0.1", "address the gateway listens on (0.0.0.0 for all)")
    port: int = _opt(9212, "TCP port loggers connect to", min=1, max=65535)
    id: str = _opt("", "gateway id stored with each frame (empty: the host name)")
    max_connections: int = _opt(20_000, "most concurrent logger connections", min=1)
    # loggers of one enterprise often share a NAT address, so this is not 1
    max_per_ip: int = _opt(500, "most concurrent connections from one source IP", min=1)
    idle_timeout: float = _opt(600.0, "seconds of silence before a connection is closed", min=1)
    frames_per_s_per_mn: float = _opt(
        50.0, "frames per second one MN may send before it is throttled", min=0.001
    )
    unknown_mn: UnknownMnPolicy = _opt(
        "reject", "what to do with an MN not in the station registry: reject or quarantine"
    )
    io: GatewayIo = _opt(
        "rust", "who serves the connections: rust (the codec's front end keeps each usual "
        "read with no Python run for it; pipeline/gateway/front.py) or asyncio (a Python "
        "transport per connection)"
    )
    metrics_port: int = _opt(9213, "Prometheus text endpoint port (0: off)", min=0, max=65535)
    registry_csv: str = _opt(
        "", "stations CSV the gateway authenticates against (empty: the ClickHouse stations "
        "table)"
    )
    registry_refresh: float = _opt(
        60.0, "seconds between reloads of the station registry into the gateway's cache", min=1
    )
    command_timeout: float = _opt(
        60.0, "seconds a downlink command may wait for the logger's 9011/9012 answers", min=1
    )
    drain_timeout: float = _opt(
        10.0, "seconds a graceful shutdown waits for Kafka to take what the spool holds",
        min=0
    )
    # A wrong PW is answered (QnRtn=3), so a misconfigured logger sends only its cadence
    # (a few frames a minute at most); dozens a minute from one address is a flood or
    # someone guessing. Counted per source IP: loggers behind one NAT share the count.
    auth_fail_window_s: float = _opt(
        60.0, "seconds over which wrong-password frames from one source IP are counted",
        min=1, max=86_400
    )
    auth_fail_slow_after: int = _opt(
        10, "wrong-password frames from one source IP within auth_fail_window_s after which "
        "the connection sending them is slowed: reading paused and answers delayed by "
        "auth_fail_delay_s (0: never)", min=0
    )
    auth_fail_block_after: int = _opt(
        30, "wrong-password frames from one source IP within auth_fail_window_s after which "
        "the IP is refused for auth_block_s: its connections closed, new ones refused "
        "(0: never)", min=0
    )
    auth_fail_delay_s: float = _opt(
        1.0, "seconds a slowed connection waits before its answers and its next read",
        min=0, max=60
    )
    auth_block_s: float = _opt(
        300.0, "seconds a source IP stays refused after too many wrong passwords",
        min=1, max=86_400
    )


@dataclass(frozen=True, slots=True)
class SpoolSettings:
    dir: str = _opt("", "disk spool directory (empty: <run_dir>/spool)")
    max_bytes: int = _opt(
        1024**3, "spool size cap in bytes (suffix K/M/G allowed)", min=1024 * 1024, kind="bytes"
    )
    warn_ratio: float = _opt(0.8, "fill ratio at which the spool warns loudly", min=0.01, max=1.0)
    # a logger waits for its answer until its frame is on disk, and the appends that
    # arrive during a pause share one fsync. 0 fsyncs as soon as the previous one is done:
    # with hundreds of loggers sending one frame a write, that was an fsync (and a thread
    # hand-off) every few frames, and the default 5 ms cut the gateway's CPU by 40 % at
    # 2,000 frames/s (benchmarks/e2e.py) for 5 ms on an answer a logger waits seconds for
    fsync_interval: float = _opt(
        0.005, "extra seconds to gather appends before each spool fsync", min=0.0, max=10.0
    )


@dataclass(frozen=True, slots=True)
class AdminSettings:
    # only read while no user exists at all; afterwards it may (and should) be removed
    initial_password: str = _opt(
        "", "password of the first user, \"admin\", created when no user exists yet "
        "(empty: the web app or `hj212 users add` asks for one; there is no default "
        "password); at least 10 characters", secret=True
    )


@dataclass(frozen=True, slots=True)
class UiSettings:
    # loopback by default, like the gateway: opening the web app to the network is a
    # deliberate act (the data are confidential)
    host: str = _opt("127.0.0.1", "address the web app listens on (0.0.0.0 for all)")
    port: int = _opt(8501, "HTTP port of the web app", min=1, max=65535)
    session_ttl_s: float = _opt(
        8 * 3600.0, "seconds a login stays valid before the web app asks again",
        min=60, max=7 * 86_400
    )
    # Failed logins are read back from the audit log, so every web-app process (and a
    # restart) sees the same count. A lockout doubles with each failure past the limit.
    login_fail_window_s: float = _opt(
        900.0, "seconds over which failed logins (per user name and per source address) "
        "are counted", min=10, max=86_400
    )
    login_fail_limit: int = _opt(
        5, "failed logins for one user name within login_fail_window_s after which its "
        "logins wait login_lockout_s, doubling with each further failure (0: never)", min=0
    )
    login_fail_source_limit: int = _opt(
        20, "failed logins from one source address (any user name) within "
        "login_fail_window_s after which its logins wait likewise (0: never)", min=0
    )
    login_lockout_s: float = _opt(
        30.0, "seconds the first lockout lasts", min=1, max=86_400
    )
    login_lockout_max_s: float = _opt(
        900.0, "longest lockout, however many failures", min=1, max=86_400
    )


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    group_id: str = _opt("hj212-ledger", "consumer group of the ledger writers (hj212 ledger)")
    reply_wait_s: float = _opt(
        5.0, "seconds a submitter (page, CLI) waits for the writer's answer before saying "
        "the change is queued", min=0.1, max=120
    )


@dataclass(frozen=True, slots=True)
class NotifySettings:
    group_id: str = _opt("hj212-notify", "consumer group of hj212 notify on the alarms topic")
    routes: str = _opt(
        "", "routing file (TOML: receivers, routes, grouping, escalation, quiet hours; "
        "empty: pipeline/notify/routes.toml, the sample)"
    )
    secrets_file: str = _opt(
        "", "TOML file of the receivers' secrets (robot keys, signing secrets, SMTP "
        "password), by receiver name; never logged (empty: <run_dir>/notify-secrets.toml)"
    )
    smtp_host: str = _opt("127.0.0.1", "SMTP server for mail receivers")
    smtp_port: int = _opt(25, "SMTP port", min=1, max=65535)
    smtp_user: str = _opt("", "SMTP user (empty: no login)")
    smtp_password: str = _opt("", "SMTP password", secret=True)
    smtp_starttls: bool = _opt(False, "upgrade the SMTP connection with STARTTLS")
    mail_from: str = _opt("hj212-duty@localhost", "sender address of notification mails")
    catch_up_min: float = _opt(
        30.0, "minutes of alarms a consumer group new to the alarms topic reads first "
        "(hj212 notify --from recent, the default): a notifier whose group Kafka no longer "
        "knows (Kafka's data lost, the group id changed) still notifies the alarms raised "
        "just before it joined; those it had delivered are in its log and not sent again",
        min=0)


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    file: str = _opt(
        "", "service records' settings file (TOML: SLA limits, escalation receivers, rosters "
        "per region, subscription, visit and inspection rules, the subcontractor score; "
        "empty: admin/service.toml, the sample)"
    )


@dataclass(frozen=True, slots=True)
class Settings:
    run_dir: Path = _opt(Path(".run"), "folder for local servers' data, logs, pids and spool")
    log_format: LogFormat = _opt(
        "auto", "json, console, or auto (console on a terminal, json otherwise and under CI)"
    )
    log_level: LogLevel = _opt("info", "debug, info, warning or error")
    strict: bool = _opt(
        False, "parse frames to the letter of the standard instead of the lenient default"
    )
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    topics: TopicSettings = field(default_factory=TopicSettings)
    partitions: PartitionSettings = field(default_factory=PartitionSettings)
    clickhouse: ClickHouseSettings = field(default_factory=ClickHouseSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    spool: SpoolSettings = field(default_factory=SpoolSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    service: ServiceSettings = field(default_factory=ServiceSettings)
    #: the TOML file the values came from, if any (not a setting itself)
    config_file: Path | None = field(default=None, metadata={"internal": True})
    #: dotted name -> "default" | "file" | "env" | "option", for `hj212 settings`
    sources: Mapping[str, str] = field(
        default_factory=dict, compare=False, repr=False, metadata={"internal": True}
    )

    @property
    def spool_dir(self) -> Path:
        return Path(self.spool.dir) if self.spool.dir else self.run_dir / "spool"

    def topic_partitions(self) -> dict[str, int]:
        """Topic name -> partition count, for creating the topics."""
        return {
            getattr(self.topics, f.name): getattr(self.partitions, f.name)
            for f in dataclasses.fields(TopicSettings)
        }


# --- the mechanics: one table of settings, derived from the dataclasses above -----------


@dataclass(frozen=True, slots=True)
class SettingInfo:
    """One setting: its dotted name, TOML key, environment variable, type and checks."""

    path: str  # "gateway.port"
    section: str | None
    name: str
    env: str
    type: Any
    default: Any
    help: str
    checks: Mapping[str, Any]

    @property
    def toml(self) -> str:
        return f"[{self.section}] {self.name}" if self.section else self.name


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    raise AssertionError(f"setting {f.name} has no default")


def _build_table() -> dict[str, SettingInfo]:
    table: dict[str, SettingInfo] = {}
    hints = _hints(Settings)
    for f in dataclasses.fields(Settings):
        if f.metadata.get("internal"):
            continue
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            sub_hints = _hints(typ)  # type: ignore[arg-type]
            for sf in dataclasses.fields(typ):
                table[f"{f.name}.{sf.name}"] = SettingInfo(
                    path=f"{f.name}.{sf.name}",
                    section=f.name,
                    name=sf.name,
                    env=f"{ENV_PREFIX}{f.name.upper()}{SEP}{sf.name.upper()}",
                    type=sub_hints[sf.name],
                    default=_default_of(sf),
                    help=sf.metadata.get("help", ""),
                    checks={k: v for k, v in sf.metadata.items() if k != "help"},
                )
        else:
            table[f.name] = SettingInfo(
                path=f.name,
                section=None,
                name=f.name,
                env=f"{ENV_PREFIX}{f.name.upper()}",
                type=typ,
                default=_default_of(f),
                help=f.metadata.get("help", ""),
                checks={k: v for k, v in f.metadata.items() if k != "help"},
            )
    return table


SETTINGS: dict[str, SettingInfo] = _build_table()
_BY_ENV: dict[str, SettingInfo] = {s.env: s for s in SETTINGS.values()}
_SECTIONS: frozenset[str] = frozenset(s.section for s in SETTINGS.values() if s.section)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_HOSTPORT = re.compile(r"^[A-Za-z0-9.\-_]+:\d{1,5}$|^\[[0-9A-Fa-f:]+\]:\d{1,5}$")
_TOPIC = re.compile(r"^[A-Za-z0-9._\-]{1,249}$")
#: what is shown instead of a secret setting's value (it is set, and that is all)
SECRET_SHOWN = "(set, hidden)"


def _where(info: SettingInfo, origin: str) -> str:
    if origin == "env":
        return info.env
    if origin == "file":
        return f"{info.toml} (in the config file; env {info.env})"
    return f"{info.path} (env {info.env})"


def _fail(info: SettingInfo, origin: str, raw: object, problem: str, fix: str) -> ConfigError:
    shown = SECRET_SHOWN if info.checks.get("secret") else repr(raw)
    return ConfigError(f"{_where(info, origin)}={shown}: {problem}; fix: {fix}")


def _example(info: SettingInfo) -> str:
    default = info.default
    if isinstance(default, bool):
        default = str(default).lower()
    return f"{info.env}={default}"


def _convert(info: SettingInfo, raw: object, origin: str) -> Any:
    """Turn a TOML or environment value into the setting's type, checked."""
    typ = info.type
    checks = info.checks
    value: Any
    if typing.get_origin(typ) is Literal:
        choices = typing.get_args(typ)
        text = str(raw).strip().lower()
        if text not in choices:
            raise _fail(info, origin, raw, f"not one of {', '.join(choices)}",
                        f"use one of them, e.g. {_example(info)}")
        return text
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _fail(info, origin, raw, "not a boolean",
                    f"use true/false (or 1/0, yes/no, on/off), e.g. {_example(info)}")
    if typ is int:
        if isinstance(raw, bool):
            raise _fail(info, origin, raw, "a boolean where a number is needed",
                        f"give a whole number, e.g. {_example(info)}")
        if isinstance(raw, int):
            value = raw
        elif checks.get("kind") == "bytes":
            m = _SIZE.match(str(raw))
            if not m:
                raise _fail(info, origin, raw, "not a size",
                            f"give bytes, optionally with K, M or G, e.g. {info.env}=512M")
            unit = (m.group(2) or "b")[0].lower()
            value = int(m.group(1)) * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
        else:
            try:
                value = int(str(raw).strip().replace("_", ""))
            except ValueError:
                raise _fail(info, origin, raw, "not a whole number",
                            f"give a whole number, e.g. {_example(info)}") from None
    elif typ is float:
        if isinstance(raw, bool):
            raise _fail(info, origin, raw, "a boolean where a number is needed",
                        f"give a number, e.g. {_example(info)}")
        try:
            value = float(raw) if isinstance(raw, int | float) else float(str(raw).strip())
        except ValueError:
            raise _fail(info, origin, raw, "not a number",
                        f"give a number, e.g. {_example(info)}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise _fail(info, origin, raw, "not a finite number",
                        f"give a number, e.g. {_example(info)}")
    elif typ is Path:
        if not isinstance(raw, str) or not raw.strip():
            raise _fail(info, origin, raw, "not a path", f"give a folder, e.g. {_example(info)}")
        return Path(raw.strip())
    elif typ is str:
        if not isinstance(raw, str):
            raise _fail(info, origin, raw, "not a string",
                        f"quote it in the TOML file, e.g. {info.name} = \"{info.default}\"")
        value = raw.strip()
        _check_text(info, origin, value)
        return value
    else:  # pragma: no cover - a setting of a type this loader does not know is a bug here
        raise AssertionError(f"setting {info.path} has unsupported type {typ!r}")

    lo, hi = checks.get("min"), checks.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"at least {lo}" if hi is None else f"between {lo} and {hi}"
        raise _fail(info, origin, raw, f"out of range, must be {bounds}",
                    f"give a value {bounds}, e.g. {_example(info)}")
    return value


def _check_text(info: SettingInfo, origin: str, value: str) -> None:
    kind = info.checks.get("kind")
    if kind == "hostports":
        parts = [p.strip() for p in value.split(",")]
        bad = [p for p in parts if not _HOSTPORT.match(p) or int(p.rsplit(":", 1)[1]) > 65535]
        if not value or bad:
            raise _fail(info, origin, value,
                        f"not a list of host:port ({', '.join(bad) or 'empty'})",
                        f"e.g. {info.env}=127.0.0.1:9092,10.0.0.2:9092")
    elif kind == "topic":
        if not _TOPIC.match(value):
            raise _fail(info, origin, value,
                        "not a valid Kafka topic name (letters, digits, '.', '_', '-')",
                        f"e.g. {_example(info)}")
    elif kind == "dsn":
        url = urlsplit(value)
        try:
            port_ok = url.port is None or 0 < url.port < 65536
        except ValueError:
            port_ok = False
        if url.scheme not in ("clickhouse", "clickhouses", "http", "https") or not (
            url.hostname and port_ok
        ):
            raise _fail(info, origin, value,
                        "not a ClickHouse DSN",
                        f"e.g. {info.env}=clickhouse://default:@127.0.0.1:9000/hj212")


def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {str(path)!r} not found; fix: give an existing file with --config "
            f"or {ENV_CONFIG}, or unset {ENV_CONFIG}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}; "
                          "fix: correct the TOML syntax at that line") from None


def _flatten_toml(data: Mapping[str, Any], path: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in _SECTIONS:
                raise ConfigError(
                    f"config file {str(path)!r}: unknown section [{key}]"
                    f"{_suggest(key, sorted(_SECTIONS))}; fix: remove or rename it "
                    f"(sections: {', '.join(sorted(_SECTIONS))})"
                )
            for sub, subval in value.items():
                dotted = f"{key}.{sub}"
                if dotted not in SETTINGS:
                    names = [s.name for s in SETTINGS.values() if s.section == key]
                    raise ConfigError(
                        f"config file {str(path)!r}: unknown key {sub!r} in [{key}]"
                        f"{_suggest(sub, names)}; fix: remove or rename it "
                        f"(keys: {', '.join(names)})"
                    )
                out[dotted] = subval
        else:
            if key not in SETTINGS or SETTINGS[key].section is not None:
                top = [s.name for s in SETTINGS.values() if s.section is None]
                raise ConfigError(
                    f"config file {str(path)!r}: unknown top-level key {key!r}"
                    f"{_suggest(key, top + sorted(_SECTIONS))}; fix: remove or rename it "
                    f"(top-level keys: {', '.join(top)}; sections: {', '.join(sorted(_SECTIONS))})"
                )
            out[key] = value
    return out


def load_settings(
    config: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
) -> Settings:
    """Read the settings: defaults < TOML file < environment < ``overrides``.

    ``config`` is the TOML path (``--config``); without it ``HJ212_CONFIG`` is used, and
    without that no file is read. ``env`` defaults to ``os.environ``. ``overrides`` maps
    dotted names (``"log_format"``, ``"gateway.port"``) to values given on a command line.
    Raises ConfigError naming the variable or key, the value and the fix.
    """
    environ = os.environ if env is None else env
    values: dict[str, Any] = {path: info.default for path, info in SETTINGS.items()}
    sources: dict[str, str] = dict.fromkeys(SETTINGS, "default")

    config_path: Path | None = None
    if config is not None and str(config) != "":
        config_path = Path(config)
    elif environ.get(ENV_CONFIG):
        config_path = Path(environ[ENV_CONFIG])
    if config_path is not None:
        for dotted, raw in _flatten_toml(_read_toml(config_path), config_path).items():
            values[dotted] = _convert(SETTINGS[dotted], raw, "file")
            sources[dotted] = "file"

    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_CONFIG:
            continue
        info = _BY_ENV.get(name)
        if info is None:
            raise ConfigError(
                f"{name}={raw!r} is not a setting{_suggest(name, sorted(_BY_ENV))}; "
                f"fix: rename or unset it (run `hj212 settings` for the list)"
            )
        values[info.path] = _convert(info, raw, "env")
        sources[info.path] = "env"

    for dotted, raw in (overrides or {}).items():
        if raw is None:
            continue
        if dotted not in SETTINGS:
            raise ConfigError(f"unknown setting {dotted!r} given as an option")
        values[dotted] = _convert(SETTINGS[dotted], raw, "option")
        sources[dotted] = "option"

    return _assemble(values, config_path, sources)


def _assemble(values: Mapping[str, Any], config_path: Path | None,
              sources: Mapping[str, str]) -> Settings:
    hints = _hints(Settings)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        if f.metadata.get("internal"):
            continue
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            sub = {sf.name: values[f"{f.name}.{sf.name}"] for sf in dataclasses.fields(typ)}
            kwargs[f.name] = typ(**sub)  # type: ignore[operator]
        else:
            kwargs[f.name] = values[f.name]
    return Settings(**kwargs, config_file=config_path,
                    sources=types.MappingProxyType(dict(sources)))


def redact_dsn(dsn: str) -> str:
    """The DSN with its password (if any) replaced: a DSN is shown, its secret is not."""
    parts = urlsplit(dsn)
    if not parts.password:
        return dsn
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:{SECRET_SHOWN}@{host}"))


def settings_rows(settings: Settings) -> list[tuple[str, str, str, str]]:
    """(environment variable, TOML key, value, source) for every setting, for display."""
    rows = []
    for path, info in SETTINGS.items():
        obj: Any = settings
        for part in path.split("."):
            obj = getattr(obj, part)
        shown = str(obj).lower() if isinstance(obj, bool) else str(obj)
        if info.checks.get("secret") and shown:
            shown = SECRET_SHOWN
        elif info.checks.get("kind") == "dsn":
            shown = redact_dsn(shown)
        rows.append((info.env, info.toml, shown, settings.sources.get(path, "default")))
    return rows
