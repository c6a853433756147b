"""The weekly report page (周报) in a real browser: the preview of the default enterprise
(the first of the user's scope) with its download buttons; the week in progress, whose
efficiency equals what the test computes from the seeded database with SQL of its own;
a field engineer (京津冀鲁) is offered only his region's enterprises; screenshots."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from dashboards.report.week import week_of
from tests.browser import browser_seed

pytestmark = pytest.mark.integration

GENERATED = re.compile(r"生成时间 generated\s*(\d{4}-\d\d-\d\d \d\d:\d\d)")


def _open(app, driver, username: str) -> str:
    driver.open(app.url + "report")
    driver.field("用户名 User name").send_keys(username)
    driver.field("密码 Password").send_keys(browser_seed.PASSWORD)
    driver.button("登录 Sign in").click()
    driver.wait_for("the report page", lambda: "report_station_days" in driver.text())
    driver.idle()
    assert driver.exceptions() == []
    return driver.text()


def _preview(driver) -> str:
    """The report's own text, inside the preview frame."""
    frame = driver.wait_for("the preview frame", lambda: next(iter(
        driver.css('[data-testid="stIFrame"], iframe[title="st.iframe"]')), None))
    driver.driver.switch_to.frame(frame)
    try:
        return str(driver.wait_for("the report in the frame", lambda: (
            t := driver.driver.find_element(By.TAG_NAME, "body").text) and "周报" in t and t))
    finally:
        driver.driver.switch_to.default_content()


def _downloads(driver) -> list[str]:
    """The download buttons' labels (their icon's name, drawn as text, left out)."""
    return [b.text.strip().splitlines()[-1]
            for b in driver.css('[data-testid="stDownloadButton"] button') if b.is_displayed()]


def _options(driver, index: int) -> list[str]:
    """The choices of the page's ``index``-th selectbox (its list is drawn on a click)."""
    box = driver.css('[data-testid="stSelectbox"]')[index]
    box.find_element(By.CSS_SELECTOR, "input").click()
    items = driver.wait_for("the options", lambda: driver.css('[role="option"]'))
    return [i.text.strip() for i in items]


def _choose(driver, index: int, text: str) -> None:
    _options(driver, index)
    option = next(o for o in driver.css('[role="option"]') if o.text.strip().startswith(text))
    option.click()
    driver.idle()


def _efficiency(ch, enterprise: str, start: datetime, end: datetime) -> float:
    """Transmission-efficiency of the enterprise's active stations over the whole hours
    [start, end), minute records, from completeness with the test's own SQL."""
    stations = ch.query_dicts(
        "SELECT mn, min_interval FROM stations FINAL WHERE active = 1 AND enterprise = %(e)s",
        {"e": enterprise})
    hours = int((end - start).total_seconds()) // 3600
    expected = sum(hours * max(60 // max(int(s["min_interval"]), 1), 1) for s in stations)
    received = valid = 0
    for s in stations:
        rows = ch.query_dicts(
            "SELECT received, expected, valid FROM completeness FINAL WHERE mn = %(mn)s "
            "AND period = 'hour' AND code = '' "
            "AND period_start >= toDateTime(%(s)s, 'Asia/Shanghai') "
            "AND period_start < toDateTime(%(e)s, 'Asia/Shanghai')",
            {"mn": s["mn"], "s": f"{start:%Y-%m-%d %H:%M:%S}", "e": f"{end:%Y-%m-%d %H:%M:%S}"})
        received += sum(min(int(r["received"]), int(r["expected"])) for r in rows)
        valid += sum(int(r["valid"]) for r in rows)
    if not expected or not received:
        return 0.0
    return received / expected * valid / received


def test_the_analyst_previews_and_downloads(app, driver, ch, seeded_db):
    _open(app, driver, "analyst")
    enterprises = sorted({s.enterprise for s in seeded_db.seeded.stations})
    text = _preview(driver)
    assert enterprises[0] in text and "企业环保监测周报" in text
    assert _downloads(driver) == ["下载 HTML Download HTML", "下载 PDF Download PDF"]
    assert sorted(o.split("（")[0] for o in _options(driver, 1)) == enterprises
    driver.css("body")[0].send_keys(Keys.ESCAPE)
    driver.screenshot("report_analyst")

    # the week in progress of a simulated enterprise: figures against the test's SQL
    simulated = next(s for s in seeded_db.seeded.stations if s.simulated)
    running = week_of(seeded_db.seeded.now)
    _choose(driver, 0, running.name)
    _choose(driver, 1, simulated.enterprise)
    text = _preview(driver)
    assert simulated.enterprise in text and running.label() in text
    m = GENERATED.search(text)
    assert m, text[:400]
    now = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M")
    want = _efficiency(ch, simulated.enterprise, running.start,
                       max(running.start, now.replace(minute=0)))
    assert f"本周传输有效率 {100 * want:.1f}%" in text
    assert driver.metrics()["传输有效率 Efficiency"] == f"{100 * want:.1f}%"
    driver.screenshot("report_analyst_running_week")


def test_a_field_engineer_is_offered_only_his_region(app, driver, seeded_db):
    stations = seeded_db.seeded.stations
    text = _open(app, driver, "engineer")
    mine = sorted({s.enterprise for s in stations if s.region == browser_seed.JJ})
    offered = _options(driver, 1)
    assert sorted(o.split("（")[0] for o in offered) == mine
    driver.css("body")[0].send_keys(Keys.ESCAPE)
    preview = _preview(driver)
    for other in stations:
        if other.region != browser_seed.JJ and other.enterprise not in mine:
            assert other.enterprise not in text + preview + "".join(offered), other
    driver.screenshot("report_engineer_scoped")
