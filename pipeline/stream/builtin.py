"""A one-rule detector that exists only to test the worker's wiring (station table,
changelog, alarm rows and messages) apart from the rules of ``pipeline/detect/``: its
alarms are exactly predictable, and it keeps no missing-data state and raises no
time-driven alarm.

Select it with ``hj212 worker --detectors pipeline.stream.builtin:wiring_detector``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pipeline.detect.context import StationContext
from pipeline.detect.model import AlarmEvent, AlarmStep, Reading, Transition
from pipeline.detect.state import EpisodeRecord, StationState
from pipeline.detect.station import Result
from pipeline.timebase import from_s, to_s

RULE = "negative"


class NegativeValue:
    """Opens on the first negative value of a (station, pollutant), updates on every
    reading that stays negative, clears on the first reading that is not. Its episodes
    are ``EpisodeRecord``s under ``"<code>|negative"``, so each carries its alarm's
    opening time and step count like the real detectors' do."""

    def __init__(self) -> None:
        self.contexts: dict[str, StationContext] = {}

    def on_frame(self, state: StationState, readings: Sequence[Reading], *, mn: str, st: str,
                 cn: int, data_time: datetime | None, receive_time: datetime,
                 resent: bool = False) -> Result:
        out = Result()
        episodes = state.setdefault("episodes", {})
        for reading in readings:
            key = f"{reading.code}|{RULE}"
            negative = [v for v in reading.values.values() if v < 0]
            ep = episodes.get(key)
            at = to_s(reading.data_time)
            if negative:
                value = min(negative)
                transition: Transition = "open" if ep is None else "update"
                if ep is None:
                    ep = episodes[key] = _record(at, reading.cn, value,
                                                 to_s(reading.receive_time))
                ep["hits"] += 1
                ep["last_seen"] = at
                out.alarms.append(_step(ep, AlarmEvent(
                    mn=reading.mn, code=reading.code, rule=RULE, transition=transition,
                    severity="warning", first_seen=from_s(ep["first_seen"]),
                    last_seen=reading.data_time, cn=reading.cn,
                    message=f"{reading.code} negative ({value}) at {reading.mn}",
                    evidence={"value": value, "count": ep["hits"]})))
            elif ep is not None:
                del episodes[key]
                out.alarms.append(_step(ep, AlarmEvent(
                    mn=reading.mn, code=reading.code, rule=RULE, transition="clear",
                    severity="warning", first_seen=from_s(ep["first_seen"]),
                    last_seen=reading.data_time, cn=reading.cn,
                    message=f"{reading.code} back to non-negative at {reading.mn}",
                    evidence={"count": ep["hits"]})))
        return out

    def tick(self, state: StationState, mn: str, now: datetime) -> Result:
        return Result()


def _record(at: int, cn: int, value: float, received: int) -> EpisodeRecord:
    return {"first_seen": at, "last_seen": at, "opening_hit_at": at, "severity": "warning",
            "hits": 0, "cn": cn, "clean_runs": {str(cn): 0}, "evidence": {"value": value},
            "message": "", "reported_at": at, "alarm_opened_at": at, "alarm_steps": 0,
            "raised_at": received, "opened_cn": cn}


def _step(ep: EpisodeRecord, event: AlarmEvent) -> AlarmStep:
    """The event in its alarm, with when and from what the alarm was raised (kept by the
    opening: an update or clear carries the opening's)."""
    ep["alarm_steps"] += 1
    raised = ep.get("raised_at")
    return AlarmStep(event, from_s(ep["alarm_opened_at"]), ep["alarm_steps"],
                     raised_at=from_s(raised) if raised is not None else None,
                     raised_data_time=from_s(ep["opening_hit_at"]),
                     opened_cn=int(ep.get("opened_cn", ep["cn"])))


def wiring_detector() -> NegativeValue:
    return NegativeValue()
