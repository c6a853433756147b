"""The station page in a real browser: opened by its address (``station?mn=<MN>``) for a
simulated station of the browser seed, its registry data and the record count of its
default chart equal what the test counts with SQL of its own; a field engineer of
京津冀鲁 who types a 苏皖沪 station's address is refused and sees nothing of it."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

import pytest

from dashboards import station_figures as fig
from dashboards import station_page
from tests.browser import browser_seed

pytestmark = pytest.mark.integration

CAPTION = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d) to (\d{4}-\d\d-\d\d \d\d:\d\d): (\d+) "
                     r"records, (\d+) flagged other than N")


def _station(app, driver, username: str, mn: str) -> str:
    driver.sign_in(app.url + f"station?mn={quote(mn)}", username, browser_seed.PASSWORD)
    driver.wait_for("the station page", lambda: "站点 Station" in driver.text()
                    and ("station_frames" in driver.text()
                         or station_page.REFUSED in driver.text()))
    driver.idle()
    assert driver.exceptions() == []
    return driver.text()


def _default_code(ch, mn: str, now: datetime) -> str:
    """The pollutant the page starts on, from the station's data (the test's SQL) and
    the page's documented choice: COD, else SO2, else the first code."""
    codes = ch.query_dicts(
        "SELECT DISTINCT cn, code FROM readings WHERE mn = %(mn)s AND cn = 2051 "
        "AND data_time >= toDateTime(%(s)s, 'Asia/Shanghai')",
        {"mn": mn, "s": (now - fig.CODES_LOOKBACK).strftime("%Y-%m-%d %H:%M:%S")})
    limits = ch.query_dicts("SELECT code FROM limits FINAL WHERE mn = %(mn)s", {"mn": mn})
    options = fig.code_options(codes, limits, 2051)
    return next((c for c in station_page.PREFERRED_CODES if c in options), options[0])


def _sending_now(ch, stations) -> list:
    """The simulated stations with frames received in the last hour (the frames table's
    default range), most first: stations keep their daily schedules, so which are sending
    depends on the hour the suite runs (at 17:30 CST the first simulated one was not)."""
    sim = {s.mn: s for s in stations if s.simulated}
    rows = ch.query_dicts(
        "SELECT mn, count() AS n FROM frames WHERE mn IN %(mns)s "
        "AND receive_time >= now() - 3600 GROUP BY mn ORDER BY n DESC, mn",
        {"mns": tuple(sim)})
    return [sim[r["mn"]] for r in rows]


def test_the_station_page_shows_the_registry_and_the_series(app, driver, ch, seeded_db):
    sending = _sending_now(ch, seeded_db.seeded.stations)
    assert sending, "no simulated station of the seed sent a frame in the last hour"
    station = sending[0]
    text = _station(app, driver, "analyst", station.mn)
    assert station_page.REFUSED not in text
    reg = ch.query_dicts("SELECT enterprise, outlet, region, rtd_interval FROM stations "
                         "FINAL WHERE mn = %(mn)s", {"mn": station.mn})[0]
    assert f"{reg['enterprise']} · {reg['outlet']}" in text
    assert reg["region"] in text and f"{reg['rtd_interval']} s" in text

    m = CAPTION.search(text)
    assert m, text[:3000]
    start, end = m.group(1) + ":00", m.group(2) + ":00"
    code = _default_code(ch, station.mn, datetime.strptime(end, "%Y-%m-%d %H:%M:%S"))
    counted = ch.query_dicts(
        "SELECT count() AS n, countIf(flag NOT IN ('N', '')) AS flagged "
        "FROM (SELECT flag FROM readings FINAL WHERE mn = %(mn)s AND cn = 2051 "
        "AND code = %(code)s AND data_time >= toDateTime(%(s)s, 'Asia/Shanghai') "
        "AND data_time < toDateTime(%(e)s, 'Asia/Shanghai'))",
        {"mn": station.mn, "code": code, "s": start, "e": end})[0]
    assert (int(m.group(3)), int(m.group(4))) == (counted["n"], counted["flagged"])
    assert counted["n"] > 0
    assert fig.pollutant_name(code) in text

    # the frames: the newest is decoded by the codec
    assert "原始报文 Raw frame" in text and "##" in text
    charts = driver.css('[data-testid="stVegaLiteChart"]')
    assert len(charts) == 1
    driver.screenshot("station_analyst")


def test_a_field_engineer_cannot_open_another_regions_station(app, driver, seeded_db):
    stations = seeded_db.seeded.stations
    other = next(s for s in stations if s.region == browser_seed.JS)
    text = _station(app, driver, "engineer", other.mn)
    assert station_page.REFUSED in text
    assert other.mn not in text and other.enterprise not in text
    assert browser_seed.JS not in text
    for s in stations:
        if s.region != browser_seed.JJ:
            assert s.mn not in text and s.enterprise not in text, s
    assert "监测数据 Monitoring data" not in text
    driver.screenshot("station_engineer_refused")
