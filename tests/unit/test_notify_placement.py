"""The notifier places the partitions its group has no committed offset for, asking Kafka
(committed offsets, offsets for a time, end offsets) between its seeks. A rebalance can
run during any of those questions: a partition given away meanwhile is neither sought nor
resumed (aiokafka refuses both for a partition not assigned, which the notifier logged as
Kafka not answering and retried 2 s later), and what is still assigned is placed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.errors import IllegalStateError  # type: ignore[import-untyped,unused-ignore]
from aiokafka.structs import OffsetAndTimestamp, TopicPartition  # type: ignore[import-untyped,unused-ignore]

from pipeline.notify.service import Offsets, StartFrom, _StartPositions

ALARMS = "alarms"
NOW_MS = 10_000_000


def tp(p: int) -> TopicPartition:
    return TopicPartition(ALARMS, p)


@dataclass
class Consumer:
    """What the placement uses of aiokafka's consumer, with its rule that only assigned
    partitions can be sought, paused or resumed; ``revoke_at`` names the question (and
    for ``committed``, the partition) during which ``revoked`` is given away."""

    assigned: set[TopicPartition]
    committed_at: dict[TopicPartition, int | None] = field(default_factory=dict)
    revoke_at: tuple[str, TopicPartition | None] | None = None
    revoked: set[TopicPartition] = field(default_factory=set)
    sought: dict[TopicPartition, Any] = field(default_factory=dict)
    paused: set[TopicPartition] = field(default_factory=set)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def _check(self, parts: Any) -> None:
        missing = set(parts) - self.assigned
        if missing:
            raise IllegalStateError(f"Partitions {missing} are not assigned")

    async def _asked(self, what: str, partition: TopicPartition | None = None) -> None:
        await asyncio.sleep(0)
        if self.revoke_at == (what, partition):
            self.assigned -= self.revoked
            self.paused -= self.revoked

    async def committed(self, partition: TopicPartition) -> int | None:
        await self._asked("committed", partition)
        return self.committed_at.get(partition)

    async def offsets_for_times(self, times: dict[TopicPartition, int]) -> dict[Any, Any]:
        await self._asked("offsets_for_times")
        return {t: OffsetAndTimestamp(100 + t.partition, ms) for t, ms in times.items()}

    async def end_offsets(self, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
        await self._asked("end_offsets")
        return {t: 900 + t.partition for t in parts}

    async def seek_to_beginning(self, *parts: TopicPartition) -> bool:
        parts = parts or tuple(self.assigned)  # aiokafka: none named, every assigned one
        self._check(parts)
        await self._asked("seek_to_beginning")
        for t in parts:
            self.sought[t] = "beginning"
        return True

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self._check([partition])
        self.sought[partition] = offset

    def pause(self, *parts: TopicPartition) -> None:
        self._check(parts)
        self.paused |= set(parts)

    def resume(self, *parts: TopicPartition) -> None:
        self._check(parts)
        self.paused -= set(parts)


def place(c: Consumer, start_from: StartFrom = "recent") -> _StartPositions:
    positions = _StartPositions(c, Offsets(), start_from, catch_up_ms=60_000,
                                clock=lambda: NOW_MS)
    asyncio.run(positions.on_partitions_assigned(sorted(c.assigned)))
    return positions


def test_every_partition_is_placed_and_resumed_when_nothing_moves() -> None:
    c = Consumer({tp(0), tp(1), tp(2)}, committed_at={tp(1): 40})
    positions = place(c)
    # 1 has a committed offset (Kafka places it); the others start at the recent alarms
    assert c.sought == {tp(0): 100, tp(2): 102}
    assert c.paused == set() and positions.unplaced == []


@pytest.mark.parametrize("at", [("committed", tp(1)), ("committed", tp(2)),
                                ("offsets_for_times", None), ("end_offsets", None)])
def test_partitions_given_away_during_a_question_are_left_alone(
        at: tuple[str, TopicPartition | None]) -> None:
    c = Consumer({tp(p) for p in range(4)}, revoke_at=at, revoked={tp(1), tp(3)})
    positions = place(c)
    assert c.assigned == {tp(0), tp(2)}
    # what is still ours is placed at the recent alarms and resumed; nothing else sought
    assert c.sought == {tp(0): 100, tp(2): 102}
    assert c.paused == set() and positions.unplaced == []


@pytest.mark.parametrize("at", [("committed", tp(0)), ("committed", tp(3))])
def test_earliest_seeks_only_what_is_still_assigned(at: tuple[str, TopicPartition]) -> None:
    c = Consumer({tp(p) for p in range(4)}, revoke_at=at, revoked={tp(0), tp(1)})
    positions = place(c, "earliest")
    assert c.sought == {tp(2): "beginning", tp(3): "beginning"}
    assert c.paused == set() and positions.unplaced == []


def test_nothing_left_to_place_from_the_beginning_seeks_nothing() -> None:
    # seek_to_beginning() with no partition would seek every assigned one: 2, which has
    # a committed offset of its own
    c = Consumer({tp(0), tp(1), tp(2)}, committed_at={tp(2): 7},
                 revoke_at=("committed", tp(1)), revoked={tp(0), tp(1)})
    place(c, "earliest")
    assert c.sought == {}
