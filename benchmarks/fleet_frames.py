"""Recorded traffic of a simulated fleet, for load that looks like the field's.

The simulator's loggers run on a manual clock with no faults; what each sends is kept as
it went on the wire (one chunk per write, in send order across the fleet), and the
platform's answers are fed back so that nothing is resent. Values follow the stations'
daily profiles, so detectors see clean data: alarms stay as rare as in the field, unlike
``pipeline.simulator.Corpus``, whose random values trip rules on most frames.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import hj212

from pipeline.simulator.clock import ManualClock
from pipeline.simulator.datalogger import VirtualLogger, make_loggers
from pipeline.simulator.stations import REGISTRY_DIR, SimStation, registry_fleet


def fleet(stations: int, seed: int = 1) -> list[SimStation]:
    """The registry's first ``stations`` stations, so that the gateway knows them all."""
    found = registry_fleet(REGISTRY_DIR, stations, seed, None)[:stations]
    if len(found) < stations:
        raise SystemExit(f"the registry in {REGISTRY_DIR} has {len(found)} stations a "
                         f"simulator can run; {stations} were asked for")
    return found


def record(stations: list[SimStation], frames: int, start: datetime, *, seed: int = 1,
           step_s: float = 30.0) -> list[tuple[str, bytes]]:
    """At least ``frames`` frames of the fleet from ``start`` on, as (MN, chunk) pairs."""
    clock = ManualClock(start)
    loggers = make_loggers(stations, start=start, seed=seed)
    framers = {lg.mn: hj212.Framer() for lg in loggers}
    out: list[tuple[str, bytes]] = []
    n = 0
    now = start
    for lg in loggers:
        chunks = lg.connected(now, clock.wall())
        n += _keep(lg, framers[lg.mn], chunks, now, clock, out)
    while n < frames:
        now += timedelta(seconds=step_s)
        clock.advance(step_s)
        for lg in loggers:
            n += _keep(lg, framers[lg.mn], lg.advance(now, clock.wall()), now, clock, out)
    return out


def _keep(lg: VirtualLogger, framer: hj212.Framer, chunks: list[bytes], now: datetime,
          clock: ManualClock, out: list[tuple[str, bytes]]) -> int:
    n = 0
    for chunk in chunks:
        out.append((lg.mn, chunk))
        for item in framer.feed(chunk):
            n += 1
            if isinstance(item, hj212.FrameError):
                continue
            answer = hj212.answer(item)
            if answer is not None:
                # a logger's reply to an answer is nothing for uploads; kept if any
                for more in lg.receive(hj212.parse(answer), now, clock.wall()):
                    out.append((lg.mn, more))
    return n
