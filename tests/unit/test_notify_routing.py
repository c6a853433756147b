"""The routing file: the sample loads, routes match as documented, mistakes are named."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipeline.notify.routing import RoutingError, load_routing, parse_routing
from tests.unit.notify_helpers import alarm, routing


def names(r, a):
    return [(t.route, t.receiver) for t in r.targets(r.with_365(a))]


def test_sample_routes_each_region_to_its_groups_and_critical_to_supervisors():
    r = load_routing()
    assert {"supervisors", "yunguichuanyu_365", "yunguichuanyu_eng"} <= set(r.receivers)
    ent365 = sorted(r.service365)[0]
    # a 365 enterprise in 云贵川渝: its 365 group; an ordinary one: the engineers' group
    assert names(r, alarm(enterprise=ent365)) == [("云贵川渝-365", "yunguichuanyu_365")]
    assert names(r, alarm(enterprise="乙公司")) == [("云贵川渝", "yunguichuanyu_eng")]
    # offline at a 365 enterprise: the 365 group (continue) and the engineers
    assert names(r, alarm(enterprise=ent365, rule="offline", code="")) == [
        ("云贵川渝-365", "yunguichuanyu_365"), ("云贵川渝-engineers", "yunguichuanyu_eng")]
    # critical: supervisors first (continue), then the region's route
    assert names(r, alarm(severity="critical", region="苏皖沪")) == [
        ("critical-supervisors", "supervisors"), ("苏皖沪", "suwanhu_eng")]
    # no region (unregistered station): the root's receiver
    assert names(r, alarm(region="")) == [("root", "duty_centre")]
    sup = r.targets(alarm(severity="critical"))[0]
    assert sup.params.group_wait_s == 0 and sup.params.escalate_after_min == 0
    assert r.targets(alarm())[0].params.escalate_after_min == 30


def test_first_match_wins_unless_continue_and_params_inherit():
    r = routing("""
[[routes]]
name = "one"
match = { rule = ["over_limit", "negative"], severity = "major" }
receivers = ["b"]
group_by = "enterprise"
[[routes.routes]]
name = "child"
match = { mn = ["MN9"] }
receivers = ["boss"]
[[routes]]
name = "two"
match = { rule = "over_limit" }
receivers = ["boss"]
""")
    t = r.targets(alarm())
    assert [(x.route, x.receiver) for x in t] == [("one", "b")]
    assert t[0].params.group_by == "enterprise" and t[0].params.repeat_interval_s == 3600
    assert t[0].group_key(alarm()) == "ent:甲公司"
    child = r.targets(alarm(mn="MN9"))
    assert [(x.route, x.receiver) for x in child] == [("child", "boss")]
    assert child[0].params.group_by == "enterprise"  # inherited from its parent
    assert [x.route for x in r.targets(alarm(severity="warning"))] == ["two"]
    assert [x.route for x in r.targets(alarm(rule="spike"))] == ["root"]


def test_service_365_comes_from_the_routing_files_list():
    r = routing("""
[service365]
enterprises = ["甲公司"]
[[routes]]
match = { service_365 = true }
receivers = ["b"]
""")
    assert r.with_365(alarm()).service_365 is True
    assert r.with_365(replace(alarm(), enterprise="丙")).service_365 is False
    assert [t.receiver for t in r.targets(r.with_365(alarm()))] == ["b"]


@pytest.mark.parametrize(("extra", "needle"), [
    ('[[routes]]\nreceivers = ["nobody"]', "names receiver 'nobody'"),
    ('[[routes]]\nmatch = { colour = "red" }\nreceivers = ["a"]', "unknown label 'colour'"),
    ('[[routes]]\nmatch = { severity = "fatal" }\nreceivers = ["a"]', "severity 'fatal'"),
    ('[[routes]]\nreceivers = ["a"]\nescalate_after_min = 5', "to nobody"),
    ('[quiet_hours]\nstart = "22:00"\nend = "7"', "HH:MM"),
    ('[quiet_hours]\nstart = "22:00"\nend = "07:00"\nseverities = ["critical"]',
     "critical is always sent"),
])
def test_mistakes_name_the_entry_and_the_fix(extra, needle):
    with pytest.raises(RoutingError, match="fix") as err:
        routing(extra)
    assert needle in str(err.value)


def test_robot_limit_cannot_be_raised_above_twenty():
    with pytest.raises(RoutingError, match="at most 20"):
        parse_routing('[receivers.a]\nkind = "wecom"\nper_minute = 30\n[root]\n'
                      'receivers = ["a"]')


def test_quiet_hours_across_midnight():
    from datetime import time

    r = routing('[quiet_hours]\nstart = "22:00"\nend = "07:00"')
    assert r.is_quiet("warning", time(23, 0)) and r.is_quiet("info", time(6, 59))
    assert not r.is_quiet("warning", time(7, 0)) and not r.is_quiet("critical", time(23))
    assert not r.is_quiet("major", time(23, 0))


def test_rules_match_under_their_vocabulary_names_old_and_new():
    """An alarm row written under an older name (missing_data) goes where ``missing``
    goes, and a routing file still naming the older one matches today's alarms."""
    r = load_routing()
    new = names(r, alarm(rule="missing", code=""))
    assert ("云贵川渝-engineers", "yunguichuanyu_eng") in new
    assert names(r, alarm(rule="missing_data", code="")) == new
    old_file = routing("""
[[routes]]
name = "gaps"
match = { rule = ["missing_data", "constant"] }
receivers = ["b"]
""")
    assert [t.route for t in old_file.targets(alarm(rule="missing", code=""))] == ["gaps"]
    assert [t.route for t in old_file.targets(alarm(rule="constant_streak"))] == ["gaps"]
    assert [t.route for t in old_file.targets(alarm(rule="over_limit"))] == ["root"]
