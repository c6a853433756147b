"""The stack as a whole: which servers, in which order, local or external."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from pipeline.config import Settings
from pipeline.logs import get_logger
from pipeline.stack import clickhouse, kafka
from pipeline.stack.status import ServerStatus

SERVERS = ("clickhouse", "kafka")


@dataclass(slots=True)
class UpReport:
    """What `up` did: the servers it started now (the others already ran or are external),
    topics it created, and how long it took."""

    started: list[str] = field(default_factory=list)
    topics: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _pick(only: Sequence[str] | None) -> list[str]:
    chosen = list(only) if only else list(SERVERS)
    unknown = [s for s in chosen if s not in SERVERS]
    if unknown:
        raise ValueError(f"unknown server(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(SERVERS)}")
    return chosen


@contextlib.contextmanager
def _locked(settings: Settings, names: Sequence[str]) -> Iterator[None]:
    """One `up` or `down` at a time per run_dir: two test sessions (or a test session and
    a person) starting the stack together would otherwise both see it stopped and the
    second would fail on the ports the first just took. External servers need no lock
    and get no files in run_dir."""
    if not any(_is_local(settings, name) for name in names):
        yield
        return
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with (settings.run_dir / "stack.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _is_local(settings: Settings, name: str) -> bool:
    return bool(settings.clickhouse.local if name == "clickhouse" else settings.kafka.local)


def install(settings: Settings, only: Sequence[str] | None = None) -> None:
    """Install what the local servers need (Debian package, Kafka jars) without starting
    them; each step only when missing."""
    log = get_logger("stack")
    names = _pick(only)
    with _locked(settings, names):
        for name in names:
            if not _is_local(settings, name):
                log.info("stack.install_skipped", server=name, reason="external (local=false)")
            elif name == "clickhouse":
                log.info("stack.installed", server=name,
                         binary=clickhouse.ensure_installed(settings))
            else:
                kafka.require_java()
                log.info("stack.installed", server=name, version=settings.kafka.version,
                         libs=str(kafka.ensure_jars(settings)))


def up(settings: Settings, only: Sequence[str] | None = None) -> UpReport:
    """Start what is local and not running yet, wait until it answers, create the
    topics (also on an external cluster). Running servers are left as they are."""
    log = get_logger("stack")
    start = time.monotonic()
    report = UpReport()
    names = _pick(only)
    with _locked(settings, names):
        _up(settings, names, report)
    report.seconds = time.monotonic() - start
    log.info("stack.up", started=report.started or "nothing (already running)",
             took_s=round(report.seconds, 1))
    return report


def _up(settings: Settings, names: list[str], report: UpReport) -> None:
    log = get_logger("stack")
    for name in names:
        if not _is_local(settings, name):
            log.info("stack.external", server=name, note="local=false: nothing to start")
            continue
        mod = clickhouse if name == "clickhouse" else kafka
        if mod.start(settings):
            report.started.append(name)
    if "kafka" in names:
        report.topics = kafka.ensure_topics(settings)


def down(settings: Settings, only: Sequence[str] | None = None) -> list[str]:
    """Stop the local servers that run (ours, by pid); returns the names stopped. Kafka
    goes first so that nothing writes to ClickHouse from a half-stopped stack."""
    stopped = []
    names = _pick(only)
    with _locked(settings, names):
        for name in reversed(names):
            if not _is_local(settings, name):
                continue
            mod = clickhouse if name == "clickhouse" else kafka
            if mod.stop(settings):
                stopped.append(name)
    return stopped


def status(settings: Settings, only: Sequence[str] | None = None) -> list[ServerStatus]:
    rows = []
    for name in _pick(only):
        mod = clickhouse if name == "clickhouse" else kafka
        rows.append(mod.check(settings))
    return rows
