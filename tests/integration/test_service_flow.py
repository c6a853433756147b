"""A work order's whole life on the real stack (issue 12, "Done when"): a simulator fault
becomes an alarm through the worker's own agents and detectors, the duty desk dispatches
it (the roster picks the region's engineer), the engineer works it through to resolved,
the desk verifies and closes it, the service watch plans the return visit and records the
SLA breach made on purpose, the desk records the visit, and the alarm is resolved and
closed. Then two people edit one work order at once: one change appended, the other
refused as a conflict naming who moved the record, and nothing lost.

The fault path, and why it is light: two simulated data loggers (``VirtualLogger``, one
with a ``disconnect`` fault script) are advanced in-process over 40 simulated minutes
ending now; their frames, wrapped in gateway envelopes, go through the worker's
``pipeline.stream.agents.Agents`` (decode, detectors with the registry's contexts, the
alarm published to a Kafka topic of this run and stored in ClickHouse) on the data clock,
with clock ticks exactly as the worker's runtime makes them. No gateway or TCP and no
worker subprocess: the detection and the stores are the worker's, and it takes seconds.

The ledger writer runs in this process on a topic of its own (tests/ledger_writer_thread.py)
with every installed record stream, on a database of its own. The SLA limits are tiny
(first contact 2 s, response 30 s, on site 60 s) so that a breach happens within the test.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
import tomllib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped,unused-ignore]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped,unused-ignore]
from aiokafka.structs import ConsumerRecord  # type: ignore[import-untyped,unused-ignore]

from admin import duty_actions as da
from admin import quality as q
from admin import visits as vi
from admin import work_orders as wo
from admin.accounts import Accounts
from admin.order_hooks import LedgerWorkOrders
from admin.quality_facts import month_figures
from admin.records import TYPES, Records
from admin.roles import User
from admin.service_settings import Rosters, ServiceSettings, VisitRules
from admin.service_watch import PLANNER_ACTOR, SLA_ACTOR, run_round
from pipeline.config import Settings, load_settings
from pipeline.detect.rules import DEFAULT_PATH
from pipeline.duty import alarms as alarm_store
from pipeline.duty import lifecycle as lc
from pipeline.gateway.envelope import ACCEPTED, encode
from pipeline.ledger import queries as lq
from pipeline.ledger.client import LedgerClient
from pipeline.ledger.model import APPENDED, CONFLICT, REFUSED, Event, Reply
from pipeline.registry.csv_io import read_files
from pipeline.registry.store import write_limits, write_stations
from pipeline.simulator.datalogger import make_loggers
from pipeline.simulator.faults import assign, parse_script
from pipeline.simulator.stations import REGISTRY_DIR, load_fleet
from pipeline.stack.live import LiveStack
from pipeline.store.client import ClickHouse
from pipeline.stream.agents import Agents
from pipeline.stream.clock import DataClock
from pipeline.stream.detection import load_detector, registry_contexts
from pipeline.stream.state import StationTable
from pipeline.timebase import now_local
from tests.integration.service_env import (
    add_people,
    database_dsn,
    drop_database,
    fresh_database,
)
from tests.ledger_writer_thread import WriterThread, drop_topic

pytestmark = pytest.mark.integration

DB = "hj212_it_service_flow"
SEED = 1
SIM = timedelta(minutes=40)
STEP = timedelta(seconds=60)
FAULT_START = timedelta(minutes=10)
# the first registry station's data logger loses its link 10 minutes in and stays down
FAULTS = """
[[fault]]
id = "logger-link-down"
kind = "disconnect"
stations = "#0"
start = "10m"
duration = "2h"
"""
REGION = "宁青甘新"  # the region of the registry's first stations

LIMITS = wo.SlaLimits(first_contact=timedelta(seconds=2), response=timedelta(seconds=30),
                      on_site=timedelta(seconds=60))
SERVICE = ServiceSettings(
    sla=LIMITS, sla_notify=("supervisors",),
    # a roster name without an account is skipped; the next one takes the order
    rosters=Rosters(fallback="wang.fang", regions={REGION: ("former.eng", "li.na"),
                                                    "苏皖沪": ("zhao.gang",)}),
    visits=VisitRules(after_close_days=7))
ORDERS, VISITS = TYPES["orders"], TYPES["visits"]


@dataclasses.dataclass
class Env:
    settings: Settings
    dsn: str
    bootstrap: str
    tag: str


@pytest.fixture(scope="module")
def env(stack: LiveStack) -> Iterator[Env]:
    dsn = database_dsn(stack.clickhouse_dsn, DB)
    fresh_database(dsn)
    tag = uuid.uuid4().hex[:8]
    ledger_topic = f"hj212_it_service_ledger_{tag}"
    mp = pytest.MonkeyPatch()
    mp.setenv("HJ212_CLICKHOUSE__DSN", dsn)
    mp.setenv("HJ212_TOPICS__LEDGER", ledger_topic)
    mp.setenv("HJ212_LEDGER__GROUP_ID", f"{ledger_topic}-writer")
    mp.setenv("HJ212_LEDGER__REPLY_WAIT_S", "20")
    settings = load_settings()
    registry = read_files([REGISTRY_DIR / "stations.csv", REGISTRY_DIR / "limits.csv"])
    mns = {s.mn for s in load_fleet(2, SEED)[:2]}
    with ClickHouse(dsn) as ch:
        write_stations(ch, [s for s in registry.stations if s.mn in mns])
        write_limits(ch, [x for x in registry.limits if x.mn in mns])
        add_people(ch, settings)
    writer = WriterThread(settings)
    writer.start()
    try:
        yield Env(settings, dsn, stack.kafka_bootstrap, tag)
    finally:
        writer.stop()
        mp.undo()
        drop_topic(stack.kafka_bootstrap, ledger_topic)
        drop_database(dsn)
    assert writer.error is None, writer.error


# --- the fault: simulator -> worker agents -> detector -> alarm --------------------------


def _rules_file(tmp: Path) -> Path:
    # as tests/integration/test_e2e.py: the packaged rules with the wall-time rules off
    # (the simulated loggers run far ahead of the wall)
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert "\ndisabled = []\n" in text, "default.toml changed its [defaults] layout"
    path = tmp / "rules-service-flow.toml"
    path.write_text(text.replace("\ndisabled = []\n",
                                 '\ndisabled = ["time_future", "time_stale"]\n', 1),
                    encoding="utf-8")
    return path


async def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()


async def _simulate(env: Env, start: datetime, rules: Path, alarms_topic: str) -> None:
    """The loggers over [start, start + SIM), their frames through the worker's agents in
    one-minute batches, each followed by the runtime's clock tick."""
    fleet = load_fleet(2, SEED)[:2]
    faults = assign(parse_script(tomllib.loads(FAULTS), "service-flow"), fleet, start, SEED)
    loggers = make_loggers(fleet, start=start, seed=SEED, faults=faults)
    detector = load_detector("auto", registry_contexts(env.dsn), rules)
    # the station table stays in memory: nothing here sends it to a changelog
    table = StationTable(env.bootstrap, f"hj212_it_service_state_{env.tag}", 1, 1)
    table.start_empty([0])
    topics = dataclasses.replace(env.settings.topics, alarms=alarms_topic)
    frames_topic = f"hj212_it_service_frames_{env.tag}"  # named only: nothing is sent
    agents = Agents(env.settings, topics, table, detector, clock=DataClock())
    producer = AIOKafkaProducer(bootstrap_servers=env.bootstrap)
    await producer.start()
    agents.producer = producer
    offset = 0
    try:
        t = start
        while t < start + SIM:
            t += STEP
            batch = []
            for lg in loggers:
                for raw in lg.advance(t, 0.0):  # wall 0: no answers awaited, no resends
                    value = encode(ACCEPTED, time.time_ns(), offset, b"gw-it-service",
                                   b"127.0.0.1:0", b"", raw)
                    batch.append(ConsumerRecord(frames_topic, 0, offset, 0, 0,
                                                lg.mn.encode(), value, None, len(lg.mn),
                                                len(value), ()))
                    offset += 1
            if batch:
                store = await agents.on_frames(batch)
                await store(None)
            now = agents.clock.now()
            if now is not None:
                await (await agents.tick(now))(None)
    finally:
        await producer.stop()
        agents.close()


@pytest.fixture(scope="module")
def alarm(env: Env, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The offline alarm the detector raised for the faulted station (an alarms row)."""
    began = time.monotonic()
    start = now_local().replace(microsecond=0) - SIM
    alarms_topic = f"hj212_it_service_alarms_{env.tag}"
    asyncio.run(_create_topic(env.bootstrap, alarms_topic))
    try:
        asyncio.run(_simulate(env, start, _rules_file(tmp_path_factory.mktemp("rules")),
                              alarms_topic))
    finally:
        drop_topic(env.bootstrap, alarms_topic)
    faulted = load_fleet(2, SEED)[0].mn
    with ClickHouse(env.dsn) as ch:
        rows = ch.query_dicts("SELECT alarm_id, mn, rule, severity, state, opened_at "
                              "FROM alarms FINAL WHERE rule = 'offline' ORDER BY alarm_id")
        readings = int(ch.execute("SELECT count() FROM readings")[0][0])
    print(f"\n[service-flow] fault simulated and detected in {time.monotonic() - began:.1f} s;"
          f" {readings} readings; offline alarms {rows}")
    assert readings > 0, "the worker's agents stored no readings"
    assert [r["mn"] for r in rows] == [faulted], (
        f"expected one offline alarm, of the faulted station {faulted}: {rows}")
    found = rows[0]
    with ClickHouse(env.dsn) as ch:
        got = alarm_store.get(ch, found["alarm_id"])
    assert got is not None and got["region"] == REGION, got
    # the alarm opens where the link went down (the last frame heard before the silence)
    went_down = start + FAULT_START
    assert went_down - timedelta(minutes=2) <= got["opened_at"] <= went_down, (
        got["opened_at"], went_down)
    return got


# --- helpers ---------------------------------------------------------------------------


def _user(ch: ClickHouse, settings: Settings, name: str) -> User:
    found = Accounts(ch, settings).get(name)
    assert found is not None, name
    return found


class CountingReader:
    """A ClickHouse reader that counts the queries it runs (a history is one query)."""

    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch
        self.queries = 0

    def query_dicts(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        self.queries += 1
        return self.ch.query_dicts(sql, params)


def _history(ch: ClickHouse, stream: str, record_id: str) -> list[Event]:
    reader = CountingReader(ch)
    events = lq.history(reader, stream, record_id)
    assert reader.queries == 1, f"the history of {stream}/{record_id} took {reader.queries}"
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), events
    return events


def _ok(reply: Reply, what: str) -> int:
    assert reply.outcome == APPENDED, f"{what}: {reply}"
    return reply.seq


def _first(events: Sequence[Event], kind: str) -> Event:
    return next(e for e in events if e.kind == kind)


def _clear_of_midnight() -> None:
    """The flow's events must fall on one day (one daily-note clock); wait out midnight."""
    now = now_local()
    left = (datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
            - now).total_seconds()
    if left < 180:
        time.sleep(left + 1)


def _in(month: str, when: datetime | date) -> bool:
    return f"{when:%Y-%m}" == month


# --- the flow --------------------------------------------------------------------------


def test_fault_to_closed_work_order_and_visit(env: Env, alarm: dict[str, Any]) -> None:
    _clear_of_midnight()
    aid = str(alarm["alarm_id"])
    with ClickHouse(env.dsn) as ch, LedgerClient(env.settings) as ledger:
        records = Records(ledger, ch, SERVICE)
        ops, sup = _user(ch, env.settings, "zhang.wei"), _user(ch, env.settings, "wang.fang")
        eng, other = _user(ch, env.settings, "li.na"), _user(ch, env.settings, "zhao.gang")

        # the duty desk: acknowledge, then dispatch; the dispatch opens the work order
        a = _ok(da.perform(ledger, ch, ops, aid, lc.ACK, 0, {}, "web"), "ack")
        a = _ok(da.perform(ledger, ch, ops, aid, lc.DISPATCH, a, {}, "web",
                           work_orders=LedgerWorkOrders(records)), "dispatch")
        dispatch = _first(_history(ch, lc.STREAM, aid), lc.DISPATCH).payload
        wid = str(dispatch["work_order_id"])
        # the roster of the station's region: former.eng has no account, li.na takes it
        assert dispatch["engineer"] == "li.na" and dispatch["region"] == REGION, dispatch
        s = records.get(ORDERS, wid)
        assert (s.state, s.engineer, s.region, s.alarm_id, s.source, s.stops_system) == (
            wo.ASSIGNED, "li.na", REGION, aid, "alarm", True), s
        assert s.station == alarm["mn"] and s.organisation == alarm["enterprise"]

        # another region's engineer neither sees the order nor may touch it
        assert wid not in {x.record_id for x in records.all(ORDERS, other)}
        assert wid in {x.record_id for x in records.all(ORDERS, eng)}
        denied = records.act(other, ORDERS, wid, wo.CONTACT, s.last_seq, {}, "web")
        assert denied.outcome == REFUSED and REGION in denied.message, denied

        # nobody calls within 2 s: the first-contact clock breaches; the watch records it
        # (twice run, once recorded) with a notice to the SLA receivers
        opened_at = s.opened_at
        assert opened_at is not None
        wait = (opened_at + LIMITS.first_contact - now_local()).total_seconds() + 0.3
        time.sleep(max(0.0, wait))
        first = run_round(records)
        second = run_round(records)
        # (this test runs first in the module: its order is the only one yet)
        assert (first.made, second.made, first.refused, second.refused) == (
            {"sla_breach": 1}, {}, 0, 0), (first, second)

        # the engineer works it: contact, response, on site, resolved with the report
        seq = records.get(ORDERS, wid).last_seq
        seq = _ok(records.act(eng, ORDERS, wid, wo.CONTACT, seq,
                              {"text": "电话联系企业环保负责人陈工"}, "web"), "contact")
        seq = _ok(records.act(eng, ORDERS, wid, wo.RESPOND, seq,
                              {"text": "远程查看数采仪无心跳，出发"}, "web"), "respond")
        seq = _ok(records.act(eng, ORDERS, wid, wo.ARRIVE, seq, {"text": "到达站房"},
                              "web"), "arrive")
        no_report = records.act(eng, ORDERS, wid, wo.RESOLVE, seq,
                                {"cause": "c", "action": "a", "result": "r"}, "web")
        assert no_report.outcome == REFUSED and "report" in no_report.message, no_report
        seq = _ok(records.act(eng, ORDERS, wid, wo.RESOLVE, seq, {
            "cause": "数采仪 4G 模块掉线", "action": "更换 SIM 卡并重启数采仪",
            "result": "数采仪重新上线，实时数据恢复", "report": "SR-2026-0001.pdf"}, "web"),
            "resolve")
        # the desk sees the data back and closes
        seq = _ok(records.act(ops, ORDERS, wid, wo.VERIFY, seq,
                              {"verification": "平台收到 2011 实时数据，分钟数据补传完整"},
                              "web"), "verify")
        seq = _ok(records.act(ops, ORDERS, wid, wo.CLOSE, seq, {"text": "闭环"}, "web"),
                  "close")

        # the alarm: the engineer resolves it, the supervisor closes it
        a = _ok(da.perform(ledger, ch, eng, aid, lc.RESOLVE, a,
                           {"verification": f"工单 {wid} 已处理，站点恢复在线"}, "web"),
                "alarm resolve")
        _ok(da.perform(ledger, ch, sup, aid, lc.CLOSE, a, {}, "web"), "alarm close")

        # the watch plans the return visit (once, however often it runs), adds no mark
        planned = run_round(records)
        again = run_round(records)
        assert planned.made.get("visit_planned") == 1, planned
        assert "visit_planned" not in again.made, again
        vid = vi.visit_record_id(vi.WORK_ORDER, wid)
        v = records.get(VISITS, vid)
        closed_at = records.get(ORDERS, wid).closed_at
        assert closed_at is not None
        assert (v.state, v.work_order_id, v.engineer, v.region, v.due) == (
            vi.PLANNED, wid, "li.na", REGION, closed_at.date() + timedelta(days=7)), v
        # the engineer does not visit their own work; the desk does
        refused = records.act(eng, VISITS, vid, vi.RECORD, v.last_seq, {}, "web")
        assert refused.outcome == REFUSED, refused
        _ok(records.act(ops, VISITS, vid, vi.RECORD, v.last_seq, {
            "channel": "phone", "contact": "陈工", "satisfaction": 4,
            "suggestions": "希望提前告知到场时间"}, "web"), "visit")

        now = now_local()
        order = _history(ch, wo.STREAM, wid)
        visit = _history(ch, vi.STREAM, vid)
        alarm_events = _history(ch, lc.STREAM, aid)
        state = records.get(ORDERS, wid)
        engineer_rows = month_figures(records, f"{opened_at:%Y-%m}", q.BY_ENGINEER, now)
        region_rows = month_figures(records, f"{opened_at:%Y-%m}", q.BY_REGION, now)
        audit = ch.query_dicts(
            "SELECT actor, action, detail FROM audit_log WHERE target = %(t)s "
            "ORDER BY time_us", {"t": wid})

    # --- every history complete, in order, with its actors -----------------------------
    assert [(e.kind, e.actor) for e in order] == [
        (wo.OPEN, "zhang.wei"), (wo.ASSIGN, "zhang.wei"),
        (wo.SLA_MARK, SLA_ACTOR), (wo.NOTIFY, SLA_ACTOR),
        (wo.CONTACT, "li.na"), (wo.RESPOND, "li.na"), (wo.ARRIVE, "li.na"),
        (wo.RESOLVE, "li.na"), (wo.VERIFY, "zhang.wei"), (wo.CLOSE, "zhang.wei")], order
    assert order[1].payload["engineer"] == "li.na"
    assert [(e.kind, e.actor) for e in visit] == [(vi.PLAN, PLANNER_ACTOR),
                                                  (vi.RECORD, "zhang.wei")], visit
    assert visit[1].payload["satisfaction"] == 4
    assert [(e.kind, e.actor) for e in alarm_events] == [
        (lc.ACK, "zhang.wei"), (lc.DISPATCH, "zhang.wei"), (lc.RESOLVE, "li.na"),
        (lc.CLOSE, "wang.fang")], alarm_events
    assert (state.state, state.closed_by, state.report) == (wo.CLOSED, "zhang.wei",
                                                            "SR-2026-0001.pdf")
    # every attempt audited once, the refused ones too
    outcomes = [(r["actor"], r["action"]) for r in audit]
    assert ("zhao.gang", "work_order_contact") in outcomes
    assert outcomes.count(("li.na", "work_order_resolve")) == 2, outcomes

    # --- the SLA clocks, from the event times alone ------------------------------------
    t = {e.kind: e.at for e in order}
    opened = t[wo.OPEN]
    assert t[wo.CONTACT] - opened > LIMITS.first_contact, "the breach was not made"
    assert t[wo.RESPOND] - opened <= LIMITS.response, "respond slower than its limit"
    assert t[wo.ARRIVE] - opened <= LIMITS.on_site, "arrival slower than its limit"
    midnight = datetime.combine(opened.date() + timedelta(days=1), datetime.min.time())
    expected = {
        wo.FIRST_CONTACT: (opened + LIMITS.first_contact, t[wo.CONTACT], True),
        wo.RESPONSE: (opened + LIMITS.response, t[wo.RESPOND], False),
        wo.ON_SITE_CLOCK: (opened + LIMITS.on_site, t[wo.ARRIVE], False),
        wo.DAILY_NOTE: (midnight, t[wo.RESOLVE], False),
    }
    clocks = wo.sla(state, now, LIMITS)
    assert {c.name: (c.due_at, c.met_at, c.breached) for c in clocks} == expected
    assert len(clocks) == len(expected), clocks
    mark, notice = order[2], order[3]
    assert dict(mark.payload) == {
        "clock": wo.FIRST_CONTACT, "level": "breach",
        "due": f"{opened + LIMITS.first_contact:%Y-%m-%d %H:%M:%S}"}
    assert notice.payload["receiver"] == "supervisors" and wid in notice.payload["text"]
    # recorded while the clock ran (before the contact), not after the fact
    assert opened + LIMITS.first_contact < mark.at < t[wo.CONTACT]

    # --- the month's quality figures count the order as the times say -------------------
    month = f"{opened:%Y-%m}"
    due_visit = closed_at.date() + timedelta(days=7)
    done_visit = visit[1].at
    counts = {
        "orders_opened": 1,
        # decided when met on time, when due otherwise
        "first_contact_counted": int(_in(month, opened + LIMITS.first_contact)),
        "first_contact_on_time": 0,
        "response_counted": int(_in(month, t[wo.RESPOND])),
        "response_on_time": int(_in(month, t[wo.RESPOND])),
        "arrival_counted": int(_in(month, t[wo.ARRIVE])),
        "arrival_on_time": int(_in(month, t[wo.ARRIVE])),
        "visits_due": int(_in(month, due_visit)),
        "visits_on_time": int(_in(month, due_visit) and done_visit.date() <= due_visit),
        "satisfaction_scores": int(_in(month, done_visit)),
        "satisfaction_sum": 4 * int(_in(month, done_visit)),
        "sla_breaches": sum(1 for _, _, breached in expected.values() if breached),
    }
    by_engineer = {r.group: r for r in engineer_rows}
    by_region = {r.group: r for r in region_rows}
    assert by_engineer["li.na"] == q.QualityRow(month=month, by=q.BY_ENGINEER,
                                                group="li.na", **counts)
    assert by_region[REGION] == q.QualityRow(month=month, by=q.BY_REGION, group=REGION,
                                             **counts)
    assert by_engineer["li.na"].on_time_first_contact == 0.0
    assert by_engineer["li.na"].on_time_response == 1.0
    assert by_engineer["li.na"].on_time_arrival == 1.0
    assert by_engineer["li.na"].sla_breaches == 1


# --- two people, one work order --------------------------------------------------------


def test_two_people_edit_one_order_at_once(env: Env) -> None:
    payload = {"source": "phone", "class": "technical_service", "caller": "陈工",
               "contact": "13800000000", "organisation": "苏州某电镀厂",
               "station": "MN_IT_SERVICE_SU", "region": "苏皖沪",
               "reason": "COD 数据不上传", "stops_system": True}
    with ClickHouse(env.dsn) as ch, LedgerClient(env.settings) as ledger:
        desk = Records(ledger, ch, SERVICE)
        ops = _user(ch, env.settings, "zhang.wei")
        wid, reply = desk.create(ops, ORDERS, payload, "web")
        _ok(reply, "open")
        loaded = desk.get(ORDERS, wid)
        assert (loaded.engineer, loaded.last_seq) == ("zhao.gang", 2), loaded
        n = loaded.last_seq

        # two people, each with their own session (connection), submit at once at seq n
        people = {"zhao.gang": (wo.CONTACT, {"text": "已电话联系陈工"}),
                  "zhang.wei": (wo.NOTE, {"text": "企业来电催问进度"})}
        barrier = threading.Barrier(len(people))
        replies: dict[str, Reply] = {}

        def submit(name: str) -> None:
            with ClickHouse(env.dsn) as own:
                records = Records(ledger, own, SERVICE)
                user = _user(own, env.settings, name)
                kind, body = people[name]
                barrier.wait(timeout=30)
                replies[name] = records.act(user, ORDERS, wid, kind, n, body, "web")

        threads = [threading.Thread(target=submit, args=(name,)) for name in people]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=60)
        assert sorted(r.outcome for r in replies.values()) == [APPENDED, CONFLICT], replies
        (winner,) = [k for k, r in replies.items() if r.outcome == APPENDED]
        (loser,) = [k for k, r in replies.items() if r.outcome == CONFLICT]
        assert replies[winner].seq == n + 1
        lost = replies[loser]
        # the refusal names who moved the record and what to do
        assert f"changed by {winner}" in lost.message and "submit again" in lost.message, lost
        assert lost.seq == n + 1, lost

        # nothing lost: the loser refreshes and resubmits at n + 1
        kind, body = people[loser]
        user = _user(ch, env.settings, loser)
        assert desk.get(ORDERS, wid).last_seq == n + 1
        again = desk.act(user, ORDERS, wid, kind, n + 1, body, "web")
        assert (again.outcome, again.seq) == (APPENDED, n + 2), again
        # a page still showing seq n is told how far behind it is
        stale = desk.act(user, ORDERS, wid, wo.NOTE, n, {"text": "旧页面"}, "web")
        assert stale.outcome == CONFLICT and "2 changes since you looked" in stale.message

        events = _history(ch, wo.STREAM, wid)
        audit = ch.query_dicts(
            "SELECT actor, action, detail FROM audit_log WHERE target = %(t)s "
            "AND action IN ('work_order_contact', 'work_order_note') ORDER BY time_us",
            {"t": wid})
    got = [(e.seq, e.kind, e.actor, dict(e.payload)) for e in events[n:]]
    assert got == [(n + 1, people[winner][0], winner, people[winner][1]),
                   (n + 2, people[loser][0], loser, people[loser][1])], got
    assert len(events) == n + 2
    outcomes = sorted(_outcome(r) for r in audit)
    assert outcomes == sorted([(winner, APPENDED), (loser, CONFLICT), (loser, APPENDED),
                               (loser, CONFLICT)]), outcomes


def _outcome(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row["actor"]), str(json.loads(row["detail"])["outcome"])
