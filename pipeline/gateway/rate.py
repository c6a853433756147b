"""Frames per second per MN: a token bucket each, so one station cannot take the gateway.

No I/O; the clock is injected. The session pauses reading for the seconds ``take`` returns
(back-pressure: the logger's frames wait in its own buffer, nothing is dropped).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBuckets:
    #: MNs tracked at most; past it every bucket is dropped (they refill in a second)
    MAX_BUCKETS = 100_000

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rate = rate
        self._buckets: dict[str, list[float]] = {}  # mn -> [tokens, time of last take]

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, rate: float) -> None:
        self._rate = rate
        self._burst = max(rate, 1.0)

    def take(self, mn: str, n: int) -> float:
        """Take ``n`` frames from ``mn``'s bucket; seconds to pause reading (0: none).
        Called for every frame the gateway keeps, so written for the interpreter: no
        builtin calls, the burst worked out when the rate is set."""
        now = self.clock()
        bucket = self._buckets.get(mn)
        if bucket is None:
            bucket = self._buckets[mn] = [self._burst, now]
        tokens = bucket[0] + (now - bucket[1]) * self._rate
        if tokens > self._burst:
            tokens = self._burst
        tokens -= n
        bucket[0] = tokens
        bucket[1] = now
        return 0.0 if tokens >= 0 else -tokens / self._rate

    def trim(self) -> None:
        """Bound the memory: the buckets only matter for MNs sending now."""
        if len(self._buckets) > self.MAX_BUCKETS:
            self._buckets.clear()
