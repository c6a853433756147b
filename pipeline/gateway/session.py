"""One logger connection: bytes in, frames out to the spool, answers back once kept.

A ``Session`` is an ``asyncio.Protocol`` (callbacks, no task per connection), so 10 k idle
loggers cost one small object and one Framer each. It works with the gateway's shared
``GatewayContext`` (counters, spool, directory, settings, limits), never with the
``Gateway`` itself. For every read:

1. ``Framer.feed`` cuts frames (split over reads, several per read, garbage between them;
   the Framer never holds more than one largest legal frame).
2. ``verdict.judge`` decides each frame or framing error: accepted, rejected (bad CRC,
   unknown MN, wrong PW ...), quarantined (unknown MN under ``unknown_mn =
   "quarantine"``), accepted with a warning (a CRC variant the station is allowed), or
   refused unread (its source IP is blocked). The session applies the verdict: appends the
   envelope to the spool (rejects too: raw bytes and the reason), bumps the counters, logs,
   and builds the answer the verdict names.
3. The answers (9014, 9013, 9011 with QnRtn) are written only when the spool has fsynced
   the read's records, so an answered frame survives a crash.

Back-pressure instead of dropping: reading pauses while the spool is at its cap, while an
MN is over its frame rate, and while the logger does not read its answers. A source IP
that keeps sending wrong passwords is slowed (reading paused, answers delayed), then
blocked (its connections closed, new ones refused) for a while (``auth_guard.py``).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

import hj212

from pipeline.gateway import envelope
from pipeline.gateway.auth_guard import SourceLevel
from pipeline.gateway.context import GatewayContext
from pipeline.gateway.publisher import FRAMES, REJECTS
from pipeline.gateway.spool import SpoolError
from pipeline.gateway.verdict import ACCEPT, LOG_REJECT, Action, answer_to, judge

#: how many rejects (and warnings) per connection are logged one by one before only every
#: 100th is
_LOG_REJECTS = 20
_ACCEPT = Action.ACCEPT
#: answer CN bytes -> the label (a handful of CNs: decoded once)
_ANSWER_CNS: dict[bytes, str] = {}
_FRAME = hj212.Frame
_accept_frame = hj212.accept_frame


class Session(asyncio.Protocol):
    def __init__(self, ctx: GatewayContext) -> None:
        self.ctx = ctx
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.ip = "?"
        self._ip_b = b"?"
        self._peer_b = b"?"
        self._sender = envelope.sender_part(ctx.id_bytes, self._peer_b)
        self.framer = hj212.Framer(strict=ctx.settings.strict)
        self.last_active = 0.0
        self.mns: set[str] = set()
        self.admitted = False
        self.closing = False
        self._paused: set[str] = set()
        self._rejects = 0
        self._warned = 0
        self._rate_until = 0.0
        #: the Kafka key of the MN last kept by the fast path
        self._key_mn = ""
        self._key = b""
        self.log: Any = ctx.log

    # --- connection life ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self.ip = str(peer[0])
            self._ip_b = self.ip.encode()
            self.peer = f"[{peer[0]}]:{peer[1]}" if ":" in self.ip else f"{peer[0]}:{peer[1]}"
        self._peer_b = self.peer.encode("ascii", "replace")[:255]
        self._sender = envelope.sender_part(self.ctx.id_bytes, self._peer_b)
        self.log = self.ctx.log.bind(peer=self.peer)
        self.last_active = time.monotonic()
        refused = self.ctx.admit(self)
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
            self.ctx.release(self)
            self.log.debug("connection.closed", error=str(exc) if exc else None,
                           mns=sorted(self.mns))

    def pause_writing(self) -> None:
        self.pause("writing")

    def resume_writing(self) -> None:
        self.resume("writing")

    def pause(self, why: str) -> None:
        """Stop reading until every reason given here is resumed."""
        if not self._paused and self.transport is not None and not self.closing:
            self.transport.pause_reading()
        self._paused.add(why)

    def resume(self, why: str) -> None:
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
        self.ctx.metrics.bytes_out += len(data)
        return True

    # --- data -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        ctx = self.ctx
        ctx.metrics.bytes_in += len(data)
        mn = self._key_mn
        station = ctx.directory.lookup(mn) if mn else None
        guard = ctx.guard
        if station is None or (guard.blocked and guard.is_blocked(self.ip)):
            items = self.framer.feed(data)
        else:
            # the read loggers make most: one frame from the MN this connection sent last,
            # with its PW, kept and answered with no Frame made (see _accept_one)
            spool = ctx.spool
            out = self.framer.feed_accepting(data, mn, station.pw, FRAMES, self._key,
                                             time.time_ns(), spool.next_seq, self._sender)
            if isinstance(out, tuple):
                self._keep_accepted(mn, *out)
                return
            items = out
        if not items:
            return
        if len(items) == 1 and self._accept_one(items[0]):
            return
        self._handle(items, answer=True)

    def _accept_one(self, item: Any) -> bool:
        """The case loggers make most: one well-formed frame in a read, from a known MN
        with its PW, already seen on this connection, not a command answer. Kept, counted
        and answered as ``_handle`` does for an ACCEPT verdict, without its loop and
        bookkeeping; False (nothing done) for anything else, which ``_handle`` takes.
        Its MN becomes the one ``data_received`` gives ``Framer.feed_accepting``, which
        makes the same checks in Rust from the next read on."""
        if type(item) is not _FRAME:
            return False
        ctx = self.ctx
        mn = item.mn
        if mn is None or mn not in self.mns:
            return False  # a connection's first frame of an MN binds its log: _handle
        station = ctx.directory.lookup(mn)
        if station is None or station.pw != item.pw or ctx.guard.is_blocked(self.ip):
            return False
        cn = item.cn
        if cn == "9011" or cn == "9012":
            return False  # the downlink's answers
        if mn != self._key_mn:
            self._key_mn, self._key = mn, mn.encode("ascii", "replace")
        # the envelope, its spool record and the answer in one call into Rust: the
        # Python references are envelope.encode_accepted, spool.record and hj212.answer
        self._keep_accepted(mn, cn, *_accept_frame(item, FRAMES, self._key, time.time_ns(),
                                                   ctx.spool.next_seq, self._sender))
        return True

    def _keep_accepted(self, mn: str, cn: str, value: bytes, rec: bytes, reply: bytes | None
                       ) -> None:
        """Keep, count and answer (once kept) an accepted frame of ``mn`` whose envelope
        and spool record are made (with ``self._key`` as the key)."""
        ctx = self.ctx
        spool = ctx.spool
        try:
            fut = spool.append_record(FRAMES, self._key, value, rec)
        except SpoolError as exc:
            self.log.error("spool.refused", error=str(exc),
                           why="closing the connection unanswered so the logger resends")
            self.close()
            return
        ctx.metrics.frames[(cn, "accepted")] += 1
        ctx.live[mn] = self
        if reply is not None:
            ctx.when_kept(fut, self._answer, [reply])
        if not spool.has_room():
            self.pause("spool")
            spool.wait_room(lambda: self.resume("spool"))
        delay = ctx.rates.take(mn, 1)
        if delay > 0:
            self._throttle(delay)

    def eof_received(self) -> bool | None:
        return None  # close our side too; connection_lost handles the Framer's leftovers

    def _handle(self, items: list[Any], *, answer: bool) -> None:
        ctx = self.ctx
        spool = ctx.spool
        metrics = ctx.metrics
        directory = ctx.directory
        policy = ctx.policy
        blocked = ctx.guard.is_blocked(self.ip)
        slowed = newly_blocked = False
        now_ns = time.time_ns()
        answers: list[bytes] = []
        fut: asyncio.Future[None] | None = None
        rates = ctx.rates
        rate_delay = 0.0
        frames_counter = metrics.frames
        live = ctx.live
        try:
            for item in items:
                v = judge(item, directory, policy, blocked)
                if v is ACCEPT:
                    frame = item
                elif v.action is _ACCEPT:
                    # read again under its station's CRC variant: that frame is answered
                    frame = cast(hj212.Frame, v.reread)
                else:
                    subject = item if v.reread is None else v.reread
                    mn = subject.mn or ""
                    cn = subject.cn or "?"
                    fut = self._keep(v.action, mn, v.reason, item.raw, now_ns)
                    metrics.frames[(cn, v.outcome)] += 1
                    if v.crc_variant is not None:
                        metrics.crc_variant_rejected[v.crc_variant] += 1
                    if v.log_event == LOG_REJECT:
                        self._log_reject(mn, cn, v.reason)
                    if v.auth_failure:
                        level = ctx.guard.failure(self.ip)
                        if level is SourceLevel.BLOCK:
                            blocked = newly_blocked = True
                        elif level is SourceLevel.SLOW:
                            slowed = True
                    reply = answer_to(v, subject) if answer else None
                    if reply is not None:
                        answers.append(reply)
                    continue
                mn = frame.mn or ""
                cn = frame.cn
                if v is ACCEPT:
                    # the hot path: the envelope's per-connection part is encoded already
                    fut = spool.append(FRAMES, mn.encode("ascii", "replace") if mn
                                       else self._ip_b,
                                       envelope.encode_accepted(now_ns, spool.next_seq,
                                                                self._sender, item.raw))
                else:
                    fut = self._keep(envelope.ACCEPTED, mn, v.reason, item.raw, now_ns)
                frames_counter[(cn, "accepted")] += 1
                delay = rates.take(mn, 1)
                if delay > rate_delay:
                    rate_delay = delay
                if mn not in self.mns:
                    self.mns.add(mn)
                    self.log = self.log.bind(mn=mn)
                live[mn] = self
                if cn in ("9011", "9012") and ctx.command_answers is not None:
                    ctx.command_answers.on_answer(frame, self)
                if v.crc_variant is not None:
                    metrics.crc_variant_frames[(mn, v.crc_variant)] += 1
                    self._log_warning(mn, cn, v.reason)
                reply = hj212.answer(frame) if answer else None
                if reply is not None:
                    answers.append(reply)
        except SpoolError as exc:
            self.log.error("spool.refused", error=str(exc),
                           why="closing the connection unanswered so the logger resends")
            self.close()
            return
        if newly_blocked:
            ctx.block_source(self.ip)  # closes this connection too: its answers go nowhere
            return
        if fut is not None and answers:
            if slowed:
                delay = ctx.guard.limits.delay_s
                loop = asyncio.get_running_loop()
                fut.add_done_callback(
                    lambda f, a=answers: loop.call_later(  # type: ignore[misc]
                        delay, self._answer, f, a))
            else:
                ctx.when_kept(fut, self._answer, answers)
        if slowed:
            self._slow_down()
        if not spool.has_room():
            self.pause("spool")
            spool.wait_room(lambda: self.resume("spool"))
        if rate_delay > 0:
            self._throttle(rate_delay)

    def _throttle(self, delay: float) -> None:
        """An MN is over its frame rate: one pause for the read, as long as its most
        throttled MN needs."""
        self.ctx.metrics.throttled_total += 1
        self.pause("rate")
        loop = asyncio.get_running_loop()
        until = loop.time() + delay
        if until > self._rate_until:
            self._rate_until = until
            loop.call_at(until, self._rate_resume)

    def _rate_resume(self) -> None:
        # an earlier, shorter pause must not end a later, longer one
        if asyncio.get_running_loop().time() >= self._rate_until - 1e-3:
            self.resume("rate")

    def _slow_down(self) -> None:
        """This connection's source keeps sending wrong passwords: read nothing more from
        it for a while (its answers wait as long)."""
        delay = self.ctx.guard.limits.delay_s
        self.ctx.metrics.auth_slowed_total += 1
        if delay > 0 and "auth" not in self._paused:
            self.pause("auth")
            asyncio.get_running_loop().call_later(delay, self.resume, "auth")
        if self._rejects <= _LOG_REJECTS or self._rejects % 100 == 0:
            self.log.info("source.slowed", ip=self.ip, delay_s=delay,
                          wrong_passwords=self.ctx.guard.failures(self.ip),
                          window_s=self.ctx.guard.limits.window_s)

    def _keep(self, kind: int, mn: str, reason: str, raw: bytes, now_ns: int
              ) -> asyncio.Future[None]:
        ctx = self.ctx
        spool = ctx.spool
        value = envelope.encode(kind, now_ns, spool.next_seq, ctx.id_bytes, self._peer_b,
                                reason.encode()[:65535], raw)
        # a reject without a readable MN is keyed by the peer's address, to keep its order
        key = mn.encode("ascii", "replace") if mn else self._ip_b
        return spool.append(FRAMES if kind == envelope.ACCEPTED else REJECTS, key, value)

    def _answer(self, fut: asyncio.Future[None], answers: list[bytes]) -> None:
        if fut.exception() is not None:
            self.log.error("spool.write_failed_unanswered", frames=len(answers),
                           error=str(fut.exception()))
            self.close()
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        data = answers[0] if len(answers) == 1 else b"".join(answers)
        transport.write(data)
        metrics = self.ctx.metrics
        metrics.bytes_out += len(data)
        counts = metrics.answers
        for a in answers:
            i = a.find(b"CN=") + 3
            cn = _ANSWER_CNS.get(a[i:i + 4])
            if cn is None:
                cn = _ANSWER_CNS[a[i:i + 4]] = a[i:i + 4].decode("ascii", "replace")
            counts[cn] += 1

    def _log_reject(self, mn: str, cn: str, reason: str) -> None:
        self._rejects += 1
        if self._rejects <= _LOG_REJECTS or self._rejects % 100 == 0:
            self.log.info("frame.rejected", mn=mn or None, cn=cn, reason=reason,
                          rejects_on_connection=self._rejects)

    def _log_warning(self, mn: str, cn: str, warning: str) -> None:
        self._warned += 1
        if self._warned <= _LOG_REJECTS or self._warned % 100 == 0:
            self.log.warning("frame.crc_variant", mn=mn, cn=cn, warning=warning,
                             warned_on_connection=self._warned,
                             fix="fix the logger's CRC, then drop crc_variants from its "
                                 "registry row")
