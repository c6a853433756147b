"""The daily clue judges (pipeline/clues/daily.py) on hand-made days: a copied day
raises, a similar but independent day does not; twin stations; values held under the
limit against the station's own history."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import numpy as np

from pipeline.clues import daily
from pipeline.clues.model import DaySeries
from pipeline.clues.settings import ClueSettings

S = ClueSettings.load()
A, B, C = "STATIONA000000000000000A", "STATIONB000000000000000B", "STATIONC000000000000000C"
DAY = date(2026, 11, 10)


def day_curve(seed: int, level: float = 40.0, noise: float = 0.05) -> np.ndarray:
    """An independent day: a daily shape with noise, at 2 decimals as the wire has it."""
    rng = random.Random(seed)
    return np.array([round(level * (1 + 0.2 * math.cos(2 * math.pi * (h - 14) / 24))
                           * (1 + rng.gauss(0, noise)), 2) for h in range(24)])


def series(data: dict[tuple[str, str, date], np.ndarray],
           flags: dict[tuple[str, str, date], np.ndarray] | None = None,
           zs: dict[tuple[str, str, date], np.ndarray] | None = None) -> DaySeries:
    ok = {k: np.isfinite(v) for k, v in data.items()}
    ok.update(flags or {})
    return DaySeries(avg=data, zs_avg=zs or {k: np.full(24, math.nan) for k in data}, n_ok=ok)


# --- clue_repeated_day ------------------------------------------------------------------------

def test_a_copied_day_raises_naming_the_day_it_repeats():
    rule = S.rule("clue_repeated_day")
    earlier = day_curve(1)
    data = {(A, "w01018", DAY - timedelta(days=3)): earlier,
            (A, "w01018", DAY - timedelta(days=1)): day_curve(2),
            (A, "w01018", DAY): earlier.copy()}
    j = daily.judge_repeated_day(series(data), DAY, rule)
    assert [(f.mn, f.code) for f in j.findings] == [(A, "")]
    codes = j.findings[0].evidence["codes"]
    assert codes == {"w01018": {"repeats": "2026-11-07", "equal_hours": 24,
                                "common_hours": 24}}


def test_a_similar_but_independent_day_does_not_raise():
    rule = S.rule("clue_repeated_day")
    data = {(A, "w01018", DAY - timedelta(days=d)): day_curve(10 + d) for d in range(8)}
    j = daily.judge_repeated_day(series(data), DAY, rule)
    assert j.findings == [] and j.judged == {(A, "")}


def test_a_copy_with_two_hours_missing_still_raises():
    rule = S.rule("clue_repeated_day")
    earlier = day_curve(3)
    today = earlier.copy()
    today[[5, 17]] = math.nan
    data = {(A, "w01018", DAY - timedelta(days=1)): earlier, (A, "w01018", DAY): today}
    assert len(daily.judge_repeated_day(series(data), DAY, rule).findings) == 1


def test_a_stop_repeating_zeros_is_not_a_copied_day():
    rule = S.rule("clue_repeated_day")
    zeros = np.zeros(24)
    data = {(A, "w00000", DAY - timedelta(days=1)): zeros, (A, "w00000", DAY): zeros.copy()}
    assert daily.judge_repeated_day(series(data), DAY, rule).findings == []


def test_a_copy_older_than_the_lookback_is_not_seen():
    rule = S.rule("clue_repeated_day")
    earlier = day_curve(4)
    old = DAY - timedelta(days=rule.int("lookback_days") + 1)
    data = {(A, "w01018", old): earlier, (A, "w01018", DAY): earlier.copy()}
    assert daily.judge_repeated_day(series(data), DAY, rule).findings == []


# --- clue_twin_stations -----------------------------------------------------------------------

def test_two_stations_with_the_same_series_raise_on_both():
    rule = S.rule("clue_twin_stations")
    shared = day_curve(5)
    data = {(A, "w01018", DAY): shared, (B, "w01018", DAY): shared.copy(),
            (C, "w01018", DAY): day_curve(6)}
    j = daily.judge_twin_stations(series(data), DAY, rule)
    assert sorted((f.mn, f.code) for f in j.findings) == [(A, ""), (B, "")]
    by_mn = {f.mn: f for f in j.findings}
    assert list(by_mn[A].evidence["twins"]) == [B]
    assert list(by_mn[B].evidence["twins"]) == [A]
    assert j.judged == {(A, ""), (B, ""), (C, "")}


def test_independent_stations_at_the_same_level_do_not_raise():
    rule = S.rule("clue_twin_stations")
    data = {(mn, "w01018", DAY): day_curve(20 + i) for i, mn in enumerate((A, B, C))}
    assert daily.judge_twin_stations(series(data), DAY, rule).findings == []


def test_the_same_series_on_other_days_is_no_twin():
    rule = S.rule("clue_twin_stations")
    shared = day_curve(7)
    data = {(A, "w01018", DAY): shared, (B, "w01018", DAY - timedelta(days=1)): shared.copy()}
    assert daily.judge_twin_stations(series(data), DAY, rule).findings == []


# --- clue_held_under_limit --------------------------------------------------------------------

LIMIT = {(A, "w01018"): (50.0, "avg")}


def _history(days: int, seed: int = 30) -> dict[tuple[str, str, date], np.ndarray]:
    # ordinary days at 60 % of the limit, moving as days do (CV ~ 0.15)
    return {(A, "w01018", DAY - timedelta(days=d)): day_curve(seed + d, level=30.0, noise=0.1)
            for d in range(1, days + 1)}


def held_day(seed: int = 40) -> np.ndarray:
    rng = random.Random(seed)
    return np.array([round(46.0 + rng.uniform(-0.3, 0.3), 2) for _ in range(24)])


def test_values_held_flat_just_under_the_limit_raise():
    rule = S.rule("clue_held_under_limit")
    data = {**_history(7), (A, "w01018", DAY): held_day()}
    j = daily.judge_held_under_limit(series(data), DAY, LIMIT, rule)
    assert [(f.mn, f.code) for f in j.findings] == [(A, "w01018")]
    ev = j.findings[0].evidence
    assert ev["hours_in_band"] == 24 and ev["compared_with"] == "history"
    held = held_day()
    assert ev["cv"] == round(float(np.std(held) / np.mean(held)), 5)


def test_a_station_that_always_runs_near_its_limit_does_not_raise():
    # its own history sits in the band too, moving as much as today: no change of habit
    rule = S.rule("clue_held_under_limit")

    def near(seed: int) -> np.ndarray:
        rng = random.Random(seed)
        return np.array([round(46.0 + 1.5 * math.sin(h / 3) + rng.uniform(-0.5, 0.5), 2)
                         for h in range(24)])

    data = {(A, "w01018", DAY - timedelta(days=d)): near(60 + d) for d in range(8)}
    cvs = [float(np.std(v) / np.mean(v)) for v in data.values()]
    assert max(cvs) < 2 * min(cvs)  # the days move alike
    assert daily.judge_held_under_limit(series(data), DAY, LIMIT, rule).findings == []


def test_a_flat_day_well_under_the_limit_does_not_raise():
    rule = S.rule("clue_held_under_limit")
    flat_low = np.array([20.0 + 0.01 * (h % 3) for h in range(24)])
    data = {**_history(7), (A, "w01018", DAY): flat_low}
    assert daily.judge_held_under_limit(series(data), DAY, LIMIT, rule).findings == []


def test_without_history_only_an_almost_constant_day_raises():
    rule = S.rule("clue_held_under_limit")
    data = {(A, "w01018", DAY): held_day()}  # CV ~ 0.004 < cv_absolute 0.02
    j = daily.judge_held_under_limit(series(data), DAY, LIMIT, rule)
    assert j.findings and j.findings[0].evidence["compared_with"] == "absolute"
    wobbly = np.array([43.0 + (h % 6) * 1.3 for h in range(24)])  # CV ~ 0.04
    data = {(A, "w01018", DAY): wobbly}
    assert daily.judge_held_under_limit(series(data), DAY, LIMIT, rule).findings == []


def test_held_uses_the_converted_value_when_the_limit_is_on_zs_avg():
    rule = S.rule("clue_held_under_limit")
    key = (A, "a21026", DAY)
    raw_low = np.full(24, 10.0) + np.arange(24) * 0.5  # Avg: low and moving
    data = {key: raw_low}
    zs = {key: held_day()}
    limits = {(A, "a21026"): (50.0, "zs_avg")}
    j = daily.judge_held_under_limit(series(data, zs=zs), DAY, limits, rule)
    assert [(f.mn, f.code) for f in j.findings] == [(A, "a21026")]
    assert daily.judge_held_under_limit(series(data, zs=zs), DAY,
                                        {(A, "a21026"): (50.0, "avg")}, rule).findings == []


def test_records_not_flagged_n_do_not_count():
    rule = S.rule("clue_held_under_limit")
    key = (A, "w01018", DAY)
    flags = {key: np.array([h < 10 for h in range(24)])}  # 10 valid hours < min_hours 20
    j = daily.judge_held_under_limit(series({key: held_day()}, flags=flags), DAY, LIMIT, rule)
    assert j.findings == [] and j.judged == set()
