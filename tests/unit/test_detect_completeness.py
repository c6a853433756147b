"""Compliance figures as HJ212.md defines them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.detect.completeness import (
    Completeness,
    daily,
    expected_records,
    is_valid,
    of_records,
)


def test_rates_and_their_product():
    day = daily(hours_received=22, hours_valid=20)
    assert day.transmission_rate == pytest.approx(22 / 24)
    assert day.validity_rate == pytest.approx(20 / 22)
    assert day.transmission_efficiency == pytest.approx(20 / 24)
    assert Completeness(24, 0, 0).as_dict()["validity_rate"] == 0.0


def test_expected_by_data_type():
    assert expected_records(2061) == 24
    assert expected_records(2051, min_interval=10, span_s=3600) == 6
    with pytest.raises(ValueError, match="cn=2011"):
        expected_records(2011)


def test_validity_needs_flag_n_and_the_range():
    assert is_valid("N", 30.0, 0.0, 200.0)
    assert is_valid(None, 30.0)
    assert not is_valid("C", 30.0, 0.0, 200.0)
    assert not is_valid("N", 300.0, 0.0, 200.0)
    assert not is_valid("N", math.nan)


def test_resends_count_once():
    times = np.array([0, 3600, 3600, 7200], dtype=np.int64)
    valid = np.array([True, False, True, False])
    c = of_records(times, valid, expected=24)
    assert (c.received, c.valid) == (3, 2)
    assert of_records(np.array([], dtype=np.int64), np.array([], dtype=bool), 24).received == 0
