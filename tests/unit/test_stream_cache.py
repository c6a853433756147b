"""pipeline/ledger/stream_cache.py on chDB: a re-read fetches only what was appended
since, a row landing later than the look-back is still caught by the fingerprint, and a
reader pointed at other contents reloads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from pipeline.ledger import queries as lq
from pipeline.ledger.codec import event_columns
from pipeline.ledger.model import Event
from pipeline.ledger.stream_cache import StreamCache
from tests.unit.chdb_client import ChdbClickHouse, migrate

T0 = datetime(2026, 12, 1, 9, 0, 0, 250_000)


def ev(rid: str, seq: int, at: datetime, stream: str = "work_order") -> Event:
    return Event(stream, rid, seq, uuid.uuid4().hex, "note", "a", at, {"text": f"{seq}"})


@pytest.fixture
def ch() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_stream_cache") as conn:
        migrate(conn)
        conn.execute("TRUNCATE TABLE ledger_events")
        yield conn


class Counting:
    """The reader, counting the rows each query returned."""

    def __init__(self, ch: ChdbClickHouse) -> None:
        self.ch = ch
        self.rows = 0

    def query_dicts(self, sql: str, params: object = None) -> list[dict]:
        out = self.ch.query_dicts(sql, params)
        if "count()" not in sql:
            self.rows += len(out)
        return out


def put(ch: ChdbClickHouse, *events: Event) -> None:
    ch.insert_columns("ledger_events", event_columns(list(events)))


def test_a_reread_fetches_only_what_was_appended(ch):
    put(ch, *[ev(f"WO-{k}", s, T0 + timedelta(minutes=k)) for k in range(50)
              for s in (1, 2)], ev("OTHER", 1, T0, stream="alarm"))
    reader = Counting(ch)
    cache = StreamCache("work_order", lookback_ms=60_000)
    first = cache.histories(reader)
    assert len(first) == 50 and reader.rows == 100
    assert [e.seq for e in first["WO-7"]] == [1, 2]
    reader.rows = 0
    put(ch, ev("WO-7", 3, T0 + timedelta(minutes=60)))
    again = cache.histories(reader)
    # from the look-back (1 min before the newest, minute 49): minutes 48 and 49 again,
    # and the new row; not the other 96
    assert reader.rows == 5
    assert [e.seq for e in again["WO-7"]] == [1, 2, 3]
    assert again == {rid: tuple(evs) for rid, evs in
                     lq.stream_histories(ch, "work_order").items()}
    assert cache.reloads == 0


def test_a_row_landing_later_than_the_lookback_is_caught(ch):
    put(ch, ev("WO-1", 1, T0), ev("WO-2", 1, T0 + timedelta(hours=2)))
    cache = StreamCache("work_order", lookback_ms=60_000)
    cache.histories(ch)
    # stamped an hour before the newest row, landing only now
    put(ch, ev("WO-1", 2, T0 + timedelta(hours=1)))
    got = cache.histories(ch)
    assert [e.seq for e in got["WO-1"]] == [1, 2] and cache.reloads == 1


def test_other_contents_behind_the_reader_reload(ch):
    put(ch, ev("WO-1", 1, T0), ev("WO-1", 2, T0 + timedelta(seconds=1)))
    cache = StreamCache("work_order")
    assert set(cache.histories(ch)) == {"WO-1"}
    ch.execute("TRUNCATE TABLE ledger_events")
    put(ch, ev("WO-9", 1, T0), ev("WO-9", 2, T0 + timedelta(seconds=3)))
    assert set(cache.histories(ch)) == {"WO-9"}
    assert cache.reloads == 1
