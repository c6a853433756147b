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
        self.rate = rate
        self.clock = clock
        self._buckets: dict[str, list[float]] = {}  # mn -> [tokens, time of last take]

    def take(self, mn: str, n: int) -> float:
        """Take ``n`` frames from ``mn``'s bucket; seconds to pause reading (0: none)."""
        rate = self.rate
        burst = max(rate, 1.0)
        now = self.clock()
        bucket = self._buckets.get(mn)
        if bucket is None:
            bucket = self._buckets[mn] = [burst, now]
        tokens = min(burst, bucket[0] + (now - bucket[1]) * rate) - n
        bucket[0], bucket[1] = tokens, now
        return -tokens / rate if tokens < 0 else 0.0

    def trim(self) -> None:
        """Bound the memory: the buckets only matter for MNs sending now."""
        if len(self._buckets) > self.MAX_BUCKETS:
            self._buckets.clear()
