"""The station table answers only for partitions whose state is there: a clock tick must
not touch a state still being read, and what was made of a partition before its state
was loaded is dropped (the worker reads such frames again once it is loaded)."""

from __future__ import annotations

from pipeline.stream.state import StationTable


def table() -> StationTable:
    return StationTable("127.0.0.1:1", "t-station-state", 6, 1)


def test_nothing_is_ready_before_its_state_is_there() -> None:
    t = table()
    assert not t.ready([0])
    t.get(0, "MN-A")["offset"] = 5  # as a detection ahead of the load would
    assert t.stations() == []


def test_start_empty_drops_what_was_made_before_and_makes_ready() -> None:
    t = table()
    t.put(0, "MN-A", {"offset": 5})
    t.start_empty([0, 1])
    assert t.ready([0, 1]) and not t.ready([0, 2])
    assert t.stations() == []
    t.put(1, "MN-B", {"offset": 7})
    assert t.stations() == [(1, "MN-B")]


def test_a_dropped_partition_is_no_longer_ready() -> None:
    t = table()
    t.start_empty([3])
    t.put(3, "MN-C", {})
    t.drop([3])
    assert not t.ready([3])
    assert t.stations() == []
