"""admin/work_orders.py: the work-order rule, the derived state and the SLA clocks, with
fixed times (naive CST)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from admin import work_orders as wo
from pipeline.ledger.model import Change
from tests.unit.rule_log import RuleLog

T0 = datetime(2026, 12, 2, 9, 0)
WO = "WO-20261202-0001"

OPEN_ALARM: dict[str, Any] = {
    "source": "alarm", "alarm_id": "MN_SU_001//offline/20261202080000",
    "organisation": "苏州某化工", "station": "MN_SU_001", "reason": "站点离线",
    "class": "technical_service", "region": "苏皖沪", "stops_system": True,
}
OPEN_PHONE: dict[str, Any] = {
    "source": "phone", "caller": "王工", "contact": "13800000000",
    "organisation": "昆明某电厂", "station": "MN_YN_001", "reason": "数据补传不上",
    "class": "technical_service", "region": "云贵川渝",
}
RESOLVE_OK = {"cause": "DTU 断电", "action": "更换电源", "result": "数据恢复",
              "report": "report-0001.pdf"}


def change(kind: str, payload: Mapping[str, Any] | None = None, seq: int = 0,
           actor: str = "duty1") -> Change:
    return Change(request_id=f"r{seq}{kind}", stream=wo.STREAM, record_id=WO, kind=kind,
                  actor=actor, expected_seq=seq, payload=dict(payload or {}))


class Log(RuleLog):
    """Applies the rule as the ledger writer does, and appends (tests/unit/rule_log.py)."""

    def __init__(self) -> None:
        super().__init__(wo, WO, at=T0, actor="duty1")


def full_flow() -> Log:
    log = Log()
    log.do(wo.OPEN, OPEN_ALARM, at=T0)
    log.do(wo.ASSIGN, {"engineer": "li"}, at=T0 + timedelta(minutes=2))
    log.do(wo.CONTACT, at=T0 + timedelta(minutes=10), actor="li")
    log.do(wo.RESPOND, at=T0 + timedelta(minutes=40), actor="li")
    log.do(wo.ARRIVE, at=T0 + timedelta(hours=2), actor="li")
    log.do(wo.RESOLVE, RESOLVE_OK, at=T0 + timedelta(hours=4), actor="li")
    log.do(wo.VERIFY, {"verification": "10:42 数据恢复"}, at=T0 + timedelta(hours=5))
    log.do(wo.CLOSE, at=T0 + timedelta(hours=6))
    return log


# --- derived state ----------------------------------------------------------------------


def test_full_flow_derives_each_step():
    s = full_flow().state()
    assert s.work_order_id == WO
    assert s.state == wo.CLOSED
    assert s.source == "alarm" and s.station == "MN_SU_001" and s.region == "苏皖沪"
    assert s.order_class == "technical_service" and s.stops_system
    assert s.engineer == "li"
    assert s.opened_at == T0
    assert s.contacted_at == T0 + timedelta(minutes=10)
    assert s.responded_at == T0 + timedelta(minutes=40)
    assert s.arrived_at == T0 + timedelta(hours=2)
    assert s.resolved_at == T0 + timedelta(hours=4)
    assert (s.cause, s.action, s.result, s.report) == ("DTU 断电", "更换电源", "数据恢复",
                                                       "report-0001.pdf")
    assert s.verified_at == T0 + timedelta(hours=5)
    assert s.closed_at == T0 + timedelta(hours=6) and s.closed_by == "duty1"
    assert s.last_seq == 8
    assert s.escalation == wo.ORDINARY


def test_derive_orders_by_seq():
    log = full_flow()
    assert wo.derive(list(reversed(log.events))) == log.state()


def test_transfer_keeps_history_and_escalation_goes_up():
    log = Log()
    log.do(wo.OPEN, OPEN_PHONE, at=T0)
    log.do(wo.ASSIGN, {"engineer": "li"}, at=T0)
    log.do(wo.TRANSFER, {"from": "li", "to": "zhao", "reason": "li 休假"}, at=T0)
    log.do(wo.ESCALATE, {"level": wo.TECHNICAL_BLOCK, "note": "需技术对接组"}, at=T0)
    log.do(wo.ESCALATE, {"level": wo.QUALITY_ACCIDENT, "note": "批量问题"}, at=T0)
    s = log.state()
    assert s.engineer == "zhao"
    assert [(t.from_engineer, t.to_engineer, t.reason) for t in s.transfers] == [
        ("li", "zhao", "li 休假")]
    assert s.escalation == wo.QUALITY_ACCIDENT
    assert [e.level for e in s.escalations] == [wo.TECHNICAL_BLOCK, wo.QUALITY_ACCIDENT]
    assert "只能向上升级" in log.refused(wo.ESCALATE, {"level": wo.MAJOR_FAULT, "note": "x"})
    assert s.state == wo.ASSIGNED


def test_reopen_returns_to_work_and_keeps_first_times():
    log = full_flow()
    log.do(wo.REOPEN, {"reason": "数据又断了"}, at=T0 + timedelta(days=1))
    s = log.state()
    assert s.state == wo.ON_SITE  # the engineer had been on site
    assert s.resolved_at is None and s.verified_at is None and s.closed_at is None
    assert s.cause == "" and s.report == ""
    assert s.contacted_at == T0 + timedelta(minutes=10)
    assert [r.text for r in s.reopens] == ["数据又断了"]
    log.do(wo.RESOLVE, RESOLVE_OK, at=T0 + timedelta(days=1, hours=1), actor="li")
    assert log.state().state == wo.RESOLVED


def test_remote_fix_skips_site_and_needs_no_report():
    log = Log()
    log.do(wo.OPEN, OPEN_PHONE, at=T0)
    log.do(wo.ASSIGN, {"engineer": "li"}, at=T0)
    log.do(wo.CONTACT, at=T0)
    log.do(wo.RESPOND, at=T0)
    log.do(wo.RESOLVE, {"cause": "参数", "action": "远程修改", "result": "恢复"}, at=T0)
    log.do(wo.REOPEN, {"reason": "again"}, at=T0)
    assert log.state().state == wo.RESPONDED


# --- refusals ---------------------------------------------------------------------------


def test_open_refusals():
    log = Log()
    assert "未开立" in log.refused(wo.ASSIGN, {"engineer": "li"})
    assert "来源" in log.refused(wo.OPEN, {**OPEN_ALARM, "source": "fax"})
    assert "alarm_id" in log.refused(wo.OPEN, {**OPEN_ALARM, "alarm_id": ""})
    assert "caller" in log.refused(wo.OPEN, {**OPEN_PHONE, "caller": " "})
    assert "contact" in log.refused(wo.OPEN, {**OPEN_PHONE, "contact": ""})
    assert "station" in log.refused(wo.OPEN, {**OPEN_PHONE, "station": ""})
    assert "region" in log.refused(wo.OPEN, {**OPEN_PHONE, "region": ""})
    assert "class" in log.refused(wo.OPEN, {**OPEN_PHONE, "class": "gossip"})
    assert "stops_system" in log.refused(wo.OPEN, {**OPEN_PHONE, "stops_system": "yes"})
    assert "unknown work-order action" in log.refused("delete")
    assert wo.check([], change(wo.OPEN, OPEN_PHONE, actor=" ")) is not None
    log.do(wo.OPEN, OPEN_PHONE, at=T0)
    assert "already open" in log.refused(wo.OPEN, OPEN_PHONE)


@pytest.mark.parametrize(("kind", "payload"), [
    (wo.CONTACT, None), (wo.RESPOND, None), (wo.ARRIVE, None),
    (wo.RESOLVE, RESOLVE_OK), (wo.VERIFY, {"verification": "ok"}), (wo.CLOSE, None),
    (wo.REOPEN, {"reason": "x"}), (wo.TRANSFER, {"from": "", "to": "li", "reason": "x"}),
])
def test_steps_refused_out_of_order_on_a_new_order(kind, payload):
    log = Log()
    log.do(wo.OPEN, OPEN_ALARM, at=T0)
    assert "工单状态为 new" in log.refused(kind, payload)


def test_step_requirements():
    log = Log()
    log.do(wo.OPEN, OPEN_ALARM, at=T0)
    assert "engineer" in log.refused(wo.ASSIGN, {"engineer": ""})
    log.do(wo.ASSIGN, {"engineer": "li"}, at=T0)
    assert "transfer it instead" in log.refused(wo.ASSIGN, {"engineer": "zhao"})
    assert "not 'wang'" in log.refused(wo.TRANSFER, {"from": "wang", "to": "zhao",
                                                     "reason": "x"})
    assert "reason" in log.refused(wo.TRANSFER, {"from": "li", "to": "zhao"})
    assert "already with li" in log.refused(wo.TRANSFER, {"from": "li", "to": "li",
                                                          "reason": "x"})
    assert "empty note" in log.refused(wo.NOTE, {"text": " "})
    assert "unknown" in log.refused(wo.ESCALATE, {"level": "apocalypse", "note": "x"})
    assert "note" in log.refused(wo.ESCALATE, {"level": wo.MAJOR_FAULT})
    assert "过长" in log.refused(wo.NOTE, {"text": "x" * (wo.MAX_TEXT + 1)})
    log.do(wo.CONTACT, at=T0)
    log.do(wo.RESPOND, at=T0)
    log.do(wo.ARRIVE, at=T0)
    assert "cause" in log.refused(wo.RESOLVE, {**RESOLVE_OK, "cause": ""})
    assert "signed service report" in log.refused(wo.RESOLVE, {**RESOLVE_OK, "report": ""})
    assert "verified back" in log.refused(wo.CLOSE)
    log.do(wo.RESOLVE, RESOLVE_OK, at=T0)
    assert "on_site" not in log.refused(wo.TRANSFER, {"from": "li", "to": "zhao",
                                                       "reason": "x"})
    assert "verification" in log.refused(wo.VERIFY, {})
    assert "reason" in log.refused(wo.REOPEN, {})


def test_closed_order_refuses_all_but_reopen():
    log = full_flow()
    for kind, payload in [(wo.NOTE, {"text": "x"}), (wo.ESCALATE, {"level": wo.MAJOR_FAULT,
                                                                   "note": "x"}),
                          (wo.CLOSE, None)]:
        assert "关闭" in log.refused(kind, payload)
    assert wo.check(log.events, change(wo.REOPEN, {"reason": "x"}, 8)) is None


# --- SLA --------------------------------------------------------------------------------


def clocks(log: Log, now: datetime, limits: wo.SlaLimits | None = None) -> dict[str, wo.Clock]:
    out: dict[str, wo.Clock] = {}
    for c in wo.sla(log.state(), now, limits):
        out.setdefault(c.name, c)
    return out


def test_sla_all_met_in_time():
    log = full_flow()
    cs = wo.sla(log.state(), T0 + timedelta(hours=7))
    by = {c.name: c for c in cs}
    assert set(by) == {wo.FIRST_CONTACT, wo.RESPONSE, wo.ON_SITE_CLOCK, wo.DAILY_NOTE}
    assert by[wo.FIRST_CONTACT].due_at == T0 + timedelta(minutes=15)
    assert by[wo.FIRST_CONTACT].met_at == T0 + timedelta(minutes=10)
    assert by[wo.RESPONSE].due_at == T0 + timedelta(hours=1)
    assert by[wo.ON_SITE_CLOCK].due_at == T0 + timedelta(hours=3)
    assert by[wo.DAILY_NOTE].met_at == T0 + timedelta(hours=4)  # the resolve that day
    assert not any(c.breached or c.warn for c in cs)


def test_sla_warning_then_breach_of_first_contact():
    log = Log()
    log.do(wo.OPEN, OPEN_ALARM, at=T0)
    log.do(wo.ASSIGN, {"engineer": "li"}, at=T0)
    early = clocks(log, T0 + timedelta(minutes=11))[wo.FIRST_CONTACT]
    assert not early.warn and not early.breached
    warn = clocks(log, T0 + timedelta(minutes=12))[wo.FIRST_CONTACT]  # 80% of 15 min
    assert warn.warn and not warn.breached and warn.met_at is None
    late = clocks(log, T0 + timedelta(minutes=16))[wo.FIRST_CONTACT]
    assert late.breached and not late.warn
    # contact after the due time: a record of the breach stays
    log.do(wo.CONTACT, at=T0 + timedelta(minutes=20), actor="li")
    done = clocks(log, T0 + timedelta(minutes=21))[wo.FIRST_CONTACT]
    assert done.breached and done.met_at == T0 + timedelta(minutes=20)


def test_sla_response_and_on_site_breaches_for_stops_system():
    log = Log()
    log.do(wo.OPEN, OPEN_ALARM, at=T0)
    log.do(wo.ASSIGN, {"engineer": "li"}, at=T0)
    log.do(wo.CONTACT, at=T0 + timedelta(minutes=5))
    log.do(wo.RESPOND, at=T0 + timedelta(minutes=70))
    cs = clocks(log, T0 + timedelta(hours=2, minutes=30))
    assert cs[wo.RESPONSE].breached
    assert cs[wo.ON_SITE_CLOCK].warn and not cs[wo.ON_SITE_CLOCK].breached
    assert clocks(log, T0 + timedelta(hours=3, minutes=1))[wo.ON_SITE_CLOCK].breached
    log.do(wo.ARRIVE, at=T0 + timedelta(hours=3, minutes=30))
    on_site = clocks(log, T0 + timedelta(hours=4))[wo.ON_SITE_CLOCK]
    assert on_site.breached and on_site.met_at == T0 + timedelta(hours=3, minutes=30)


def test_sla_no_response_or_site_clock_for_ordinary_fault():
    log = Log()
    log.do(wo.OPEN, OPEN_PHONE, at=T0)
    names = {c.name for c in wo.sla(log.state(), T0 + timedelta(hours=5))}
    assert names == {wo.FIRST_CONTACT, wo.DAILY_NOTE}


def test_sla_limits_are_configurable():
    log = Log()
    log.do(wo.OPEN, OPEN_PHONE, at=T0)
    lim = wo.SlaLimits(first_contact=timedelta(minutes=30), warn_fraction=0.5)
    c = clocks(log, T0 + timedelta(minutes=16), lim)[wo.FIRST_CONTACT]
    assert c.due_at == T0 + timedelta(minutes=30) and c.warn and not c.breached


def test_sla_daily_note_each_open_day():
    log = Log()
    log.do(wo.OPEN, OPEN_PHONE, at=T0)
    log.do(wo.NOTE, {"text": "联系厂家"}, at=T0 + timedelta(hours=8))
    now = datetime(2026, 12, 4, 20, 0)  # day 3, 20:00
    daily = [c for c in wo.sla(log.state(), now) if c.name == wo.DAILY_NOTE]
    assert [c.due_at for c in daily] == [datetime(2026, 12, 3), datetime(2026, 12, 4),
                                         datetime(2026, 12, 5)]
    assert not daily[0].breached and daily[0].met_at == T0 + timedelta(hours=8)
    assert daily[1].breached and daily[1].met_at is None
    assert daily[2].warn and not daily[2].breached  # 20 of 24 hours gone


def test_sla_weekly_entry_for_jobs_open_over_a_week():
    log = Log()
    log.do(wo.OPEN, OPEN_PHONE, at=T0)
    log.do(wo.NOTE, {"text": "等备件"}, at=T0 + timedelta(days=8))
    assert not [c for c in wo.sla(log.state(), T0 + timedelta(days=6))
                if c.name == wo.WEEKLY_ENTRY]
    weekly = [c for c in wo.sla(log.state(), T0 + timedelta(days=15))
              if c.name == wo.WEEKLY_ENTRY]
    assert [(c.started_at, c.due_at) for c in weekly] == [
        (T0 + timedelta(days=7), T0 + timedelta(days=14)),
        (T0 + timedelta(days=14), T0 + timedelta(days=21))]
    assert weekly[0].met_at == T0 + timedelta(days=8) and not weekly[0].breached
    assert weekly[1].met_at is None and not weekly[1].breached and not weekly[1].warn
    late = [c for c in wo.sla(log.state(), T0 + timedelta(days=22))
            if c.name == wo.WEEKLY_ENTRY]
    assert late[1].breached


def test_sla_no_daily_clock_while_closed():
    log = full_flow()
    later = [c for c in wo.sla(log.state(), T0 + timedelta(days=3))
             if c.name == wo.DAILY_NOTE]
    assert len(later) == 1 and not later[0].breached


def test_sla_same_answer_for_any_event_order():
    log = full_flow()
    now = T0 + timedelta(days=2)
    assert wo.sla(wo.derive(list(reversed(log.events))), now) == wo.sla(log.state(), now)


def test_sla_of_unopened_order_is_empty():
    assert wo.sla(wo.derive([]), T0) == []


def test_an_escalation_owes_its_written_report_on_time():
    log = Log()
    log.do(wo.OPEN, OPEN_ALARM, at=T0)
    log.do(wo.ESCALATE, {"level": wo.QUALITY_ACCIDENT, "note": "12 台同批次分析仪故障"},
           at=T0 + timedelta(minutes=10))
    due = T0 + timedelta(minutes=70)  # within 1 hour of the escalation
    clocks = {c.name: c for c in wo.sla(log.state(), T0 + timedelta(minutes=65))}
    report = clocks[wo.REPORT_CLOCK]
    assert (report.due_at, report.met_at, report.warn) == (due, None, True)
    assert wo.REPORT in wo.next_kinds(log.state())
    assert "empty report" in log.refused(wo.REPORT, {"text": " "})
    log.do(wo.REPORT, {"text": "原因：固件缺陷；措施：批量升级"}, at=T0 + timedelta(minutes=75),
           actor="qa1")
    late = {c.name: c for c in wo.sla(log.state(), T0 + timedelta(hours=3))}[wo.REPORT_CLOCK]
    assert late.met_at == T0 + timedelta(minutes=75) and late.breached
    # a technical block owes no report
    other = Log()
    other.do(wo.OPEN, OPEN_ALARM, at=T0)
    other.do(wo.ESCALATE, {"level": wo.TECHNICAL_BLOCK, "note": "远程协助"}, at=T0)
    assert wo.REPORT_CLOCK not in {c.name for c in wo.sla(other.state(), T0)}
