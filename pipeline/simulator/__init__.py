"""Simulated data loggers: the frames they send (``corpus``) and, later, the fleet that
talks to the gateway over TCP."""

from pipeline.simulator.corpus import (
    DEFECTS,
    DEVIATIONS,
    Corpus,
    Profile,
    Sample,
    Station,
    make_station,
    reframe,
)

__all__ = ["DEFECTS", "DEVIATIONS", "Corpus", "Profile", "Sample", "Station", "make_station",
           "reframe"]
