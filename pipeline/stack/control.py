"""The stack as a whole: which servers, in which order, local or external."""

from __future__ import annotations

import time
from collections.abc import Sequence
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


def _is_local(settings: Settings, name: str) -> bool:
    return bool(settings.clickhouse.local if name == "clickhouse" else settings.kafka.local)


def install(settings: Settings, only: Sequence[str] | None = None) -> None:
    """Install what the local servers need (Debian package, Kafka jars) without starting
    them; each step only when missing."""
    log = get_logger("stack")
    for name in _pick(only):
        if not _is_local(settings, name):
            log.info("stack.install_skipped", server=name, reason="external (local=false)")
        elif name == "clickhouse":
            log.info("stack.installed", server=name,
                     binary=clickhouse.ensure_installed(settings))
        else:
            kafka.require_java()
            log.info("stack.installed", server=name, libs=str(kafka.ensure_jars(settings)),
                     version=settings.kafka.version)


def up(settings: Settings, only: Sequence[str] | None = None) -> UpReport:
    """Start what is local and not running yet, wait until it answers, create the
    topics (also on an external cluster). Running servers are left as they are."""
    log = get_logger("stack")
    start = time.monotonic()
    report = UpReport()
    for name in _pick(only):
        if not _is_local(settings, name):
            log.info("stack.external", server=name, note="local=false: nothing to start")
            continue
        mod = clickhouse if name == "clickhouse" else kafka
        if mod.start(settings):
            report.started.append(name)
    if "kafka" in _pick(only):
        report.topics = kafka.ensure_topics(settings)
    report.seconds = time.monotonic() - start
    log.info("stack.up", started=report.started or "nothing (already running)",
             took_s=round(report.seconds, 1))
    return report


def down(settings: Settings, only: Sequence[str] | None = None) -> list[str]:
    """Stop the local servers that run (ours, by pid); returns the names stopped. Kafka
    goes first so that nothing writes to ClickHouse from a half-stopped stack."""
    stopped = []
    for name in reversed(_pick(only)):
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
