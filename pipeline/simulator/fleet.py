"""Many virtual loggers, each on its own asyncio TCP connection to the gateway.

One task per logger: connect (staggered at start, so a thousand loggers do not hit the
gateway in the same millisecond), then every ``tick`` wall seconds move the logger to the
simulated now and write what it sends; a reader task feeds what the gateway sends through
an ``hj212.Framer`` into the logger and writes its replies. A lost connection is retried
with exponential back-off and jitter, as field loggers on flaky 4G links do; while it is
down the logger keeps sampling and storing, so the gap can be back-filled later.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import hj212

from pipeline.simulator.clock import Clock
from pipeline.simulator.datalogger import VirtualLogger
from pipeline.simulator.faults import GroundTruth

_READ = 65536


@dataclass(slots=True)
class LinkStats:
    connects: int = 0
    connect_failures: int = 0
    dropped_by_peer: int = 0
    fault_disconnects: int = 0
    frames_in: int = 0
    bytes_in: int = 0
    bad_frames_in: int = 0
    online: bool = False


@dataclass(frozen=True, slots=True)
class FleetOptions:
    host: str = "127.0.0.1"
    port: int = 9212
    #: wall seconds between a logger's wake-ups; frames due in between go out together
    tick: float = 0.1
    #: wall seconds over which the first connections are spread
    stagger: float = 1.0
    connect_timeout: float = 5.0
    backoff_min: float = 0.5
    backoff_max: float = 30.0
    #: wall seconds a logger waits for its last answers when the run ends
    final_wait: float = 1.0
    seed: int = 0


@dataclass(slots=True)
class FleetTotals:
    loggers: int = 0
    online: int = 0
    sent: Counter[int] = field(default_factory=Counter)
    frames_sent: int = 0
    bytes_sent: int = 0
    acked: int = 0
    resent: int = 0
    unacked: int = 0
    withheld: int = 0
    requests: int = 0
    replayed: int = 0
    connects: int = 0
    connect_failures: int = 0
    frames_in: int = 0
    faults: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"loggers": self.loggers, "online": self.online,
                "frames_sent": self.frames_sent, "sent_by_cn": dict(sorted(self.sent.items())),
                "bytes_sent": self.bytes_sent, "acked": self.acked, "resent": self.resent,
                "unacked": self.unacked, "withheld": self.withheld,
                "requests": self.requests, "replayed": self.replayed,
                "connects": self.connects, "connect_failures": self.connect_failures,
                "frames_in": self.frames_in, "faults": dict(self.faults)}


class Fleet:
    def __init__(self, loggers: Sequence[VirtualLogger], clock: Clock,
                 options: FleetOptions = FleetOptions(),
                 truth: GroundTruth | None = None) -> None:
        self.loggers = list(loggers)
        self.clock = clock
        self.options = options
        self.truth = truth
        self.links = {lg.mn: LinkStats() for lg in self.loggers}
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    def totals(self) -> FleetTotals:
        t = FleetTotals(loggers=len(self.loggers))
        for lg in self.loggers:
            s = lg.stats
            link = self.links[lg.mn]
            t.online += link.online
            t.sent.update(s.sent)
            t.bytes_sent += s.bytes_sent
            t.acked += s.acked
            t.resent += s.resent
            t.unacked += s.unacked
            t.withheld += s.withheld
            t.requests += sum(s.requests.values())
            t.replayed += s.replayed
            t.connects += link.connects
            t.connect_failures += link.connect_failures
            t.frames_in += link.frames_in
            t.faults.update(s.faults)
        t.frames_sent = sum(t.sent.values())
        return t

    async def run(self, until: datetime | None = None,
                  progress: Callable[[Fleet], None] | None = None,
                  progress_every: float = 1.0) -> FleetTotals:
        """Run every logger until simulated ``until`` (or ``stop()``)."""
        tasks = [asyncio.create_task(self._logger(lg, until), name=f"logger-{lg.mn}")
                 for lg in self.loggers]
        reporter = None
        if progress is not None:
            reporter = asyncio.create_task(self._report(progress, progress_every))
        try:
            await asyncio.gather(*tasks)
        finally:
            self._stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
            if self.truth is not None:
                self.truth.close()
        return self.totals()

    async def _report(self, progress: Callable[[Fleet], None], every: float) -> None:
        while True:
            await asyncio.sleep(every)
            progress(self)

    def _now(self, until: datetime | None) -> datetime:
        now = self.clock.now()
        return now if until is None else min(now, until)

    def _done(self, lg: VirtualLogger, until: datetime | None) -> bool:
        """Stopped, or the run's end has come and this logger has sent everything up to
        it. A finite run ends by the data, not by the wall clock: a fleet too big for one
        process falls behind (see ``lag``) but still delivers the whole span."""
        if self._stop.is_set():
            return True
        return until is not None and self.clock.now() >= until and lg.next_sample > until

    def lag(self, until: datetime | None = None) -> float:
        """Simulated seconds the most delayed logger is behind the clock (about one
        sampling step when keeping up)."""
        now = self._now(until)
        return max((max((now - lg.next_sample).total_seconds(), 0.0) for lg in self.loggers),
                   default=0.0)

    async def _logger(self, lg: VirtualLogger, until: datetime | None) -> None:
        opts = self.options
        rng = random.Random(f"{opts.seed}:{lg.mn}:link")
        link = self.links[lg.mn]
        await self._sleep(rng.uniform(0, opts.stagger))
        backoff = opts.backoff_min
        while not self._done(lg, until):
            now = self._now(until)
            if not lg.wants_link(now):
                lg.advance(now, self.clock.wall(), online=False)
                await self._sleep(opts.tick)
                continue
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(opts.host, opts.port), opts.connect_timeout)
            except (OSError, TimeoutError):
                link.connect_failures += 1
                lg.advance(self._now(until), self.clock.wall(), online=False)
                await self._sleep(backoff * rng.uniform(0.5, 1.5))
                backoff = min(backoff * 2, opts.backoff_max)
                continue
            link.connects += 1
            link.online = True
            heard = link.frames_in
            try:
                await self._session(lg, link, reader, writer, until)
            finally:
                link.online = False
                lg.disconnected()
                writer.close()
                with contextlib.suppress(OSError, ConnectionError):
                    await writer.wait_closed()
            if link.frames_in > heard:
                backoff = opts.backoff_min  # the platform talked to us: the link was good
            elif lg.wants_link(self._now(until)) and not self._done(lg, until):
                # accepted and dropped without a word (a gateway refusing us, or sick):
                # back off as after a refused connection, or we would hammer it
                await self._sleep(backoff * rng.uniform(0.5, 1.5))
                backoff = min(backoff * 2, opts.backoff_max)

    async def _session(self, lg: VirtualLogger, link: LinkStats, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, until: datetime | None) -> None:
        clock = self.clock
        reading = asyncio.create_task(self._read(lg, link, reader, writer))
        try:
            first = lg.connected(self._now(until), clock.wall())
            if first:
                writer.write(b"".join(first))
            while not self._done(lg, until):
                now = self._now(until)
                if not lg.wants_link(now):
                    link.fault_disconnects += 1
                    return
                out = lg.advance(now, clock.wall())
                if out:
                    writer.write(b"".join(out))
                    await writer.drain()
                done, _ = await asyncio.wait({reading}, timeout=self.options.tick)
                if done:
                    link.dropped_by_peer += 1
                    return
            # give the last uploads their chance of an answer before hanging up
            deadline = clock.wall() + self.options.final_wait
            while lg.pending and clock.wall() < deadline and not reading.done():
                await asyncio.sleep(0.02)
        except (ConnectionError, OSError):
            link.dropped_by_peer += 1
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await reading

    async def _read(self, lg: VirtualLogger, link: LinkStats, reader: asyncio.StreamReader,
                    writer: asyncio.StreamWriter) -> None:
        framer = hj212.Framer()
        clock = self.clock
        while True:
            chunk = await reader.read(_READ)
            if not chunk:
                return
            link.bytes_in += len(chunk)
            replies: list[bytes] = []
            for item in framer.feed(chunk):
                if isinstance(item, hj212.FrameError):
                    link.bad_frames_in += 1
                    continue
                link.frames_in += 1
                replies.extend(lg.receive(item, clock.now(), clock.wall()))
            if replies:
                writer.write(b"".join(replies))
                await writer.drain()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
