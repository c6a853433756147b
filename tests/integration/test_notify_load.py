"""`hj212 notify` under load, measured on the real stack (issue 11's targets):
- alarm published -> delivered with group_wait 0 at 100 alarms/s: p99 under 2 s;
- 10,000 alarms in one minute to eight WeCom robots: each robot takes at most 20
  messages in any minute (the local robots refuse a 21st, and none is refused), every
  alarm in exactly one message (counted from the messages' own counts and the delivery
  log's item lists of the messages received).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import timedelta

import pytest

from pipeline.notify.local_receiver import LocalReceiver
from tests.integration.test_notify_service import T0, NotifyRun, message

pytestmark = pytest.mark.integration

REGIONS = ["辽吉黑蒙", "京津冀鲁", "晋豫陕", "宁青甘新", "云贵川渝", "粤桂湘琼鄂", "浙闽赣",
           "苏皖沪"]


def test_latency_at_100_alarms_per_second_group_wait_0(stack, tmp_path):
    srv = LocalReceiver(webhooks={"hook": ""}).start()
    routes = f"""
version = "load-latency"
[defaults]
group_wait_s = 0
group_interval_s = 1
[receivers.hook]
kind = "webhook"
url = "{srv.webhook_url('hook')}"
[root]
receivers = ["hook"]
"""
    run = NotifyRun(stack, tmp_path, routes, receiver=srv, secrets="", smtp_port=25)
    try:
        run.stations([(f"LT{i:03d}", REGIONS[i % 8], f"企业{i}") for i in range(100)])
        run.start()
        run.wait("notify started", lambda: "notify.started" in run.log.read_text(), 30)
        time.sleep(2)  # partitions assigned
        n = 1500
        msgs = []
        for k in range(n):
            mn = f"LT{k % 100:03d}"
            msgs.append((mn, k))
        # the publish time goes in the evidence, taken as each message is sent
        import asyncio

        from aiokafka import AIOKafkaProducer

        async def go() -> None:
            p = AIOKafkaProducer(bootstrap_servers=run.bootstrap, linger_ms=0)
            await p.start()
            start = time.monotonic()
            try:
                for k, (mn, _) in enumerate(msgs):
                    value = message(mn, f"rule{k // 100}", opened=T0 + timedelta(seconds=k),
                                    sent_ms=int(time.time() * 1000))
                    await p.send(run.topic, value, key=mn.encode())
                    wait = start + (k + 1) / 100 - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                await p.flush()
            finally:
                await p.stop()

        asyncio.run(go())
        run.wait("all delivered", lambda: sum(len(m.body["items"])
                                              for m in srv.messages()) >= n, 60)
        lat = sorted(m.at * 1000 - i["alarm"]["evidence"]["sent_ms"]
                     for m in srv.messages() for i in m.body["items"])
        p50, p99 = lat[len(lat) // 2], lat[int(len(lat) * 0.99)]
        print(f"\n[notify latency] {n} alarms at 100/s, {len(srv.messages())} messages: "
              f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {lat[-1]:.0f} ms")
        assert len(lat) == n and p99 < 2000
    finally:
        run.cleanup()
        srv.stop()


def test_storm_of_10000_in_a_minute_within_the_robots_limits_nothing_dropped(stack,
                                                                            tmp_path):
    keys = {f"wc{i}": f"key-{i}" for i in range(8)}
    srv = LocalReceiver(wecom=keys).start()
    receivers = "\n".join(f'[receivers.wc{i}]\nkind = "wecom"\nurl = "{srv.wecom_url}"'
                          for i in range(8))
    routes_ = "\n".join(f'[[routes]]\nmatch = {{ region = "{r}" }}\nreceivers = ["wc{i}"]'
                        for i, r in enumerate(REGIONS))
    routes = f"""
version = "load-storm"
[defaults]
group_wait_s = 0
group_interval_s = 5
repeat_interval_s = 86400
{receivers}
{routes_}
[root]
receivers = ["wc0"]
"""
    secrets = "\n".join(f'[wc{i}]\nkey = "key-{i}"' for i in range(8))
    run = NotifyRun(stack, tmp_path, routes, receiver=srv, secrets=secrets, smtp_port=25)
    try:
        run.stations([(f"SS{i:03d}", REGIONS[i % 8], f"企业{i}") for i in range(320)])
        n = 10_000
        msgs = [(f"SS{k % 320:03d}", message(f"SS{k % 320:03d}", f"rule{k // 320}",
                                             opened=T0 + timedelta(seconds=k // 320)))
                for k in range(n)]
        want = {json.loads(v)["alarm_id"] for _, v in msgs}
        run.start()
        started = time.monotonic()
        run.publish(msgs, per_s=n / 60)
        published = time.monotonic() - started

        def counted() -> int:
            per_id = {}
            for m in srv.messages():
                got = re.search(r"通知编号 (N-\w+) · 共 (\d+) 条", m.text)
                assert got, m.text[-200:]
                per_id[got.group(1)] = int(got.group(2))
            return sum(per_id.values())

        run.wait("all 10,000 delivered", lambda: counted() >= n, 150)
        took = time.monotonic() - started
        # the log's item lists of the messages the robots received
        received = {re.search(r"通知编号 (N-\w+)", m.text).group(1) for m in srv.messages()}
        rows = {r["notification_id"]: r for r in run.deliveries()}
        ids = Counter(a for nid in received for a in rows[nid]["alarm_ids"])
        assert set(ids) == want and max(ids.values()) == 1
        worst = 0
        for name in keys:
            times = sorted(m.at for m in srv.messages(name))
            for i, at in enumerate(times):
                worst = max(worst, sum(1 for t in times[i:] if t < at + 60))
        rate_refusals = [r for r in srv.refused if r[1] == "rate"]
        per_robot = Counter(m.name for m in srv.messages())
        print(f"\n[notify storm] {n} alarms published in {published:.0f} s, all delivered "
              f"after {took:.0f} s in {len(srv.messages())} messages "
              f"({dict(sorted(per_robot.items()))}); most in any 60 s at one robot: "
              f"{worst}; refused for rate: {len(rate_refusals)}; largest message "
              f"{max(len(m.text.encode()) for m in srv.messages())} bytes")
        assert worst <= 20 and not rate_refusals and srv.violations == []
    finally:
        run.cleanup()
        srv.stop()
