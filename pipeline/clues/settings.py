"""The clue part of the rules: ``pipeline/detect/rules/clues.toml``, loaded and checked.

``ClueSettings.load()`` reads the file, checks every key (unknown keys, wrong types and
values out of range stop it with the file, the key and the value), and gives per clue a
``ClueRule`` (enabled, severity, thresholds) and per station the ``StationSetup`` (flow
code, stopped-flow threshold, reference O2) resolved from its ST, its industry and its
own section.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.detect import names
from pipeline.detect.model import Severity

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "detect" / "rules" / "clues.toml"


class ClueSettingsError(ValueError):
    """A clue settings file the sweep cannot use; the message names the file and key."""


# key -> (kind, low, high): kind "float" or "int"; low/high inclusive bounds
_Spec = Mapping[str, tuple[str, float, float]]
_FRACTION = ("float", 0.0, 1.0)
_POSITIVE = ("float", 0.0, math.inf)
_O2 = ("float", 0.0, 21.0)

#: the thresholds each clue takes (beside enabled and severity)
CLUE_KEYS: Mapping[str, _Spec] = {
    "clue_o2_conversion": {"tolerance": _POSITIVE, "abs_tolerance": _POSITIVE, "o2_max": _O2,
                           "minute_share": _FRACTION,
                           "minute_min_records": ("int", 1, 10_000)},
    "clue_stopped_unflagged": {"o2_air_min": _O2, "min_hours": ("int", 1, 24 * 31),
                               "n_share": _FRACTION},
    "clue_flagged_running": {"f_share": _FRACTION, "o2_running_max": _O2,
                             "min_hours": ("int", 1, 24 * 31)},
    "clue_hour_vs_minute": {"tolerance": _POSITIVE, "abs_tolerance": _POSITIVE,
                            "realtime_tolerance": _POSITIVE, "min_coverage": _FRACTION,
                            "minute_history_hours": ("int", 1, 24 * 31),
                            "link_gap_min": ("float", 1.0, 24 * 60.0)},
    "clue_held_under_limit": {"band_low": _FRACTION, "band_high": ("float", 0.0, 10.0),
                              "band_share": _FRACTION, "min_hours": ("int", 1, 24),
                              "cv_fraction": _POSITIVE, "history_days": ("int", 1, 90),
                              "min_history_days": ("int", 1, 90),
                              "cv_absolute": _POSITIVE},
    "clue_repeated_day": {"lookback_days": ("int", 1, 90), "min_points": ("int", 2, 24),
                          "match_share": _FRACTION, "tolerance": _POSITIVE,
                          "min_distinct": ("int", 1, 24)},
    "clue_twin_stations": {"min_points": ("int", 2, 24), "match_share": _FRACTION,
                           "tolerance": _POSITIVE, "min_distinct": ("int", 1, 24)},
}
_SWEEP_KEYS: _Spec = {"hour_grace_min": ("float", 0.0, 24 * 60.0),
                      "day_grace_min": ("float", 0.0, 7 * 24 * 60.0),
                      "lookback_hours": ("int", 1, 24 * 90)}
_STATION_KEYS = ("flow_code", "flow_stopped_max", "o2_ref", "industry")

assert set(CLUE_KEYS) == set(names.CLUE_RULES), "every clue rule has its settings"


@dataclass(frozen=True, slots=True)
class ClueRule:
    rule: str
    enabled: bool
    severity: Severity
    values: Mapping[str, float]

    def __getitem__(self, key: str) -> float:
        return self.values[key]

    def int(self, key: str) -> int:
        return int(self.values[key])


@dataclass(frozen=True, slots=True)
class StationSetup:
    """What the clues need to know of one station beyond its data."""

    st: str
    flow_code: str
    flow_stopped_max: float
    #: reference O2 (%) of the station's industry; NaN where none applies (waste water)
    o2_ref: float
    #: where o2_ref came from, for the evidence: "st 31", "industry 燃气锅炉", "station"
    o2_ref_source: str


@dataclass(frozen=True, slots=True)
class SweepSetup:
    hour_grace_min: float
    day_grace_min: float
    lookback_hours: int


def _number(where: str, key: str, value: Any, spec: tuple[str, float, float]) -> float:
    kind, low, high = spec
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClueSettingsError(f"{where}: {key} = {value!r} is not a number; write e.g. "
                                f"{key} = {low if math.isfinite(low) else 1}")
    if kind == "int" and not float(value).is_integer():
        raise ClueSettingsError(f"{where}: {key} = {value!r} must be a whole number")
    if not low <= float(value) <= high:
        raise ClueSettingsError(f"{where}: {key} = {value!r} is out of range; allowed "
                                f"{low} .. {high}")
    return float(value)


def _section(where: str, data: Mapping[str, Any], spec: _Spec,
             extra: tuple[str, ...] = ()) -> dict[str, float]:
    unknown = sorted(set(data) - set(spec) - set(extra))
    if unknown:
        raise ClueSettingsError(f"{where}: unknown keys {unknown}; allowed: "
                                f"{sorted([*spec, *extra])}")
    missing = sorted(set(spec) - set(data))
    if missing:
        raise ClueSettingsError(f"{where}: no value for {missing}")
    return {key: _number(where, key, data[key], s) for key, s in spec.items()}


class ClueSettings:
    """A loaded clue settings file; see the module docstring."""

    def __init__(self, data: Mapping[str, Any], source: str = "<clues>") -> None:
        self.source = source
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise ClueSettingsError(f"{source}: version = \"...\" is required (the clue "
                                    "settings are versioned)")
        self.version = version
        known = {"version", "sweep", "industry", "st", "station", *CLUE_KEYS}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ClueSettingsError(f"{source}: unknown sections {unknown}; allowed: "
                                    f"{sorted(known)}")
        sweep = _section(f"{source} [sweep]", dict(data.get("sweep", {})), _SWEEP_KEYS)
        self.sweep = SweepSetup(sweep["hour_grace_min"], sweep["day_grace_min"],
                                int(sweep["lookback_hours"]))
        self.industry: dict[str, float] = {}
        for name, value in dict(data.get("industry", {})).items():
            self.industry[str(name)] = _number(f"{source} [industry]", f'"{name}"', value, _O2)
        self.rules: dict[str, ClueRule] = {}
        for rule, spec in CLUE_KEYS.items():
            where = f"{source} [{rule}]"
            section = data.get(rule)
            if not isinstance(section, Mapping):
                raise ClueSettingsError(f"{where}: missing; every clue has its section "
                                        "(enabled, severity, thresholds)")
            enabled = section.get("enabled")
            if not isinstance(enabled, bool):
                raise ClueSettingsError(f"{where}: enabled = {enabled!r}; write true or false")
            severity = section.get("severity")
            if severity not in names.SEVERITIES:
                raise ClueSettingsError(f"{where}: severity = {severity!r}; choose from "
                                        f"{', '.join(names.SEVERITIES)}")
            values = _section(where, {k: v for k, v in section.items()
                                      if k not in ("enabled", "severity")}, spec)
            self.rules[rule] = ClueRule(rule, enabled, severity, values)
        held = self.rules["clue_held_under_limit"]
        if held["band_low"] >= held["band_high"]:
            raise ClueSettingsError(f"{source} [clue_held_under_limit]: band_low = "
                                    f"{held['band_low']} must be below band_high = "
                                    f"{held['band_high']}")
        self._st = {str(k): self._station_layer(f"{source} [st.\"{k}\"]", v)
                    for k, v in dict(data.get("st", {})).items()}
        self._station = {str(k): self._station_layer(f"{source} [station.\"{k}\"]", v)
                         for k, v in dict(data.get("station", {})).items()}
        self._cache: dict[tuple[str, str], StationSetup] = {}

    def _station_layer(self, where: str, layer: Any) -> dict[str, Any]:
        if not isinstance(layer, Mapping):
            raise ClueSettingsError(f"{where}: must be a table of {list(_STATION_KEYS)}")
        unknown = sorted(set(layer) - set(_STATION_KEYS))
        if unknown:
            raise ClueSettingsError(f"{where}: unknown keys {unknown}; allowed: "
                                    f"{list(_STATION_KEYS)}")
        out = dict(layer)
        if "flow_code" in out and not isinstance(out["flow_code"], str):
            raise ClueSettingsError(f"{where}: flow_code = {out['flow_code']!r}; write a "
                                    "pollutant code such as \"a00000\"")
        if "flow_stopped_max" in out:
            _number(where, "flow_stopped_max", out["flow_stopped_max"], _POSITIVE)
        if "o2_ref" in out:
            _number(where, "o2_ref", out["o2_ref"], ("float", 0.0, 20.9))
        if "industry" in out and out["industry"] not in self.industry:
            raise ClueSettingsError(f"{where}: industry = {out['industry']!r} is not in "
                                    f"[industry]; choose from {', '.join(self.industry)}")
        return out

    @classmethod
    def load(cls, path: Path | None = None) -> ClueSettings:
        path = path or DEFAULT_PATH
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ClueSettingsError(f"clue settings {path}: cannot read it ({exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ClueSettingsError(f"clue settings {path}: not valid TOML: {exc}") from None
        return cls(data, str(path))

    def rule(self, rule: str) -> ClueRule:
        return self.rules[rule]

    def station(self, mn: str, st: str) -> StationSetup:
        """The station's setup: its ST's layer, then its own (an industry gives o2_ref
        unless the same layer sets o2_ref itself)."""
        key = (mn, st)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        flow_code = "a00000" if st == "31" else "w00000"
        flow_max = 0.0
        o2_ref, source = math.nan, ""
        for label, layer in ((f"st {st}", self._st.get(st)), ("station", self._station.get(mn))):
            if not layer:
                continue
            flow_code = str(layer.get("flow_code", flow_code))
            flow_max = float(layer.get("flow_stopped_max", flow_max))
            if "o2_ref" in layer:
                o2_ref, source = float(layer["o2_ref"]), label
            elif "industry" in layer:
                o2_ref = self.industry[layer["industry"]]
                source = f"industry {layer['industry']}"
        out = self._cache[key] = StationSetup(st, flow_code, flow_max, o2_ref, source)
        return out


_DEFAULT: ClueSettings | None = None


def default_settings() -> ClueSettings:
    """The packaged clue settings, loaded once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = ClueSettings.load()
    return _DEFAULT
