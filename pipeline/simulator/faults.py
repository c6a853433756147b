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
scores detectors against these lines.
"""

from __future__ import annotations

import json
import random
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import hj212

from pipeline.simulator.clock import parse_span
from pipeline.simulator.stations import SimStation

#: faults on a pollutant's readings (at sampling, so every data type carries them)
VALUE_KINDS = ("constant", "zero", "negative", "spike", "over_limit", "out_of_range", "flag")
#: faults on the frames as they leave
FRAME_KINDS = ("bad_crc", "garbage", "split", "duplicate")
#: faults on the link
LINK_KINDS = ("dropout", "disconnect")
KINDS = VALUE_KINDS + FRAME_KINDS + LINK_KINDS

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
    if kind in VALUE_KINDS:
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
    if kind == "flag" and (len(str(params["flag"])) != 1 or str(params["flag"]) not in _FLAGS):
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

    @property
    def kind(self) -> str:
        return self.spec.kind

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


def assign(specs: Sequence[FaultSpec], fleet: Sequence[SimStation], sim_start: datetime,
           seed: int) -> dict[str, list[Fault]]:
    """Resolve each spec onto stations (MN -> faults). Deterministic from ``seed``."""
    rng = random.Random(seed ^ 0xFA17)
    out: dict[str, list[Fault]] = {}
    for spec in specs:
        start, end = spec.window(sim_start)
        matching = [s for i, s in enumerate(fleet)
                    if any(_matches(sel, i, s) for sel in spec.stations)]
        if spec.pollutant not in (None, "*"):
            matching = [s for s in matching if spec.pollutant in s.station.pollutants]
        if spec.count is not None and spec.count < len(matching):
            matching = rng.sample(matching, spec.count)
        for station in matching:
            codes: Iterable[str | None]
            if spec.kind not in VALUE_KINDS:
                codes = [None]
            elif spec.pollutant == "*":
                codes = station.station.pollutants
            else:
                codes = [spec.pollutant]
            for code in codes:
                reference = None
                if code is not None and spec.kind == "over_limit":
                    reference = station.limit_high(code)
                elif code is not None and spec.kind == "out_of_range":
                    reference = station.range_high(code)
                out.setdefault(station.mn, []).append(
                    Fault(spec, station, code, start, end, reference))
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
        }
        if f.reference is not None:
            line["reference"] = f.reference
        if f.kind in LINK_KINDS:
            line["backfillable"] = not bool(f.spec.params.get("lost", False))
        self.lines.append(line)
        if self._fh is not None:
            self._fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._fh.flush()
