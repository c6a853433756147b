"""The worker's clock for the time-driven part of detection (offline, overdue data,
back-fill retries): ``hj212 worker --clock wall|data``.

``wall`` (the default, production): now is this machine's time on the standard's clock,
and detectors see each frame's receive time as the gateway stamped it.

``data`` (tests, ``hj212 run`` with an accelerated simulator): now is the latest data
time any frame of this worker has carried, one clock for all its stations (a station
that went quiet must fall behind the others, or it would never be found offline). A
simulator running hours per minute stamps data times far from the wall, so wall ticks
would find every station overdue, or none; the data clock moves as fast as the data.
Detectors then see a frame's receive time as the data clock of its Kafka partition at
that frame: the latest data time read so far from that partition (the wall receive time
is still what ``frames``/``readings`` store). Per partition, because the worker reads its
partitions unevenly (a fetch takes a run of records from one, then from another): on one
clock for all, frames of a partition read a little behind the rest would look late and
raise time_stale on healthy stations. Within a partition records keep the gateway's
order, which is what "received" means. Ticks follow the same rule: a partition with
records still unread (the worker behind it) is ticked at its own clock, or its stations
would look silent for the time its backlog spans; a partition read to its end is ticked
at the worker's clock, so a station gone quiet there still falls behind. It trusts data
times: a logger sending from the future drags the clock with it, which is why production
keeps ``wall``.
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
    #: whether ``receive_epochs`` reads the frames' Kafka partitions
    per_partition = False

    def now(self) -> datetime | None:
        return now_local()

    def now_for(self, partition: int, now: datetime) -> datetime:
        """The time to tick ``partition``'s stations at: the wall's, for all."""
        return now

    def note_backlog(self, partition: int, behind: bool) -> None:
        """Nothing: the wall does not wait for the worker."""

    def receive_epochs(self, data_times: npt.NDArray[np.datetime64],
                       received: npt.NDArray[np.int64],
                       partitions: npt.NDArray[np.int32] | None = None,
                       ) -> npt.NDArray[np.int64]:
        return received


class DataClock:
    """Now = the latest frame data time seen (see the module docstring)."""

    name = "data"
    per_partition = True

    def __init__(self) -> None:
        #: latest data time seen on any partition, as UTC epoch seconds (the unit of
        #: receive epochs): the clock the ticks run on
        self.latest: int | None = None
        #: latest data time seen per Kafka partition: the clock its frames are received on
        self.by_partition: dict[int, int] = {}
        #: partitions whose last read left records unread (``note_backlog``)
        self.behind: set[int] = set()
        #: the last tick time handed out per partition
        self._ticked: dict[int, datetime] = {}

    def now(self) -> datetime | None:
        """None until a frame with a data time has been seen: nothing to tick yet."""
        if self.latest is None:
            return None
        return local_from_unix(self.latest)

    def now_for(self, partition: int, now: datetime) -> datetime:
        """The time to tick ``partition``'s stations at, ``now`` being ``self.now()``:
        the partition's own clock while records of it wait unread, else ``now``."""
        own = self.by_partition.get(partition)
        if partition in self.behind and own is not None:
            # never back past a tick already made: time does not run backwards for a
            # station (a gap's window would shrink and grow again)
            at = max(min(now, local_from_unix(own)), self._ticked.get(partition, now.min))
        else:
            at = now
        self._ticked[partition] = at
        return at

    def note_backlog(self, partition: int, behind: bool) -> None:
        """After a read of ``partition``: whether records of it are still unread."""
        if behind:
            self.behind.add(partition)
        else:
            self.behind.discard(partition)

    def receive_epochs(self, data_times: npt.NDArray[np.datetime64],
                       received: npt.NDArray[np.int64],
                       partitions: npt.NDArray[np.int32] | None = None,
                       ) -> npt.NDArray[np.int64]:
        """Each frame's receive time on the data clock: its partition's clock as it stood
        once that frame was read (a running maximum, so a back-filled record stamped
        hours ago is received now, not then). Frames without a data time take their
        partition's clock as it is, or the worker's clock before that partition has
        one, or their wall receive time before any clock has started. Without
        ``partitions`` all frames count as one partition's."""
        if len(received) == 0:
            return received
        none = np.iinfo(np.int64).min
        local = data_times.astype("datetime64[s]")
        known = ~np.isnat(local)
        # naive CST data times -> UTC epoch seconds, as the gateway's receive times are
        epochs = np.where(known, local.astype(np.int64) - CST_OFFSET_S, none)
        parts = np.zeros(len(received), dtype=np.int32) if partitions is None else partitions
        running = np.empty(len(received), dtype=np.int64)
        for part in np.unique(parts).tolist():
            rows = np.flatnonzero(parts == part)
            start = self.by_partition.get(part, none)
            mine = np.maximum.accumulate(np.maximum(epochs[rows], start))
            running[rows] = mine
            if mine[-1] != none:
                self.by_partition[part] = int(mine[-1])
        if self.latest is not None:
            running = np.where(running == none, self.latest, running)
        out = np.where(running == none, received, running)
        top = int(running.max())
        if top != none and (self.latest is None or top > self.latest):
            self.latest = top
        return out.astype(np.int64)


def make_clock(name: str) -> WallClock | DataClock:
    if name == "wall":
        return WallClock()
    if name == "data":
        return DataClock()
    raise ValueError(f"clock {name!r}: choose from {', '.join(CLOCKS)}")
