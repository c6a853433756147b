"""Fault injection: the script format, the picks, the faults in the emitted frames, and
the ground truth lines."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import hj212
import pytest

from pipeline.simulator.corpus import DeviceSpec
from pipeline.simulator.datalogger import VirtualLogger
from pipeline.simulator.faults import (
    KINDS,
    FaultScriptError,
    GroundTruth,
    assign,
    load_script,
    parse_script,
)
from pipeline.simulator.stations import Limits, SimStation, made_fleet

START = datetime(2024, 3, 1, 0, 0, 0)
MN = "010000A8900016F000169DC0"
PW = "123456"
SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "simulator" / "faults" / "sample.toml"


def station(mn: str = MN) -> SimStation:
    codes = ("w00000", "w01018", "w21003")
    st = DeviceSpec(mn=mn, pw=PW, st=32, edition=2017, pollutants=codes,
                 baselines={"w00000": 50.0, "w01018": 30.0, "w21003": 2.0})
    return SimStation(st, rtd_interval=30, min_interval=10,
                      limits={"w01018": Limits(limit_high=50.0, range_low=0.0,
                                               range_high=200.0)})


def logger_with(entry: dict[str, object], *, hours: float = 3,
                truth: GroundTruth | None = None) -> tuple[VirtualLogger, list[bytes]]:
    sim = station()
    specs = parse_script({"fault": [entry]})
    faults = assign(specs, [sim], START, seed=1)
    lg = VirtualLogger(sim, start=START, seed=1, faults=faults.get(MN, []), truth=truth,
                       restart_notice=False)
    return lg, lg.advance(START + timedelta(hours=hours), 0.0)


def rtd_series(raws: list[bytes], code: str) -> list[tuple[str, float, str]]:
    out = []
    for raw in raws:
        f = hj212.parse(raw)
        if f.cn == "2011":
            out.append((f.data_time or "", float(f.pollutants[code]["Rtd"]),
                        str(f.pollutants[code]["Flag"])))
    return out


def inside(series: list[tuple[str, float, str]], lo: str, hi: str) -> list[float]:
    return [v for t, v, _ in series if lo <= t < hi]


def test_the_sample_script_loads_and_covers_every_kind() -> None:
    specs = load_script(SAMPLE)
    # the sample has every kind but the traps and clues of traps.toml
    traps = load_script(SAMPLE.parent / "traps.toml")
    assert {s.kind for s in specs} | {s.kind for s in traps} == set(KINDS)
    fleet = made_fleet(20, 3, {2005: 0.1, 2017: 0.8, 2025: 0.1})
    picked = assign(specs, fleet, START, seed=3)
    assert picked == assign(specs, fleet, START, seed=3)  # seeded picks
    assert sum(len(v) for v in picked.values()) >= len(specs)


def test_json_scripts_work_too(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"fault": [{"kind": "zero", "pollutant": "011",
                                           "start": "1h", "duration": "30m"}]}))
    (spec,) = load_script(path)
    assert spec.pollutant == "w01018"  # 2005 codes are accepted and made 2017
    assert spec.window(START) == (START + timedelta(hours=1),
                                  START + timedelta(hours=1, minutes=30))


@pytest.mark.parametrize(("entry", "message"), [
    ({"kind": "meteor"}, "kind='meteor'"),
    ({"kind": "zero"}, "needs pollutant"),
    ({"kind": "zero", "pollutant": "w01018", "colour": "red"}, "unknown keys"),
    ({"kind": "flag", "pollutant": "w01018", "flag": "X"}, "flag='X'"),
    ({"kind": "dropout", "duration": "soon"}, "span"),
    ({"kind": "dropout", "count": 0}, "count=0"),
])
def test_bad_entries_say_what_is_wrong(entry: dict[str, object], message: str) -> None:
    with pytest.raises(FaultScriptError, match=message):
        parse_script({"fault": [entry]}, "x.toml")


def test_selectors() -> None:
    fleet = made_fleet(12, 1, {2005: 0.3, 2017: 0.7})
    def pick(stations: object, count: int | None = None) -> set[str]:
        entry: dict[str, object] = {"kind": "dropout", "stations": stations}
        if count is not None:
            entry["count"] = count
        return set(assign(parse_script({"fault": [entry]}), fleet, START, 1))
    assert pick("*") == {s.mn for s in fleet}
    assert pick("#2") == {fleet[2].mn}
    assert pick("#0-2") == {s.mn for s in fleet[:3]}
    assert pick(fleet[5].mn) == {fleet[5].mn}
    assert pick("st=31") == {s.mn for s in fleet if s.station.st == 31}
    assert pick("edition=2005") == {s.mn for s in fleet if s.station.edition == 2005}
    assert len(pick("*", count=3)) == 3


def test_over_limit_out_of_range_zero_negative_and_constant_values() -> None:
    window = ("20240301010000", "20240301020000")
    base = {"pollutant": "w01018", "start": "1h", "duration": "1h"}
    _, clean = logger_with({"kind": "flag", "pollutant": "w21003"})
    clean_cod = rtd_series(clean, "w01018")
    for kind, check in {
        "over_limit": lambda v: 50.0 < v < 200.0,
        "out_of_range": lambda v: v > 200.0,
        "zero": lambda v: v == 0.0,
        "negative": lambda v: v < 0.0,
    }.items():
        _, raws = logger_with({**base, "kind": kind})
        series = rtd_series(raws, "w01018")
        faulty = inside(series, *window)
        assert len(faulty) == 120 and all(check(v) for v in faulty), kind
        # outside the window the values are exactly the clean ones
        assert [x for x in series if not window[0] <= x[0] < window[1]] == [
            x for x in clean_cod if not window[0] <= x[0] < window[1]], kind
    _, raws = logger_with({**base, "kind": "constant"})
    assert len(set(inside(rtd_series(raws, "w01018"), *window))) == 1


def test_spike_and_flag() -> None:
    _, clean = logger_with({"kind": "zero", "pollutant": "w21003"})
    _, raws = logger_with({"kind": "spike", "pollutant": "w01018", "start": "1h",
                           "duration": "1m", "factor": 8})
    before = dict((t, v) for t, v, _ in rtd_series(clean, "w01018"))
    after = dict((t, v) for t, v, _ in rtd_series(raws, "w01018"))
    changed = sorted(t for t in before if before[t] != after[t])
    assert changed == ["20240301010000", "20240301010030"]
    assert after[changed[0]] == pytest.approx(before[changed[0]] * 8, rel=0.01)
    _, raws = logger_with({"kind": "flag", "pollutant": "w21003", "flag": "C",
                           "start": "1h", "duration": "30m"})
    flags = {t: flag for t, _, flag in rtd_series(raws, "w21003")}
    assert {flags[t] for t in flags if "20240301010000" <= t < "20240301013000"} == {"C"}
    assert {flags[t] for t in flags if not "20240301010000" <= t < "20240301013000"} == {"N"}
    minute = {f.data_time: f.pollutants["w21003"]["Flag"]
              for f in map(hj212.parse, raws) if f.cn == "2051"}
    assert minute["20240301010000"] == "C" and minute["20240301003000"] == "N"


def test_bad_crc_garbage_duplicate_and_split_frames() -> None:
    lg, raws = logger_with({"kind": "bad_crc", "start": "1h", "duration": "10m"}, hours=2)
    errors = [hj212.Framer().feed(raw)[0] for raw in raws]
    bad = [e for e in errors if isinstance(e, hj212.FrameError)]
    # 20 x 2011, and the minute and hourly records leaving at 01:00
    assert len(bad) == 22 and {e.kind for e in bad} == {"crc"}
    assert lg.stats.faults["bad_crc"] == 22

    _, raws = logger_with({"kind": "garbage", "start": "1h", "duration": "10m"}, hours=2)
    framer = hj212.Framer()
    items = [item for raw in raws for item in framer.feed(raw)]
    frames = [i for i in items if isinstance(i, hj212.Frame)]
    skipped = [i for i in items if isinstance(i, hj212.FrameError)]
    # every frame still gets through; the framer reports the junk before the 22 in the window
    assert len(frames) == len(raws)
    assert len(skipped) == 22 and {e.kind for e in skipped} == {"header"}
    assert framer.stats["garbage_bytes"] > 0

    _, raws = logger_with({"kind": "duplicate", "start": "1h", "duration": "10m",
                           "rate": 1.0, "cns": [2011]}, hours=2)
    doubled = [raw for raw in raws if len(hj212.Framer().feed(raw)) == 2]
    assert len(doubled) == 20
    a, b = hj212.Framer().feed(doubled[0])
    assert isinstance(a, hj212.Frame) and a == b

    _, raws = logger_with({"kind": "split", "parts": 3, "cns": [2011]}, hours=0.1)
    parts = [hj212.parse(raw) for raw in raws]
    assert all(p.is_split and p.pnum == 3 for p in parts)
    joined = [j for p in parts if (j := hj212.Reassembler().add(p)) is not None]
    assert not joined  # one part alone is not a message
    joiner = hj212.Reassembler()
    whole = [j for p in parts if (j := joiner.add(p)) is not None]
    assert whole and set(whole[0].pollutants) == {"w00000", "w01018", "w21003"}


def test_dropout_is_silent_and_back_fillable() -> None:
    truth = GroundTruth()
    lg, raws = logger_with({"id": "quiet", "kind": "dropout", "start": "1h",
                            "duration": "1h"}, hours=3, truth=truth)
    times = {hj212.parse(r).data_time for r in raws if hj212.parse(r).cn == "2011"}
    assert not any("20240301010000" <= t < "20240301020000" for t in times if t)
    # back-fill: the platform asks for the minute records of the silent hour
    request = hj212.request(2051, MN, PW, BeginTime="20240301010000",
                            EndTime="20240301015000")
    lg.pending.clear()
    replies = [hj212.parse(r) for r in lg.receive(hj212.parse(request),
                                                  START + timedelta(hours=3), 0.0)]
    assert [f.cn for f in replies] == ["9011", "2051"]
    truth.close()
    (line,) = truth.lines
    assert line["fault"] == "quiet" and line["rule"] == "missing"
    assert line["backfillable"] is True and line["mn"] == MN
    assert line["windows"]["2011"] == ["2024-03-01T01:00:00", "2024-03-01T01:59:30"]
    assert line["windows"]["2061"] == ["2024-03-01T00:00:00", "2024-03-01T00:00:00"]


def test_lost_dropout_leaves_nothing_to_back_fill() -> None:
    lg, _ = logger_with({"kind": "dropout", "start": "1h", "duration": "1h",
                         "lost": True})
    assert lg.records(2051, START + timedelta(hours=1),
                      START + timedelta(minutes=110)) == []
    assert lg.records(2061, START + timedelta(hours=1), START + timedelta(hours=1)) == []
    assert lg.records(2051, START, START + timedelta(minutes=50))


def test_disconnect_holds_the_link_down_for_its_window() -> None:
    lg, _ = logger_with({"kind": "disconnect", "start": "1h", "duration": "20m"})
    assert lg.wants_link(START + timedelta(minutes=59))
    assert not lg.wants_link(START + timedelta(minutes=70))
    assert lg.wants_link(START + timedelta(minutes=80))
    # 2011 for 20 minutes, the minute records sent at 01:00 and 01:10, the hourly at 01:00
    assert lg.stats.withheld == 40 + 2 + 1


def test_ground_truth_file(tmp_path: Path) -> None:
    path = tmp_path / "truth.jsonl"
    truth = GroundTruth(path)
    assert path.exists() and path.read_text() == ""  # there even before any fault
    sim = station()
    specs = parse_script({"fault": [
        {"id": "cod-high", "kind": "over_limit", "pollutant": "w01018", "start": "30m",
         "duration": "1h"},
        {"id": "later", "kind": "zero", "pollutant": "w00000", "start": "10h"},
    ]})
    faults = assign(specs, [sim], START, seed=1)
    lg = VirtualLogger(sim, start=START, seed=1, faults=faults[MN], truth=truth)
    lg.advance(START + timedelta(hours=2), 0.0)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["fault"] for x in lines] == ["cod-high"]  # written once its window passed
    truth.close()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["fault"] for x in lines] == ["cod-high"]  # "later" never took effect
    line = lines[0]
    assert line == {**line, "kind": "over_limit", "rule": "over_limit", "mn": MN, "st": 32,
                    "pollutant": "w01018", "wire_code": "w01018", "reference": 50.0,
                    "start": "2024-03-01T00:30:00", "end": "2024-03-01T01:30:00",
                    "first": "2024-03-01T00:30:00", "last": "2024-03-01T01:29:30",
                    "samples": 120}
