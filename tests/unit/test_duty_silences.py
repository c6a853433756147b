"""Silences: the pure match and validation rules, and their SQL on chDB (26.x)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from pipeline.duty import silences as sil
from pipeline.duty.silences import MAX_SILENCE, Silence, SilenceError, matches, validate
from tests.unit.chdb_client import ChdbClickHouse, migrate

NOW = datetime(2026, 12, 2, 9, 0)
ROW = {"alarm_id": "MN001/w01018/zero_streak/20261202080000", "mn": "MN001",
       "code": "w01018", "rule": "zero_streak", "region": "苏皖沪"}


def make(**kw) -> Silence:
    base = dict(silence_id="SIL-1", mn="", code="", rule="", region="",
                starts_at=datetime(2026, 12, 2, 8), ends_at=datetime(2026, 12, 2, 12),
                reason="planned calibration", created_by="zhang.wei", created_at=NOW)
    return Silence(**{**base, **kw})


@pytest.mark.parametrize("fields,hit", [
    ({"mn": "MN001"}, True),
    ({"mn": "MN002"}, False),
    ({"mn": "MN001", "code": "w01018"}, True),
    ({"mn": "MN001", "code": "w01001"}, False),  # another pollutant of the same station
    ({"rule": "zero_streak"}, True),
    ({"rule": "offline"}, False),
    ({"region": "苏皖沪"}, True),
    ({"region": "云贵川渝"}, False),
    ({"code": "w01018", "region": "苏皖沪", "rule": "zero_streak"}, True),
    ({}, True),  # fleet-wide
])
def test_each_named_field_must_match(fields, hit):
    assert matches(make(**fields), ROW, NOW) is hit


def test_the_window_is_half_open_and_a_cancel_ends_it():
    s = make(mn="MN001")
    assert matches(s, ROW, datetime(2026, 12, 2, 8))
    assert not matches(s, ROW, datetime(2026, 12, 2, 7, 59, 59))
    assert matches(s, ROW, datetime(2026, 12, 2, 11, 59, 59))
    assert not matches(s, ROW, datetime(2026, 12, 2, 12))
    cut = make(mn="MN001", cancelled_at=datetime(2026, 12, 2, 10), cancelled_by="li.na")
    assert matches(cut, ROW, datetime(2026, 12, 2, 9, 59))
    assert not matches(cut, ROW, datetime(2026, 12, 2, 10))


def test_an_unregistered_station_has_no_region():
    row = {k: v for k, v in ROW.items() if k != "region"}
    assert not matches(make(region="苏皖沪"), row, NOW)
    assert matches(make(mn="MN001"), row, NOW)


def test_aware_times_are_converted_to_cst():
    from datetime import UTC

    at = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 CST
    assert matches(make(mn="MN001", starts_at=datetime(2026, 12, 2, 9),
                        ends_at=datetime(2026, 12, 2, 9, 1)), ROW, at)


def test_validate_rules():
    validate(make(mn="MN001"), now=NOW)
    with pytest.raises(SilenceError, match="not after it starts"):
        validate(make(mn="MN001", ends_at=datetime(2026, 12, 2, 8)), now=NOW)
    with pytest.raises(SilenceError, match="already past"):
        validate(make(mn="MN001", ends_at=datetime(2026, 12, 2, 8, 30)), now=NOW)
    start = datetime(2026, 12, 2, 8)
    validate(make(mn="MN001", ends_at=start + MAX_SILENCE), now=NOW)
    with pytest.raises(SilenceError, match="longer than 30 days"):
        validate(make(mn="MN001", ends_at=start + MAX_SILENCE + timedelta(seconds=1)),
                 now=NOW)
    with pytest.raises(SilenceError, match="--fleet-wide"):
        validate(make(), now=NOW)
    validate(make(), now=NOW, fleet_wide=True)
    with pytest.raises(SilenceError, match="no reason"):
        validate(make(mn="MN001", reason="  "), now=NOW)


# --- the SQL on chDB ----------------------------------------------------------------------


@pytest.fixture
def ch() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_duty_silences") as conn:
        migrate(conn)
        conn.execute("TRUNCATE TABLE silences")
        yield conn


def test_add_active_cancel_and_list(ch):
    a = sil.add(ch, mn="MN001", code="w01018", starts_at=datetime(2026, 12, 2, 8),
                ends_at=datetime(2026, 12, 2, 12), reason="COD calibration",
                created_by="zhang.wei", now=NOW)
    b = sil.add(ch, region="云贵川渝", starts_at=datetime(2026, 12, 2, 10),
                ends_at=datetime(2026, 12, 3, 10), reason="network maintenance",
                created_by="li.na", now=NOW)
    assert a.silence_id.startswith("SIL-20261202090000-") and a.silence_id != b.silence_id
    assert sil.get(ch, a.silence_id) == a  # every field round-trips
    assert [s.silence_id for s in sil.active(ch, NOW)] == [a.silence_id]
    assert [s.silence_id for s in sil.active(ch, datetime(2026, 12, 2, 11))] == [
        a.silence_id, b.silence_id]
    assert sil.active(ch, datetime(2026, 12, 2, 12, 0))[0].silence_id == b.silence_id
    # list: not over yet, newest start first
    assert [s.silence_id for s in sil.list_(ch, at=NOW)] == [b.silence_id, a.silence_id]

    done = sil.cancel(ch, a.silence_id, "wang.fang", now=datetime(2026, 12, 2, 9, 30))
    assert done.cancelled_at == datetime(2026, 12, 2, 9, 30)
    assert [s.silence_id for s in sil.active(ch, datetime(2026, 12, 2, 9, 29))] == [
        a.silence_id]
    assert sil.active(ch, datetime(2026, 12, 2, 9, 31)) == []
    assert [s.silence_id for s in sil.list_(ch, at=datetime(2026, 12, 2, 9, 31))] == [
        b.silence_id]
    every = sil.list_(ch, include_expired=True, at=datetime(2026, 12, 5))
    assert {s.silence_id: s.cancelled_by for s in every} == {a.silence_id: "wang.fang",
                                                             b.silence_id: ""}
    # one row per silence as read (FINAL), two written for the cancelled one
    assert ch.execute("SELECT count() FROM silences")[0][0] == 3


def test_cancel_refusals(ch):
    with pytest.raises(SilenceError, match="does not exist"):
        sil.cancel(ch, "SIL-nope", "li.na", now=NOW)
    a = sil.add(ch, mn="MN001", starts_at=NOW, ends_at=NOW + timedelta(hours=1),
                reason="r", created_by="zhang.wei", now=NOW)
    with pytest.raises(SilenceError, match="ended"):
        sil.cancel(ch, a.silence_id, "li.na", now=NOW + timedelta(hours=2))
    sil.cancel(ch, a.silence_id, "li.na", now=NOW)
    with pytest.raises(SilenceError, match=r"was cancelled by li\.na"):
        sil.cancel(ch, a.silence_id, "li.na", now=NOW)


def test_add_validates_before_writing(ch):
    with pytest.raises(SilenceError):
        sil.add(ch, starts_at=NOW, ends_at=NOW + timedelta(hours=1), reason="r",
                created_by="zhang.wei", now=NOW)
    assert ch.execute("SELECT count() FROM silences")[0][0] == 0
