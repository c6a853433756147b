"""Alarms and routing files for the notify unit tests."""

from __future__ import annotations

from pipeline.notify.model import Alarm
from pipeline.notify.routing import Routing, parse_routing

T0_MS = 1_717_200_000_000  # 2024-06-01 08:00:00 CST


def alarm(mn: str = "MN1", rule: str = "over_limit", severity: str = "major",
          transition: str = "open", code: str = "w01018", region: str = "云贵川渝",
          enterprise: str = "甲公司", opened: str = "2024-06-01 07:59:00") -> Alarm:
    return Alarm(alarm_id=f"{mn}/{code}/{rule}/{opened.replace('-', '').replace(' ', '')}",
                 mn=mn, code=code, rule=rule, transition=transition, severity=severity,
                 state="cleared" if transition == "clear" else "open", opened_at=opened,
                 last_seen=opened, cleared_at=opened if transition == "clear" else None,
                 message="测试", evidence={"value": 12.5, "threshold": 10},
                 region=region, enterprise=enterprise, outlet="1号排口")


def routing(extra: str = "", defaults: str = "") -> Routing:
    base = {"group_wait_s": "30", "group_interval_s": "300", "repeat_interval_s": "3600"}
    for line in defaults.splitlines():
        key, _, value = line.partition("=")
        base[key.strip()] = value.strip()
    lines = "\n".join(f"{k} = {v}" for k, v in base.items())
    return parse_routing(f"""
version = "t1"
[defaults]
{lines}
[receivers.a]
kind = "wecom"
[receivers.b]
kind = "dingtalk"
[receivers.boss]
kind = "webhook"
url = "http://127.0.0.1:1/x"
[root]
receivers = ["a"]
{extra}
""")
