"""The missing-data statistics page (缺失统计) in a real browser: what is missing
(expected - received) over the last seven days, the gaps and what they still lack equal
what the test computes from the seeded database with SQL of its own; a field engineer
(京津冀鲁) sees no station of another region; screenshots."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipeline.store.client import ClickHouse
from tests.browser import browser_seed
from tests.browser.browser_expect import as_of, metric, table_with

pytestmark = pytest.mark.integration


def _open(app, driver, username: str) -> str:
    driver.open(app.url + "missing")
    driver.field("用户名 User name").send_keys(username)
    driver.field("密码 Password").send_keys(browser_seed.PASSWORD)
    driver.button("登录 Sign in").click()
    driver.wait_for("the missing-data page", lambda: "missing_outcomes" in driver.text())
    driver.idle()
    assert driver.exceptions() == []
    return driver.text()


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _span(now: datetime) -> tuple[datetime, datetime]:
    """The default range: the last seven days, today's whole hours included."""
    return (now.replace(hour=0, minute=0, second=0) - timedelta(days=6),
            now.replace(minute=0, second=0))


def _stations(ch: ClickHouse, regions: tuple[str, ...] | None) -> dict[str, int]:
    """Active stations in scope -> minute records expected an hour."""
    return {s["mn"]: max(60 // max(int(s["min_interval"]), 1), 1) for s in ch.query_dicts(
        "SELECT mn, region, min_interval, active FROM stations FINAL")
        if s["active"] and (regions is None or s["region"] in regions)}


def _missing(ch: ClickHouse, now: datetime, regions: tuple[str, ...] | None
             ) -> tuple[int, int]:
    """(expected, missing) minute records of the range: every whole hour expects
    60 / MinInterval, an hour received at most that, missing = expected - received
    per station (an hour without a completeness row received nothing)."""
    start, end = _span(now)
    hours = int((end - start).total_seconds()) // 3600
    per_hour = _stations(ch, regions)
    got: dict[str, int] = {}
    for r in ch.query_dicts(
            "SELECT mn, received, expected FROM completeness FINAL "
            "WHERE period = 'hour' AND code = '' "
            "AND period_start >= toDateTime(%(s)s, 'Asia/Shanghai') "
            "AND period_start < toDateTime(%(e)s, 'Asia/Shanghai')",
            {"s": _text(start), "e": _text(end)}):
        got[r["mn"]] = got.get(r["mn"], 0) + min(int(r["received"]), int(r["expected"]))
    expected = {mn: hours * n for mn, n in per_hour.items()}
    return (sum(expected.values()),
            sum(max(e - got.get(mn, 0), 0) for mn, e in expected.items()))


def _gaps(ch: ClickHouse, now: datetime, regions: tuple[str, ...] | None
          ) -> list[dict[str, object]]:
    """The 2051 gaps of active stations in scope that start within the last seven days
    (today's whole hours)."""
    start, end = _span(now)
    mine = set(_stations(ch, regions))
    rows = ch.query_dicts(
        "SELECT mn, state, expected, received, requests FROM missing_windows FINAL "
        "WHERE cn = 2051 AND window_start >= toDateTime(%(s)s, 'Asia/Shanghai') "
        "AND window_start < toDateTime(%(e)s, 'Asia/Shanghai')",
        {"s": _text(start), "e": _text(end)})
    return [r for r in rows if r["mn"] in mine]


def test_the_gaps_equal_the_sql(app, driver, ch):
    text = _open(app, driver, "analyst")
    now = as_of(text)
    gaps = _gaps(ch, now, None)
    expected, missing = _missing(ch, now, None)
    metrics = driver.metrics()
    assert metric(metrics, "应收 Expected") == expected
    assert metric(metrics, "缺失 Missing") == missing
    assert metrics["缺失率 Missing rate"] == f"{100 * missing / expected:.1f}%"
    assert metric(metrics, "缺失段 Gaps") == len(gaps)
    assert metric(metrics, "补传 Back-filled") == sum(
        int(g["received"]) for g in gaps if int(g["requests"]) > 0)
    unfilled = sum(int(g["expected"]) - min(int(g["received"]), int(g["expected"]))
                   for g in gaps if g["state"] != "filled")
    assert metric(metrics, "缺口内未补 Unfilled in gaps") == unfilled
    assert missing >= unfilled  # a gap's records are among the missing ones
    if gaps:
        rows = table_with(driver.tables(), "缺失开始 gap start")
        assert sorted(r["MN"] for r in rows) == sorted(str(g["mn"]) for g in gaps)[:100]
    assert "Missing = expected - received" in text
    driver.screenshot("missing_analyst")


def test_a_field_engineer_sees_only_his_region(app, driver, ch, seeded_db):
    stations = seeded_db.seeded.stations
    text = _open(app, driver, "engineer")
    now = as_of(text)
    gaps = _gaps(ch, now, (browser_seed.JJ,))
    metrics = driver.metrics()
    assert metric(metrics, "缺失段 Gaps") == len(gaps)
    assert metric(metrics, "缺失 Missing") == _missing(ch, now, (browser_seed.JJ,))[1]
    rows = table_with(driver.tables(), "缺口内未补 unfilled in gaps")
    assert {r["MN"] for r in rows} == {s.mn for s in stations if s.region == browser_seed.JJ}
    for other in stations:
        if other.region != browser_seed.JJ:
            assert other.mn not in text and other.enterprise not in text, other
    driver.screenshot("missing_engineer_scoped")
