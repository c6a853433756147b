"""The fast value rules (``pipeline.detect.values``) against their plain statement
(``pipeline.detect.reference``) on random streams: the same observations in the same
order, the same state after every frame, and the same alarm events.

The streams mix what the field sends and what it should not: zeros, constants, negatives,
spikes, NaN, every instrument flag (and one HJ 212 does not define), stopped sources
(frames with F on some channels, O2 at 20.9 beside them), period records whose Min is
below Max around an unmoving Avg and records with Min = Max, out-of-order and repeated
data times (resends with the same or other values, exact resends of single frames and of
whole runs of frames), a pollutant twice in one frame, Zs values with and without O2,
Cou with and without flow, limits present or absent (NaN bounds too), several pollutants
and data types, and rules with short thresholds (judged flags drawn too, resend memories
short enough to forget) so streaks, spikes and clears happen within a few frames.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipeline.detect.context import StationContext
from pipeline.detect.model import Reading
from pipeline.detect.reference import ReferenceValueRules
from pipeline.detect.rules import Rules, default_rules
from pipeline.detect.state import StationState, ValuesState
from pipeline.detect.station import DetectorBundle
from pipeline.detect.values import ValueRules
from pipeline.detect.values_rs import KernelValueRules
from pipeline.registry.model import Limit
from tests.unit.detect_helpers import canon

MN = "ED9086BB27E018C0216944ED"
T0 = datetime(2024, 3, 1, 8, 0)
NAN = float("nan")
#: flow of a water station, flow of a gas station, COD, SO2 (with Zs), O2
CODES = ("w00000", "a00000", "w01018", "a21026", "a19001")
FIELDS = ("rtd", "avg", "min", "max", "cou", "zs_rtd", "zs_avg", "zs_min", "zs_max")
#: streams per property and run (each run draws new ones; failures are kept in .hypothesis/)
EXAMPLES = 150
VALUE_RULES = ("over_limit", "negative", "zero_streak", "constant_streak", "out_of_range",
               "spike", "non_n_flag", "logic_min_avg_max", "logic_zs_without_o2",
               "logic_cou", "time_future", "time_stale", "time_conflict")


# --- strategies -----------------------------------------------------------------------------

#: zeros, a constant, a steady level (for spikes to stand out from), negatives, spikes, NaN
values = st.one_of(
    st.sampled_from([0.0, 0.0, 5.0, 5.0, 5.0, 10.0, 10.2, 9.8, 10.1, 9.9, 10.0, 10.3, -1.5,
                     100.0, 1000.0, 300.0, NAN, 20.9, 20.9, 7.21]),
    st.floats(min_value=-50, max_value=600, allow_nan=False, allow_infinity=False),
)
flags = st.sampled_from([None, "N", "N", "N", "N", "", "D", "C", "M", "F", "F", "B", "T", "S",
                         "X"])
#: judged_flags drawn per rule: the default's, every flag, or a few
judged = st.sampled_from(["N", "NST", "NS", "NFMSDCTB", "NF", "NC"])
PER_FLAG = ("negative", "zero_streak", "constant_streak", "out_of_range", "spike",
            "over_limit", "logic_min_avg_max")


@st.composite
def rules(draw: st.DrawFn) -> Rules:
    raw = default_rules().raw
    window = draw(st.integers(3, 8))
    defaults = {
        "disabled": draw(st.lists(st.sampled_from(VALUE_RULES), max_size=3, unique=True)),
        "clear_after": {"2011": draw(st.integers(1, 3)), "2051": draw(st.integers(1, 2)),
                        "2061": 1},
        "update_interval_s": draw(st.sampled_from([0, 60, 300])),
        "over_limit_cns": draw(st.sampled_from([[2061], [2051, 2061], [2011, 2061]])),
        "zero_tolerance": draw(st.sampled_from([0.0, 0.001])),
        "zero_streak": {"2011": draw(st.integers(1, 4)), "2051": draw(st.integers(1, 3)),
                        "2061": 2},
        "constant_tolerance": draw(st.sampled_from([0.0, 0.05])),
        "constant_streak": {"2011": draw(st.integers(2, 5)), "2051": draw(st.integers(2, 4)),
                            "2061": 3},
        "constant_min_duration_s": draw(st.sampled_from([0, 120, 2700])),
        "spike_window": window,
        "spike_min_history": draw(st.integers(2, window)),
        "spike_z": draw(st.sampled_from([2.0, 8.0])),
        "spike_rel": draw(st.sampled_from([0.2, 1.5])),
        "spike_max_s": draw(st.sampled_from([60, 180, 600])),
        "future_tolerance_s": draw(st.sampled_from([60, 600])),
        "stale_tolerance_s": draw(st.sampled_from([60, 1800])),
        "flag_min_duration_s": {"F": 0, "M": draw(st.sampled_from([0, 120])), "S": 0,
                                "D": 0, "C": draw(st.sampled_from([60, 1200])), "T": 0,
                                "B": 60},
        "conflict_memory": {"2011": draw(st.integers(1, 4)), "2051": draw(st.integers(1, 4)),
                            "2061": draw(st.integers(1, 3))},
        "resend_memory_s": {"2011": draw(st.sampled_from([0, 120, 600, 7200])),
                            "2051": draw(st.sampled_from([0, 300, 86400]))},
        "resend_memory_max": draw(st.integers(1, 6)),
    }
    if draw(st.booleans()):  # the packaged table, or one drawn rule by rule
        defaults["judged_flags"] = {rule: draw(judged) for rule in
                                    draw(st.lists(st.sampled_from(PER_FLAG), unique=True))}
    return Rules({**raw, "version": "test", "defaults": {**raw["defaults"], **defaults}})


@st.composite
def limits(draw: st.DrawFn, code: str) -> Limit:
    bound = st.one_of(st.just(NAN), st.sampled_from([1.0, 8.0, 50.0, 200.0]))
    return Limit(MN, code, draw(bound), draw(bound), draw(st.sampled_from(["avg", "zs_avg"])),
                 draw(st.sampled_from([NAN, 0.0, 2.0])), draw(st.sampled_from([NAN, 250.0])),
                 "mg/L")


@st.composite
def contexts(draw: st.DrawFn) -> StationContext:
    with_limits = draw(st.lists(st.sampled_from(CODES), unique=True))
    return StationContext(MN, draw(st.sampled_from(["31", "32"])),
                          draw(st.sampled_from([30, 60])), draw(st.sampled_from([1, 10])),
                          {code: draw(limits(code)) for code in with_limits})


@st.composite
def readings(draw: st.DrawFn, cn: int, when: datetime, received: datetime) -> Reading:
    fields = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=5, unique=True))
    if cn != 2011 and draw(st.booleans()):  # a whole triple, often in order
        base = draw(values)
        how = draw(st.sampled_from(["spread", "flat", "resolution"]))
        if how == "spread":
            fields_values = {"min": base * 0.9, "avg": base, "max": base * 1.1}
        elif how == "flat":  # a stuck analyser: Min = Avg = Max
            fields_values = {"min": base, "avg": base, "max": base}
        else:  # a channel at its resolution: the Avg does not move, Min and Max do
            fields_values = {"min": base - 0.01, "avg": base, "max": base + 0.01}
    else:
        fields_values = {}
    fields_values.update({f: draw(values) for f in fields})
    return Reading(mn=MN, st="", cn=cn, code=draw(st.sampled_from(CODES)), data_time=when,
                   receive_time=received, values=fields_values, flag=draw(flags),
                   resent=draw(st.integers(0, 9)) == 0)


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[list[Reading], bool]]:
    """Frames (readings, resent): mostly in order, with late and repeated data times."""
    out: list[tuple[list[Reading], bool]] = []
    seen: list[datetime] = []
    step = 0
    for _ in range(draw(st.integers(1, 40))):
        cn = draw(st.sampled_from([2011, 2011, 2011, 2051, 2061]))
        how = draw(st.sampled_from(["next"] * 6 + ["late", "again", "resend", "stopped"]))
        if how == "resend" and out:  # earlier frames again, byte for byte, maybe a run
            first = draw(st.integers(0, len(out) - 1))
            last = draw(st.integers(first, min(len(out) - 1, first + 5)))
            for frame, _resent in out[first:last + 1]:
                late = timedelta(seconds=draw(st.sampled_from([0, 60, 7200])))
                out.append(([dataclasses.replace(r, receive_time=r.receive_time + late)
                             for r in frame], draw(st.booleans())))
            continue
        if how in ("next", "stopped") or not seen:
            step += draw(st.integers(1, 3))
            when = T0 + timedelta(seconds=60 * step)
            seen.append(when)
        else:
            when = draw(st.sampled_from(seen)) if how == "late" else seen[-1]
        received = when + timedelta(seconds=draw(st.sampled_from([0, 30, -3600, 7200])))
        frame = draw(st.lists(readings(cn, when, received), min_size=1, max_size=4))
        if how == "stopped":  # a source stopped: some channels F, O2 at air, flow zero
            frame = [dataclasses.replace(r, flag=draw(st.sampled_from(["F", "F", "N", None])))
                     for r in frame]
            frame.append(Reading(mn=MN, st="", cn=cn, code="a19001", data_time=when,
                                 receive_time=received, values={"rtd": 20.9, "avg": 20.9},
                                 flag=draw(st.sampled_from(["N", "F"]))))
        if draw(st.integers(0, 9)) == 0 and len(frame) > 1:  # not one frame after all
            other = frame[-1]
            frame[-1] = dataclasses.replace(other, cn=2051 if cn == 2011 else 2011,
                                            data_time=other.data_time - timedelta(minutes=5))
        out.append((frame, draw(st.integers(0, 9)) == 0))
    return out


# --- the properties --------------------------------------------------------------------------


def fast_rules(kind: str, r: Rules) -> ValueRules | KernelValueRules:
    """The implementation under test: the Python fast path, or the Rust kernel with the
    state in the dict (loaded and written back per frame) or kept in the kernel."""
    if kind == "python":
        return ValueRules(r)
    return KernelValueRules(r, resident=kind == "rust-resident")


@pytest.mark.parametrize("kind", ["python", "rust", "rust-resident"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(), contexts(), streams())
def test_every_look_and_the_state_match_the_reference(
        kind: str, r: Rules, ctx: StationContext, stream: list[tuple[list[Reading], bool]]
) -> None:
    fast, plain = fast_rules(kind, r), ReferenceValueRules(r)
    fast_state: ValuesState = {}
    plain_state: ValuesState = {}
    if isinstance(fast, KernelValueRules) and fast.resident:
        fast.adopt(MN, {})
    hits: set[str] = set()
    for i, (frame, resent) in enumerate(stream):
        _, got = fast.observe_frame(fast_state, frame, ctx, resent=resent)
        want = plain.observe_frame(plain_state, frame, ctx, resent=resent)
        assert canon(got) == canon(want), f"frame {i}"
        if isinstance(fast, KernelValueRules) and fast.resident:
            fast_state = fast.export(MN)
        assert canon(fast_state) == canon(plain_state), f"frame {i}"
        hits.update(o.rule for o in want if o.hit)
    for rule in sorted(hits):  # what the examples exercised: --hypothesis-show-statistics
        event(f"hit {rule}")


@pytest.mark.parametrize("kind", ["python", "rust-resident"])
@settings(max_examples=EXAMPLES // 2, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rules(), contexts(), streams())
def test_the_looks_wanted_by_open_episodes_match_the_reference(
        kind: str, r: Rules, ctx: StationContext, stream: list[tuple[list[Reading], bool]]
) -> None:
    """With the open episodes given, only their clean looks (and every hit) come out."""
    fast, plain = fast_rules(kind, r), ReferenceValueRules(r)
    fast_state: ValuesState = {}
    plain_state: ValuesState = {}
    if isinstance(fast, KernelValueRules):
        fast.adopt(MN, {})
    opened: dict[str, Any] = {}
    for i, (frame, resent) in enumerate(stream):
        _, got = fast.observe_frame(fast_state, frame, ctx, resent=resent,
                                    open_episodes=opened)
        want = plain.observe_frame(plain_state, frame, ctx, resent=resent,
                                   open_episodes=set(opened))
        assert canon(got) == canon(want), f"frame {i}"
        for o in want:  # a hit opens its key; every other frame, one closes
            if o.hit:
                opened[f"{o.code}|{o.rule}"] = {}
        if i % 2 and opened:
            opened.pop(next(iter(opened)))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules(), contexts(), streams())
def test_the_alarm_events_match_the_reference(
        r: Rules, ctx: StationContext, stream: list[tuple[list[Reading], bool]]) -> None:
    bundle, plain = DetectorBundle(r, {MN: ctx}), ReferenceValueRules(r)
    fast_state: StationState = {}
    plain_state: StationState = {}
    for i, (frame, resent) in enumerate(stream):
        head = frame[0]
        got = bundle.on_frame(fast_state, frame, mn=MN, st=ctx.st, cn=head.cn,
                              data_time=head.data_time, receive_time=head.receive_time,
                              resent=resent).events
        want = plain.on_frame(plain_state, frame, ctx, resent=resent)
        assert canon(got) == canon(want), f"frame {i}"
        assert canon(fast_state.get("episodes")) == canon(plain_state.get("episodes"))
        assert canon(fast_state.get("values")) == canon(plain_state.get("values"))
        for e in want:
            event(f"{e.transition} {e.rule}")
