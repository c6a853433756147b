"""Gateway processes sharing a port: the MNs each holds and the sources each blocks
(``siblings.LiveBoard``); the downlink of each sending a command only where its logger is
connected, with ``offline`` recorded once, by process 0; a block made by one process
holding on the other."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from pathlib import Path
from typing import Any

import hj212
import pytest

from pipeline.gateway.auth import StaticDirectory, StationEntry
from pipeline.gateway.downlink import Downlink, MemoryRecorder
from pipeline.gateway.server import LIVE_BOARD_INTERVAL_S, Gateway
from pipeline.gateway.siblings import LiveBoard, Siblings
from tests.unit.gateway_helpers import PW, read_answers, settings, upload


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_board_sees_what_its_siblings_hold_and_not_itself(tmp_path: Path) -> None:
    clock = _Clock()
    boards = [LiveBoard(Siblings(tmp_path / "live", i, 3), max_age_s=0.5, clock=clock)
              for i in range(3)]
    assert boards[0].holder("A") is None  # nothing published yet: no file, nobody holds it
    assert boards[0].publish(["A"]) and boards[1].publish(["B", "C"])
    clock.now += 1
    assert [b.holder("B") for b in boards] == [1, None, 1]
    assert [b.holder("A") for b in boards] == [None, 0, 0]  # its own MNs are not a sibling's
    assert boards[2].holder("D") is None
    assert boards[0].speaks_for_absent and not boards[1].speaks_for_absent


def test_a_board_writes_only_changes_and_rereads_after_max_age(tmp_path: Path) -> None:
    clock = _Clock()
    p0 = LiveBoard(Siblings(tmp_path, 0, 2), max_age_s=0.5, clock=clock)
    p1 = LiveBoard(Siblings(tmp_path, 1, 2), max_age_s=0.5, clock=clock)
    assert p1.publish({"B"})
    assert not p1.publish(["B"])  # the same set: no write
    assert p0.holder("B") == 1
    assert p1.publish(["C"])
    clock.now += 0.4
    assert p0.holder("B") == 1 and p0.holder("C") is None  # read 0.4 s ago: kept
    clock.now += 0.2
    assert p0.holder("B") is None and p0.holder("C") == 1
    p1.withdraw()
    clock.now += 1
    assert p0.holder("C") is None
    assert sorted(tmp_path.iterdir()) == []  # no temporary file left behind


def test_the_first_publish_replaces_a_list_an_earlier_run_left(tmp_path: Path) -> None:
    (tmp_path / "p1.live").write_text("OLD\n")
    p0 = LiveBoard(Siblings(tmp_path, 0, 2))
    assert p0.holder("OLD") == 1
    assert LiveBoard(Siblings(tmp_path, 1, 2)).publish([])
    assert LiveBoard(Siblings(tmp_path, 0, 2)).holder("OLD") is None


def test_an_index_outside_the_processes_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"index 2 is not in 0\.\.1"):
        Siblings(tmp_path, 2, 2)


async def _two_gateways_and_loggers(
        tmp_path: Path, stations: StaticDirectory, **gateway: Any,
) -> tuple[list[Gateway], list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]:
    """Two gateway processes' worth on one port (SO_REUSEPORT, a board in ``tmp_path``),
    and a logger for each of ``_MNS``, each answered once (so each gateway knows its MNs)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gws: list[Gateway] = []
    for i in range(2):
        s = settings(tmp_path / f"g{i}", **gateway)
        s = dataclasses.replace(s, gateway=dataclasses.replace(
            s.gateway, port=port, host="127.0.0.1", id=f"gw-p{i}"))
        gw = Gateway(s, directory=stations, publish=False, downlink=False, reuse_port=True,
                     siblings=Siblings(tmp_path / "live", i, 2))
        await gw.start()
        gws.append(gw)
    loggers = [await asyncio.open_connection("127.0.0.1", port) for _ in _MNS]
    for k, (_r, w) in enumerate(loggers):
        w.write(upload(k, mn=_MNS[k]))
    for r, _w in loggers:
        await read_answers(r, 1)
    return gws, loggers


async def _next_line(reader: asyncio.StreamReader, wait_s: float) -> bytes | None:
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n"), wait_s)
    except TimeoutError:
        return None


_MNS = [f"0100000000000000000000{k:02d}" for k in range(40)]
_ABSENT = "010000000000000000000099"


def test_each_command_is_sent_once_by_the_process_holding_its_logger(tmp_path: Path) -> None:
    async def main() -> None:
        stations = StaticDirectory([StationEntry(mn, PW) for mn in [*_MNS, _ABSENT]])
        gws, loggers = await _two_gateways_and_loggers(tmp_path, stations)
        recorders = [MemoryRecorder(), MemoryRecorder()]
        for gw, recorder in zip(gws, recorders, strict=True):
            gw.downlink = Downlink(gw, recorder, board=gw.board)
        try:
            held = [set(gw.live) for gw in gws]
            assert held[0] | held[1] == set(_MNS) and held[0] and held[1]
            await asyncio.sleep(3 * LIVE_BOARD_INTERVAL_S)  # each publishes what it holds

            def command(mn: str, qn: str) -> bytes:
                return json.dumps({"mn": mn, "cn": 2051, "qn": qn, "purpose": "backfill",
                                   "fields": {"BeginTime": "20240101000000",
                                              "EndTime": "20240101010000"}}).encode()

            for k, mn in enumerate(_MNS):
                # every process reads every command, as each consumes hj212.commands
                got = [gw.downlink.receive(command(mn, f"2024010203040{k:04d}"))
                       for gw in gws if gw.downlink is not None]
                sent = [(i, rec) for i, rec in enumerate(got) if rec is not None]
                assert len(sent) == 1, (mn, got)
                [(i, rec)] = sent
                assert mn in held[i] and rec.state == "sent"
            for k, (r, _w) in enumerate(loggers):
                request = hj212.parse(await asyncio.wait_for(r.readuntil(b"\r\n"), 5))
                assert (request.mn, request.cn, request.qn) == (
                    _MNS[k], "2051", f"2024010203040{k:04d}")
            # and no second copy from the other process
            assert await asyncio.gather(*(_next_line(r, 0.3) for r, _w in loggers)) == [
                None] * len(loggers)

            # no process holds this one: recorded offline once, by process 0
            got = [gw.downlink.receive(command(_ABSENT, "20240102030409999"))
                   for gw in gws if gw.downlink is not None]
            first, second = got
            assert second is None and first is not None and first.state == "offline"
            assert "any of this gateway's 2 processes" in first.detail

            # the answers come back on the logger's connection, to the process that sent
            r, w = loggers[0]
            holder = 0 if _MNS[0] in held[0] else 1
            request = hj212.parse(hj212.request(2051, _MNS[0], PW, qn="20240102030400000",
                                                BeginTime="20240101000000",
                                                EndTime="20240101010000"))
            w.write(hj212.answer(request, qn_rtn=1) or b"")
            w.write(hj212.answer(request, exe_rtn=1) or b"")
            for _ in range(100):
                last = recorders[holder].last.get("20240102030400000")
                if last is not None and last.state == "executed":
                    break
                await asyncio.sleep(0.02)
            states = [(q, st) for q, _m, st in recorders[holder].rows
                      if q == "20240102030400000"]
            assert states == [("20240102030400000", s) for s in ("sent", "accepted",
                                                                  "executed")]
            for _r, w in loggers:
                w.close()
        finally:
            for gw in gws:
                await gw.stop()
        # a stopped process holds nothing
        assert not (tmp_path / "live" / "p0.live").exists()

    asyncio.run(main())


def test_blocks_go_round_the_board_with_their_latest_end(tmp_path: Path) -> None:
    boards = [LiveBoard(Siblings(tmp_path, i, 3)) for i in range(3)]
    assert boards[1].publish_blocks({"10.0.0.1": 2000.0})
    assert not boards[1].publish_blocks({"10.0.0.1": 2000.5})  # same IPs: no write
    assert boards[2].publish_blocks({"10.0.0.1": 2100.0, "10.0.0.2": 1900.0})
    (tmp_path / "p2.blocked").write_text(
        (tmp_path / "p2.blocked").read_text() + "10.0.0.3 not-a-time\n")
    assert boards[0].sibling_blocks() == {"10.0.0.1": 2100.0, "10.0.0.2": 1900.0}
    assert boards[2].sibling_blocks() == {"10.0.0.1": 2000.0}  # not its own
    boards[2].withdraw()
    assert boards[0].sibling_blocks() == {"10.0.0.1": 2000.0}
    assert boards[1].publish_blocks({})  # the block ended
    assert boards[0].sibling_blocks() == {}


def test_a_guard_adopts_a_block_once_and_forgets_its_counts(tmp_path: Path) -> None:
    from pipeline.gateway.auth_guard import AuthGuard, AuthLimits, SourceLevel

    clock = _Clock()
    guard = AuthGuard(AuthLimits(slow_after=0, block_after=3, window_s=60, block_s=300,
                                 delay_s=0), clock)
    assert guard.failure("10.0.0.9") is SourceLevel.OK
    assert guard.failures("10.0.0.9") == 1
    assert guard.adopt("10.0.0.9", 30) and guard.is_blocked("10.0.0.9")
    assert guard.failures("10.0.0.9") == 0
    assert not guard.adopt("10.0.0.9", 500)  # blocked already: the first end holds
    assert guard.blocks() == {"10.0.0.9": 30}
    assert not guard.adopt("10.0.0.8", 0) and not guard.is_blocked("10.0.0.8")
    clock.now += 31
    assert not guard.is_blocked("10.0.0.9") and guard.blocks() == {}


def test_a_source_blocked_by_one_process_is_refused_by_the_other(tmp_path: Path) -> None:
    async def main() -> None:
        stations = StaticDirectory([StationEntry(mn, PW) for mn in _MNS])
        gws, loggers = await _two_gateways_and_loggers(
            tmp_path, stations, auth_fail_block_after=3, auth_fail_slow_after=0)
        port = gws[0].port
        try:
            on = [[k for k, mn in enumerate(_MNS) if mn in gw.live] for gw in gws]
            assert on[0] and on[1] and len(on[0]) + len(on[1]) == len(_MNS)
            # three wrong passwords through process 0: it blocks 127.0.0.1
            _r, w = loggers[on[0][0]]
            for i in range(3):
                w.write(upload(100 + i, mn=_MNS[on[0][0]], pw="999999"))
            for _ in range(100):
                if gws[0].context.guard.is_blocked("127.0.0.1"):
                    break
                await asyncio.sleep(0.02)
            assert gws[0].context.guard.is_blocked("127.0.0.1")
            # process 1 closes its connections from there within a few board intervals
            closed = await asyncio.gather(*(
                _closed(loggers[k][0], 8 * LIVE_BOARD_INTERVAL_S) for k in on[1]))
            assert all(closed), closed
            # and a new connection is refused whichever process takes it
            for _ in range(16):  # each lands on p1 with odds 1/2
                r, w = await asyncio.open_connection("127.0.0.1", port)
                w.write(upload(7, mn=_MNS[0]))
                assert await _closed(r, 2.0)
                w.close()
            assert gws[1].metrics.connections_refused["auth_blocked"] > 0
        finally:
            for gw in gws:
                await gw.stop()

    asyncio.run(main())


async def _closed(reader: asyncio.StreamReader, wait_s: float) -> bool:
    """Whether the gateway closed the connection within ``wait_s`` (answers before that
    are read past)."""
    try:
        async with asyncio.timeout(wait_s):
            while await reader.read(4096):
                pass
        return True
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def test_a_guard_counts_its_siblings_wrong_passwords_with_its_own() -> None:
    from pipeline.gateway.auth_guard import AuthGuard, AuthLimits, SourceLevel

    clock = _Clock()
    guard = AuthGuard(AuthLimits(slow_after=0, block_after=4, window_s=60, block_s=300,
                                 delay_s=0), clock)
    # two by a sibling within the window, one outside it
    guard.set_elsewhere({"10.0.0.5": [clock.now - 70, clock.now - 5, clock.now - 1]})
    assert guard.failure("10.0.0.5") is SourceLevel.OK
    assert guard.failures("10.0.0.5") == 3
    assert guard.recent_failures(10) == {"10.0.0.5": [clock.now]}  # only its own go out
    assert guard.failure("10.0.0.5") is SourceLevel.BLOCK
    assert guard.is_blocked("10.0.0.5") and guard.failures("10.0.0.5") == 0
    # a sibling's count for a source blocked here already is not kept
    guard.set_elsewhere({"10.0.0.5": [clock.now]})
    assert guard.failures("10.0.0.5") == 0
    # another source: the siblings' set is replaced at each hearing, not added up
    guard.set_elsewhere({"10.0.0.6": [clock.now] * 3})
    guard.set_elsewhere({"10.0.0.6": [clock.now]})
    assert guard.failure("10.0.0.6") is SourceLevel.OK and guard.failures("10.0.0.6") == 2


def test_a_guard_shares_the_sources_nearest_a_block_first() -> None:
    from pipeline.gateway.auth_guard import AuthGuard, AuthLimits

    clock = _Clock()
    guard = AuthGuard(AuthLimits(slow_after=0, block_after=10, window_s=60, block_s=300,
                                 delay_s=0), clock)
    for k in range(5):
        for _ in range(k + 1):
            guard.failure(f"10.0.1.{k}")
    assert sorted(guard.recent_failures(2)) == ["10.0.1.3", "10.0.1.4"]
    clock.now += 61
    assert guard.recent_failures(10) == {}  # out of the window: nothing to share


def test_wrong_passwords_go_round_the_board(tmp_path: Path) -> None:
    boards = [LiveBoard(Siblings(tmp_path, i, 3)) for i in range(3)]
    assert boards[1].publish_failures({"10.0.0.1": [1000.0, 1001.5]})
    assert not boards[1].publish_failures({"10.0.0.1": [1000.0, 1001.5]})  # no change
    # the same count with other times (one left the window, one came): written
    assert boards[1].publish_failures({"10.0.0.1": [1001.5, 1003.0]})
    assert boards[0].sibling_failures() == {"10.0.0.1": [1001.5, 1003.0]}
    assert boards[1].publish_failures({"10.0.0.1": [1000.0, 1001.5]})
    assert boards[2].publish_failures({"10.0.0.1": [1002.25], "10.0.0.2": [999.0]})
    (tmp_path / "p2.failures").write_text(
        (tmp_path / "p2.failures").read_text() + "10.0.0.3 soon\n")
    assert boards[0].sibling_failures() == {"10.0.0.1": [1000.0, 1001.5, 1002.25],
                                            "10.0.0.2": [999.0]}
    assert boards[1].sibling_failures() == {"10.0.0.1": [1002.25], "10.0.0.2": [999.0]}
    assert boards[1].publish_failures({})
    boards[2].withdraw()
    assert boards[0].sibling_failures() == {}


def test_wrong_passwords_spread_over_the_processes_block_at_the_port_s_count(
        tmp_path: Path) -> None:
    async def main() -> None:
        stations = StaticDirectory([StationEntry(mn, PW) for mn in _MNS])
        gws, loggers = await _two_gateways_and_loggers(
            tmp_path, stations, auth_fail_block_after=4, auth_fail_slow_after=0)
        try:
            on = [[k for k, mn in enumerate(_MNS) if mn in gw.live] for gw in gws]
            # two wrong passwords through each process: neither reaches 4 alone
            for n in range(4):
                k = on[n % 2][0]
                loggers[k][1].write(upload(200 + n, mn=_MNS[k], pw="999999"))
                if n < 3:
                    await read_answers(loggers[k][0], 1)  # QnRtn=3, not yet blocked
                    await asyncio.sleep(3 * LIVE_BOARD_INTERVAL_S)  # the siblings hear of it
            # the fourth, through process 1, blocks the source there and then on process 0
            assert await _closed(loggers[on[1][0]][0], 2.0)
            assert gws[1].context.guard.is_blocked("127.0.0.1")
            assert await _closed(loggers[on[0][0]][0], 8 * LIVE_BOARD_INTERVAL_S)
            assert gws[0].context.guard.is_blocked("127.0.0.1")
        finally:
            for gw in gws:
                await gw.stop()

    asyncio.run(main())
