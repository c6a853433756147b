"""Source addresses that keep sending wrong passwords: slowed, then refused for a while.

A misconfigured logger sends its cadence with a wrong PW (a few frames a minute, each
answered QnRtn=3); someone guessing sends many. ``AuthGuard`` counts wrong-password frames
per source IP over a sliding window: from ``slow_after`` of them the connection sending
them is slowed (its reading paused and its answers delayed), from ``block_after`` the IP is
blocked for ``block_s`` (its connections closed, new ones refused). The count is per IP,
not per MN, because a guesser varies the MN; loggers behind one NAT address share it.
Gateway processes sharing a port add the wrong passwords their siblings saw
(``set_elsewhere``), so a source spreading its connections over them is blocked at the
same count as one process would block it.

No I/O and no clock of its own: the clock is injected, so tests step time by hand.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.config import GatewaySettings


class SourceLevel(enum.Enum):
    """What a source's latest wrong password earned it."""

    OK = "ok"
    SLOW = "slow"
    BLOCK = "block"  # blocked by this failure (it was not before)


@dataclass(frozen=True, slots=True)
class AuthLimits:
    slow_after: int  # 0: never slow
    block_after: int  # 0: never block
    window_s: float
    block_s: float
    delay_s: float

    @classmethod
    def of(cls, g: GatewaySettings) -> AuthLimits:
        return cls(slow_after=g.auth_fail_slow_after, block_after=g.auth_fail_block_after,
                   window_s=g.auth_fail_window_s, block_s=g.auth_block_s,
                   delay_s=g.auth_fail_delay_s)


class AuthGuard:
    """Wrong-password counts and blocks per source IP."""

    #: sources tracked at most; past it the stalest counts are forgotten first
    MAX_SOURCES = 100_000

    def __init__(self, limits: AuthLimits, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.limits = limits
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        #: ip -> monotonic time the block ends; read (never changed) by the sessions, which
        #: call ``is_blocked`` only while it is not empty: one call less on every read
        self.blocked: dict[str, float] = {}
        #: ip -> times (this clock's) of the wrong passwords sibling processes counted
        self._elsewhere: dict[str, list[float]] = {}

    def is_blocked(self, ip: str) -> bool:
        """True while ``ip`` is refused. Called for every read: with no block in force it
        is one dict truthiness test."""
        if not self.blocked:
            return False
        until = self.blocked.get(ip)
        # an ended block is dropped by sweep(), which reports it
        return until is not None and self.clock() < until

    def failure(self, ip: str) -> SourceLevel:
        """Count one wrong-password frame from ``ip``; what that earns it."""
        lim = self.limits
        now = self.clock()
        if ip in self.blocked and now < self.blocked[ip]:
            return SourceLevel.OK  # already blocked: nothing more to earn
        times = self._failures.get(ip)
        if times is None:
            if len(self._failures) >= self.MAX_SOURCES:
                self.sweep()
                if len(self._failures) >= self.MAX_SOURCES:
                    del self._failures[next(iter(self._failures))]
            # the count only has to reach the larger threshold, so a flood costs no more
            times = self._failures[ip] = deque(maxlen=max(lim.slow_after, lim.block_after, 1))
        times.append(now)
        cutoff = now - lim.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        n = len(times) + self._counted_elsewhere(ip, cutoff)
        if lim.block_after and n >= lim.block_after:
            del self._failures[ip]
            self._elsewhere.pop(ip, None)
            self.blocked[ip] = now + lim.block_s
            return SourceLevel.BLOCK
        if lim.slow_after and n >= lim.slow_after:
            return SourceLevel.SLOW
        return SourceLevel.OK

    def _counted_elsewhere(self, ip: str, cutoff: float) -> int:
        times = self._elsewhere.get(ip)
        return 0 if not times else sum(1 for t in times if t > cutoff)

    def recent_failures(self, limit: int) -> dict[str, list[float]]:
        """This process's own wrong-password times (its clock) within the window, for its
        siblings: at most ``limit`` sources, those with the most (the nearest a block)."""
        cutoff = self.clock() - self.limits.window_s
        recent = {ip: [t for t in times if t > cutoff] for ip, times in self._failures.items()}
        recent = {ip: times for ip, times in recent.items() if times}
        if len(recent) > limit:
            keep = sorted(recent, key=lambda ip: len(recent[ip]), reverse=True)[:limit]
            recent = {ip: recent[ip] for ip in keep}
        return recent

    def set_elsewhere(self, failures: Mapping[str, Sequence[float]]) -> None:
        """The wrong-password times (this guard's clock) the sibling processes counted,
        replacing the last set: added to this process's own when it counts one."""
        self._elsewhere = {ip: list(times) for ip, times in failures.items()
                           if ip not in self.blocked}

    def sweep(self) -> list[str]:
        """Forget counts older than the window and ended blocks; the IPs unblocked."""
        now = self.clock()
        cutoff = now - self.limits.window_s
        for ip in [ip for ip, t in self._failures.items() if not t or t[-1] <= cutoff]:
            del self._failures[ip]
        ended = [ip for ip, until in self.blocked.items() if now >= until]
        for ip in ended:
            del self.blocked[ip]
        return ended

    def blocks(self) -> dict[str, float]:
        """The sources refused now, each with the seconds its block has left."""
        now = self.clock()
        return {ip: until - now for ip, until in self.blocked.items() if until > now}

    def adopt(self, ip: str, seconds: float) -> bool:
        """Refuse ``ip`` for ``seconds`` because another gateway process blocked it;
        whether that is new here (False when it is blocked here already, or ends now)."""
        now = self.clock()
        if seconds <= 0 or self.blocked.get(ip, now) > now:
            return False
        self._failures.pop(ip, None)
        self._elsewhere.pop(ip, None)
        self.blocked[ip] = now + seconds
        return True

    @property
    def blocked_count(self) -> int:
        return len(self.blocked)

    def failures(self, ip: str) -> int:
        """Wrong-password frames counted for ``ip`` in the current window, by this
        process and (as last heard) its siblings."""
        cutoff = self.clock() - self.limits.window_s
        times = self._failures.get(ip) or ()
        return sum(1 for t in times if t > cutoff) + self._counted_elsewhere(ip, cutoff)
