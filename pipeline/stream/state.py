"""The station table: per-station detector state in memory, backed by a compacted Kafka
changelog so that a restarted (or newly assigned) worker resumes where the last stopped.

Partition p of the changelog holds the stations of partition p of ``hj212.frames`` (the
gateway keys frames by MN, and state records are written to the same partition number),
so a worker rebuilds exactly the state of the partitions it is given. Key: the MN;
value: the station's state as ``pipeline.detect.state.dump_station_state`` writes it
(versioned JSON; an older layout is migrated as it is read, a newer one stops the load
with an error naming the MN). Compaction keeps the latest value per MN.

The changelog topic can vanish under a running worker (deleted by hand, or Kafka's data
replaced by an empty cluster on the same address). A load or a send that finds it gone
makes it again, and a send marks every station held in memory to be written again, so the
new changelog holds them all. A load starts the partitions from what the changelog holds,
and takes a station it lacks from the states this worker held when the same partitions
were revoked just before (``release``): a changelog gone while the group rebalanced
(Kafka's data replaced as a worker restarts beside this one) would otherwise restart
every station with no state, where the worker that is given its partitions back still
holds them all. A load that keeps failing for another reason is retried for
about two minutes, then raises (the worker stops with the error, instead of holding
partitions it can never detect).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped,unused-ignore]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped,unused-ignore]
from aiokafka.errors import KafkaError, TopicAlreadyExistsError  # type: ignore[import-untyped,unused-ignore]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped,unused-ignore]

from pipeline.detect.state import StationState, dump_station_state, load_station_state
from pipeline.logs import get_logger

log = get_logger("stream.state")

#: waits before each retry of a failed state load (seconds): about two minutes in all
LOAD_RETRY_WAITS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 30.0, 30.0)


class StationTable:
    def __init__(self, bootstrap: str, topic: str, partitions: int, replication: int) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.replication = replication
        self.producer: AIOKafkaProducer | None = None
        self._data: dict[int, dict[str, StationState]] = {}
        self._dirty: dict[tuple[int, str], StationState] = {}
        #: partitions whose state is loaded and not since revoked: the only ones whose
        #: frames may be detected (a frame read against a state still loading would build
        #: a state the load then throws away, with the frame's offset already committed)
        self._ready: set[int] = set()
        #: partition -> its stations' states when it was last revoked (``release``), until
        #: the next load: a station the changelog lacks is taken from here
        self._released: dict[int, dict[str, StationState]] = {}
        self._loading = 0
        self._no_load = asyncio.Event()
        self._no_load.set()
        #: (MN, state) -> the bytes written for it: a detector that keeps part of the
        #: state elsewhere (the value kernel) writes that part from where it is
        self.dump: Callable[[str, StationState], bytes] = lambda mn, state: (
            dump_station_state(state))
        #: for the worker's progress line: states written, their size, and the longest
        #: a commit took to hand its states to the producer
        self.stats: dict[str, float] = {"state_sent": 0, "state_mb": 0.0,
                                        "state_send_max_ms": 0}
        #: times a send found the changelog gone and made it again (``heal``)
        self.recreations = 0

    async def ensure_topic(self) -> bool:
        """Create the changelog topic if it is missing; True if it was created."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            if self.topic in await admin.list_topics():
                return False
            await admin.create_topics([NewTopic(
                self.topic, self.partitions, self.replication,
                topic_configs={"cleanup.policy": "compact"})])
            log.info("state.topic_created", topic=self.topic, partitions=self.partitions)
            return True
        except TopicAlreadyExistsError:  # another worker of the app made it just now
            return False
        finally:
            await admin.close()

    async def heal(self) -> bool:
        """After a send Kafka did not take: if the changelog topic is gone, make it again
        and mark every station held (of the loaded partitions) to be written, since the
        new topic holds none of them. True if it was made again. Kafka out of reach is
        left to the next commit, which sends (and heals) again."""
        try:
            created = await self.ensure_topic()
        except (KafkaError, OSError) as exc:
            log.warning("state.topic_check_failed", topic=self.topic, error=repr(exc))
            return False
        if created:
            self.recreations += 1
            for p in self._ready:
                for mn, state in self._data.get(p, {}).items():
                    self._dirty.setdefault((p, mn), state)
            log.error("state.changelog_recreated", topic=self.topic,
                      stations=sum(len(self._data.get(p, {})) for p in self._ready),
                      why="the changelog topic was gone; every station held in memory is "
                          "written to the new one")
        return created

    def get(self, partition: int, mn: str) -> StationState:
        """The station's state itself, not a copy: detectors change it in place, and a
        deep copy per station per batch cost more than the detection. Call ``put`` after
        changing it so the change reaches the changelog; a batch that fails is never
        committed, and the worker that replays it restores state from the changelog."""
        part = self._data.setdefault(partition, {})
        found = part.get(mn)
        if found is None:
            found = part[mn] = {}
        return found

    def put(self, partition: int, mn: str, state: StationState) -> None:
        self._data.setdefault(partition, {})[mn] = state
        self._dirty[(partition, mn)] = state

    def stations(self) -> list[tuple[int, str]]:
        """The stations of the loaded partitions (a clock tick must not touch a state
        that is still being read)."""
        return [(p, mn) for p, d in self._data.items() if p in self._ready for mn in d]

    def ready(self, partitions: Iterable[int]) -> bool:
        """Whether every one of ``partitions`` has its state loaded."""
        return self._ready.issuperset(partitions)

    def start_empty(self, partitions: Iterable[int]) -> None:
        """Take the partitions as having no saved state (a table kept in memory only, with
        no changelog to read), ready at once."""
        numbers = list(partitions)
        self.drop(numbers)
        for p in numbers:
            self._data[p] = {}
        self._ready.update(numbers)

    async def loads_done(self) -> None:
        """Return once no partition's state is being loaded."""
        await self._no_load.wait()

    def __len__(self) -> int:
        return sum(len(d) for d in self._data.values())

    def take_dirty(self) -> dict[tuple[int, str], StationState]:
        """The changed stations since the last take, now counted as clean: ``send`` them,
        and ``restore`` them if Kafka does not take them."""
        sent, self._dirty = self._dirty, {}
        return sent

    async def send(self, sent: dict[tuple[int, str], StationState]) -> list[Any]:
        """Hand ``sent`` to the producer, each as it is when its turn comes (a state
        newer than the offsets about to be committed is harmless); return the delivery
        futures. A station whose partition was dropped in the meantime is skipped: its
        next owner has it.

        The producer makes this wait while its buffer is full (20 MB for 308 busy
        stations): the runtime runs it beside the loop, not in it."""
        assert self.producer is not None, "StationTable.send before the producer started"
        started = time.perf_counter()
        acks = []
        size = 0
        for (partition, mn), state in sent.items():
            if partition not in self._data:
                continue
            value = self.dump(mn, state)
            size += len(value)
            acks.append(await self.producer.send(self.topic, value, key=mn.encode(),
                                                 partition=partition))
        took = time.perf_counter() - started
        self.stats["state_sent"] += len(acks)
        self.stats["state_mb"] = round(self.stats["state_mb"] + size / 1e6, 1)
        self.stats["state_send_max_ms"] = max(self.stats["state_send_max_ms"],
                                              round(took * 1000))
        return acks

    def restore(self, sent: dict[tuple[int, str], StationState]) -> None:
        for key, state in sent.items():
            if key[0] in self._data:  # not since revoked
                self._dirty.setdefault(key, state)

    def release(self, partitions: Iterable[int]) -> None:
        """``drop`` on a revoke, keeping the states of the loaded partitions aside for the
        next ``load``: the stations its changelog lacks are taken from them. A partition
        given to another worker loses them at that load (its changelog is the new
        owner's to write)."""
        numbers = list(partitions)
        for p in numbers:
            held = self._data.get(p)
            if held and p in self._ready:
                self._released[p] = held
        self.drop(numbers)

    def drop(self, partitions: Iterable[int]) -> None:
        for p in partitions:
            self._ready.discard(p)
            self._data.pop(p, None)
            for key in [k for k in self._dirty if k[0] == p]:
                del self._dirty[key]

    async def load(self, partitions: Iterable[int]) -> int:
        """Rebuild the given partitions' state from the changelog; returns the keys read.
        A state this release cannot read raises ``StateVersionError`` (naming the MN and
        the version) rather than being misread.

        Until it returns, the partitions are not ``ready``; whatever was made of their
        state before (from frames fetched ahead of the load) is dropped when it is
        called, before its first await, so a caller that checks ``ready`` right before
        detecting never detects against a state that is about to be replaced."""
        numbers = list(partitions)
        self.drop(numbers)
        released = {p: self._released.pop(p) for p in numbers if p in self._released}
        self._released.clear()
        parts = [TopicPartition(self.topic, p) for p in numbers]
        if not parts:
            return 0
        self._loading += 1
        self._no_load.clear()
        gone: set[tuple[int, str]] = set()
        try:
            n = await self._read_retrying(parts, gone)
        finally:
            self._loading -= 1
            if not self._loading:
                self._no_load.set()
        self._adopt(released, gone)
        self._ready.update(numbers)
        return n

    def _adopt(self, released: dict[int, dict[str, StationState]],
               gone: set[tuple[int, str]]) -> None:
        """Take into the loaded partitions the released states of the stations their
        changelog lacks (not those it deleted), marked to be written."""
        adopted = 0
        for p, held in released.items():
            loaded = self._data.setdefault(p, {})
            for mn, state in held.items():
                if state and mn not in loaded and (p, mn) not in gone:
                    loaded[mn] = state
                    self._dirty[(p, mn)] = state
                    adopted += 1
        if adopted:
            log.warning("state.kept_over_rebalance", topic=self.topic, stations=adopted,
                        partitions=sorted(released),
                        why="the changelog lacked these stations (made again, or Kafka "
                            "lost its data); the states this worker held are kept and "
                            "written")

    async def _read_retrying(self, parts: list[TopicPartition],
                             gone: set[tuple[int, str]]) -> int:
        """``_read``, with the changelog made again first if it is gone, and retried on
        Kafka's errors (a broker restarting as the group rebalances) with growing waits;
        the last error is raised once ``LOAD_RETRY_WAITS`` are spent."""
        numbers = [tp.partition for tp in parts]
        for attempt in itertools.count(1):
            try:
                if await self.ensure_topic():
                    log.error("state.changelog_recreated", topic=self.topic,
                              frames_partitions=numbers,
                              why="the changelog topic was gone; these partitions' "
                                  "stations start with no state, save those this "
                                  "worker held before the rebalance")
                return await self._read(parts, gone)
            except (KafkaError, OSError) as exc:
                if attempt > len(LOAD_RETRY_WAITS):
                    raise
                wait = LOAD_RETRY_WAITS[attempt - 1]
                log.warning("state.load_retry", topic=self.topic, frames_partitions=numbers,
                            attempt=attempt, error=repr(exc), retry_in_s=wait)
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # itertools.count never ends

    async def _read(self, parts: list[TopicPartition], gone: set[tuple[int, str]]) -> int:
        """Fill the partitions' tables from the changelog's newest values; ``gone`` gets
        the (partition, MN) the changelog deleted (a null value)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        n = 0
        try:
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            todo = {tp for tp in parts if ends[tp] > 0}
            # the newest value of each MN, read into a state once all is read: a changelog
            # not yet compacted holds many values per MN (28,944 for ~220 stations after
            # 20 minutes of `make run`); reading each took 28-30 s, the newest only 4.7 s.
            # The table is filled only then, so a failed read leaves nothing behind.
            newest: dict[int, dict[str, bytes | None]] = {tp.partition: {} for tp in parts}
            while todo:
                got: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=1000)
                for tp, records in got.items():
                    raw = newest[tp.partition]
                    for rec in records:
                        mn = rec.key.decode()
                        raw[mn] = rec.value  # None: deleted
                        n += 1
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        todo.discard(tp)
        finally:
            await consumer.stop()
        for p, raw in newest.items():
            self._data[p] = {mn: load_station_state(mn, value)
                             for mn, value in raw.items() if value is not None}
            gone.update((p, mn) for mn, value in raw.items() if value is None)
        return n
