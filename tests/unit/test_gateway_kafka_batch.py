"""The publisher's Kafka batches made in Rust (``hj212.kafka_split``, ``hj212.kafka_batch``)
read back by aiokafka's own decoder (``DefaultRecordBatch``: CRC-32C, header, records) and
partitioned as aiokafka's murmur2 says: every record lands once, in order, in its
partition, unless Kafka has it already."""

from __future__ import annotations

import hj212
import pytest
from aiokafka.partitioner import murmur2  # type: ignore[import-untyped,unused-ignore]
from aiokafka.record.default_records import (  # type: ignore[import-untyped,unused-ignore]
    DefaultRecordBatch,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.gateway.publisher import PrebuiltBatch
from pipeline.gateway.spool import record

PARTITIONS = [[0, 1, 2, 3, 4, 5], [0, 1]]

records_st = st.lists(
    st.tuples(st.integers(0, 1),
              st.one_of(st.just(b""), st.binary(min_size=1, max_size=30)),
              st.binary(max_size=700)),
    max_size=60)


def decode(data: bytes) -> DefaultRecordBatch:
    batch = DefaultRecordBatch(data)
    assert batch.validate_crc()
    return batch


@settings(max_examples=150, deadline=None)
@given(records_st, st.integers(0, 1000), st.integers(0, 10**9),
       st.sampled_from([300, 2_000, 600_000]), st.data())
def test_every_record_lands_once_in_order_in_its_partition(
        recs: list[tuple[int, bytes, bytes]], rr: int, first_seq: int, max_section: int,
        data: st.DataObject) -> None:
    # some (topic, partition)s already in Kafka up to a sequence number (a lost ack)
    written = {(t, p): first_seq + data.draw(st.integers(0, len(recs)))
               for t, parts in enumerate(PARTITIONS) for p in parts
               if data.draw(st.booleans())}
    blob = b"".join(record(t, k, v) for t, k, v in recs)
    sections, per_topic, rr_after = hj212.kafka_split(blob, PARTITIONS, rr, first_seq, written,
                                                      max_section)
    # the reference: Kafka's default partitioner, round-robin without a key
    want: dict[tuple[int, int], list[tuple[bytes, bytes]]] = {}
    n = rr
    for i, (t, k, v) in enumerate(recs):
        parts = PARTITIONS[t]
        if k:
            p = parts[(murmur2(k) & 0x7FFFFFFF) % len(parts)]
        else:
            n += 1
            p = parts[n % len(parts)]
        if first_seq + i > written.get((t, p), -1):
            want.setdefault((t, p), []).append((k, v))
    assert rr_after == n
    assert per_topic == [sum(1 for r in recs if r[0] == t) for t in range(len(PARTITIONS))]
    got: dict[tuple[int, int], list[tuple[bytes, bytes]]] = {}
    for i, (t, p, section, count) in enumerate(sections):
        pb = PrebuiltBatch(section, count)
        pb._set_producer_state(7000 + i, 3, 40 + i)
        batch = decode(pb._build())
        assert (batch.producer_id, batch.producer_epoch, batch.base_sequence) == (
            7000 + i, 3, 40 + i)
        assert batch.magic == 2 and batch.compression_type == 0
        assert not batch.is_transactional and not batch.is_control_batch
        assert pb.size() == len(pb._build())
        assert len(section) <= max_section or count == 1
        out = list(batch)
        assert len(out) == count == pb.record_count() and count > 0
        assert [r.offset for r in out] == list(range(count))
        got.setdefault((t, p), []).extend((r.key or b"", r.value or b"") for r in out)
    assert got == want


def test_a_corrupt_record_is_named_by_its_byte() -> None:
    good = record(0, b"MN1", b"v" * 20)
    bad = bytearray(record(0, b"MN2", b"w" * 20))
    bad[-1] ^= 1
    with pytest.raises(ValueError, match=f"byte {len(good)} of a read"):
        hj212.kafka_split(good + bytes(bad), PARTITIONS, 0, 0, {}, 1 << 20)
    with pytest.raises(ValueError, match="byte 0 of a read"):
        hj212.kafka_split(good[:-3], PARTITIONS, 0, 0, {}, 1 << 20)
    with pytest.raises(ValueError, match="topic tag 2"):
        hj212.kafka_split(record(2, b"k", b"v"), PARTITIONS, 0, 0, {}, 1 << 20)
