"""A work order's life in a real browser (issue 12, "Done when"), walked by the people
who work it: the duty operator acknowledges an alarm on the duty desk and dispatches it
(the roster of the service settings file picks the region's engineer); the engineer, a
region-scoped account, finds the order on the work-orders page (and not another region's)
and records contact, response, arrival and the resolution; the operator verifies the data
back and closes it, and the record's SLA clocks all read met; the service watch plans the
return visit and quality records it, with a satisfaction score, on the visits page. Then
two people in two browsers edit one order at once: one change is recorded, the other page
shows the conflict naming who moved the record and keeps what was typed, and sending it
again records it.

Everything travels as in production: page -> admin/records.py -> Kafka -> the ledger
writer (tests/browser/conftest.py ``ledger``) -> ClickHouse -> the page's reply. The app is
a ``hj212 ui`` of this module's own (``svc_app``), started with HJ212_SERVICE__FILE naming
the flow's settings file (tests/browser/service_seed.py), as an operator points a
deployment at its own rosters; the suite's shared app keeps the sample settings.

Expected values come from the ledger's rows read with the test's own SQL and from the
settings file read with tomllib, never from the pages' code.
"""

from __future__ import annotations

import json
import re
import time
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_plus

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from admin import visits as vi
from admin.accounts import Accounts
from admin.records import TYPES, Records
from admin.roles import User
from admin.service_settings import load as load_service
from admin.service_watch import run_round
from dashboards.records_widgets import NOT_FOUND
from pipeline.config import Settings
from pipeline.ledger.client import LedgerClient
from pipeline.store.client import ClickHouse
from pipeline.timebase import now_local
from tests.browser import browser_seed, service_seed
from tests.browser.browser_app import App, running_app
from tests.browser.browser_driver import RUN_DIR, Browser
from tests.browser.service_seed import ENGINEER, OTHER_REGION, REGION

pytestmark = pytest.mark.integration

CST = timezone(timedelta(hours=8))
ORDERS, VISITS = TYPES["orders"], TYPES["visits"]
MET = "🟢 按时 met in time"
CLOCK_HEADER, STATUS_HEADER = "时限 clock", "状态 status"


@dataclass(frozen=True)
class Flow:
    app: App
    settings: Settings  # the ledger writer's (topic, database)
    service_file: Path
    dsn: str


@pytest.fixture(scope="module")
def svc_app(seeded_db: Any, ledger: Settings) -> Iterator[Flow]:
    """The flow's engineer, and `hj212 ui` reading the flow's service settings file."""
    path = service_seed.settings_file(RUN_DIR / "service-flow")
    with ClickHouse(seeded_db.dsn) as ch:
        service_seed.add_engineer(ch, ledger)
    mp = pytest.MonkeyPatch()
    mp.setenv("HJ212_SERVICE__FILE", str(path))
    try:
        with running_app(seeded_db.dsn, RUN_DIR / "hj212-ui-service.log") as app:
            yield Flow(app=app, settings=ledger, service_file=path, dsn=seeded_db.dsn)
    finally:
        mp.undo()


# --- the browser -------------------------------------------------------------------------


def _open(browser: Browser, flow: Flow, user: str, path: str, ready: str) -> None:
    browser.sign_in(flow.app.url + path, user, browser_seed.PASSWORD)
    browser.wait_for(f"{ready!r} for {user}", lambda: ready in browser.text())
    browser.idle()
    assert browser.exceptions() == [], browser.exceptions()


def _tab(browser: Browser, label: str) -> None:
    def find() -> WebElement | None:
        for tab in browser.css('[role="tab"]'):
            if tab.text.strip() == label and tab.is_displayed():
                return tab
        return None

    browser.wait_for(f"the tab {label!r}", find).click()
    time.sleep(0.3)


def _tabs(browser: Browser) -> list[str]:
    return [t.text.strip() for t in browser.css('[role="tab"]') if t.is_displayed()]


def _input(browser: Browser, label: str) -> WebElement:
    """The shown text box, text area or number box labelled ``label`` (a required
    field's label ends in ' *')."""
    def find() -> WebElement | None:
        for e in browser.css("textarea, input"):
            name = (e.get_attribute("aria-label") or "").strip()
            if name in (label, f"{label} *") and e.is_displayed():
                return e
        return None

    found: WebElement = browser.wait_for(f"the field {label!r}", find)
    return found


def _type(browser: Browser, label: str, text: str) -> None:
    box = _input(browser, label)
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(text)


def _choose(browser: Browser, label: str, option: str) -> None:
    """Pick ``option`` (its shown text starts so) in the shown selectbox ``label``."""
    def box() -> WebElement | None:
        for b in browser.css('[data-testid="stSelectbox"]'):
            if b.is_displayed() and b.text.strip().startswith(label):
                return b
        return None

    found: WebElement = browser.wait_for(f"the selectbox {label!r}", box)
    found.find_element(By.CSS_SELECTOR, "input").click()
    choice: WebElement = browser.wait_for(f"the option {option!r}", lambda: next(
        (o for o in browser.css('[role="option"]') if o.text.strip().startswith(option)),
        None))
    choice.click()
    time.sleep(0.2)


def _submit(browser: Browser, kind_label: str) -> None:
    # a click elsewhere first: the last box typed in hands its value to the form
    browser.css("h1, h2, h3")[0].click()
    browser.button(f"提交 Submit · {kind_label}").click()


def _recorded(browser: Browser, seq: int) -> None:
    pattern = re.compile(rf"已记录 appended as event {seq}(?!\d)")
    browser.wait_for(f"event {seq} recorded", lambda: pattern.search(browser.text()),
                     timeout=40)
    browser.idle()
    assert browser.exceptions() == [], browser.exceptions()


@dataclass
class Session:
    """One person signed in on one record's page. After each action the page must still
    show that record: where it lost it, the loss is noted (``lost``, asserted at the end
    of the test, so every other step is still checked) and the record opened again from
    its address, as the person would."""

    browser: Browser
    flow: Flow
    user: str
    path: str  # the record's address
    ready: str  # text the record's view shows
    lost: list[str]

    def open(self) -> Session:
        _open(self.browser, self.flow, self.user, self.path, self.ready)
        return self

    def act(self, kind_label: str, fields: Mapping[str, str], seq: int) -> None:
        _tab(self.browser, kind_label)
        for label, text in fields.items():
            _type(self.browser, label, text)
        _submit(self.browser, kind_label)
        _recorded(self.browser, seq)
        self.check(kind_label)

    def check(self, after: str) -> None:
        if NOT_FOUND in self.browser.text() or self.ready not in self.browser.text():
            self.lost.append(f"{self.user} after {after!r}: the page's address became "
                             f"{unquote_plus(self.browser.driver.current_url)}")
            self.browser.screenshot(f"service_lost_{len(self.lost)}")
            self.open()


def _no_record_lost(lost: list[str]) -> None:
    assert not lost, (
        "after an action the page stopped showing the record acted on (\"无法打开该记录\"): "
        "the record picker (dashboards/records_widgets.py record_list, key rec_<type>_pick) "
        "labels each record with its state, the state changes with the action, and the "
        "stale label comes back as the picker's value, which _picked writes into "
        "?record=:\n" + "\n".join(lost))


def _table(browser: Browser, header: str) -> list[dict[str, str]]:
    for rows in browser.tables():
        if rows and header in rows[0]:
            return rows
    raise AssertionError(f"no table with {header!r} on the page: {browser.text()[:2000]!r}")


# --- the ledger, read with the test's own SQL -------------------------------------------


def _events(ch: ClickHouse, stream: str, record_id: str) -> list[dict[str, Any]]:
    rows = ch.query_dicts(
        "SELECT seq, kind, actor, at_ms, payload FROM ledger_events "
        "WHERE stream = %(s)s AND record_id = %(r)s ORDER BY seq",
        {"s": stream, "r": record_id})
    for r in rows:
        r["at"] = datetime.fromtimestamp(r["at_ms"] / 1000, CST).replace(tzinfo=None)
        r["payload"] = json.loads(r["payload"])
    return rows


def _minute(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M}"


def _expected_clocks(events: list[dict[str, Any]], sla: Mapping[str, Any]
                     ) -> dict[str, tuple[str, str, str]]:
    """clock label -> (due, met, status) of a stopping fault's order worked on one day:
    first contact, response and on site from the open event, the day's closing note met
    by the resolution."""
    first: dict[str, datetime] = {}
    for e in events:
        first.setdefault(e["kind"], e["at"])
    opened = first["open"]
    midnight = datetime.combine(opened.date() + timedelta(days=1), datetime.min.time())
    out = {}
    for label, minutes, met in (
            ("首次联系 first contact", sla["first_contact_min"], first["contact"]),
            ("响应 response", sla["response_min"], first["respond"]),
            ("到场 on site", sla["on_site_min"], first["arrive"])):
        due = opened + timedelta(minutes=minutes)
        assert met <= due, f"{label}: met {met}, due {due}: the test was too slow"
        out[label] = (_minute(due), _minute(met), MET)
    out["日结 daily note"] = (_minute(midnight), _minute(first["resolve"]), MET)
    return out


def _clear_of_midnight() -> None:
    """The order must open, resolve and close on one day (one daily-note clock)."""
    now = now_local()
    left = (datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
            - now).total_seconds()
    if left < 240:
        time.sleep(left + 1)


def _user(ch: ClickHouse, settings: Settings, name: str) -> User:
    found = Accounts(ch, settings).get(name)
    assert found is not None, name
    return found


def _intake(records: Records, user: User, st: browser_seed.SeedStation, reason: str
            ) -> str:
    """A work order taken from a phone call, as the intake form sends it."""
    rid, reply = records.create(user, ORDERS, {
        "source": "phone", "class": "technical_service", "caller": "陈工",
        "contact": "13800000000", "organisation": st.enterprise, "station": st.mn,
        "reason": reason, "stops_system": False}, "test")
    assert reply.ok, reply
    return rid


# --- the flow ----------------------------------------------------------------------------


def test_operator_engineer_and_quality_walk_a_work_order(svc_app: Flow, driver: Browser,
                                                        ch: ClickHouse,
                                                        seeded_db: Any) -> None:
    _clear_of_midnight()
    stations = seeded_db.seeded.stations
    service = load_service(svc_app.service_file)
    conf = tomllib.loads(svc_app.service_file.read_text(encoding="utf-8"))
    aid = service_seed.offline_alarm(ch, service_seed.station(stations, REGION, False),
                                     now_local())
    other_station = service_seed.station(stations, OTHER_REGION, True)
    lost: list[str] = []
    with LedgerClient(svc_app.settings) as ledger:
        records = Records(ledger, ch, service)
        # another region's order, taken by phone: the engineer must not see it
        other = _intake(records, _user(ch, svc_app.settings, "duty"), other_station,
                        "COD 数据不上传")

        # (1) the duty operator: acknowledge, then dispatch by the roster
        _open(driver, svc_app, "duty", f"duty?alarm={quote(aid, safe='')}", "处置记录 History")
        driver.screenshot("service_1_duty_alarm")
        driver.button("确认 acknowledge").click()
        driver.wait_for("the ack recorded", lambda: "已记录（第 1 条）" in driver.text(),
                        timeout=40)
        driver.idle()
        _tab(driver, "派单 dispatch")
        driver.button("提交 Submit · 派单 dispatch").click()
        driver.wait_for("the dispatch recorded", lambda: "已记录（第 2 条）" in driver.text(),
                        timeout=40)
        driver.idle()
        driver.screenshot("service_1_duty_dispatched")
        alarm_events = _events(ch, "alarm", aid)
        assert [(e["kind"], e["actor"]) for e in alarm_events] == [("ack", "duty"),
                                                                   ("dispatch", "duty")]
        dispatch = alarm_events[1]["payload"]
        wid = str(dispatch["work_order_id"])
        assert (dispatch["engineer"], dispatch["region"]) == (ENGINEER, REGION), dispatch
        order = _events(ch, "work_order", wid)
        assert [(e["kind"], e["actor"]) for e in order] == [("open", "duty"),
                                                            ("assign", "duty")]
        assert order[1]["payload"]["engineer"] == ENGINEER
        assert (order[0]["payload"]["alarm_id"], order[0]["payload"]["stops_system"]) == (
            aid, True), order[0]

        # (2) the engineer: his region's order, not the other region's; work it
        address, ready = f"orders?record={wid}", f"运维工单 {wid} ·"
        eng = Session(driver, svc_app, ENGINEER, address, ready, lost).open()
        listed = {r["编号 id"] for r in _table(driver, "编号 id")}
        assert wid in listed and other not in listed, listed
        assert other_station.mn not in driver.text()
        assert "已派工 assigned" in driver.text()
        driver.screenshot("service_2_engineer_order")
        # an engineer neither verifies nor closes; transfers are the desk's
        assert _tabs(driver) == ["联系客户 contact", "升级 escalate", "日结记录 note"]
        eng.act("联系客户 contact", {"联系情况 how": "电话联系企业环保负责人陈工"}, 3)
        eng.act("响应 respond", {"响应说明 how": "远程查看数采仪无心跳，出发"}, 4)
        eng.act("到场 arrive", {"到场说明 note": "到达站房"}, 5)
        eng.act("处理完成 resolve", {
            "原因 cause": "数采仪 4G 模块掉线", "处理措施 action": "更换 SIM 卡并重启数采仪",
            "处理结果 result": "数采仪重新上线，实时数据恢复",
            "签字服务报告 signed service report": "SR-2026-0042.pdf"}, 6)
        driver.screenshot("service_2_engineer_resolved")
        assert _tabs(driver) == ["日结记录 note"]

        # (3) the operator verifies the data back and closes; the clocks read met
        desk = Session(driver, svc_app, "duty", address, ready, lost).open()
        desk.act("确认恢复 verify",
                 {"数据恢复确认 how the data were seen back": "平台收到实时数据，分钟数据补传完整"},
                 7)
        desk.act("关闭 close", {"关闭说明 note": "闭环"}, 8)
        assert f"运维工单 {wid} · 已关闭 closed" in driver.text()
        driver.screenshot("service_3_operator_closed")
        order = _events(ch, "work_order", wid)
        assert [(e["seq"], e["kind"], e["actor"]) for e in order] == [
            (1, "open", "duty"), (2, "assign", "duty"), (3, "contact", ENGINEER),
            (4, "respond", ENGINEER), (5, "arrive", ENGINEER), (6, "resolve", ENGINEER),
            (7, "verify", "duty"), (8, "close", "duty")]
        assert order[5]["payload"] == {
            "cause": "数采仪 4G 模块掉线", "action": "更换 SIM 卡并重启数采仪",
            "result": "数采仪重新上线，实时数据恢复", "report": "SR-2026-0042.pdf"}
        shown = {r[CLOCK_HEADER]: (r["应于 due"], r["完成 met"], r[STATUS_HEADER])
                 for r in _table(driver, CLOCK_HEADER)}
        assert shown == _expected_clocks(order, conf["sla"]), shown
        metrics = driver.metrics()
        assert (metrics["超时 Breached"], metrics["预警 Warning"]) == ("0", "0"), metrics

        # (4) the service watch plans the return visit; quality records it
        stats = run_round(records)
        assert stats.made.get("visit_planned", 0) >= 1, stats
    vid = vi.visit_record_id(vi.WORK_ORDER, wid)
    plan = _events(ch, "visit", vid)
    closed_on = order[7]["at"].date()
    due = closed_on + timedelta(days=int(conf["visits"]["after_close_days"]))
    assert [(e["kind"], e["actor"]) for e in plan] == [("plan", "system:planner")], plan
    assert plan[0]["payload"]["due"] == due.isoformat(), plan

    quality = Session(driver, svc_app, "quality", f"visits?record={quote(vid, safe='')}",
                      f"回访 {vid} ·", lost).open()
    assert f"回访 {vid} · 待回访 planned" in driver.text()
    dues = _table(driver, "到期日 due")
    assert {"到期日 due": due.isoformat(), "工单/合同 order or contract": wid,
            "已计划 planned as": vid} .items() <= next(
        r for r in dues if r["工单/合同 order or contract"] == wid).items(), dues
    _tab(driver, "完成回访 record")
    _choose(driver, "方式 channel", "电话 phone")
    _type(driver, "受访人 contact person", "陈工")
    _type(driver, "满意度 satisfaction (1-5)", "4")
    _type(driver, "意见建议 suggestions", "希望提前告知到场时间")
    _submit(driver, "完成回访 record")
    _recorded(driver, 2)
    quality.check("完成回访 record")
    assert f"回访 {vid} · 已回访 done" in driver.text()
    driver.screenshot("service_4_quality_visit")
    visit = _events(ch, "visit", vid)
    assert [(e["kind"], e["actor"]) for e in visit] == [("plan", "system:planner"),
                                                        ("record", "quality")]
    assert visit[1]["payload"] == {"channel": "phone", "contact": "陈工", "satisfaction": 4,
                                   "suggestions": "希望提前告知到场时间"}, visit
    scores = [int(json.loads(r["payload"])["satisfaction"]) for r in ch.query_dicts(
        "SELECT payload FROM ledger_events WHERE stream = 'visit' AND kind = 'record'")]
    metrics = driver.metrics()
    assert metrics["平均满意度 Mean satisfaction"] == f"{sum(scores) / len(scores):.2f}"
    assert metrics["已完成 Done"] == str(len(scores))
    _no_record_lost(lost)


def test_two_people_edit_one_order_the_stale_page_keeps_its_text(
        svc_app: Flow, driver: Browser, ch: ClickHouse, seeded_db: Any) -> None:
    st = service_seed.station(seeded_db.seeded.stations, REGION, True)
    with LedgerClient(svc_app.settings) as ledger:
        records = Records(ledger, ch, load_service(svc_app.service_file))
        wid = _intake(records, _user(ch, svc_app.settings, "duty"), st, "氨氮数据跳变")
    order = _events(ch, "work_order", wid)
    assert [(e["kind"], e["actor"]) for e in order] == [("open", "duty"), ("assign", "duty")]
    # the roster, in the test's own Records too
    assert order[1]["payload"]["engineer"] == ENGINEER

    desk_text = "企业来电催问进度，已告知工程师今日到场"
    eng_text = "已与企业约定下午两点到场检查氨氮分析仪"
    lost: list[str] = []
    other = Browser.start(RUN_DIR)
    try:
        address, ready = f"orders?record={wid}", f"运维工单 {wid} ·"
        desk = Session(driver, svc_app, "duty", address, ready, lost).open()
        Session(other, svc_app, ENGINEER, address, ready, lost).open()
        # both pages drew the order at seq 2; both write the day's note
        for browser, text in ((driver, desk_text), (other, eng_text)):
            _tab(browser, "日结记录 note")
            _type(browser, "日结记录 the day's cause, process and result", text)
        _submit(driver, "日结记录 note")
        _recorded(driver, 3)
        desk.check("日结记录 note")
        _submit(other, "日结记录 note")
        other.wait_for("the conflict", lambda: "冲突 conflict" in other.text(), timeout=40)
        other.idle()
        message = next(e.text for e in other.css('[data-testid="stAlert"]')
                       if "冲突 conflict" in e.text)
        assert "changed by duty" in message, message
        other.screenshot("service_5_conflict")
        # what the engineer typed is still in the form, to send again (the page draws
        # its first tab after the conflict: he goes back to the note's)
        _tab(other, "日结记录 note")
        box = _input(other, "日结记录 the day's cause, process and result")
        assert box.get_attribute("value") == eng_text
        other.screenshot("service_5_conflict_text_kept")
        assert "Traceback" not in other.text()
        _submit(other, "日结记录 note")
        _recorded(other, 4)
        other.screenshot("service_5_resent")
    finally:
        other.quit()
    notes = _events(ch, "work_order", wid)[2:]
    assert [(e["seq"], e["kind"], e["actor"]) for e in notes] == [
        (3, "note", "duty"), (4, "note", ENGINEER)], notes
    _no_record_lost(lost)
    assert [e["payload"] for e in notes] == [{"text": desk_text}, {"text": eng_text}]
