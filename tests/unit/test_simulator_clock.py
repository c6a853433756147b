"""The simulated clock: sped-up, monotonic, and separate from wall time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pipeline.simulator.clock import ManualClock, SimClock, parse_span

START = datetime(2024, 3, 1, 8, 0, 0)


def test_sim_clock_runs_speed_times_faster_than_the_wall() -> None:
    wall = [100.0]
    clock = SimClock(START, speed=1440, wall=lambda: wall[0])
    assert clock.now() == START
    wall[0] += 60  # a wall minute is a simulated day
    assert clock.now() == START + timedelta(days=1)
    assert clock.wall() == 160.0
    assert clock.wall_until(START + timedelta(days=1, seconds=1440)) == pytest.approx(1.0)
    assert clock.wall_until(START) == 0.0


def test_sim_clock_never_goes_back_with_a_monotonic_source() -> None:
    clock = SimClock(START, speed=3600)
    seen = [clock.now() for _ in range(1000)]
    assert seen == sorted(seen)


def test_sim_clock_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="speed"):
        SimClock(START, speed=0)
    with pytest.raises(ValueError, match="naive"):
        SimClock(START.astimezone(), speed=1)


def test_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(START, speed=60)
    assert clock.now() == START and clock.wall() == 0.0
    clock.advance(120)
    assert clock.now() == START + timedelta(minutes=2)
    assert clock.wall() == pytest.approx(2.0)
    clock.advance_wall(5)
    assert clock.now() == START + timedelta(minutes=2)
    assert clock.wall() == pytest.approx(7.0)
    with pytest.raises(ValueError):
        clock.advance(-1)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90), ("90s", 90), ("30m", 1800), ("6h", 21600), ("1d", 86400),
    ("1h30m", 5400), (45, 45), ("0.5h", 1800),
])
def test_spans(text: str | int, seconds: float) -> None:
    assert parse_span(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5w", "h"])
def test_bad_spans(text: str) -> None:
    with pytest.raises(ValueError, match="span"):
        parse_span(text)
