"""A stream's histories kept in memory and brought up to date by reading only what was
appended since the last read: a list page or the service watch re-reads a stream every
few seconds, and decoding every event each time grows with the ledger (20,000 work
orders, 175,000 events: 3.7 s a read; see benchmarks/records.py).

Why a look-back: ``at_ms`` is the writer's clock at append, and the row lands in
ClickHouse just after; with several writers (one per partition) a row stamped earlier
can land after one stamped later. Each refresh reads from ``LOOKBACK_MS`` before the
newest ``at_ms`` seen, and events are kept by (record, seq), so a re-read row changes
nothing. A full reload every ``FULL_EVERY_S`` bounds what a longer delay could hide.
Nothing is ever deleted from the ledger, so adding is all a refresh does. After each
refresh the held events are checked against the table's count and sums of seq and
at_ms (``queries.stream_fingerprint``, one cheap aggregate); any difference (a row
landing later than the look-back, another database behind the same reader) reloads the
stream in full, so the cache is never staler than one read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Final

from pipeline.ledger import queries as lq
from pipeline.ledger.codec import ms_of
from pipeline.ledger.model import Event

LOOKBACK_MS: Final = 300_000
_WRAP: Final = 1 << 64
FULL_EVERY_S: Final = 600.0


class StreamCache:
    def __init__(self, stream: str, *, lookback_ms: int = LOOKBACK_MS,
                 full_every_s: float = FULL_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.lookback_ms = lookback_ms
        self.full_every_s = full_every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._events: dict[str, dict[int, Event]] = {}
        self._ordered: dict[str, tuple[Event, ...]] = {}
        self._high_ms = -1  # newest at_ms seen; -1: never loaded
        self._loaded_at = 0.0
        self._sums = (0, 0, 0)  # count, sum of seq, sum of at_ms of the held events
        self.reloads = 0  # full reloads forced by a fingerprint that differed

    def histories(self, ch: lq.Reader) -> Mapping[str, tuple[Event, ...]]:
        """Every record of the stream with its events in seq order, current as of now."""
        with self._lock:
            full = self._high_ms < 0 or self.clock() - self._loaded_at >= self.full_every_s
            self._refresh(ch, full)
            if not full and lq.stream_fingerprint(ch, self.stream) != self._sums:
                self.reloads += 1
                self._refresh(ch, True)
            return dict(self._ordered)

    def _refresh(self, ch: lq.Reader, full: bool) -> None:
        if full:
            self._sums = (0, 0, 0)
            loaded = lq.stream_histories(ch, self.stream)
            self._events = {rid: {e.seq: e for e in evs} for rid, evs in loaded.items()}
            self._ordered = {rid: tuple(evs) for rid, evs in loaded.items()}
            self._loaded_at = self.clock()
            self._high_ms = 0
            fresh = [e for evs in loaded.values() for e in evs]
        else:
            touched: set[str] = set()
            fresh = []
            for e in lq.stream_events_since(ch, self.stream, self._high_ms - self.lookback_ms):
                held = self._events.setdefault(e.record_id, {})
                if e.seq not in held:
                    held[e.seq] = e
                    touched.add(e.record_id)
                    fresh.append(e)
            for rid in touched:
                evs = self._events[rid]
                self._ordered[rid] = tuple(evs[k] for k in sorted(evs))
        n, seqs, ms = self._sums
        for e in fresh:
            at = ms_of(e.at)
            self._high_ms = max(self._high_ms, at)
            n, seqs, ms = n + 1, seqs + e.seq, ms + at
        # ClickHouse sums UInt64 modulo 2**64
        self._sums = (n, seqs % _WRAP, ms % _WRAP)
