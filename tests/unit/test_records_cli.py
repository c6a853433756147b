"""`hj212 orders|subscriptions|inspections|visits|complaints` (admin/records_cli.py) on
chDB, through click's CliRunner, as the account named like the OS user (LOGNAME/USER per
call). The ledger is a recorder: it answers every change with the writer's own decision
(pipeline.ledger.rules.decide and the stream's registered check), and appends the event
to chDB's ledger_events at the test's clock, so the CLI reads back what it wrote. The
real writer on Kafka is in tests/integration/test_records_cli_live.py.

Expected values are the test's own: the roster order, the SLA limits of the test's
settings file, who moved a record in a conflict."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from admin import records_cli
from admin.records import TYPES, RecordType
from admin.records_cli import jsonable, parse_sets, records_group
from pipeline.ledger import queries as lq
from pipeline.ledger.model import APPENDED, Event
from pipeline.timebase import unix_s_from_local
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.records_ledger import ChdbLedger

DAY = datetime(2026, 12, 2, 8, 0)
SERVICE = """
version = "test"
[sla]
first_contact_min = 15
response_min = 60
on_site_min = 180
warn_fraction = 0.8
[rosters]
fallback = ""
[rosters.regions]
"苏皖沪" = ["eng.a", "eng.b"]
"""

# user -> (roles, regions)
USERS = {
    "zhang.wei": (["duty_operator"], []),
    "wang.fang": (["duty_supervisor"], []),
    "eng.a": (["field_engineer"], ["苏皖沪"]),
    "eng.b": (["field_engineer"], ["苏皖沪"]),
    "eng.y": (["field_engineer"], ["云贵川渝"]),
    "qian.li": (["quality"], []),
}

OPEN_SETS = ["source=phone", "class=technical_service", "station=MN_SU_001",
             "organisation=苏州某化工", "caller=王工", "contact=13800000000",
             "reason=COD 分析仪无数据", "stops_system=yes"]


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def RecordingLedger(ch: ChdbClickHouse, clock: Clock) -> ChdbLedger:
    """The writer's decision on each change, its event in chDB; ``pending`` answers
    nothing (queued), as when no writer runs."""
    return ChdbLedger(ch, clock)


@pytest.fixture
def ch() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_records_cli") as conn:
        migrate(conn)
        for table in ("stations", "users", "audit_log", "ledger_events"):
            conn.execute(f"TRUNCATE TABLE {table}")
        t = unix_s_from_local(DAY)
        for mn, region in (("MN_SU_001", "苏皖沪"), ("MN_YN_001", "云贵川渝"),
                           ("MN_ZM_001", "浙闽赣")):
            conn.insert_columns("stations", {
                "mn": [mn], "pw": [""], "enterprise": [f"企业 {mn}"], "outlet": ["DA001"],
                "st": ["32"], "edition": [2017], "province": [""], "region": [region],
                "rtd_interval": [30], "min_interval": [10], "active": [1],
                "updated_at": [t], "version": [1]})
        for name, (roles, regions) in USERS.items():
            conn.insert_columns("users", {
                "username": [name], "display_name": [name], "roles": [roles],
                "regions": [regions], "password_hash": ["x"], "active": [1],
                "changed_by": ["t"], "changed_at": [t], "version": [1]})
        yield conn


class Cli:
    """Runs a record type's group as a user, on chDB and the recording ledger."""

    def __init__(self, ch: ChdbClickHouse, service_file: Path) -> None:
        self.ch = ch
        self.clock = Clock(DAY)
        self.ledger = RecordingLedger(ch, self.clock)
        self.service_file = service_file
        self.groups = {key: records_group(key, store=lambda _cli: nullcontext(ch),
                                          ledger=lambda _cli: nullcontext(self.ledger),
                                          clock=self.clock)
                       for key in TYPES}

    def __call__(self, who: str, key: str, *args: str) -> Result:
        env = {"LOGNAME": who, "USER": who, "HJ212_SERVICE__FILE": str(self.service_file)}
        return CliRunner().invoke(self.groups[key], list(args), env=env,
                                  catch_exceptions=False)

    def at(self, hour: int, minute: int = 0) -> None:
        self.clock.at = DAY.replace(hour=hour, minute=minute)

    def events(self, stream: str, rid: str) -> list[Event]:
        return lq.history(self.ch, stream, rid)


@pytest.fixture
def cli(ch, tmp_path) -> Cli:
    path = tmp_path / "service.toml"
    path.write_text(SERVICE, encoding="utf-8")
    return Cli(ch, path)


def new_order(cli: Cli, *extra: str, who: str = "zhang.wei") -> str:
    sets = [a for s in OPEN_SETS for a in ("--set", s)]
    r = cli(who, "orders", "new", *sets, *extra)
    assert r.exit_code == 0, r.output
    assert "appended as event 1" in r.output
    return r.stdout.splitlines()[0].split(":")[0].split()[-1]


def audit(ch) -> list[dict]:
    rows = ch.query_dicts("SELECT actor, action, target, source, detail FROM audit_log "
                          "ORDER BY time_us")
    for r in rows:
        r["detail"] = json.loads(r["detail"])
    return rows


# --- the groups -------------------------------------------------------------------------

COMMON = {"list", "show", "new", "do", "history"}


@pytest.mark.parametrize("key", list(TYPES))
def test_each_type_has_its_commands_and_help(key):
    group = records_cli.records_group(key)
    assert set(group.commands) == COMMON | ({"sla"} if key == "orders" else set())
    for name in group.commands:
        r = CliRunner().invoke(group, [name, "--help"])
        assert r.exit_code == 0 and "Usage:" in r.output, (name, r.output)


def test_the_entry_point_objects_are_the_five_groups():
    for key in ("orders", "subscriptions", "inspections", "visits", "complaints"):
        group = getattr(records_cli, key)
        assert isinstance(group, click.Group) and group.name == key


@pytest.mark.parametrize("key,verb", [("orders", "开单"), ("subscriptions", "登记"),
                                      ("inspections", "计划"), ("visits", "计划"),
                                      ("complaints", "受理")])
def test_new_lists_the_creating_form_of_each_type(key, verb):
    # the creating verbs as SERVICE.md's users name them; nothing is connected
    r = CliRunner().invoke(records_group(key), ["new", "--fields"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith(verb) and "*" in r.output


def test_a_type_whose_module_is_missing_fails_by_name(monkeypatch):
    ghost = RecordType("ghost", "admin.ghost_records", "GH", "幽灵 ghosts")
    monkeypatch.setattr(records_cli, "TYPES", {**TYPES, "ghost": ghost})
    group = records_cli.records_group("ghost")  # building it imports nothing
    r = CliRunner().invoke(group, ["list"])
    assert r.exit_code == 1
    assert "admin.ghost_records" in r.output and "admin/ghost_records.py" in r.output


def test_an_os_user_without_an_account_is_told_how_to_get_one(cli):
    r = cli("nobody.here", "orders", "list")
    assert r.exit_code == 1
    assert "nobody.here" in r.output and "hj212 users add nobody.here" in r.output


# --- a work order from new to close ---------------------------------------------------


def test_a_work_order_from_new_to_close(cli, ch):
    rid = new_order(cli)
    assert rid.startswith(f"WO-{DAY:%Y%m%d}-")
    # no region given: the station's (registry), and the roster's first engineer
    out = cli("zhang.wei", "orders", "show", rid, "--json")
    shown = json.loads(out.stdout)
    assert shown["record"]["region"] == "苏皖沪"
    assert shown["record"]["engineer"] == "eng.a" and shown["state"] == "assigned"
    steps = [
        ("eng.a", "contact", []),
        ("eng.a", "respond", ["--set", "text=电话指导"]),
        ("eng.a", "到场", []),  # the verb by its Chinese name
        ("eng.a", "resolve", ["--set", "cause=采样管堵塞", "--set", "action=清洗管路",
                              "--set", "result=数据恢复", "--set", "report=SR-001.pdf"]),
        ("zhang.wei", "verify", ["--set", "verification=10:40 起分钟数据完整"]),
        ("zhang.wei", "close", []),
    ]
    for n, (who, verb, sets) in enumerate(steps, start=3):  # 1 open, 2 assign
        r = cli(who, "orders", "do", rid, verb, *sets)
        assert r.exit_code == 0, (verb, r.output)
        assert f"appended as event {n}" in r.output
    hist = cli.events("work_order", rid)
    assert [e.kind for e in hist] == ["open", "assign", "contact", "respond", "arrive",
                                      "resolve", "verify", "close"]
    assert [e.actor for e in hist] == ["zhang.wei", "zhang.wei", "eng.a", "eng.a", "eng.a",
                                       "eng.a", "zhang.wei", "zhang.wei"]
    assert all(e.source == "cli" for e in hist)
    assert hist[5].payload == {"cause": "采样管堵塞", "action": "清洗管路",
                               "result": "数据恢复", "report": "SR-001.pdf"}
    shown = json.loads(cli("zhang.wei", "orders", "show", rid, "--json").stdout)
    assert shown["state"] == "closed" and shown["next"] == ["reopen"]
    assert [h["seq"] for h in shown["history"]] == list(range(1, 9))
    # the text view and the history command tell the same story
    text = cli("zhang.wei", "orders", "show", rid).output
    assert "已关闭 closed" in text and "SLA" in text and "到场 arrive" in text
    table = cli("eng.a", "orders", "history", rid).output.splitlines()
    assert len(table) == 2 + 8 and "开单 open" in table[2] and "关闭 close" in table[-1]
    # every attempt audited once as the OS user's account, source cli
    rows = [r for r in audit(ch) if r["target"] == rid]
    assert [(r["actor"], r["action"]) for r in rows] == [
        (e.actor, f"work_order_{e.kind}") for e in hist]
    assert all(r["source"] == "cli" and r["detail"]["outcome"] == APPENDED for r in rows)


def test_the_roster_picks_the_engineer_with_fewest_open_orders(cli):
    first = new_order(cli)
    second = new_order(cli)
    third = new_order(cli, "--engineer", "eng.a")  # named: no roster
    engineers = {rid: json.loads(cli("zhang.wei", "orders", "show", rid, "--json").stdout)
                 ["record"]["engineer"] for rid in (first, second, third)}
    assert engineers == {first: "eng.a", second: "eng.b", third: "eng.a"}


def test_new_says_when_nobody_on_the_roster_can_take_it(cli):
    sets = [a for s in OPEN_SETS for a in ("--set", s)]
    # 浙闽赣: no roster, no field engineer of the region, no fallback
    sets[sets.index("station=MN_SU_001")] = "station=MN_ZM_001"
    r = cli("zhang.wei", "orders", "new", *sets)
    assert r.exit_code == 0, r.output
    assert "新建 new" in r.output and "nobody on the roster" in r.output
    assert "assign --set engineer=NAME" in r.output


# --- refusals -------------------------------------------------------------------------


def test_a_stale_expect_is_a_conflict_naming_who_moved_it(cli):
    rid = new_order(cli)  # events 1 open, 2 assign
    cli.at(8, 5)
    looked = 2
    r = cli("eng.a", "orders", "do", rid, "contact", "--expect", str(looked))
    assert r.exit_code == 0 and "event 3" in r.output, r.output
    r = cli("zhang.wei", "orders", "do", rid, "note", "--set", "text=客户来电催促",
            "--expect", str(looked))
    assert r.exit_code == 1
    assert "conflict" in r.output and "eng.a" in r.output and "contact" in r.output
    assert [e.kind for e in cli.events("work_order", rid)][-1] == "contact"
    # without --expect the CLI reads the last seq itself
    r = cli("zhang.wei", "orders", "do", rid, "note", "--set", "text=客户来电催促")
    assert r.exit_code == 0 and "event 4" in r.output, r.output


def test_the_rule_refuses_a_step_out_of_order(cli):
    rid = new_order(cli)
    r = cli("zhang.wei", "orders", "do", rid, "close")
    assert r.exit_code == 1 and "refused" in r.output and "assigned" in r.output
    assert len(cli.events("work_order", rid)) == 2


def test_roles_and_regions_are_checked_before_anything_is_sent(cli, ch):
    rid = new_order(cli)
    sent = len(cli.ledger.changes)
    r = cli("eng.a", "orders", "do", rid, "close")  # the desk closes, not the engineer
    assert r.exit_code == 1 and "may not close" in r.output
    r = cli("eng.y", "orders", "do", rid, "contact")  # another region's engineer
    assert r.exit_code == 1 and "云贵川渝" in r.output
    r = cli("eng.y", "orders", "show", rid)
    assert r.exit_code == 1 and "may not see" in r.output
    assert len(cli.ledger.changes) == sent
    assert rid not in cli("eng.y", "orders", "list").output
    assert rid in cli("eng.a", "orders", "list").output
    denied = [r for r in audit(ch) if r["detail"]["outcome"] == "denied"]
    assert [(r["actor"], r["action"]) for r in denied] == [("eng.a", "work_order_close")]


def test_a_record_that_does_not_exist(cli):
    r = cli("zhang.wei", "orders", "do", "WO-20261202-NOSUCH", "contact")
    assert r.exit_code == 1 and "does not exist" in r.output
    assert cli.ledger.changes == []


@pytest.mark.parametrize("sets,needle", [
    (["bogus=1"], "bogus"),
    (["stops_system=maybe"], "stops_system"),
    (["class=gossip"], "gossip"),
    (["no equals sign"], "key=value"),
])
def test_bad_form_values_are_refused_before_anything_is_sent(cli, sets, needle):
    given = {s.split("=")[0]: s for s in OPEN_SETS}
    given.update({s.split("=")[0]: s for s in sets})
    args = [a for s in given.values() for a in ("--set", s)]
    r = cli("zhang.wei", "orders", "new", *args)
    assert r.exit_code == 2 and needle in r.output, r.output
    assert cli.ledger.changes == []


def test_a_required_field_missing_and_a_field_given_twice(cli):
    args = [a for s in OPEN_SETS if not s.startswith("reason=") for a in ("--set", s)]
    r = cli("zhang.wei", "orders", "new", *args)
    assert r.exit_code == 2 and "reason" in r.output
    r = cli("zhang.wei", "orders", "new", *args, "--set", "reason=a", "--set", "reason=b")
    assert r.exit_code == 2 and "reason is given 2 times" in r.output
    assert cli.ledger.changes == []


def test_an_unknown_verb_names_the_verbs(cli):
    rid = new_order(cli)
    r = cli("zhang.wei", "orders", "do", rid, "teleport")
    assert r.exit_code == 2 and "teleport" in r.output and "arrive" in r.output


def test_queued_is_exit_zero_and_says_so(cli):
    rid = new_order(cli)
    cli.ledger.pending = True
    r = cli("eng.a", "orders", "do", rid, "contact")
    assert r.exit_code == 0 and "queued" in r.output


# --- lists ----------------------------------------------------------------------------


def test_list_filters_by_state_region_and_mine(cli):
    a = new_order(cli)  # eng.a
    b = new_order(cli)  # eng.b
    assert cli("eng.a", "orders", "do", a, "contact").exit_code == 0
    out = cli("zhang.wei", "orders", "list", "--state", "contacted").output
    assert a in out and b not in out
    out = cli("zhang.wei", "orders", "list", "--state", "已派工").output  # Chinese label
    assert b in out and a not in out
    out = cli("eng.b", "orders", "list", "--mine").output
    assert b in out and a not in out
    out = cli("zhang.wei", "orders", "list", "--region", "云贵川渝").output
    assert a not in out and b not in out and "no orders match" in out
    rows = json.loads(cli("zhang.wei", "orders", "list", "--json").stdout)
    assert {r["work_order_id"] for r in rows} == {a, b}
    assert all("events" not in r and r["state_label"] for r in rows)
    r = cli("zhang.wei", "orders", "list", "--state", "flying")
    assert r.exit_code == 2 and "flying" in r.output


# --- the SLA clocks -------------------------------------------------------------------


def clocks(cli: Cli, rid: str) -> dict[str, dict]:
    r = cli("zhang.wei", "orders", "sla", rid, "--json")
    assert r.exit_code == 0, r.output
    return {c["name"]: c for c in json.loads(r.stdout)}


def test_the_sla_clocks_follow_the_history_and_the_settings_file(cli):
    # a fault that stops the system, opened at 08:00: contact due 08:15, response 09:00,
    # on site 11:00 (the test's settings file); warnings at 80 % of each budget
    rid = new_order(cli)
    cli.at(8, 10)
    assert cli("eng.a", "orders", "do", rid, "contact").exit_code == 0
    cli.at(9, 30)
    assert cli("eng.a", "orders", "do", rid, "respond").exit_code == 0
    cli.at(10, 0)
    c = clocks(cli, rid)
    assert c["first_contact"]["met_at"] == "2026-12-02T08:10:00"
    assert not c["first_contact"]["breached"]
    assert c["response"]["due_at"] == "2026-12-02T09:00:00" and c["response"]["breached"]
    assert c["on_site"]["due_at"] == "2026-12-02T11:00:00"
    assert not c["on_site"]["breached"] and not c["on_site"]["warn"]  # 2 h of 3 h gone
    cli.at(10, 30)  # 2.5 h of 3 h: past 80 %
    assert clocks(cli, rid)["on_site"]["warn"]
    out = cli("zhang.wei", "orders", "sla", rid).output
    assert "预警 warning (30m left)" in out and "超时 breached (met late)" in out
    assert "到场 on site" in out
    cli.at(11, 5)
    c = clocks(cli, rid)
    assert c["on_site"]["breached"] and c["on_site"]["met_at"] is None
    listed = cli("zhang.wei", "orders", "list").output
    assert "breach" in listed and "response" in listed and "on site" in listed


def test_sla_is_for_work_orders_only():
    assert "sla" not in records_group("complaints").commands


# --- another type: subscriptions (ids are names) --------------------------------------


def test_a_subscription_is_registered_under_the_enterprise_name(cli):
    sets = ["enterprise=苏州某化工", "region=苏皖沪", "stations=MN_SU_001,MN_SU_002",
            "contract_no=HT-2026-001", "start=2026-12-01", "end=2027-11-30"]
    args = [a for s in sets for a in ("--set", s)]
    r = cli("zhang.wei", "subscriptions", "new", *args)
    assert r.exit_code == 2 and "--id" in r.output
    r = cli("zhang.wei", "subscriptions", "new", "--id", "苏州某化工", *args)
    assert r.exit_code == 0 and "appended as event 1" in r.output, r.output
    shown = json.loads(cli("wang.fang", "subscriptions", "show", "苏州某化工",
                           "--json").stdout)
    assert shown["record"]["stations"] == ["MN_SU_001", "MN_SU_002"]
    assert shown["record"]["end"] == "2027-11-30" and shown["state"] == "registered"
    assert shown["next"]  # the register offers the next steps (review, open ...)
    r = cli("eng.y", "subscriptions", "show", "苏州某化工")
    assert r.exit_code == 1 and "may not see" in r.output
    assert "苏州某化工" in cli("eng.a", "subscriptions", "list").output


@pytest.mark.parametrize("key,record_id,sets,field,value", [
    ("complaints", "", ["complainant=王经理", "contact=13900000000", "organisation=某化工",
                        "region=苏皖沪", "received_via=phone", "text=工程师迟到"],
     "organisation", "某化工"),
    ("inspections", "", ["kind=site", "region=苏皖沪", "station=MN_SU_001",
                         "template=site", "items=采样管路", "items=分析仪标定",
                         "due=2026-12-31", "inspector=eng.a"], "items", ["采样管路", "分析仪标定"]),
    ("visits", "VISIT-WO-1", ["reason=work_order", "work_order_id=WO-1", "enterprise=某化工",
                              "region=苏皖沪", "due=2026-12-09"], "enterprise", "某化工"),
])
def test_every_type_is_created_listed_and_scoped_the_same_way(cli, key, record_id, sets,
                                                            field, value):
    """The same commands over each type's own module: its creating form (a LIST field
    from a repeated key), its id (made, or named with --id), its region's scope."""
    args = [a for s in sets for a in ("--set", s)] + (["--id", record_id] if record_id
                                                      else [])
    r = cli("zhang.wei", key, "new", *args)
    assert r.exit_code == 0 and "appended as event 1" in r.output, r.output
    rid = r.stdout.splitlines()[0].split(":")[0].split()[-1]
    if record_id:
        assert rid == record_id
    else:
        assert rid.startswith(f"{TYPES[key].prefix}-{DAY:%Y%m%d}-")
    shown = json.loads(cli("wang.fang", key, "show", rid, "--json").stdout)
    assert shown["record"][field] == value and shown["record"]["region"] == "苏皖沪"
    assert [h["kind"] for h in shown["history"]] == [TYPES[key].create_kind]
    assert shown["next"], shown  # the state offers its next verbs
    assert rid in cli("eng.a", key, "list").stdout
    assert rid not in cli("eng.y", key, "list").stdout
    r = cli("eng.y", key, "history", rid)
    assert r.exit_code == 1 and "may not see" in r.output


# --- pure helpers ---------------------------------------------------------------------


def test_parse_sets_keeps_the_first_equals_and_repeats_as_lists():
    assert parse_sets(["a=b=c", "x=1", "x=2", "e="]) == {"a": "b=c", "x": ["1", "2"],
                                                          "e": ""}
    with pytest.raises(click.BadParameter):
        parse_sets(["=v"])


@given(st.dictionaries(st.text(min_size=1).filter(lambda s: "=" not in s),
                       st.text(), max_size=6))
def test_parse_sets_inverts_key_equals_value(raw):
    keys = {k.strip() for k in raw}
    if len(keys) != len(raw) or "" in keys:
        return
    assert parse_sets([f"{k}={v}" for k, v in raw.items()]) == {k.strip(): v
                                                                for k, v in raw.items()}


def test_jsonable_turns_a_state_into_json():
    e = Event("work_order", "W", 1, "r", "open", "a", DAY, {"x": [1]}, "cli")
    out = jsonable({"at": DAY, "d": DAY.date(), "s": frozenset({"b", "a"}), "e": (e,)})
    assert json.loads(json.dumps(out)) == {
        "at": "2026-12-02T08:00:00", "d": "2026-12-02", "s": ["a", "b"],
        "e": [{"stream": "work_order", "record_id": "W", "seq": 1, "request_id": "r",
               "kind": "open", "actor": "a", "at": "2026-12-02T08:00:00",
               "payload": {"x": [1]}, "source": "cli"}]}


# --- property: the exit code is the ledger's answer -----------------------------------

_PAYLOADS = {
    "assign": ["engineer=eng.b"], "transfer": ["from=eng.a", "to=eng.b", "reason=休假"],
    "contact": [], "respond": [], "arrive": [], "close": [], "note": ["text=日结"],
    "resolve": ["cause=c", "action=a", "result=r", "report=SR.pdf"],
    "verify": ["verification=ok"], "reopen": ["reason=又坏了"],
    "escalate": ["level=major_fault", "note=n"],
}


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(sorted(USERS)), st.sampled_from(sorted(_PAYLOADS)),
                          st.booleans()), min_size=1, max_size=6))
def test_exit_code_zero_exactly_when_the_ledger_appended(cli, steps):
    """Any verbs by any users, some with a stale --expect: exit 0 iff an event was
    appended by that person; exit 1 iff the record did not move."""
    rid = new_order(cli)
    for who, verb, stale in steps:
        before = cli.events("work_order", rid)
        args = [a for s in _PAYLOADS[verb] for a in ("--set", s)]
        if stale:
            args += ["--expect", str(len(before) - 1)]
        r = cli(who, "orders", "do", rid, verb, *args)
        after = cli.events("work_order", rid)
        assert r.exit_code in (0, 1), r.output
        if r.exit_code == 0:
            assert len(after) > len(before) and after[len(before)].actor == who
            assert after[len(before)].kind == verb and not stale
        else:
            assert after == before
            assert ("conflict" in r.output) == stale or "may not" in r.output, r.output
