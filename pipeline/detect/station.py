"""One station's detectors behind two calls: a frame arrived, and time passed.

This is what the stream worker should call (one state dict per MN in a Faust table):

    result = detector.on_frame(state, readings_of_one_frame, cn=..., data_time=...,
                               receive_time=..., mn=..., st=...)
    result = detector.tick(state, mn, now)           # every few seconds per station

``on_frame`` runs the value rules (``values``) over the frame, folds their observations
into episodes (``episodes``) and moves the missing-data tracker (``missing``); ``tick``
runs the clock-driven part of missing data. Outputs are alarm events (for ``alarms`` and
``hj212.alarms``), missing-window rows (for ``missing_windows``) and back-fill requests
(for ``hj212.commands``). State: ``{"v": values, "e": episodes, "m": missing}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.detect.context import StationContext
from pipeline.detect.episodes import Episodes
from pipeline.detect.missing import BackfillRequest, MissingData
from pipeline.detect.model import AlarmEvent, Reading, State
from pipeline.detect.rules import Rules, default_rules
from pipeline.detect.values import ValueRules


@dataclass(slots=True)
class Result:
    events: list[AlarmEvent] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)  # missing_windows rows
    requests: list[BackfillRequest] = field(default_factory=list)


class StationDetector:
    """Values, episodes and missing data for one station at a time."""

    def __init__(self, rules: Rules | None = None,
                 contexts: Mapping[str, StationContext] | None = None) -> None:
        self.rules = rules or default_rules()
        self.contexts = dict(contexts or {})
        self.values = ValueRules(self.rules)
        self.episodes = Episodes(self.rules)
        self.missing = MissingData(self.rules)

    def context(self, mn: str, st: str = "") -> StationContext:
        ctx = self.contexts.get(mn)
        return ctx if ctx is not None else StationContext(mn, st)

    def on_frame(self, state: State, readings: Sequence[Reading], *, mn: str, st: str,
                 cn: int, data_time: datetime | None, receive_time: datetime,
                 resent: bool = False) -> Result:
        """One accepted frame (``readings`` may be empty: a 2081 or an answer still says
        the station is alive)."""
        ctx = self.contexts.get(mn) or self.context(mn, st)
        out = Result()
        if readings:
            episodes = state.setdefault("e", {})
            _, observations = self.values.observe_frame(state.setdefault("v", {}), readings,
                                                        ctx, resent=resent,
                                                        open_episodes=episodes)
            if observations:  # nearly every frame has none: nothing to fold
                _, events = self.episodes.fold(episodes, observations, ctx.st)
                out.events.extend(events)
        _, events, rows = self.missing.on_frame(state.setdefault("m", {}), ctx, cn, data_time,
                                                receive_time)
        out.events.extend(events)
        out.windows.extend(rows)
        return out

    def tick(self, state: State, mn: str, now: datetime) -> Result:
        ctx = self.contexts.get(mn) or self.context(mn)
        _, events, requests, rows = self.missing.tick(state.setdefault("m", {}), ctx, now)
        return Result(events=events, windows=rows, requests=requests)


class ReadingAdapter:
    """The value rules behind the one-reading ``ReadingDetector`` protocol.

    For wiring that hands detectors one reading at a time under a (cn, code) key. It
    misses what needs a whole frame or the station's clock (Zs without O2, Cou, missing
    data, offline) and keeps episodes per data type; ``StationDetector`` has none of
    these limits and is the one to wire."""

    name = "values"

    def __init__(self, rules: Rules | None = None,
                 contexts: Mapping[str, StationContext] | None = None) -> None:
        # the same rules, contexts and rule objects as the whole-station detector
        self.station = StationDetector(rules, contexts)

    def observe(self, state: State, reading: Reading) -> tuple[State, list[AlarmEvent]]:
        s = self.station
        ctx = s.context(reading.mn, reading.st)
        _, observations = s.values.observe_frame(state.setdefault("v", {}), [reading], ctx)
        observations = [o for o in observations if o.code]  # frame-level rules need frames
        _, events = s.episodes.fold(state.setdefault("e", {}), observations, ctx.st)
        return state, events
