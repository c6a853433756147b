"""One logger connection: bytes in, frames out to the spool, answers back once kept.

A ``Session`` is an ``asyncio.Protocol`` (callbacks, no task per connection), so 10 k idle
loggers cost one small object and one Framer each. For every read:

1. ``Framer.feed`` cuts frames (split over reads, several per read, garbage between them;
   the Framer never holds more than one largest legal frame).
2. Each frame or framing error is judged: accepted, rejected (bad CRC, unknown MN, wrong
   PW ...) or quarantined (unknown MN under ``unknown_mn = "quarantine"``), and appended
   to the spool as an envelope (rejects too: raw bytes and the reason).
3. The answers the standard asks for (9014, 9013, 9011 with QnRtn) are written only when
   the spool has fsynced the read's records, so an answered frame survives a crash.

Back-pressure instead of dropping: reading pauses while the spool is at its cap, while an
MN is over its frame rate, and while the logger does not read its answers.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, cast

import hj212

from pipeline.gateway import envelope
from pipeline.gateway.publisher import FRAMES, REJECTS
from pipeline.gateway.spool import SpoolError

if TYPE_CHECKING:
    from pipeline.gateway.server import Gateway

#: how many rejects per connection are logged one by one before only every 100th is
_LOG_REJECTS = 20


class Session(asyncio.Protocol):
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.ip = "?"
        self._peer_b = b"?"
        self.framer = hj212.Framer(strict=gateway.settings.strict)
        self.last_active = 0.0
        self.mns: set[str] = set()
        self.admitted = False
        self.closing = False
        self._paused: set[str] = set()
        self._rejects = 0
        self._rate_until = 0.0
        self.log: Any = gateway.log

    # --- connection life ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.ip = str(peer[0])
            self.peer = f"[{peer[0]}]:{peer[1]}" if ":" in self.ip else f"{peer[0]}:{peer[1]}"
        self._peer_b = self.peer.encode("ascii", "replace")[:255]
        self.log = self.gw.log.bind(peer=self.peer)
        self.last_active = time.monotonic()
        refused = self.gw.admit(self)
        if refused:
            self.log.warning("connection.refused", reason=refused)
            self.transport.abort()
            return
        self.admitted = True
        self.log.debug("connection.open")

    def connection_lost(self, exc: Exception | None) -> None:
        if self.admitted:
            self.admitted = False
            # whatever the Framer held becomes a reject: nothing that arrived is dropped
            leftovers = self.framer.finish()
            if leftovers:
                self._handle(leftovers, answer=False)
            self.gw.release(self)
            self.log.debug("connection.closed", error=str(exc) if exc else None,
                           mns=sorted(self.mns))

    def pause_writing(self) -> None:
        self._pause("writing")

    def resume_writing(self) -> None:
        self._resume("writing")

    def _pause(self, why: str) -> None:
        if not self._paused and self.transport is not None and not self.closing:
            self.transport.pause_reading()
        self._paused.add(why)

    def _resume(self, why: str) -> None:
        self._paused.discard(why)
        if not self._paused and self.transport is not None and not self.closing:
            self.transport.resume_reading()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def send(self, data: bytes) -> bool:
        """Write a downlink request; False when the connection is gone."""
        if self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        self.gw.metrics.bytes_out += len(data)
        return True

    # --- data -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        self.gw.metrics.bytes_in += len(data)
        items = self.framer.feed(data)
        if items:
            self._handle(items, answer=True)

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost handles the Framer's leftovers

    def _handle(self, items: list[Any], *, answer: bool) -> None:
        gw = self.gw
        spool = gw.spool
        metrics = gw.metrics
        now_ns = time.time_ns()
        answers: list[bytes] = []
        fut: asyncio.Future[None] | None = None
        counted: dict[str, int] = {}
        try:
            for item in items:
                if isinstance(item, hj212.FrameError):
                    reason = f"{item.kind}: {item.message}"
                    mn = item.mn or ""
                    cn = item.cn or "?"
                    fut = self._keep(envelope.REJECTED, mn, reason, item.raw, now_ns)
                    metrics.frames[(cn, "rejected_" + item.kind)] += 1
                    self._log_reject(mn, cn, reason)
                    if answer:
                        reply = hj212.answer_error(item)
                        if reply is not None:
                            answers.append(reply)
                    continue
                mn = item.mn or ""
                cn = item.cn
                station = gw.directory.lookup(mn)
                if station is None:
                    if gw.settings.gateway.unknown_mn == "quarantine":
                        reason = f"quarantine: MN {mn!r} is not in the station registry"
                        fut = self._keep(envelope.QUARANTINED, mn, reason, item.raw, now_ns)
                        metrics.frames[(cn, "quarantined")] += 1
                        self._log_reject(mn, cn, reason)
                        reply = hj212.answer(item) if answer else None
                    else:
                        reason = (f"unknown_mn: MN {mn!r} is not in the station registry; "
                                  "import the station or fix the logger's MN")
                        fut = self._keep(envelope.REJECTED, mn, reason, item.raw, now_ns)
                        metrics.frames[(cn, "rejected_unknown_mn")] += 1
                        self._log_reject(mn, cn, reason)
                        reply = self._auth_answer(item, 4) if answer else None
                elif station.pw != item.pw:
                    reason = (f"wrong_pw: PW {item.pw!r} does not match the registry's for MN "
                              f"{mn}; set the logger's PW or update the registry")
                    fut = self._keep(envelope.REJECTED, mn, reason, item.raw, now_ns)
                    metrics.frames[(cn, "rejected_wrong_pw")] += 1
                    self._log_reject(mn, cn, reason)
                    reply = self._auth_answer(item, 3) if answer else None
                else:
                    fut = self._keep(envelope.ACCEPTED, mn, "", item.raw, now_ns)
                    metrics.frames[(cn, "accepted")] += 1
                    counted[mn] = counted.get(mn, 0) + 1
                    if mn not in self.mns:
                        self.mns.add(mn)
                        self.log = self.log.bind(mn=mn)
                    gw.live[mn] = self
                    if cn in ("9011", "9012") and gw.downlink is not None:
                        gw.downlink.on_answer(item, self)
                    reply = hj212.answer(item) if answer else None
                if reply is not None:
                    answers.append(reply)
        except SpoolError as exc:
            self.log.error("spool.refused", error=str(exc),
                           why="closing the connection unanswered so the logger resends")
            self.close()
            return
        if fut is not None and answers:
            fut.add_done_callback(lambda f, a=answers: self._answer(f, a))  # type: ignore[misc]
        if not spool.has_room():
            self._pause("spool")
            spool.wait_room(lambda: self._resume("spool"))
        for mn, n in counted.items():
            delay = gw.throttle(mn, n)
            if delay > 0:
                metrics.throttled_total += 1
                self._pause("rate")
                loop = asyncio.get_running_loop()
                until = loop.time() + delay
                if until > self._rate_until:
                    self._rate_until = until
                    loop.call_at(until, self._rate_resume)

    def _rate_resume(self) -> None:
        # an earlier, shorter pause must not end a later, longer one
        if asyncio.get_running_loop().time() >= self._rate_until - 1e-3:
            self._resume("rate")

    def _keep(self, kind: int, mn: str, reason: str, raw: bytes, now_ns: int
              ) -> asyncio.Future[None]:
        gw = self.gw
        spool = gw.spool
        value = envelope.encode(kind, now_ns, spool.next_seq, gw.id_bytes, self._peer_b,
                                reason.encode()[:65535], raw)
        # a reject without a readable MN is keyed by the peer's address, to keep its order
        key = mn.encode("ascii", "replace") if mn else self.ip.encode()
        return spool.append(FRAMES if kind == envelope.ACCEPTED else REJECTS, key, value)

    def _auth_answer(self, frame: hj212.Frame, qn_rtn: int) -> bytes | None:
        # answer an auth failure only where the logger expects an answer at all
        if frame.needs_ack or hj212.answer(frame) is not None:
            return hj212.answer(frame, qn_rtn=qn_rtn)
        return None

    def _answer(self, fut: asyncio.Future[None], answers: list[bytes]) -> None:
        if fut.exception() is not None:
            self.log.error("spool.write_failed_unanswered", frames=len(answers),
                           error=str(fut.exception()))
            self.close()
            return
        if self.transport is None or self.transport.is_closing():
            return
        data = b"".join(answers)
        self.transport.write(data)
        metrics = self.gw.metrics
        metrics.bytes_out += len(data)
        for a in answers:
            metrics.answers[a[a.find(b"CN=") + 3:a.find(b"CN=") + 7].decode()] += 1

    def _log_reject(self, mn: str, cn: str, reason: str) -> None:
        self._rejects += 1
        if self._rejects <= _LOG_REJECTS or self._rejects % 100 == 0:
            self.log.info("frame.rejected", mn=mn or None, cn=cn, reason=reason,
                          rejects_on_connection=self._rejects)
