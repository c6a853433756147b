"""The alarms topic as one summary line per opened episode, for `hj212 run`'s screen.

A background thread runs an aiokafka consumer (no group, from the topic's end when it
starts) and hands formatted lines to the caller's loop through a queue. Only openings are
shown: updates and clears of an episode would bury the new ones; the counts by transition
are kept for the summary.
"""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections import Counter
from typing import Any

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped,unused-ignore]

from pipeline.detect.names import canonical, raised_line


def alarm_line(msg: dict[str, Any]) -> str:
    """``ALARM  major     MN  w01018  zero_streak  message · 发出 ...`` from an alarm
    message: the rule under its vocabulary name (an older name mapped), and when, from
    what it was raised (a message from before those fields: when its evidence began)."""
    code = msg.get("code") or "-"
    rule = canonical(str(msg.get("rule", "")))
    when = raised_line(msg.get("raised_at"), msg.get("raised_data_time"),
                       msg.get("evidence_began") or msg.get("opened_at"),
                       _int(msg.get("opened_cn")) or _int(msg.get("cn")))
    return (f"ALARM  {msg.get('severity', ''):<8} {msg.get('mn', '')}  {code:<7} "
            f"{rule:<20} {msg.get('message', '')}" + (f" · {when}" if when else ""))


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class AlarmFeed:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.lines: queue.Queue[str] = queue.Queue()
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alarm-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def drain(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        try:
            asyncio.run(self._consume())
        except Exception as exc:  # the feed is a convenience: the run goes on without it
            self.lines.put(f"[run] alarm feed stopped: {exc!r}")

    async def _consume(self) -> None:
        # no group: every partition, from its end as the feed starts
        consumer = AIOKafkaConsumer(self.topic, bootstrap_servers=self.bootstrap,
                                    enable_auto_commit=False, auto_offset_reset="latest")
        await consumer.start()
        try:
            while not self._stop.is_set():
                got = await consumer.getmany(timeout_ms=500)
                for records in got.values():
                    for rec in records:
                        self._take(rec.value)
        finally:
            await consumer.stop()

    def _take(self, value: bytes | None) -> None:
        try:
            msg = json.loads(value or b"")
        except ValueError:
            return
        transition = str(msg.get("transition", ""))
        self.counts[transition] += 1
        if transition == "open":
            self.lines.put(alarm_line(msg))

