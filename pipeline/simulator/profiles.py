"""How each pollutant's value moves through a day: a daily shape around the station's
baseline plus correlated noise.

Built on the corpus profiles (``corpus.PROFILES``: codes, 2005 codes, typical ranges,
decimals, what Cou means), which say *where* a value sits; this module says how it moves.
Plants run on a day shift, so flows and loads peak in the working day and sag at night;
concentrations follow the load more weakly; O2 moves against the load (more excess air
at low load); pH barely moves. The noise is an AR(1) process, not white noise, because
analysers smooth what they see: consecutive readings are close, and a detector of
"spikes" must not fire on ordinary wobble.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from pipeline.simulator.corpus import PROFILES, Profile

REFERENCE_O2 = 6.0  # % O2 of the emission standard for coal-fired boilers (as in corpus)


@dataclass(frozen=True, slots=True)
class Shape:
    """Daily curve: ``1 + amplitude * cos(2*pi*(hour - peak_hour)/24)`` times the baseline,
    then relative AR(1) noise with standard deviation ``noise`` and lag-1 correlation
    ``persistence`` per sample."""

    amplitude: float
    peak_hour: float
    noise: float
    persistence: float = 0.9
    #: values are clipped into this band (pH 0..14, O2 below 21 %)
    floor: float = 0.0
    ceiling: float = math.inf


_FLOW = Shape(0.35, 14.0, 0.04)
_WATER_CONC = Shape(0.15, 15.0, 0.05)
_GAS_LOAD = Shape(0.25, 11.0, 0.03)
_GAS_CONC = Shape(0.2, 11.5, 0.06)

SHAPES: dict[str, Shape] = {
    "w00000": _FLOW,
    "w01001": Shape(0.01, 15.0, 0.004, floor=0.0, ceiling=14.0),  # pH
    "w01010": Shape(0.08, 16.0, 0.01),  # water temperature follows the day
    "a00000": _GAS_LOAD,
    "a01011": _GAS_LOAD,  # velocity goes with the flow
    "a19001": Shape(-0.08, 11.0, 0.02, ceiling=20.9),  # O2 against the load
    "a01012": Shape(0.05, 12.0, 0.01),  # flue-gas temperature
    "a01013": Shape(0.1, 11.0, 0.03),  # pressure
    "a01014": Shape(0.05, 6.0, 0.03),  # humidity
}


def shape_of(code: str) -> Shape:
    """The shape of a 2017 pollutant code (a default for its kind when not listed)."""
    shape = SHAPES.get(code)
    if shape is not None:
        return shape
    return _GAS_CONC if code.startswith("a") else _WATER_CONC


def hour_of_day(when: datetime) -> float:
    return when.hour + when.minute / 60 + when.second / 3600


class Signal:
    """One pollutant's true value at one station, sampled forward in time.

    ``sample(when)`` must be called with non-decreasing times: the noise state moves one
    step per call, which is what makes the whole logger deterministic from its seed no
    matter how the wall clock jitters.
    """

    __slots__ = ("baseline", "code", "profile", "rng", "shape", "state")

    def __init__(self, code: str, baseline: float, rng: random.Random) -> None:
        self.code = code
        self.profile: Profile = PROFILES[code]
        self.shape = shape_of(code)
        self.baseline = baseline
        self.rng = rng
        self.state = 0.0

    def sample(self, when: datetime) -> float:
        shape = self.shape
        rho = shape.persistence
        self.state = rho * self.state + math.sqrt(1 - rho * rho) * self.rng.gauss(0.0, 1.0)
        daily = 1 + shape.amplitude * math.cos(
            2 * math.pi * (hour_of_day(when) - shape.peak_hour) / 24)
        value = self.baseline * daily * (1 + shape.noise * self.state)
        return min(max(value, shape.floor), shape.ceiling)


def zs_factor(o2: float) -> float:
    """Multiplier from measured to reference-O2 concentration (折算)."""
    return (21.0 - REFERENCE_O2) / (21.0 - min(o2, 20.0))


def fmt(value: float, decimals: int) -> str:
    """A reading as the wire shows it: fixed decimals, never ``-0.00``."""
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        return text[1:]
    return text
