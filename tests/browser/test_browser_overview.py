"""The overview's key figures equal what the test computes from the seeded database with
its own SQL (tests/browser/browser_expect.py), for every region and for a field
engineer, who never sees another region's station."""

from __future__ import annotations

import pytest

from dashboards.labels import region_label
from tests.browser import browser_seed
from tests.browser.browser_expect import as_of, expected, metric, table_with

pytestmark = pytest.mark.integration

#: what the overview's sections of today's figures say between 00:00 and 01:00 CST
NO_HOUR_YET = "No whole hour has passed today yet"


def _overview(app, driver, username):
    driver.sign_in(app.url, username, browser_seed.PASSWORD)
    # the last section drawn: its figures and their source, or, in the first hour of a
    # day (CST), the note that no whole hour has passed yet
    driver.wait_for("the overview", lambda: any(
        mark in driver.text() for mark in ("overview_worst_stations", NO_HOUR_YET)))
    driver.idle()
    assert driver.exceptions() == []
    return driver.text()


def _check(driver, ch, text, regions):
    want = expected(ch, as_of(text), regions)
    metrics = driver.metrics()
    assert metric(metrics, "站点 Stations") == want.stations
    assert metric(metrics, "在线 Online") == want.online
    assert metric(metrics, "离线 Offline") == want.stations - want.online
    assert f"未关闭告警 Open alarms · {want.open_alarms}" in text
    assert (f": {want.accepted_last_hour} accepted, {want.rejected_last_hour} "
            "rejected. Drag") in text
    if want.efficiency:
        rows = table_with(driver.tables(), "传输有效率 efficiency")
        shown = {r["服务区域 region"]: r["传输有效率 efficiency"] for r in rows}
        assert shown == {region_label(k): v for k, v in want.efficiency.items()}
    else:
        assert NO_HOUR_YET in text
    return want


def test_overview_figures_equal_the_sql(app, driver, ch, seeded_db):
    text = _overview(app, driver, "admin")
    want = _check(driver, ch, text, None)
    assert want.stations == len(seeded_db.seeded.stations)
    assert 0 < want.online < want.stations and want.open_alarms > 0


def test_a_field_engineer_sees_only_their_region(app, driver, ch, seeded_db):
    stations = seeded_db.seeded.stations
    text = _overview(app, driver, "engineer")
    want = _check(driver, ch, text, (browser_seed.JJ,))
    assert want.mns == {s.mn for s in stations if s.region == browser_seed.JJ}
    assert browser_seed.JJ in text
    # the region's simulated station is on the page (its open alarm), no other region's
    assert any(s.mn in text for s in stations if s.region == browser_seed.JJ)
    for other in stations:
        if other.region != browser_seed.JJ:
            assert other.mn not in text and other.enterprise not in text, other
    for region in (browser_seed.JS, browser_seed.YG):
        assert region not in text
    driver.screenshot("engineer_overview_scoped")
