"""admin/duty_actions.py on chDB: who may do what to which alarm, the audit of every
attempt, dispatch's work order, and the silences' role limits. The ledger is a recorder
here (the real writer is in tests/integration/test_duty_flow.py): it applies the alarm
rule and the expected seq as the writer does, so outcomes are the real rule's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from admin import duty_actions as da
from admin.roles import PermissionDenied, Role, User
from pipeline.duty import lifecycle as lc
from pipeline.duty.silences import SilenceError
from pipeline.ledger.model import APPENDED, CONFLICT, REFUSED, Change, Event, Reply
from pipeline.timebase import now_local, unix_s_from_local
from tests.unit.chdb_client import ChdbClickHouse, migrate

OPENED = datetime(2026, 12, 2, 8, 0)
SU = "MN_SU_001/w01018/zero_streak/20261202080000"  # a station of 苏皖沪
YN = "MN_YN_001//offline/20261202080000"  # a station of 云贵川渝
UNREG = "MN_XX_001//offline/20261202080000"  # a station the registry does not know


class RecordingLedger:
    """Checks the expected seq and the alarm rule, appends, answers (in memory)."""

    def __init__(self) -> None:
        self.events: dict[str, list[Event]] = {}
        self.changes: list[Change] = []

    def submit(self, change: Change, wait_s: float | None = None) -> Reply:
        self.changes.append(change)
        hist = self.events.setdefault(change.record_id, [])
        if change.expected_seq != len(hist):
            return Reply(change.request_id, CONFLICT, len(hist), "moved on")
        why = lc.check(hist, change)
        if why:
            return Reply(change.request_id, REFUSED, len(hist), why)
        hist.append(Event("alarm", change.record_id, len(hist) + 1, change.request_id,
                          change.kind, change.actor, now_local(), change.payload,
                          change.source))
        return Reply(change.request_id, APPENDED, len(hist))


def user(name: str, *roles: Role, regions: tuple[str, ...] = (), active: bool = True
         ) -> User:
    return User(name, name, frozenset(roles), frozenset(regions), active)


OPERATOR = user("zhang.wei", Role.DUTY_OPERATOR)
SUPERVISOR = user("wang.fang", Role.DUTY_SUPERVISOR)
ENGINEER_SU = user("zhao.gang", Role.FIELD_ENGINEER, regions=("苏皖沪",))
QUALITY = user("qian.li", Role.QUALITY)
ANALYST = user("sun.yu", Role.ANALYST)
ADMIN = user("root.admin", Role.ADMIN)


@pytest.fixture
def ch() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_duty_actions") as conn:
        migrate(conn)
        for table in ("alarms", "stations", "users", "audit_log", "silences"):
            conn.execute(f"TRUNCATE TABLE {table}")
        t = unix_s_from_local(OPENED)
        for mn, region in (("MN_SU_001", "苏皖沪"), ("MN_YN_001", "云贵川渝")):
            conn.insert_columns("stations", {
                "mn": [mn], "pw": [""], "enterprise": [f"ent {mn}"], "outlet": ["DA001"],
                "st": ["32"], "edition": [2017], "province": [""], "region": [region],
                "rtd_interval": [30], "min_interval": [10], "active": [1],
                "updated_at": [t], "version": [1]})
        for aid in (SU, YN, UNREG):
            mn, code, rule, _ = aid.split("/")
            conn.insert_columns("alarms", {
                "alarm_id": [aid], "mn": [mn], "cn": [2051], "code": [code], "rule": [rule],
                "severity": ["major"], "state": ["open"], "opened_at": [t],
                "last_seen": [t + 600], "cleared_at": [None], "occurrences": [1],
                "value": [0.0], "threshold": [float("nan")], "message": ["zero"],
                "evidence": ['{"value": 0}'], "version": [1]})
        for u in (OPERATOR, SUPERVISOR, ENGINEER_SU):
            conn.insert_columns("users", {
                "username": [u.username], "display_name": [u.display_name],
                "roles": [[r.value for r in u.roles]], "regions": [list(u.regions)],
                "password_hash": ["x"], "active": [1], "changed_by": ["t"],
                "changed_at": [t], "version": [1]})
        yield conn


def audit_rows(ch, action: str | None = None) -> list[dict]:
    rows = ch.query_dicts("SELECT actor, action, target, source, detail FROM audit_log "
                          "ORDER BY time_us")
    for r in rows:
        r["detail"] = json.loads(r["detail"])
    return [r for r in rows if action is None or r["action"] == action]


def act(ledger, ch, who, alarm_id, kind, payload=None):
    seq = len(ledger.events.get(alarm_id, []))
    return da.perform(ledger, ch, who, alarm_id, kind, seq, payload or {}, "cli")


def test_the_operator_works_the_alarm_and_the_supervisor_closes(ch):
    ledger = RecordingLedger()
    steps = [
        (OPERATOR, lc.ACK, {}),
        (OPERATOR, lc.ASSIGN, {"assignee": "Zhao.Gang"}),
        (OPERATOR, lc.NOTIFY, {"channel": "phone", "recipient": "王工", "text": "COD 为零"}),
        (OPERATOR, lc.DISPATCH, {"engineer": "zhao.gang"}),
        (ENGINEER_SU, lc.RESOLVE, {"verification": "analyser cleaned, data back 10:40"}),
        (SUPERVISOR, lc.CLOSE, {}),
    ]
    for who, kind, payload in steps:
        reply = act(ledger, ch, who, SU, kind, payload)
        assert reply.outcome == APPENDED, (kind, reply.message)
    hist = ledger.events[SU]
    assert [e.kind for e in hist] == [k for _, k, _ in steps]
    assert hist[1].payload["assignee"] == "zhao.gang"  # the account's own spelling
    wo = hist[3].payload
    day = f"{now_local():%Y%m%d}"
    assert wo["region"] == "苏皖沪" and wo["work_order_id"].startswith(f"WO-{day}-")
    assert len(wo["work_order_id"]) == len(f"WO-{day}-") + 8
    rows = audit_rows(ch)
    assert [(r["actor"], r["action"], r["detail"]["outcome"]) for r in rows] == [
        (who.username, f"alarm_{kind}", APPENDED) for who, kind, _ in steps]
    assert all(r["target"] == SU and r["source"] == "cli" for r in rows)
    assert rows[0]["detail"]["seq"] == 1 and rows[-1]["detail"]["seq"] == 6


@pytest.mark.parametrize("who,kind,alarm", [
    (ANALYST, lc.COMMENT, SU),
    (QUALITY, lc.ACK, SU),
    (ENGINEER_SU, lc.ACK, SU),
    (OPERATOR, lc.CLOSE, SU),
    (OPERATOR, lc.REOPEN, SU),
    (ENGINEER_SU, lc.COMMENT, YN),  # another region's station
    (ENGINEER_SU, lc.COMMENT, UNREG),  # a station of no region
    (user("off.duty", Role.DUTY_OPERATOR, active=False), lc.ACK, SU),
])
def test_denied_before_anything_is_sent(ch, who, kind, alarm):
    ledger = RecordingLedger()
    reply = act(ledger, ch, who, alarm, kind, {"text": "note"})
    assert reply.outcome == REFUSED and ledger.changes == []
    assert who.username in reply.message
    [row] = audit_rows(ch)
    assert (row["actor"], row["action"], row["detail"]["outcome"]) == (
        who.username, f"alarm_{kind}", da.DENIED)
    assert row["detail"]["message"] == reply.message


def test_allowed_comments_and_region_of_the_engineer(ch):
    ledger = RecordingLedger()
    assert act(ledger, ch, QUALITY, SU, lc.COMMENT, {"text": "complaint 12"}).ok
    assert act(ledger, ch, ENGINEER_SU, SU, lc.COMMENT, {"text": "on my way"}).ok
    assert act(ledger, ch, ADMIN, UNREG, lc.COMMENT, {"text": "admin sees all"}).ok
    assert act(ledger, ch, OPERATOR, YN, lc.ACK).ok  # operators of every region


def test_rule_refusal_conflict_and_unknowns_are_audited(ch):
    ledger = RecordingLedger()
    r = act(ledger, ch, SUPERVISOR, SU, lc.CLOSE)
    assert r.outcome == REFUSED and "not resolved" in r.message and len(ledger.changes) == 1
    stale = da.perform(ledger, ch, OPERATOR, SU, lc.ACK, 5, {}, "web", address="10.0.0.7")
    assert stale.outcome == CONFLICT
    gone = act(ledger, ch, OPERATOR, "MN9/x/y/20260101000000", lc.ACK)
    assert gone.outcome == REFUSED and "does not exist" in gone.message
    nobody = act(ledger, ch, OPERATOR, SU, lc.ASSIGN, {"assignee": "ghost"})
    assert nobody.outcome == REFUSED and "'ghost' has no active account" in nobody.message
    bad = act(ledger, ch, OPERATOR, SU, "delete")
    assert bad.outcome == REFUSED and "does not exist" in bad.message
    outcomes = [(r["action"], r["detail"]["outcome"], r["source"]) for r in audit_rows(ch)]
    assert outcomes == [("alarm_close", REFUSED, "cli"), ("alarm_ack", CONFLICT, "10.0.0.7"),
                        ("alarm_ack", da.DENIED, "cli"), ("alarm_assign", da.DENIED, "cli"),
                        ("alarm_action", da.DENIED, "cli")]


def test_a_raising_ledger_is_audited_as_error(ch):
    class Broken:
        def submit(self, change, wait_s=None):
            raise OSError("kafka down")

    with pytest.raises(OSError):
        da.perform(Broken(), ch, OPERATOR, SU, lc.ACK, 0, {}, "cli")
    [row] = audit_rows(ch)
    assert row["detail"]["outcome"] == da.ERROR and "kafka down" in row["detail"]["message"]


def test_work_orders_can_be_replaced(ch):
    class Orders:
        def __init__(self):
            self.calls = []

        def create(self, alarm, engineer_region, actor, engineer=""):
            self.calls.append((alarm["alarm_id"], engineer_region, actor, engineer))
            return "WO-FROM-ISSUE-12", engineer or "roster.pick"

    ledger, orders = RecordingLedger(), Orders()
    act(ledger, ch, OPERATOR, SU, lc.ACK)
    da.perform(ledger, ch, OPERATOR, SU, lc.DISPATCH, 1, {"engineer": "zhao.gang"}, "web",
               work_orders=orders)
    assert orders.calls == [(SU, "苏皖沪", "zhang.wei", "zhao.gang")]
    assert ledger.events[SU][-1].payload["work_order_id"] == "WO-FROM-ISSUE-12"


# --- silences -----------------------------------------------------------------------------


def test_silence_limits_by_role(ch):
    now = datetime(2026, 12, 2, 9)
    day = dict(starts_at=now, ends_at=now + timedelta(hours=24), reason="calibration")
    made = da.silence(ch, OPERATOR, mn="MN_SU_001", now=now, source="cli", **day)
    assert made.created_by == "zhang.wei"
    longer = {**day, "ends_at": now + timedelta(hours=25)}
    with pytest.raises(PermissionDenied, match="at most 1 day"):
        da.silence(ch, OPERATOR, mn="MN_SU_001", now=now, **longer)
    da.silence(ch, SUPERVISOR, mn="MN_SU_001", now=now, **longer)
    with pytest.raises(PermissionDenied, match="fleet-wide"):
        da.silence(ch, OPERATOR, fleet_wide=True, now=now, **day)
    da.silence(ch, SUPERVISOR, fleet_wide=True, now=now, **day)
    with pytest.raises(SilenceError, match="--fleet-wide"):
        da.silence(ch, SUPERVISOR, now=now, **day)
    with pytest.raises(PermissionDenied, match="may not declare"):
        da.silence(ch, ENGINEER_SU, mn="MN_SU_001", now=now, **day)
    regional = user("ops.su", Role.DUTY_OPERATOR, regions=("苏皖沪",))
    with pytest.raises(PermissionDenied, match="region '云贵川渝'"):
        da.silence(ch, regional, mn="MN_YN_001", now=now, **day)
    with pytest.raises(PermissionDenied, match="spans every region"):
        da.silence(ch, regional, rule="offline", now=now, **day)
    outcomes = [r["detail"]["outcome"] for r in audit_rows(ch, "alarm_silence")]
    assert outcomes == [APPENDED, da.DENIED, APPENDED, da.DENIED, APPENDED, da.DENIED,
                        da.DENIED, da.DENIED, da.DENIED]
    # unsilence: any operator of its region
    with pytest.raises(PermissionDenied):
        da.unsilence(ch, ANALYST, made.silence_id, now=now)
    done = da.unsilence(ch, regional, made.silence_id, now=now + timedelta(minutes=5))
    assert done.cancelled_by == "ops.su"
    assert [r["detail"]["outcome"] for r in audit_rows(ch, "alarm_unsilence")] == [
        da.DENIED, APPENDED]
