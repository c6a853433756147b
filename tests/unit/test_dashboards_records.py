"""The service-record pages (运维工单, 巡检, 回访, 投诉, 365服务): the pure shaping of
dashboards/records_figures.py, who sees which page, and the pages under AppTest on chDB
with ledger events seeded by hand: a duty operator sees every region's records, a field
engineer only his region's, a form acts through admin/records.py and a recording stand-in
of the ledger's transport (the writer's own ``decide`` with the record type's real
``check``), a stale form gets the conflict message and keeps what was typed, and a record
type whose module is missing says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from admin import service_settings
from admin import work_orders as wo
from admin.accounts import Role
from admin.records import TYPES, RecordType
from dashboards import (
    auth,
    data,
    inspections_page,
    navigation,
    records_widgets,
    widgets,
)
from dashboards import records_figures as fig
from pipeline.ledger import queries as lq
from pipeline.ledger.codec import event_columns
from pipeline.ledger.model import Change, Event
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.records_ledger import ChdbLedger
from tests.unit.test_dashboards_app import APP, USERS, FakeAccounts, KeepOpen, sign_in, texts
from tests.unit.test_dashboards_app import user as make_user

NOW = datetime(2024, 5, 10, 12, 0)
JS, JJ = "苏皖沪", "京津冀鲁"


def ev(stream: str, rid: str, seq: int, verb: str, actor: str, at: datetime,
       **payload: Any) -> Event:
    return Event(stream, rid, seq, f"r-{rid}-{seq}", verb, actor, at, payload, "web")


# --- the seed: one record of each type, work orders in two regions ---------------------

WO_A, WO_B = "WO-20240510-AAAAAA", "WO-20240510-BBBBBB"
SEED: list[Event] = [
    # 苏皖沪, a fault stopping the system: opened 10:00, first contact 10:20 (5 min late)
    ev("work_order", WO_A, 1, "open", "duty", NOW - timedelta(hours=2), source="phone",
       caller="张先生", contact="138", organisation="甲水务有限公司", station="MNA0001",
       reason="数据缺失", region=JS, stops_system=True, **{"class": "technical_service"}),
    ev("work_order", WO_A, 2, "assign", "duty", NOW - timedelta(minutes=110),
       engineer="engineer"),
    ev("work_order", WO_A, 3, "contact", "engineer", NOW - timedelta(minutes=100)),
    # 京津冀鲁, new
    ev("work_order", WO_B, 1, "open", "duty", NOW - timedelta(hours=1), source="wechat",
       caller="李女士", contact="wx", organisation="乙电力有限公司", station="MNB0002",
       reason="数值异常", region=JJ, stops_system=False, **{"class": "inquiry"}),
    ev("complaint", "CP-20240509-000001", 1, "receive", "duty", NOW - timedelta(days=1),
       complainant="王", contact="139", organisation="丙化工有限公司", region=JS,
       received_via="phone", text="回复慢"),
    ev("subscription", "丙化工有限公司", 1, "register", "duty", NOW - timedelta(days=3),
       enterprise="丙化工有限公司", region=JS, stations=["MNA0001"], contract_no="HT-1",
       start="2024-05-01", end="2025-04-30", trial=False),
    ev("inspection", "IN-20240501-000001", 1, "plan", "duty", NOW - timedelta(days=9),
       kind="site", region=JS, station="MNA0001", enterprise="甲水务有限公司",
       template="site", items=["采样管路", "数采仪时钟"], due="2024-05-20",
       inspector="engineer"),
    ev("visit", "RV-WO-WO-OLD", 1, "plan", "duty", NOW - timedelta(days=2),
       reason="work_order", work_order_id="WO-OLD", enterprise="甲水务有限公司", region=JS,
       due="2024-05-12"),
]


class RecordingLedger(ChdbLedger):
    """The ledger's writer without Kafka (tests/unit/records_ledger.py): the writer's
    ``decide`` with the record type's real rule, the event appended a minute after NOW;
    every instance records into the one class-wide ``changes``."""

    changes: ClassVar[list[Change]] = []

    def __init__(self, ch: ChdbClickHouse) -> None:
        super().__init__(ch, lambda: NOW + timedelta(minutes=1), RecordingLedger.changes)


class NoClose:
    def __init__(self, ch: ChdbClickHouse) -> None:
        self.ch = ch

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ch, name)

    def close(self) -> None:
        pass


REC_USERS = {**USERS,
             "duty": make_user("duty", Role.DUTY_OPERATOR),
             "sup": make_user("sup", Role.DUTY_SUPERVISOR),
             "quality": make_user("quality", Role.QUALITY),
             "engineer": make_user("engineer", Role.FIELD_ENGINEER, regions=(JS,))}


@pytest.fixture()
def chdb() -> Iterator[ChdbClickHouse]:
    # a fresh database per test: forms append events
    with ChdbClickHouse("hj212_records") as conn:
        migrate(conn)
        conn.execute("TRUNCATE TABLE ledger_events")
        conn.insert_columns("ledger_events", event_columns(SEED))
        yield conn


@pytest.fixture()
def page(monkeypatch: pytest.MonkeyPatch, chdb: ChdbClickHouse) -> None:
    @contextmanager
    def accounts() -> Iterator[FakeAccounts]:
        yield FakeAccounts()

    monkeypatch.setattr(FakeAccounts, "users", REC_USERS)
    monkeypatch.setattr(auth, "accounts", accounts)
    monkeypatch.setattr(data, "connect", lambda dsn: KeepOpen(chdb))
    monkeypatch.setattr(widgets, "now_local", lambda: NOW)
    monkeypatch.setattr(records_widgets, "connect", lambda dsn: NoClose(chdb))
    monkeypatch.setattr(records_widgets, "ledger", lambda: RecordingLedger(chdb))
    monkeypatch.setattr(records_widgets, "service", service_settings.load)
    RecordingLedger.changes = []
    st.cache_data.clear()
    data.reset_breaker()


def _open(username: str, key: str, record: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    sign_in(at, username)
    if record is not None:
        at.query_params["record"] = record
    at.switch_page(f"views/{key}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _tables(at: AppTest) -> str:
    return "\n".join(t.value.to_csv() for t in at.table)


# --- pure shaping -----------------------------------------------------------------------


def _order(events: list[Event]) -> wo.WorkOrderState:
    return wo.derive(events)


def test_filters_by_state_region_owner_day_and_text():
    a = _order([e for e in SEED if e.record_id == WO_A])
    b = _order([e for e in SEED if e.record_id == WO_B])
    both = [a, b]
    assert fig.apply(both, fig.Filters(states=("new",))) == [b]
    assert fig.apply(both, fig.Filters(regions=(JS,))) == [a]
    assert fig.apply(both, fig.Filters(people=("engineer",))) == [a]  # b has none yet
    assert fig.apply(both, fig.Filters(start=NOW.date(), end=NOW.date())) == both
    assert fig.apply(both, fig.Filters(end=NOW.date() - timedelta(days=1))) == []
    assert fig.apply(both, fig.Filters(text="mnb0002")) == [b]  # station, any case
    assert fig.apply(both, fig.Filters(text="甲水务")) == [a]  # organisation
    assert fig.apply(both, fig.Filters(text="AAAAAA")) == [a]  # id
    rows = fig.list_rows([a], wo.STATE_LABELS.get)  # type: ignore[arg-type]
    assert rows == [{"record_id": WO_A, "state": "已联系 contacted", "region": JS,
                     "person": "engineer", "station": "MNA0001",
                     "organisation": "甲水务有限公司", "opened_at": "2024-05-10 10:00",
                     "last_at": "2024-05-10 10:20", "events": 3}]


def test_history_rows_label_verbs_and_payload_keys():
    a = _order([e for e in SEED if e.record_id == WO_A])
    labels = fig.field_labels(wo.FORMS)
    rows = fig.history_rows(a.events, lambda k: wo.KIND_LABELS[k], labels,
                            fig.choice_labels(wo.FORMS))
    assert [(r["seq"], r["at"], r["what"], r["actor"]) for r in rows] == [
        (1, "2024-05-10 10:00:00", "开单 open", "duty"),
        (2, "2024-05-10 10:10:00", "派工 assign", "duty"),
        (3, "2024-05-10 10:20:00", "联系客户 contact", "engineer")]
    assert rows[1]["detail"] == "工程师 engineer: engineer"
    # in the form's order, choices by their labels
    assert rows[0]["detail"] == (
        "来源 source: 电话 phone; 类别 class: 技术服务 technical service; 站点 MN station: "
        "MNA0001; 单位 organisation: 甲水务有限公司; 服务区域 region: 苏皖沪; 来电人 caller: "
        "张先生; 联系方式 contact: 138; 事由 reason: 数据缺失; 系统停止工作 fault stops the "
        "system: 是 yes")
    assert rows[2]["detail"] == fig.NONE
    long = fig.payload_summary({"text": "x" * 1000})
    assert len(long) == fig.DETAIL_CHARS and long.endswith("…")


def test_sla_clock_rows_say_met_late_over_due_and_time_left():
    a = _order([e for e in SEED if e.record_id == WO_A])
    clocks = wo.sla(a, NOW)
    rows = {r["clock"]: r for r in fig.clock_rows(clocks, NOW, wo.CLOCK_LABELS)}
    # opened 10:00: contact due 10:15, made 10:20; response due 11:00, none by 12:00;
    # on site due 13:00, 2 h of 3 h used (warning from 80 %, 2h24m)
    assert rows["首次联系 first contact"]["status"] == "🔴 超时完成 met late by 5m"
    assert rows["首次联系 first contact"]["met"] == "2024-05-10 10:20"
    assert rows["响应 response"]["status"] == "🔴 已超时 over by 1h00m"
    assert rows["到场 on site"]["status"] == "剩余 left 1h00m"
    assert rows["日结 daily note"]["due"] == "2024-05-11 00:00"
    later = NOW + timedelta(minutes=30)  # 2h30m of 3 h used
    assert fig.clock_status(datetime(2024, 5, 10, 13), None, False, True, later)[1] == (
        "🟠 即将超时 left 30m")
    assert fig.clock_counts(clocks) == {fig.BREACHED: 2, fig.WARN: 0, fig.RUNNING: 2}


def test_summary_shows_plain_fields_with_form_labels():
    a = _order([e for e in SEED if e.record_id == WO_A])
    rows = {r["field"]: r["value"] for r in fig.summary_rows(
        a, fig.field_labels(wo.FORMS), {"source": wo.SOURCE_LABELS})}
    assert rows["来源 source"] == "电话 phone"
    assert rows["来电人 caller"] == "张先生" and rows["工程师 engineer"] == "engineer"
    assert rows["系统停止工作 fault stops the system"] == "是 yes"
    assert "state" not in rows and "events" not in rows and "transfers" not in rows


def test_span():
    assert fig.span(timedelta(minutes=5)) == "5m"
    assert fig.span(timedelta(hours=1, minutes=5)) == "1h05m"
    assert fig.span(timedelta(days=3, hours=4, minutes=59)) == "3d04h"


# --- who sees which page ---------------------------------------------------------------

SERVICE_KEYS = ("orders", "inspections", "visits", "complaints", "subscriptions")


@pytest.mark.parametrize(("username", "keys"), [
    ("analyst", {"orders"}),
    ("engineer", {"orders", "inspections", "visits"}),
    ("quality", {"orders", "inspections", "visits", "complaints"}),
    ("sup", set(SERVICE_KEYS)),
    ("duty", set(SERVICE_KEYS)),
    ("admin", set(SERVICE_KEYS)),
])
def test_service_pages_by_role(username, keys):
    allowed = {p.key for p in navigation.pages_for(REC_USERS[username])}
    assert allowed & set(SERVICE_KEYS) == keys


def test_calls():
    from pipeline.store.queries import QUERIES

    for key in ("orders", "visits", "complaints", "subscriptions"):
        module = __import__(f"dashboards.{key}_page", fromlist=["calls"])
        assert module.calls(None, NOW, "", "") == []
    ((name, params),) = inspections_page.calls((JS,), NOW, "", "")
    assert name == "station_list" and set(params) == set(QUERIES[name].params)
    assert params["regions"] == (JS,)


# --- the pages under AppTest ------------------------------------------------------------


@pytest.mark.parametrize("key", SERVICE_KEYS)
def test_every_page_draws_for_an_admin(page, key):
    at = _open("admin", key)
    assert records_widgets.PICK_HINT in texts(at)
    assert not at.error, [e.value for e in at.error]


def test_a_duty_operator_sees_every_regions_orders(page):
    at = _open("duty", "orders")
    tables = _tables(at)
    assert WO_A in tables and WO_B in tables
    assert "甲水务有限公司" in tables and "乙电力有限公司" in tables
    shown = {m.label: m.value for m in at.metric}
    # WO_A: response over due; WO_B: first contact due 11:15, none by 12:00
    assert shown["未关闭 Open"] == "2" and shown["超时未完成 Overdue now"] == "2"


def test_a_field_engineer_sees_only_his_region(page):
    at = _open("engineer", "orders")
    tables = _tables(at)
    assert WO_A in tables and WO_B not in tables and "乙电力" not in tables
    at = _open("engineer", "orders", WO_B)  # by address: not found
    assert records_widgets.NOT_FOUND in [e.value for e in at.error]
    assert "乙电力" not in _tables(at)
    at = _open("engineer", "orders", WO_A)
    tabs = [t.label for t in at.tabs]
    # contacted: respond, transfer, escalate, note offered; transfer is the desk's
    assert tabs == ["响应 respond", "升级 escalate", "日结记录 note"]
    assert "时限 SLA clocks" in texts(at)
    assert "🔴 已超时 over by 1h00m" in _tables(at)


def test_an_operator_notes_an_order_through_the_ledger(page, chdb):
    at = _open("duty", "orders", WO_A)
    assert "联系客户 contact" in _tables(at)
    key = records_widgets.widget_key(TYPES["orders"], WO_A, "note", "text")
    at.text_area(key=key).input("已电话联系，明早到场")
    at.button(key=f"FormSubmitter:rec_form_orders_{WO_A}_note-"
                  "提交 Submit · 日结记录 note").click().run()
    assert not at.exception, at.exception
    (change,) = RecordingLedger.changes
    assert (change.stream, change.record_id, change.kind, change.actor,
            change.expected_seq) == ("work_order", WO_A, "note", "duty", 3)
    assert change.payload == {"text": "已电话联系，明早到场"}
    assert f"日结记录 note {WO_A}: 已记录 appended as event 4" in [s.value for s in at.success]
    assert "已电话联系，明早到场" in _tables(at)  # the history shows it
    assert at.text_area(key=key).value == ""  # done: the form is empty again
    assert lq.last_seq(chdb, "work_order", WO_A) == 4


def test_a_stale_form_gets_the_conflict_and_keeps_the_text(page, chdb):
    at = _open("duty", "orders", WO_A)  # seq 3 shown
    # the engineer responds meanwhile
    RecordingLedger(chdb).submit(Change("other", "work_order", WO_A, "respond", "engineer",
                                        3, {}, "web", NOW))
    key = records_widgets.widget_key(TYPES["orders"], WO_A, "note", "text")
    at.text_area(key=key).input("stale note")
    at.button(key=f"FormSubmitter:rec_form_orders_{WO_A}_note-"
                  "提交 Submit · 日结记录 note").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("冲突 conflict" in e and "engineer" in e for e in errors), errors
    assert lq.last_seq(chdb, "work_order", WO_A) == 4  # the note was not appended
    assert at.text_area(key=key).value == "stale note"


def test_a_required_field_left_empty_is_not_sent(page):
    at = _open("duty", "orders", WO_A)
    at.button(key=f"FormSubmitter:rec_form_orders_{WO_A}_note-"
                  "提交 Submit · 日结记录 note").click().run()
    assert RecordingLedger.changes == []
    assert any("未提交 not sent" in e.value and "required" in e.value for e in at.error)


def test_a_phone_intake_opens_an_order(page, chdb):
    at = _open("duty", "orders")
    rt = TYPES["orders"]

    def k(name: str) -> str:
        return records_widgets.widget_key(rt, "", "open", name)

    assert at.selectbox(key=k("source")).options == ["电话 phone", "微信 WeChat"]
    at.selectbox(key=k("class")).set_value("technical_service")
    at.text_input(key=k("station")).input("MNC0003")
    at.text_input(key=k("organisation")).input("丁制药有限公司")
    at.text_input(key=k("region")).input(JS)
    at.text_input(key=k("caller")).input("赵工")
    at.text_input(key=k("contact")).input("137")
    at.text_area(key=k("reason")).input("数采仪离线")
    at.checkbox(key=k("stops_system")).check()
    at.button(key="FormSubmitter:rec_form_orders_new_open-提交 Submit · 开单 open").click()
    at.run()
    assert not at.exception, at.exception
    opened = RecordingLedger.changes[0]
    assert (opened.kind, opened.expected_seq, opened.actor) == ("open", 0, "duty")
    assert opened.payload == {"source": "phone", "class": "technical_service",
                              "station": "MNC0003", "organisation": "丁制药有限公司",
                              "region": JS, "caller": "赵工", "contact": "137",
                              "reason": "数采仪离线", "stops_system": True}
    assert re.fullmatch(r"WO-\d{8}-[0-9A-F]{6}", opened.record_id), opened.record_id
    assert at.query_params["record"] == opened.record_id
    assert any(opened.record_id in s.value and "已记录" in s.value for s in at.success)
    assert "丁制药有限公司" in _tables(at)


def test_an_engineer_cannot_record_outside_his_region_even_by_hand(page, chdb):
    # the page hides it; admin.records refuses it all the same (server side)
    from admin.records import Records

    recs = Records(RecordingLedger(chdb), NoClose(chdb), service_settings.load())  # type: ignore[arg-type]
    reply = recs.act(REC_USERS["engineer"], TYPES["orders"], WO_B, "note", 1,
                     {"text": "x"}, "web")
    assert reply.outcome == "refused" and JJ in reply.message
    assert RecordingLedger.changes == []


def test_other_pages_list_their_records(page):
    for key, rid, shown in (("complaints", "CP-20240509-000001", "丙化工有限公司"),
                            ("subscriptions", "丙化工有限公司", "HT-1"),
                            ("inspections", "IN-20240501-000001", "MNA0001"),
                            ("visits", "RV-WO-WO-OLD", "甲水务有限公司")):
        at = _open("admin", key, rid)
        tables = _tables(at)
        assert rid in tables and shown in tables, key
        assert "历史记录 History" in texts(at)


def test_a_visit_is_recorded_with_its_score(page, chdb):
    at = _open("quality", "visits", "RV-WO-WO-OLD")
    rt = TYPES["visits"]

    def k(name: str) -> str:
        return records_widgets.widget_key(rt, "RV-WO-WO-OLD", "record", name)

    at.selectbox(key=k("channel")).set_value("phone")
    at.text_input(key=k("contact")).input("张先生")
    at.number_input(key=k("satisfaction")).set_value(4)
    at.button(key="FormSubmitter:rec_form_visits_RV-WO-WO-OLD_record-"
                  "提交 Submit · 完成回访 record").click().run()
    assert not at.exception, at.exception
    (change,) = RecordingLedger.changes
    assert change.payload == {"channel": "phone", "contact": "张先生", "satisfaction": 4}
    assert [s.value for s in at.success], [e.value for e in at.error]


def test_an_engineer_sees_the_inspection_checklist_and_dues(page):
    at = _open("engineer", "inspections", "IN-20240501-000001")
    tables = _tables(at)
    assert "采样管路" in tables and "未检查 open" in tables
    assert "到期与逾期的巡检 Inspections due and overdue" in texts(at)


def test_a_missing_record_module_says_not_available(page, monkeypatch):
    broken = RecordType("complaints", "admin.no_such_records_module", "CP",
                        "投诉 complaints")
    monkeypatch.setitem(TYPES, "complaints", broken)  # type: ignore[arg-type]
    at = _open("admin", "complaints")
    assert records_widgets.not_available(broken) in [i.value for i in at.info]


def test_the_subscription_record_id_is_the_enterprise():
    from dashboards import subscriptions_page, visits_page

    assert subscriptions_page.PARTS.new_id is not None
    assert subscriptions_page.PARTS.new_id({"enterprise": " 戊公司 "}) == "戊公司"
    assert visits_page.PARTS.new_id is not None
    assert visits_page.PARTS.new_id({"reason": "contract", "contract_no": "HT-9",
                                     "period": 2}) == "RV-C-HT-9-2"
    assert date(2024, 5, 10) == NOW.date()



def test_history_labels_a_key_by_its_own_verbs_form():
    from admin import work_orders as wo
    from pipeline.ledger.model import Event

    forms = wo.FORMS
    at = datetime(2026, 12, 1, 9)
    events = [Event("work_order", "WO-1", 1, "r1", wo.CONTACT, "a", at, {"text": "电话已通"}),
              Event("work_order", "WO-1", 2, "r2", wo.NOTE, "a", at, {"text": "备件在途"})]
    rows = fig.history_rows(events, lambda k: k, fig.field_labels(forms), None,
                            fig.labels_by_kind(forms))
    assert rows[0]["detail"].startswith("联系情况 how")
    assert rows[1]["detail"].startswith("日结记录")
