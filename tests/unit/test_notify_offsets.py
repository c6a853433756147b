"""The notifier's offsets per partition: what it may commit (past the longest settled
prefix) and where it resumes a partition that comes back to it with nothing committed
(its first record still waiting, else past the last it read)."""

from __future__ import annotations

from pipeline.notify.service import Offsets

P0, P1 = ("alarms", 0), ("alarms", 1)


def test_commit_stops_at_the_first_record_still_waiting() -> None:
    o = Offsets()
    o.add((P0, 5), 1)
    o.add((P0, 6), 0)
    assert o.committable() == {}
    o.done([(P0, 5)])
    assert o.committable() == {P0: 7}


def test_a_partition_read_resumes_at_its_first_waiting_record_else_past_the_last() -> None:
    o = Offsets()
    assert o.resume_at(P0) is None  # never read: the start policy places it
    o.add((P0, 5), 0)
    o.add((P0, 6), 2)
    o.add((P0, 7), 0)
    o.committable()  # 5 is settled and committed; 6 still waits
    assert o.resume_at(P0) == 6
    o.done([(P0, 6), (P0, 6)])
    o.committable()
    assert o.resume_at(P0) == 8


def test_a_partition_forgotten_is_placed_by_the_start_policy_again() -> None:
    o = Offsets()
    o.add((P0, 3), 0)
    o.add((P1, 9), 1)
    o.forget([P1])
    assert o.resume_at(P1) is None
    assert o.committable() == {P0: 4}
