"""Where the simulated fleet comes from: the station registry's CSV files when they are
there (so the gateway knows every MN and PW the simulator uses), else stations made from
the seed by ``corpus.make_station``.

A registry station says its MN, PW, ST, edition, intervals and, through its limits rows,
which pollutants it measures and their limits and instrument ranges; the simulator adds a
baseline per pollutant from the corpus profiles.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline.simulator.corpus import PROFILES, DeviceSpec, make_station

REGISTRY_DIR = Path(__file__).resolve().parents[1] / "registry" / "data"
DEFAULT_RTD_INTERVAL = 30
DEFAULT_MIN_INTERVAL = 10


@dataclass(frozen=True, slots=True)
class Limits:
    """What a pollutant at a station may read: the emission limit and the instrument
    range. NaN where a bound does not apply."""

    limit_high: float = math.nan
    limit_low: float = math.nan
    range_low: float = math.nan
    range_high: float = math.nan


@dataclass(frozen=True, slots=True)
class SimStation:
    """One station as the simulator runs it."""

    station: DeviceSpec
    rtd_interval: int = DEFAULT_RTD_INTERVAL  # seconds
    min_interval: int = DEFAULT_MIN_INTERVAL  # minutes
    limits: Mapping[str, Limits] = field(default_factory=dict)

    @property
    def mn(self) -> str:
        return self.station.mn

    def limit_high(self, code: str) -> float:
        """The emission limit, or a stand-in (3x the profile's top) where none is known, so
        an over-limit fault is over any plausible limit."""
        value = self.limits.get(code, Limits()).limit_high
        return value if not math.isnan(value) else 3 * PROFILES[code].high

    def range_high(self, code: str) -> float:
        value = self.limits.get(code, Limits()).range_high
        return value if not math.isnan(value) else 10 * PROFILES[code].high


def parse_editions(text: str) -> dict[int, float]:
    """``"2005=0.1,2017=0.8,2025=0.1"`` to weights."""
    weights: dict[int, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, _, share = item.partition("=")
        try:
            edition, weight = int(name), float(share)
        except ValueError:
            raise ValueError(f"editions {text!r}: write edition=share pairs, e.g. "
                             "2005=0.1,2017=0.8,2025=0.1") from None
        if edition not in (2005, 2017, 2025) or weight < 0:
            raise ValueError(f"editions {text!r}: editions are 2005, 2017, 2025 with shares "
                             ">= 0")
        weights[edition] = weight
    if not weights or sum(weights.values()) <= 0:
        raise ValueError(f"editions {text!r}: give at least one edition a share above 0")
    return weights


def made_fleet(count: int, seed: int, editions: Mapping[int, float],
               gas_share: float = 0.5) -> list[SimStation]:
    """``count`` stations from the seed (no registry)."""
    rng = random.Random(seed)
    keys = list(editions)
    out = []
    for _ in range(count):
        edition = rng.choices(keys, weights=[editions[k] for k in keys])[0]
        station = make_station(rng, edition=edition, gas=rng.random() < gas_share)
        rtd = rng.choice((30, 30, 60, 60, 300))
        minutes = rng.choice((1, 5, 10, 10))
        out.append(SimStation(station, rtd_interval=rtd, min_interval=minutes))
    return out


#: a clean station's normal level stays this far under its emission limit: the daily shape,
#: noise and (for flue gas) the conversion to reference O2 add up to about 2x at the peak,
#: and a limit crossed by clean data would be a false alarm in the detectors' scoring
_LIMIT_HEADROOM = 0.3


def _baseline(rng: random.Random, code: str, limits: Limits | None) -> float:
    p = PROFILES[code]
    level = rng.uniform(p.low, p.high)
    # only upper limits on an amount (a pH-like band with a lower bound is left alone)
    if (limits is not None and math.isfinite(limits.limit_high) and limits.limit_high > 0
            and not math.isfinite(limits.limit_low)):
        level = min(level, _LIMIT_HEADROOM * limits.limit_high)
    return level


def _number(text: str) -> float:
    return float(text) if text.strip() else math.nan


def registry_fleet(directory: Path, count: int | None, seed: int,
                   editions: Mapping[int, float] | None = None) -> list[SimStation]:
    """Stations of ``stations.csv`` (active ones, file order) with the pollutants and
    limits of ``limits.csv``; the first ``count`` of them. ``editions``, when given,
    overrides the registry's edition by a seeded draw (for edition mixes the registry
    does not have; the gateway then sees the same MN in another edition)."""
    rng = random.Random(seed)
    stations_csv = directory / "stations.csv"
    limits_csv = directory / "limits.csv"
    by_mn: dict[str, dict[str, Limits]] = {}
    if limits_csv.exists():
        with limits_csv.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("active", "1").strip() in ("0", "false", "no"):
                    continue
                code = row["code"].strip()
                if code not in PROFILES:
                    continue  # a code the simulator has no profile for
                by_mn.setdefault(row["mn"].strip(), {})[code] = Limits(
                    limit_low=_number(row.get("limit_low", "")),
                    limit_high=_number(row.get("limit_high", "")),
                    range_low=_number(row.get("range_low", "")),
                    range_high=_number(row.get("range_high", "")),
                )
    out: list[SimStation] = []
    with stations_csv.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            if count is not None and len(out) >= count:
                break
            if row.get("active", "1").strip() in ("0", "false", "no"):
                continue
            st = int(row["st"])
            if st not in (31, 32):
                continue  # the profiles cover flue gas and waste water only
            edition = int(row["edition"])
            if editions:
                keys = list(editions)
                edition = rng.choices(keys, weights=[editions[k] for k in keys])[0]
            limits = by_mn.get(row["mn"].strip(), {})
            codes = [c for c in limits
                     if edition != 2005 or PROFILES[c].code_2005 is not None]
            if not codes:
                made = make_station(rng, edition=edition, gas=st == 31)
                codes = list(made.pollutants)
            station = DeviceSpec(
                mn=row["mn"].strip(), pw=row["pw"].strip(), st=st, edition=edition,
                pollutants=tuple(codes),
                baselines={c: _baseline(rng, c, limits.get(c)) for c in codes},
            )
            out.append(SimStation(station, rtd_interval=int(row["rtd_interval"]),
                                  min_interval=int(row["min_interval"]), limits=limits))
    return out


def load_fleet(count: int, seed: int, editions: Mapping[int, float] | None = None, *,
               registry: Path | None = REGISTRY_DIR) -> list[SimStation]:
    """The registry's stations when its CSV is there (topped up from the seed when
    ``count`` asks for more), else ``count`` stations from the seed."""
    fleet: list[SimStation] = []
    if registry is not None and (registry / "stations.csv").exists():
        fleet = registry_fleet(registry, count, seed, editions)
    if len(fleet) < count:
        extra = made_fleet(count - len(fleet), seed + 1, editions or {2017: 1.0})
        fleet.extend(extra)
    return fleet


def with_intervals(station: SimStation, rtd: int, minutes: int) -> SimStation:
    return replace(station, rtd_interval=rtd, min_interval=minutes)


def by_mn(stations: Sequence[SimStation]) -> dict[str, SimStation]:
    return {s.mn: s for s in stations}
