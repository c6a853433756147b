"""The completeness page (传输有效率) in a real browser: yesterday's stations and their
transmission-efficiency equal what the test computes from the seeded database with SQL
of its own; a field engineer (京津冀鲁) sees no station of another region; screenshots."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipeline.store.client import ClickHouse
from tests.browser import browser_seed
from tests.browser.browser_expect import as_of, metric, table_with

pytestmark = pytest.mark.integration

EFFICIENCY = "传输有效率 efficiency"


def _open(app, driver, username: str) -> str:
    """Sign in at the page's own address (the login form, then the page)."""
    driver.open(app.url + "completeness")
    driver.field("用户名 User name").send_keys(username)
    driver.field("密码 Password").send_keys(browser_seed.PASSWORD)
    driver.button("登录 Sign in").click()
    driver.wait_for("the completeness page",
                    lambda: "completeness_station_days" in driver.text())
    driver.idle()
    assert driver.exceptions() == []
    return driver.text()


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S")


def _figures(ch: ClickHouse, start: datetime, end: datetime,
             regions: tuple[str, ...] | None) -> dict[str, tuple[int, int, int]]:
    """(expected, received, valid) of each active station in scope over the whole hours
    [start, end) of minute records: an hour without a row received nothing, an hour's
    received at most its expected."""
    hours = int((end - start).total_seconds()) // 3600
    stations = [s for s in ch.query_dicts(
        "SELECT mn, region, min_interval, active FROM stations FINAL")
        if s["active"] and (regions is None or s["region"] in regions)]
    out = {s["mn"]: [hours * max(60 // max(s["min_interval"], 1), 1), 0, 0]
           for s in stations}
    for r in ch.query_dicts(
            "SELECT mn, expected, received, valid FROM completeness FINAL "
            "WHERE period = 'hour' AND code = '' "
            "AND period_start >= toDateTime(%(s)s, 'Asia/Shanghai') "
            "AND period_start < toDateTime(%(e)s, 'Asia/Shanghai')",
            {"s": _text(start), "e": _text(end)}):
        if r["mn"] in out:
            out[r["mn"]][1] += min(r["received"], r["expected"])
            out[r["mn"]][2] += r["valid"]
    return {mn: (e, r, v) for mn, (e, r, v) in out.items()}


def _yesterday(ch: ClickHouse, now: datetime, regions: tuple[str, ...] | None
               ) -> dict[str, tuple[int, int, int]]:
    today = now.replace(hour=0, minute=0, second=0)
    return _figures(ch, today - timedelta(days=1), today, regions)


def _efficiency(e: int, r: int, v: int) -> float:
    return (r / e if e else 0.0) * (v / r if r else 0.0)


def test_yesterdays_stations_equal_the_sql(app, driver, ch, seeded_db):
    text = _open(app, driver, "analyst")
    want = _yesterday(ch, as_of(text), None)
    assert len(want) == len(seeded_db.seeded.stations)
    rows = table_with(driver.tables(), EFFICIENCY)
    shown = {r["MN"]: r[EFFICIENCY] for r in rows}
    assert shown == {mn: f"{100 * _efficiency(*v):.1f}%" for mn, v in want.items()}
    # worst first
    values = [float(r[EFFICIENCY].rstrip("%")) for r in rows]
    assert values == sorted(values)
    e, r, v = (sum(x[i] for x in want.values()) for i in range(3))
    assert driver.metrics()["传输有效率 Efficiency"] == f"{100 * _efficiency(e, r, v):.1f}%"
    assert metric(driver.metrics(), "站点 Stations") == len(want)
    # a simulated station had data yesterday (the seed's day reaches into it), a silent
    # one none
    silent = [s.mn for s in seeded_db.seeded.stations if not s.simulated]
    assert all(shown[mn] == "0.0%" for mn in silent)
    # the station's MN links to its station page
    links = [a.get_attribute("href") for a in driver.css('[data-testid="stTable"] a')]
    assert any(h.endswith(f"station?mn={rows[0]['MN']}") for h in links), links
    assert "Download CSV" in text and "Download Excel" in text
    driver.screenshot("completeness_analyst")


def _click_radio(driver, label: str) -> None:
    option = driver.wait_for(f"the option {label!r}", lambda: next(
        (e for e in driver.css('[data-testid="stRadio"] label') if e.text.strip() == label),
        None))
    option.click()


def test_this_month_by_region_equals_the_sql(app, driver, ch):
    """The month so far (the seeded day is in it, yesterday may be empty), by region."""
    text = _open(app, driver, "analyst")
    now = as_of(text)
    _click_radio(driver, "月 month")
    _click_radio(driver, "服务区域 region")
    driver.wait_for("the month's ranking by region",
                    lambda: f"{now:%Y-%m} 传输有效率" in driver.text()
                    and "排名 Ranking · 服务区域 region" in driver.text())
    driver.idle()
    assert driver.exceptions() == []
    stations = _figures(ch, now.replace(day=1, hour=0, minute=0, second=0),
                        now.replace(minute=0, second=0), None)
    region_of = {s["mn"]: s["region"] for s in ch.query_dicts(
        "SELECT mn, region FROM stations FINAL")}
    sums: dict[str, list[int]] = {}
    for mn, figures in stations.items():
        acc = sums.setdefault(region_of[mn], [0, 0, 0])
        for i in range(3):
            acc[i] += figures[i]
    rows = table_with(driver.tables(), EFFICIENCY)
    shown = {r["服务区域 region"]: r[EFFICIENCY] for r in rows}
    assert shown == {region: f"{100 * _efficiency(*v):.1f}%" for region, v in sums.items()}
    assert any(v != "0.0%" for v in shown.values())
    driver.screenshot("completeness_month_by_region")


def test_a_field_engineer_sees_only_his_region(app, driver, ch, seeded_db):
    stations = seeded_db.seeded.stations
    text = _open(app, driver, "engineer")
    want = _yesterday(ch, as_of(text), (browser_seed.JJ,))
    rows = table_with(driver.tables(), EFFICIENCY)
    assert {r["MN"] for r in rows} == set(want) == {
        s.mn for s in stations if s.region == browser_seed.JJ}
    for other in stations:
        if other.region != browser_seed.JJ:
            assert other.mn not in text and other.enterprise not in text, other
    driver.screenshot("completeness_engineer_scoped")
