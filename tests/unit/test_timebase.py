"""pipeline.timebase: the one place for China Standard Time, epochs, versions and periods."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from pipeline import timebase as tb


def test_offset_and_zone_are_utc_plus_8():
    assert tb.CST_OFFSET_S == 28800
    aware = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    assert aware.astimezone(tb.CST).replace(tzinfo=None) == datetime(2024, 3, 1, 8, 0)


def test_now_local_is_utc_plus_8_whatever_the_host_zone(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        expected = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=8)
        assert abs((tb.now_local() - expected).total_seconds()) < 2
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_unix_and_local_round_trip():
    # 2024-03-01 08:00 CST is midnight UTC
    assert tb.unix_from_local(datetime(2024, 3, 1, 8, 0)) == 1709251200
    assert tb.local_from_unix(1709251200) == datetime(2024, 3, 1, 8, 0)
    assert tb.local_from_unix(tb.unix_from_local(datetime(2031, 12, 31, 23, 59, 59))) == \
        datetime(2031, 12, 31, 23, 59, 59)


def test_to_local_converts_aware_and_keeps_naive():
    assert tb.to_local(datetime(2024, 3, 1, 0, 0, tzinfo=UTC)) == datetime(2024, 3, 1, 8, 0)
    east9 = timezone(timedelta(hours=9))
    assert tb.to_local(datetime(2024, 3, 1, 9, 0, tzinfo=east9)) == datetime(2024, 3, 1, 8, 0)
    assert tb.to_local(datetime(2024, 3, 1, 9, 0)) == datetime(2024, 3, 1, 9, 0)


@pytest.mark.parametrize("when", [datetime(2000, 1, 1), datetime(2024, 2, 29, 23, 59, 59),
                                  datetime(1999, 12, 31, 12, 0), datetime(2100, 1, 1, 0, 0, 1)])
def test_state_seconds_match_datetime_arithmetic(when):
    assert tb.to_s(when) == int((when - tb.STATE_EPOCH) / timedelta(seconds=1))
    assert tb.from_s(tb.to_s(when)) == when


def test_state_seconds_put_local_midnights_on_whole_days():
    assert tb.to_s(datetime(2024, 3, 1)) % 86400 == 0


def test_version_ms_is_unix_milliseconds_and_increases():
    a = tb.version_ms()
    assert abs(a / 1000 - time.time()) < 2
    time.sleep(0.002)
    assert tb.version_ms() > a


@pytest.mark.parametrize(("text", "expected"), [
    ("20240301081530", datetime(2024, 3, 1, 8, 15, 30)),
    ("202403010815", datetime(2024, 3, 1, 8, 15)),
    ("2024030108", datetime(2024, 3, 1, 8)),
    ("20240301", datetime(2024, 3, 1)),
    (" 20240301081530 ", datetime(2024, 3, 1, 8, 15, 30)),
])
def test_parse_stamp(text, expected):
    assert tb.parse_stamp(text) == expected
    if len(text.strip()) == 14:
        assert tb.stamp(expected) == text.strip()


@pytest.mark.parametrize("text", ["2024030108153", "2024-03-01", "20241301000000",
                                  "20240230120000", "", "abcdefghijklmn"])
def test_parse_stamp_names_the_bad_text(text):
    with pytest.raises(ValueError, match=repr(text).replace("(", r"\(")):
        tb.parse_stamp(text)


@pytest.mark.parametrize(("cn", "kw", "seconds"), [
    (2011, {}, 30), (2011, {"rtd_interval": 60}, 60),
    (2051, {}, 600), (2051, {"min_interval": 1}, 60),
    (2061, {}, 3600), (2031, {}, 86400),
    (2081, {}, None), (9014, {}, None),
])
def test_cn_period(cn, kw, seconds):
    assert tb.cn_period(cn, **kw) == seconds


def test_cn_kind_covers_exactly_the_periodic_commands():
    assert set(tb.CN_KIND) == {cn for cn in range(1000, 10000) if tb.cn_period(cn)}


def test_unix_s_from_local_drops_the_fraction_and_agrees_with_unix_from_local():
    when = datetime(2024, 3, 1, 8, 0, 5, 900_000)
    assert tb.unix_s_from_local(when) == 1709251205
    assert tb.unix_s_from_local(when.replace(microsecond=0)) == tb.unix_from_local(
        when.replace(microsecond=0))
