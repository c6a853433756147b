"""A one-rule detector set that exists only to test the wiring (tables, changelog,
alarm publishing) before and apart from the real detectors in ``pipeline/detect/``.

Select it with ``hj212 worker --detectors pipeline.stream.builtin:wiring_detectors``.
"""

from __future__ import annotations

from datetime import datetime

from pipeline.detect.model import AlarmEvent, Reading, ReadingDetector, State, Transition


class NegativeValue:
    """Opens on the first negative value of a (station, data type, pollutant), counts the
    readings while it stays negative, clears on the first reading that is not."""

    name = "wiring_negative"

    def observe(self, state: State, reading: Reading) -> tuple[State, list[AlarmEvent]]:
        negative = {k: v for k, v in reading.values.items() if v < 0}
        is_open = bool(state.get("open"))
        if negative:
            value = min(negative.values())
            transition: Transition = "update" if is_open else "open"
            first = state.get("first", reading.data_time.isoformat()) if is_open \
                else reading.data_time.isoformat()
            new = {"open": True, "first": first, "count": int(state.get("count", 0)) + 1}
            return new, [AlarmEvent(
                mn=reading.mn, code=reading.code, rule="negative", transition=transition,
                severity="warning", first_seen=datetime.fromisoformat(first),
                last_seen=reading.data_time, cn=reading.cn,
                message=f"{reading.code} negative ({value}) at {reading.mn}",
                evidence={"value": value, "count": new["count"]})]
        if is_open:
            return {}, [AlarmEvent(
                mn=reading.mn, code=reading.code, rule="negative", transition="clear",
                severity="warning", first_seen=datetime.fromisoformat(state["first"]),
                last_seen=reading.data_time, cn=reading.cn,
                message=f"{reading.code} back to non-negative at {reading.mn}",
                evidence={"count": int(state.get("count", 0))})]
        return state, []


def wiring_detectors() -> list[ReadingDetector]:
    return [NegativeValue()]
