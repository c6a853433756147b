"""The worker's clocks (pipeline/stream/clock.py): wall passes receive times through, the
data clock stamps each frame with the latest data time seen so far."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from pipeline.stream.clock import DataClock, WallClock, make_clock

CST = 8 * 3600


def times(*texts: str | None) -> np.ndarray:
    return np.array([t if t is not None else "NaT" for t in texts], dtype="datetime64[s]")


def epoch(text: str) -> int:
    # a naive CST time as the UTC epoch seconds the gateway stamps
    return int(np.datetime64(text, "s").astype(np.int64)) - CST


def test_wall_clock_keeps_the_gateways_receive_times() -> None:
    received = np.array([1, 2, 3], dtype=np.int64)
    assert WallClock().receive_epochs(times("2024-03-01T08:00", None, None),
                                      received) is received
    assert WallClock().now() is not None


def test_data_clock_is_a_running_maximum_of_data_times() -> None:
    clock = DataClock()
    assert clock.now() is None  # nothing seen: nothing to tick
    wall = np.array([10, 11, 12, 13], dtype=np.int64)
    # a back-filled record from an hour ago is received now, not an hour ago
    got = clock.receive_epochs(times(None, "2024-03-01T09:00", "2024-03-01T08:00",
                                     "2024-03-01T09:01"), wall)
    assert got.tolist() == [10, epoch("2024-03-01T09:00"), epoch("2024-03-01T09:00"),
                            epoch("2024-03-01T09:01")]
    assert clock.now() == datetime(2024, 3, 1, 9, 1)
    # the next batch starts where the last one left the clock
    got = clock.receive_epochs(times("2024-03-01T08:30", None), np.array([20, 21]))
    assert got.tolist() == [epoch("2024-03-01T09:01")] * 2
    assert clock.now() == datetime(2024, 3, 1, 9, 1)


def test_make_clock_names_the_choices() -> None:
    assert make_clock("data").name == "data"
    with pytest.raises(ValueError, match="wall, data"):
        make_clock("sundial")


def test_data_clock_receives_each_partition_on_its_own_clock() -> None:
    # a fetch reads a run of partition 1 before partition 0 catches up: partition 0's
    # frames are not late for that, though the worker's clock has run ahead
    clock = DataClock()
    parts = np.array([1, 1, 0, 0, 1], dtype=np.int32)
    got = clock.receive_epochs(times("2024-03-01T09:00", "2024-03-01T09:30",
                                     "2024-03-01T08:00", None, "2024-03-01T09:10"),
                               np.arange(5, dtype=np.int64), parts)
    assert got.tolist() == [epoch("2024-03-01T09:00"), epoch("2024-03-01T09:30"),
                            epoch("2024-03-01T08:00"), epoch("2024-03-01T08:00"),
                            epoch("2024-03-01T09:30")]
    # ticks run on the worker's clock: a partition gone quiet falls behind the others
    assert clock.now() == datetime(2024, 3, 1, 9, 30)
    # each partition carries its clock into the next batch; a partition not heard from
    # yet takes the worker's clock for a frame without a data time
    got = clock.receive_epochs(times("2024-03-01T07:00", "2024-03-01T08:05", None),
                               np.array([7, 8, 9]), np.array([0, 0, 2], dtype=np.int32))
    assert got.tolist() == [epoch("2024-03-01T08:00"), epoch("2024-03-01T08:05"),
                            epoch("2024-03-01T09:30")]
    assert clock.now() == datetime(2024, 3, 1, 9, 30)


def test_data_clock_ticks_a_partition_with_a_backlog_at_its_own_clock() -> None:
    clock = DataClock()
    clock.receive_epochs(times("2024-03-01T09:30", "2024-03-01T08:00"),
                         np.array([1, 2]), np.array([0, 1], dtype=np.int32))
    now = clock.now()
    assert now == datetime(2024, 3, 1, 9, 30)
    # partition 1 read to its end: its quiet stations must fall behind at the worker's time
    assert clock.now_for(1, now) == now
    # records of partition 1 wait unread: its stations are not silent, only unread yet
    clock.note_backlog(1, True)
    assert clock.now_for(1, now) == datetime(2024, 3, 1, 9, 30)  # never back past a tick
    clock.note_backlog(1, False)
    clock.receive_epochs(times("2024-03-01T10:00", "2024-03-01T09:00"),
                         np.array([3, 4]), np.array([0, 2], dtype=np.int32))
    clock.note_backlog(2, True)
    later = clock.now()
    assert later == datetime(2024, 3, 1, 10, 0)
    assert clock.now_for(2, later) == datetime(2024, 3, 1, 9, 0)
    assert clock.now_for(0, later) == later
    # caught up: the worker's clock again
    clock.note_backlog(2, False)
    assert clock.now_for(2, later) == later
    # the wall ticks every partition at the wall's time
    wall = WallClock()
    wall.note_backlog(0, True)
    assert wall.now_for(0, later) == later
