"""The small shared state every connection of one gateway works with.

A ``Session`` (and the downlink) talk to a ``GatewayContext``, not to the ``Gateway``: the
counters, the spool, the station directory, the settings and the verdict policy, the
connection limits (total, per IP, frames per MN, wrong passwords per IP), the connections
open now and which one last spoke for each MN, and the downlink's hook for 9011/9012
answers. The ``Gateway`` owns the life cycle (listener, publisher, downlink, stop) and
hands this object to each session it makes, as uvicorn hands its protocol objects a
shared server state.

Connections are seen through the ``Connection`` protocol, so this module needs nothing of
``session.py`` (which imports it) and the import graph stays acyclic.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import hj212

from pipeline.config import Settings
from pipeline.gateway.auth import StationDirectory
from pipeline.gateway.auth_guard import AuthGuard, AuthLimits
from pipeline.gateway.metrics import Metrics
from pipeline.gateway.rate import TokenBuckets
from pipeline.gateway.spool import Spool
from pipeline.gateway.verdict import Policy

#: sources whose wrong passwords a process shares with its siblings at most (those with the
#: most): a guesser spread over many addresses must not make the files huge
SHARED_FAILURES_MAX = 1_000


class Connection(Protocol):
    """What the gateway and the downlink use of one logger connection (a Session)."""

    @property
    def ip(self) -> str: ...
    @property
    def peer(self) -> str: ...
    @property
    def mns(self) -> set[str]: ...
    @property
    def last_active(self) -> float: ...
    @property
    def log(self) -> Any: ...
    def send(self, data: bytes) -> bool: ...
    def pause(self, why: str) -> None: ...
    def close(self) -> None: ...


class CommandAnswers(Protocol):
    """Where a logger's 9011/9012 answers go (the downlink)."""

    def on_answer(self, frame: hj212.Frame, conn: Connection) -> None: ...


class DownlinkHost(Protocol):
    """What the downlink needs of its gateway (a ``GatewayContext`` or a ``Gateway``)."""

    @property
    def id(self) -> str: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def directory(self) -> StationDirectory: ...
    @property
    def live(self) -> Mapping[str, Connection]: ...
    @property
    def metrics(self) -> Metrics: ...


#: writes a read's answers once its records are kept (Session._answer)
AnswerWriter = Callable[["asyncio.Future[None]", list[bytes]], None]


def _answer_all(kept: asyncio.Future[None],
                waiting: list[tuple[AnswerWriter, list[bytes]]]) -> None:
    for write, answers in waiting:
        write(kept, answers)


class GatewayContext:
    def __init__(self, settings: Settings, *, gateway_id: str, metrics: Metrics, spool: Spool,
                 directory: StationDirectory, log: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.id = gateway_id
        self.id_bytes = gateway_id.encode()[:255]
        self.metrics = metrics
        self.spool = spool
        self.directory = directory
        self.log = log
        self.clock = clock
        self.sessions: set[Connection] = set()
        self.per_ip: Counter[str] = Counter()
        #: MN -> the connection that last sent an accepted frame from it (for downlink)
        self.live: dict[str, Connection] = {}
        #: the downlink, while it runs
        self.command_answers: CommandAnswers | None = None
        self.rates = TokenBuckets(settings.gateway.frames_per_s_per_mn, clock)
        #: the spool fsync the latest reads wait for, and their answer writers
        self._kept: asyncio.Future[None] | None = None
        self._kept_waiting: list[tuple[AnswerWriter, list[bytes]]] = []
        self.guard = AuthGuard(AuthLimits.of(settings.gateway), clock)
        self.settings = settings

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        # what is derived from the settings follows them (tests replace them before start)
        self._settings = settings
        self.policy = Policy.of(settings)
        self.rates.rate = settings.gateway.frames_per_s_per_mn
        self.guard.limits = AuthLimits.of(settings.gateway)

    # --- answers -----------------------------------------------------------------------

    def when_kept(self, kept: asyncio.Future[None], write: AnswerWriter, answers: list[bytes]
                  ) -> None:
        """Call ``write(kept, answers)`` once ``kept`` (a spool fsync group) completes.

        Every read appended in one fsync group waits on the same future, so one callback
        answers them all, in the order they were read: a callback per read would cost the
        event loop a handle per frame when loggers send one frame per read."""
        if kept is not self._kept or kept.done():
            self._kept = kept
            waiting: list[tuple[AnswerWriter, list[bytes]]] = []
            self._kept_waiting = waiting
            kept.add_done_callback(lambda f: _answer_all(f, waiting))
        self._kept_waiting.append((write, answers))

    # --- connections -------------------------------------------------------------------

    def admit(self, conn: Connection) -> str | None:
        """None to admit, else why the connection is refused."""
        g = self._settings.gateway
        metrics = self.metrics
        if len(self.sessions) >= g.max_connections:
            metrics.connections_refused["max_connections"] += 1
            return f"max_connections={g.max_connections} reached (HJ212_GATEWAY__MAX_CONNECTIONS)"
        if self.per_ip[conn.ip] >= g.max_per_ip:
            metrics.connections_refused["max_per_ip"] += 1
            return (f"max_per_ip={g.max_per_ip} connections from {conn.ip} reached "
                    "(HJ212_GATEWAY__MAX_PER_IP)")
        if self.guard.is_blocked(conn.ip):
            metrics.connections_refused["auth_blocked"] += 1
            return (f"{conn.ip} is refused for sending too many wrong passwords "
                    f"(HJ212_GATEWAY__AUTH_FAIL_BLOCK_AFTER, HJ212_GATEWAY__AUTH_BLOCK_S)")
        self.sessions.add(conn)
        self.per_ip[conn.ip] += 1
        metrics.connections_total += 1
        metrics.connections_open = len(self.sessions)
        return None

    def release(self, conn: Connection) -> None:
        self.sessions.discard(conn)
        self.per_ip[conn.ip] -= 1
        if self.per_ip[conn.ip] <= 0:
            del self.per_ip[conn.ip]
        for mn in conn.mns:
            if self.live.get(mn) is conn:
                del self.live[mn]
        self.metrics.connections_open = len(self.sessions)

    def block_source(self, ip: str) -> None:
        """``ip`` was just blocked (``AuthGuard.failure`` said BLOCK): close its
        connections; new ones are refused by ``admit`` until the block ends."""
        lim = self.guard.limits
        self.metrics.auth_blocked_total += 1
        self.log.warning("source.blocked", ip=ip, block_s=lim.block_s,
                         wrong_passwords=lim.block_after, window_s=lim.window_s,
                         connections_closed=self._close_source(ip),
                         fix="set the logger's PW (or the registry's); loggers behind the "
                             "same address are refused too until the block ends")

    def adopt_blocks(self, blocks: Mapping[str, float], now_wall: float) -> list[str]:
        """Blocks another gateway process on this port made (IP -> end, Unix time): each
        new one is refused here too, its connections closed; the IPs newly refused."""
        adopted = [ip for ip, until in blocks.items()
                   if self.guard.adopt(ip, until - now_wall)]
        for ip in adopted:
            self.log.warning("source.blocked", ip=ip, by="another gateway process",
                             block_s=round(blocks[ip] - now_wall, 1),
                             connections_closed=self._close_source(ip))
        return adopted

    def failures_out(self, now_wall: float, limit: int = SHARED_FAILURES_MAX
                     ) -> dict[str, list[float]]:
        """This process's recent wrong passwords per source IP, as Unix times, for the
        sibling processes."""
        to_wall = now_wall - self.guard.clock()
        return {ip: [to_wall + t for t in times]
                for ip, times in self.guard.recent_failures(limit).items()}

    def adopt_failures(self, failures: Mapping[str, Sequence[float]], now_wall: float) -> None:
        """The wrong passwords the sibling processes counted (IP -> Unix times), counted
        here with this process's own."""
        to_clock = self.guard.clock() - now_wall
        self.guard.set_elsewhere({ip: [to_clock + t for t in times]
                                  for ip, times in failures.items()})

    def _close_source(self, ip: str) -> int:
        """Close every connection from the blocked ``ip``; how many there were."""
        self.metrics.auth_blocked_sources = self.guard.blocked_count
        conns = [c for c in self.sessions if c.ip == ip]
        for conn in conns:
            conn.close()
        return len(conns)

    def housekeeping(self) -> None:
        """Bound the per-MN and per-IP state and report ended blocks (every few seconds)."""
        self.rates.trim()
        for ip in self.guard.sweep():
            self.log.info("source.unblocked", ip=ip)
        self.metrics.auth_blocked_sources = self.guard.blocked_count
