"""The local ClickHouse server: install (Debian package), configure, start, check, stop.

Everything lives under ``<run_dir>/clickhouse/``: config.xml and users.xml (rewritten at
every start from ``templates/``), data/, tmp/, user_files/, format_schemas/, log/, and
the pid file. The server listens on 127.0.0.1 only. Its native port is the DSN's port
(9000 when the DSN is http), its HTTP port is ``clickhouse.http_port``.

Health is checked over HTTP with the standard library, so no ClickHouse client package
is needed to start, check or stop the server.
"""

from __future__ import annotations

import os
import shutil
import string
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipeline.config import Settings
from pipeline.logs import get_logger
from pipeline.stack import procs
from pipeline.stack.procs import PortNeed, StackError
from pipeline.stack.status import ServerStatus
from pipeline.stack.tools import run_logged

PACKAGES = ("clickhouse-server", "clickhouse-client")
# root's PATH has /usr/sbin, a user's often does not; the Debian package puts it there
SERVER_CANDIDATES = ("clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse")
APT_FIX = "sudo apt-get update && sudo apt-get install -y clickhouse-server clickhouse-client"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class Target:
    """Where the platform reaches ClickHouse, from the DSN."""

    scheme: str
    host: str
    port: int  # the DSN's port: native or HTTP by scheme
    user: str
    password: str
    database: str

    @property
    def native(self) -> bool:
        return self.scheme in ("clickhouse", "clickhouses")


def target(settings: Settings) -> Target:
    url = urllib.parse.urlsplit(settings.clickhouse.dsn)
    default_port = {"clickhouse": 9000, "clickhouses": 9440, "http": 8123, "https": 8443}
    return Target(
        scheme=url.scheme,
        host=url.hostname or "127.0.0.1",
        port=url.port or default_port.get(url.scheme, 9000),
        user=urllib.parse.unquote(url.username or "default"),
        password=urllib.parse.unquote(url.password or ""),
        database=url.path.lstrip("/") or "default",
    )


@dataclass(frozen=True, slots=True)
class Paths:
    root: Path
    config: Path
    users: Path
    data: Path
    tmp: Path
    user_files: Path
    format_schemas: Path
    log_dir: Path
    pid_file: Path
    stdout_log: Path
    install_log: Path

    @property
    def server_log(self) -> Path:
        return self.log_dir / "clickhouse-server.log"

    @property
    def error_log(self) -> Path:
        return self.log_dir / "clickhouse-server.err.log"


def paths(settings: Settings) -> Paths:
    # absolute, because the server's config and our pid-file marker must not depend on
    # the working directory of whoever runs `stack status` later
    root = (settings.run_dir / "clickhouse").resolve()
    return Paths(
        root=root, config=root / "config.xml", users=root / "users.xml", data=root / "data",
        tmp=root / "tmp", user_files=root / "user_files",
        format_schemas=root / "format_schemas", log_dir=root / "log",
        pid_file=root / "clickhouse.pid", stdout_log=root / "log" / "stdout.log",
        install_log=root / "log" / "apt-install.log",
    )


def local_ports(settings: Settings) -> tuple[int, int]:
    """(native, http) ports of the local server."""
    t = target(settings)
    return (t.port if t.native else 9000), settings.clickhouse.http_port


def find_server() -> str | None:
    for name in SERVER_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def server_argv(binary: str, config: Path) -> list[str]:
    # /usr/bin/clickhouse is the one-binary layout of newer packages: `clickhouse server`
    if Path(binary).name == "clickhouse":
        return [binary, "server", f"--config-file={config}"]
    return [binary, f"--config-file={config}"]


def ensure_installed(settings: Settings) -> str:
    """The server binary; installs Debian's clickhouse-server first if it is missing."""
    found = find_server()
    if found:
        return found
    log = get_logger("stack")
    if shutil.which("apt-get") is None:
        raise StackError(
            "ClickHouse server is not installed (no clickhouse-server on PATH or in "
            "/usr/sbin) and apt-get is missing; fix: install ClickHouse by hand, or set "
            "HJ212_CLICKHOUSE__LOCAL=false and point HJ212_CLICKHOUSE__DSN at a server"
        )
    if os.geteuid() != 0:
        raise StackError(
            f"ClickHouse server is not installed and installing it needs root; fix: run "
            f"`{APT_FIX}`, then retry (or set HJ212_CLICKHOUSE__LOCAL=false to use a server "
            f"you run elsewhere)"
        )
    p = paths(settings)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    log.info("clickhouse.install", step="apt-get update", log=str(p.install_log))
    run_logged(["apt-get", "update", "-q"], what="apt-get update", log_file=p.install_log,
               env=env)
    log.info("clickhouse.install", step="apt-get install " + " ".join(PACKAGES),
             note="about 10 MB to download, 80 MB installed; once per machine")
    took = run_logged(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends",
         "-o", "Dpkg::Use-Pty=0", *PACKAGES],
        what="apt-get install clickhouse-server", log_file=p.install_log, env=env,
    )
    _stop_system_service()
    found = find_server()
    if not found:
        raise StackError(f"apt-get installed {' '.join(PACKAGES)} but no server binary was "
                         f"found ({', '.join(SERVER_CANDIDATES)}); see {p.install_log}")
    log.info("clickhouse.installed", binary=found, took_s=round(took, 1))
    return found


def _stop_system_service() -> None:
    """The package may start its own service (on port 9000) where systemd runs; ours runs
    under run_dir instead, so the system one is stopped and disabled."""
    if shutil.which("systemctl") is None or not Path("/run/systemd/system").exists():
        return
    active = subprocess.run(["systemctl", "is-active", "--quiet", "clickhouse-server"],
                            check=False).returncode == 0
    if active:
        get_logger("stack").info("clickhouse.system_service", action="stop and disable",
                                 reason="the project runs its own server under run_dir")
        subprocess.run(["systemctl", "disable", "--now", "clickhouse-server"], check=False,
                       capture_output=True)


def render_config(settings: Settings) -> Paths:
    p = paths(settings)
    for d in (p.data, p.tmp, p.user_files, p.format_schemas, p.log_dir):
        d.mkdir(parents=True, exist_ok=True)
    native, http = local_ports(settings)
    values = {
        "log_dir": p.log_dir, "tcp_port": native, "http_port": http, "data_dir": p.data,
        "tmp_dir": p.tmp, "user_files_dir": p.user_files, "format_schema_dir": p.format_schemas,
    }
    templates = resources.files("pipeline.stack") / "templates"
    config = string.Template((templates / "clickhouse-config.xml").read_text())
    p.config.write_text(config.substitute(values))
    p.users.write_text((templates / "clickhouse-users.xml").read_text())
    return p


def http_query(host: str, port: int, sql: str, *, user: str = "default", password: str = "",
               timeout: float = 3.0, scheme: str = "http") -> str:
    """Run ``sql`` over ClickHouse's HTTP interface; the response body, stripped."""
    params = urllib.parse.urlencode({"user": user, "password": password})
    req = urllib.request.Request(f"{scheme}://{host}:{port}/?{params}", data=sql.encode(),
                                 method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return str(resp.read().decode().strip())


def _local_query(settings: Settings, sql: str, timeout: float = 3.0) -> str:
    t = target(settings)
    return http_query("127.0.0.1", settings.clickhouse.http_port, sql, user=t.user,
                      password=t.password, timeout=timeout)


def _answers(settings: Settings) -> bool:
    try:
        return _local_query(settings, "SELECT 1") == "1"
    except (OSError, urllib.error.URLError):
        return False


def running_pid(settings: Settings) -> int | None:
    p = paths(settings)
    return procs.our_pid(p.pid_file, str(p.config))


def start(settings: Settings) -> bool:
    """Start the local server unless ours already runs; True if it was started now."""
    log = get_logger("stack")
    t = target(settings)
    p = paths(settings)
    if t.host not in LOOPBACK:
        raise StackError(
            f"HJ212_CLICKHOUSE__DSN={settings.clickhouse.dsn!r} names host {t.host!r}, but "
            f"the local server listens on 127.0.0.1 only; fix: use 127.0.0.1 in the DSN, or "
            f"set HJ212_CLICKHOUSE__LOCAL=false to use that server"
        )
    pid = running_pid(settings)
    if pid is not None:
        known = pid
        procs.wait_until(lambda: _answers(settings), timeout=settings.clickhouse.startup_timeout,
                         what=f"ClickHouse (pid {pid}) answering queries",
                         alive=lambda: procs.is_alive(known),
                         on_fail=lambda: procs.log_hint(p.error_log))
        log.info("clickhouse.already_running", pid=pid)
        _ensure_database(settings)
        lower_merge_priority(pid, settings.clickhouse.merge_nice)
        return False
    binary = ensure_installed(settings)
    native, http = local_ports(settings)
    try:
        procs.check_ports_free("127.0.0.1", [
            PortNeed(native, "ClickHouse native", "HJ212_CLICKHOUSE__DSN (its port)"),
            PortNeed(http, "ClickHouse HTTP", "HJ212_CLICKHOUSE__HTTP_PORT"),
        ])
    except StackError as exc:
        if "/etc/clickhouse-server" in str(exc):
            raise StackError(f"{exc}; that is the system's own ClickHouse service: stop it "
                             f"with `service clickhouse-server stop` (or `systemctl disable "
                             f"--now clickhouse-server`)") from None
        raise
    render_config(settings)
    log.info("clickhouse.starting", binary=binary, native_port=native, http_port=http,
             dir=str(p.root))
    pid = procs.spawn_detached(server_argv(binary, p.config), log_file=p.stdout_log,
                               pid_file=p.pid_file, cwd=p.root)
    started_pid = pid
    waited = procs.wait_until(
        lambda: _answers(settings), timeout=settings.clickhouse.startup_timeout,
        what=f"ClickHouse (pid {pid}) answering queries on 127.0.0.1:{http}",
        alive=lambda: procs.is_alive(started_pid),
        on_fail=lambda: procs.log_hint(p.error_log) + procs.log_hint(p.stdout_log, 5),
    )
    _ensure_database(settings)
    lower_merge_priority(pid, settings.clickhouse.merge_nice)
    log.info("clickhouse.ready", pid=pid, native_port=native, http_port=http,
             version=_local_query(settings, "SELECT version()"), took_s=round(waited, 1))
    return True


#: the names ClickHouse 18.16 gives the threads of its background pool (merges, part
#: removal); the query threads (TCPHandler, HTTPHandler) keep the server's priority
MERGE_THREADS = frozenset({"BackgrProcPool"})


def lower_merge_priority(pid: int, nice: int) -> int:
    """Raise the nice level of the server's merge threads to ``nice``; returns how many
    threads were changed.

    Why: on a machine the server shares with the gateway and the workers (this local
    stack), a burst of merges of 16 pool threads took the cores from the inserts and the
    detection that alarms and pages wait for. Merges are throughput work: at a lower
    priority they run in the time the latency-bound work leaves, and catch up. A server
    on its own machine needs none of this (``HJ212_CLICKHOUSE__LOCAL=false``)."""
    if nice <= 0:
        return 0
    changed = 0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "comm").read_text().strip() not in MERGE_THREADS:
                continue
            tid = int(task.name)
            if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
                changed += 1
        except (OSError, ValueError):
            continue  # the thread ended meanwhile, or this system has no /proc
    return changed


def _ensure_database(settings: Settings) -> None:
    # the DSN names a database; the schema's migrations expect it to exist
    db = target(settings).database
    if db and db != "default":
        _local_query(settings, f"CREATE DATABASE IF NOT EXISTS `{db}`")


def stop(settings: Settings) -> bool:
    """Stop our local server if it runs; True if one was stopped."""
    return procs.stop_server("clickhouse", running_pid(settings), paths(settings).pid_file)


def check(settings: Settings) -> ServerStatus:
    """The server's status: local (ours, under run_dir) or external (the DSN's)."""
    t = target(settings)
    if not settings.clickhouse.local:
        return _check_external(settings, t)
    native, http = local_ports(settings)
    row = ServerStatus(name="clickhouse", mode="local",
                       endpoints=[f"127.0.0.1:{native} (native)", f"127.0.0.1:{http} (http)"])
    row.pid = running_pid(settings)
    row.running = row.pid is not None
    if not row.running:
        busy = [port for port in (native, http) if procs.port_open("127.0.0.1", port)]
        row.detail = "not running (`hj212 stack up` starts it)"
        if busy:
            row.detail += "; but port " + ", ".join(
                f"{port} is taken by {procs.describe_port_user(port)}" for port in busy)
        return row
    try:
        row.version = _local_query(settings, "SELECT version()")
        dbs = _local_query(settings, "SHOW DATABASES").split()
    except (OSError, urllib.error.URLError) as exc:
        row.detail = f"process runs but does not answer queries: {exc}"
        return row
    row.healthy = True
    present = "present" if t.database in dbs else "missing"
    row.detail = (f"answers queries; database {t.database!r} {present}; "
                  f"data in {paths(settings).root}")
    return row


def _check_external(settings: Settings, t: Target) -> ServerStatus:
    row = ServerStatus(name="clickhouse", mode="external",
                       endpoints=[f"{t.host}:{t.port} ({'native' if t.native else t.scheme})"])
    try:
        if t.native:
            row.version = _native_version(t)
        else:
            row.version = http_query(t.host, t.port, "SELECT version()", user=t.user,
                                     password=t.password, scheme=t.scheme)
    except Exception as exc:  # any client error means: not healthy, and say why
        row.running = procs.port_open(t.host, t.port)
        row.detail = f"does not answer SELECT version(): {type(exc).__name__}: {exc}"
        return row
    row.running = row.healthy = True
    row.detail = "answers queries"
    return row


def _native_version(t: Target) -> str:
    try:
        from clickhouse_driver import Client  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise StackError("checking a native-protocol DSN needs the package clickhouse-driver; "
                         "fix: `pip install clickhouse-driver`, or give an http:// DSN") from None
    client = Client(host=t.host, port=t.port, user=t.user, password=t.password,
                    database="default", secure=t.scheme == "clickhouses",
                    connect_timeout=3, send_receive_timeout=5)
    try:
        return str(client.execute("SELECT version()")[0][0])
    finally:
        client.disconnect()
