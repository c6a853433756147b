"""The ledger writer (pipeline/ledger/writer.py) for suites that act through it: run in a
thread of the test process on a topic of the suite's own, stopped at the end, and the
topic dropped afterwards. Shared by tests/integration/test_duty_flow.py and the browser
suite (tests/browser/conftest.py), so both drive the same writer the same way."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from pipeline.config import Settings
from pipeline.ledger.writer import Writer
from pipeline.stack import kafka


class WriterThread:
    """The ledger writer on its own event loop in a thread, stopped at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.writer: Writer | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="test-ledger-writer",
                                       daemon=True)
        self.loop = asyncio.new_event_loop()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.writer = Writer(self.settings)
            self.loop.run_until_complete(self.writer.run())
        except BaseException as exc:  # reported by start()/stop()'s callers
            self.error = exc

    def start(self, timeout: float = 60.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.error is not None:
                raise self.error
            if self.writer is not None and self.writer.ready.is_set():
                return
            time.sleep(0.05)
        raise TimeoutError(f"the ledger writer on topic {self.settings.topics.ledger!r} "
                           f"did not get ready in {timeout:.0f} s; is Kafka up "
                           "(`hj212 stack status`)?")

    def stop(self) -> None:
        if self.writer is not None:
            self.loop.call_soon_threadsafe(self.writer.stop)
        self.thread.join(timeout=30)


def drop_topic(bootstrap: str, topic: str) -> None:
    """Delete a suite's topic (best effort: a leftover test topic harms nobody)."""
    with contextlib.suppress(Exception):
        kafka.delete_topics(bootstrap, [topic])
