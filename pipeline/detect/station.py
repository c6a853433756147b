"""One station's detectors behind two calls: a frame arrived, and time passed.

``DetectorBundle`` is what the stream worker wires (``pipeline.stream.detection`` keeps
one ``StationState`` per MN and folds each frame in):

    result = bundle.on_frame(state, readings_of_one_frame, cn=..., data_time=...,
                             receive_time=..., mn=..., st=...)
    result = bundle.tick(state, mn, now)             # every few seconds per station

``on_frame`` runs the value rules (``values``) over the frame, folds their observations
into episodes (``episodes``) and moves the missing-data tracker (``missing``); ``tick``
runs the clock-driven part of missing data. Outputs are alarm steps (each event with its
alarm's opening time and step number, for ``alarms`` and ``hj212.alarms``), missing-window
rows (for ``missing_windows``) and back-fill requests (for ``hj212.commands``). The state
(``state.py``): ``{"values", "episodes", "missing"}``, each made when first needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pipeline.detect.context import StationContext
from pipeline.detect.episodes import Episodes
from pipeline.detect.missing import BackfillRequest, MissingData, alarm_step
from pipeline.detect.model import AlarmEvent, AlarmStep, Reading
from pipeline.detect.rules import Rules, default_rules
from pipeline.detect.state import StationState
from pipeline.detect.values import ValueRules


@dataclass(slots=True)
class Result:
    alarms: list[AlarmStep] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)  # missing_windows rows
    requests: list[BackfillRequest] = field(default_factory=list)

    @property
    def events(self) -> list[AlarmEvent]:
        return [step.event for step in self.alarms]


class Detector(Protocol):
    """What the worker wires: ``DetectorBundle``, or a stand-in with the same two calls
    (``pipeline.stream.builtin``)."""

    @property
    def contexts(self) -> Mapping[str, StationContext]: ...

    def on_frame(self, state: StationState, readings: Sequence[Reading], *, mn: str, st: str,
                 cn: int, data_time: datetime | None, receive_time: datetime,
                 resent: bool = False) -> Result: ...

    def tick(self, state: StationState, mn: str, now: datetime) -> Result: ...


class DetectorBundle:
    """Values, episodes and missing data for one station at a time: pure, state in and
    results out."""

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

    def on_frame(self, state: StationState, readings: Sequence[Reading], *, mn: str, st: str,
                 cn: int, data_time: datetime | None, receive_time: datetime,
                 resent: bool = False) -> Result:
        """One accepted frame (``readings`` may be empty: a 2081 or an answer still says
        the station is alive)."""
        ctx = self.contexts.get(mn) or self.context(mn, st)
        out = Result()
        if readings:
            episodes = state.setdefault("episodes", {})
            _, observations = self.values.observe_frame(state.setdefault("values", {}),
                                                        readings, ctx, resent=resent,
                                                        open_episodes=episodes)
            if observations:  # nearly every frame has none: nothing to fold
                out.alarms.extend(self.episodes.fold_alarms(episodes, observations, ctx.st,
                                                            received=receive_time))
        missing = state.setdefault("missing", {})
        _, events, rows = self.missing.on_frame(missing, ctx, cn, data_time, receive_time)
        if events:
            out.alarms.extend(alarm_step(e, missing) for e in events)
        if rows:
            out.windows.extend(rows)
        return out

    def tick(self, state: StationState, mn: str, now: datetime) -> Result:
        ctx = self.contexts.get(mn) or self.context(mn)
        missing = state.setdefault("missing", {})
        _, events, requests, rows = self.missing.tick(missing, ctx, now)
        return Result(alarms=[alarm_step(e, missing) for e in events], windows=rows,
                      requests=requests)
