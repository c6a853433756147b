"""The ledger's reads (pipeline/ledger/queries.py) on chDB, the current ClickHouse, over
rows the writer's own column functions made."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from pipeline.ledger import queries
from pipeline.ledger.codec import event_columns, reply_columns
from pipeline.ledger.model import APPENDED, CONFLICT, Event, Reply
from tests.unit.chdb_client import ChdbClickHouse, migrate

T0 = datetime(2026, 11, 24, 8, 0, 0, 250000)


def ev(record: str, seq: int, minutes: int, stream: str = "alarm") -> Event:
    return Event(stream=stream, record_id=record, seq=seq, request_id=f"{record}-{seq}",
                 kind="comment", actor="王芳", at=T0 + timedelta(minutes=minutes),
                 payload={"text": f"第{seq}条"}, source="web")


EVENTS = [ev("A", 1, 0), ev("A", 2, 5), ev("A", 3, 61), ev("B", 1, 10),
          ev("A", 1, 3, stream="work_order")]


@pytest.fixture(scope="module")
def ch() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_ledger_q") as c:
        migrate(c)
        # out of order on purpose: reads must order by seq
        c.insert_columns("ledger_events", event_columns(EVENTS[::-1]))
        c.insert_columns("ledger_replies", reply_columns([
            (Reply("A-1", APPENDED, 1), "alarm", "A", T0),
            (Reply("x", CONFLICT, 3, "已被修改"), "alarm", "A", T0)]))
        yield c


def test_history_in_seq_order_with_times_to_the_millisecond(ch):
    assert queries.history(ch, "alarm", "A") == EVENTS[:3]
    assert queries.history(ch, "alarm", "nothing") == []


def test_last_seq(ch):
    assert queries.last_seq(ch, "alarm", "A") == 3
    assert queries.last_seq(ch, "work_order", "A") == 1
    assert queries.last_seq(ch, "alarm", "nothing") == 0


def test_histories_and_last_seqs_of_many(ch):
    got = queries.histories(ch, "alarm", ["B", "A", "C", "A"])
    assert got == {"A": EVENTS[:3], "B": [EVENTS[3]], "C": []}
    assert queries.last_seqs(ch, "alarm", ["A", "B", "C"]) == {"A": 3, "B": 1, "C": 0}
    assert queries.histories(ch, "alarm", []) == {}


def test_replies_by_request_id(ch):
    assert queries.replies(ch, ["A-1", "x", "missing"]) == {
        "A-1": Reply("A-1", APPENDED, 1), "x": Reply("x", CONFLICT, 3, "已被修改")}
    assert queries.reply(ch, "missing") is None
    assert queries.replies(ch, []) == {}


def test_recent_events_of_a_shift(ch):
    got = queries.recent_events(ch, "alarm", T0 + timedelta(minutes=1),
                                T0 + timedelta(minutes=61))
    assert got == [EVENTS[1], EVENTS[3]]  # the end is excluded, other streams are not in
