"""A gap back-filled while it is still growing (found by tests/integration/test_e2e.py).

After a drop-out the first upload to arrive is usually a 2011, which brings the station
back online; the next tick sends the trailing back-fill request while the minute-data
gap is still growing, and the logger's replay starts with the very record the cadence
awaits. That replay must count toward the window, not close it as "the late record".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pipeline.detect.context import StationContext
from pipeline.detect.missing import MissingData, window_row

DROP = (datetime(2024, 3, 1, 10, 0), datetime(2024, 3, 1, 11, 15))


def test_a_gap_backfilled_while_growing_counts_every_record() -> None:
    md = MissingData()
    ctx = StationContext("X", "31", 60, 10)  # RtdInterval 60 s, MinInterval 10 min
    state: dict[str, Any] = {}
    requested = []
    now = datetime(2024, 3, 1, 8, 0)
    while now < datetime(2024, 3, 1, 12, 30):
        now += timedelta(minutes=1)
        if not DROP[0] <= now < DROP[1]:
            md.on_frame(state, ctx, 2011, now, now)
            if now.minute % 10 == 0:  # a minute record is sent at the end of its period
                md.on_frame(state, ctx, 2051, now - timedelta(minutes=10), now)
        if now.minute % 3 == 0:
            _, _, requests, _ = md.tick(state, ctx, now)
            for req in (r for r in requests if r.cn == 2051):
                requested.append(req)
                t = req.begin
                while t <= req.end:  # the logger replays every stored record asked for
                    md.on_frame(state, ctx, 2051, t, now)
                    t += timedelta(minutes=10)
    assert [(r.begin.time(), r.end.time()) for r in requested][:1] == [
        (datetime(2024, 3, 1, 9, 50).time(), datetime(2024, 3, 1, 11, 0).time())]
    (w,) = [window_row("X", w) for w in state["windows"] if w["cn"] == 2051]
    assert (w["window_end"], w["state"], w["expected"], w["received"]) == (
        datetime(2024, 3, 1, 11, 0), "filled", 8, 8)
