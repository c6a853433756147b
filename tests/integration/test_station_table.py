"""The station table over a real changelog topic: what a load keeps of the states this
worker held when the same partitions were revoked just before.

When the changelog is lost as the group rebalances (Kafka's data replaced while the
revoking worker could not write to it), the worker given its partitions back still holds
its stations: a load takes those its changelog lacks, and writes them there; a station
the changelog holds, or deleted, is the changelog's."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaProducer

from pipeline.detect.state import StationState, dump_station_state
from pipeline.stack.live import LiveStack
from pipeline.stream.state import StationTable


async def _write(bootstrap: str, topic: str,
                 records: list[tuple[int, str, StationState | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for partition, mn, state in records:
            value = None if state is None else dump_station_state(state)
            await producer.send_and_wait(topic, value, key=mn.encode(), partition=partition)
    finally:
        await producer.stop()


async def _released_then_loaded(bootstrap: str) -> tuple[StationTable, StationTable]:
    topic = f"test.table.{uuid.uuid4().hex[:8]}"
    table = StationTable(bootstrap, topic, 2, 1)
    await table.ensure_topic()
    # what another owner wrote while this worker held its states: a newer A, D deleted
    await _write(bootstrap, topic, [(0, "MN-A", {"offset": 9}), (0, "MN-D", {"offset": 1}),
                                    (0, "MN-D", None)])
    table.start_empty([0, 1])
    for partition, mn, offset in [(0, "MN-A", 3), (0, "MN-B", 4), (0, "MN-D", 5),
                                  (1, "MN-C", 6)]:
        table.put(partition, mn, {"offset": offset})
    table.take_dirty()  # as a commit that handed them over, before the changelog was lost
    table.release([0, 1])
    assert table.stations() == [], "released states are not the table's until a load"
    await table.load([0])  # partition 1 went to another worker
    # a second table, as a restarted worker: what the changelog holds after the send
    table.producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await table.producer.start()
    try:
        await asyncio.gather(*await table.send(table.take_dirty()))
    finally:
        await table.producer.stop()
    later = StationTable(bootstrap, topic, 2, 1)
    await later.load([0, 1])
    return table, later


def test_a_load_keeps_the_released_stations_its_changelog_lacks(stack: LiveStack) -> None:
    table, later = asyncio.run(_released_then_loaded(stack.kafka_bootstrap))
    held = {mn: table.get(p, mn)["offset"] for p, mn in table.stations()}
    # A: the changelog's (newer); B: kept from what was released; D: deleted stays deleted
    assert held == {"MN-A": 9, "MN-B": 4}
    assert table.ready([0]) and not table.ready([1])
    # C's partition was loaded by another worker: its released state is not kept here
    assert [mn for p, mn in later.stations() if p == 1] == []
    # the kept station was written to the changelog by the next send
    assert {mn: later.get(p, mn)["offset"] for p, mn in later.stations()} == held


def test_a_release_keeps_nothing_of_a_partition_not_loaded(stack: LiveStack) -> None:
    async def go() -> list[tuple[int, str]]:
        table = StationTable(stack.kafka_bootstrap, f"test.table.{uuid.uuid4().hex[:8]}",
                             1, 1)
        await table.ensure_topic()
        table.get(0, "MN-E")["offset"] = 2  # made ahead of a load: never ready
        table.release([0])
        await table.load([0])
        return table.stations()

    assert asyncio.run(go()) == []
