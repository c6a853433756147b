"""Login throttling as a pure function of recent failures (admin/throttle.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from admin.throttle import (
    LOGIN_FAILED,
    LOGIN_OK,
    Failures,
    LoginEvent,
    ThrottlePolicy,
    failures_that_count,
    lockout_s,
    retry_after,
)
from pipeline.config import load_settings

POLICY = ThrottlePolicy(window_s=900, user_limit=5, source_limit=20, lockout_s=30,
                        lockout_max_s=900)
T0 = 1_700_000_000.0


def fail(at: float, user: str = "zhang.wei", source: str = "10.0.0.1") -> LoginEvent:
    return LoginEvent(at, LOGIN_FAILED, user, source)


def ok(at: float, user: str = "zhang.wei", source: str = "10.0.0.1") -> LoginEvent:
    return LoginEvent(at, LOGIN_OK, user, source)


def wait(events: list[LoginEvent], now: float, user: str = "zhang.wei",
         source: str = "10.0.0.1", policy: ThrottlePolicy = POLICY) -> float:
    return retry_after(failures_that_count(events, user, source), now, policy)


def test_policy_comes_from_the_ui_settings():
    settings = load_settings(env={"HJ212_UI__LOGIN_FAIL_LIMIT": "3",
                                  "HJ212_UI__LOGIN_LOCKOUT_S": "10"})
    policy = ThrottlePolicy.from_settings(settings.ui)
    assert (policy.user_limit, policy.lockout_s) == (3, 10)
    assert ThrottlePolicy.from_settings(load_settings(env={}).ui) == ThrottlePolicy()


def test_below_the_limit_nothing_waits():
    events = [fail(T0 + i) for i in range(4)]
    assert wait(events, T0 + 4) == 0.0


def test_at_the_limit_the_wait_runs_from_the_latest_failure():
    events = [fail(T0 + i) for i in range(5)]
    assert wait(events, T0 + 4) == 30.0
    assert wait(events, T0 + 14) == 20.0
    assert wait(events, T0 + 34) == 0.0


def test_the_lockout_doubles_with_each_further_failure_up_to_the_cap():
    assert [lockout_s(n, 5, POLICY) for n in range(4, 12)] == [
        0.0, 30.0, 60.0, 120.0, 240.0, 480.0, 900.0, 900.0]
    assert lockout_s(10_000, 5, POLICY) == 900.0
    events = [fail(T0 + i) for i in range(7)]
    assert wait(events, T0 + 6) == 120.0


def test_a_limit_of_zero_never_locks():
    policy = ThrottlePolicy(user_limit=0, source_limit=0)
    assert wait([fail(T0 + i) for i in range(100)], T0 + 100, policy=policy) == 0.0


def test_failures_older_than_the_window_do_not_count():
    events = [fail(T0 + i) for i in range(5)]
    assert wait(events, T0 + 900 + 3) == 0.0  # only one failure is still in the window


def test_a_success_clears_the_user_count_but_not_the_source_count():
    events = [fail(T0 + i) for i in range(4)] + [ok(T0 + 5), fail(T0 + 6)]
    counted = failures_that_count(events, "zhang.wei", "10.0.0.1")
    assert counted.by_user == (T0 + 6,)
    assert counted.by_source == (T0, T0 + 1, T0 + 2, T0 + 3, T0 + 6)
    assert wait(events, T0 + 6) == 0.0


def test_another_users_success_does_not_clear_this_user():
    events = [fail(T0 + i) for i in range(5)] + [ok(T0 + 5, user="li.na")]
    assert wait(events, T0 + 6) == 28.0


def test_one_source_trying_many_names_is_locked_by_source():
    events = [fail(T0 + i, user=f"user{i}") for i in range(20)]
    assert wait(events, T0 + 19, user="someone.else") == 30.0
    # another address is not
    assert wait(events, T0 + 19, user="someone.else", source="10.0.0.2") == 0.0
    # an unknown (empty) source is never lumped together with other unknowns
    anon = [fail(T0 + i, user=f"user{i}", source="") for i in range(30)]
    assert wait(anon, T0 + 30, user="someone.else", source="") == 0.0


def test_a_name_guessed_from_many_sources_is_locked_by_name():
    events = [fail(T0 + i, source=f"10.0.1.{i}") for i in range(5)]
    assert wait(events, T0 + 5, source="10.0.9.9") == 29.0


def test_a_failure_from_a_fast_clock_waits_no_longer_than_the_lockout():
    events = [fail(T0 + 500 + i) for i in range(5)]  # stamped ahead of this host
    assert wait(events, T0) == 30.0


def test_the_larger_of_both_waits_wins():
    f = Failures(by_user=tuple(T0 + i for i in range(6)),
                 by_source=tuple(T0 + i for i in range(20)))
    assert retry_after(f, T0 + 19, POLICY) == 46.0  # user: 5 + 60 - 19; source: 30
    f = Failures(by_user=tuple(T0 + i for i in range(8)), by_source=())
    assert retry_after(f, T0 + 7, POLICY) == 240.0


@given(st.lists(st.floats(min_value=0, max_value=2000), max_size=40),
       st.floats(min_value=0, max_value=3000))
def test_the_wait_is_never_negative_nor_beyond_the_cap(offsets, now):
    events = [fail(T0 + o) for o in offsets]
    w = wait(events, T0 + now)
    assert 0.0 <= w <= POLICY.lockout_max_s


@given(st.lists(st.floats(min_value=0, max_value=800), min_size=5, max_size=40))
def test_one_more_failure_never_shortens_the_wait(offsets):
    events = [fail(T0 + o) for o in sorted(offsets)]
    now = T0 + max(offsets)
    more = [*events, fail(now)]
    assert wait(more, now) >= wait(events, now)
