"""Connections served by the Rust front end (``hj212.Front``, ``core_rs/src/front.rs``)
instead of asyncio's transports: ``gateway.io = "rust"``.

The front end's thread reads every socket. A connection's usual read (one frame from the
MN and PW it is bound to, within its rate) is kept there with no Python run for it; its
spool record is written when the gateway takes the group (`Front.take`, numbered from the
spool's next sequence number), appended as one blob (`Spool.append_records`, with the
group's token), and the group's answers are sent by the front end as soon as the spool's
writer thread has fsynced it (it calls the front end's release itself: no event-loop
turn between the fsync and the answers). Everything else reaches an ordinary ``Session`` through a
``FrontTransport``: a connection's first frames, rejects, command answers, closes, and any
read that is not the usual one (the front end then unbinds the connection and hands over
the read whole, with any frame begun before it). The session binds its connection again
once it has taken a frame by the short path and its framer holds nothing.

What a session would have done for each usual read is done here once per group: the
frames counter per CN, the connections' last activity and the live map, the frame rate
(each connection's frames in the group taken from its MN's bucket at once; one over it
pauses the connection's reading as a session does), the answers counter, the spool's
cap.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import hj212

from pipeline.gateway.context import GatewayContext
from pipeline.gateway.publisher import FRAMES
from pipeline.gateway.session import Session
from pipeline.gateway.spool import SpoolError

#: seconds between looks at the station directory: a reload unbinds every connection, so
#: a changed password is checked from the next read on
DIRECTORY_CHECK_S = 1.0


def _peername(peer: str) -> tuple[str, int]:
    host, _, port = peer.rpartition(":")
    return host.strip("[]"), int(port)


class FrontTransport:
    """What a ``Session`` uses of an asyncio transport, over one front-end connection."""

    def __init__(self, front: hj212.Front, conn: int, peer: str) -> None:
        self._front = front
        self.conn = conn
        self._peer = _peername(peer)
        self._closing = False
        #: the front end keeps this connection's usual reads
        self.bound = False
        #: the last data event the session has read (``Front.bind`` names it)
        self.data_seq = 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._peer if name == "peername" else default

    def write(self, data: bytes) -> None:
        if not self._closing:
            self._front.write(self.conn, data)

    def pause_reading(self) -> None:
        self._front.pause(self.conn)

    def resume_reading(self) -> None:
        self._front.resume(self.conn)

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._front.close(self.conn)

    def abort(self) -> None:
        if not self._closing:
            self._closing = True
            self._front.abort(self.conn)

    def is_closing(self) -> bool:
        return self._closing


class FrontServer:
    """The gateway's listener and connections on the Rust front end; ``close`` and
    ``wait_closed`` as an ``asyncio.Server``'s."""

    def __init__(self, ctx: GatewayContext, host: str, port: int, *, reuse_port: bool) -> None:
        self.ctx = ctx
        self.front = hj212.Front(host, port, reuse_port=reuse_port,
                                 strict=ctx.settings.strict)
        self.port = self.front.port
        self._conns: dict[int, tuple[Session, FrontTransport]] = {}
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.front.fd, self._on_wake)
        # the spool's writer sends a group's answers once it has synced the group
        ctx.spool.release_to(self.front)
        self._watch = asyncio.create_task(self._watch_directory(), name="front-directory")
        self._closed = asyncio.Event()

    # --- as an asyncio.Server -------------------------------------------------------------

    def close(self) -> None:
        """Stop accepting connections (those open stay until their sessions close)."""
        self.front.stop_listening()

    async def wait_closed(self) -> None:
        """Once every connection is closed, end the front end's thread."""
        deadline = time.monotonic() + 1.5  # the gateway gives this 2 s
        while self._conns and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self._watch.cancel()
        self._loop.remove_reader(self.front.fd)
        self.front.shutdown()

    # --- from the front end ---------------------------------------------------------------

    def _on_wake(self) -> None:
        ctx = self.ctx
        try:
            events, group = self.front.take(ctx.spool.next_seq, FRAMES)
        except RuntimeError:
            return  # shut down
        # the group first: a connection's frames kept there came before its events
        if group is not None:
            self._keep(*group)
        for ev in events:
            try:
                self._event(ev)
            except Exception as exc:  # one connection's fault, not the loop's
                # as asyncio does when a protocol callback raises: log it, drop the connection
                ctx.log.exception("front.event_failed", event=ev[0], conn=ev[1],
                                  error=str(exc))
                entry = self._conns.get(ev[1])
                if entry is not None:
                    entry[1].abort()

    def _event(self, ev: tuple[Any, ...]) -> None:
        kind, conn = ev[0], ev[1]
        conns = self._conns
        if kind == "data":
            entry = conns.get(conn)
            if entry is not None and not entry[1].is_closing():
                # (as asyncio's: a transport told to close delivers nothing more; the front
                # end may have read these bytes before the close reached it)
                session, transport = entry
                transport.bound = False
                transport.data_seq = ev[3]
                session.data_received(ev[2])
                self._bind(session, transport)
        elif kind == "open":
            transport = FrontTransport(self.front, conn, ev[2])
            session = Session(self.ctx)
            conns[conn] = (session, transport)
            session.connection_made(transport)  # type: ignore[arg-type]
        elif kind == "closed":
            entry = conns.pop(conn, None)
            if entry is not None:
                error = ev[2]
                entry[0].connection_lost(ConnectionError(error) if error else None)
        elif kind == "write_paused":
            entry = conns.get(conn)
            if entry is not None:
                entry[0].pause_writing()
        elif kind == "write_resumed":
            entry = conns.get(conn)
            if entry is not None:
                entry[0].resume_writing()
        elif kind == "accept_failed":
            # (the front end reports it once a second at most; connections wait in the
            # listen queue meanwhile)
            self.ctx.metrics.accept_errors_total += 1
            self.ctx.log.error("gateway.accept_failed", error=ev[2],
                               why="new connections wait in the listen queue",
                               fix="raise the open-files limit (ulimit -n) or lower "
                                   "HJ212_GATEWAY__MAX_CONNECTIONS")

    def _bind(self, session: Session, transport: FrontTransport) -> None:
        """Let the front end keep this connection's usual reads, once its session has an MN
        for the short path and its framer holds nothing."""
        mn = session._key_mn
        if (not mn or transport.bound or session.closing or not session.admitted
                or session.framer.buffered):
            return
        station = self.ctx.directory.lookup(mn)
        if station is None or self.ctx.guard.is_blocked(session.ip):
            return
        transport.bound = True
        self.front.bind(transport.conn, transport.data_seq, mn, station.pw, session._key,
                        session._sender)

    def _keep(self, token: int, records: bytes, count: int, cns: dict[str, int],
              conns: list[tuple[int, str, int]], bytes_in: int,
              answers: dict[str, int], answer_bytes: int) -> None:
        """A group of frames the front end kept: into the spool, counted, and answered
        once the spool has fsynced it."""
        ctx = self.ctx
        spool = ctx.spool
        held = [(mn, n, entry[0]) for c, mn, n in conns
                if (entry := self._conns.get(c)) is not None]
        sessions = [s for _, _, s in held]
        try:
            fut = spool.append_records(records, count, release=token)
        except SpoolError as exc:
            ctx.log.error("spool.refused", error=str(exc), frames=count,
                          why="closing the connections unanswered so the loggers resend")
            for s in sessions:
                s.close()
            return
        metrics = ctx.metrics
        metrics.bytes_in += bytes_in
        metrics.front_frames_total += count
        counter = metrics.frames
        for cn, n in cns.items():
            counter[(cn, "accepted")] += n
        now = time.monotonic()
        live = ctx.live
        rates = ctx.rates
        for mn, n, s in held:
            s.last_active = now
            live[mn] = s
            delay = rates.take(mn, n)
            if delay > 0:
                s._throttle(delay)

        def answered(kept_fut: asyncio.Future[None], _: list[bytes]) -> None:
            # the spool's writer sent the answers as soon as the group was synced
            if kept_fut.exception() is not None:
                ctx.log.error("spool.write_failed_unanswered", frames=count,
                              error=str(kept_fut.exception()))
                for s in sessions:
                    s.close()
                return
            metrics.bytes_out += answer_bytes
            for cn, n in answers.items():
                metrics.answers[cn] += n

        ctx.when_kept(fut, answered, [])
        if not spool.has_room():
            for s in sessions:
                s.pause("spool")

            def resume() -> None:
                for s in sessions:
                    s.resume("spool")

            spool.wait_room(resume)

    async def _watch_directory(self) -> None:
        directory = self.ctx.directory
        seen = getattr(directory, "loaded_at", None)
        while True:
            await asyncio.sleep(DIRECTORY_CHECK_S)
            now = getattr(directory, "loaded_at", None)
            if now != seen:
                seen = now
                self.front.unbind_all()
                for _, transport in self._conns.values():
                    transport.bound = False
