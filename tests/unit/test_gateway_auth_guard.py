"""Wrong passwords per source IP (slowed, then blocked) and frames per MN (token bucket),
on an injected clock: no socket, no sleeping."""

from __future__ import annotations

from pathlib import Path

from pipeline.gateway.auth_guard import AuthGuard, AuthLimits, SourceLevel
from pipeline.gateway.rate import TokenBuckets
from tests.unit.gateway_helpers import settings

LIMITS = AuthLimits(slow_after=3, block_after=5, window_s=60.0, block_s=300.0, delay_s=1.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_source_is_slowed_then_blocked_then_let_in_again() -> None:
    clock = Clock()
    guard = AuthGuard(LIMITS, clock)
    levels = []
    for _ in range(5):
        levels.append(guard.failure("10.0.0.1"))
        clock.now += 1
    assert levels == [SourceLevel.OK, SourceLevel.OK, SourceLevel.SLOW, SourceLevel.SLOW,
                      SourceLevel.BLOCK]
    assert guard.is_blocked("10.0.0.1") and not guard.is_blocked("10.0.0.2")
    assert guard.blocked_count == 1
    # more failures while blocked change nothing (the block is not extended)
    assert guard.failure("10.0.0.1") is SourceLevel.OK
    clock.now += 298
    assert guard.is_blocked("10.0.0.1")
    assert guard.sweep() == []
    clock.now += 2  # 300 s after the block began
    assert not guard.is_blocked("10.0.0.1")
    assert guard.sweep() == ["10.0.0.1"] and guard.blocked_count == 0
    # the count starts again from nothing
    assert guard.failure("10.0.0.1") is SourceLevel.OK
    assert guard.failures("10.0.0.1") == 1


def test_failures_older_than_the_window_do_not_count() -> None:
    clock = Clock()
    guard = AuthGuard(LIMITS, clock)
    for _ in range(10):  # one every 30 s: never more than 2 in a 60 s window
        assert guard.failure("10.0.0.1") is SourceLevel.OK
        clock.now += 30
    assert guard.failures("10.0.0.1") == 1  # the one 30 s ago; 60 s ago is out
    clock.now += 60
    assert guard.failures("10.0.0.1") == 0
    guard.sweep()
    assert guard.failures("10.0.0.1") == 0 and not guard._failures


def test_sources_are_counted_apart() -> None:
    clock = Clock()
    guard = AuthGuard(LIMITS, clock)
    for _ in range(4):
        guard.failure("10.0.0.1")
        guard.failure("10.0.0.2")
    assert guard.failure("10.0.0.1") is SourceLevel.BLOCK
    assert not guard.is_blocked("10.0.0.2")
    assert guard.failures("10.0.0.2") == 4


def test_zero_turns_slowing_or_blocking_off() -> None:
    clock = Clock()
    never_block = AuthGuard(AuthLimits(3, 0, 60.0, 300.0, 1.0), clock)
    levels = {never_block.failure("10.0.0.1") for _ in range(1000)}
    assert levels == {SourceLevel.OK, SourceLevel.SLOW}
    assert not never_block.is_blocked("10.0.0.1")
    # the count is capped at the larger threshold, so a flood costs no memory
    assert never_block.failures("10.0.0.1") == 3
    never_slow = AuthGuard(AuthLimits(0, 4, 60.0, 300.0, 1.0), clock)
    assert [never_slow.failure("10.0.0.1") for _ in range(4)] == [SourceLevel.OK] * 3 + [
        SourceLevel.BLOCK]


def test_the_number_of_sources_tracked_is_bounded() -> None:
    clock = Clock()
    guard = AuthGuard(LIMITS, clock)
    guard.MAX_SOURCES = 100
    for i in range(250):
        guard.failure(f"10.0.{i // 256}.{i % 256}")
    assert len(guard._failures) <= 100


def test_limits_come_from_the_gateway_settings(tmp_path: Path) -> None:
    s = settings(tmp_path, auth_fail_slow_after=7, auth_fail_block_after=9,
                 auth_fail_window_s=30.0, auth_block_s=120.0, auth_fail_delay_s=0.5)
    assert AuthLimits.of(s.gateway) == AuthLimits(7, 9, 30.0, 120.0, 0.5)
    defaults = settings(tmp_path).gateway
    assert 0 < defaults.auth_fail_slow_after < defaults.auth_fail_block_after


def test_token_bucket_allows_a_burst_then_paces() -> None:
    clock = Clock()
    buckets = TokenBuckets(10.0, clock)
    assert buckets.take("MN1", 10) == 0.0  # a burst of one second's worth
    assert buckets.take("MN1", 5) == 0.5  # 5 frames over: half a second of pause
    assert buckets.take("MN2", 1) == 0.0  # each MN has its own bucket
    clock.now += 1.0
    assert buckets.take("MN1", 5) == 0.0  # refilled 10, owed 5
    clock.now += 100
    assert buckets.take("MN1", 10) == 0.0  # never more than the burst
    assert buckets.take("MN1", 1) > 0
    buckets.MAX_BUCKETS = 1
    buckets.trim()
    assert not buckets._buckets
