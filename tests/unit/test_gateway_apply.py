"""A Session applying verdicts through its GatewayContext, with a fake transport, an
in-memory spool and an injected clock: no socket, no disk."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import hj212
import pytest

from pipeline.gateway import envelope
from pipeline.gateway.auth import StaticDirectory, StationEntry
from pipeline.gateway.context import Connection, GatewayContext
from pipeline.gateway.metrics import Metrics
from pipeline.gateway.session import Session
from pipeline.logs import get_logger
from tests.unit.gateway_helpers import (
    CODEC_HAS_VARIANTS,
    MN,
    PW,
    VARIANT_MN,
    modbus_signed,
    settings,
    upload,
)

OTHER_MN = "00000000000000000000AAAA"


class Transport:
    def __init__(self, ip: str = "10.0.0.1", port: int = 40000) -> None:
        self.peer = (ip, port)
        self.out = bytearray()
        self.reading = True
        self.closed = False

    def get_extra_info(self, name: str) -> Any:
        return self.peer if name == "peername" else None

    def write(self, data: bytes) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self) -> None:
        self.closed = True

    abort = close

    def answers(self) -> list[hj212.Frame]:
        return [hj212.parse(line + b"\r\n") for line in bytes(self.out).split(b"\r\n") if line]


class MemorySpool:
    """The spool's append/room interface; ``sync()`` plays the fsync finishing."""

    def __init__(self) -> None:
        self.records: list[tuple[int, bytes, envelope.Envelope]] = []
        self.next_seq = 0
        self.epoch: asyncio.Future[None] | None = None

    def append(self, topic: int, key: bytes, value: bytes) -> asyncio.Future[None]:
        self.records.append((topic, key, envelope.decode(value)))
        self.next_seq += 1
        if self.epoch is None:
            self.epoch = asyncio.get_running_loop().create_future()
        return self.epoch

    def has_room(self) -> bool:
        return True

    async def sync(self) -> None:
        if self.epoch is not None:
            self.epoch.set_result(None)
            self.epoch = None
        await asyncio.sleep(0)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def context(tmp_path: Path, clock: Clock | None = None, **gateway: Any
            ) -> tuple[GatewayContext, MemorySpool]:
    spool = MemorySpool()
    entries = [StationEntry(MN, PW), StationEntry(OTHER_MN, PW),
               StationEntry(VARIANT_MN, PW, crc_variants=("modbus",))]
    ctx = GatewayContext(settings(tmp_path, **gateway), gateway_id="gw-unit", metrics=Metrics(),
                         spool=spool,  # type: ignore[arg-type]
                         directory=StaticDirectory(entries), log=get_logger("test"),
                         clock=clock or Clock())
    return ctx, spool


def connect(ctx: GatewayContext, ip: str = "10.0.0.1") -> tuple[Session, Transport]:
    session = Session(ctx)
    transport = Transport(ip)
    session.connection_made(transport)  # type: ignore[arg-type]
    return session, transport


def test_answers_wait_for_the_spool_and_every_frame_is_kept(tmp_path: Path) -> None:
    async def main() -> None:
        ctx, spool = context(tmp_path)
        session, t = connect(ctx)
        frames = [upload(1), upload(2, mn="FFFF00000000000000000001"), upload(3, pw="999999"),
                  upload(4)[:-6] + b"0000\r\n"]
        session.data_received(b"".join(frames))
        assert t.out == b""  # nothing answered before the records are kept
        await spool.sync()
        assert [(a.cn, a.cp.get("QnRtn")) for a in t.answers()] == [
            ("9014", None), ("9011", "4"), ("9011", "3"), ("9011", "9")]
        kept = [(topic, e.kind, e.reason.split(":")[0], e.raw) for topic, _, e in spool.records]
        assert kept == [(0, envelope.ACCEPTED, "", frames[0]),
                        (1, envelope.REJECTED, "unknown_mn", frames[1]),
                        (1, envelope.REJECTED, "wrong_pw", frames[2]),
                        (1, envelope.REJECTED, "crc", frames[3])]
        m = ctx.metrics
        assert (m.frames[("2011", "accepted")], m.frames[("2011", "rejected_unknown_mn")],
                m.frames[("2011", "rejected_wrong_pw")], m.frames[("2011", "rejected_crc")]) == (
                    1, 1, 1, 1)
        assert ctx.live == {MN: session} and session.mns == {MN}
        conn: Connection = session  # a Session is what the context calls a connection
        assert conn in ctx.sessions
    asyncio.run(main())


def test_a_source_sending_wrong_passwords_is_slowed_then_blocked(tmp_path: Path) -> None:
    async def main() -> None:
        clock = Clock()
        ctx, spool = context(tmp_path, clock, auth_fail_slow_after=2, auth_fail_block_after=4,
                             auth_fail_delay_s=0.05, auth_block_s=60.0)
        session, t = connect(ctx)
        neighbour, t2 = connect(ctx)  # another logger behind the same address
        elsewhere, t3 = connect(ctx, "10.0.0.2")
        session.data_received(upload(1, pw="999999"))
        await spool.sync()
        assert len(t.answers()) == 1 and t.reading  # one mistake: answered at once
        session.data_received(upload(2, pw="999999"))
        await spool.sync()
        assert t.out.count(b"\r\n") == 1 and not t.reading  # slowed: answer and reading wait
        assert ctx.metrics.auth_slowed_total == 1
        await asyncio.sleep(0.1)
        assert t.out.count(b"\r\n") == 2 and t.reading
        session.data_received(upload(3, pw="999999") + upload(4, pw="999999") + upload(5))
        await spool.sync()
        # the fourth wrong password blocks the address: every connection from it is closed,
        # the frame after it is kept as a reject unread and unanswered
        assert t.closed and t2.closed and not t3.closed
        assert [e.reason.split(":")[0] for _, _, e in spool.records[-3:]] == [
            "wrong_pw", "wrong_pw", "source_blocked"]
        assert ctx.metrics.frames[("2011", "rejected_source_blocked")] == 1
        assert ctx.metrics.auth_blocked_total == 1 and ctx.metrics.auth_blocked_sources == 1
        for s in (session, neighbour):
            s.connection_lost(None)
        _, refused = connect(ctx)
        assert refused.closed and ctx.metrics.connections_refused["auth_blocked"] == 1
        # a frame still in flight on an open connection from the address is not read
        late, t4 = Session(ctx), Transport()
        late.transport = t4  # type: ignore[assignment]
        late.ip = "10.0.0.1"
        late.data_received(upload(6))
        await spool.sync()
        assert spool.records[-1][2].reason.startswith("source_blocked") and t4.out == b""
        assert elsewhere.ctx.guard.is_blocked("10.0.0.2") is False
        # the block ends: the address is let in again and counted from nothing
        clock.now += 60
        ctx.housekeeping()
        assert ctx.metrics.auth_blocked_sources == 0
        again, t5 = connect(ctx)
        assert not t5.closed
        again.data_received(upload(7))
        await spool.sync()
        assert t5.answers()[0].cn == "9014"
        text = ctx.metrics.render()
        assert "hj212_gateway_auth_slowed_total 1" in text
        assert "hj212_gateway_auth_blocked_total 1" in text
        assert "hj212_gateway_auth_blocked_sources 0" in text
        assert 'hj212_gateway_connections_refused_total{reason="auth_blocked"} 1' in text
    asyncio.run(main())


def test_a_crc_variant_is_accepted_with_its_warning_kept_and_counted(tmp_path: Path) -> None:
    if not CODEC_HAS_VARIANTS:
        pytest.skip("the hj212 build has no CRC variants yet")

    async def main() -> None:
        ctx, spool = context(tmp_path)
        session, t = connect(ctx)
        ok = modbus_signed(upload(1, mn=VARIANT_MN))
        refused = modbus_signed(upload(2))  # MN's station is not allowed modbus
        session.data_received(ok + refused)
        await spool.sync()
        assert [(a.cn, a.cp.get("QnRtn")) for a in t.answers()] == [("9014", None),
                                                                    ("9011", "9")]
        (_, key, env), (topic, _, rej) = spool.records
        assert (key, env.kind, env.raw) == (VARIANT_MN.encode(), envelope.ACCEPTED, ok)
        assert env.reason.startswith("crc_variant")  # the warning travels with the frame
        assert (topic, rej.kind) == (1, envelope.REJECTED)
        assert rej.reason.startswith("crc:") and "crc_variants=modbus" in rej.reason
        m = ctx.metrics
        assert m.crc_variant_frames[(VARIANT_MN, "modbus")] == 1
        assert m.crc_variant_rejected["modbus"] == 1
        assert m.frames[("2011", "accepted")] == 1 and ctx.live[VARIANT_MN] is session
        text = m.render()
        assert (f'hj212_gateway_crc_variant_frames_total{{mn="{VARIANT_MN}",variant="modbus"}} 1'
                in text)
        assert 'hj212_gateway_crc_variant_rejected_total{variant="modbus"} 1' in text
    asyncio.run(main())


def test_9011_and_9012_from_a_logger_go_to_the_downlink_hook(tmp_path: Path) -> None:
    async def main() -> None:
        ctx, spool = context(tmp_path)
        seen: list[tuple[str, str | None, Connection]] = []

        class Hook:
            def on_answer(self, frame: hj212.Frame, conn: Connection) -> None:
                seen.append((frame.cn, frame.qn, conn))

        ctx.command_answers = Hook()
        session, _ = connect(ctx)
        request = hj212.parse(hj212.request(2051, MN, PW, qn="20240102030405123",
                                            BeginTime="20240101000000",
                                            EndTime="20240101010000"))
        session.data_received((hj212.answer(request, qn_rtn=1) or b"")
                              + (hj212.answer(request, exe_rtn=1) or b"") + upload(1))
        await spool.sync()
        assert seen == [("9011", "20240102030405123", session),
                        ("9012", "20240102030405123", session)]
    asyncio.run(main())
