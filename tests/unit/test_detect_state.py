"""Station state: its one JSON form, its version, and the states the previous release left.

``data/station_state_v1.txt`` holds real changelog records (``MN <value>`` per line) that
release 99e0c6b wrote (state layout 1, before versions), five station snapshots with
something open: a spike excursion, a non-N flag run, an exceedance, a negative value,
and an offline station with a missing alarm and open gaps. ``data/
station_state_v1_replay.json.gz`` holds what that release did next with each: every frame
and tick, what each produced (events, windows, back-fill requests, alarm rows and
messages) and the state it ended with. A migrated state must go on exactly so.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks.offline_fleet import _json, event_json
from pipeline.detect.context import StationContext
from pipeline.detect.model import Reading
from pipeline.detect.rules import default_rules
from pipeline.detect.state import (
    STATE_VERSION,
    StateVersionError,
    StationState,
    dump_part,
    dump_station_state,
    load_station_state,
)
from pipeline.detect.station import DetectorBundle
from pipeline.registry.model import Limit
from pipeline.stream.detection import FrameFacts, Outputs, fold_frames
from pipeline.stream.sinks import alarm_record
from pipeline.timebase import to_s

DATA = Path(__file__).parent / "data"
#: the version time the replay's alarm rows were made with
NOW = 1_709_251_200.0


def v1_records() -> list[tuple[str, bytes]]:
    out = []
    for line in (DATA / "station_state_v1.txt").read_bytes().splitlines():
        mn, _, raw = line.partition(b" ")
        out.append((mn.decode(), raw))
    return out


def replays() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        gzip.decompress((DATA / "station_state_v1_replay.json.gz").read_bytes()))["stations"]
    return found


def test_every_saved_state_of_the_previous_release_loads_in_this_layout() -> None:
    for mn, raw in v1_records():
        state = load_station_state(mn, raw)
        assert set(state) <= {"offset", "values", "episodes", "missing"}, mn
        dumped = dump_station_state(state)
        assert orjson.loads(dumped)["version"] == STATE_VERSION
        # what this release writes, it reads back as it was
        assert load_station_state(mn, dumped) == state


def test_the_migration_moves_each_value_to_its_readable_key() -> None:
    (mn0, pending_raw), (mn1, flag_raw), _, _, (mn4, offline_raw) = v1_records()

    old = orjson.loads(pending_raw)
    state = load_station_state(mn0, pending_raw)
    assert state["offset"] == old["offset"]
    key, old_series = next((k, s) for k, s in old["v"]["s"].items() if s.get("p"))
    series = state["values"]["series"][key]
    assert series["spike_pending"] == [{"time": t, "value": v} for t, v in old_series["p"]]
    assert series["spike_window"] == old_series["w"]
    assert (series["last_time"], series["zero_run"], series["constant_run"]) == (
        old_series["t"], old_series["z"], old_series["c"])
    memory = state["values"]["conflict_memory"]["2011"]
    assert [(m["time"], m["values"]) for m in memory] == [
        (t, values) for t, values in old["v"]["m"]["2011"]]

    old = orjson.loads(flag_raw)
    state = load_station_state(mn1, flag_raw)
    (key,) = old["e"]
    ep, alarm = state["episodes"][key], old["episodes"][key]
    # the alarm's bookkeeping joins the detector's episode record
    assert ep["alarm_opened_at"] == to_s(datetime.fromisoformat(alarm["opened_at"]))
    assert ep["alarm_steps"] == alarm["occurrences"]
    assert (ep["first_seen"], ep["hits"], ep["severity"]) == (
        old["e"][key]["first"], old["e"][key]["n"], old["e"][key]["sev"])
    flag_runs = {k: s["flag_run"] for k, s in state["values"]["series"].items()
                 if "flag_run" in s}
    assert flag_runs == {k: {"flag": s["fl"][0], "since": s["fl"][1]}
                         for k, s in old["v"]["s"].items() if "fl" in s}
    assert {run["flag"] for run in flag_runs.values()} == {"C"}

    old = orjson.loads(offline_raw)
    state = load_station_state(mn4, offline_raw)
    missing = state["missing"]
    assert (missing["online"], missing["offline_since"]) == (False, old["m"]["off"])
    assert missing["missing_alarm"] == {"first_seen": old["m"]["alarm"]["first"],
                                        "cn": old["m"]["alarm"]["cn"]}
    assert [(w["cn"], w["state"], w["expected"], len(w["received_times"]), w["growing"])
            for w in missing["windows"]] == [
        (w["cn"], w["state"], w["exp"], len(w["got"]), w["grow"]) for w in old["m"]["win"]]
    assert "episodes" not in state or state["episodes"] == {}  # offline/missing: derived


def _context(raw: dict[str, Any]) -> StationContext:
    return StationContext(raw["mn"], raw["st"], raw["rtd_interval"], raw["min_interval"],
                          {code: Limit(**lim) for code, lim in raw["limits"].items()})


def _reading(raw: dict[str, Any]) -> Reading:
    return Reading(mn=raw["mn"], st=raw["st"], cn=raw["cn"], code=raw["code"],
                   data_time=datetime.fromisoformat(raw["data_time"]),
                   receive_time=datetime.fromisoformat(raw["receive_time"]),
                   values=raw["values"], flag=raw["flag"], eflag=raw["eflag"],
                   resent=raw["resent"])


def _outputs(out: Outputs) -> dict[str, list[str]]:
    records = [alarm_record(step, now=NOW) for step in out.alarms]
    return {
        "events": [event_json(step.event) for step in out.alarms],
        "windows": [json.dumps(w, default=_json, sort_keys=True) for w in out.windows],
        "requests": [json.dumps(dataclasses.asdict(q), default=_json, sort_keys=True)
                     for q in out.requests],
        "alarm_rows": [json.dumps(r.row, sort_keys=True, default=str) for r in records],
        "alarm_messages": [r.message.decode() for r in records],
    }


#: what alarm rows and messages carry since that release (when and from which data type
#: the alarm was raised, the rule's class): the rest must be as that release wrote it
NEW_ALARM_KEYS = {"raised_at", "raised_data_time", "opened_cn", "rule_class", "evidence_began"}


#: the rules file version that release ran with; its outputs name it, ours name ours
OLD_RULES_VERSION = "2024.06-1"


def _same_outputs(got: dict[str, list[str]], recorded: dict[str, list[str]]) -> None:
    now = default_rules().version
    want = {kind: [line.replace(OLD_RULES_VERSION, now) for line in lines]
            for kind, lines in recorded.items()}
    for kind in ("events", "windows", "requests"):
        assert got[kind] == want[kind], kind
    for kind in ("alarm_rows", "alarm_messages"):
        assert len(got[kind]) == len(want[kind]), kind
        for ours, theirs in zip(got[kind], want[kind], strict=True):
            mine, old = json.loads(ours), json.loads(theirs)
            assert set(mine) - set(old) <= NEW_ALARM_KEYS, kind
            # through JSON again: NaN (no threshold) equals NaN there
            assert (json.dumps({k: mine[k] for k in old}, sort_keys=True)
                    == json.dumps(old, sort_keys=True)), kind


@pytest.mark.parametrize("line", range(5))
def test_a_migrated_state_goes_on_as_the_previous_release_did(line: int) -> None:
    mn, raw = v1_records()[line]
    replay = replays()[line]
    assert replay["mn"] == mn
    ctx = _context(replay["context"])
    bundle = DetectorBundle(contexts={mn: ctx})
    state: StationState = load_station_state(mn, raw)
    alarms = 0
    for call, want in zip(replay["calls"], replay["outputs"], strict=True):
        out = Outputs()
        if call["kind"] == "frame":
            facts = FrameFacts(mn=mn, st=call["st"], cn=call["cn"],
                               data_time=(datetime.fromisoformat(call["data_time"])
                                          if call["data_time"] else None),
                               receive_time=datetime.fromisoformat(call["receive_time"]))
            readings = [_reading(r) for r in call["readings"]]
            fold_frames(bundle, state, [(call["offset"], facts, readings)], out)
        else:
            out.add(bundle.tick(state, mn, datetime.fromisoformat(call["now"])))
        _same_outputs(_outputs(out), want)
        alarms += len(out.alarms)
    assert alarms == sum(len(o["events"]) for o in replay["outputs"])
    # the one addition since that release: the digests of the frames received, whose
    # newest data time per data type is the newest frame's of that type
    resends = state["values"].pop("resend_memory")
    newest: dict[str, int] = {}
    for call in replay["calls"]:
        if call["kind"] == "frame" and call["readings"]:
            t = to_s(datetime.fromisoformat(call["readings"][0]["data_time"]))
            key = str(call["readings"][0]["cn"])
            newest[key] = max(newest.get(key, t), t)
    assert {cn: memory[-1][0] for cn, memory in resends.items()} == newest
    # when the station-level alarms were raised (kept since): wall and due time pairs
    raised = state.get("missing", {}).pop("raised", {})
    assert all(len(pair) == 2 for pair in raised.values()), raised
    final = load_station_state(mn, replay["final"])
    # and a period record whose Min is below its Max ends a constant run: where that
    # release counted one through the series' last record, and that record moved, this
    # one holds none
    last = {f'{r["cn"]}/{r["code"]}': r["values"] for call in replay["calls"]
            if call["kind"] == "frame" for r in call["readings"]}
    for key, series in state["values"]["series"].items():
        was = final["values"]["series"][key]
        constant = ("constant_run", "constant_value", "constant_since")
        if any(series.get(k) != was.get(k) for k in constant[:2]):
            assert not key.startswith("2011/"), key
            assert series["constant_run"] == 0 and "constant_value" not in series, key
            assert was["constant_run"] >= 1 and last[key]["max"] > last[key]["min"], key
            for k in constant:
                series.pop(k, None)  # type: ignore[misc]
                if k in was:
                    series[k] = was[k]  # type: ignore[literal-required]
    assert dump_part(state) == dump_part(final)


def test_a_replayed_frame_is_skipped_by_the_migrated_offset() -> None:
    mn, raw = v1_records()[1]
    replay = replays()[1]
    state = load_station_state(mn, raw)
    before = dump_part(state)
    old_offset = state["offset"]
    call = next(c for c in replay["calls"] if c["kind"] == "frame")
    facts = FrameFacts(mn=mn, st=call["st"], cn=call["cn"],
                       data_time=datetime.fromisoformat(call["data_time"]),
                       receive_time=datetime.fromisoformat(call["receive_time"]))
    out = Outputs()
    fold_frames(DetectorBundle(contexts={mn: _context(replay["context"])}), state,
                [(old_offset, facts, [_reading(r) for r in call["readings"]])], out)
    assert dump_part(state) == before and out.alarms == [] and out.windows == []


def test_a_state_from_a_newer_release_is_refused_not_misread() -> None:
    newer = orjson.dumps({"version": STATE_VERSION + 1, "values": {"series": {}}})
    with pytest.raises(StateVersionError) as caught:
        load_station_state("ED9086BB27E018C0216944ED", newer)
    message = str(caught.value)
    assert "ED9086BB27E018C0216944ED" in message
    assert f"version {STATE_VERSION + 1}" in message
    assert f"1 to {STATE_VERSION}" in message


@pytest.mark.parametrize("raw", [b'{"version": "2"}', b'{"version": true}', b"[1, 2]",
                                 b"not json"])
def test_a_state_this_release_cannot_read_names_the_station(raw: bytes) -> None:
    with pytest.raises(StateVersionError, match="station MN1: "):
        load_station_state("MN1", raw)


def test_the_version_is_added_on_dump_and_never_seen_in_memory() -> None:
    assert orjson.loads(dump_station_state({})) == {"version": STATE_VERSION}
    state = load_station_state("MN1", dump_station_state({"offset": 7}))
    assert state == {"offset": 7}
    # a state a detector started from {} is written with its version all the same
    bundle = DetectorBundle()
    fresh: StationState = {}
    bundle.tick(fresh, "MN1", datetime(2024, 3, 1))
    assert orjson.loads(dump_station_state(fresh))["version"] == STATE_VERSION
