"""Spool -> Kafka: publishes the spool's records in order and acknowledges what Kafka took.

One aiokafka producer with ``enable_idempotence=True`` and ``acks="all"``. With
idempotence aiokafka retries a sent batch with the same sequence numbers until the broker
takes it, so an outage of Kafka (the broker stopped, restarted) delays records but neither
repeats nor reorders them. Records are appended to one ``BatchBuilder`` per partition
(partition from the key, as Kafka's default partitioner does), which costs far less per
record than ``send()``; up to ``max_windows`` reads of the spool are in flight at once.

A new producer (a gateway restart, or a reconnect after an error) cannot know which of
the spool's unacknowledged records Kafka already wrote (an ack lost when the broker went
down). So on every connect the publisher reads back the tail of each partition, finds the
highest gateway sequence number of its own gateway id there, and skips spool records at
or below it: no repeats across restarts.

What can still repeat or reorder a record (each is logged): a batch that aiokafka gives up
on (no partition leader past ``request_timeout_ms``) is sent again after the windows in
flight, possibly behind later records of its partition. Consumers can drop repeats by the
envelope's (gateway, seq).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

from pipeline.gateway.metrics import Metrics
from pipeline.gateway.spool import ReadBatch, Spool, SpoolError
from pipeline.logs import get_logger

#: spool record topic tags
FRAMES = 0
REJECTS = 1

_MAX_BATCH_BYTES = 512 * 1024
#: after a read of fewer records than this, wait ``_GATHER_S`` before the next read: the
#: spool fsyncs a group every millisecond or two under load, and a Kafka request per
#: small group costs the gateway's one core more than the frames in it (a few ms of
#: publishing delay; a full read goes on at once)
_GATHER_BELOW = 2000
_GATHER_S = 0.005


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
        self._part_cache: dict[tuple[int, bytes], int] = {}
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
                self._part_cache.clear()
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
        windows: asyncio.Queue[tuple[ReadBatch, list[tuple[Any, list[int]]]] | None] = (
            asyncio.Queue(maxsize=self.max_windows))
        acker = asyncio.create_task(self._ack_loop(producer, windows), name="kafka-acker")
        try:
            while True:
                if acker.done():
                    acker.result()  # raises what failed it
                    return
                batch = await self.spool.read()
                sent = await self._send(producer, batch.records, range(len(batch.records)),
                                        batch.first_seq)
                await windows.put((batch, sent))
                if len(batch.records) < _GATHER_BELOW:
                    await asyncio.sleep(_GATHER_S)
        finally:
            if not acker.done():
                acker.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await acker

    def _partition(self, topic: int, key: bytes) -> int:
        cached = self._part_cache.get((topic, key))
        if cached is not None:
            return cached
        parts = self._partitions[topic]
        if key:
            from aiokafka.partitioner import murmur2  # type: ignore[import-untyped,unused-ignore]

            # Kafka's default partitioner, so other clients keyed by MN agree with us
            p: int = parts[int(murmur2(key) & 0x7FFFFFFF) % len(parts)]
            if len(self._part_cache) > 1_000_000:
                self._part_cache.clear()
            self._part_cache[(topic, key)] = p
            return p
        self._rr += 1
        return parts[self._rr % len(parts)]

    async def _send(self, producer: Any, records: list[tuple[int, bytes, bytes]],
                    which: Sequence[int], first_seq: int) -> list[tuple[Any, list[int]]]:
        """Send ``records[i] for i in which`` in order; (delivery future, record indexes)
        per Kafka batch."""
        builders: dict[tuple[int, int], tuple[Any, list[int]]] = {}
        out: list[tuple[Any, list[int]]] = []
        for i in which:
            topic, key, value = records[i]
            tp = (topic, self._partition(topic, key))
            if self._written and first_seq + i <= self._written.get(tp, -1):
                continue  # Kafka has it already (its ack was lost)
            entry = builders.get(tp)
            if entry is None:
                entry = builders[tp] = (producer.create_batch(), [])
            if entry[0].append(key=key or None, value=value, timestamp=None) is None:
                out.append((await self._submit(producer, entry[0], tp), entry[1]))
                entry = builders[tp] = (producer.create_batch(), [])
                entry[0].append(key=key or None, value=value, timestamp=None)
            entry[1].append(i)
        for tp, (builder, idx) in builders.items():
            out.append((await self._submit(producer, builder, tp), idx))
        return out

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
                        windows: asyncio.Queue[tuple[ReadBatch, list[tuple[Any, list[int]]]]
                                               | None]) -> None:
        while True:
            item = await windows.get()
            if item is None:
                return
            batch, sent = item
            failed = await self._settle(sent)
            attempt = 0
            while failed:
                attempt += 1
                self.metrics.publish_errors += 1
                self._log.warning("kafka.batch_failed", records=len(failed), attempt=attempt,
                                  first_seq=batch.first_seq,
                                  why="sending these records again; they may land behind "
                                      "later records of their partition")
                await asyncio.sleep(min(0.5 * attempt, 5.0))
                failed = await self._settle(
                    await self._send(producer, batch.records, failed, batch.first_seq))
            frames = sum(1 for rec in batch.records if rec[0] == FRAMES)
            published = self.metrics.published
            if frames:
                published[self.topics[FRAMES]] += frames
            if len(batch.records) > frames:
                published[self.topics[REJECTS]] += len(batch.records) - frames
            self.spool.ack(batch)

    async def _settle(self, sent: list[tuple[Any, list[int]]]) -> list[int]:
        failed: list[int] = []
        for fut, idx in sent:
            try:
                await fut
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._log.debug("kafka.delivery_error", error=repr(exc))
                failed.extend(idx)
        failed.sort()
        return failed
