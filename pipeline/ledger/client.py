"""Submitting changes to the ledger and reading records, from synchronous code (the web
app, the CLI, a service's thread).

``LedgerClient.submit`` publishes the change to the ledger topic, keyed by record (so it
reaches the one writer of that record), waits until Kafka has it, then polls
``ledger_replies`` for the writer's answer. No answer within the wait is not a failure:
the change is in Kafka and will be answered; the caller gets ``PENDING`` and can look
again later with ``LedgerClient.reply``.

Why aiokafka in a private event-loop thread: it is what the platform already runs (no
second Kafka client to install and configure), and the callers are synchronous. One
thread and one producer per client, shared by every thread that submits through it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, TypeVar

from pipeline.config import Settings
from pipeline.ledger import queries
from pipeline.ledger.codec import change_to_json, record_key
from pipeline.ledger.log import LazyLog
from pipeline.ledger.model import PENDING, Change, Event, Reply
from pipeline.ledger.queries import histories, history, last_seq  # re-exported for callers
from pipeline.store.client import ClickHouse, StoreError
from pipeline.timebase import now_local

__all__ = [
    "PENDING_MESSAGE",
    "LedgerClient",
    "LedgerError",
    "histories",
    "history",
    "last_seq",
    "new_change",
]

log = LazyLog("ledger.client")

T = TypeVar("T")

PENDING_MESSAGE = "已排队，写入服务暂未应答 / queued: the ledger writer has not answered yet"

#: seconds between reply polls: short at first (the writer usually answers within tens
#: of milliseconds), then at most this
_POLL_FIRST_S = 0.02
_POLL_MAX_S = 0.08
#: seconds Kafka may take to take a change before submit gives up with an error
_SEND_TIMEOUT_S = 15.0


class LedgerError(RuntimeError):
    """A change could not be handed to Kafka; the message names the topic and the fix."""


def new_change(stream: str, record_id: str, kind: str, actor: str, expected_seq: int,
               payload: Mapping[str, Any] | None = None, source: str = "") -> Change:
    """A change with a fresh request id (uuid4 hex) and ``submitted_at`` now (CST)."""
    return Change(request_id=uuid.uuid4().hex, stream=stream, record_id=record_id,
                  kind=kind, actor=actor, expected_seq=expected_seq,
                  payload=dict(payload or {}), source=source, submitted_at=now_local())


class LedgerClient:
    """Submit changes and wait for the writer's answers; thread-safe."""

    new_change = staticmethod(new_change)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.topics.ledger
        self._lock = threading.Lock()  # guards starting and stopping the producer thread
        self._ch_lock = threading.Lock()  # the one ClickHouse connection is not shareable
        self._ch: ClickHouse | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._producer: Any = None

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        """Open the Kafka producer and the ClickHouse connection now rather than on the
        first submit (a page or service warming up); errors as submit's."""
        self._ensure_producer()
        self._read(lambda ch: ch.version())

    # --- submitting ------------------------------------------------------------------

    def submit(self, change: Change, wait_s: float | None = None) -> Reply:
        """Publish ``change`` and wait up to ``wait_s`` (default
        ``settings.ledger.reply_wait_s``) for the writer's reply; ``PENDING`` if none."""
        self.publish(change)
        return self.wait(change.request_id,
                         self.settings.ledger.reply_wait_s if wait_s is None else wait_s)

    def publish(self, change: Change) -> None:
        """Hand ``change`` to Kafka (acknowledged by the brokers); no waiting for the
        writer. ``LedgerError`` if Kafka does not take it."""
        loop = self._ensure_producer()
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(
            self._producer.send_and_wait(
                self.topic, change_to_json(change),
                key=record_key(change.stream, change.record_id).encode()), loop)
        try:
            fut.result(timeout=_SEND_TIMEOUT_S)
        except Exception as exc:  # timeouts and the client's many error kinds alike
            fut.cancel()
            raise LedgerError(
                f"Kafka did not take change {change.request_id} for "
                f"{record_key(change.stream, change.record_id)!r} on topic {self.topic!r} "
                f"within {_SEND_TIMEOUT_S:.0f} s ({type(exc).__name__}: {exc}); fix: check "
                "that Kafka runs (`hj212 stack status`) and the topic exists (`hj212 "
                "ledger` creates it)") from None
        log.debug("change.published", request_id=change.request_id, stream=change.stream,
                  record_id=change.record_id, kind=change.kind)

    def wait(self, request_id: str, wait_s: float) -> Reply:
        """The writer's reply to ``request_id``, polled for up to ``wait_s`` seconds;
        ``PENDING`` (seq 0) if it has not answered by then."""
        deadline = time.monotonic() + max(0.0, wait_s)
        pause = _POLL_FIRST_S
        while True:
            found = self.reply(request_id)
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0:
                return Reply(request_id, PENDING, 0, PENDING_MESSAGE)
            time.sleep(min(pause, left))
            pause = min(pause * 1.5, _POLL_MAX_S)

    def reply(self, request_id: str) -> Reply | None:
        """The writer's reply, or None while it has not answered."""
        return self._read(lambda ch: queries.reply(ch, request_id))

    # --- reading records (through this client's connection) ---------------------------

    def history(self, stream: str, record_id: str) -> list[Event]:
        return self._read(lambda ch: queries.history(ch, stream, record_id))

    def last_seq(self, stream: str, record_id: str) -> int:
        return self._read(lambda ch: queries.last_seq(ch, stream, record_id))

    # --- plumbing --------------------------------------------------------------------

    def _read(self, fn: Callable[[ClickHouse], T]) -> T:
        with self._ch_lock:
            if self._ch is None:
                self._ch = ClickHouse(self.settings.clickhouse.dsn)
            try:
                return fn(self._ch)
            except StoreError:
                # a dropped connection: the next call opens a new one
                self._ch.close()
                self._ch = None
                raise

    def _ensure_producer(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None:
                return self._loop
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="ledger-client",
                                      daemon=True)
            thread.start()
            try:
                self._producer = asyncio.run_coroutine_threadsafe(
                    self._start_producer(), loop).result(timeout=_SEND_TIMEOUT_S)
            except Exception as exc:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(timeout=5)
                loop.close()
                raise LedgerError(
                    f"cannot connect to Kafka at HJ212_KAFKA__BOOTSTRAP="
                    f"{self.settings.kafka.servers!r} ({type(exc).__name__}: {exc}); fix: "
                    "start it (`hj212 stack up`) or correct the address") from None
            self._loop, self._thread = loop, thread
            return loop

    async def _start_producer(self) -> Any:
        from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped,unused-ignore]

        # idempotent: a retried send after a lost ack is not a second change in the topic
        producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka.servers, acks="all",
            enable_idempotence=True, linger_ms=0, request_timeout_ms=10_000,
            client_id=f"{self.settings.kafka.client_id}-ledger-client")
        await producer.start()
        return producer

    def close(self) -> None:
        """Stop the producer and its thread, and close the ClickHouse connection."""
        with self._lock:
            loop, thread, producer = self._loop, self._thread, self._producer
            self._loop = self._thread = self._producer = None
        if loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(producer.stop(), loop).result(timeout=10)
            except Exception as exc:  # closing: say so, and go on
                log.warning("client.close", error=repr(exc))
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(timeout=5)
            loop.close()
        with self._ch_lock:
            if self._ch is not None:
                self._ch.close()
                self._ch = None
