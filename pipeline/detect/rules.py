"""The versioned rules file: thresholds per pollutant, station type and station.

``Rules.load()`` reads ``rules/default.toml`` (or a file given), checks every key, and
``Rules.for_(mn, st, code)`` gives the resolved ``Thresholds`` of one series, with the
layers applied in order (defaults, ST, pollutant, ST+pollutant, station,
station+pollutant). Resolution is cached: detectors call it for every reading.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

from pipeline.detect import names
from pipeline.detect.model import Severity

DEFAULT_PATH = Path(__file__).resolve().parent / "rules" / "default.toml"
SEVERITIES: tuple[Severity, ...] = names.SEVERITIES
#: the rules a rules file may name: the stream detectors' (``names.DETECTOR_RULES``)
RULE_NAMES = names.DETECTOR_RULES


class RulesError(ValueError):
    """A rules file the detectors cannot use; the message names the file, key and fix."""


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Everything the detectors read for one (station, pollutant)."""

    version: str
    disabled: frozenset[str]
    clear_after: Mapping[int, int]
    update_interval_s: float
    over_limit_cns: frozenset[int]
    zero_tolerance: float
    zero_streak: Mapping[int, int]
    constant_tolerance: float
    constant_streak: Mapping[int, int]
    constant_min_duration_s: float
    spike_cns: frozenset[int]
    spike_window: int
    spike_min_history: int
    spike_z: float
    spike_rel: float
    spike_floor: float
    spike_max_s: float
    future_tolerance_s: float
    stale_tolerance_s: float
    cou_tolerance: float
    cou_abs_tolerance: float
    cou_mass_factor: float
    cou_volume_factor: float
    flow_code: str
    flag_min_duration_s: Mapping[str, float]
    flag_severity: Mapping[str, Severity]
    conflict_memory: Mapping[int, int]
    #: rule -> the instrument flags it judges (a reading without a flag counts as N); a
    #: rule not listed judges every flag (``JUDGED_PER_FLAG`` may be listed)
    judged_flags: Mapping[str, frozenset[str]]
    #: data type -> seconds of data time over which records are remembered to recognise
    #: an exact resend; at most ``resend_memory_max`` data times per data type
    resend_memory_s: Mapping[int, int]
    resend_memory_max: int
    severity: Mapping[str, Severity]

    def on(self, rule: str) -> bool:
        return rule not in self.disabled

    def sev(self, rule: str) -> Severity:
        return self.severity.get(rule, "warning")

    def judges(self, rule: str, flag: str) -> bool:
        """Whether ``rule`` judges a reading whose (effective) flag is ``flag``."""
        flags = self.judged_flags.get(rule)
        return flags is None or flag in flags


_FIELDS = {f.name for f in fields(Thresholds)} - {"version"}
_CN_KEYED = {"clear_after", "zero_streak", "constant_streak", "conflict_memory",
             "resend_memory_s"}
#: the instrument flags of HJ 212 (N valid; F source stopped; M maintenance; S set by hand;
#: D instrument fault; C calibration; T above the measuring range; B communication fault)
FLAGS = "NFMSDCTB"
#: the rules that judge one reading's value, and so may skip a reading by its flag
#: (``judged_flags``); the others judge a frame or a data time, whatever its flags
JUDGED_PER_FLAG = ("negative", "zero_streak", "constant_streak", "out_of_range", "spike",
                   "over_limit", "logic_min_avg_max")


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _check_layer(layer: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(layer) - _FIELDS)
    if unknown:
        raise RulesError(f"{where}: unknown keys {unknown}; allowed: {sorted(_FIELDS)}")
    for rule in layer.get("disabled", []):
        if rule not in RULE_NAMES:
            raise RulesError(f"{where}: disabled = [{rule!r}] is no rule; choose from "
                             f"{', '.join(RULE_NAMES)}")
    for rule, letters in dict(layer.get("judged_flags", {})).items():
        if rule not in JUDGED_PER_FLAG:
            raise RulesError(f"{where}: judged_flags.{rule}: only the rules on one reading's "
                             f"value skip readings by flag; choose from "
                             f"{', '.join(JUDGED_PER_FLAG)}")
        if not isinstance(letters, str) or not set(letters) <= set(FLAGS):
            raise RulesError(f"{where}: judged_flags.{rule} = {letters!r}; give the flags it "
                             f"judges as letters of {FLAGS!r}, e.g. \"N\"")
    for key in ("severity", "flag_severity"):
        for name, sev in dict(layer.get(key, {})).items():
            if sev not in SEVERITIES:
                raise RulesError(f"{where}: {key}.{name} = {sev!r}; choose from "
                                 f"{', '.join(SEVERITIES)}")


@cache
def _hints() -> dict[str, Any]:
    """Thresholds' field types, read once: ``get_type_hints`` evaluates every annotation
    anew, and it was most of the first resolution of each series."""
    return get_type_hints(Thresholds)


def _build(merged: Mapping[str, Any], version: str, where: str) -> Thresholds:
    missing = sorted(_FIELDS - set(merged))
    if missing:
        raise RulesError(f"{where}: no value for {missing}; set them in [defaults]")
    hints = _hints()
    kwargs: dict[str, Any] = {"version": version}
    try:
        for name in _FIELDS:
            value = merged[name]
            hint = hints[name]
            if name in _CN_KEYED:
                kwargs[name] = {int(k): int(v) for k, v in dict(value).items()}
            elif name in ("over_limit_cns", "spike_cns"):
                kwargs[name] = frozenset(int(v) for v in value)
            elif name == "disabled":
                kwargs[name] = frozenset(str(v) for v in value)
            elif name == "judged_flags":
                kwargs[name] = {str(k): frozenset(str(v)) for k, v in dict(value).items()}
            elif name == "flag_min_duration_s":
                kwargs[name] = {str(k): float(v) for k, v in dict(value).items()}
            elif name in ("flag_severity", "severity"):
                kwargs[name] = {str(k): v for k, v in dict(value).items()}
            elif hint is int:
                kwargs[name] = int(value)
            elif hint is float:
                kwargs[name] = float(value)
            else:
                kwargs[name] = str(value)
    except (TypeError, ValueError) as exc:
        raise RulesError(f"{where}: {name} = {merged[name]!r} has the wrong type ({exc}); "
                         f"see rules/default.toml for its form") from None
    return Thresholds(**kwargs)


class Rules:
    """A loaded rules file; see the module docstring."""

    def __init__(self, data: Mapping[str, Any], source: str = "<rules>") -> None:
        self.source = source
        self.raw = data
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise RulesError(f"{source}: version = \"...\" is required (rules are versioned)")
        self.version = version
        self._defaults = dict(data.get("defaults", {}))
        _check_layer(self._defaults, f"{source} [defaults]")
        self._st: dict[str, dict[str, Any]] = {}
        self._st_pol: dict[tuple[str, str], dict[str, Any]] = {}
        for st, layer in dict(data.get("st", {})).items():
            layer = dict(layer)
            for code, sub in dict(layer.pop("pollutant", {})).items():
                _check_layer(sub, f"{source} [st.\"{st}\".pollutant.{code}]")
                self._st_pol[(str(st), code)] = dict(sub)
            _check_layer(layer, f"{source} [st.\"{st}\"]")
            self._st[str(st)] = layer
        self._pol = {code: dict(layer) for code, layer in dict(data.get("pollutant", {})).items()}
        for code, layer in self._pol.items():
            _check_layer(layer, f"{source} [pollutant.{code}]")
        self._station: dict[str, dict[str, Any]] = {}
        self._station_pol: dict[tuple[str, str], dict[str, Any]] = {}
        for mn, layer in dict(data.get("station", {})).items():
            layer = dict(layer)
            for code, sub in dict(layer.pop("pollutant", {})).items():
                _check_layer(sub, f"{source} [station.\"{mn}\".pollutant.{code}]")
                self._station_pol[(mn, code)] = dict(sub)
            _check_layer(layer, f"{source} [station.\"{mn}\"]")
            self._station[mn] = layer
        self._cache: dict[tuple[str, str, str], Thresholds] = {}
        # fail at load, not on the first reading: the defaults must resolve on their own
        for st in ("31", "32", *self._st):
            self.for_("", st, "")

    @classmethod
    def load(cls, path: Path | None = None) -> Rules:
        path = path or DEFAULT_PATH
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RulesError(f"rules file {path}: cannot read it ({exc}); give an existing "
                             "TOML file") from None
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(f"rules file {path}: not valid TOML: {exc}") from None
        return cls(data, str(path))

    def for_(self, mn: str, st: str, code: str) -> Thresholds:
        key = (mn, st, code)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        merged = dict(self._defaults)
        for layer in (self._st.get(st), self._pol.get(code), self._st_pol.get((st, code)),
                      self._station.get(mn), self._station_pol.get((mn, code))):
            if layer:
                merged = _merge(merged, layer)
        where = f"{self.source} (mn={mn or '*'}, st={st or '*'}, code={code or '*'})"
        out = self._cache[key] = _build(merged, self.version, where)
        return out


_DEFAULT: Rules | None = None


def default_rules() -> Rules:
    """The packaged rules file, loaded once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Rules.load()
    return _DEFAULT
