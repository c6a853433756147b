"""Scripted readings for the detector tests, with values from the simulator's profiles."""

from __future__ import annotations

import dataclasses
import math
import random
from datetime import datetime, timedelta
from typing import Any

from pipeline.detect.context import StationContext
from pipeline.detect.model import Reading
from pipeline.detect.station import DetectorBundle
from pipeline.registry.model import Limit
from pipeline.simulator.profiles import Signal, zs_factor

WATER_MN = "ED9086BB27E018C0216944ED"
GAS_MN = "228C4A3FFFFCA92407172A0B"
T0 = datetime(2024, 3, 1, 8, 0, 0)
NAN = float("nan")


def canon(x: Any) -> Any:
    """Comparable form of observations, events and states: NaN equal to NaN, dicts
    without their order."""
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return canon({f.name: getattr(x, f.name) for f in dataclasses.fields(x)})
    if isinstance(x, dict):
        return sorted((str(k), canon(v)) for k, v in x.items())
    if isinstance(x, list | tuple):
        return [canon(v) for v in x]
    if isinstance(x, float) and math.isnan(x):
        return "NaN"
    return x


def limit(mn: str, code: str, high: float, rng_high: float, basis: str = "avg",
          low: float = NAN) -> Limit:
    return Limit(mn, code, low, high, basis, 0.0, rng_high, "mg/L")


WATER = StationContext(WATER_MN, "32", 30, 10, {
    "w00000": limit(WATER_MN, "w00000", NAN, 500),
    "w01018": limit(WATER_MN, "w01018", 50, 200),
    "w21003": limit(WATER_MN, "w21003", 5, 20),
    "w01001": limit(WATER_MN, "w01001", 9, 14, low=6),
})
GAS = StationContext(GAS_MN, "31", 30, 10, {
    "a21026": limit(GAS_MN, "a21026", 100, 500, "zs_avg"),
    "a34013": limit(GAS_MN, "a34013", 20, 100, "zs_avg"),
    "a19001": limit(GAS_MN, "a19001", NAN, 25),
    "a00000": limit(GAS_MN, "a00000", NAN, 1000),
})
BASELINES = {"w00000": 60.0, "w01018": 30.0, "w21003": 1.5, "w01001": 7.2,
             "a21026": 40.0, "a34013": 8.0, "a19001": 9.0, "a00000": 90.0}


def detector() -> DetectorBundle:
    return DetectorBundle(contexts={WATER_MN: WATER, GAS_MN: GAS})


def reading(ctx: StationContext, cn: int, code: str, when: datetime, *,
            received: datetime | None = None, flag: str | None = "N", resent: bool = False,
            **values: float) -> Reading:
    return Reading(mn=ctx.mn, st=ctx.st, cn=cn, code=code, data_time=when,
                   receive_time=received or when, values=values, flag=flag, resent=resent)


class Clean:
    """Clean real-time values of one station, as the simulator's loggers make them."""

    def __init__(self, codes: list[str], seed: int = 3) -> None:
        rng = random.Random(seed)
        self.signals = {c: Signal(c, BASELINES[c], rng) for c in codes}

    def sample(self, when: datetime) -> dict[str, float]:
        return {c: round(s.sample(when), 3) for c, s in self.signals.items()}


def feed(det: DetectorBundle, state: dict, ctx: StationContext, cn: int, when: datetime,
         values: dict[str, dict[str, float]], *, flag: str | None = "N",
         received: datetime | None = None, resent: bool = False) -> list:
    """One frame (code -> fields) into the detector; its alarm events."""
    readings = [reading(ctx, cn, code, when, received=received, flag=flag, resent=resent,
                        **fields) for code, fields in values.items()]
    result = det.on_frame(state, readings, mn=ctx.mn, st=ctx.st, cn=cn, data_time=when,
                          receive_time=received or when, resent=resent)
    return result.events


def rtd_frame(values: dict[str, float], gas: bool = False) -> dict[str, dict[str, float]]:
    zs = zs_factor(values.get("a19001", 9.0))
    out = {}
    for code, v in values.items():
        fields = {"rtd": v}
        if gas and code in ("a21026", "a34013"):
            fields["zs_rtd"] = v * zs
        out[code] = fields
    return out


def every(start: datetime, step_s: int, n: int) -> list[datetime]:
    return [start + timedelta(seconds=step_s * i) for i in range(n)]


def kinds(events: list, rule: str | None = None) -> list[tuple[str, str, str]]:
    return [(e.rule, e.code, e.transition) for e in events if rule is None or e.rule == rule]
