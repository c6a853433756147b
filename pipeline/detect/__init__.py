"""Detectors: plain objects, state in and events out, no I/O.

The Faust agents (``pipeline/stream/``) call them; tests call them directly. The shared
vocabulary is in ``model.py``; ``station.StationDetector`` runs every rule of one station
(values, episodes, missing data, back-fill planning) and is what a worker should wire.
"""

from __future__ import annotations

from pipeline.detect.model import ReadingDetector


def default_detectors() -> list[ReadingDetector]:
    """Detectors for one-reading-at-a-time wiring (``pipeline.stream.detection``)."""
    from pipeline.detect.station import ReadingAdapter

    return [ReadingAdapter()]
