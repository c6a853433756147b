"""Sessions over real loopback sockets, with the spool as the sink (no Kafka); each test
with the connections served by asyncio's transports and by the Rust front end
(``gateway.io``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import hj212
import pytest

from pipeline.gateway import envelope
from tests.unit.gateway_helpers import (
    MN,
    MN_2005,
    PW,
    read_answers,
    spooled,
    start,
    upload,
)


async def _connect(gw):  # type: ignore[no-untyped-def]
    return await asyncio.open_connection("127.0.0.1", gw.port)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.fixture(params=["asyncio", "rust"])
def io(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_upload_gets_9014_after_it_is_spooled(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io)
        r, w = await _connect(gw)
        frame = upload(1)
        w.write(frame)
        [ans] = await read_answers(r, 1)
        assert (ans.cn, ans.qn, ans.st, ans.mn) == ("9014", "20240101000000001", "91", MN)
        assert gw.spool.durable_seq >= 1
        [(topic, key, env)] = spooled(gw)
        assert (topic, key, env.kind, env.raw, env.gateway) == (0, MN.encode(),
                                                                envelope.ACCEPTED, frame,
                                                                "gw-test")
        assert env.peer.startswith("127.0.0.1:") and env.seq == 0
        w.close()
        await gw.stop()
    run(main())


def test_byte_by_byte_and_ten_in_one_write(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io)
        r, w = await _connect(gw)
        one = upload(0)
        for b in one:
            w.write(bytes([b]))
            await w.drain()
        [ans] = await read_answers(r, 1)
        assert ans.cn == "9014"
        frames = [upload(i) for i in range(1, 11)]
        w.write(b"".join(frames))
        answers = await read_answers(r, 10)
        assert [a.qn for a in answers] == [hj212.parse(f).qn for f in frames]
        assert [e.raw for _, _, e in spooled(gw)] == [one, *frames]
        w.close()
        await gw.stop()
    run(main())


def test_auth_failures_are_answered_and_kept_as_rejects(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io)
        r, w = await _connect(gw)
        w.write(upload(1, mn="FFFF00000000000000000001"))
        w.write(upload(2, pw="999999"))
        a, b = await read_answers(r, 2)
        assert (a.cn, a.cp["QnRtn"]) == ("9011", "4")
        assert (b.cn, b.cp["QnRtn"]) == ("9011", "3")
        rows = spooled(gw)
        assert [(t, e.kind) for t, _, e in rows] == [(1, envelope.REJECTED)] * 2
        assert rows[0][2].reason.startswith("unknown_mn")
        assert rows[1][2].reason.startswith("wrong_pw")
        w.close()
        await gw.stop()
    run(main())


def test_quarantine_policy_answers_normally_but_keeps_aside(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io, unknown_mn="quarantine")
        r, w = await _connect(gw)
        w.write(upload(1, mn="FFFF00000000000000000001"))
        [a] = await read_answers(r, 1)
        assert a.cn == "9014"
        [(topic, _, env)] = spooled(gw)
        assert (topic, env.kind) == (1, envelope.QUARANTINED)
        w.close()
        await gw.stop()
    run(main())


def test_crc_error_gets_qnrtn_9_and_notification_9013(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io)
        r, w = await _connect(gw)
        good = upload(1)
        bad = good[:-6] + b"0000\r\n"
        w.write(bad)
        [a] = await read_answers(r, 1)
        assert (a.cn, a.cp["QnRtn"]) == ("9011", "9")
        # 1013 (time calibration request) is a notification: 9013. 2081 (restart time)
        # gets 9014, as the standard's table C.24 shows
        note = hj212.encode(cn=1013, st=32, mn=MN, pw=PW, qn="20240101000000123", flag=5)
        restart = hj212.encode(cn=2081, st=32, mn=MN, pw=PW, qn="20240101000000124", flag=5,
                               cp="DataTime=20240101000000;RestartTime=20240101000000")
        w.write(note + restart)
        n, m = await read_answers(r, 2)
        assert (n.cn, m.cn) == ("9013", "9014")
        kinds = [e.kind for _, _, e in spooled(gw)]
        assert kinds == [envelope.REJECTED, envelope.ACCEPTED, envelope.ACCEPTED]
        w.close()
        await gw.stop()
    run(main())


def test_2005_sender_is_not_answered_but_kept(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io)
        r, w = await _connect(gw)
        old = hj212.encode(cn=2011, st=32, mn=MN_2005, pw=PW,
                           cp="DataTime=20240101000000;011-Rtd=1.0")
        w.write(old + upload(3))
        [a] = await read_answers(r, 1)  # only the 2017 frame asked for an answer
        assert a.qn == "20240101000000003"
        assert [e.raw for _, _, e in spooled(gw)] == [old, upload(3)]
        w.close()
        await gw.stop()
    run(main())


def test_garbage_flood_stays_bounded_and_frames_still_pass(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io)
        r, w = await _connect(gw)
        junk = bytes(range(256)).replace(b"#", b"x") * 64
        for _ in range(200):  # 3.2 MB of noise
            w.write(junk)
        await w.drain()
        w.write(upload(7))
        [a] = await read_answers(r, 1, timeout=20)
        assert a.qn == "20240101000000007"
        [session] = gw.sessions
        assert session.framer.buffered <= 1036
        w.close()
        await gw.stop()
    run(main())


def test_limits_per_ip_and_idle_timeout(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io, max_per_ip=2, idle_timeout=1.0)
        conns = [await _connect(gw) for _ in range(3)]
        # the third is refused: closed without a byte
        assert await asyncio.wait_for(conns[2][0].read(), 5) == b""
        assert gw.metrics.connections_refused["max_per_ip"] == 1
        # the others time out when silent
        assert await asyncio.wait_for(conns[0][0].read(), 5) == b""
        # the gateway learns of the close an event-loop turn or two after the logger does
        # (the front end reports it from its thread)
        for _ in range(100):
            if not gw.sessions:
                break
            await asyncio.sleep(0.01)
        assert len(gw.sessions) == 0
        await gw.stop()
    run(main())


def test_a_refused_connection_is_closed_unread(tmp_path: Path, io: str) -> None:
    """A frame sent at once on a connection the gateway refuses is neither kept nor
    answered, even when the front end read it before the gateway saw the connection."""
    import socket
    import time

    async def main() -> None:
        gw = await start(tmp_path, io=io, max_per_ip=1)
        r1, w1 = await _connect(gw)
        late = socket.create_connection(("127.0.0.1", gw.port))
        late.sendall(upload(2))
        time.sleep(0.3)  # the event loop is held: the front end reads the frame meanwhile
        late.setblocking(False)
        loop = asyncio.get_running_loop()
        try:  # closed: with the frame unread the kernel resets rather than ends it
            got = await asyncio.wait_for(loop.sock_recv(late, 100), 5)
        except ConnectionResetError:
            got = b""
        assert got == b""
        assert gw.metrics.connections_refused["max_per_ip"] == 1
        w1.write(upload(1))
        [ok] = await read_answers(r1, 1)
        assert ok.qn == "20240101000000001"
        assert [env.raw for _, _, env in spooled(gw)] == [upload(1)]
        late.close()
        w1.close()
        await gw.stop()
    run(main())


def test_rate_limit_slows_but_answers_everything(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io, frames_per_s_per_mn=20.0)
        r, w = await _connect(gw)
        loop = asyncio.get_running_loop()
        # timed from the first write: the bucket's lower bound holds however slowly a
        # loaded machine reads the first answers (timed from the 61st frame, a slow read
        # had let the bucket refill and the test fail)
        t0 = loop.time()
        for i in range(60):
            w.write(upload(i))
            await w.drain()
            await asyncio.sleep(0.001)
        answers = await read_answers(r, 60, timeout=10)
        assert len(answers) == 60  # what was read is answered; the next reads wait
        w.write(upload(60))
        await read_answers(r, 1, timeout=10)
        # 61 frames at 20/s with a burst of 20: reading resumes ~2 s after the start
        assert loop.time() - t0 > 1.0
        assert gw.metrics.throttled_total > 0
        w.close()
        await gw.stop()
    run(main())


def test_unfinished_frame_at_close_is_kept_as_reject(tmp_path: Path, io: str) -> None:
    async def main() -> None:
        gw = await start(tmp_path, io=io)
        _, w = await _connect(gw)
        w.write(upload(1)[:40])
        await w.drain()
        w.close()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if not gw.sessions:
                break
        await asyncio.sleep(0.05)
        rows = spooled(gw)
        assert len(rows) == 1 and rows[0][2].kind == envelope.REJECTED
        assert rows[0][2].raw == upload(1)[:40]
        await gw.stop()
    run(main())
