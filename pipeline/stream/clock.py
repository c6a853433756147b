"""The worker's clock for the time-driven part of detection (offline, overdue data,
back-fill retries): ``hj212 worker --clock wall|data``.

``wall`` (the default, production): now is this machine's time on the standard's clock,
and detectors see each frame's receive time as the gateway stamped it.

``data`` (tests, ``hj212 run`` with an accelerated simulator): now is the latest data
time any frame of this worker has carried, one clock for all its stations (a station
that went quiet must fall behind the others, or it would never be found offline). A
simulator running hours per minute stamps data times far from the wall, so wall ticks
would find every station overdue, or none; the data clock moves as fast as the data.
Detectors then see a frame's receive time as the data clock at that frame (the wall
receive time is still what ``frames``/``readings`` store). It trusts data times: a logger
sending from the future drags the clock with it, which is why production keeps ``wall``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt

from pipeline.timebase import CST_OFFSET_S, local_from_unix, now_local

CLOCKS = ("wall", "data")


class WallClock:
    """Production: ticks at wall time, receive times as stamped by the gateway."""

    name = "wall"

    def now(self) -> datetime | None:
        return now_local()

    def receive_epochs(self, data_times: npt.NDArray[np.datetime64],
                       received: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        return received


class DataClock:
    """Now = the latest frame data time seen (see the module docstring)."""

    name = "data"

    def __init__(self) -> None:
        #: latest data time seen, as UTC epoch seconds (the unit of receive epochs)
        self.latest: int | None = None

    def now(self) -> datetime | None:
        """None until a frame with a data time has been seen: nothing to tick yet."""
        if self.latest is None:
            return None
        return local_from_unix(self.latest)

    def receive_epochs(self, data_times: npt.NDArray[np.datetime64],
                       received: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Each frame's receive time on the data clock: the clock as it stood once that
        frame was read (a running maximum, so a back-filled record stamped hours ago is
        received now, not then). Frames without a data time take the clock as it is, or
        their wall receive time before the clock has started."""
        if len(received) == 0:
            return received
        local = data_times.astype("datetime64[s]")
        known = ~np.isnat(local)
        # naive CST data times -> UTC epoch seconds, as the gateway's receive times are
        epochs = np.where(known, local.astype(np.int64) - CST_OFFSET_S, np.iinfo(np.int64).min)
        start = self.latest if self.latest is not None else np.iinfo(np.int64).min
        running = np.maximum.accumulate(np.maximum(epochs, start))
        out = np.where(running == np.iinfo(np.int64).min, received, running)
        if known.any() or self.latest is not None:
            self.latest = int(running[-1]) if running[-1] != np.iinfo(np.int64).min else None
        return out.astype(np.int64)


def make_clock(name: str) -> WallClock | DataClock:
    if name == "wall":
        return WallClock()
    if name == "data":
        return DataClock()
    raise ValueError(f"clock {name!r}: choose from {', '.join(CLOCKS)}")
