"""The worker's columnar path (``fold_batch``: the value rules of a whole batch in one
``hj212.ValueKernel`` call over ``decode_batch``'s columns) against the per-frame path
(``frames_by_station`` + ``fold_frames``) on the Python value rules, which
``test_detect_reference.py`` holds to the oracle: the same alarm steps, missing-data
windows and back-fill requests in the same order, and the same station states, batch
after batch.

The streams are encoded frames of three stations (two in the registry, one with limits;
one unknown), real-time, minute and hourly data with zeros, constants, negatives, spikes,
out-of-range and over-limit values, instrument flags (stopped sources too), Zs values,
Cou, late and repeated data times, byte-for-byte resends, frames without readings and
frames the codec rejects; cut into batches at random, some batches delivered twice (a
replay after a restart, skipped by offset).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import hj212
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.detect.context import StationContext
from pipeline.detect.rules import Rules, default_rules
from pipeline.detect.state import StationState, dump_station_state, load_station_state
from pipeline.detect.station import DetectorBundle
from pipeline.registry.model import Limit
from pipeline.stream.detection import Outputs, fold_batch, fold_frames, frames_by_station
from pipeline.timebase import CST_OFFSET_S, UNIX_EPOCH
from tests.unit.detect_helpers import canon

MNS = ("AB0000010000000000000001", "AB0000010000000000000002", "AB0000010000000000000003")
CODES = ("w01018", "w00000", "a21026", "a19001", "a34013")
T0 = datetime(2024, 3, 1, 8, 0)
NAN = float("nan")


def contexts() -> dict[str, StationContext]:
    limits = {"w01018": Limit(MNS[0], "w01018", NAN, 50.0, "avg", 0.0, 250.0, "mg/L"),
              "a21026": Limit(MNS[0], "a21026", NAN, 35.0, "zs_avg", NAN, 500.0, "mg/m3")}
    return {MNS[0]: StationContext(MNS[0], "32", 30, 1, limits),
            MNS[1]: StationContext(MNS[1], "31", 60, 10, {})}


def short_rules() -> Rules:
    """Streaks and spikes within a few frames, so they happen in short streams."""
    raw = default_rules().raw
    defaults = {**raw["defaults"], "zero_streak": {"2011": 3, "2051": 3, "2061": 2},
                "constant_streak": {"2011": 4, "2051": 3, "2061": 3},
                "constant_min_duration_s": 0, "spike_min_history": 3, "spike_window": 6}
    return Rules({**raw, "version": "test", "defaults": defaults})


values = st.one_of(st.sampled_from([0.0, 0.0, 5.0, 5.0, 5.0, 10.0, 10.2, 9.8, -1.5, 100.0,
                                    1000.0, 300.0, 20.9, 7.21]),
                   st.floats(min_value=-10, max_value=600, allow_nan=False,
                             allow_infinity=False).map(lambda v: round(v, 3)))
flags = st.sampled_from([None, "N", "N", "N", "N", "F", "D", "M", "C"])


@st.composite
def cp_of(draw: st.DrawFn, cn: int, when: datetime) -> list[tuple[str, object]]:
    cp: list[tuple[str, object]] = [("DataTime", when.strftime("%Y%m%d%H%M%S"))]
    for code in draw(st.lists(st.sampled_from(CODES), min_size=0, max_size=4, unique=True)):
        if cn == 2011:
            fields = ["Rtd", *draw(st.lists(st.sampled_from(["ZsRtd"]), max_size=1))]
        else:
            fields = draw(st.lists(st.sampled_from(["Avg", "Min", "Max", "Cou", "ZsAvg"]),
                                   min_size=1, max_size=5, unique=True))
        for f in fields:
            cp.append((f"{code}-{f}", repr(draw(values))))
        flag = draw(flags)
        if flag is not None:
            cp.append((f"{code}-Flag", flag))
    return cp


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    """Encoded frames and each one's receive time (Unix seconds)."""
    raws: list[bytes] = []
    received: list[int] = []
    step = {mn: 0 for mn in MNS}
    for _ in range(draw(st.integers(1, 60))):
        how = draw(st.sampled_from(["next"] * 8 + ["late", "again", "resend", "reject"]))
        if how == "resend" and raws:
            k = draw(st.integers(0, len(raws) - 1))
            raws.append(raws[k])
            received.append(received[k] + draw(st.sampled_from([0, 60])))
            continue
        if how == "reject":
            raws.append(b"##0010QN=1;ST=32\r\n")
            received.append(received[-1] if received else 1_709_251_200)
            continue
        mn = draw(st.sampled_from(MNS))
        cn = draw(st.sampled_from([2011, 2011, 2051, 2061]))
        if how == "next" or not step[mn]:
            step[mn] += draw(st.integers(1, 3))
        back = draw(st.integers(1, 5)) if how == "late" else 0
        when = T0 + timedelta(minutes=max(step[mn] - back, 1))
        lag = draw(st.sampled_from([0, 0, 30, 3600, -900]))
        raws.append(hj212.encode(cn=cn, st=32 if mn != MNS[1] else 31, mn=mn, pw="123456",
                                 qn=when.strftime("%Y%m%d%H%M%S") + "000", flag=4,
                                 cp=draw(cp_of(cn, when))))
        seconds = int((when - UNIX_EPOCH).total_seconds()) - CST_OFFSET_S + lag
        received.append(seconds)
    return raws, received


def bits(value: object) -> object:
    """``value`` with each float as its hex text: equal only to the bit (the sign of
    zero too), and an int never equal to a float."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, dict):
        return {k: bits(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bits(v) for v in value]
    return value


Origins = tuple[list[str], list[int]] | None


def python_path(bundle: DetectorBundle, states: dict[str, StationState],
                batch: hj212.Batch, received: np.ndarray, offsets: list[int],
                origins: Origins = None) -> Outputs:
    out = Outputs()
    for mn, frames in frames_by_station(batch, received, offsets, origins).items():
        states[mn] = fold_frames(bundle, states.setdefault(mn, {}), frames, out)
    return out


def rust_path(bundle: DetectorBundle, states: dict[str, StationState],
              batch: hj212.Batch, received: np.ndarray, offsets: list[int],
              origins: Origins = None) -> Outputs:
    out = Outputs()
    changed = fold_batch(bundle, batch, received, offsets,
                         lambda mn: states.setdefault(mn, {}), out, origins)
    for mn in changed:
        bundle.sync(states[mn], mn)
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.data())
def test_the_columnar_batch_path_gives_what_the_frame_path_gives(
        stream: tuple[list[bytes], list[int]], data: st.DataObject) -> None:
    raws, received = stream
    rules = short_rules()
    plain = DetectorBundle(rules, contexts(), values="python")
    kernel = DetectorBundle(rules, contexts(), values="rust")
    plain_states: dict[str, StationState] = {}
    kernel_states: dict[str, StationState] = {}
    at = 0
    log_start = 0  # the index of the first frame of the partition's log as it is now
    while at < len(raws):
        size = data.draw(st.integers(1, 12))
        cut = list(range(at, min(at + size, len(raws))))
        batch = hj212.decode_batch([raws[i] for i in cut])
        epochs = np.array([received[i] for i in cut], dtype=np.int64)
        how = data.draw(st.integers(0, 5))
        replays = 2 if how == 0 else 1
        if how == 1 and at:
            log_start = at  # Kafka's data lost: the topic made again numbers from 0
        offsets = [i - log_start for i in cut]
        # the gateway's sequence numbers go on across a new log
        origins = (["gw-1"] * len(cut), cut)
        for attempt in range(replays):  # a batch redelivered after a restart is skipped
            want = python_path(plain, plain_states, batch, epochs, offsets, origins)
            got = rust_path(kernel, kernel_states, batch, epochs, offsets, origins)
            assert canon(got.alarms) == canon(want.alarms), f"frames {cut}"
            assert canon(got.windows) == canon(want.windows), f"frames {cut}"
            assert canon(got.requests) == canon(want.requests), f"frames {cut}"
            assert canon(kernel_states) == canon(plain_states), f"frames {cut}"
            for mn, state in kernel_states.items():
                # the changelog's bytes as the worker writes them (the values part as
                # JSON from the kernel) read back as the state, to the bit
                saved = load_station_state(mn, kernel.dump_state(mn, state))
                assert bits(saved) == bits(load_station_state(mn, dump_station_state(state)))
            if attempt == 0:
                # every new frame was folded, on a new log too: each station's state is at
                # its last frame of the batch
                last = {mn: offsets[k] for k, (mn, ok) in enumerate(zip(
                    [m.decode() for m in batch.columns["frame_mn"].tolist()],
                    (batch.columns["status"] == 0).tolist(), strict=True)) if ok}
                assert {mn: plain_states[mn]["offset"] for mn in last} == last
        at += size


def test_a_batch_whose_stations_have_open_episodes_clears_them_in_the_kernel() -> None:
    """An episode opened in one batch is counted clean in the next (the open keys reach
    the kernel) and within the same batch (a hit makes its key wanted)."""
    def frame(minute: int, value: float) -> bytes:
        when = T0 + timedelta(minutes=minute)
        return hj212.encode(cn=2051, st=32, mn=MNS[0], pw="123456",
                            qn=when.strftime("%Y%m%d%H%M%S") + "000", flag=4,
                            cp=[("DataTime", when.strftime("%Y%m%d%H%M%S")),
                                ("w01018-Avg", repr(value))])

    def epoch(minute: int) -> int:
        return int((T0 + timedelta(minutes=minute) - UNIX_EPOCH).total_seconds()) - CST_OFFSET_S

    bundle = DetectorBundle(short_rules(), contexts(), values="rust")
    states: dict[str, StationState] = {}
    transitions: list[str] = []
    minute = 0
    for values_ in ([-1.0, 5.0, 6.0], [-2.0], [5.5, 6.5, 7.5]):
        raws = []
        for v in values_:
            minute += 1
            raws.append(frame(minute, v))
        out = Outputs()
        offsets = list(range(minute - len(raws), minute))
        fold_batch(bundle, hj212.decode_batch(raws),
                   np.array([epoch(m) for m in range(minute - len(raws) + 1, minute + 1)]),
                   offsets, lambda mn: states.setdefault(mn, {}), out)
        transitions += [f"{a.event.rule}:{a.event.transition}" for a in out.alarms
                        if a.event.rule == "negative"]
    clear_after = short_rules().for_(MNS[0], "32", "w01018").clear_after[2051]
    assert clear_after <= 2, "the test needs an episode that clears within two clean looks"
    assert transitions == ["negative:open", "negative:clear", "negative:open",
                           "negative:clear"]


def test_a_registry_reload_reaches_the_frame_plans_kept_across_batches() -> None:
    """The plans of a frame shape are kept from batch to batch; a new context for the
    station (a registry reload with a narrower range) makes them resolved again."""
    def frame(minute: int) -> bytes:
        when = T0 + timedelta(minutes=minute)
        return hj212.encode(cn=2051, st=32, mn=MNS[0], pw="123456",
                            qn=when.strftime("%Y%m%d%H%M%S") + "000", flag=4,
                            cp=[("DataTime", when.strftime("%Y%m%d%H%M%S")),
                                ("w01018-Avg", "40.0")])

    def out_of_range(bundle: DetectorBundle, minute: int) -> list[str]:
        out = Outputs()
        when = int((T0 + timedelta(minutes=minute) - UNIX_EPOCH).total_seconds())
        fold_batch(bundle, hj212.decode_batch([frame(minute)]),
                   np.array([when - CST_OFFSET_S]), [minute],
                   lambda mn: states.setdefault(mn, {}), out)
        return [a.event.transition for a in out.alarms if a.event.rule == "out_of_range"]

    bundle = DetectorBundle(short_rules(), contexts(), values="rust")
    states: dict[str, StationState] = {}
    assert out_of_range(bundle, 1) == [] and out_of_range(bundle, 2) == []  # 40 in 0..250
    assert bundle.kernel is not None and bundle.kernel.frame_plans  # kept
    lower = {"w01018": Limit(MNS[0], "w01018", NAN, 50.0, "avg", 0.0, 30.0, "mg/L")}
    bundle.contexts = {**bundle.contexts,
                       MNS[0]: StationContext(MNS[0], "32", 30, 1, lower)}
    assert out_of_range(bundle, 3) == ["open"]  # 40 over the reloaded 0..30
