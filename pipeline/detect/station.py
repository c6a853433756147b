"""One station's detectors behind two calls: a frame arrived, and time passed.

``DetectorBundle`` is what the stream worker wires (``pipeline.stream.detection`` keeps
one ``StationState`` per MN and folds each frame in):

    result = bundle.on_frame(state, readings_of_one_frame, cn=..., data_time=...,
                             receive_time=..., mn=..., st=...)
    result = bundle.tick(state, mn, now)             # every few seconds per station

``on_frame`` runs the value rules over the frame (``values="rust"``: ``hj212.ValueKernel``
through ``values_rs``, with each station's values state kept in the kernel; ``"python"``:
``values.ValueRules`` on the dict; both are held to ``reference.py``), folds their observations
into episodes (``episodes``) and moves the missing-data tracker (``missing``); ``tick``
runs the clock-driven part of missing data. Outputs are alarm steps (each event with its
alarm's opening time and step number, for ``alarms`` and ``hj212.alarms``), missing-window
rows (for ``missing_windows``) and back-fill requests (for ``hj212.commands``). The state
(``state.py``): ``{"values", "episodes", "missing"}``, each made when first needed. With
the kernel, ``state["values"]`` is emptied when the kernel takes it: ``sync(state, mn)``
writes the kernel's copy back into the dict, and ``dump_state(mn, state)`` gives the
persisted bytes with the values part straight from the kernel (the worker's changelog
writes those).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol, cast

from pipeline.detect.context import StationContext
from pipeline.detect.episodes import Episodes, Observation
from pipeline.detect.missing import BackfillRequest, MissingData, alarm_step
from pipeline.detect.model import AlarmEvent, AlarmStep, Reading
from pipeline.detect.rules import Rules, default_rules
from pipeline.detect.state import StationState, ValuesState, dump_station_state
from pipeline.detect.values import ValueRules
from pipeline.detect.values_rs import KernelValueRules

#: which implementation runs the value rules: the Rust kernel, or the Python fast path
ValuesImpl = Literal["rust", "python"]
VALUES_IMPLS: tuple[ValuesImpl, ...] = ("rust", "python")


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
                 contexts: Mapping[str, StationContext] | None = None,
                 values: ValuesImpl = "python") -> None:
        self.rules = rules or default_rules()
        self.contexts = dict(contexts or {})
        self.kernel: KernelValueRules | None = None
        self.values: ValueRules | KernelValueRules
        if values == "rust":
            self.values = self.kernel = KernelValueRules(self.rules, resident=True)
        elif values == "python":
            self.values = ValueRules(self.rules)
        else:
            raise ValueError(f"values {values!r}: choose from {', '.join(VALUES_IMPLS)}")
        # MN -> the values dict the kernel last took for it (or gave back): a state
        # replaced since (read from the changelog, made anew) is handed over again
        self._adopted: dict[str, object] = {}
        self._made: dict[tuple[str, str], StationContext] = {}
        self.episodes = Episodes(self.rules)
        self.missing = MissingData(self.rules)

    def context(self, mn: str, st: str = "") -> StationContext:
        """The registry's context of ``mn``; for a station it does not know, one from the
        frame (ST only), made once: the kernel's plans are cached per context object."""
        ctx = self.contexts.get(mn)
        if ctx is not None:
            return ctx
        made = self._made.get((mn, st))
        if made is None:
            made = self._made[(mn, st)] = StationContext(mn, st)
        return made

    def adopt(self, state: StationState, mn: str) -> ValuesState:
        """The station's values dict, handed to the kernel if it has not got this one
        (a state read from the changelog, or made anew)."""
        values = state.setdefault("values", {})
        if self.kernel is not None and self._adopted.get(mn) is not values:
            self.kernel.adopt(mn, values)
            # the kernel's copy is the state now: the dict is emptied (not replaced, it
            # stays the mark of adoption) so that tens of kB of objects per station do not
            # sit in the heap for the garbage collector to walk; ``sync`` or
            # ``dump_state`` write the kernel's copy
            cast(dict[str, Any], values).clear()
            self._adopted[mn] = values
        return values

    def on_frame(self, state: StationState, readings: Sequence[Reading], *, mn: str, st: str,
                 cn: int, data_time: datetime | None, receive_time: datetime,
                 resent: bool = False) -> Result:
        """One accepted frame (``readings`` may be empty: a 2081 or an answer still says
        the station is alive)."""
        ctx = self.contexts.get(mn) or self.context(mn, st)
        observations: list[Observation] = []
        if readings:
            values = self.adopt(state, mn)
            _, observations = self.values.observe_frame(
                values, readings, ctx, resent=resent,
                open_episodes=state.setdefault("episodes", {}))
        return self.fold(state, observations, ctx, cn, data_time, receive_time)

    def fold(self, state: StationState, observations: Sequence[Observation],
             ctx: StationContext, cn: int, data_time: datetime | None,
             receive_time: datetime) -> Result:
        """The rest of a frame once the value rules have looked at it: their observations
        into episodes, and the frame into the missing-data tracker."""
        out = Result()
        if observations:  # nearly every frame has none: nothing to fold
            episodes = state.setdefault("episodes", {})
            out.alarms.extend(self.episodes.fold_alarms(episodes, observations, ctx.st,
                                                        received=receive_time))
        missing = state.setdefault("missing", {})
        _, events, rows = self.missing.on_frame(missing, ctx, cn, data_time, receive_time)
        if events:
            out.alarms.extend(alarm_step(e, missing) for e in events)
        if rows:
            out.windows.extend(rows)
        return out

    def _kernel_holds(self, state: StationState, mn: str) -> bool:
        """Whether the kernel holds the values state of ``state`` (it took this dict);
        if not, the dict is current."""
        values = state.get("values")
        return self.kernel is not None and values is not None and \
            self._adopted.get(mn) is values

    def sync(self, state: StationState, mn: str) -> None:
        """Write the kernel's values state of ``mn`` into ``state`` (nothing to do on the
        Python path, whose state is the dict)."""
        if not self._kernel_holds(state, mn):
            return
        assert self.kernel is not None
        values = state["values"] = self.kernel.export(mn)
        self._adopted[mn] = values

    def dump_state(self, mn: str, state: StationState) -> bytes:
        """The persisted form of ``state``; its values state as the kernel keeps it, as
        JSON text straight from the kernel (no dict made) when the kernel holds it."""
        if not self._kernel_holds(state, mn):
            return dump_station_state(state)
        assert self.kernel is not None
        return dump_station_state(state, values_json=self.kernel.export_json(mn))

    def tick(self, state: StationState, mn: str, now: datetime) -> Result:
        ctx = self.contexts.get(mn) or self.context(mn)
        missing = state.setdefault("missing", {})
        _, events, requests, rows = self.missing.tick(missing, ctx, now)
        return Result(alarms=[alarm_step(e, missing) for e in events], windows=rows,
                      requests=requests)
