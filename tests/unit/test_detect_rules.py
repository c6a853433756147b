"""The versioned rules file: layers, checks with useful errors."""

from __future__ import annotations

import pytest

from pipeline.detect.rules import DEFAULT_PATH, Rules, RulesError, default_rules


def test_packaged_rules_load_and_layer():
    rules = default_rules()
    assert rules.version
    gas = rules.for_("X", "31", "a21026")
    water = rules.for_("X", "32", "w01018")
    assert (gas.flow_code, gas.cou_mass_factor) == ("a00000", 1e-6)
    assert (water.flow_code, water.cou_mass_factor) == ("w00000", 1e-3)
    assert rules.for_("X", "32", "w01001").constant_streak[2011] == 40
    assert not rules.for_("X", "31", "a01013").on("negative")


def _rules(extra: str) -> Rules:
    import tomllib

    return Rules(tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8") + extra), "t.toml")


def test_station_layers_win_over_pollutant_and_type():
    rules = _rules('[station."MN1"]\nspike_z = 12\n'
                   '[station."MN1".pollutant.w01018]\nzero_streak = { "2011" = 99 }\n')
    assert rules.for_("MN1", "32", "w01018").zero_streak == {2011: 99, 2051: 3, 2061: 2,
                                                               2031: 1}
    assert rules.for_("MN1", "32", "w21003").spike_z == 12
    assert rules.for_("MN2", "32", "w01018").zero_streak[2011] == 10


def test_errors_name_the_section_the_key_and_the_choices():
    with pytest.raises(RulesError, match=r"\[pollutant.w01018\].*unknown keys \['zero_strak'\]"):
        _rules("[pollutant.w01018]\nzero_strak = 3\n")
    with pytest.raises(RulesError, match=r"disabled.*'spikes'.*choose from"):
        _rules('[station."M"]\ndisabled = ["spikes"]\n')
    with pytest.raises(RulesError, match="version"):
        Rules({"defaults": {}})


def test_judged_flags_layer_and_are_checked():
    rules = _rules('[station."MN1".pollutant.w01018]\njudged_flags = { zero_streak = "NF" }\n')
    mine, other = rules.for_("MN1", "32", "w01018"), rules.for_("MN2", "32", "w01018")
    assert mine.judges("zero_streak", "F") and not other.judges("zero_streak", "F")
    # the other rules keep the packaged table
    assert not mine.judges("spike", "C") and mine.judges("negative", "S")
    assert mine.judges("logic_min_avg_max", "D")  # not listed: every flag
    with pytest.raises(RulesError, match=r"judged_flags.time_stale: .*choose from"):
        _rules('[station."M"]\njudged_flags = { time_stale = "N" }\n')
    with pytest.raises(RulesError, match=r"judged_flags.spike = 'NX'.*'NFMSDCTB'"):
        _rules('[station."M"]\njudged_flags = { spike = "NX" }\n')


def test_resend_memory_is_a_time_span_per_data_type():
    th = default_rules().for_("X", "32", "w01018")
    assert th.resend_memory_s[2011] >= 3600 + 1800  # a resent hour, arriving late
    assert th.resend_memory_max >= th.resend_memory_s[2011] // 30
