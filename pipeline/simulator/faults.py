"""Scripted fault injection for the virtual loggers, and the ground truth it leaves.

A fault script (TOML or JSON) lists faults; each names which stations, which kind, which
pollutant, when (simulated time, after the start or absolute) and for how long::

    [[fault]]
    id = "cod-over"            # optional; default <kind>-<n>
    kind = "over_limit"
    stations = "st=32"         # "*", "#3", "#0-9", an MN, "st=31", "edition=2005"
    count = 1                  # how many of the matching stations (a seeded pick)
    pollutant = "w01018"       # 2017 or 2005 code; "*" = all the station measures
    start = "2h"               # after the simulation start, or "2024-03-01T10:00:00"
    duration = "90m"
    factor = 1.6               # kind-specific parameters (see KINDS)

The logger applies a fault while simulated time is inside its window, and reports each
effect to ``GroundTruth``. Ground truth is one JSON line per (fault, station, pollutant)
that took effect, written when its window has passed (or at shutdown): what was injected,
the station, the pollutant, the detector rule it should trip, and the simulated data
times of the first and last data it touched (``first``/``last``; value faults count the
samples they changed, which every data type built from them carries; frame and link
faults count frames, with the data-time window per CN in ``windows``: a drop-out from
16:00 to 18:00 withholds the hourly record stamped 15:00, sent at 16:00). Later work
scores detectors against these lines (``benchmarks/score_detectors.py``).

Besides faults the detectors must find, a script holds traps: cases that look like a
fault to a careless rule but are ordinary operation, whose truth names what alone may be
raised (``stop``: only the flag alarm) or nothing (``low_resolution``, ``resend``:
``rule`` null). And the data-authenticity clues (异常线索, ``pipeline/clues/``): data a
logger could fake, each with its clue rule. Station-wide kinds (``STATION_WIDE``) touch
every pollutant of the station but leave one truth line per station (pollutant null):
their alarm is about the station, not one channel.
"""

from __future__ import annotations

import json
import math
import random
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import hj212

from pipeline.simulator.clock import parse_span
from pipeline.simulator.corpus import PROFILES
from pipeline.simulator.stations import Limits, SimStation

#: faults on a pollutant's readings (at sampling, so every data type carries them); the
#: last ones are traps (stop, low_resolution) and clues, some of them applied where a
#: record is built (o2_conversion: its Zs values; hour_vs_minute: the hourly record)
VALUE_KINDS = ("constant", "zero", "negative", "spike", "over_limit", "out_of_range", "flag",
               "stop", "low_resolution", "o2_conversion", "stopped_unflagged",
               "flagged_running", "hour_vs_minute", "held_under_limit", "repeated_day",
               "twin_stations")
#: faults on the frames as they leave
FRAME_KINDS = ("bad_crc", "garbage", "split", "duplicate", "resend", "conflict")
#: faults on the link
LINK_KINDS = ("dropout", "disconnect")
KINDS = VALUE_KINDS + FRAME_KINDS + LINK_KINDS
#: value kinds applied to every pollutant of the station, truth one line per station
STATION_WIDE = ("stopped_unflagged", "flagged_running", "repeated_day", "twin_stations")
#: O2, the flue-gas and water flows and the gas velocity: what a stop sets to air / zero
O2_CODE = "a19001"
FLOW_CODES = ("a00000", "w00000", "a01011")
#: O2 of air, what a stopped stack's analyser reads
AIR_O2 = 20.9

#: the rule each kind should trip (names of pipeline/detect/rules/default.toml); None: none
RULES: Mapping[str, str | None] = {
    "constant": "constant_streak",
    "zero": "zero_streak",
    "negative": "negative",
    "spike": "spike",
    "over_limit": "over_limit",
    "out_of_range": "out_of_range",
    "flag": "non_n_flag",
    "dropout": "missing",
    "disconnect": "offline",
    "bad_crc": "rejected_crc",
    "garbage": "garbage",
    "split": None,  # a split message is legal; the platform must join it, not alarm
    "duplicate": None,  # an identical resend is normal; the store must not double it
    # a declared stop (F, zeros, O2 at air): the flag alarm, and no zero/constant streak
    "stop": "non_n_flag",
    # an analyser at its real resolution, barely moving: Min < Max, nothing is stuck
    "low_resolution": None,
    # an hour of 2011/2051 frames sent again byte for byte (an answer was lost)
    "resend": None,
    # the same data time again with other values
    "conflict": "time_conflict",
    "o2_conversion": "clue_o2_conversion",
    "stopped_unflagged": "clue_stopped_unflagged",
    "flagged_running": "clue_flagged_running",
    "hour_vs_minute": "clue_hour_vs_minute",
    "held_under_limit": "clue_held_under_limit",
    "repeated_day": "clue_repeated_day",
    "twin_stations": "clue_twin_stations",
}
#: rules besides its own that a kind makes true (a scorer counts them as true alarms, not
#: as found): a stop not flagged is really zero and at air; a running source flagged F
#: really carries F flags; minute records withheld are really missing
ALSO_TRUE: Mapping[str, frozenset[str]] = {
    "dropout": frozenset({"offline"}),
    "disconnect": frozenset({"missing"}),
    "stopped_unflagged": frozenset({"zero_streak", "constant_streak"}),
    "flagged_running": frozenset({"non_n_flag"}),
    "hour_vs_minute": frozenset({"missing"}),
}
#: parameters each kind takes, with defaults
PARAMS: Mapping[str, Mapping[str, Any]] = {
    "constant": {},
    "zero": {},
    "negative": {},
    "spike": {"factor": 8.0},
    "over_limit": {"factor": 1.6},
    "out_of_range": {"factor": 1.5},
    "flag": {"flag": "D"},
    "bad_crc": {"rate": 1.0, "cns": [2011, 2051, 2061, 2031]},
    "garbage": {"rate": 1.0, "cns": [2011, 2051, 2061, 2031]},
    "split": {"parts": 2, "cns": [2011, 2051, 2061, 2031]},
    "duplicate": {"rate": 1.0, "cns": [2011, 2051, 2061, 2031]},
    # lost: the logger did not store the records either, so a back-fill finds nothing
    "dropout": {"lost": False},
    "disconnect": {},
    "stop": {"flag": "F"},
    # the value sits at its start level rounded to `decimals` (default: the pollutant's
    # reporting resolution) with white noise of `spread` resolution steps: the samples
    # (and every period's Min/Max) move by a step or two, the averages do not
    "low_resolution": {"decimals": -1, "spread": 0.6},
    # the frames of `cns` sent in the window go out again at its end, byte for byte
    "resend": {"cns": [2011, 2051]},
    # each frame of `cns` is followed by one of the same data time, values x `factor`
    "conflict": {"cns": [2011], "factor": 1.05},
    # Zs values converted with O2 = measured + `o2_offset` (a lower O2: a smaller ZsAvg)
    "o2_conversion": {"o2_offset": -3.0},
    "stopped_unflagged": {},
    "flagged_running": {"flag": "F"},
    # the hourly record (Min/Avg/Max/ZsAvg/Cou) x `factor`; drop_minutes: the minute
    # records of the hour are neither sent nor kept, the hourly is (one line per station)
    "hour_vs_minute": {"factor": 0.7, "drop_minutes": False},
    # the value held at `level` x the limit (on the limit's basis: the Zs value for
    # converted pollutants) with a uniform wobble of +- `wobble` (relative)
    "held_under_limit": {"level": 0.94, "wobble": 0.01},
    # the samples of `days_back` days before, again
    "repeated_day": {"days_back": 1},
    # the clean series of the station `source` selects (same ST and sampling step)
    "twin_stations": {"source": "*"},
}
_FIELDS = {"id", "kind", "stations", "count", "pollutant", "start", "duration"}
_FLAGS = "FMSDCTB"


class FaultScriptError(ValueError):
    """A fault script entry the simulator cannot use; the message names the entry."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """One entry of a fault script."""

    id: str
    kind: str
    stations: tuple[str, ...] = ("*",)
    count: int | None = None
    pollutant: str | None = None
    #: seconds after the simulation start, or an absolute simulated time
    start: float | datetime = 0.0
    duration: float = 3600.0
    params: Mapping[str, Any] = field(default_factory=dict)

    def window(self, sim_start: datetime) -> tuple[datetime, datetime]:
        begin = self.start if isinstance(self.start, datetime) else (
            sim_start + timedelta(seconds=self.start))
        return begin, begin + timedelta(seconds=self.duration)


def _spec(entry: Mapping[str, Any], index: int, source: str) -> FaultSpec:
    where = f"{source}: fault #{index + 1}"
    kind = str(entry.get("kind", ""))
    if kind not in KINDS:
        raise FaultScriptError(f"{where}: kind={kind!r}; choose from {', '.join(KINDS)}")
    where = f"{where} ({entry.get('id', kind)})"
    defaults = PARAMS[kind]
    unknown = set(entry) - _FIELDS - set(defaults)
    if unknown:
        raise FaultScriptError(f"{where}: unknown keys {sorted(unknown)}; {kind} takes "
                               f"{sorted(_FIELDS | set(defaults))}")
    stations = entry.get("stations", "*")
    selectors = (stations,) if isinstance(stations, str) else tuple(map(str, stations))
    pollutant = entry.get("pollutant")
    # station-wide kinds touch every pollutant: the truth and the clue are the station's
    wide = kind in STATION_WIDE or (kind == "hour_vs_minute" and bool(entry.get("drop_minutes")))
    if wide:
        pollutant = None
    elif kind in VALUE_KINDS:
        if pollutant is None:
            raise FaultScriptError(f"{where}: {kind} needs pollutant = \"<code>\" or \"*\"")
        pollutant = str(pollutant)
        if pollutant != "*" and len(pollutant) != 6:
            modern = hj212.pollutant_2017(pollutant)
            if modern is None:
                raise FaultScriptError(f"{where}: pollutant={pollutant!r} is not a known "
                                       "2005 code; give the 2017 code, e.g. w01018")
            pollutant = modern
    raw_start = entry.get("start", 0)
    try:
        start: float | datetime = (datetime.fromisoformat(raw_start)
                                   if isinstance(raw_start, str) and "-" in raw_start
                                   else parse_span(raw_start))
        if isinstance(raw_start, datetime):
            start = raw_start.replace(tzinfo=None)
        duration = parse_span(entry.get("duration", "1h"))
    except ValueError as exc:
        raise FaultScriptError(f"{where}: {exc}") from None
    if duration <= 0:
        raise FaultScriptError(f"{where}: duration must be above 0")
    params = {**defaults, **{k: v for k, v in entry.items() if k in defaults}}
    if kind in ("flag", "stop", "flagged_running") and (
            len(str(params["flag"])) != 1 or str(params["flag"]) not in _FLAGS):
        raise FaultScriptError(f"{where}: flag={params['flag']!r}; choose one of {_FLAGS}")
    count = entry.get("count")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise FaultScriptError(f"{where}: count={count!r}; give a whole number >= 1")
    return FaultSpec(id=str(entry.get("id", f"{kind}-{index + 1}")), kind=kind,
                     stations=selectors, count=count, pollutant=pollutant, start=start,
                     duration=duration, params=params)


def parse_script(data: Mapping[str, Any], source: str = "<script>") -> list[FaultSpec]:
    """Fault specs from a script's data (``{"fault": [...]}``)."""
    entries = data.get("fault", data.get("faults", []))
    if not isinstance(entries, list):
        raise FaultScriptError(f"{source}: expected a list of [[fault]] tables")
    specs = [_spec(entry, i, source) for i, entry in enumerate(entries)]
    ids = [s.id for s in specs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise FaultScriptError(f"{source}: fault ids {repeated} are used twice; ids must "
                               "be unique, the ground truth is keyed by them")
    return specs


def load_script(path: Path) -> list[FaultSpec]:
    """A TOML (``.toml``) or JSON fault script."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FaultScriptError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    return parse_script(data, str(path))


@dataclass(slots=True)
class Fault:
    """One spec applied to one station and (for value faults) one pollutant."""

    spec: FaultSpec
    station: SimStation
    pollutant: str | None
    start: datetime
    end: datetime
    #: the value a value fault writes against (the limit, the range top), when it has one
    reference: float | None = None
    #: the constant fault's frozen value, set when it first applies
    held: float | None = None

    #: twin_stations: the station whose series this one sends
    source: SimStation | None = None

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def station_wide(self) -> bool:
        """Applied to every pollutant of the station, one truth line (pollutant None)."""
        return self.spec.kind in VALUE_KINDS and self.pollutant is None

    def active(self, when: datetime) -> bool:
        return self.start <= when < self.end


def _matches(selector: str, index: int, station: SimStation) -> bool:
    sel = selector.strip()
    if sel == "*":
        return True
    if sel.startswith("#"):
        lo, _, hi = sel[1:].partition("-")
        return int(lo) <= index <= int(hi or lo)
    if sel.startswith("st="):
        return station.station.st == int(sel[3:])
    if sel.startswith("edition="):
        return station.station.edition == int(sel[8:])
    return station.mn == sel


def sampling_step(station: SimStation) -> int:
    """Seconds between a logger's samples (its real-time and minute cadences' grid)."""
    return math.gcd(station.rtd_interval, station.min_interval * 60)


def _fits(kind: str, station: SimStation, code: str) -> bool:
    """Whether a value kind given pollutant "*" means this pollutant."""
    if kind == "o2_conversion":
        return PROFILES[code].zs
    if kind == "held_under_limit":
        return not math.isnan(station.limits.get(code, Limits()).limit_high)
    return True


def _twin_source(spec: FaultSpec, station: SimStation, fleet: Sequence[SimStation],
                 taken: set[str]) -> SimStation | None:
    """A station for ``station`` to copy: selected by the ``source`` parameter, of the same
    ST and sampling step (so the copy is exact, sample for sample), sharing pollutants,
    not faulted itself as a twin; the first such in fleet order."""
    sel = str(spec.params.get("source", "*"))
    for i, other in enumerate(fleet):
        if (other.mn != station.mn and other.mn not in taken and _matches(sel, i, other)
                and other.station.st == station.station.st
                and sampling_step(other) == sampling_step(station)
                and set(other.station.pollutants) & set(station.station.pollutants)):
            return other
    return None


def assign(specs: Sequence[FaultSpec], fleet: Sequence[SimStation], sim_start: datetime,
           seed: int) -> dict[str, list[Fault]]:
    """Resolve each spec onto stations (MN -> faults). Deterministic from ``seed``."""
    rng = random.Random(seed ^ 0xFA17)
    out: dict[str, list[Fault]] = {}
    twins: set[str] = set()  # stations copying or copied: a pair stays a pair
    for spec in specs:
        start, end = spec.window(sim_start)
        matching = [s for i, s in enumerate(fleet)
                    if any(_matches(sel, i, s) for sel in spec.stations)]
        if spec.pollutant not in (None, "*"):
            matching = [s for s in matching if spec.pollutant in s.station.pollutants]
        if spec.kind == "held_under_limit":
            matching = [s for s in matching if any(
                _fits(spec.kind, s, c) for c in ([spec.pollutant] if spec.pollutant not in
                                                  (None, "*") else s.station.pollutants))]
        if spec.kind == "o2_conversion":
            matching = [s for s in matching if any(PROFILES[c].zs for c in s.station.pollutants)]
        sources: dict[str, SimStation] = {}
        if spec.kind == "twin_stations":
            paired: list[SimStation] = []
            for s in matching:
                if s.mn in twins:
                    continue
                src = _twin_source(spec, s, fleet, twins | {p.mn for p in paired})
                if src is not None:
                    sources[s.mn] = src
                    paired.append(s)
            matching = paired
        if spec.count is not None and spec.count < len(matching):
            matching = rng.sample(matching, spec.count)
        for station in matching:
            codes: Iterable[str | None]
            if spec.kind not in VALUE_KINDS or spec.pollutant is None:
                codes = [None]
            elif spec.pollutant == "*":
                codes = [c for c in station.station.pollutants
                         if _fits(spec.kind, station, c)]
            else:
                codes = [spec.pollutant]
            source = sources.get(station.mn)
            if source is not None:
                twins.update((station.mn, source.mn))
            for code in codes:
                reference = None
                if code is not None and spec.kind in ("over_limit", "held_under_limit"):
                    reference = station.limit_high(code)
                elif code is not None and spec.kind == "out_of_range":
                    reference = station.range_high(code)
                out.setdefault(station.mn, []).append(
                    Fault(spec, station, code, start, end, reference, source=source))
    return out


@dataclass(slots=True)
class _Episode:
    fault: Fault
    first: datetime
    last: datetime
    samples: int = 0
    frames: int = 0
    #: CN -> (first, last) data time of the records the fault touched
    cns: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)


class GroundTruth:
    """Collects what the loggers injected and writes it as JSON lines.

    A line is written once its fault's window has passed (``flush(now)``) or at
    ``close()``; faults that never took effect (the run ended first, the station was
    never up) write nothing, so every line is something that really happened.
    """

    def __init__(self, out: Path | IO[str] | None = None) -> None:
        self._path = out if isinstance(out, Path) else None
        self._fh: IO[str] | None = None if isinstance(out, Path) else out
        if self._path is not None:
            # created (empty) up front: a run with no fault leaves an empty truth, not none
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self._path.open("w", encoding="utf-8")
        self._open: dict[tuple[str, str, str | None], _Episode] = {}
        self.lines: list[dict[str, Any]] = []

    def hit(self, fault: Fault, when: datetime, *, cn: int | None = None,
            samples: int = 0, frames: int = 0) -> None:
        key = (fault.spec.id, fault.station.mn, fault.pollutant)
        ep = self._open.get(key)
        if ep is None:
            ep = self._open[key] = _Episode(fault, when, when)
        ep.first = min(ep.first, when)
        ep.last = max(ep.last, when)
        ep.samples += samples
        ep.frames += frames
        if cn is not None:
            lo, hi = ep.cns.get(cn, (when, when))
            ep.cns[cn] = (min(lo, when), max(hi, when))

    def flush(self, now: datetime, mn: str | None = None) -> None:
        """Write the episodes (of station ``mn``, or all) whose window ended before
        ``now``. Loggers run at slightly different simulated times, so each flushes only
        its own: another's now says nothing about whether this one is done."""
        done = [k for k, ep in self._open.items()
                if ep.fault.end <= now and (mn is None or k[1] == mn)]
        for key in sorted(done, key=lambda k: (self._open[k].first, k[0], k[1])):
            self._write(self._open.pop(key))

    def close(self) -> None:
        for key in sorted(self._open, key=lambda k: (self._open[k].first, k[0], k[1])):
            self._write(self._open.pop(key))
        if self._fh is not None and self._path is not None:
            self._fh.close()
            self._fh = None

    def _write(self, ep: _Episode) -> None:
        f = ep.fault
        station = f.station.station
        line: dict[str, Any] = {
            "fault": f.spec.id,
            "kind": f.kind,
            "rule": RULES[f.kind],
            "mn": station.mn,
            "st": station.st,
            "edition": station.edition,
            "pollutant": f.pollutant,
            "wire_code": station.wire_code(f.pollutant) if f.pollutant else None,
            "start": f.start.isoformat(),
            "end": f.end.isoformat(),
            "first": ep.first.isoformat(),
            "last": ep.last.isoformat(),
            "samples": ep.samples,
            "frames": ep.frames,
            "cns": sorted(ep.cns),
            "windows": {str(cn): [lo.isoformat(), hi.isoformat()]
                        for cn, (lo, hi) in sorted(ep.cns.items())},
            "params": dict(f.spec.params),
            "rtd_interval": f.station.rtd_interval,
            "min_interval": f.station.min_interval,
        }
        if f.source is not None:
            line["source"] = f.source.mn
        if f.reference is not None:
            line["reference"] = f.reference
        if f.kind in LINK_KINDS:
            line["backfillable"] = not bool(f.spec.params.get("lost", False))
        self.lines.append(line)
        if self._fh is not None:
            self._fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._fh.flush()
