"""``hj212 notify``, wired: the alarms topic in (its own consumer group, so it never slows
the workers), the routing and grouping engine (grouping.py), one sender task per
receiver (a dead or slow receiver delays only its own queue), the delivery log.

Delivery guarantees, and how:
- An alarm's Kafka offset is committed only once every item it brought is in the
  delivery log: written ahead as ``pending`` before its message's first attempt (a
  restart resumes it from there), or ``suppressed`` by a silence; a step that owes no
  notice (an update of an alarm already told) is done at once.
- A restart reads the log's recent notifications back: their items are never made
  again (so the replay of uncommitted alarms sends nothing twice), unfinished ones are
  resumed with the same notification id after checking the log, and open alarms are
  open again for repeats, resolved notices and escalation.
- The one message in doubt is the one whose HTTP answer came but whose ``sent`` row
  was not yet written when the process died: it is sent again (a duty centre would
  rather read an alarm twice than miss it). Webhooks get its id as ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition  # type: ignore[import-untyped,unused-ignore]
from aiokafka.errors import KafkaError  # type: ignore[import-untyped,unused-ignore]

from pipeline import service365
from pipeline.config import Settings
from pipeline.logs import get_logger
from pipeline.notify import deliveries
from pipeline.notify import operator as op
from pipeline.notify.grouping import Engine
from pipeline.notify.model import (
    DEAD,
    FINAL_STATES,
    PENDING,
    RETRYING,
    SENT,
    SKIPPED,
    SUPPRESSED,
    AlarmFormatError,
    Notification,
    parse_alarm,
)
from pipeline.notify.receivers import Sender
from pipeline.notify.retry import backoff_s
from pipeline.notify.routing import Routing
from pipeline.rebalance import resume_assigned, seek_if_assigned
from pipeline.store.client import ClickHouse, StoreError
from pipeline.timebase import local_from_unix

log = get_logger("notify")

Origin = tuple[Any, int]  # (TopicPartition, offset)
#: seconds between reloads of the station registry, the silences, the ledger's acks
STATIONS_EVERY_S = 60.0
SILENCES_EVERY_S = 5.0
ESCALATION_EVERY_S = 2.0
COMMIT_EVERY_S = 1.0
#: seconds between tries to place partitions Kafka did not answer for (kept paused)
PLACE_RETRY_S = 2.0


def now_ms() -> int:
    return int(time.time() * 1000)


class Offsets:
    """Per partition, the records read and how many items each still waits for; the
    offset to commit is past the longest settled prefix."""

    def __init__(self) -> None:
        self.waits: dict[Any, OrderedDict[int, int]] = {}
        #: per partition, the offset after the last record read
        self.next: dict[Any, int] = {}

    def add(self, origin: Origin, waits: int) -> None:
        tp, off = origin
        self.waits.setdefault(tp, OrderedDict())[off] = waits
        self.next[tp] = off + 1

    def done(self, origins: Sequence[Any]) -> None:
        for tp, off in origins:
            part = self.waits.get(tp)
            if part is not None and off in part:
                part[off] -= 1

    def committable(self) -> dict[Any, int]:
        out = {}
        for tp, part in self.waits.items():
            last = None
            while part:
                off, left = next(iter(part.items()))
                if left > 0:
                    break
                part.popitem(last=False)
                last = off
            if last is not None:
                out[tp] = last + 1
        return out

    def forget(self, tps: Sequence[Any]) -> None:
        for tp in tps:
            self.waits.pop(tp, None)
            self.next.pop(tp, None)

    def resume_at(self, tp: Any) -> int | None:
        """Where reading ``tp`` again loses and repeats nothing: its first record still
        waiting, else past the last read; None if this process has not read it."""
        part = self.waits.get(tp)
        if part:
            return next(iter(part))
        return self.next.get(tp)


@dataclass
class _Db:
    """One ClickHouse connection used from threads one call at a time."""

    ch: ClickHouse
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async with self.lock:
            return await asyncio.to_thread(fn, self.ch, *args)


class LogWriter:
    """Delivery-log rows from every sender, written in batches: whatever queued while
    the previous insert ran goes in the next one. ``put`` returns once its rows are in."""

    def __init__(self, db: _Db) -> None:
        self.db = db
        self.queue: list[tuple[list[deliveries.Row], asyncio.Future[None]]] = []
        self.wake = asyncio.Event()

    async def put(self, rows: list[deliveries.Row]) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.append((rows, fut))
        self.wake.set()
        await fut

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch, self.queue = self.queue, []
            if not batch:
                continue
            rows = [r for rs, _ in batch for r in rs]
            delay = 0.2
            while True:
                try:
                    await self.db.call(deliveries.write, rows)
                    break
                except StoreError as exc:
                    # the log is the guarantee: wait for ClickHouse, hold the offsets
                    log.warning("notify.log_retry", rows=len(rows), error=str(exc),
                                retry_in_s=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)


#: where a consumer group new to the alarms topic starts (``hj212 notify --from``)
StartFrom = Literal["recent", "latest", "earliest"]


class _StartPositions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Places a partition the group has no committed offset for. One this process has
    read resumes where it was (its first record still waiting, else past the last it
    read): nothing committed yet is no reason to skip or repeat. Any other (a group new
    to the topic, or one Kafka lost with its data) starts at ``start_from``: ``recent``
    is the first alarm published within ``catch_up_ms`` of now. A committed offset Kafka
    no longer has (the topic made again, or emptied by retention) resumes at the
    earliest it has: the consumer's reset policy. A replay is safe: an alarm step already
    in the delivery log is never sent again (``grouping.Engine.covered``).

    aiokafka starts fetching a partition as soon as it is assigned, before this listener
    has placed it: the partitions stay paused until they are placed. If Kafka does not
    answer, the unplaced ones stay paused and ``retry`` places them later; they never
    fall back to the reset policy (the whole retained history)."""

    def __init__(self, consumer: AIOKafkaConsumer, offsets: Offsets, start_from: StartFrom,
                 catch_up_ms: int, clock: Callable[[], int]) -> None:
        self.consumer = consumer
        self.offsets = offsets
        self.start_from = start_from
        self.catch_up_ms = catch_up_ms
        self.clock = clock
        #: assigned partitions not placed yet (Kafka did not answer): paused
        self.unplaced: list[TopicPartition] = []

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.consumer.pause(*assigned)  # before any await: no fetch for them until placed
        # what was read of partitions now another process's is not ours to commit
        self.offsets.forget([tp for tp in list(self.offsets.waits) if tp not in assigned])
        self.unplaced = list(assigned)
        await self.retry()

    async def retry(self) -> None:
        """Place the unplaced partitions and resume them; on Kafka's error they stay
        paused for the next call.

        Each question to Kafka lets a rebalance run, which may give partitions away and
        assign others (placed by the rebalance's own call): only what this call took is
        resumed, and only what is still assigned (aiokafka refuses to seek or resume a
        partition that is not)."""
        parts = list(self.unplaced)
        try:
            await self._place(parts)
        except (KafkaError, OSError) as exc:
            log.error("notify.start_position_unknown", error=repr(exc),
                      partitions=sorted(tp.partition for tp in parts),
                      why="Kafka did not answer; these partitions wait, paused, and are "
                          "placed again in a few seconds")
            return
        resume_assigned(self.consumer, parts)
        self.unplaced = [tp for tp in self.unplaced if tp not in parts]

    async def _place(self, parts: Sequence[TopicPartition]) -> None:
        new = []
        for tp in parts:
            if await self.consumer.committed(tp) is not None:
                continue  # Kafka places it
            at = self.offsets.resume_at(tp)
            if at is None:
                new.append(tp)
            else:
                seek_if_assigned(self.consumer, tp, at)
        since = self.clock() - self.catch_up_ms
        if self.start_from == "earliest":
            # no await between this check and seek_to_beginning's own
            new = [tp for tp in new if tp in self.consumer.assignment()]
            if not new:
                return  # seek_to_beginning() of no partition seeks every assigned one
            await self.consumer.seek_to_beginning(*new)
            placed: dict[int, int | str] = {tp.partition: "beginning" for tp in new}
        else:
            if not new:
                return
            found = ({} if self.start_from == "latest" else
                     await self.consumer.offsets_for_times({tp: since for tp in new}))
            ends = await self.consumer.end_offsets(new)
            placed = {}
            for tp in new:
                at_time = found.get(tp)
                offset = ends[tp] if at_time is None else at_time.offset
                if seek_if_assigned(self.consumer, tp, offset):
                    placed[tp.partition] = offset
        log.info("notify.group_new_to_partitions", start_from=self.start_from,
                 since_ms=since if self.start_from == "recent" else None, partitions=placed)


class NotifyService:
    def __init__(self, settings: Settings, routing: Routing, sender: Sender, *,
                 start_from: StartFrom = "recent",
                 clock: Callable[[], int] = now_ms) -> None:
        self.settings = settings
        self.routing = routing
        self._static365 = routing.service365
        self.sender = sender
        self.start_from = start_from
        self.clock = clock
        self.engine = Engine(routing)
        self.offsets = Offsets()
        self.stations: dict[str, deliveries.StationFacts] = {}
        self.silences: list[Any] = []
        self.wakeups = {name: asyncio.Event() for name in routing.receivers}
        self._stopping = False
        self.stats = {"alarms": 0, "sent": 0, "dead": 0, "suppressed": 0, "retries": 0,
                      "bad": 0, "operator": 0, "skipped": 0}
        self.cursor: op.Cursor | None = None
        self.positions: _StartPositions | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        dsn = self.settings.clickhouse.dsn
        self.reader = _Db(ClickHouse(dsn))
        self.log = LogWriter(_Db(ClickHouse(dsn)))
        resumed = self.engine.restore(
            await self.reader.call(deliveries.recent, self.clock()), self.clock())
        await self._refresh_stations()
        self.cursor = op.Cursor.start(
            await self.reader.call(deliveries.operator_logged, op.LOOKBACK_MS), self.clock())
        log.info("notify.restored", covered=len(self.engine.covered), resumed=resumed,
                 open_groups=len(self.engine.groups), routing=self.routing.version)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka.servers,
            group_id=self.settings.notify.group_id, enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id=f"{self.settings.kafka.client_id}-notify")
        await consumer.start()
        self.positions = _StartPositions(
            consumer, self.offsets, self.start_from,
            round(self.settings.notify.catch_up_min * 60_000), self.clock)
        consumer.subscribe([self.settings.topics.alarms], listener=self.positions)
        workers = [asyncio.create_task(self.log.run(), name="notify-log")]
        workers += [asyncio.create_task(self._sender(name), name=f"notify-{name}")
                    for name in self.routing.receivers]
        workers.append(asyncio.create_task(self._operators(), name="notify-operators"))
        log.info("notify.started", topic=self.settings.topics.alarms,
                 group=self.settings.notify.group_id, receivers=len(self.wakeups))
        try:
            await self._consume(consumer, stop)
        finally:
            # the senders also look at this flag: on 3.11 asyncio.wait_for can swallow a
            # cancel that lands as its timeout fires, and a sender would loop on forever
            self._stopping = True
            with contextlib.suppress(Exception):
                await self._commit(consumer)
            for t in workers + list(self._tasks):
                t.cancel()
            await asyncio.gather(*workers, *self._tasks, return_exceptions=True)
            await consumer.stop()
            await self.sender.close()
            log.info("notify.stopped", **self.stats)

    # --- intake ------------------------------------------------------------------------

    async def _refresh_stations(self) -> None:
        try:
            self.stations = await self.reader.call(deliveries.stations)
        except StoreError as exc:
            log.warning("notify.stations_unavailable", error=str(exc))
        try:
            # the 365 subscriptions on record today, beside the routing file's list
            subscribed = await self.reader.call(service365.subscribed)
        except StoreError as exc:
            log.warning("notify.service365_unavailable", error=str(exc))
        except Exception as exc:  # a provider's bug must not stop notifications
            log.exception("notify.service365_error", error=repr(exc))
        else:
            self.routing = replace(self.routing,
                                   service365=self._static365 | subscribed)

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        last = {"stations": time.monotonic(), "silences": 0.0, "escalation": 0.0,
                "commit": 0.0, "placing": 0.0}
        while not stop.is_set():
            got = await consumer.getmany(timeout_ms=100, max_records=5000)
            mono = time.monotonic()
            if self.positions is not None and self.positions.unplaced and \
                    mono - last["placing"] >= PLACE_RETRY_S:
                last["placing"] = mono
                await self.positions.retry()
            if mono - last["stations"] >= STATIONS_EVERY_S:
                last["stations"] = mono
                await self._refresh_stations()
            if mono - last["silences"] >= SILENCES_EVERY_S:
                last["silences"] = mono
                try:
                    self.silences = await self.reader.call(
                        deliveries.active_silences, local_from_unix(self.clock() / 1000))
                except StoreError as exc:
                    log.warning("notify.silences_unavailable", error=str(exc))
            now = self.clock()
            suppressed = []
            for tp, records in got.items():
                for rec in records:
                    origin = (tp, rec.offset)
                    try:
                        alarm = parse_alarm(rec.value)
                    except AlarmFormatError as exc:
                        self.stats["bad"] += 1
                        log.warning("notify.bad_alarm", partition=tp.partition,
                                    offset=rec.offset, error=str(exc))
                        self.offsets.add(origin, 0)
                        continue
                    self.stats["alarms"] += 1
                    alarm = self.routing.with_365(
                        deliveries.enrich(alarm, self.stations.get(alarm.mn)))
                    sid = None
                    if self.silences:
                        sid = deliveries.silence_for(
                            self.reader.ch, alarm, local_from_unix(now / 1000),
                            self.silences)
                    res = self.engine.ingest(alarm, self.routing.targets(alarm), origin,
                                             now, sid)
                    self.offsets.add(origin, res.waits)
                    suppressed += [(item, sid or "") for item in res.suppressed]
            if suppressed:
                await self._suppressed(suppressed, now)
            self.engine.tick(now)
            if mono - last["escalation"] >= ESCALATION_EVERY_S:
                last["escalation"] = mono
                await self._escalate(now)
            for ev in self.wakeups.values():
                ev.set()
            if mono - last["commit"] >= COMMIT_EVERY_S:
                last["commit"] = mono
                await self._commit(consumer)

    async def _suppressed(self, items: list[tuple[Any, str]], now: int) -> None:
        rows = []
        for item, sid in items:
            n = Notification.of(item.receiver, [item], now)
            rows.append(deliveries.Row(n, SUPPRESSED, silence_id=sid, at_ms=now,
                                       error=f"静默 silenced by {sid}"))
        await self.log.put(rows)
        for item, _ in items:
            self.offsets.done(item.origins)
        self.stats["suppressed"] += len(items)

    async def _escalate(self, now: int) -> None:
        due = self.engine.escalation_due(now)
        if not due:
            return
        try:
            acked = await self.reader.call(deliveries.acknowledged, due)
        except StoreError as exc:
            log.warning("notify.ledger_unavailable", error=str(exc))
            return  # try again at the next check: escalating blind would be wrong too
        made = self.engine.escalate(due, set(due) - (acked or set()), now)
        if made:
            log.info("notify.escalated", alarms=made, ledger=acked is not None)

    async def _operators(self) -> None:
        """Operators' notify events from the ledger, every POLL_S (operator.py)."""
        while not self._stopping:
            try:
                await self._operator_poll()
            except asyncio.CancelledError:
                raise
            except StoreError as exc:
                log.warning("notify.ledger_unavailable", error=str(exc))
            except Exception as exc:  # a bug must not stop operators' messages for good
                log.exception("notify.operator_error", error=repr(exc))
            await asyncio.sleep(op.POLL_S)

    async def _operator_poll(self) -> None:
        cursor = self.cursor
        assert cursor is not None
        rows = await self.reader.call(deliveries.notify_events, cursor.since_ms)
        record = {str(r["request_id"]): r for r in rows}
        notes = cursor.fresh(op.note_from_row(r) for r in rows)
        if not notes:
            return
        found = await self.reader.call(
            deliveries.alarm_rows, [str(record[n.request_id]["record_id"]) for n in notes
                                    if record[n.request_id].get("stream", "alarm") == "alarm"])
        now = self.clock()
        skipped: list[deliveries.Row] = []
        for note in notes:
            event = record[note.request_id]
            aid, stream = str(event["record_id"]), str(event.get("stream", "alarm"))
            row = found.get(aid)
            if stream != "alarm":
                alarm = op.alarm_from_record(stream, aid, str(event.get("payload") or ""))
            else:
                alarm = op.alarm_from_row(row) if row else op.alarm_from_id(aid)
            alarm = self.routing.with_365(
                deliveries.enrich(alarm, self.stations.get(alarm.mn)))
            planned = op.plan(note, alarm, self.routing, now)
            n = planned.notification
            if planned.skip is not None:
                skipped.append(deliveries.Row(n, SKIPPED, error=planned.skip, at_ms=now))
                log.info("notify.operator_skipped", notification_id=n.notification_id,
                         alarm_id=aid, receiver=note.receiver, reason=planned.skip)
                continue
            # queued in memory only: a crash before its pending row leaves it unlogged,
            # so the restart reads the event again and sends it
            self.engine.queue_operator(n)
            cursor.mark(note)
            self.stats["operator"] += 1
            log.info("notify.operator_queued", notification_id=n.notification_id,
                     alarm_id=aid, receiver=note.receiver, by=note.by)
            self.wakeups[note.receiver].set()
        if skipped:
            await self.log.put(skipped)
            for r in skipped:
                note_ = r.notification.operator
                if note_ is not None:
                    cursor.mark(note_)
            self.stats["skipped"] += len(skipped)

    async def _commit(self, consumer: AIOKafkaConsumer) -> None:
        offsets = self.offsets.committable()
        if offsets:
            await consumer.commit(offsets)

    # --- delivery ----------------------------------------------------------------------

    async def _sender(self, name: str) -> None:
        receiver = self.routing.receivers[name]
        wake = self.wakeups[name]
        while not self._stopping:
            n = self.engine.take(name, self.clock())
            if n is None:
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), 0.5)
                continue
            try:
                await self._deliver(receiver.name, n)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not silence the receiver for good
                log.exception("notify.sender_error", receiver=name, error=repr(exc))
                await asyncio.sleep(1.0)

    async def _deliver(self, name: str, n: Notification) -> None:
        receiver = self.routing.receivers[name]
        policy = self.routing.delivery
        if n.resumed:
            was = (await self.reader.call(deliveries.states, [n.notification_id])
                   ).get(n.notification_id)
            if was in FINAL_STATES:
                self.engine.settle(n, was)
                return
        # written ahead: from here a restart resumes it from the log
        await self.log.put([deliveries.Row(n, PENDING, at_ms=self.clock())])
        self.engine.settle(n, PENDING)
        for item in n.items:
            self.offsets.done(item.origins)
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            out = await self.sender.send(receiver, n)
            took = time.monotonic() - started
            if out.ok:
                self._finish(n, SENT, attempt, "")
                log.info("notify.sent", receiver=name, notification_id=n.notification_id,
                         items=len(n.items), digest=n.digest, attempt=attempt,
                         ms=round(took * 1000, 1))
                return
            if not out.retry or attempt >= policy.max_attempts:
                why = out.error if not out.retry else (
                    f"{out.error} (gave up after {attempt} attempts)")
                self._finish(n, DEAD, attempt, why)
                log.error("notify.dead_letter", receiver=name,
                          notification_id=n.notification_id, attempts=attempt, error=why)
                return
            if out.rate_limited:
                wait = policy.rate_limited_wait_s
                self.engine.rate_limited(name, self.clock() + int(wait * 1000))
            else:
                wait = backoff_s(attempt, base=policy.backoff_base_s, cap=policy.backoff_cap_s)
            self.stats["retries"] += 1
            await self.log.put([deliveries.Row(n, RETRYING, attempt, out.error,
                                               at_ms=self.clock())])
            log.warning("notify.retry", receiver=name, notification_id=n.notification_id,
                        attempt=attempt, retry_in_s=round(wait, 2), error=out.error)
            await asyncio.sleep(wait)

    def _finish(self, n: Notification, state: str, attempts: int, error: str) -> None:
        """Log the outcome without holding up the receiver's next message."""
        self.stats["sent" if state == SENT else "dead"] += 1

        async def write() -> None:
            await self.log.put([deliveries.Row(n, state, attempts, error,
                                               at_ms=self.clock())])
            self.engine.settle(n, state)

        task = asyncio.create_task(write())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
