"""What the gateway processes on one port (``hj212 gateway --processes N``) tell each other:
the MNs each holds, so that a downlink command reaches its logger whichever process the
kernel gave the connection to, and the source addresses each has blocked for wrong
passwords, so that a block holds on the whole port.

Every process reads every command. The one holding the MN's connection sends it; when no
process holds it, process 0 alone records it ``offline``. For that, each process publishes
the MNs it holds as a small file (``<folder>/p<i>.live``, one MN a line, replaced whole
with a rename, so a reader sees the old list or the new one, never half of one) a few times
a second when the set changed, and reads its siblings' files when a command names an MN it
does not hold.

A logger that moved to another process less than a publishing interval ago can be
recorded ``offline`` by process 0 while its new process sends it the command: the command
still reaches it, and its later states (accepted, executed) are newer rows of the same QN.

Blocks go the same way (``<folder>/p<i>.blocked``, ``ip until`` a line, the end as Unix
time): each process adopts its siblings' blocks within a publishing interval, closing its
connections from that address and refusing new ones. So do the wrong passwords behind them
(``<folder>/p<i>.failures``, ``ip time time ...`` a line, Unix times within the window):
each process counts its siblings' with its own, so a source whose connections the kernel
spreads over N processes is blocked at ``auth_fail_block_after`` wrong passwords in all, as
one process would block it (give or take those sent within the last publishing interval).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Siblings:
    """Process ``index`` of ``count`` gateway processes sharing one port, and the folder
    where they publish the MNs they hold and the sources they block."""

    folder: Path
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"gateway process index {self.index} is not in 0..{self.count - 1}")

    def live_path(self, index: int) -> Path:
        return self.folder / f"p{index}.live"

    def blocks_path(self, index: int) -> Path:
        return self.folder / f"p{index}.blocked"

    def failures_path(self, index: int) -> Path:
        return self.folder / f"p{index}.failures"

    def others(self) -> list[int]:
        """The indexes of the other processes."""
        return [i for i in range(self.count) if i != self.index]


def _replace_lines(path: Path, lines: list[str]) -> None:
    """``path`` holds ``lines`` whole, or still its old text: never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="ascii", errors="replace")
    os.replace(tmp, path)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return ""  # not started yet, or stopped: holds nothing, blocks nothing


class LiveBoard:
    """This process's MNs and blocks out, the siblings' in (each sibling's MNs read again
    once the last reading is older than ``max_age_s``, its blocks at each call)."""

    def __init__(self, siblings: Siblings, *, max_age_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.siblings = siblings
        self.max_age_s = max_age_s
        self._clock = clock
        self._published: frozenset[str] | None = None
        self._blocks_published: frozenset[str] | None = None
        self._failures_published: dict[str, tuple[float, ...]] | None = None
        #: sibling index -> (when its file was read, its MNs); commands are few, so a
        #: file is read again whenever the last reading is older than max_age_s
        self._seen: dict[int, tuple[float, frozenset[str]]] = {}

    @property
    def speaks_for_absent(self) -> bool:
        """Whether this process records commands for MNs no process holds (``offline``)."""
        return self.siblings.index == 0

    def publish(self, mns: Collection[str]) -> bool:
        """Publish the MNs this process holds, if they changed; whether the file was
        written. The first call always writes (a file an earlier run left is replaced)."""
        held = frozenset(mns)
        if held == self._published:
            return False
        _replace_lines(self.siblings.live_path(self.siblings.index), sorted(held))
        self._published = held
        return True

    def publish_blocks(self, blocks: Mapping[str, float]) -> bool:
        """Publish the source IPs this process refuses and until when (Unix time), if the
        set of IPs changed; whether the file was written."""
        ips = frozenset(blocks)
        if ips == self._blocks_published:
            return False
        _replace_lines(self.siblings.blocks_path(self.siblings.index),
                       [f"{ip} {blocks[ip]:.3f}" for ip in sorted(ips)])
        self._blocks_published = ips
        return True

    def sibling_blocks(self) -> dict[str, float]:
        """The source IPs the siblings refuse, each with the latest end (Unix time) any of
        them gives it. Read afresh each call (the files are empty but for blocks)."""
        out: dict[str, float] = {}
        for ip, numbers in self._sibling_rows(self.siblings.blocks_path):
            if len(numbers) == 1:
                end = numbers[0]
                out[ip] = max(end, out.get(ip, end))
        return out

    def publish_failures(self, failures: Mapping[str, Sequence[float]]) -> bool:
        """Publish the wrong passwords this process counted (IP -> their Unix times), if
        they changed; whether the file was written. (Times, not counts, are compared: at a
        steady rate the count stays while its times move on, and a sibling drops the
        times that leave the window.)"""
        snapshot = {ip: tuple(times) for ip, times in failures.items()}
        if snapshot == self._failures_published:
            return False
        _replace_lines(self.siblings.failures_path(self.siblings.index),
                       [" ".join([ip, *(f"{t:.3f}" for t in failures[ip])])
                        for ip in sorted(failures)])
        self._failures_published = snapshot
        return True

    def sibling_failures(self) -> dict[str, list[float]]:
        """The wrong passwords the siblings counted: IP -> their Unix times, all siblings'
        together. Read afresh each call (the files are empty but for such sources)."""
        out: dict[str, list[float]] = {}
        for ip, times in self._sibling_rows(self.siblings.failures_path):
            out.setdefault(ip, []).extend(times)
        return out

    def _sibling_rows(self, path_of: Callable[[int], Path]) -> Iterator[tuple[str, list[float]]]:
        """Each line of the siblings' files ``path_of(i)``: an IP and the numbers after it
        (lines this module did not write are skipped)."""
        for i in self.siblings.others():
            for line in _read_text(path_of(i)).splitlines():
                ip, *fields = line.split() or [""]
                try:
                    numbers = [float(x) for x in fields]
                except ValueError:
                    continue
                if ip:
                    yield ip, numbers

    def withdraw(self) -> None:
        """This process holds and blocks nothing any more (it stops)."""
        for path in (self.siblings.live_path, self.siblings.blocks_path,
                     self.siblings.failures_path):
            path(self.siblings.index).unlink(missing_ok=True)
        self._published = self._blocks_published = self._failures_published = None

    def holder(self, mn: str) -> int | None:
        """The index of a sibling process holding ``mn``'s connection, or None."""
        return next((i for i in self.siblings.others() if mn in self._mns_of(i)), None)

    def _mns_of(self, index: int) -> frozenset[str]:
        now = self._clock()
        seen = self._seen.get(index)
        if seen is not None and now - seen[0] < self.max_age_s:
            return seen[1]
        mns = frozenset(_read_text(self.siblings.live_path(index)).split())
        self._seen[index] = (now, mns)
        return mns
