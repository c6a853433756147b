"""The ledger's change messages (JSON on the topic) and its ClickHouse rows."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from pipeline.ledger.codec import (
    EVENT_COLUMNS,
    REPLY_COLUMNS,
    ChangeFormatError,
    change_from_json,
    change_to_json,
    event_columns,
    event_from_row,
    record_key,
    reply_columns,
    reply_from_row,
    request_id_of,
)
from pipeline.ledger.model import CONFLICT, Change, Event, Reply

CHANGE = Change(request_id="0f" * 16, stream="alarm", record_id="MN1/a21026/over_limit/x",
                kind="comment", actor="王芳", expected_seq=3,
                payload={"text": "现场已通知 \"张工\"", "n": 2, "tags": ["a", "b"], "none": None},
                source="web", submitted_at=datetime(2026, 11, 24, 21, 3, 12, 345000))


def test_a_change_survives_the_round_trip():
    assert change_from_json(change_to_json(CHANGE)) == CHANGE


def test_the_message_is_plain_json_with_readable_chinese():
    raw = change_to_json(CHANGE)
    assert "王芳".encode() in raw  # not \u escapes: the topic stays readable
    msg = json.loads(raw)
    assert msg["v"] == 1 and msg["expected_seq"] == 3
    assert msg["submitted_at"] == "2026-11-24T21:03:12.345"


def test_a_change_without_submitted_at_or_payload():
    bare = Change(request_id="r", stream="alarm", record_id="x", kind="ack", actor="a",
                  expected_seq=0)
    assert change_from_json(change_to_json(bare)) == bare


def test_the_record_key_puts_a_records_changes_together():
    assert record_key("alarm", "MN1/a/b/c") == "alarm/MN1/a/b/c"


@pytest.mark.parametrize("raw, field", [
    (b"not json", "not JSON"),
    (b"[1, 2]", "JSON list"),
    (b'{"v": 2}', "v=2"),
    (b'{"request_id": "r", "stream": "", "record_id": "x", "kind": "k", "actor": "a", '
     b'"expected_seq": 0}', "'stream'"),
    (b'{"request_id": "r", "stream": "s", "record_id": "x", "kind": "k", "actor": "a", '
     b'"expected_seq": -1}', "'expected_seq'"),
    (b'{"request_id": "r", "stream": "s", "record_id": "x", "kind": "k", "actor": "a", '
     b'"expected_seq": true}', "'expected_seq'"),
    (b'{"request_id": "r", "stream": "s", "record_id": "x", "kind": "k", "actor": "a", '
     b'"expected_seq": 1, "payload": [1]}', "'payload'"),
    (b'{"request_id": "r", "stream": "s", "record_id": "x", "kind": "k", "actor": "a", '
     b'"expected_seq": 1, "submitted_at": "yesterday"}', "'submitted_at'"),
])
def test_an_unreadable_change_names_what_is_wrong(raw, field):
    with pytest.raises(ChangeFormatError, match="fix") as err:
        change_from_json(raw)
    assert field in str(err.value)


def test_the_request_id_of_a_bad_message_is_still_found():
    assert request_id_of(b'{"request_id": "abc", "expected_seq": "x"}') == "abc"
    assert request_id_of(b"garbage") is None
    assert request_id_of(b'{"request_id": 5}') is None


def test_event_rows_and_back():
    at = datetime(2026, 11, 24, 21, 3, 12, 345000)
    ev = Event(stream="alarm", record_id="x", seq=4, request_id="r4", kind="ack",
               actor="王芳", at=at, payload={"b": 1, "a": "确认"}, source="cli")
    cols = event_columns([ev])
    assert tuple(cols) == EVENT_COLUMNS
    # 2026-11-24 21:03:12.345 CST is 13:03:12.345 UTC
    utc_ms = int((datetime(2026, 11, 24, 13, 3, 12, 345000) - datetime(1970, 1, 1))
                 .total_seconds() * 1000)
    assert cols["at_ms"] == [utc_ms] and cols["at"] == [utc_ms // 1000]
    assert cols["payload"] == ['{"a":"确认","b":1}']
    row = {name: values[0] for name, values in cols.items()}
    assert event_from_row(row) == ev


def test_an_event_with_an_unreadable_payload_still_reads():
    row = {"stream": "s", "record_id": "x", "seq": 1, "request_id": "r", "kind": "k",
           "actor": "a", "at_ms": 0, "payload": "{oops", "source": ""}
    assert event_from_row(row).payload == {"_unreadable_payload": "{oops"}


def test_reply_rows_and_back():
    reply = Reply("r9", CONFLICT, 7, "此告警已被 王芳 修改")
    cols = reply_columns([(reply, "alarm", "x", datetime(2026, 1, 1, 8, 0, 0))])
    assert tuple(cols) == REPLY_COLUMNS
    assert cols["at"] == [int((datetime(2026, 1, 1) - datetime(1970, 1, 1)).total_seconds())]
    assert reply_from_row({name: values[0] for name, values in cols.items()}) == reply
