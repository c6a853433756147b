"""The duty desk (值守台) in a real browser, acting for real: a web app of its own
(`hj212 ui`, on the browser suite's seeded database) whose ledger topic is this module's,
and the ledger writer (pipeline/ledger/writer.py) running in this process on that topic,
so an action travels page -> admin/duty_actions.py -> Kafka -> writer -> ClickHouse ->
the page's reply, as in production.

Shown: an operator opens a seeded open alarm from the feed's address, acknowledges it,
notifies the enterprise and dispatches it to the region's engineer; the history shows
each step with who and when (and the rows are in ledger_events); two operators in two
browser sessions acting on another alarm at the same moment (both pages showing the same
seq) end in one recorded action and one conflict message that names who acted.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from admin.accounts import Accounts, Role
from dashboards import duty_page
from pipeline.config import load_settings
from pipeline.store.client import ClickHouse
from tests.browser import browser_seed
from tests.browser.browser_app import App, running_app
from tests.browser.browser_driver import RUN_DIR, Browser
from tests.integration.test_duty_flow import WriterThread, _drop_topic

pytestmark = pytest.mark.integration

ENGINEER_JS = "engineer.js"  # a resident engineer of 苏皖沪, for the dispatch


@pytest.fixture(scope="module")
def duty_app(seeded_db: Any) -> Iterator[App]:
    """The writer on a topic of this module's, and `hj212 ui` publishing to it."""
    topic = f"hj212_browser_duty_ledger_{uuid.uuid4().hex[:8]}"
    mp = pytest.MonkeyPatch()
    mp.setenv("HJ212_CLICKHOUSE__DSN", seeded_db.dsn)
    mp.setenv("HJ212_TOPICS__LEDGER", topic)
    mp.setenv("HJ212_LEDGER__GROUP_ID", f"{topic}-writer")
    mp.setenv("HJ212_LEDGER__REPLY_WAIT_S", "15")
    settings = load_settings()
    with ClickHouse(seeded_db.dsn) as ch:
        if Accounts(ch, settings).get(ENGINEER_JS) is None:
            Accounts(ch, settings).add("browser-suite", ENGINEER_JS, "驻地工程师 周敏",
                                       [Role.FIELD_ENGINEER], [browser_seed.JS],
                                       browser_seed.PASSWORD, source="test")
    writer = WriterThread(settings)
    writer.start()
    try:
        # running_app passes this process's environment on: the topic is the module's
        with running_app(seeded_db.dsn, RUN_DIR / "hj212-ui-duty.log") as app:
            yield app
    finally:
        writer.stop()
        mp.undo()
        asyncio.run(_drop_topic(settings.kafka.servers, topic))
    assert writer.error is None, writer.error


def _open_alarm(ch: ClickHouse, seeded_db: Any, station: int, rule: str) -> dict[str, Any]:
    """The browser seed's open alarm of ``rule`` on its ``station``-th simulated station
    (browser_seed._alarms), not one the simulated history's detectors opened."""
    mn = [s.mn for s in seeded_db.seeded.stations if s.simulated][station]
    rows = ch.query_dicts(
        "SELECT alarm_id, mn, code, rule, severity FROM alarms FINAL "
        "WHERE state = 'open' AND mn = %(mn)s AND rule = %(rule)s AND evidence = '{}' "
        "ORDER BY opened_at DESC LIMIT 1", {"mn": mn, "rule": rule})
    assert rows, f"the browser seed has no open {rule} alarm"
    return rows[0]


def _desk(driver: Browser, app: App, username: str, alarm_id: str) -> None:
    from urllib.parse import quote

    driver.sign_in(app.url + f"duty?alarm={quote(alarm_id, safe='')}", username,
                   browser_seed.PASSWORD)
    driver.wait_for("the alarm's details", lambda: "告警详情 Alarm" in driver.text()
                    and "处置记录 History" in driver.text())
    driver.idle()
    assert driver.exceptions() == []


def _tab(driver: Browser, label: str) -> None:
    def find() -> Any:
        for tab in driver.css('[role="tab"]'):
            if tab.text.strip() == label and tab.is_displayed():
                return tab
        return None

    driver.wait_for(f"the tab {label!r}", find).click()
    time.sleep(0.3)


def _recorded(driver: Browser, seq: int) -> None:
    want = f"已记录（第 {seq} 条）"
    driver.wait_for(f"event {seq} recorded", lambda: want in driver.text(), timeout=40)
    driver.idle()


def _history(driver: Browser) -> list[dict[str, str]]:
    for rows in driver.tables():
        if rows and "操作人 who" in rows[0]:
            return rows
    raise AssertionError(f"no history table on the page: {driver.text()[:2000]!r}")


def test_an_operator_acknowledges_notifies_and_dispatches(duty_app, driver, ch, seeded_db):
    alarm = _open_alarm(ch, seeded_db, 0, "over_limit")  # 苏皖沪
    aid = alarm["alarm_id"]
    _desk(driver, duty_app, "duty", aid)
    text = driver.text()
    assert "实时告警 Live alarms" in text and "交接班 Shift handover" in text
    assert len(driver.css('[data-testid="stVegaLiteChart"]')) >= 1  # the data around it
    driver.screenshot("duty_alarm_opened")

    driver.button("确认 acknowledge").click()
    _recorded(driver, 1)

    _tab(driver, "通知企业 notify")
    driver.button("提交 Submit · 通知企业 notify").click()
    _recorded(driver, 2)

    _tab(driver, "派单 dispatch")
    # the form offers the region's engineer first (the history below checks it was him)
    driver.button("提交 Submit · 派单 dispatch").click()
    _recorded(driver, 3)
    driver.screenshot("duty_after_dispatch")

    history = [r for r in _history(driver) if r.get("序号 seq")]
    assert [(r["序号 seq"], r["操作人 who"], r["操作 what"]) for r in history] == [
        ("1", "duty", "确认 acknowledge"), ("2", "duty", "通知企业 notify"),
        ("3", "duty", "派单 dispatch")]
    assert ENGINEER_JS in history[2]["内容 detail"] and "WO-" in history[2]["内容 detail"]
    assert all(r["时间 time"].startswith("20") for r in history)  # each with its time
    rows = ch.query_dicts("SELECT seq, kind, actor, at FROM ledger_events "
                          "WHERE stream = 'alarm' AND record_id = %(id)s ORDER BY seq",
                          {"id": aid})
    assert [(r["seq"], r["kind"], r["actor"]) for r in rows] == [
        (1, "ack", "duty"), (2, "notify", "duty"), (3, "dispatch", "duty")]
    shown_times = [r["时间 time"] for r in history]
    assert shown_times == [f"{r['at']:%Y-%m-%d %H:%M:%S}" for r in rows]
    # the feed now shows it dispatched
    driver.wait_for("the feed to show the dispatch",
                    lambda: "已派单 dispatched" in driver.text(), timeout=20)


def test_two_operators_at_once_one_gets_the_conflict(duty_app, driver, ch, seeded_db):
    alarm = _open_alarm(ch, seeded_db, 2, "constant_streak")  # 粤桂湘琼鄂
    aid = alarm["alarm_id"]
    other = Browser.start(RUN_DIR)
    try:
        _desk(driver, duty_app, "duty", aid)
        _desk(other, duty_app, "supervisor", aid)
        first = driver.button("确认 acknowledge")
        second = other.button("确认 acknowledge")
        # both pages show the alarm with no event yet: the same expected seq
        first.click()
        second.click()
        outcomes = {}
        for name, browser in (("duty", driver), ("supervisor", other)):
            browser.wait_for(f"{name}'s outcome", lambda b=browser: (
                "已记录（第 1 条）" in b.text() or "冲突 conflict" in b.text()), timeout=40)
            outcomes[name] = browser.text()
        won = [n for n, t in outcomes.items() if "已记录（第 1 条）" in t]
        lost = [n for n, t in outcomes.items() if "冲突 conflict" in t]
        assert len(won) == 1 and len(lost) == 1, outcomes
        loser = other if lost == ["supervisor"] else driver
        message = next(e.text for e in loser.css('[data-testid="stAlert"]')
                       if "冲突 conflict" in e.text)
        # the ledger's words: who changed it and when
        assert f"已被 {won[0]} 于" in message and f"changed by {won[0]} at" in message
        loser.screenshot("duty_conflict")
        assert "Traceback" not in outcomes[lost[0]]
        rows = ch.query_dicts("SELECT seq, actor FROM ledger_events WHERE stream = 'alarm' "
                              "AND record_id = %(id)s", {"id": aid})
        assert [(r["seq"], r["actor"]) for r in rows] == [(1, won[0])]
    finally:
        other.quit()


def test_a_field_engineer_sees_his_region_and_no_acknowledge(duty_app, driver, ch,
                                                             seeded_db):
    alarm = _open_alarm(ch, seeded_db, 1, "missing")  # 京津冀鲁: the engineer's region
    _desk(driver, duty_app, "engineer", alarm["alarm_id"])
    labels = [b.text.strip() for b in driver.css("button") if b.is_displayed()]
    assert "确认 acknowledge" not in labels
    tables = "\n".join(str(t) for t in driver.tables())
    for station in seeded_db.seeded.stations:
        if station.region != browser_seed.JJ:
            assert station.mn not in tables and station.enterprise not in tables
    driver.screenshot("duty_engineer")
    assert duty_page.NOT_FOUND not in driver.text()
