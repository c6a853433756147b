"""A batch fetched before a rebalance (by the stream worker or the ledger writer) is read
again from the committed offsets of the partitions still the consumer's. Asking Kafka for
a committed offset lets the rebalance finish: a partition given away meanwhile must be
left alone, not sought (aiokafka raises ``IllegalStateError`` for it, which stopped a
worker in CI on 2026-12-05)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from aiokafka.errors import IllegalStateError  # type: ignore[import-untyped,unused-ignore]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped,unused-ignore]

from pipeline.rebalance import read_again

FRAMES = "frames"


def tp(p: int) -> TopicPartition:
    return TopicPartition(FRAMES, p)


@dataclass
class Record:
    offset: int


@dataclass
class Consumer:
    """What ``read_again`` uses of aiokafka's consumer, with its rule that only an
    assigned partition can be sought; ``revoke_during`` gives partitions away while
    Kafka answers ``committed`` for the named one, as a rebalance would."""

    assigned: set[TopicPartition]
    committed_at: dict[TopicPartition, int | None]
    revoke_during: tuple[TopicPartition, set[TopicPartition]] | None = None
    sought: dict[TopicPartition, int] = field(default_factory=dict)

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def committed(self, partition: TopicPartition) -> int | None:
        await asyncio.sleep(0)
        if self.revoke_during is not None and self.revoke_during[0] == partition:
            self.assigned -= self.revoke_during[1]
        return self.committed_at.get(partition)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if partition not in self.assigned:
            raise IllegalStateError(f"No current assignment for partition {partition}")
        self.sought[partition] = offset


def batch_of(*parts: int) -> dict[TopicPartition, list[Record]]:
    return {tp(p): [Record(100 * p + 7), Record(100 * p + 8)] for p in parts}


def test_partitions_still_ours_go_back_to_their_committed_offsets() -> None:
    c = Consumer({tp(0), tp(1), tp(2)}, {tp(0): 5, tp(1): None, tp(2): 250})
    sought = asyncio.run(read_again(c, batch_of(0, 1, 2)))
    # no committed offset: the batch's first record, which would otherwise be skipped
    assert c.sought == {tp(0): 5, tp(1): 107, tp(2): 250}
    assert sorted(sought) == [tp(0), tp(1), tp(2)]


def test_a_partition_given_away_before_is_left_alone() -> None:
    c = Consumer({tp(1)}, {tp(0): 5, tp(1): 9})
    assert asyncio.run(read_again(c, batch_of(0, 1))) == [tp(1)]
    assert c.sought == {tp(1): 9}


@pytest.mark.parametrize("during", [0, 1, 2])
def test_a_partition_given_away_while_kafka_answers_is_left_alone(during: int) -> None:
    # the rebalance of the CI failure: 0, 2 and 4 go to the other worker while the
    # committed offset of one of them (or of one kept) is asked for. The partitions
    # asked for before were sought while still ours (the fake refuses any other seek);
    # after it, only those kept are
    c = Consumer({tp(p) for p in range(6)}, {tp(p): 10 * p for p in range(6)},
                 revoke_during=(tp(during), {tp(0), tp(2), tp(4)}))
    sought = asyncio.run(read_again(c, batch_of(*range(6))))
    expected = [tp(p) for p in range(6) if p % 2 == 1 or p < during]
    assert sorted(sought) == expected
    assert c.sought == {t: 10 * t.partition for t in expected}


def test_empty_record_lists_are_not_sought() -> None:
    c = Consumer({tp(0)}, {tp(0): 3})
    assert asyncio.run(read_again(c, {tp(0): []})) == []
    assert c.sought == {}
