"""The missing-data statistics page (缺失统计) in a real browser: the gaps of the last
seven days and what is still missing equal what the test computes from the seeded
database with SQL of its own; a field engineer (京津冀鲁) sees no station of another
region; screenshots."""

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


def _gaps(ch: ClickHouse, now: datetime, regions: tuple[str, ...] | None
          ) -> list[dict[str, object]]:
    """The 2051 gaps of active stations in scope that start within the last seven days
    (today's whole hours)."""
    start = now.replace(hour=0, minute=0, second=0) - timedelta(days=6)
    end = now.replace(minute=0, second=0)
    mine = {s["mn"] for s in ch.query_dicts(
        "SELECT mn, region, active FROM stations FINAL")
        if s["active"] and (regions is None or s["region"] in regions)}
    rows = ch.query_dicts(
        "SELECT mn, state, expected, received, requests FROM missing_windows FINAL "
        "WHERE cn = 2051 AND window_start >= toDateTime(%(s)s, 'Asia/Shanghai') "
        "AND window_start < toDateTime(%(e)s, 'Asia/Shanghai')",
        {"s": _text(start), "e": _text(end)})
    return [r for r in rows if r["mn"] in mine]


def test_the_gaps_equal_the_sql(app, driver, ch):
    text = _open(app, driver, "analyst")
    gaps = _gaps(ch, as_of(text), None)
    metrics = driver.metrics()
    assert metric(metrics, "缺失段 Gaps") == len(gaps)
    assert metric(metrics, "补传 Back-filled") == sum(
        int(g["received"]) for g in gaps if int(g["requests"]) > 0)
    assert metric(metrics, "仍缺失 Still missing") == sum(
        int(g["expected"]) - min(int(g["received"]), int(g["expected"])) for g in gaps
        if g["state"] != "filled")
    if gaps:
        rows = table_with(driver.tables(), "缺失开始 gap start")
        assert sorted(r["MN"] for r in rows) == sorted(str(g["mn"]) for g in gaps)[:100]
    assert "Still missing: expected - received" in text
    driver.screenshot("missing_analyst")


def test_a_field_engineer_sees_only_his_region(app, driver, ch, seeded_db):
    stations = seeded_db.seeded.stations
    text = _open(app, driver, "engineer")
    gaps = _gaps(ch, as_of(text), (browser_seed.JJ,))
    assert metric(driver.metrics(), "缺失段 Gaps") == len(gaps)
    rows = table_with(driver.tables(), "仍缺失 still missing")
    assert {r["MN"] for r in rows} == {s.mn for s in stations if s.region == browser_seed.JJ}
    for other in stations:
        if other.region != browser_seed.JJ:
            assert other.mn not in text and other.enterprise not in text, other
    driver.screenshot("missing_engineer_scoped")
