"""The gateway process: listener, the spool and its Kafka publisher, downlink, metrics,
housekeeping, and a graceful stop.

The state its connections share (counters, spool, directory, settings, limits, the
connections themselves) is one ``GatewayContext`` (``context.py``); each ``Session`` gets
that, not the gateway.

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
from collections.abc import Sized
from pathlib import Path
from typing import Any

from pipeline.config import Settings
from pipeline.gateway.auth import CachedDirectory, StationDirectory, clickhouse_loader, csv_loader
from pipeline.gateway.context import Connection, GatewayContext
from pipeline.gateway.downlink import Downlink, recorder_for
from pipeline.gateway.front import FrontServer
from pipeline.gateway.metrics import Metrics, serve_metrics
from pipeline.gateway.publisher import KafkaPublisher
from pipeline.gateway.session import Session
from pipeline.gateway.siblings import LiveBoard, Siblings
from pipeline.gateway.spool import Spool
from pipeline.logs import get_logger

#: seconds between checks of the MNs a process holds and the sources it blocks, for its
#: siblings, and of theirs (``siblings.py``)
LIVE_BOARD_INTERVAL_S = 0.25


class Gateway:
    def __init__(self, settings: Settings, *, directory: StationDirectory | None = None,
                 publish: bool = True, downlink: bool = True, spool_dir: Path | None = None,
                 reuse_port: bool = False, siblings: Siblings | None = None) -> None:
        g = settings.gateway
        self.id = g.id or socket.gethostname()
        self.log = get_logger("gateway", gateway=self.id)
        self.metrics = Metrics()
        self.spool = Spool(spool_dir or settings.spool_dir, max_bytes=settings.spool.max_bytes,
                           warn_ratio=settings.spool.warn_ratio,
                           fsync_interval=settings.spool.fsync_interval,
                           on_depth=self.metrics.set_spool_depth)
        self._own_directory = directory is None
        self.directory: StationDirectory = directory or self._make_directory(settings)
        self.context = GatewayContext(settings, gateway_id=self.id, metrics=self.metrics,
                                      spool=self.spool, directory=self.directory,
                                      log=self.log)
        self.publisher: KafkaPublisher | None = None
        if publish:
            self.publisher = KafkaPublisher(
                self.spool, bootstrap=settings.kafka.bootstrap,
                topics=[settings.topics.frames, settings.topics.rejects],
                client_id=settings.kafka.client_id, metrics=self.metrics,
                gateway_id=self.id)
        self._downlink: Downlink | None = None
        self._want_downlink = downlink
        self._server: asyncio.Server | FrontServer | None = None
        self._metrics_server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self.port = g.port
        #: SO_REUSEPORT: several gateway processes share the port (the kernel spreads the
        #: connections over them; ``hj212 gateway --processes N``)
        self.reuse_port = reuse_port
        #: with siblings on the port: the MNs each holds (for the downlink) and the
        #: sources each blocks
        self.board = LiveBoard(siblings) if siblings is not None else None
        self._board_task: asyncio.Task[None] | None = None

    @staticmethod
    def _make_directory(settings: Settings) -> CachedDirectory:
        g = settings.gateway
        if g.registry_csv:
            return CachedDirectory(csv_loader(Path(g.registry_csv)),
                                   refresh_s=g.registry_refresh,
                                   source=f"csv:{g.registry_csv}")
        return CachedDirectory(clickhouse_loader(settings.clickhouse.dsn),
                               refresh_s=g.registry_refresh, source="clickhouse:stations")

    # --- what the connections share lives in the context ----------------------------------

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self.context.settings = settings

    @property
    def sessions(self) -> set[Connection]:
        return self.context.sessions

    @property
    def live(self) -> dict[str, Connection]:
        """MN -> the connection that last sent an accepted frame from it."""
        return self.context.live

    @property
    def downlink(self) -> Downlink | None:
        return self._downlink

    @downlink.setter
    def downlink(self, downlink: Downlink | None) -> None:
        # the sessions hand the loggers' 9011/9012 answers to it
        self._downlink = downlink
        self.context.command_answers = downlink

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        g = self.settings.gateway
        await self.spool.open()
        if isinstance(self.directory, CachedDirectory) and self._own_directory:
            await self.directory.load()
            self.directory.start()
        if self.publisher is not None:
            self.publisher.start()
        if self.board is not None:
            self.board.publish(())  # replaces what an earlier run left
            self._board_task = asyncio.create_task(self._publish_live(self.board),
                                                   name="live-board")
        if self._want_downlink and self.publisher is not None:
            self.downlink = downlink = Downlink(self.context, recorder_for(self.settings),
                                                board=self.board)
            downlink.start()
        loop = asyncio.get_running_loop()
        ctx = self.context
        try:
            if g.io == "rust":
                self._server = front = FrontServer(ctx, g.host, g.port,
                                                   reuse_port=self.reuse_port)
                self.port = front.port
            else:
                server = await loop.create_server(
                    lambda: Session(ctx), g.host, g.port, backlog=4096, reuse_address=True,
                    reuse_port=self.reuse_port or None)
                self._server = server
                self.port = server.sockets[0].getsockname()[1]
        except OSError as exc:
            raise OSError(f"the gateway cannot listen on {g.host}:{g.port}: {exc}; fix: stop "
                          "what holds the port or set HJ212_GATEWAY__PORT") from exc
        if g.metrics_port:
            self._metrics_server = await serve_metrics(self.metrics, g.host, g.metrics_port)
        self._sweeper = asyncio.create_task(self._sweep_idle(), name="idle-sweeper")
        self.log.info("gateway.listening", host=g.host, port=self.port,
                      spool=str(self.spool.dir), spool_backlog=self.spool.depth_records,
                      stations=len(self.directory) if isinstance(self.directory, Sized)
                      else None, unknown_mn=g.unknown_mn, io=g.io)

    async def stop(self) -> None:
        sessions = self.context.sessions
        self.log.info("gateway.stopping", connections=len(sessions),
                      spool_records=self.spool.depth_records)
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        for s in list(sessions):
            s.pause("shutdown")
        # every frame read so far: fsynced, then answered (the answers are the fsync's
        # callbacks, which run before anything scheduled after them)
        await self.spool.flushed()
        await asyncio.sleep(0)
        for s in list(sessions):
            s.close()
        if self.downlink is not None:
            await self.downlink.stop()
        if self._board_task is not None:
            self._board_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._board_task
        if self.board is not None:
            self.board.withdraw()
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

    # --- housekeeping -----------------------------------------------------------------

    async def _sweep_idle(self) -> None:
        ctx = self.context
        while True:
            timeout = ctx.settings.gateway.idle_timeout
            await asyncio.sleep(min(max(timeout / 4, 0.05), 5.0))
            cutoff = time.monotonic() - timeout
            idle = [s for s in ctx.sessions if s.last_active < cutoff]
            for s in idle:
                s.log.info("connection.idle_timeout", idle_s=timeout)
                s.close()
            ctx.housekeeping()

    async def _publish_live(self, board: LiveBoard) -> None:
        """What this process holds, blocks and counts against sources, for its siblings,
        when it changes; and the siblings' blocks and wrong passwords, taken in here."""
        ctx = self.context
        while True:
            await asyncio.sleep(LIVE_BOARD_INTERVAL_S)
            now = time.time()
            try:
                board.publish(ctx.live.keys())
                board.publish_blocks({ip: now + left for ip, left in ctx.guard.blocks().items()})
                ctx.adopt_blocks(board.sibling_blocks(), now)
                board.publish_failures(ctx.failures_out(now))
                ctx.adopt_failures(board.sibling_failures(), now)
            except OSError as exc:
                # meanwhile commands to this process's loggers may be recorded offline, and
                # blocks may hold on one process only
                self.log.warning("live_board.failed", error=str(exc),
                                 folder=str(board.siblings.folder))

    def stats(self) -> dict[str, Any]:
        return {"connections": len(self.sessions), "spool_records": self.spool.depth_records,
                "published": dict(self.metrics.published)}
