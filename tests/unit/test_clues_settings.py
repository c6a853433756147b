"""The clue settings file (pipeline/detect/rules/clues.toml) and its loader: every clue
has a switch, a severity and thresholds; mistakes stop the loader naming the key."""

from __future__ import annotations

import copy
import math
import tomllib
from typing import Any

import pytest

from pipeline.clues.settings import DEFAULT_PATH, ClueSettings, ClueSettingsError
from pipeline.detect import names


def raw() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_the_packaged_file_has_every_clue_switched_on_with_a_severity():
    s = ClueSettings.load()
    assert s.version
    assert set(s.rules) == set(names.CLUE_RULES)
    for rule in s.rules.values():
        assert rule.enabled and rule.severity in names.SEVERITIES


def test_reference_o2_by_st_industry_and_station():
    data = raw()
    data["station"] = {"GASFIRED": {"industry": "燃气锅炉"}, "OWN": {"o2_ref": 8.0},
                       "INCIN": {"industry": "垃圾焚烧"}}
    s = ClueSettings(data)
    assert s.station("ANY", "31").o2_ref == 6.0
    assert s.station("ANY", "31").o2_ref_source == "st 31"
    assert s.station("GASFIRED", "31").o2_ref == 3.5
    assert s.station("INCIN", "31").o2_ref == 11.0
    assert s.station("OWN", "31").o2_ref == 8.0
    assert math.isnan(s.station("ANY", "32").o2_ref)  # waste water: none
    assert s.station("ANY", "32").flow_code == "w00000"


@pytest.mark.parametrize(("change", "match"), [
    (lambda d: d["clue_repeated_day"].update(severity="loud"), r"clue_repeated_day.*severity"),
    (lambda d: d["clue_o2_conversion"].update(tolerance="ten"), r"tolerance = 'ten'"),
    (lambda d: d["clue_twin_stations"].update(match_share=1.5), r"match_share = 1.5.*range"),
    (lambda d: d["clue_held_under_limit"].update(min_hours=2.5), r"min_hours = 2.5"),
    (lambda d: d["clue_stopped_unflagged"].update(enabled="yes"), r"enabled = 'yes'"),
    (lambda d: d["clue_flagged_running"].update(speed=3), r"unknown keys \['speed'\]"),
    (lambda d: d["clue_hour_vs_minute"].pop("tolerance"), r"no value for \['tolerance'\]"),
    (lambda d: d.pop("clue_twin_stations"), r"clue_twin_stations.*missing"),
    (lambda d: d.update(version=""), r"version"),
    (lambda d: d.update(station={"X": {"industry": "造纸"}}), r"industry = '造纸'"),
    (lambda d: d["st"]["31"].update(o2_ref=25), r"o2_ref = 25"),
    (lambda d: d["clue_held_under_limit"].update(band_low=0.99, band_high=0.9),
     r"band_low"),
    (lambda d: d.update(extra={}), r"unknown sections \['extra'\]"),
])
def test_mistakes_name_the_key(change, match):
    data = copy.deepcopy(raw())
    change(data)
    with pytest.raises(ClueSettingsError, match=match):
        ClueSettings(data)


def test_a_clue_switched_off_is_off():
    data = raw()
    data["clue_twin_stations"]["enabled"] = False
    s = ClueSettings(data)
    assert not s.rule("clue_twin_stations").enabled
    assert s.rule("clue_repeated_day").enabled
