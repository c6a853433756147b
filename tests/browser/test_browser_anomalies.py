"""The anomalies page in a real browser: the episode counts of its default period equal
what the test counts with SQL of its own on the seeded database, for every region and
for a field engineer of 京津冀鲁, who sees none of another region's stations."""

from __future__ import annotations

import re

import pytest

from tests.browser import browser_seed
from tests.browser.browser_expect import metric

pytestmark = pytest.mark.integration

PERIOD = re.compile(r"告警概况 Alarm episodes · (\d{4}-\d\d-\d\d \d\d:\d\d) – "
                    r"(\d{4}-\d\d-\d\d \d\d:\d\d)")


def _anomalies(app, driver, username: str) -> str:
    driver.sign_in(app.url + "anomalies", username, browser_seed.PASSWORD)
    driver.wait_for("the anomalies page", lambda: "anomalies_episodes" in driver.text())
    driver.idle()
    assert driver.exceptions() == []
    return driver.text()


def _expected(ch, text: str, regions: tuple[str, ...] | None) -> tuple[int, int]:
    m = PERIOD.search(text)
    assert m, text[:2000]
    region_of = {r["mn"]: r["region"] for r in ch.query_dicts(
        "SELECT mn, region FROM stations FINAL")}
    rows = ch.query_dicts(
        "SELECT mn, state FROM alarms FINAL "
        "WHERE opened_at >= toDateTime(%(s)s, 'Asia/Shanghai') "
        "AND opened_at < toDateTime(%(e)s, 'Asia/Shanghai')",
        {"s": m.group(1) + ":00", "e": m.group(2) + ":00"})
    mine = [r for r in rows if regions is None or region_of.get(r["mn"], "") in regions]
    return len(mine), sum(r["state"] == "open" for r in mine)


def test_the_anomalies_counts_equal_the_sql(app, driver, ch):
    text = _anomalies(app, driver, "analyst")
    episodes, still = _expected(ch, text, None)
    metrics = driver.metrics()
    assert metric(metrics, "告警 Episodes") == episodes > 0
    assert metric(metrics, "仍未关闭 Still open") == still
    assert "超标 over limit (over_limit)" in text
    driver.screenshot("anomalies_analyst")


def test_a_field_engineer_sees_only_his_regions_episodes(app, driver, ch, seeded_db):
    text = _anomalies(app, driver, "engineer")
    episodes, still = _expected(ch, text, (browser_seed.JJ,))
    metrics = driver.metrics()
    assert metric(metrics, "告警 Episodes") == episodes
    assert metric(metrics, "仍未关闭 Still open") == still
    for s in seeded_db.seeded.stations:
        if s.region != browser_seed.JJ:
            assert s.mn not in text and s.enterprise not in text, s
    for region in (browser_seed.JS, browser_seed.YG):
        assert region not in text
    driver.screenshot("anomalies_engineer")
