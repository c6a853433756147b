"""Simulated data loggers: a seeded frame corpus (``corpus``) for tests and benchmarks, and
virtual loggers (``logger``) on an accelerated clock (``clock``) with daily profiles
(``profiles``), scripted faults and their ground truth (``faults``), run as a TCP fleet
against the gateway (``fleet``, ``hj212 simulate`` in ``cli``)."""

from pipeline.simulator.corpus import (
    DEFECTS,
    DEVIATIONS,
    Corpus,
    DeviceSpec,
    Profile,
    Sample,
    make_station,
    reframe,
)

__all__ = [
    "DEFECTS",
    "DEVIATIONS",
    "Corpus",
    "DeviceSpec",
    "Profile",
    "Sample",
    "make_station",
    "reframe",
]
