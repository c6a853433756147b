"""``hj212 ledger``: the one writer of each record (see pipeline/ledger/__init__.py).

One aiokafka consumer in group ``settings.ledger.group_id`` on ``settings.topics.ledger``
(changes keyed by ``stream/record_id``, so a record's changes all reach one partition and
so one writer). Per poll:

1. read the histories of the batch's records not in the cache (one query per stream) and
   the replies already written for its request ids (one query);
2. answer every change in order (``batch.plan``: replays get their first answer);
3. append the events, then write the replies (one insert each), then commit the offsets.

Why the cache is exact: this process is the only appender of the records of the
partitions it owns, and it writes before it commits. It is dropped for a partition when
the partition is revoked (the next owner reads from ClickHouse), and for the records of
a batch whose write failed (an insert that raised may still have landed: the retry reads
the truth back, and ``plan`` then finds its own events there and does not append twice).

Why a rebalance cannot make two writers of one record: the revoke callback waits for the
batch in hand (written and committed) before the group moves the partition, and a batch
fetched before a rebalance is dropped and read again from the committed offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener  # type: ignore[import-untyped,unused-ignore]
from aiokafka.errors import CommitFailedError, IllegalStateError  # type: ignore[import-untyped,unused-ignore]
from aiokafka.structs import OffsetAndMetadata, TopicPartition  # type: ignore[import-untyped,unused-ignore]

from pipeline.config import Settings
from pipeline.ledger import queries
from pipeline.ledger.batch import Bad, Plan, RecordKey, plan
from pipeline.ledger.codec import (
    ChangeFormatError,
    change_from_json,
    event_columns,
    reply_columns,
    request_id_of,
)
from pipeline.ledger.log import LazyLog
from pipeline.ledger.model import Change, Check, Event
from pipeline.ledger.rules import load_errors, streams
from pipeline.rebalance import read_again, resume_assigned
from pipeline.store.client import ClickHouse, StoreError
from pipeline.timebase import now_local

log = LazyLog("ledger.writer")


class WriterError(RuntimeError):
    """The writer cannot start or go on; the message names the thing and the fix."""


@dataclass(frozen=True, slots=True)
class WriterOptions:
    #: most changes per poll, so per pair of inserts
    batch_max: int = 1_000
    #: records whose history is kept in memory (least recently used dropped first)
    cache_records: int = 50_000
    #: longest pause between retries of a failed ClickHouse read or write
    max_backoff: float = 30.0
    #: seconds between progress lines
    progress_seconds: float = 30.0


class HistoryCache:
    """Record -> (partition, history in seq order), least recently used dropped first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._items: OrderedDict[RecordKey, tuple[int, list[Event]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: RecordKey) -> list[Event] | None:
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, key: RecordKey, partition: int, history: list[Event]) -> None:
        self._items[key] = (partition, history)
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def drop(self, keys: Iterable[RecordKey]) -> None:
        for key in keys:
            self._items.pop(key, None)

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        gone = set(partitions)
        keys = [k for k, (p, _) in self._items.items() if p in gone]
        self.drop(keys)
        return len(keys)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # the batch in hand is written and committed before the partitions move on
        async with self.writer.lock:
            self.writer.generation += 1
            n = self.writer.cache.drop_partitions(tp.partition for tp in revoked)
        if revoked:
            log.info("partitions.revoked", partitions=sorted(tp.partition for tp in revoked),
                     records_dropped=n)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        async with self.writer.lock:
            self.writer.generation += 1
        log.info("partitions.assigned", partitions=sorted(tp.partition for tp in assigned))


class Writer:
    """The ledger writer service; ``run()`` until ``stop()``.

    ``checks`` adds or replaces streams' checks beside those of the installed entry
    points (tests, and ``hj212 ledger --extra-stream``)."""

    def __init__(self, settings: Settings, checks: Mapping[str, Check] | None = None,
                 options: WriterOptions | None = None) -> None:
        self.settings = settings
        self.options = options or WriterOptions()
        self.checks: dict[str, Check] = {**streams(), **dict(checks or {})}
        self.topic = settings.topics.ledger
        self.cache = HistoryCache(self.options.cache_records)
        self.lock = asyncio.Lock()
        #: bumped by every rebalance: a batch fetched in an earlier one is read again
        self.generation = 0
        self.stats: Counter[str] = Counter()
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._ch: ClickHouse | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def stop(self) -> None:
        self._stop.set()

    # --- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        await ensure_topic(self.settings)
        self._ch = await asyncio.to_thread(self._connect)
        for name, error in load_errors().items():
            if name not in self.checks:
                log.error("stream.unloadable", stream=name, error=error,
                          note="its changes are refused as unknown until this is fixed")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka.servers,
            group_id=self.settings.ledger.group_id,
            client_id=f"{self.settings.kafka.client_id}-ledger",
            enable_auto_commit=False,
            # a new group answers every change still in the topic, oldest first
            auto_offset_reset="earliest",
            max_poll_records=self.options.batch_max,
            # a person waits for the answer: a long-poll fetch must not hold a change
            fetch_max_wait_ms=100,
        )
        consumer.subscribe([self.topic], listener=_Rebalance(self))
        self._consumer = consumer
        await consumer.start()
        log.info("writer.ready", topic=self.topic, group=self.settings.ledger.group_id,
                 streams=sorted(self.checks))
        self.ready.set()
        last_progress = time.monotonic()
        try:
            while not self._stop.is_set():
                generation = self.generation
                got = await consumer.getmany(timeout_ms=500,
                                             max_records=self.options.batch_max)
                if got:
                    async with self.lock:
                        if generation != self.generation:
                            await self._reread(consumer, got)
                        else:
                            await self._handle(consumer, got)
                if time.monotonic() - last_progress >= self.options.progress_seconds:
                    log.info("writer.progress", cached_records=len(self.cache), **self.stats)
                    last_progress = time.monotonic()
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            if self._ch is not None:
                self._ch.close()
            log.info("writer.stop", **self.stats)

    def _connect(self) -> ClickHouse:
        ch = ClickHouse(self.settings.clickhouse.dsn)
        try:
            missing = [t for t in ("ledger_events", "ledger_replies") if not ch.table_exists(t)]
        except StoreError:
            ch.close()
            raise
        if missing:
            ch.close()
            raise WriterError(
                f"ClickHouse database {ch.database!r} at {ch.server} has no "
                f"{' or '.join(missing)} table; fix: run `hj212 db migrate` (migration "
                "012_ledger.sql)")
        return ch

    async def _reread(self, consumer: AIOKafkaConsumer,
                      got: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """Forget a batch fetched before a rebalance; read the partitions still ours again
        from their committed offsets (skipping it would lose it)."""
        await read_again(consumer, got)
        self.stats["batches_reread"] += 1

    async def _handle(self, consumer: AIOKafkaConsumer,
                      got: Mapping[TopicPartition, Sequence[Any]]) -> None:
        started = time.monotonic()
        items: list[Change | Bad] = []
        partition_of: dict[RecordKey, int] = {}
        for tp, records in got.items():
            for rec in records:
                item = self._parse(rec.value, tp, rec.offset)
                if item is None:
                    continue
                items.append(item)
                if isinstance(item, Change):
                    partition_of[(item.stream, item.record_id)] = tp.partition
        delay = 0.5
        while True:
            # a revocation waits for this loop (it takes the lock), and polling the paused
            # partitions between attempts keeps this member in the group meanwhile
            try:
                done = await asyncio.to_thread(self._apply, items, partition_of)
                break
            except StoreError as exc:
                # an insert that raised may have landed: read the records back next time
                self.cache.drop(partition_of)
                self.stats["store_retries"] += 1
                log.warning("batch.retry", changes=len(items), error=str(exc),
                            retry_in_s=round(delay, 2))
                await _idle(consumer, delay)
                delay = min(delay * 2, self.options.max_backoff)
        for key, history in done.histories.items():
            self.cache.put(key, partition_of[key], history)
        offsets = {tp: OffsetAndMetadata(records[-1].offset + 1, "")
                   for tp, records in got.items() if records}
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # the group moved on while this batch was written: its next owner reads it
            # again and answers it from the replies and events written here
            log.warning("commit.skipped", reason=str(exc).splitlines()[0])
        outcomes = Counter(r.outcome for r in done.answers)
        self.stats.update({"changes": len(items), "events": len(done.events),
                           "replayed": done.replayed, **outcomes})
        log.info("batch.done", changes=len(items), appended=len(done.events),
                 replayed=done.replayed, conflicts=outcomes.get("conflict", 0),
                 refused=outcomes.get("refused", 0),
                 ms=round((time.monotonic() - started) * 1000, 1))

    def _parse(self, raw: bytes | None, tp: TopicPartition, offset: int) -> Change | Bad | None:
        try:
            return change_from_json(raw)
        except ChangeFormatError as exc:
            rid = request_id_of(raw)
            log.error("change.unreadable", partition=tp.partition, offset=offset,
                      request_id=rid, error=str(exc))
            self.stats["unreadable"] += 1
            if rid is None:
                return None  # nobody to answer: logged, and skipped
            return Bad(request_id=rid, stream="", record_id="",
                       reason=f"无法读取的修改 / unreadable change: {exc}")

    def _apply(self, items: Sequence[Change | Bad],
               partition_of: Mapping[RecordKey, int]) -> Plan:
        """Read what is missing, answer, append the events, write the replies (in a
        thread: the driver blocks)."""
        assert self._ch is not None
        ch = self._ch
        histories: dict[RecordKey, list[Event]] = {}
        missing: dict[str, list[str]] = {}
        for key in partition_of:
            cached = self.cache.get(key)
            if cached is None:
                missing.setdefault(key[0], []).append(key[1])
            else:
                histories[key] = cached
        for stream, ids in missing.items():
            for rid, events in queries.histories(ch, stream, ids).items():
                histories[(stream, rid)] = events
        self.stats["history_reads"] += sum(len(ids) for ids in missing.values())
        answered = queries.replies(ch, [i.request_id for i in items])
        result = plan(items, histories, answered, self.checks, now_local())
        # histories read now go to the cache even when nothing was appended to them
        for key, events in histories.items():
            if key not in result.histories and key not in self.cache:
                result.histories[key] = events
        if result.events:
            ch.insert_columns("ledger_events", event_columns(result.events))
        if result.replies:
            ch.insert_columns("ledger_replies", reply_columns(result.replies))
        for item, reply in zip(items, result.answers, strict=True):
            log.debug("change.answered", request_id=item.request_id,
                      stream=getattr(item, "stream", ""), record_id=item.record_id,
                      kind=getattr(item, "kind", ""), outcome=reply.outcome, seq=reply.seq)
        return result


async def _idle(consumer: AIOKafkaConsumer, seconds: float) -> None:
    """Wait, polling paused partitions: the group keeps this member, nothing is fetched."""
    parts = consumer.assignment()
    consumer.pause(*parts)
    try:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))
    finally:
        resume_assigned(consumer, parts)


async def ensure_topic(settings: Settings) -> bool:
    """Create the ledger topic if it is missing (partitions.ledger, kafka.replication);
    True if it was created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped,unused-ignore]

    topic = settings.topics.ledger
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka.servers,
                                client_id=f"{settings.kafka.client_id}-ledger",
                                request_timeout_ms=10_000)
    try:
        await admin.start()
    except Exception as exc:  # the client's errors are many kinds; all mean: no broker
        raise WriterError(
            f"Kafka at HJ212_KAFKA__BOOTSTRAP={settings.kafka.servers!r} did not answer "
            f"({type(exc).__name__}: {exc}); fix: start it (`hj212 stack up`) or correct "
            "the address") from None
    try:
        if topic in await admin.list_topics():
            return False
        resp = await admin.create_topics([NewTopic(topic, settings.partitions.ledger,
                                                   settings.kafka.replication)])
        for name, code, message in (e[:3] for e in resp.topic_errors):
            if code not in (0, 36):  # 36: already exists (another writer made it)
                raise WriterError(
                    f"creating Kafka topic {name!r} failed: error {code} {message}; fix: "
                    "check HJ212_TOPICS__LEDGER, HJ212_PARTITIONS__LEDGER and "
                    "HJ212_KAFKA__REPLICATION against the brokers")
        log.info("kafka.topic", topic=topic, action="created",
                 partitions=settings.partitions.ledger)
        # the new partitions need a leader before the group can be assigned them
        for _ in range(100):
            desc = await admin.describe_topics([topic])
            parts = desc[0].get("partitions", []) if desc else []
            if len(parts) >= settings.partitions.ledger and all(
                    p.get("leader", -1) >= 0 for p in parts):
                break
            await asyncio.sleep(0.1)
        return True
    finally:
        await admin.close()


def run_writer(settings: Settings, checks: Mapping[str, Check] | None = None,
               options: WriterOptions | None = None) -> None:
    """Run a writer in this process until SIGTERM or SIGINT."""

    async def main() -> None:
        writer = Writer(settings, checks, options)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, writer.stop)
        await writer.run()

    asyncio.run(main())
