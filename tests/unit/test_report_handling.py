"""The weekly report's handling sentences (dashboards/report/handling.py): ledger rows of
``report_actions`` to one Chinese sentence each, in time order per alarm, and in the
report's anomaly table after the episode's own actions. Expected sentences are written
here by hand from the rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.report import handling
from dashboards.report.data import HANDLING_SOURCES, build_reports, fetch_rows
from dashboards.report.html import render_html
from dashboards.report.week import parse_week
from pipeline.store import queries
from pipeline.timebase import unix_s_from_local
from tests.unit import test_report_model as model
from tests.unit import test_report_queries as seed
from tests.unit.chdb_client import ChdbClickHouse, migrate

WEEK = parse_week("2026-W48")
MON = WEEK.start  # 2026-11-23, a Monday


def ms(when: datetime, extra: int = 0) -> int:
    return unix_s_from_local(when) * 1000 + extra


def row(alarm_id: str, stream: str, record_id: str, seq: int, kind: str, at: datetime,
        actor: str = "zhang.wei", actor_name: str = "张伟", extra_ms: int = 0,
        **payload: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "alarm_id": alarm_id, "stream": stream, "record_id": record_id, "seq": seq,
        "kind": kind, "actor": actor, "actor_name": actor_name, "at": at,
        "at_ms": ms(at, extra_ms), "engineer_name": ""}
    for key in ("channel", "receiver", "recipient", "work_order_id", "engineer",
                "verification", "cause", "action_taken", "result"):
        out[key] = payload.get(key, "")
    out.update({k: v for k, v in payload.items() if k == "engineer_name"})
    return out


def at(day: int, h: int, m: int) -> datetime:
    return MON + timedelta(days=day, hours=h, minutes=m)


A = "A1/w01018/over_limit/20261123050000"
WO = "WO-20261123-001"

#: one alarm's story, each row with the sentence a reader should see
STORY: list[tuple[dict[str, Any], str, str]] = [
    (row(A, "alarm", A, 1, "ack", at(0, 5, 4)), "acknowledged", "值守员 张伟 11-23 05:04 确认告警"),
    (row(A, "alarm", A, 2, "notify", at(0, 5, 10), channel="phone", recipient="王工",
         receiver="甲化工群"),
     "notified", "11-23 05:10 电话通知企业（王工）"),
    (row(A, "alarm", A, 3, "dispatch", at(0, 5, 15), work_order_id=WO, engineer="li.na",
         engineer_name="李娜"),
     "work_order", "11-23 05:15 派单 WO-20261123-001 给 李娜"),
    (row(A, "work_order", WO, 3, "arrive", at(0, 7, 2), actor="li.na", actor_name="李娜"),
     "work_order", "工程师 李娜 11-23 07:02 到场"),
    (row(A, "work_order", WO, 4, "resolve", at(0, 9, 30), actor="li.na", actor_name="李娜",
         cause="采样管堵塞", action_taken="疏通采样管并校准", result="数据恢复正常"),
     "work_order",
     "11-23 09:30 处理完成，原因：采样管堵塞；措施：疏通采样管并校准；结果：数据恢复正常"),
    (row(A, "alarm", A, 4, "resolve", at(0, 10, 5), verification="小时均值回到限值内"),
     "resolved", "11-23 10:05 值守确认数据恢复：小时均值回到限值内"),
    (row(A, "alarm", A, 5, "close", at(0, 10, 10)), "closed", "11-23 10:10 确认数据恢复后关闭"),
    (row(A, "work_order", WO, 6, "close", at(0, 10, 20)), "work_order",
     "11-23 10:20 工单 WO-20261123-001 关闭"),
]


def test_each_event_reads_as_its_sentence():
    got = handling.actions_of([r for r, _, _ in STORY])
    assert list(got) == [A]
    assert [(a.kind, a.text) for a in got[A]] == [(k, t) for _, k, t in STORY]
    assert [a.at for a in got[A]] == [r["at"] for r, _, _ in STORY]


def test_time_order_whatever_the_rows_order_and_same_millisecond_by_append():
    # the dispatch and the order's first step in one millisecond: the alarm's first
    dispatch = row(A, "alarm", A, 3, "dispatch", at(1, 8, 0), work_order_id=WO,
                   engineer="li.na", extra_ms=500)
    arrive = row(A, "work_order", WO, 3, "arrive", at(1, 8, 0), actor="li.na",
                 actor_name="李娜", extra_ms=500)
    early = row(A, "alarm", A, 1, "ack", at(1, 8, 0), extra_ms=499)
    later = row(A, "work_order", WO, 4, "close", at(1, 8, 0), extra_ms=501)
    got = handling.actions_of([later, arrive, dispatch, early])[A]
    assert [a.text for a in got] == ["值守员 张伟 11-24 08:00 确认告警",
                                     "11-24 08:00 派单 WO-20261123-001 给 li.na",
                                     "工程师 李娜 11-24 08:00 到场",
                                     "11-24 08:00 工单 WO-20261123-001 关闭"]


def test_names_channels_and_missing_fields():
    rows = [
        # an operator without a display name: the user name
        row("x", "alarm", "x", 1, "ack", at(2, 9, 0), actor="wang.wu", actor_name=""),
        # the notifier service through a group robot: the receiver, no recipient
        row("x", "alarm", "x", 2, "notify", at(2, 9, 1), actor="system:notify",
            actor_name="", channel="wecom", receiver="甲化工环保群"),
        row("x", "alarm", "x", 3, "notify", at(2, 9, 2), channel="sms"),
        row("x", "alarm", "x", 4, "resolve", at(2, 9, 3)),
        row("x", "work_order", "W", 2, "resolve", at(2, 9, 4), cause="数采仪断电",
            result="已恢复上传"),
        row("x", "work_order", "W", 3, "resolve", at(2, 9, 5)),
        # verbs the report does not tell
        row("x", "alarm", "x", 5, "comment", at(2, 9, 6)),
        row("x", "work_order", "W", 4, "verify", at(2, 9, 7)),
        row("x", "alarm", "x", 6, "ack", at(2, 9, 8), actor="system:auto", actor_name=""),
    ]
    assert [a.text for a in handling.actions_of(rows)["x"]] == [
        "值守员 wang.wu 11-25 09:00 确认告警",
        "11-25 09:01 企业微信通知企业（甲化工环保群）",
        "11-25 09:02 短信通知企业",
        "11-25 09:03 值守确认数据恢复",
        "11-25 09:04 处理完成，原因：数采仪断电；结果：已恢复上传",
        "11-25 09:05 处理完成",
        "平台 11-25 09:08 确认告警",
    ]


def test_long_free_text_is_cut_to_one_short_line():
    cause = "探头\n污染" + "很" * 40
    got = handling.actions_of([row("x", "work_order", "W", 1, "resolve", at(0, 1, 0),
                                   cause=cause)])["x"][0].text
    reason = got.split("原因：")[1]
    assert len(reason) == handling.MAX_FREE_TEXT and reason.endswith("…")
    assert reason.startswith("探头 污染很") and "\n" not in got


@st.composite
def shuffled_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    kinds = [("alarm", k) for k in ("ack", "notify", "dispatch", "resolve", "close",
                                    "comment")] + [("work_order", k) for k in
                                                   ("arrive", "resolve", "close", "note")]
    n = draw(st.integers(0, 25))
    out = []
    for i in range(n):
        stream, kind = draw(st.sampled_from(kinds))
        alarm = draw(st.sampled_from(["a", "b", "c"]))
        when = MON + timedelta(seconds=draw(st.integers(0, 7 * 86400 - 1)))
        out.append(row(alarm, stream, alarm if stream == "alarm" else f"WO-{alarm}", i,
                       kind, when, extra_ms=draw(st.integers(0, 999))))
    return draw(st.permutations(out))


@given(shuffled_rows())
def test_every_told_event_once_in_time_order(rows):
    got = handling.actions_of(rows)
    told = [r for r in rows if (r["stream"], r["kind"]) in handling.KINDS]
    assert sum(len(v) for v in got.values()) == len(told)
    for alarm, actions in got.items():
        mine = sorted((r for r in told if r["alarm_id"] == alarm), key=lambda r: r["at_ms"])
        assert [a.at for a in actions] == [r["at"] for r in mine]


def test_the_source_asks_the_query_with_the_week_and_scope():
    calls: list[tuple[str, dict[str, Any]]] = []

    def run(name: str, **params: Any) -> list[dict[str, Any]]:
        calls.append((name, params))
        return [STORY[0][0]]

    scope = {"enterprise": "甲", "all_regions": 0, "regions": ("苏皖沪",)}
    got = handling.report_actions(run, WEEK, scope)
    assert calls == [("report_actions", {"start": MON, "end": MON + timedelta(days=7),
                                         "enterprise": "甲", "all_regions": 0,
                                         "regions": ("苏皖沪",)})]
    assert [a.text for a in got[A]] == [STORY[0][2]]
    assert handling.report_actions in HANDLING_SOURCES  # registered by the package
    handling.register(HANDLING_SOURCES)
    assert HANDLING_SOURCES.count(handling.report_actions) == 1


def test_an_episode_lists_its_own_lines_and_its_handling_in_time_order():
    base = model.rows()
    a1 = "a1"  # test_report_model's cleared over-limit episode of A1, 05:00 to 10:00
    handled = [
        row(a1, "alarm", a1, 2, "notify", at(0, 5, 20), channel="phone", recipient="王工"),
        row(a1, "work_order", WO, 3, "arrive", at(0, 7, 0), actor="li.na", actor_name="李娜"),
        row(a1, "alarm", a1, 1, "ack", at(0, 5, 3)),
        row("not-in-the-report", "alarm", "n", 1, "ack", at(0, 6, 0)),
    ]

    def run(name: str, **params: Any) -> list[dict[str, Any]]:
        return {"report_stations": base.stations, "report_station_days": base.station_days,
                "report_over_limit": base.over_limit, "report_alarms": base.alarms,
                "report_missing_windows": base.missing_windows,
                "report_actions": handled}[name]

    scope = {"all_regions": 1, "regions": ("",)}
    reports = build_reports(fetch_rows(run, WEEK, model.NOW, scope), WEEK, model.NOW)
    jia = next(r for r in reports if r.enterprise == "甲化工有限公司")
    ep = next(e for e in jia.episodes if e.alarm_id == a1)
    # the episode cleared at 10:00: after the handling, which all came before
    assert [a.text for a in ep.actions] == ["值守员 张伟 11-23 05:03 确认告警",
                                            "11-23 05:20 电话通知企业（王工）",
                                            "工程师 李娜 11-23 07:00 到场",
                                            "已恢复正常"]
    # the others keep only their own (a row of an alarm not in the report goes nowhere)
    assert {a.kind for e in jia.episodes if e.alarm_id != a1 for a in e.actions} == {
        "backfill", "cleared", "open"}


@pytest.fixture(scope="module")
def seeded() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_report_handling") as conn:
        migrate(conn)
        seed.seed(conn)
        yield conn


def test_the_seeded_report_tells_the_story(seeded):
    def run(name: str, **params: Any) -> list[dict[str, Any]]:
        return queries.run(seeded, name, **params)

    scope = {"all_regions": 1, "regions": ("",)}
    now = seed.END + timedelta(days=2)
    reports = {r.enterprise: r for r in build_reports(
        fetch_rows(run, WEEK, now, scope, seed.JIA), WEEK, now)}
    jia = reports[seed.JIA]
    over = next(e for e in jia.episodes if e.alarm_id == seed.A_OVER)
    assert [a.text for a in over.actions] == [
        "值守员 张伟 11-23 05:04 确认告警",
        "11-23 05:10 电话通知企业（王工）",
        "11-23 05:15 派单 WO-20261123-001 给 李娜",
        "工程师 李娜 11-23 07:02 到场",
        "11-23 09:30 处理完成，原因：采样管堵塞；措施：疏通采样管并校准；结果：数据恢复正常",
        "已恢复正常",
        "11-23 10:05 值守确认数据恢复：10:00 起小时均值回到限值内",
        "11-23 10:10 确认数据恢复后关闭",
        "11-23 10:20 工单 WO-20261123-001 关闭",
    ]
    offline = next(e for e in jia.episodes if e.alarm_id == seed.A_OFFLINE)
    # its ack and dispatch were before the week, its order's close at the week's end
    # ... and the undated "still open" line last
    assert [a.text for a in offline.actions][-3:] == [
        "11-23 02:00 企业微信通知企业（甲化工环保群）",
        "11-23 03:00 处理完成，原因：数采仪断电；结果：已恢复上传",
        "尚未恢复，持续跟进中"]
    html = render_html(jia)
    assert "11-23 05:15 派单 WO-20261123-001 给 李娜" in html
