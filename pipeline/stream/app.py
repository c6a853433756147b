"""The stream worker's runtime on aiokafka: consumer group, batching, commits after the
store, back-pressure, and the station table's changelog.

Why not Faust: faust-streaming 0.15.3 (aiokafka 0.14, Kafka 4.3) was built first and
failed the delivery tests. A worker restarted on a group with committed offsets got
messages delivered twice during table recovery; duplicate offsets in the consumer's
acked list and a gap at its head then blocked offset commits for good (faust-streaming
issue #596, robinhood/faust #625, both open), and a fresh group once lost one frame out
of 1,005 that was fetched while recovery had the flow stopped. So this module does what
the design needs directly:

* one consumer in group ``app_id`` on ``hj212.frames`` and ``hj212.rejects``; batches
  of at most ``batch_frames`` messages or ``batch_seconds`` old;
* offsets are committed (explicitly, per partition) only after the batch's rows are in
  ClickHouse, its alarms published and stored, and its state changes in the changelog;
  rows and alarms go out with every batch, but state and offsets together only every
  ``commit_seconds`` (5 s; Faust commits every 2.8 s, Kafka Streams every 30 s): a
  station's state is tens of kB, and shipping it per batch capped the worker at a few
  thousand frames a second. A kill replays at most that long; the replay is absorbed as
  any other (see ``agents.py``);
* with ClickHouse down the batch is retried with back-off while every partition is
  paused: polling goes on (group membership stays) but nothing more is fetched, so
  memory is bounded by one batch plus the client's fetch buffer;
* per-station detector state lives in ``StationTable`` with a compacted changelog topic
  co-partitioned with ``hj212.frames``; a partition's state is rebuilt from it when the
  partition is assigned, before any of its frames is processed: the consumer starts
  fetching as soon as it is assigned, and a batch fetched while the state loads is read
  again once it is there (detected against a state the load then replaced, its episodes
  were lost with their offsets committed).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener  # type: ignore[import-untyped,unused-ignore]
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError  # type: ignore[import-untyped,unused-ignore]
from aiokafka.structs import OffsetAndMetadata, TopicPartition  # type: ignore[import-untyped,unused-ignore]

from pipeline.config import Settings
from pipeline.detect.state import StateVersionError
from pipeline.detect.station import Detector
from pipeline.logs import get_logger
from pipeline.rebalance import read_again
from pipeline.store.client import ClickHouse, StoreError
from pipeline.store.completeness import refresh
from pipeline.stream.clock import make_clock
from pipeline.stream.state import StationTable

if TYPE_CHECKING:
    from pipeline.stream.store_queue import Store

DEFAULT_APP_ID = "hj212-stream"
#: how long the group waits for this worker to rejoin a rebalance (its revoke included)
REBALANCE_TIMEOUT_MS = 120_000

log = get_logger("stream.app")


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """Tuning of one worker (command-line options; the defaults fit this 2-core machine)."""

    app_id: str = DEFAULT_APP_ID
    #: most messages per batch, so per ClickHouse insert
    batch_frames: int = 5_000
    #: seconds a partial batch waits for more messages before it is written
    batch_seconds: float = 0.2
    #: least seconds between two inserts: batches detected meanwhile go in together
    #: (fewer, larger parts for ClickHouse to merge)
    store_seconds: float = 0.5
    #: frames detected but not yet stored beyond which detection waits for ClickHouse
    store_backlog_frames: int = 50_000
    #: longest pause between retries of a failed ClickHouse insert
    max_backoff: float = 30.0
    #: seconds between commits: station state to the changelog, then the offsets it covers
    commit_seconds: float = 5.0
    #: seconds between completeness refreshes of the hours and days that got records
    completeness_seconds: float = 60.0
    #: seconds between progress lines
    progress_seconds: float = 30.0
    #: seconds between clock ticks of the detectors (offline, overdue data)
    tick_seconds: float = 10.0
    #: what "now" is for those ticks: wall, or data (the latest data time; see clock.py)
    clock: str = "wall"
    #: milliseconds a thread holds the GIL before another that waits for it gets it
    #: (``sys.setswitchinterval``; Python's default is 5)
    gil_switch_ms: float = 1.0


@dataclass(frozen=True, slots=True)
class Topics:
    frames: str
    rejects: str
    alarms: str
    #: compacted changelog of the station table, one partition per frames partition
    state: str


def topics_for(settings: Settings, app_id: str) -> Topics:
    return Topics(frames=settings.topics.frames, rejects=settings.topics.rejects,
                  alarms=settings.topics.alarms, state=f"{app_id}-station-state")


class Pauser:
    """What a retrying batch calls between attempts: stop fetching, keep the group."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.paused = False

    async def idle(self, seconds: float) -> None:
        if not self.paused:
            self.consumer.pause(*self.consumer.assignment())
            self.paused = True
        # polling paused partitions returns nothing but proves liveness to the group
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            await self.consumer.getmany(timeout_ms=int(min(left, 1.0) * 1000))

    def resume(self) -> None:
        if self.paused:
            self.consumer.resume(*self.consumer.assignment())
            self.paused = False


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        # a batch in hand now is not stored or committed: it is read again from the
        # committed offsets, by this worker or the next owner, against restored state
        self.worker.generation += 1
        # what was processed of them is committed now, or the next owner replays it
        table = self.worker.table
        parts = [tp.partition for tp in revoked if tp.topic == self.worker.topics.frames]
        try:
            recreated = table.recreations
            await self.worker.commit(wait=True)
            if parts:
                # a changelog gone while nothing was sent is found here; gone or found
                # gone by that commit, it is made again and every station written there
                # before the partitions are let go: their next owner (or this worker)
                # loads from it
                await table.heal()
                if table.recreations != recreated:
                    await self.worker.commit(wait=True)
        finally:
            # offsets not committed now are of states Kafka did not take: the partitions'
            # next owner replays them (committed later, they would skip that detection)
            self.worker.forget_offsets(revoked)
            # whatever failed above, the partitions are no longer this worker's to detect
            table.release(parts)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        parts = sorted(tp.partition for tp in assigned if tp.topic == self.worker.topics.frames)
        started = time.monotonic()
        # a batch taken before this point was fetched against the old assignment
        self.worker.generation += 1
        try:
            n = await self.worker.table.load(parts)
        except (StateVersionError, KafkaError, OSError) as exc:
            # aiokafka logs and swallows a listener's exception: the worker must stop
            # itself, before any frame is detected against a state it could not read.
            # (Kafka's errors reach here only after the load's retries: left alone, the
            # partitions would stay held and never detected, the worker silent.)
            self.worker.fail(exc, parts)
            return
        # records fetched while the state loaded were read against none: read them again
        self.worker.generation += 1
        log.info("partitions.assigned", frames=parts,
                 rejects=sorted(tp.partition for tp in assigned
                                if tp.topic == self.worker.topics.rejects),
                 state_keys_restored=n, restore_s=round(time.monotonic() - started, 3))


class Worker:
    """Runs the consume -> store -> detect -> publish -> commit loop until stopped."""

    def __init__(self, settings: Settings, options: StreamOptions,
                 detector: Detector | None = None) -> None:
        from pipeline.stream.agents import Agents

        self.settings = settings
        self.options = options
        self.topics = topics_for(settings, options.app_id)
        self.bootstrap = settings.kafka.servers
        self.table = StationTable(self.bootstrap, self.topics.state,
                                  settings.partitions.frames, settings.kafka.replication)
        dump = getattr(detector, "dump_state", None)
        if dump is not None:
            # the value kernel keeps each station's values state: written from there
            self.table.dump = dump
        self.clock = make_clock(options.clock)
        self.agents = Agents(settings, self.topics, self.table, detector,
                             commands_topic=settings.topics.commands,
                             max_backoff=options.max_backoff, clock=self.clock,
                             store_interval=options.store_seconds)
        self._stop = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        #: the next offset to commit per partition: processed, not yet committed
        self._pending: dict[TopicPartition, OffsetAndMetadata] = {}
        self._last_commit = time.monotonic()
        #: the completeness refresh in flight (its own connection), and when it started
        self._refreshing: asyncio.Task[int] | None = None
        self._last_refresh = time.monotonic()
        #: the last commit's state delivery and offset commit, finishing in the background
        self._committing: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()
        #: counts rebalances (and finished state loads): a batch fetched in an earlier
        #: generation is dropped, not stored or committed
        self.generation = 0
        #: the last of the store jobs, each run after the one before; its result is the
        #: offsets of every batch stored by then
        self._storing: asyncio.Task[dict[TopicPartition, OffsetAndMetadata]] | None = None
        #: why the worker stopped on its own (a station state it cannot read)
        self.failure: Exception | None = None

    def stop(self) -> None:
        self._stop.set()

    def fail(self, exc: Exception, partitions: Sequence[int]) -> None:
        """Stop because of ``exc``, which ``run`` raises once it has stopped. The
        partitions' state is not used (what was read of it is dropped) and a batch in
        hand is not stored or committed."""
        log.error("worker.failed", error=str(exc), frames_partitions=list(partitions))
        self.failure = exc
        self.generation += 1
        self.table.drop(partitions)
        self.stop()

    def forget_offsets(self, partitions: Sequence[TopicPartition]) -> None:
        """Drop the offsets waiting to be committed for ``partitions`` (revoked)."""
        for tp in partitions:
            self._pending.pop(tp, None)

    async def run(self) -> None:
        await self.table.ensure_topic()
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all",
                                    enable_idempotence=True, linger_ms=5,
                                    client_id=f"{self.settings.kafka.client_id}-worker")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=self.options.app_id,
            client_id=f"{self.settings.kafka.client_id}-worker",
            enable_auto_commit=False,
            # a new group starts from the oldest frame, not from what arrives next
            auto_offset_reset="earliest",
            max_poll_records=self.options.batch_frames,
            # a revoke commits the partitions' state first: a state send Kafka refuses
            # takes up to 40 s (twice if the changelog is found gone); with the default
            # (the 10 s session timeout) the group would go on without this worker and
            # hand its partitions over before their state is written
            rebalance_timeout_ms=REBALANCE_TIMEOUT_MS,
        )
        # The changelog has its own producer: a commit hands it the changed stations
        # (tens of kB each, 20 MB for 308 busy stations), and on a shared producer the
        # alarms and back-fill requests queued behind those requests to the broker
        # (alarm p99 0.85 s at 2 k frames/s, in spikes every commit). zstd, not lz4:
        # aiokafka compresses lz4 at level 9 (35 MB/s on these states, half a second of
        # the loop's thread for each commit of 308 busy stations, 13 % of the worker's
        # time at 10 k frames/s); zstd at level 3 takes them at 170 MB/s, 4.4x smaller.
        state_producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True,
            linger_ms=20, compression_type="zstd", max_batch_size=1 << 20,
            client_id=f"{self.settings.kafka.client_id}-worker-state")
        await producer.start()
        await state_producer.start()
        self.table.producer = state_producer
        self.agents.producer = producer
        consumer.subscribe([self.topics.frames, self.topics.rejects],
                           listener=_Rebalance(self))
        self.consumer = consumer
        await consumer.start()
        log.info("worker.ready", app_id=self.options.app_id, state_topic=self.topics.state)
        pauser = Pauser(consumer)
        last_progress = last_tick = time.monotonic()
        try:
            while not self._stop.is_set():
                generation = self.generation
                batch = await self._take(consumer)
                if batch and (generation != self.generation or not self._state_ready(batch)):
                    # fetched before a rebalance, or while its partitions' state loads
                    # (the consumer fetches as soon as it is assigned): read it again
                    # once the state is there. No await between this check and the
                    # detection in _process, so no load can start in between.
                    await self.table.loads_done()
                    await self._drop(consumer, batch)
                    batch = {}
                if batch:
                    await self._process(consumer, batch, pauser, generation)
                if time.monotonic() - last_tick >= self.options.tick_seconds:
                    now = self.clock.now()
                    if now is not None:  # a data clock that has seen no data yet
                        # its alarm rows and windows queue behind the batches detected
                        # before it and go in with them, in order (a window's version is
                        # the time it is written); the tick waits for no insert
                        self._then_store(await self.agents.tick(now), {})
                    last_tick = time.monotonic()
                if time.monotonic() - self._last_commit >= self.options.commit_seconds:
                    # not waiting for the batch being stored (it joins the commit once
                    # in): waiting held every alarm back by an insert's time each commit
                    await self.commit()
                if time.monotonic() - self._last_refresh >= self.options.completeness_seconds:
                    self._refresh_completeness()
                if time.monotonic() - last_progress >= self.options.progress_seconds:
                    log.info("worker.progress", **self.agents.stats, **self.table.stats)
                    last_progress = time.monotonic()
            await self.commit(wait=True)
            self._refresh_completeness()
            if self._refreshing is not None:
                await asyncio.wait({self._refreshing}, timeout=30)
            if self.failure is not None:
                raise self.failure
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            with contextlib.suppress(Exception):
                await producer.stop()
            with contextlib.suppress(Exception):
                await state_producer.stop()
            self.agents.close()
            log.info("worker.stop", **self.agents.stats)

    def _state_ready(self, batch: dict[TopicPartition, list[Any]]) -> bool:
        return self.table.ready(tp.partition for tp in batch if tp.topic == self.topics.frames)

    async def _take(self, consumer: AIOKafkaConsumer
                    ) -> dict[TopicPartition, list[Any]]:
        """Up to batch_frames messages, waiting at most batch_seconds after the first."""
        out: dict[TopicPartition, list[Any]] = {}
        n = 0
        deadline: float | None = None
        while n < self.options.batch_frames and not self._stop.is_set():
            wait = 1.0 if deadline is None else deadline - time.monotonic()
            if wait <= 0:
                break
            got = await consumer.getmany(timeout_ms=int(wait * 1000),
                                         max_records=self.options.batch_frames - n)
            for tp, records in got.items():
                out.setdefault(tp, []).extend(records)
                n += len(records)
            if n and deadline is None:
                deadline = time.monotonic() + self.options.batch_seconds
            if not got and deadline is None:
                break  # idle: let the caller check for stop and progress
        return out

    async def _process(self, consumer: AIOKafkaConsumer,
                       batch: dict[TopicPartition, list[Any]], pauser: Pauser,
                       generation: int) -> None:
        frames: list[Any] = []
        for tp, rs in batch.items():
            if tp.topic == self.topics.frames and rs:
                frames.extend(rs)
                end = consumer.highwater(tp)
                self.clock.note_backlog(tp.partition, end is not None and rs[-1].offset + 1 < end)
        rejects = [r for tp, rs in batch.items() if tp.topic == self.topics.rejects for r in rs]
        jobs = []
        if frames:
            jobs.append(await self.agents.on_frames(frames))
        if rejects:
            jobs.append(self.agents.on_rejects(rejects))
        if self.agents.queue.backlog > self.options.store_backlog_frames:
            # ClickHouse has fallen this far behind (or is down): detect no more until
            # what is queued is in; the consumer is paused and polled meanwhile
            await self.settle(pauser)
        if generation != self.generation:
            # a rebalance came while this batch was detected: its alarms are out, but
            # its offsets must not be committed (the state it changed may be gone). Its
            # rows may still go in with the next store job: keyed, as a replay's would.
            await self._drop(consumer, batch)
            return
        offsets = {tp: OffsetAndMetadata(rs[-1].offset + 1, "") for tp, rs in batch.items()}
        # one job at a time, in order, while the next batches are fetched and detected;
        # the batch's offsets are done once its last job is
        for i, job in enumerate(jobs):
            self._then_store(job, offsets if i == len(jobs) - 1 else {})

    def _then_store(self, job: Store,
                    offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Run ``job`` once the jobs before it are done; its result is their offsets and
        ``offsets``."""
        before = self._storing

        async def chained() -> dict[TopicPartition, OffsetAndMetadata]:
            done = dict(await before) if before is not None else {}
            # no pauser here: the loop may be fetching; it pauses when the backlog grows
            await job(None)
            _merge_offsets(done, offsets)
            return done

        self._storing = asyncio.create_task(chained())

    async def _drop(self, consumer: AIOKafkaConsumer,
                    batch: dict[TopicPartition, list[Any]]) -> None:
        """Forget a batch from before a rebalance and read its partitions that are still
        ours again from their committed offsets (from the batch's first record where
        none is committed): the consumer's position is past it, and skipping it would
        lose it. What is read twice is absorbed (keyed rows, offset-skipping state)."""
        await read_again(consumer, batch)
        log.info("batch.dropped_after_rebalance",
                 messages=sum(len(rs) for rs in batch.values()))

    async def settle(self, pauser: Pauser | None = None) -> None:
        """Wait for the batch being stored; its offsets become committable. A job still
        running after a few seconds means ClickHouse is slow or down: fetching stops and
        the consumer is polled (paused) so the group keeps this worker."""
        task, self._storing = self._storing, None
        if task is None:
            return
        waited = 0.0
        while not task.done():
            await asyncio.wait({task}, timeout=1.0)
            waited += 1.0
            if not task.done() and pauser is not None and waited >= 5.0:
                await pauser.idle(1.0)
        if pauser is not None:
            pauser.resume()
        self._pending.update(task.result())

    def _refresh_completeness(self) -> None:
        """Recompute, in the background, the completeness of the hours and days that got
        records since the last refresh. A failed refresh puts its periods back for the
        next one; nothing waits on it (the figures are derived, the readings are kept)."""
        self._last_refresh = time.monotonic()
        if self._refreshing is not None and not self._refreshing.done():
            return
        touched = self.agents.take_touched()
        if not touched:
            return
        min_interval = self.agents.min_intervals()
        # the rows it counts are those of the store jobs queued so far
        stored = self._storing

        def run() -> int:
            with ClickHouse(self.settings.clickhouse.dsn) as ch:
                return refresh(ch, touched, min_interval)

        async def task() -> int:
            if stored is not None:
                await asyncio.wait({stored})  # a failed job is raised by the loop's settle
            try:
                n = await asyncio.to_thread(run)
            except StoreError as exc:
                self.agents.touched |= touched
                log.warning("completeness.retry_later", periods=len(touched), error=str(exc))
                return 0
            log.info("completeness.refreshed", periods=len(touched), rows=n)
            return n

        self._refreshing = asyncio.create_task(task())

    async def commit(self, *, wait: bool = False) -> None:
        """Changed station state to the changelog, then the offsets it covers.

        State first: a state ahead of the committed offsets is harmless (a replay skips
        what the state has folded in, by offset), a state behind them would lose
        detection. The state is handed to the producer here; its delivery and then the
        offset commit finish in the background while the next batches run (``wait``
        waits for them: on a rebalance and at the end, where the batch being stored is
        waited for first). The batch still being stored joins the commit once it is in:
        its state changes are already in what is sent. A periodic commit that finds the
        last one still delivering (Kafka slow, or ClickHouse slow to take that batch)
        leaves it to the next turn rather than hold up the loop."""
        self._last_commit = time.monotonic()
        # One commit at a time, in order. The lock matters: a rebalance calls this while
        # the loop's own commit may be suspended between taking the changed state and
        # taking the offsets; the second would then commit offsets whose state the first
        # still holds, and a kill right after would lose that state.
        async with self._commit_lock:
            if not wait and self._committing is not None and not self._committing.done():
                return
            if wait or (self._storing is not None and self._storing.done()):
                await self.settle()
            if self._committing is not None:
                await self._committing
                self._committing = None
            # taken together, before any await: the offsets are of batches stored, the
            # states at least as new (each is dumped when the job comes to it)
            sent = self.table.take_dirty()
            offsets, self._pending = self._pending, {}
            task = asyncio.create_task(self._deliver(sent, offsets, self._storing))
            self._committing = task
        if wait:
            await task

    async def _deliver(self, sent: dict[Any, Any],
                       offsets: dict[TopicPartition, OffsetAndMetadata],
                       storing: asyncio.Task[dict[TopicPartition, OffsetAndMetadata]] | None,
                       ) -> None:
        """Beside the loop: the states to the changelog (the producer holds this back
        while its buffer is full: in the loop, that held every alarm back by up to
        0.8 s each commit at 10 k frames/s), their delivery, then the offsets, with
        those of the batch that was being stored (``storing``) once it is in."""
        try:
            await asyncio.gather(*await self.table.send(sent))
        except Exception as exc:  # Kafka gave up on a state record: resend it, next time
            self.table.restore(sent)
            _merge_offsets(self._pending, offsets)
            log.warning("commit.state_not_delivered", error=repr(exc),
                        stations=len(sent))
            # the changelog topic may be gone (then no send can ever succeed)
            await self.table.heal()
            return
        if storing is not None:
            try:
                stored = await asyncio.shield(storing)
            except Exception:  # a bug in the job: the loop's settle raises it
                stored = {}
            _merge_offsets(offsets, stored)
        if not offsets or self.consumer is None:
            return
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # the group moved these partitions on while the batch was being stored; the
            # new owner reads them again, and the keyed tables absorb the replay
            log.warning("commit.skipped", reason=str(exc).splitlines()[0],
                        partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in offsets))


def _merge_offsets(into: dict[TopicPartition, OffsetAndMetadata],
                   more: dict[TopicPartition, OffsetAndMetadata]) -> None:
    """The later of two next-offsets per partition, into ``into``."""
    for tp, meta in more.items():
        if tp not in into or into[tp].offset < meta.offset:
            into[tp] = meta


def run_worker(settings: Settings, options: StreamOptions,
               detector: Detector | None = None) -> None:
    """Run a worker in this process until SIGTERM or SIGINT (or until it cannot read a
    station's saved state: ``StateVersionError``)."""
    worker = Worker(settings, options, detector)
    # A batch makes hundreds of thousands of short-lived objects (readings, value dicts)
    # beside a long-lived heap of station state; with the default thresholds the
    # collector walked that heap so often it took about 40 % of the detection time.
    # Nearly all garbage here is freed by reference counting; cycles are still collected.
    gc.set_threshold(100_000, 50, 100)
    # The store thread (clickhouse-driver, Python) gives the GIL up at every socket send
    # and compression, then waits for the loop's thread (detection) to hand it back: up
    # to the switch interval each time. At Python's 5 ms a 12 k-frame insert that takes
    # 0.13 s alone took 0.6 to 0.9 s beside detection, and every row waited for it.
    sys.setswitchinterval(options.gil_switch_ms / 1000)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        await worker.run()

    asyncio.run(main())
