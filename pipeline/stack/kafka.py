"""The local Kafka broker: fetch jars (Maven), format KRaft storage, start, check, stop,
and the platform's topics (local or external cluster).

Everything lives under ``<run_dir>/kafka/``: libs/ (the jars of ``kafka.version``, fetched
by ``mvn dependency:copy-dependencies`` from ``pipeline/stack/pom.xml``), data/ (KRaft
log dirs, formatted once with a generated cluster id kept in cluster.id),
server.properties and log4j2.properties (rewritten at every start), logs/, and the pid
file. One node is broker and controller at once, on 127.0.0.1 only; its client port is
the first entry of ``kafka.bootstrap``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import shutil
import string
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pipeline.config import KafkaSettings, Settings
from pipeline.logs import get_logger
from pipeline.stack import procs
from pipeline.stack.procs import PortNeed, StackError
from pipeline.stack.status import ServerStatus
from pipeline.stack.tools import require_tool, run_logged

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
MIN_JAVA = 17  # Kafka 4.x brokers need Java 17
LOOPBACK = ("127.0.0.1", "localhost")


@dataclass(frozen=True, slots=True)
class Paths:
    root: Path
    libs: Path
    data: Path
    config: Path
    log4j: Path
    log_dir: Path
    pid_file: Path
    cluster_id: Path

    @property
    def server_log(self) -> Path:
        return self.log_dir / "server.log"

    @property
    def stdout_log(self) -> Path:
        return self.log_dir / "stdout.log"

    @property
    def fetch_log(self) -> Path:
        return self.log_dir / "mvn.log"

    def stamp(self, version: str) -> Path:
        return self.libs / f".fetched-{version}"


def paths(settings: Settings) -> Paths:
    root = (settings.run_dir / "kafka").resolve()
    return Paths(root=root, libs=root / "libs", data=root / "data",
                 config=root / "server.properties", log4j=root / "log4j2.properties",
                 log_dir=root / "logs", pid_file=root / "kafka.pid",
                 cluster_id=root / "cluster.id")


def pom_path() -> Path:
    return Path(str(resources.files("pipeline.stack") / "pom.xml"))


def bootstrap_servers(settings: Settings) -> str:
    return settings.kafka.servers


def broker_endpoint(settings: Settings) -> tuple[str, int]:
    first = settings.kafka.bootstrap.split(",")[0].strip()
    host, port = first.rsplit(":", 1)
    return host, int(port)


# --- tools and jars ---------------------------------------------------------------------


def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return 0
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8" means 8


def require_java() -> str:
    java = require_tool("java", "install a Java 17+ runtime, e.g. `apt-get install -y "
                                "openjdk-17-jre-headless`, or set HJ212_KAFKA__LOCAL=false")
    major = java_major(java)
    if major < MIN_JAVA:
        raise StackError(f"{java} is Java {major or 'unknown'}, Kafka needs Java {MIN_JAVA} or "
                         f"newer; fix: install openjdk-17-jre-headless (apt-get) and put it "
                         f"first on PATH")
    return java


def jars_present(settings: Settings) -> bool:
    return paths(settings).stamp(settings.kafka.version).exists()


def ensure_jars(settings: Settings) -> Path:
    """libs/ holding Kafka ``kafka.version`` and its runtime dependencies; fetched with
    Maven only when the stamp of that version is missing."""
    p = paths(settings)
    version = settings.kafka.version
    if p.stamp(version).exists():
        return p.libs
    mvn = require_tool("mvn", "install Maven (`apt-get install -y maven`), or set "
                              "HJ212_KAFKA__LOCAL=false and HJ212_KAFKA__BOOTSTRAP")
    log = get_logger("stack")
    # a different version's jars or a broken earlier fetch must not mix into the classpath
    if p.libs.exists():
        shutil.rmtree(p.libs)
    p.libs.mkdir(parents=True)
    log.info("kafka.fetch", version=version, into=str(p.libs), log=str(p.fetch_log),
             note="about 45 MB from Maven Central the first time; cached in ~/.m2 after")
    try:
        took = run_logged(
            [mvn, "-B", "-Dstyle.color=never", "-f", str(pom_path()),
             f"-Dkafka.version={version}", "dependency:copy-dependencies",
             f"-DoutputDirectory={p.libs}", "-DincludeScope=runtime"],
            what=f"mvn dependency:copy-dependencies (kafka_2.13 {version})",
            log_file=p.fetch_log, count=("downloaded_files", r"^Downloaded from"),
        )
    except StackError as exc:
        raise StackError(f"{exc}\nfix: check that HJ212_KAFKA__VERSION={version!r} is a Kafka "
                         f"release on Maven Central (the default is "
                         f"{KafkaSettings().version}) and that Maven can reach it "
                         f"(~/.m2/settings.xml, proxy)") from None
    jars = sorted(p.libs.glob("*.jar"))
    if not any(j.name == f"kafka_2.13-{version}.jar" for j in jars):
        raise StackError(f"Maven finished but {p.libs} has no kafka_2.13-{version}.jar; "
                         f"fix: check HJ212_KAFKA__VERSION={version!r} is a released Kafka "
                         f"version (see {p.fetch_log})")
    p.stamp(version).write_text(f"{len(jars)} jars\n")
    log.info("kafka.fetched", version=version, jars=len(jars), took_s=round(took, 1))
    return p.libs


def installed_version(settings: Settings) -> str | None:
    for jar in paths(settings).libs.glob("kafka_2.13-*.jar"):
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return None


# --- configuration and storage ---------------------------------------------------------


def render_config(settings: Settings) -> Paths:
    p = paths(settings)
    p.data.mkdir(parents=True, exist_ok=True)
    p.log_dir.mkdir(parents=True, exist_ok=True)
    _, port = broker_endpoint(settings)
    templates = resources.files("pipeline.stack") / "templates"
    server = string.Template((templates / "kafka-server.properties").read_text())
    p.config.write_text(server.substitute(
        broker_port=port, controller_port=settings.kafka.controller_port, data_dir=p.data))
    log4j = string.Template((templates / "kafka-log4j2.properties").read_text())
    p.log4j.write_text(log4j.substitute(log_file=p.server_log))
    return p


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (22 chars),
    never starting with ``-`` (one in 64 would: Kafka's own ids avoid it, since a command
    line takes such a value for an option)."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not found.startswith("-"):
            return found


def java_argv(settings: Settings, java: str, main: str, *args: str) -> list[str]:
    p = paths(settings)
    heap_mb = max(64, settings.kafka.heap // (1024 * 1024))
    return [java, f"-Xmx{heap_mb}m", f"-Xms{min(heap_mb, 256)}m", "-XX:+UseG1GC",
            "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={p.log4j}",
            f"-Dkafka.logs.dir={p.log_dir}", "-cp", f"{p.libs}/*", main, *args]


def ensure_formatted(settings: Settings, java: str) -> None:
    """Format the KRaft log dir once; a formatted dir has meta.properties."""
    p = paths(settings)
    if (p.data / "meta.properties").exists():
        return
    if p.cluster_id.exists():
        cluster_id = p.cluster_id.read_text().strip()
    else:
        cluster_id = new_cluster_id()
        p.cluster_id.write_text(cluster_id + "\n")
    get_logger("stack").info("kafka.format", cluster_id=cluster_id, data=str(p.data))
    # `--cluster-id=ID` in one word: an id kept from before that starts with `-` (as
    # new_cluster_id made one in 64 until 2026-12-05) is not read as an option
    run_logged(java_argv(settings, java, STORAGE_TOOL, "format", f"--cluster-id={cluster_id}",
                         "-c", str(p.config)),
               what="kafka-storage format", log_file=p.stdout_log)


# --- running ----------------------------------------------------------------------------


def running_pid(settings: Settings) -> int | None:
    p = paths(settings)
    return procs.our_pid(p.pid_file, str(p.config))


def start(settings: Settings) -> bool:
    """Start the local broker unless ours already runs; True if it was started now.
    Topics are made by ``ensure_topics``."""
    log = get_logger("stack")
    host, port = broker_endpoint(settings)
    if host not in LOOPBACK:
        raise StackError(
            f"HJ212_KAFKA__BOOTSTRAP={settings.kafka.bootstrap!r} starts with host {host!r}, "
            f"but the local broker listens on 127.0.0.1 only; fix: use 127.0.0.1:{port}, or "
            f"set HJ212_KAFKA__LOCAL=false to use that cluster"
        )
    p = paths(settings)
    bootstrap = bootstrap_servers(settings)
    pid = running_pid(settings)
    if pid is not None:
        known = pid
        procs.wait_until(lambda: metadata_ok(bootstrap),
                         timeout=settings.kafka.startup_timeout,
                         what=f"Kafka (pid {pid}) answering metadata requests",
                         alive=lambda: procs.is_alive(known),
                         on_fail=lambda: procs.log_hint(p.server_log))
        log.info("kafka.already_running", pid=pid)
        return False
    java = require_java()
    ensure_jars(settings)
    procs.check_ports_free("127.0.0.1", [
        PortNeed(port, "Kafka broker", "HJ212_KAFKA__BOOTSTRAP"),
        PortNeed(settings.kafka.controller_port, "Kafka controller",
                 "HJ212_KAFKA__CONTROLLER_PORT"),
    ])
    render_config(settings)
    ensure_formatted(settings, java)
    log.info("kafka.starting", version=settings.kafka.version, broker_port=port,
             controller_port=settings.kafka.controller_port, heap=settings.kafka.heap,
             dir=str(p.root))
    pid = procs.spawn_detached(java_argv(settings, java, MAIN_CLASS, str(p.config)),
                               log_file=p.stdout_log, pid_file=p.pid_file, cwd=p.root)
    started = pid
    waited = procs.wait_until(
        lambda: procs.port_open("127.0.0.1", port) and metadata_ok(bootstrap),
        timeout=settings.kafka.startup_timeout,
        what=f"Kafka (pid {pid}) answering metadata requests on 127.0.0.1:{port}",
        alive=lambda: procs.is_alive(started),
        on_fail=lambda: procs.log_hint(p.server_log) + procs.log_hint(p.stdout_log, 5),
    )
    log.info("kafka.ready", pid=pid, broker_port=port, took_s=round(waited, 1))
    return True


def stop(settings: Settings) -> bool:
    """Stop our local broker if it runs; True if one was stopped."""
    return procs.stop_server("kafka", running_pid(settings), paths(settings).pid_file)


# --- the client side: metadata and topics (aiokafka) ----------------------------------


@contextlib.contextmanager
def _quiet_client_logs() -> Iterator[None]:
    # aiokafka logs every refused connection at ERROR while we poll a starting broker
    logger = logging.getLogger("aiokafka")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def _admin(bootstrap: str, client_id: str = "hj212-stack", request_timeout_ms: int = 5000
           ) -> Any:
    from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped,unused-ignore]

    return AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id=client_id,
                               request_timeout_ms=request_timeout_ms)


async def _topic_partitions(bootstrap: str) -> dict[str, int]:
    """Topic -> partition count for every non-internal topic, with every partition led."""
    admin = _admin(bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if not t.startswith("__")]
        if not names:
            return {}
        out: dict[str, int] = {}
        for desc in await admin.describe_topics(names):
            if desc.get("error_code", 0) != 0:
                continue
            parts = desc.get("partitions", [])
            # a partition without a leader yet is not usable; count only led ones
            out[desc["topic"]] = sum(1 for part in parts if part.get("leader", -1) >= 0)
        return out
    finally:
        await admin.close()


def topic_partitions(bootstrap: str) -> dict[str, int]:
    with _quiet_client_logs():
        return asyncio.run(asyncio.wait_for(_topic_partitions(bootstrap), 15))


async def _delete(bootstrap: str, names: set[str]) -> list[str]:
    # deleting many topics at once takes the broker seconds: a longer request timeout
    admin = _admin(bootstrap, request_timeout_ms=40_000)
    await admin.start()
    try:
        doomed = sorted(names & set(await admin.list_topics()))
        for i in range(0, len(doomed), 50):
            await admin.delete_topics(doomed[i:i + 50], timeout_ms=30_000)
        return doomed
    finally:
        await admin.close()


def delete_topics(bootstrap: str, names: Iterable[str], timeout: float = 120.0) -> list[str]:
    """Delete those of ``names`` that exist (a test's, a session's or a benchmark run's own
    topics: left behind, a hundred gateway benchmark runs once filled this machine's
    disk); returns the names deleted."""
    with _quiet_client_logs():
        return asyncio.run(asyncio.wait_for(_delete(bootstrap, set(names)), timeout))


def metadata_ok(bootstrap: str) -> bool:
    try:
        topic_partitions(bootstrap)
    except Exception:  # not up yet: refused, timed out, coordinator loading...
        return False
    return True


async def _create(bootstrap: str, wanted: Mapping[str, int], have: Mapping[str, int],
                  replication: int, client_id: str) -> dict[str, str]:
    from aiokafka.admin import NewPartitions, NewTopic  # type: ignore[import-untyped,unused-ignore]

    done: dict[str, str] = {}
    admin = _admin(bootstrap, client_id)
    await admin.start()
    try:
        missing = [NewTopic(name, n, replication) for name, n in wanted.items()
                   if name not in have]
        if missing:
            resp = await admin.create_topics(missing)
            for name, code, message in (e[:3] for e in resp.topic_errors):
                if code not in (0, 36):  # 36: TOPIC_ALREADY_EXISTS (a concurrent `up`)
                    raise StackError(f"creating Kafka topic {name!r} failed: error {code} "
                                     f"{message}; fix: check the broker log and the topic "
                                     f"settings (HJ212_TOPICS__*, HJ212_PARTITIONS__*)")
                done[name] = "created"
        grow = {name: n for name, n in wanted.items() if name in have and have[name] < n}
        if grow:
            await admin.create_partitions({name: NewPartitions(n) for name, n in grow.items()})
            done.update({name: f"partitions {have[name]} -> {n}" for name, n in grow.items()})
    finally:
        await admin.close()
    return done


def ensure_topics(settings: Settings, timeout: float = 30.0) -> dict[str, str]:
    """Create the platform's topics that are missing and add partitions to those with
    fewer than the settings say (Kafka cannot remove partitions: more is left alone, with
    a warning). Waits until every partition has a leader. Returns topic -> what was done."""
    log = get_logger("stack")
    bootstrap = bootstrap_servers(settings)
    wanted = settings.topic_partitions()
    try:
        have = topic_partitions(bootstrap)
        with _quiet_client_logs():
            done = asyncio.run(_create(bootstrap, wanted, have, settings.kafka.replication,
                                       f"{settings.kafka.client_id}-stack"))
    except StackError:
        raise
    except Exception as exc:  # the client's errors are many kinds; all mean the same here
        where = "local broker" if settings.kafka.local else "external cluster"
        raise StackError(
            f"Kafka {where} at HJ212_KAFKA__BOOTSTRAP={bootstrap!r} did not let us create the "
            f"topics: {type(exc).__name__}: {exc}; fix: check the address and that the "
            f"brokers run (`hj212 stack status`), and HJ212_KAFKA__REPLICATION="
            f"{settings.kafka.replication} is at most the number of brokers"
        ) from None
    for name, n in wanted.items():
        if have.get(name, 0) > n:
            log.warning("kafka.topic_partitions", topic=name, has=have[name], configured=n,
                        note="Kafka cannot reduce partitions; delete the topic to shrink it")

    def all_led() -> bool:
        now = topic_partitions(bootstrap)
        return all(now.get(name, 0) >= n for name, n in wanted.items())

    procs.wait_until(all_led, timeout=timeout, what="Kafka topics with a leader per partition")
    for name, what in done.items():
        log.info("kafka.topic", topic=name, action=what, partitions=wanted[name])
    return done


def check(settings: Settings) -> ServerStatus:
    """The broker's status: local (ours) or external (the bootstrap servers)."""
    bootstrap = bootstrap_servers(settings)
    local = settings.kafka.local
    if local:
        _, port = broker_endpoint(settings)
        row = ServerStatus(name="kafka", mode="local", endpoints=[
            f"127.0.0.1:{port} (broker)",
            f"127.0.0.1:{settings.kafka.controller_port} (controller)"])
        row.pid = running_pid(settings)
        row.running = row.pid is not None
        row.version = installed_version(settings)
        if not row.running:
            row.detail = "not running (`hj212 stack up` starts it)"
            busy = [q for q in (port, settings.kafka.controller_port)
                    if procs.port_open("127.0.0.1", q)]
            if busy:
                row.detail += "; but port " + ", ".join(
                    f"{q} is taken by {procs.describe_port_user(q)}" for q in busy)
            return row
    else:
        row = ServerStatus(name="kafka", mode="external", endpoints=bootstrap.split(","))
    try:
        have = topic_partitions(bootstrap)
    except Exception as exc:  # any client error means: not healthy, and say why
        row.detail = f"metadata request failed: {type(exc).__name__}: {exc}"
        return row
    row.running = True
    wanted = settings.topic_partitions()
    missing = [t for t in wanted if t not in have]
    short = [f"{t} has {have[t]} < {n}" for t, n in wanted.items() if t in have and have[t] < n]
    row.extra["topics"] = {t: have.get(t, 0) for t in wanted}
    row.healthy = not missing and not short
    parts = ["broker metadata ok"]
    if missing:
        parts.append("missing topics: " + ", ".join(missing) + " (`hj212 stack up` makes them)")
    if short:
        parts.append("too few partitions: " + "; ".join(short))
    if row.healthy:
        parts.append(f"topics {', '.join(f'{t}({n})' for t, n in wanted.items())} present")
    row.detail = "; ".join(parts)
    return row
