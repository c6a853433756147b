"""One virtual logger driven by a manual clock: cadence, editions, resends, and the
answers appendix C shows (history replay, parameters, settings)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta

import hj212
import pytest

from pipeline.simulator.corpus import DeviceSpec, make_station
from pipeline.simulator.datalogger import VirtualLogger
from pipeline.simulator.stations import SimStation

START = datetime(2024, 3, 1, 0, 0, 0)
MN = "010000A8900016F000169DC0"
PW = "123456"


def water(edition: int = 2017, rtd: int = 30, minutes: int = 10) -> SimStation:
    codes = ("w00000", "w01018", "w21003", "w01001")
    mn = MN if edition != 2005 else "01000016F00016"
    station = DeviceSpec(mn=mn, pw=PW, st=32, edition=edition, pollutants=codes,
                      baselines={"w00000": 50.0, "w01018": 30.0, "w21003": 2.0,
                                 "w01001": 7.2})
    return SimStation(station, rtd_interval=rtd, min_interval=minutes)


def run(lg: VirtualLogger, hours: float, wall: float = 0.0) -> list[hj212.Frame]:
    out = lg.advance(START + timedelta(hours=hours), wall)
    return [hj212.parse(raw, strict=True) for raw in out]


def ack_all(lg: VirtualLogger, frames: list[hj212.Frame], wall: float = 0.0) -> list[bytes]:
    replies: list[bytes] = []
    for f in frames:
        answer = hj212.answer(f)
        if answer is not None:
            replies += lg.receive(hj212.parse(answer), START, wall)
    return replies


def test_cadence_per_data_type() -> None:
    lg = VirtualLogger(water(rtd=30, minutes=10), start=START, seed=1, restart_notice=False)
    frames = run(lg, 2)  # up to 02:00:00 inclusive
    by_cn = Counter(int(f.cn) for f in frames)
    # 2011 at 00:00:00 .. 02:00:00 every 30 s; 2051 each closed 10 minutes; 2061 each hour
    assert by_cn == {2011: 241, 2051: 12, 2061: 2}
    minute_times = [f.data_time for f in frames if f.cn == "2051"]
    assert minute_times[:2] == ["20240301000000", "20240301001000"]
    assert [f.data_time for f in frames if f.cn == "2061"] == ["20240301000000",
                                                                "20240301010000"]
    daily = run(lg, 24)
    assert [f.data_time for f in daily if f.cn == "2031"] == ["20240301000000"]


def test_same_seed_same_bytes_other_seed_other_values() -> None:
    a = VirtualLogger(water(), start=START, seed=5).advance(START + timedelta(hours=1), 0)
    b = VirtualLogger(water(), start=START, seed=5).advance(START + timedelta(hours=1), 0)
    c = VirtualLogger(water(), start=START, seed=6).advance(START + timedelta(hours=1), 0)
    assert a == b
    assert a != c


def test_period_records_are_consistent() -> None:
    lg = VirtualLogger(water(), start=START, seed=2)
    frames = run(lg, 3)
    rtd = [f.pollutants["w01018"]["Rtd"] for f in frames if f.cn == "2011"]
    minute = [f for f in frames if f.cn == "2051"]
    for f in minute:
        for fields in f.pollutants.values():
            assert fields["Min"] <= fields["Avg"] <= fields["Max"]
            assert fields["Flag"] == "N"
        assert "Cou" in f.pollutants["w01018"] and "Cou" in f.pollutants["w00000"]
        assert "Cou" not in f.pollutants["w01001"]  # pH has no cumulative amount
    first_hour = next(f for f in frames if f.cn == "2061").pollutants["w01018"]
    mean = sum(rtd[:120]) / 120
    assert first_hour["Avg"] == pytest.approx(mean, abs=0.06)
    assert first_hour["Min"] == min(rtd[:120]) and first_hour["Max"] == max(rtd[:120])
    # a daily shape and noise, not a flat line
    assert len(set(rtd)) > 20


def test_values_follow_a_daily_shape() -> None:
    sim = water(rtd=300, minutes=60)
    lg = VirtualLogger(sim, start=START, seed=3)
    frames = run(lg, 24)
    flow = {f.data_time: f.pollutants["w00000"]["Avg"] for f in frames if f.cn == "2061"}
    night = flow["20240301030000"]
    afternoon = flow["20240301140000"]
    assert afternoon > night * 1.4  # flow peaks in the working day


@pytest.mark.parametrize(("edition", "flag", "code"), [
    (2005, 1, "011"), (2017, 5, "w01018"), (2025, 9, "w01018"),
])
def test_editions_on_the_wire(edition: int, flag: int, code: str) -> None:
    lg = VirtualLogger(water(edition), start=START, seed=1)
    frames = [hj212.parse(raw) for raw in lg.connected(START, 0.0)]
    frames += run(lg, 0.5)
    assert frames[0].cn == "2081"  # the restart notice on the first connection
    for f in frames:
        assert f.flag == flag and f.edition == edition and f.needs_ack
        assert f.qn is not None and len(f.qn) == 17
    assert code in frames[1].pollutants
    assert len({f.qn for f in frames}) == len(frames)  # QNs are unique per logger


def test_bare_2005_sends_no_qn_or_flag_and_waits_for_nothing() -> None:
    lg = VirtualLogger(water(2005), start=START, seed=1, bare_2005=True)
    frames = run(lg, 0.5)
    assert all(f.qn is None and f.flag is None for f in frames)
    assert not lg.pending


def test_unanswered_uploads_are_resent_recount_times_then_given_up() -> None:
    lg = VirtualLogger(water(), start=START, seed=1, overtime=5, recount=3,
                       restart_notice=False)
    first = lg.advance(START, 0.0)
    assert len(first) == 1 and len(lg.pending) == 1
    assert lg.advance(START, 4.9) == []
    for wall in (5.0, 10.0, 15.0):
        assert lg.advance(START, wall) == first  # the same bytes: a resend, not a new QN
    assert lg.advance(START, 20.0) == []
    assert lg.stats.resent == 3 and lg.stats.unacked == 1 and not lg.pending


def test_9014_clears_the_pending_upload() -> None:
    lg = VirtualLogger(water(), start=START, seed=1, restart_notice=False)
    frames = run(lg, 1)
    assert len(lg.pending) == len(frames)
    ack_all(lg, frames)
    assert not lg.pending and lg.stats.acked == len(frames)
    assert lg.advance(START + timedelta(hours=1), 100.0) == []  # nothing to resend


def test_a_crc_complaint_gets_the_good_copy_at_once() -> None:
    lg = VirtualLogger(water(), start=START, seed=1, restart_notice=False)
    raw = lg.advance(START, 0.0)[0]
    bad = raw[:-6] + (b"0000" if raw[-6:-2] != b"0000" else b"1111") + raw[-2:]
    with pytest.raises(hj212.FrameError) as info:
        hj212.parse(bad)
    complaint = hj212.answer_error(info.value)
    assert complaint is not None
    assert lg.receive(hj212.parse(complaint), START, 0.1) == [raw]


def history_conversation(lg: VirtualLogger, request: bytes,
                         wall: float = 10.0) -> list[hj212.Frame]:
    """Play the platform: send the request, answer each record with 9014 (C.48), until
    9012."""
    got = [hj212.parse(raw) for raw in lg.receive(hj212.parse(request), START, wall)]
    seen = list(got)
    while seen[-1].cn != "9012":
        nxt: list[hj212.Frame] = []
        for f in got:
            if f.st != "91" and f.needs_ack:
                nxt += [hj212.parse(r) for r in ack_all(lg, [f], wall)]
        assert nxt, "the logger stopped before its 9012"
        seen += nxt
        got = nxt
    return seen


def test_minute_history_is_replayed_as_appendix_c_shows() -> None:
    lg = VirtualLogger(water(), start=START, seed=1, restart_notice=False)
    sent = run(lg, 3)
    ack_all(lg, sent)
    original = {f.data_time: f.cp_text for f in sent if f.cn == "2051"}
    request = hj212.request(2051, MN, PW, qn="20240301030100223",
                            BeginTime="20240301011000", EndTime="20240301014000")
    conv = history_conversation(lg, request)
    assert [f.cn for f in conv] == ["9011", "2051", "2051", "2051", "2051", "9012"]
    assert conv[0].qn == conv[-1].qn == "20240301030100223"  # 9011 and 9012 echo it
    assert conv[0].cp["QnRtn"] == "1" and conv[-1].cp["ExeRtn"] == "1"
    records = conv[1:-1]
    # each record has its own QN (C.20's ...534 after the request's ...223)
    assert len({f.qn for f in records}) == 4 and "20240301030100223" not in {
        f.qn for f in records}
    assert [f.data_time for f in records] == ["20240301011000", "20240301012000",
                                              "20240301013000", "20240301014000"]
    for f in records:
        assert f.cp_text == original[f.data_time]  # the stored record, unchanged
        assert f.rf is None  # 2017 has no resend flag


def test_records_wait_for_their_9014_one_at_a_time() -> None:
    lg = VirtualLogger(water(), start=START, seed=1, restart_notice=False)
    ack_all(lg, run(lg, 2))
    request = hj212.request(2061, MN, PW, BeginTime="20240301000000",
                            EndTime="20240301010000")
    first = [hj212.parse(r) for r in lg.receive(hj212.parse(request), START, 1.0)]
    assert [f.cn for f in first] == ["9011", "2061"]  # the second record waits (C.48)
    second = [hj212.parse(r) for r in ack_all(lg, first[1:])]
    assert [f.cn for f in second] == ["2061"]
    last = [hj212.parse(r) for r in ack_all(lg, second)]
    assert [f.cn for f in last] == ["9012"]


def test_2025_marks_replayed_records_with_rf() -> None:
    lg = VirtualLogger(water(2025), start=START, seed=1, restart_notice=False)
    ack_all(lg, run(lg, 2))
    request = hj212.request(2061, MN, PW, edition=2025, BeginTime="20240301000000",
                            EndTime="20240301000000")
    conv = history_conversation(lg, request)
    assert [f.cn for f in conv] == ["9011", "2061", "9012"]
    assert conv[1].rf == "1" and conv[1].edition == 2025 and conv[0].flag == 8


def test_an_empty_window_ends_with_exertn_100_and_a_bad_one_with_3() -> None:
    lg = VirtualLogger(water(), start=START, seed=1, restart_notice=False)
    run(lg, 1)
    empty = hj212.request(2051, MN, PW, BeginTime="20230101000000", EndTime="20230101010000")
    conv = history_conversation(lg, empty)
    assert [(f.cn, f.cp) for f in conv] == [("9011", {"QnRtn": "1"}),
                                            ("9012", {"ExeRtn": "100"})]
    bad = hj212.encode(cn=2051, st=32, mn=MN, pw=PW, qn="20240301030100223", flag=5,
                       cp="BeginTime=20240301000000")  # no EndTime
    replies = [hj212.parse(r) for r in lg.receive(hj212.parse(bad), START, 1.0)]
    assert [(f.cn, f.cp) for f in replies] == [("9011", {"QnRtn": "1"}),
                                               ("9012", {"ExeRtn": "3"})]


def test_parameter_reads_answer_with_the_request_qn() -> None:
    lg = VirtualLogger(water(rtd=30, minutes=10), start=START, seed=1)
    now = START + timedelta(hours=1)
    for cn, field, value in ((1061, "RtdInterval", "30"), (1063, "MinInterval", "10"),
                             (1011, "SystemTime", "20240301010000")):
        request = hj212.request(cn, MN, PW, qn="20160801085857223")
        replies = [hj212.parse(r) for r in lg.receive(hj212.parse(request), now, 0.0)]
        assert [f.cn for f in replies] == ["9011", str(cn), "9012"]
        assert {f.qn for f in replies} == {"20160801085857223"}
        data = replies[1]
        assert data.cp == {field: value} and data.flag == 4 and data.st == "32"


def test_settings_take_effect() -> None:
    lg = VirtualLogger(water(rtd=30, minutes=10), start=START, seed=1, restart_notice=False)
    run(lg, 0)
    for cn, fields in ((1062, {"RtdInterval": 60}), (1064, {"MinInterval": 5}),
                       (1000, {"OverTime": 7, "ReCount": 2}),
                       (1072, {"NewPW": "654321"})):
        replies = [hj212.parse(r) for r in lg.receive(
            hj212.parse(hj212.request(cn, MN, PW if cn != 1072 else lg.pw, **fields)),
            START, 0.0)]
        assert [(f.cn, f.cp) for f in replies] == [("9011", {"QnRtn": "1"}),
                                                   ("9012", {"ExeRtn": "1"})]
    assert (lg.rtd_interval, lg.min_interval, lg.overtime, lg.recount) == (60, 5, 7.0, 2)
    assert lg.pw == "654321"
    frames = run(lg, 1)
    by_cn = Counter(int(f.cn) for f in frames)
    assert by_cn[2011] == 60 and by_cn[2051] == 12
    assert {f.pw for f in frames} == {"654321"}
    # the old password no longer opens the logger
    refused = lg.receive(hj212.parse(hj212.request(1011, MN, PW)), START, 0.0)
    assert [hj212.parse(r).cp for r in refused] == [{"QnRtn": "3"}]


def test_notifications_get_9013_and_unknown_commands_are_refused() -> None:
    lg = VirtualLogger(water(), start=START, seed=1)
    stop = lg.receive(hj212.parse(hj212.request(2012, MN, PW)), START, 0.0)
    assert [hj212.parse(r).cn for r in stop] == ["9013"]
    odd = hj212.encode(cn=1001, st=32, mn=MN, pw=PW, qn="20240301000000000", flag=5)
    assert [hj212.parse(r).cp for r in lg.receive(hj212.parse(odd), START, 0.0)] == [
        {"QnRtn": "2"}]


def test_long_records_are_split_and_join_back() -> None:
    rng = random.Random(4)
    big = make_station(rng, edition=2017, gas=True, n_pollutants=20)
    lg = VirtualLogger(SimStation(big, rtd_interval=30, min_interval=10), start=START,
                       seed=1, restart_notice=False)
    frames = run(lg, 1)
    parts = [f for f in frames if f.is_split]
    assert parts, "a 20-factor hourly record does not fit one frame"
    joiner = hj212.Reassembler()
    joined = [j for f in parts if (j := joiner.add(f)) is not None]
    assert joined and joiner.pending == 0
    for frame in joined:
        assert len(frame.pollutants) == 20
    for f in parts:
        assert len(f.segment) <= 1024 and len(f.cp_text) <= 950
