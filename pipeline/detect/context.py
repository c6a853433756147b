"""What detectors know about a station besides its data: type, intervals and limits.

Built from the registry (``pipeline.registry``), by the worker from ClickHouse or by tests
and the offline benchmark from the CSV files. A station the registry does not know gets a
context from its frames (ST only, default intervals, no limits): limit rules stay silent
for it rather than guess.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.registry.model import Limit, Station
from pipeline.timebase import DEFAULT_MIN_INTERVAL_MIN, DEFAULT_RTD_INTERVAL_S, cn_period

DEFAULT_RTD_INTERVAL = DEFAULT_RTD_INTERVAL_S
DEFAULT_MIN_INTERVAL = DEFAULT_MIN_INTERVAL_MIN


@dataclass(frozen=True, slots=True)
class StationContext:
    mn: str
    st: str
    rtd_interval: int = DEFAULT_RTD_INTERVAL  # seconds between 2011 records
    min_interval: int = DEFAULT_MIN_INTERVAL  # minutes between 2051 records
    limits: Mapping[str, Limit] = field(default_factory=dict)  # 2017 code -> limits

    def period_s(self, cn: int) -> int:
        """Seconds one record of ``cn`` covers (and its expected cadence)."""
        return cn_period(cn, rtd_interval=self.rtd_interval,
                         min_interval=self.min_interval) or 0


def finite(x: float | None) -> bool:
    return x is not None and not math.isnan(x)


def contexts(stations: Iterable[Station], limits: Iterable[Limit]) -> dict[str, StationContext]:
    """MN -> context for the active registry entries."""
    by_mn: dict[str, dict[str, Limit]] = {}
    for lim in limits:
        if lim.active:
            by_mn.setdefault(lim.mn, {})[lim.code] = lim
    return {s.mn: StationContext(s.mn, s.st, s.rtd_interval, s.min_interval,
                                 by_mn.get(s.mn, {}))
            for s in stations if s.active}


def contexts_from_csv(directory: Path) -> dict[str, StationContext]:
    """Contexts from a registry folder (``stations.csv`` and ``limits.csv``)."""
    from pipeline.registry.csv_io import read_files

    reg = read_files([directory / "stations.csv", directory / "limits.csv"])
    return contexts(reg.stations, reg.limits)
