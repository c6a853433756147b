"""The duty desk (值守台) in a real browser, acting for real: the suite's `hj212 ui`
(tests/browser/conftest.py `app`) publishes to the suite's ledger topic, and the ledger
writer (pipeline/ledger/writer.py) runs in the test process on that topic (conftest
`ledger`), so an action travels page -> admin/duty_actions.py -> Kafka -> writer ->
ClickHouse -> the page's reply, as in production.

The alarms acted on are faults of the simulator: the browser seed runs ``pipeline.seed``
(the simulator's loggers with the sample fault script, pipeline.seed.DEFAULT_FAULTS,
through the worker's sinks and detectors), and the test finds the episode the detectors
opened for a fault the script injected (which station, pollutant and window: the fault
assignment the seed's plan made), not a row written straight into ``alarms``.

Shown: an operator opens that alarm from the feed's address, acknowledges it, notifies
the enterprise and dispatches it to the region's engineer; the history shows each step
with who and when (and the rows are in ledger_events); two operators in two browser
sessions acting on another simulated fault's alarm at the same moment (both pages
showing the same seq) end in one recorded action and one conflict message that names who
acted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from admin.accounts import Accounts, Role
from dashboards import duty_page
from dashboards.duty_figures import FEED_LOOKBACK
from dashboards.labels import rule_label
from pipeline import seed as history
from pipeline.config import Settings
from pipeline.simulator.faults import RULES, load_script
from pipeline.store.client import ClickHouse
from pipeline.timebase import unix_from_local
from tests.browser import browser_seed
from tests.browser.browser_app import App
from tests.browser.browser_driver import RUN_DIR, Browser

pytestmark = pytest.mark.integration

#: a resident engineer of each service region (the seed has one for 京津冀鲁 only), so
#: whichever region the simulator's fault hit has someone to dispatch to
ENGINEERS = {browser_seed.JS: "engineer.js", browser_seed.JJ: "engineer",
             browser_seed.YG: "engineer.yg"}


@dataclass(frozen=True)
class Injected:
    """A fault the simulator injected (from the seed's plan) and the episode the
    detectors opened for it."""

    fault_id: str
    mn: str
    code: str
    rule: str
    start: datetime
    end: datetime
    alarm: dict[str, Any]


def _plan(seeded_db: Any) -> history.SeedPlan:
    """The plan tests/browser/browser_seed.py seeded with: the same call, so the same
    stations and the same per-day fault assignment (pipeline.simulator.faults.assign)."""
    plan = history.make_plan(days=2, stations=browser_seed.SIMULATED,
                             end=seeded_db.seeded.now, registry=RUN_DIR / "registry",
                             faults=load_script(history.DEFAULT_FAULTS))
    assert [s.mn for s in plan.stations] == [
        s.mn for s in seeded_db.seeded.stations if s.simulated], "not the seed's plan"
    return plan


def _simulated_alarm(ch: ClickHouse, seeded_db: Any, kinds: Sequence[str],
                     taken: Sequence[str] = ()) -> Injected:
    """The newest episode the detectors opened for a fault of ``kinds`` the sample script
    injected, on the duty desk's feed (open, or cleared within its look-back: one of the
    two seeded days always has it, as the script repeats daily) and not in ``taken``."""
    plan = _plan(seeded_db)
    # a margin under the feed's look-back: the feed's "now" is rounded to its refresh
    since = unix_from_local(seeded_db.seeded.now - FEED_LOOKBACK + timedelta(hours=1))
    found: list[Injected] = []
    for day in plan.days:
        for mn, faults in plan.day_faults(day).items():
            for f in faults:
                if f.kind not in kinds or f.pollutant is None:
                    continue
                rule = RULES[f.kind]
                assert rule is not None, f"{f.kind} trips no rule"
                rows = ch.query_dicts(
                    "SELECT alarm_id, mn, code, rule, severity, state, opened_at "
                    "FROM alarms FINAL WHERE mn = %(mn)s AND code = %(code)s "
                    "AND rule = %(rule)s AND evidence != '{}' "
                    "AND opened_at >= toDateTime(%(start)s) AND opened_at < toDateTime(%(end)s) "
                    "AND (state = 'open' OR toUInt32(ifNull(cleared_at, last_seen)) >= %(since)s) "
                    "ORDER BY opened_at LIMIT 1",
                    {"mn": mn, "code": f.pollutant, "rule": rule,
                     "start": int(unix_from_local(f.start)),
                     "end": int(unix_from_local(f.end)), "since": int(since)})
                if rows and rows[0]["alarm_id"] not in taken:
                    found.append(Injected(f.spec.id, mn, f.pollutant, rule, f.start, f.end,
                                          rows[0]))
    assert found, (f"no detector episode on the desk for the simulator's {'/'.join(kinds)} "
                   f"faults of {history.DEFAULT_FAULTS.name} on {plan.days}")
    return max(found, key=lambda i: i.start)


def _engineer(ch: ClickHouse, settings: Settings, region: str) -> str:
    """The region's engineer, added unless the seed has him."""
    username = ENGINEERS[region]
    accounts = Accounts(ch, settings)
    if accounts.get(username) is None:
        accounts.add("browser-suite", username, f"驻地工程师 {username}",
                     [Role.FIELD_ENGINEER], [region], browser_seed.PASSWORD, source="test")
    return username


def _region(seeded_db: Any, mn: str) -> str:
    return next(s.region for s in seeded_db.seeded.stations if s.mn == mn)


def _seeded_alarm(ch: ClickHouse, seeded_db: Any, station: int, rule: str) -> dict[str, Any]:
    """The browser seed's open alarm of ``rule`` on its ``station``-th simulated station
    (browser_seed._alarms)."""
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


def _shows_episode(driver: Browser, injected: Injected) -> None:
    """The detail's episode table names the fault's station, rule and alarm."""
    field, value = "项目 field", "内容 value"
    for rows in driver.tables():
        if rows and field in rows[0]:
            shown = {r[field]: r[value] for r in rows}
            if shown.get("ID") == injected.alarm["alarm_id"]:
                assert shown["站点 station"].endswith(injected.mn), shown
                assert shown["规则 rule"] == rule_label(injected.rule), shown
                return
    raise AssertionError(f"no episode table of {injected.alarm['alarm_id']} on the page")


def test_an_operator_acknowledges_notifies_and_dispatches(app, driver, ch, seeded_db,
                                                         ledger):
    # the script's over_limit faults (cod-over-limit, so2-over-limit): x1.6 the limit
    injected = _simulated_alarm(ch, seeded_db, ("over_limit",))
    assert injected.fault_id in ("cod-over-limit", "so2-over-limit")
    assert injected.alarm["rule"] == "over_limit" and injected.alarm["mn"] == injected.mn
    assert injected.start <= injected.alarm["opened_at"].replace(tzinfo=None) < injected.end
    engineer = _engineer(ch, ledger, _region(seeded_db, injected.mn))
    aid = injected.alarm["alarm_id"]
    _desk(driver, app, "duty", aid)
    text = driver.text()
    assert "实时告警 Live alarms" in text and "交接班 Shift handover" in text
    _shows_episode(driver, injected)
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
    assert engineer in history[2]["内容 detail"] and "WO-" in history[2]["内容 detail"]
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


def test_two_operators_at_once_one_gets_the_conflict(app, driver, ch, seeded_db):
    # another fault of the script: a stuck analyser, a zero or a negative flow
    injected = _simulated_alarm(ch, seeded_db, ("constant", "zero", "negative"))
    assert injected.fault_id in ("nh3n-stuck", "nox-zero", "flow-negative")
    assert injected.alarm["rule"] == injected.rule and injected.alarm["mn"] == injected.mn
    aid = injected.alarm["alarm_id"]
    other = Browser.start(RUN_DIR)
    try:
        _desk(driver, app, "duty", aid)
        _desk(other, app, "supervisor", aid)
        _shows_episode(other, injected)
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


def test_a_field_engineer_sees_his_region_and_no_acknowledge(app, driver, ch, seeded_db):
    alarm = _seeded_alarm(ch, seeded_db, 1, "missing")  # 京津冀鲁: the engineer's region
    _desk(driver, app, "engineer", alarm["alarm_id"])
    labels = [b.text.strip() for b in driver.css("button") if b.is_displayed()]
    assert "确认 acknowledge" not in labels
    tables = "\n".join(str(t) for t in driver.tables())
    for station in seeded_db.seeded.stations:
        if station.region != browser_seed.JJ:
            assert station.mn not in tables and station.enterprise not in tables
    driver.screenshot("duty_engineer")
    assert duty_page.NOT_FOUND not in driver.text()
