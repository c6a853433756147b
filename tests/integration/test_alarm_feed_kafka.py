"""The alarm feed of `hj212 run` reads a real alarms topic from where it stood at start."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.alarm_feed import AlarmFeed


async def _create(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()


async def _send(bootstrap: str, topic: str, messages: list[dict[str, str]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for m in messages:
            await producer.send_and_wait(topic, json.dumps(m).encode(), key=m["mn"].encode())
    finally:
        await producer.stop()


def test_one_line_per_opened_episode_and_nothing_from_before_the_start(stack) -> None:
    topic = f"test.alarm-feed.{uuid.uuid4().hex[:8]}"
    bootstrap = stack.kafka_bootstrap
    asyncio.run(_create(bootstrap, topic))
    old = {"mn": "OLD", "code": "a21026", "rule": "negative", "severity": "warning",
           "transition": "open", "message": "before the feed started"}
    asyncio.run(_send(bootstrap, topic, [old]))
    feed = AlarmFeed(bootstrap, topic)
    feed.start()
    try:
        time.sleep(3)  # assigned and at the end
        new = {**old, "mn": "NEW", "message": "after"}
        asyncio.run(_send(bootstrap, topic, [new, {**new, "transition": "update"},
                                             {**new, "transition": "clear"}]))
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sum(feed.counts.values()) < 3:
            lines += feed.drain()
            time.sleep(0.2)
        lines += feed.drain()
    finally:
        feed.stop()
    assert len(lines) == 1 and "NEW" in lines[0] and "negative" in lines[0]
    assert feed.counts == {"open": 1, "update": 1, "clear": 1}
