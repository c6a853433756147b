"""The gateway process: listener, limits, the spool and its Kafka publisher, downlink,
metrics, and a graceful stop.

``Gateway.start()`` opens the spool (publishing first whatever an earlier run left), loads
the station registry, then listens. ``Gateway.stop()`` stops accepting and reading, waits
until every frame read so far is fsynced and answered, closes the connections, gives Kafka
up to ``drain_timeout`` seconds to take the spool, and writes the spool's checkpoint.
What Kafka did not take stays in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import Counter
from collections.abc import Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.config import Settings
from pipeline.gateway.auth import CachedDirectory, StationDirectory, clickhouse_loader, csv_loader
from pipeline.gateway.metrics import Metrics, serve_metrics
from pipeline.gateway.publisher import KafkaPublisher
from pipeline.gateway.session import Session
from pipeline.gateway.spool import Spool
from pipeline.logs import get_logger

if TYPE_CHECKING:
    from pipeline.gateway.downlink import Downlink


class Gateway:
    def __init__(self, settings: Settings, *, directory: StationDirectory | None = None,
                 publish: bool = True, downlink: bool = True, spool_dir: Path | None = None
                 ) -> None:
        self.settings = settings
        g = settings.gateway
        self.id = g.id or socket.gethostname()
        self.id_bytes = self.id.encode()[:255]
        self.log = get_logger("gateway", gateway=self.id)
        self.metrics = Metrics()
        self.spool = Spool(spool_dir or settings.spool_dir, max_bytes=settings.spool.max_bytes,
                           warn_ratio=settings.spool.warn_ratio,
                           fsync_interval=settings.spool.fsync_interval,
                           on_depth=self.metrics.set_spool_depth)
        self._own_directory = directory is None
        self.directory: StationDirectory = directory or self._make_directory()
        self.publisher: KafkaPublisher | None = None
        if publish:
            self.publisher = KafkaPublisher(
                self.spool, bootstrap=settings.kafka.bootstrap,
                topics=[settings.topics.frames, settings.topics.rejects],
                client_id=settings.kafka.client_id, metrics=self.metrics,
                gateway_id=self.id)
        self.downlink: Downlink | None = None
        self._want_downlink = downlink
        self.sessions: set[Session] = set()
        self.per_ip: Counter[str] = Counter()
        #: MN -> the connection that last sent an accepted frame from it (for downlink)
        self.live: dict[str, Session] = {}
        self._buckets: dict[str, list[float]] = {}
        self._server: asyncio.Server | None = None
        self._metrics_server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.port = g.port

    def _make_directory(self) -> CachedDirectory:
        g = self.settings.gateway
        if g.registry_csv:
            return CachedDirectory(csv_loader(Path(g.registry_csv)),
                                   refresh_s=g.registry_refresh,
                                   source=f"csv:{g.registry_csv}")
        return CachedDirectory(clickhouse_loader(self.settings.clickhouse.dsn),
                               refresh_s=g.registry_refresh, source="clickhouse:stations")

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        g = self.settings.gateway
        await self.spool.open()
        if isinstance(self.directory, CachedDirectory) and self._own_directory:
            await self.directory.load()
            self.directory.start()
        if self.publisher is not None:
            self.publisher.start()
        if self._want_downlink and self.publisher is not None:
            from pipeline.gateway.downlink import Downlink, recorder_for

            self.downlink = Downlink(self, recorder_for(self.settings))
            self.downlink.start()
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: Session(self), g.host, g.port, backlog=4096, reuse_address=True)
        except OSError as exc:
            raise OSError(f"the gateway cannot listen on {g.host}:{g.port}: {exc}; fix: stop "
                          "what holds the port or set HJ212_GATEWAY__PORT") from exc
        self.port = self._server.sockets[0].getsockname()[1]
        if g.metrics_port:
            self._metrics_server = await serve_metrics(self.metrics, g.host, g.metrics_port)
        self._sweeper = asyncio.create_task(self._sweep_idle(), name="idle-sweeper")
        self.log.info("gateway.listening", host=g.host, port=self.port,
                      spool=str(self.spool.dir), spool_backlog=self.spool.depth_records,
                      stations=len(self.directory) if isinstance(self.directory, Sized)
                      else None, unknown_mn=g.unknown_mn)

    async def stop(self) -> None:
        self.log.info("gateway.stopping", connections=len(self.sessions),
                      spool_records=self.spool.depth_records)
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for s in list(self.sessions):
            s._pause("shutdown")
        # every frame read so far: fsynced, then answered (callbacks run in order)
        if self.spool._epoch is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.spool._epoch)
        await asyncio.sleep(0)
        for s in list(self.sessions):
            s.close()
        if self.downlink is not None:
            await self.downlink.stop()
        drained = True
        if self.publisher is not None:
            drained = await self.publisher.drain(self.settings.gateway.drain_timeout)
            await self.publisher.stop()
        await self.spool.close()
        if isinstance(self.directory, CachedDirectory) and self._own_directory:
            await self.directory.stop()
        if self._metrics_server is not None:
            self._metrics_server.close()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self.log.info("gateway.stopped", spool_records_left=self.spool.depth_records,
                      drained=drained)

    async def serve_forever(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    # --- limits -----------------------------------------------------------------------

    def admit(self, session: Session) -> str | None:
        """None to admit, else why the connection is refused."""
        g = self.settings.gateway
        if len(self.sessions) >= g.max_connections:
            reason = f"max_connections={g.max_connections} reached (HJ212_GATEWAY__MAX_CONNECTIONS)"
            self.metrics.connections_refused["max_connections"] += 1
            return reason
        if self.per_ip[session.ip] >= g.max_per_ip:
            self.metrics.connections_refused["max_per_ip"] += 1
            return (f"max_per_ip={g.max_per_ip} connections from {session.ip} reached "
                    "(HJ212_GATEWAY__MAX_PER_IP)")
        self.sessions.add(session)
        self.per_ip[session.ip] += 1
        self.metrics.connections_total += 1
        self.metrics.connections_open = len(self.sessions)
        return None

    def release(self, session: Session) -> None:
        self.sessions.discard(session)
        self.per_ip[session.ip] -= 1
        if self.per_ip[session.ip] <= 0:
            del self.per_ip[session.ip]
        for mn in session.mns:
            if self.live.get(mn) is session:
                del self.live[mn]
        self.metrics.connections_open = len(self.sessions)

    def throttle(self, mn: str, n: int) -> float:
        """Take ``n`` frames from ``mn``'s token bucket; seconds to pause reading (0: none)."""
        rate = self.settings.gateway.frames_per_s_per_mn
        now = time.monotonic()
        bucket = self._buckets.get(mn)
        if bucket is None:
            bucket = self._buckets[mn] = [max(rate, 1.0), now]
        tokens = min(max(rate, 1.0), bucket[0] + (now - bucket[1]) * rate) - n
        bucket[0], bucket[1] = tokens, now
        return -tokens / rate if tokens < 0 else 0.0

    async def _sweep_idle(self) -> None:
        timeout = self.settings.gateway.idle_timeout
        while True:
            await asyncio.sleep(min(max(timeout / 4, 0.05), 5.0))
            cutoff = time.monotonic() - timeout
            idle = [s for s in self.sessions if s.last_active < cutoff]
            for s in idle:
                s.log.info("connection.idle_timeout", idle_s=timeout)
                s.close()
            if len(self._buckets) > 100_000:
                self._buckets.clear()  # the buckets only matter for MNs sending now

    def stats(self) -> dict[str, Any]:
        return {"connections": len(self.sessions), "spool_records": self.spool.depth_records,
                "published": dict(self.metrics.published)}
