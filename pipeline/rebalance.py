"""Consumer moves that stay correct when a rebalance runs in the middle of them.

Any await on an aiokafka consumer (asking Kafka for a committed offset, for the offsets
of a time, polling) lets its group rebalance: partitions this consumer held may be
another member's when the await returns. aiokafka refuses to seek, pause or resume a
partition that is not assigned (``IllegalStateError``, which stopped a worker in CI on
2026-12-05), and the new owner reads such a partition from its committed offset anyway.
So these moves look at the assignment at the moment they act, never at one taken
before an await."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped,unused-ignore]
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped,unused-ignore]


def seek_if_assigned(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> bool:
    """Seek ``tp`` to ``offset`` if it is still this consumer's; whether it was."""
    if tp not in consumer.assignment():
        return False
    consumer.seek(tp, offset)
    return True


def resume_assigned(consumer: AIOKafkaConsumer, parts: Iterable[TopicPartition]) -> None:
    """Resume those of ``parts`` still this consumer's."""
    owned = consumer.assignment()
    consumer.resume(*[tp for tp in parts if tp in owned])


async def read_again(consumer: AIOKafkaConsumer,
                     batch: Mapping[TopicPartition, Sequence[Any]]) -> list[TopicPartition]:
    """Seek each partition of ``batch`` (records fetched before a rebalance) that is still
    this consumer's back to its committed offset, the batch's first record where none is
    committed: the consumer's position is past the batch, and skipping it would lose it.
    The partitions sought."""
    sought: list[TopicPartition] = []
    for tp, records in batch.items():
        if not records or tp not in consumer.assignment():
            continue
        committed = await consumer.committed(tp)
        if seek_if_assigned(consumer, tp,
                            committed if committed is not None else records[0].offset):
            sought.append(tp)
    return sought
