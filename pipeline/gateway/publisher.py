"""Spool -> Kafka: publishes the spool's records in order and acknowledges what Kafka took.

One aiokafka producer with ``enable_idempotence=True`` and ``acks="all"``. With
idempotence aiokafka retries a sent batch with the same sequence numbers until the broker
takes it, so an outage of Kafka (the broker stopped, restarted) delays records but neither
repeats nor reorders them. A read of the spool is split by partition in Rust
(``hj212.kafka_split``: the partition from the key, as Kafka's default partitioner does)
into sections of Kafka's record format, each handed to aiokafka as a batch
(``PrebuiltBatch``, whose bytes ``hj212.kafka_batch`` makes once aiokafka has set the
producer's id, epoch and sequence): no Python runs per record. Up to ``max_windows`` reads
of the spool are in flight at once.

A new producer (a gateway restart, or a reconnect after an error) cannot know which of
the spool's unacknowledged records Kafka already wrote (an ack lost when the broker went
down). So on every connect the publisher reads back the tail of each partition, finds the
highest gateway sequence number of its own gateway id there, and skips spool records at
or below it: no repeats across restarts.

What can still repeat or reorder a record (each is logged): a batch that aiokafka gives up
on (no partition leader past ``request_timeout_ms``) is sent again (the same records) after
the windows in flight, possibly behind later records of its partition. Consumers can drop
repeats by the envelope's (gateway, seq).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import hj212

from pipeline.gateway.metrics import Metrics
from pipeline.gateway.spool import ReadBatch, Spool, SpoolError
from pipeline.logs import get_logger

#: spool record topic tags
FRAMES = 0
REJECTS = 1

_MAX_BATCH_BYTES = 512 * 1024
#: a section's records at most: a batch adds its header
_MAX_SECTION_BYTES = _MAX_BATCH_BYTES - 1024
#: after a read of fewer records than this, wait ``_GATHER_S`` before the next read: the
#: spool fsyncs a group every millisecond or two under load, and a Kafka request per
#: small group costs the gateway's one core more than the frames in it (a few ms of
#: publishing delay; a full read goes on at once)
_GATHER_BELOW = 2000
_GATHER_S = 0.005


#: one Kafka batch as sent: (topic tag, partition, records, count)
Section = tuple[int, int, bytes, int]


class PrebuiltBatch:
    """A section of ``hj212.kafka_split`` for ``AIOKafkaProducer.send_batch``: what aiokafka
    uses of its ``BatchBuilder`` (the count, the size, the producer state it sets for
    idempotence, the bytes). Closed: nothing can be appended."""

    def __init__(self, records: bytes, count: int) -> None:
        self._records = records
        self._count = count
        self._state = (-1, -1, -1)
        self._buffer: bytes | None = None

    def append(self, *, timestamp: float | None, key: bytes | None, value: bytes | None,
               headers: Sequence[Any] = ()) -> None:
        return None  # closed, as a full BatchBuilder says

    def close(self) -> None:
        pass

    def closed(self) -> bool:
        return True

    def record_count(self) -> int:
        return self._count

    def size(self) -> int:
        return len(self._records) + hj212.KAFKA_BATCH_HEAD

    def _set_producer_state(self, producer_id: int, producer_epoch: int,
                            base_sequence: int) -> None:
        self._state = (producer_id, producer_epoch, base_sequence)

    def _build(self) -> bytes:
        if self._buffer is None:
            self._buffer = hj212.kafka_batch(self._records, self._count,
                                             int(time.time() * 1000), *self._state)
        return self._buffer


class KafkaPublisher:
    """Drains ``spool`` into Kafka until stopped."""

    def __init__(self, spool: Spool, *, bootstrap: str, topics: Sequence[str], client_id: str,
                 metrics: Metrics, gateway_id: str, max_windows: int = 4,
                 request_timeout_ms: int = 120_000) -> None:
        self.spool = spool
        self.bootstrap = bootstrap
        self.topics = list(topics)  # index = spool topic tag
        self.client_id = client_id
        self.metrics = metrics
        self.max_windows = max_windows
        self.request_timeout_ms = request_timeout_ms
        self.connected = False
        self._task: asyncio.Task[None] | None = None
        self._log = get_logger("gateway.publisher", bootstrap=bootstrap)
        self._partitions: list[list[int]] = []
        self._rr = 0
        self.spool_gateway = gateway_id
        self._written: dict[tuple[int, int], int] = {}

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kafka-publisher")

    async def drain(self, timeout: float) -> bool:
        """Wait until Kafka has everything the spool holds; False at the timeout."""
        deadline = time.monotonic() + timeout
        while self.spool.depth_records > 0:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- the loop ---------------------------------------------------------------------

    def _producer(self) -> Any:
        from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped,unused-ignore]

        return AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, client_id=f"{self.client_id}-gateway",
            acks="all", enable_idempotence=True, max_batch_size=_MAX_BATCH_BYTES,
            linger_ms=2, request_timeout_ms=self.request_timeout_ms, retry_backoff_ms=200)

    async def _run(self) -> None:
        from aiokafka.errors import KafkaError  # type: ignore[import-untyped,unused-ignore]

        backoff = 0.5
        while True:
            producer = self._producer()
            try:
                await producer.start()
                self._partitions = [sorted(await producer.partitions_for(t))
                                    for t in self.topics]
                self._written = await self._written_seqs()
            except (KafkaError, OSError) as exc:
                self.connected = False
                self._log.warning("kafka.unreachable", error=repr(exc),
                                  spool_records=self.spool.depth_records, retry_in_s=backoff,
                                  why="frames wait in the spool until Kafka takes them")
                with contextlib.suppress(Exception):
                    await producer.stop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.5
            self.connected = True
            self._log.info("kafka.connected", partitions={
                t: len(p) for t, p in zip(self.topics, self._partitions, strict=True)})
            try:
                await self._pump(producer)
            except asyncio.CancelledError:
                await self._stop_producer(producer)
                raise
            except SpoolError as exc:
                if self.spool.closed:
                    await self._stop_producer(producer)
                    return
                self._log.error("publisher.spool_error", error=str(exc))
                raise
            except Exception as exc:  # never die quietly: rewind and try again
                self.metrics.publish_errors += 1
                self._log.error("publisher.failed", error=repr(exc),
                                why="republishing from the first unacknowledged record")
                self.spool.rewind()
                await asyncio.sleep(1.0)
            self.connected = False
            await self._stop_producer(producer)

    async def _written_seqs(self) -> dict[tuple[int, int], int]:
        """(topic tag, partition) -> highest seq of this gateway already in Kafka, read
        from the tail of each partition (as far back as the spool has unacknowledged
        records, which is as far as a lost ack can reach)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped,unused-ignore]

        from pipeline.gateway import envelope

        out: dict[tuple[int, int], int] = {}
        if self.spool.depth_records == 0:
            return out
        lookback = self.spool.depth_records + 1000
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                    client_id=f"{self.client_id}-gateway-readback")
        await consumer.start()
        try:
            tps = {TopicPartition(t, p): (i, p)
                   for i, (t, parts) in enumerate(zip(self.topics, self._partitions,
                                                      strict=True)) for p in parts}
            consumer.assign(list(tps))
            ends = await consumer.end_offsets(list(tps))
            starts = await consumer.beginning_offsets(list(tps))
            todo = {tp for tp in tps if ends[tp] > starts[tp]}
            for tp in todo:
                consumer.seek(tp, max(starts[tp], ends[tp] - lookback))
            while todo:
                got = await consumer.getmany(*todo, timeout_ms=2000, max_records=10_000)
                if not got:
                    break
                for tp, msgs in got.items():
                    for m in msgs:
                        try:
                            env = envelope.decode(m.value)
                        except envelope.EnvelopeError:
                            continue
                        if env.gateway == self.spool_gateway:
                            key = tps[tp]
                            out[key] = max(out.get(key, -1), env.seq)
                    if msgs and msgs[-1].offset + 1 >= ends[tp]:
                        todo.discard(tp)
        finally:
            await consumer.stop()
        if out:
            self._log.info("kafka.readback", gateway=self.spool_gateway,
                           highest_seq=max(out.values()), spool_first_seq=self.spool.acked_seq,
                           why="records at or below these seqs are already in Kafka")
        return out

    async def _stop_producer(self, producer: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 10.0)

    async def _pump(self, producer: Any) -> None:
        windows: asyncio.Queue[tuple[ReadBatch, list[tuple[Any, Section]], list[int]]
                               | None] = asyncio.Queue(maxsize=self.max_windows)
        acker = asyncio.create_task(self._ack_loop(producer, windows), name="kafka-acker")
        try:
            while True:
                if acker.done():
                    acker.result()  # raises what failed it
                    return
                batch = await self.spool.read()
                sections, per_topic, self._rr = hj212.kafka_split(
                    batch.blob, self._partitions, self._rr, batch.first_seq, self._written,
                    _MAX_SECTION_BYTES)
                await windows.put((batch, await self._send(producer, sections), per_topic))
                if batch.count < _GATHER_BELOW:
                    await asyncio.sleep(_GATHER_S)
        finally:
            if not acker.done():
                acker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await acker

    async def _send(self, producer: Any, sections: Sequence[Section]
                    ) -> list[tuple[Any, Section]]:
        """Send each section as one batch, in order; (delivery future, section) each."""
        return [(await self._submit(producer, PrebuiltBatch(sec[2], sec[3]), (sec[0], sec[1])),
                 sec) for sec in sections]

    async def _submit(self, producer: Any, builder: Any, tp: tuple[int, int]) -> Any:
        from aiokafka.errors import KafkaTimeoutError  # type: ignore[import-untyped,unused-ignore]

        while True:
            try:
                return await producer.send_batch(builder, self.topics[tp[0]], partition=tp[1])
            except KafkaTimeoutError:
                # the producer's buffer is full because Kafka is not taking anything:
                # keep the same batch and wait (the spool holds what arrives meanwhile)
                self._log.warning("kafka.stalled", topic=self.topics[tp[0]], partition=tp[1],
                                  spool_records=self.spool.depth_records)

    async def _ack_loop(self, producer: Any,
                        windows: asyncio.Queue[tuple[ReadBatch, list[tuple[Any, Section]],
                                                     list[int]] | None]) -> None:
        while True:
            item = await windows.get()
            if item is None:
                return
            batch, sent, per_topic = item
            failed = await self._settle(sent)
            attempt = 0
            while failed:
                attempt += 1
                self.metrics.publish_errors += 1
                self._log.warning("kafka.batch_failed", records=sum(f[3] for f in failed),
                                  batches=len(failed), attempt=attempt,
                                  first_seq=batch.first_seq,
                                  why="sending these records again; they may land behind "
                                      "later records of their partition")
                await asyncio.sleep(min(0.5 * attempt, 5.0))
                failed = await self._settle(await self._send(producer, failed))
            published = self.metrics.published
            for tag, n in enumerate(per_topic):
                if n:
                    published[self.topics[tag]] += n
            self.spool.ack(batch)

    async def _settle(self, sent: list[tuple[Any, Section]]) -> list[Section]:
        failed: list[Section] = []
        for fut, section in sent:
            try:
                await fut
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log.debug("kafka.delivery_error", error=repr(exc))
                failed.append(section)
        return failed
