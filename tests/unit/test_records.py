"""admin/records.py and the work orders' hooks on chDB with the real stream rules: who
may do what to which record, the audit of every attempt, a stale change refused as a
conflict, a phone intake routed to the region's roster, an escalation's notices, a duty
desk dispatch opening a real work order, and the service watch's SLA marks and planned
return visits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from admin import duty_actions as da
from admin import subscriptions as sub
from admin import visits as vi
from admin import work_orders as wo
from admin.accounts import Accounts
from admin.order_hooks import LedgerWorkOrders
from admin.records import TYPES, Records
from admin.roles import Role, User
from admin.service_settings import Rosters, load
from admin.service_watch import run_round
from pipeline.config import Settings
from pipeline.duty import lifecycle as lc
from pipeline.ledger import queries as lq
from pipeline.ledger.model import APPENDED, CONFLICT, REFUSED
from pipeline.timebase import unix_s_from_local
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.records_ledger import ChdbLedger

FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
T0 = datetime(2026, 12, 2, 9, 0, 0)
ORDERS = TYPES["orders"]


def user(name: str, *roles: Role, regions: tuple[str, ...] = ()) -> User:
    return User(name, name, frozenset(roles), frozenset(regions), True)


OPERATOR = user("zhang.wei", Role.DUTY_OPERATOR)
SUPERVISOR = user("wang.fang", Role.DUTY_SUPERVISOR)
ENG_SU = user("zhao.gang", Role.FIELD_ENGINEER, regions=("苏皖沪",))
ENG_SU2 = user("qian.bo", Role.FIELD_ENGINEER, regions=("苏皖沪",))
ENG_YN = user("liu.yang", Role.FIELD_ENGINEER, regions=("云贵川渝",))
ANALYST = user("sun.yu", Role.ANALYST)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def env() -> Iterator[tuple[ChdbClickHouse, ChdbLedger, Records, Clock]]:
    with ChdbClickHouse("hj212_records") as ch:
        migrate(ch)
        for table in ("stations", "users", "audit_log", "ledger_events", "alarms",
                      "completeness"):
            ch.execute(f"TRUNCATE TABLE {table}")
        t = unix_s_from_local(T0)
        for mn, region, ent in (("MN_SU_001", "苏皖沪", "苏州示例水务"),
                                ("MN_YN_001", "云贵川渝", "昆明示例化工")):
            ch.insert_columns("stations", {
                "mn": [mn], "pw": [""], "enterprise": [ent], "outlet": ["DA001"],
                "st": ["32"], "edition": [2017], "province": [""], "region": [region],
                "rtd_interval": [30], "min_interval": [10], "active": [1],
                "updated_at": [t], "version": [1]})
        accounts = Accounts(ch, Settings(), hasher=FAST)
        for u in (OPERATOR, SUPERVISOR, ENG_SU, ENG_SU2, ENG_YN, ANALYST):
            accounts.add("test", u.username, u.username, sorted(u.roles), sorted(u.regions),
                         "records test password", source="test")
        clock = Clock(T0)
        ledger = ChdbLedger(ch, clock)
        service = replace(load(), rosters=Rosters(fallback="wang.fang", regions={
            "苏皖沪": ("zhao.gang", "qian.bo")}))
        yield ch, ledger, Records(ledger, ch, service, clock=clock), clock


PHONE = {"source": "phone", "class": "technical_service", "caller": "王工",
         "contact": "13800000000", "station": "MN_SU_001", "reason": "数据不上传",
         "stops_system": True}


def audit_rows(ch: ChdbClickHouse, target: str) -> list[dict]:
    return ch.query_dicts("SELECT actor, action, detail FROM audit_log "
                          "WHERE target = %(t)s ORDER BY time_us", {"t": target})


def test_a_phone_intake_takes_the_stations_region_and_goes_to_the_roster(env):
    ch, _, records, _ = env
    rid, reply = records.create(OPERATOR, ORDERS, PHONE, "web")
    assert reply.outcome == APPENDED, reply.message
    s = records.get(ORDERS, rid)
    assert (s.region, s.organisation, s.state, s.engineer) == ("苏皖沪", "苏州示例水务",
                                                               wo.ASSIGNED, "zhao.gang")
    assert [e.kind for e in s.events] == [wo.OPEN, wo.ASSIGN]
    # the next one goes to the engineer with fewer open orders
    rid2, _ = records.create(OPERATOR, ORDERS, PHONE, "web")
    assert records.get(ORDERS, rid2).engineer == "qian.bo"
    # every attempt audited under the stream's verb
    assert [r["action"] for r in audit_rows(ch, rid)] == ["work_order_open",
                                                           "work_order_assign"]


def test_roles_and_regions_are_checked_on_the_server_and_audited(env):
    ch, ledger, records, _ = env
    rid, _ = records.create(OPERATOR, ORDERS, PHONE, "web")
    n = len(ledger.changes)
    r = records.act(ANALYST, ORDERS, rid, wo.NOTE, 2, {"text": "x"}, "web")
    assert r.outcome == REFUSED and "may not note" in r.message
    r = records.act(ENG_YN, ORDERS, rid, wo.CONTACT, 2, {}, "web")
    assert r.outcome == REFUSED and "云贵川渝" in r.message
    r = records.act(OPERATOR, ORDERS, rid, wo.SLA_MARK, 2,
                    {"clock": "first_contact", "due": "x", "level": "breach"}, "web")
    assert r.outcome == REFUSED and "system only" in r.message
    assert len(ledger.changes) == n  # nothing was sent for any of them
    denied = [json.loads(a["detail"])["outcome"] for a in audit_rows(ch, rid)[2:]]
    assert denied == ["denied", "denied", "denied"]
    # the region's engineer may
    assert records.act(ENG_SU, ORDERS, rid, wo.CONTACT, 2, {}, "web").ok
    # and engineers list only their region's orders
    records.create(OPERATOR, ORDERS, {**PHONE, "station": "MN_YN_001"}, "web")
    assert {s.region for s in records.all(ORDERS, ENG_SU)} == {"苏皖沪"}
    assert len(records.all(ORDERS, OPERATOR)) == 2


def test_a_stale_change_is_a_conflict_and_loses_nothing(env):
    _, _, records, _ = env
    rid, _ = records.create(OPERATOR, ORDERS, PHONE, "web")
    seen = records.get(ORDERS, rid).last_seq
    first = records.act(ENG_SU, ORDERS, rid, wo.NOTE, seen, {"text": "到场前电话沟通"}, "web")
    second = records.act(OPERATOR, ORDERS, rid, wo.NOTE, seen, {"text": "已通知企业"}, "web")
    assert first.ok and second.outcome == CONFLICT
    assert "zhao.gang" in second.message
    again = records.act(OPERATOR, ORDERS, rid, wo.NOTE, second.seq, {"text": "已通知企业"},
                        "web")
    assert again.ok
    notes = [n.text for n in records.get(ORDERS, rid).notes]
    assert notes == ["到场前电话沟通", "已通知企业"]


def test_an_escalation_tells_the_levels_receivers(env):
    _, _, records, _ = env
    rid, _ = records.create(OPERATOR, ORDERS, PHONE, "web")
    r = records.act(ENG_SU, ORDERS, rid, wo.ESCALATE, 2,
                    {"level": wo.QUALITY_ACCIDENT, "note": "同批次分析仪 12 台故障"}, "web")
    assert r.ok, r.message
    s = records.get(ORDERS, rid)
    notices = [e for e in s.events if e.kind == wo.NOTIFY]
    want = records.service.escalation[wo.QUALITY_ACCIDENT].receivers
    assert [e.payload["receiver"] for e in notices] == list(want) and want
    assert "60 分钟" in notices[0].payload["text"]
    assert notices[0].payload["station"] == "MN_SU_001"
    # escalation only goes up
    r = records.act(ENG_SU, ORDERS, rid, wo.ESCALATE, s.last_seq,
                    {"level": wo.MAJOR_FAULT, "note": "x"}, "web")
    assert r.outcome == REFUSED


def test_a_duty_desk_dispatch_opens_a_work_order_routed_by_the_roster(env):
    ch, ledger, records, _ = env
    aid = "MN_SU_001//offline/20261202090000"
    t = unix_s_from_local(T0)
    ch.insert_columns("alarms", {
        "alarm_id": [aid], "mn": ["MN_SU_001"], "cn": [2051], "code": [""],
        "rule": ["offline"], "severity": ["critical"], "state": ["open"],
        "opened_at": [t], "last_seen": [t], "cleared_at": [None], "occurrences": [1],
        "value": [0.0], "threshold": [float("nan")], "message": ["站点离线"],
        "evidence": ["{}"], "version": [1]})
    orders = LedgerWorkOrders(records)
    assert da.perform(ledger, ch, OPERATOR, aid, lc.ACK, 0, {}, "web").ok
    r = da.perform(ledger, ch, OPERATOR, aid, lc.DISPATCH, 1, {"text": "请到场"}, "web",
                   work_orders=orders)
    assert r.ok, r.message
    dispatch = lq.history(ch, lc.STREAM, aid)[-1].payload
    s = records.get(ORDERS, dispatch["work_order_id"])
    assert s.opened and s.alarm_id == aid and s.source == "alarm"
    assert s.stops_system  # offline stops the system: the 1 h and 3 h clocks run
    assert dispatch["engineer"] == s.engineer == "zhao.gang"


def test_the_watch_records_each_breach_once_with_its_notice(env):
    _, _, records, clock = env
    rid, _ = records.create(OPERATOR, ORDERS, PHONE, "web")
    clock.at = T0 + timedelta(minutes=13)  # first contact: 80 % of 15 min gone
    assert run_round(records, clock.at).made == {"sla_warning": 1}
    clock.at = T0 + timedelta(minutes=20)
    made = run_round(records, clock.at).made
    assert made == {"sla_breach": 1}
    again = run_round(records, clock.at)
    assert again.made == {} and again.refused == 0
    s = records.get(ORDERS, rid)
    assert s.sla_marks == (("first_contact", "2026-12-02 09:15:00", "warning"),
                           ("first_contact", "2026-12-02 09:15:00", "breach"))
    notices = [e.payload["receiver"] for e in s.events if e.kind == wo.NOTIFY]
    assert notices == list(records.service.sla_notify) * 2


def test_a_closed_work_order_gets_its_return_visit_planned(env):
    _, _, records, clock = env
    rid, _ = records.create(OPERATOR, ORDERS, {**PHONE, "stops_system": False}, "web")
    steps = [(ENG_SU, wo.CONTACT, {}), (ENG_SU, wo.RESPOND, {}),
             (ENG_SU, wo.RESOLVE, {"cause": "c", "action": "a", "result": "r"}),
             (OPERATOR, wo.VERIFY, {"verification": "小时数据已恢复"}),
             (OPERATOR, wo.CLOSE, {})]
    for who, kind, payload in steps:
        seq = records.get(ORDERS, rid).last_seq
        assert records.act(who, ORDERS, rid, kind, seq, payload, "web").ok, kind
    clock.at = T0 + timedelta(hours=1)
    assert run_round(records, clock.at).made.get("visit_planned") == 1
    v = records.get(TYPES["visits"], vi.visit_record_id(vi.WORK_ORDER, rid))
    assert v.state == vi.PLANNED and v.due == date(2026, 12, 9) and v.engineer == "zhao.gang"
    assert run_round(records, clock.at).made.get("visit_planned") is None


def test_opening_a_subscription_carries_the_systems_stability_figures(env):
    ch, _, records, clock = env
    subs = TYPES["subscriptions"]
    ent = "苏州示例水务"
    reg = {"enterprise": ent, "region": "苏皖沪", "stations": ["MN_SU_001"],
           "contract_no": "HT-2026-001", "start": "2026-12-01", "end": "2027-11-30", "trial": False}
    _, r = records.create(OPERATOR, subs, reg, "web", record_id=ent)
    assert r.ok, r.message
    r = records.act(SUPERVISOR, subs, ent, sub.REVIEW, 1,
                    {"result": "passed", "reviewer": "法务 李律师", "note": "合同已签"}, "web")
    assert r.ok, r.message
    # 7 days of daily completeness: one day at 50 % keeps the service closed
    version = 1
    for k in range(1, 8):
        day = T0.replace(hour=0) - timedelta(days=k)
        valid = 12 if k == 3 else 24
        ch.insert_columns("completeness", {
            "mn": ["MN_SU_001"], "code": [""], "period": ["day"],
            "period_start": [unix_s_from_local(day)], "expected": [24], "received": [24],
            "valid": [valid], "transmission_rate": [1.0], "validity_rate": [valid / 24],
            "transmission_efficiency": [valid / 24], "updated_at": [unix_s_from_local(T0)],
            "version": [version]})
    forged = {"stability": {"ok": True, "threshold": 0.0, "days": []}}
    r = records.act(SUPERVISOR, subs, ent, sub.OPEN, 2, forged, "web")
    assert r.outcome == REFUSED, r.message
    sent = [c for c in records.ledger.changes if c.kind == sub.OPEN][-1]  # type: ignore[attr-defined]
    evidence = sent.payload["stability"]
    assert evidence["ok"] is False and evidence["threshold"] == 0.9
    low = [d for d in evidence["days"] if d["efficiency"] < 0.9]
    assert low == [{"day": "2026-11-29", "efficiency": 0.5}]
    # the day is re-counted at 100 %: now it opens
    ch.insert_columns("completeness", {
        "mn": ["MN_SU_001"], "code": [""], "period": ["day"],
        "period_start": [unix_s_from_local(datetime(2026, 11, 29))], "expected": [24],
        "received": [24], "valid": [24], "transmission_rate": [1.0], "validity_rate": [1.0],
        "transmission_efficiency": [1.0], "updated_at": [unix_s_from_local(T0)],
        "version": [2]})
    r = records.act(SUPERVISOR, subs, ent, sub.OPEN, 2, {}, "web")
    assert r.ok, r.message
    from admin.subscription_hooks import subscribed_enterprises

    assert subscribed_enterprises(ch, T0.date()) == frozenset({ent})
    clock.at = datetime(2027, 10, 31, 9)  # 30 days before the end: a renewal reminder
    assert run_round(records, clock.at).made.get("renewal_reminder") == 1
    assert run_round(records, clock.at).made.get("renewal_reminder") is None


def test_a_problem_finding_followed_up_opens_a_work_order(env):
    from admin import inspections as ins

    _, _, records, _ = env
    insp = TYPES["inspections"]
    plan = {"kind": "site", "region": "苏皖沪", "station": "MN_SU_001",
            "enterprise": "苏州示例水务", "template": "site",
            "items": ["采样管路 sampling line", "数采仪时钟 logger clock"],
            "due": "2026-12-05", "inspector": "zhao.gang"}
    rid, r = records.create(OPERATOR, insp, plan, "web")
    assert r.ok, r.message
    steps = [(ins.START, {}),
             (ins.RECORD, {"item": "采样管路 sampling line", "result": "problem",
                           "note": "管路结露"}),
             (ins.RECORD, {"item": "数采仪时钟 logger clock", "result": "ok", "note": ""}),
             (ins.COMPLETE, {"summary": "一项问题"})]
    for kind, payload in steps:
        seq = records.get(insp, rid).last_seq
        assert records.act(ENG_SU, insp, rid, kind, seq, payload, "web").ok, kind
    seq = records.get(insp, rid).last_seq
    # the engineer may follow up a site inspection but not open the work order
    r = records.act(ENG_SU, insp, rid, ins.FOLLOW_UP, seq,
                    {"item": "采样管路 sampling line"}, "web")
    assert r.outcome == REFUSED and "may not open work orders" in r.message
    r = records.act(OPERATOR, insp, rid, ins.FOLLOW_UP, seq,
                    {"item": "采样管路 sampling line"}, "web")
    assert r.ok, r.message
    link = records.get(insp, rid).follow_ups[0]
    order = records.get(ORDERS, link.work_order_id)
    assert order.source == "inspection" and order.station == "MN_SU_001"
    assert "管路结露" in order.reason and order.engineer == "zhao.gang"
