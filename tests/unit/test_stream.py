"""The stream worker's pure parts: rows to readings and frames, replay skipping by
offset and the gateway's sequence numbers, alarm episode rows and messages, back-off
retry. No Kafka, no ClickHouse."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import hj212
import numpy as np
import pytest

from pipeline.detect.episodes import Episodes, Observation
from pipeline.detect.model import Severity
from pipeline.detect.station import DetectorBundle
from pipeline.store.client import StoreError
from pipeline.stream.builtin import NegativeValue, wiring_detector
from pipeline.stream.detection import (
    MAX_GATEWAYS,
    Outputs,
    fold_frames,
    frames_by_station,
    load_detector,
    note_origin,
)
from pipeline.stream.sinks import alarm_record, local_epoch, retry_store

MN = "AB0000010000000000000001"


def frame(when: str, **values: float) -> bytes:
    cp: list[tuple[str, object]] = [("DataTime", when)]
    cp += [(f"{code}-Avg", repr(v)) for code, v in values.items()]
    return hj212.encode(cn=2051, st=32, mn=MN, pw="123456", qn=when + "000", flag=4, cp=cp)


def batch_of(*raws: bytes) -> tuple[hj212.Batch, np.ndarray]:
    received = np.full(len(raws), 1_709_251_200, dtype=np.int64)  # 2024-03-01 08:00 CST
    return hj212.decode_batch(list(raws)), received


def test_readings_carry_their_frame_offset_and_only_present_values():
    batch, received = batch_of(frame("20240301080000", w01018=1.5, w00000=2.0),
                               frame("20240301080100", w01018=-1.0))
    frames = frames_by_station(batch, received, [10, 11])
    assert list(frames) == [MN]
    offsets = [o for o, _, readings in frames[MN] for _ in readings]
    assert offsets == [10, 10, 11]
    first = frames[MN][0][2][0]
    assert first.cn == 2051 and first.code == "w01018" and first.values == {"avg": 1.5}
    assert first.data_time == datetime(2024, 3, 1, 8, 0)
    assert first.receive_time == datetime(2024, 3, 1, 8, 0)


def test_frames_by_station_skips_rejected_frames_and_keeps_empty_ones():
    bad = b"##0010QN=1;ST=32\r\n"
    batch, received = batch_of(frame("20240301080000", w01018=1.5), bad,
                               frame("20240301080100"))
    frames = frames_by_station(batch, received, [5, 6, 7])
    assert [(o, f.cn, len(r)) for o, f, r in frames[MN]] == [(5, 2051, 1), (7, 2051, 0)]


def test_a_replayed_batch_does_not_count_twice_in_a_streak():
    batch, received = batch_of(frame("20240301080000", w01018=-1.0),
                               frame("20240301080100", w01018=-2.0))
    detector = wiring_detector()
    frames = frames_by_station(batch, received, [0, 1])[MN]
    out = Outputs()
    state = fold_frames(detector, {}, frames, out)
    assert [a.event.transition for a in out.alarms] == ["open", "update"]
    again = Outputs()
    state = fold_frames(detector, json.loads(json.dumps(state)), frames, again)  # the replay
    assert again.alarms == []
    assert state["offset"] == 1


def test_after_kafka_lost_its_data_the_new_log_is_detected_and_its_replays_skipped():
    """The topic made again numbers its frames from 0; the gateway's sequence numbers go
    on. Skipped by offset alone, the station would never be detected again (until the new
    log passed 57): the open episode would never update or clear."""
    detector = wiring_detector()
    batch, received = batch_of(frame("20240301080000", w01018=-1.0),
                               frame("20240301080100", w01018=-2.0))
    out = Outputs()
    state = fold_frames(detector, {}, frames_by_station(
        batch, received, [56, 57], (["gw-1", "gw-1"], [900, 901]))[MN], out)
    assert [a.event.transition for a in out.alarms] == ["open", "update"]
    assert (state["offset"], state["seqs"]) == (57, {"gw-1": 901})
    batch, received = batch_of(frame("20240301080200", w01018=-3.0),
                               frame("20240301080300", w01018=4.0))
    new_log = frames_by_station(batch, received, [0, 1], (["gw-1", "gw-1"], [902, 903]))[MN]
    after = Outputs()
    state = fold_frames(detector, json.loads(json.dumps(state)), new_log, after)
    assert [a.event.transition for a in after.alarms] == ["update", "clear"]
    assert (state["offset"], state["seqs"]) == (1, {"gw-1": 903})
    replay = Outputs()
    fold_frames(detector, json.loads(json.dumps(state)), new_log, replay)
    assert replay.alarms == []


def test_a_frame_from_another_gateway_below_the_offset_is_new_and_old_states_skip():
    detector = wiring_detector()
    batch, received = batch_of(frame("20240301080000", w01018=-1.0))
    frames = frames_by_station(batch, received, [3], (["gw-2"], [5]))[MN]
    # a state that has folded frames of gw-1 only: gw-2's frame has not been seen
    out = Outputs()
    state = fold_frames(detector, {"offset": 9, "seqs": {"gw-1": 70}}, frames, out)
    assert [a.event.transition for a in out.alarms] == ["open"]
    assert state["seqs"] == {"gw-1": 70, "gw-2": 5}
    # a state written before sequence numbers were kept: the offset alone decides
    skipped = Outputs()
    fold_frames(detector, {"offset": 9}, frames, skipped)
    assert skipped.alarms == []


def test_a_state_remembers_a_bounded_number_of_gateways():
    state: dict = {}
    for g in range(MAX_GATEWAYS + 8):
        note_origin(state, f"gw-{g}", 10 + g)
    note_origin(state, f"gw-{MAX_GATEWAYS + 7}", 3)  # an older number changes nothing
    assert len(state["seqs"]) == MAX_GATEWAYS
    assert "gw-0" not in state["seqs"] and state["seqs"][f"gw-{MAX_GATEWAYS + 7}"] == (
        MAX_GATEWAYS + 17)


def test_bundle_frames_are_skipped_on_replay_too():
    batch, received = batch_of(frame("20240301080000", w01018=1.0))
    frames = frames_by_station(batch, received, [3])[MN]
    det = load_detector("auto")
    assert det is not None
    state = fold_frames(det, {}, frames, Outputs())
    snapshot = json.dumps(state, sort_keys=True, default=str)
    out = Outputs()
    fold_frames(det, json.loads(snapshot), frames, out)
    assert out.alarms == [] and out.windows == [] and out.requests == []


def _look(minute: int, hit: bool, severity: Severity = "warning") -> Observation:
    return Observation(MN, "w01018", "negative", 2051, datetime(2024, 3, 1, 8, minute), hit,
                       severity, "negative", {"value": -1.0} if hit else {})


def test_an_episode_keeps_its_id_and_counts_through_update_and_clear():
    # the count and the opening time are the detector's episode record's
    episodes: dict = {}
    fold = Episodes().fold_alarms
    (open_step,) = fold(episodes, [_look(0, True)])
    (update_step,) = fold(episodes, [_look(1, True, "major")])  # a rise updates at once
    assert fold(episodes, [_look(2, True, "major"), _look(3, False)]) == []
    (clear_step,) = fold(episodes, [_look(4, False)])  # minute data: 2 clean looks
    opened = alarm_record(open_step, now=1.0)
    updated = alarm_record(update_step, now=2.0)
    cleared = alarm_record(clear_step, now=3.0)
    assert opened.row["alarm_id"] == updated.row["alarm_id"] == cleared.row["alarm_id"] \
        == f"{MN}/w01018/negative/20240301080000"
    assert [x.row["occurrences"] for x in (opened, updated, cleared)] == [1, 2, 3]
    assert [x.row["version"] for x in (opened, updated, cleared)] == [1000, 2000, 3000]
    assert cleared.row["state"] == "cleared"
    assert cleared.row["cleared_at"] == local_epoch(datetime(2024, 3, 1, 8, 2))
    assert episodes == {}
    msg = json.loads(cleared.message)
    assert cleared.key == MN.encode()
    assert (msg["transition"], msg["opened_at"]) == ("clear", "2024-03-01 08:00:00")


def test_local_epoch_is_china_standard_time():
    assert local_epoch(datetime(1970, 1, 1, 8, 0)) == 0


def test_retry_store_backs_off_until_the_store_answers():
    calls: list[int] = []
    waits: list[float] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise StoreError("ClickHouse at x did not answer")
        return "ok"

    async def idle(seconds: float) -> None:
        waits.append(seconds)

    got = asyncio.run(retry_store("t", flaky, first_backoff=0.1, max_backoff=0.3, idle=idle))
    assert got == "ok"
    assert waits == [0.1, 0.2, 0.3]


def test_retry_store_lets_bugs_through():
    def broken() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        asyncio.run(retry_store("t", broken))


def test_detector_specs():
    assert load_detector("none") is None
    assert isinstance(load_detector("auto"), DetectorBundle)
    assert isinstance(load_detector("pipeline.stream.builtin:wiring_detector"), NegativeValue)
    with pytest.raises(ValueError, match="module:function"):
        load_detector("no_colon_here")


def test_a_saved_state_it_cannot_read_stops_the_worker_before_it_detects() -> None:
    from aiokafka.structs import TopicPartition

    from pipeline.config import Settings
    from pipeline.detect.state import StateVersionError, load_station_state
    from pipeline.stream.app import StreamOptions, Worker, _Rebalance

    worker = Worker(Settings(), StreamOptions(), None)  # no server is reached
    worker.table.get(0, MN)["offset"] = 5  # something of partition 0 was read

    async def load(partitions: list[int]) -> int:
        load_station_state(MN, b'{"version": 99}')
        return 0

    worker.table.load = load  # type: ignore[method-assign]
    before = worker.generation
    asyncio.run(_Rebalance(worker).on_partitions_assigned(
        [TopicPartition(worker.topics.frames, 0)]))
    assert isinstance(worker.failure, StateVersionError) and MN in str(worker.failure)
    assert worker._stop.is_set()
    assert worker.generation > before  # a batch in hand is dropped, not stored
    assert worker.table.stations() == []  # and nothing of that partition is used
    worker.agents.close()


def test_a_state_load_retries_kafkas_errors_then_raises_the_last(monkeypatch) -> None:
    """No broker at the address: the load tries once and after each wait, then raises
    (the worker then stops with it) with the partitions not ready."""
    import io
    import socket

    from aiokafka.errors import KafkaError

    from pipeline.logs import configure_logging
    from pipeline.stream import state as state_module
    from pipeline.stream.state import StationTable

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(state_module, "LOAD_RETRY_WAITS", (0.01, 0.02))
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    table = StationTable(f"127.0.0.1:{port}", "t-station-state", 2, 1)
    with pytest.raises(KafkaError):
        asyncio.run(table.load([0, 1]))
    retries = [r for r in map(json.loads, out.getvalue().splitlines())
               if r.get("event") == "state.load_retry"]
    assert [(r["event"], r["attempt"]) for r in retries] == [
        ("state.load_retry", 1), ("state.load_retry", 2)]
    assert not table.ready([0]) and not table.ready([1])
