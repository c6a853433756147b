"""The gateway's one-frame-per-read path: the accepted envelope built from a per-connection
prefix, the envelope, spool record and answer made in one call into Rust against their
Python references, sessions with the short paths against sessions that take every read
through the verdict loop, answers of one fsync group written by one callback, and several
gateway processes on one port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import dataclasses
import struct
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import hj212
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipeline.gateway import envelope, spool
from pipeline.gateway.cli import process_settings
from pipeline.gateway.context import GatewayContext
from pipeline.gateway.metrics import Metrics
from pipeline.gateway.server import Gateway
from pipeline.gateway.session import Session
from pipeline.gateway.spool import Spool, _parse
from pipeline.logs import get_logger
from tests.unit.gateway_helpers import MN, MN_2005, PW, directory, read_answers, settings, upload


def test_accepted_envelope_from_the_connection_prefix_is_the_full_encoding() -> None:
    raw = upload(7)
    sender = envelope.sender_part(b"gw-1", b"10.0.0.9:40000")
    fast = envelope.encode_accepted(1_700_000_000_123_456_789, 42, sender, raw)
    # the layout written out by hand from envelope.py's table, not from encode()
    by_hand = (b"HJGW" + bytes([1, 1]) + struct.pack(">QQ", 1_700_000_000_123_456_789, 42)
               + bytes([4]) + b"gw-1" + bytes([14]) + b"10.0.0.9:40000" + b"\x00\x00"
               + struct.pack(">I", len(raw)) + raw)
    assert fast == by_hand
    env = envelope.decode(fast)
    assert (env.kind, env.seq, env.gateway, env.peer, env.reason, env.raw) == (
        envelope.ACCEPTED, 42, "gw-1", "10.0.0.9:40000", "", raw)


#: frames the fast path sees: uploads that want a 9014 and that want none, the logger's
#: restart time (9014, table C.24), a notification (1013: 9013), a 2005-edition frame and
#: one the lenient framing warned of (lower-case CRC)
_ACCEPTABLE = [
    upload(1), upload(2, flag=4), upload(3, cn=2051),
    hj212.encode(cn=2081, st=32, mn=MN, pw=PW, qn="20240101000000001", flag=5,
                 cp="RestartTime=20240101000000"),
    hj212.encode(cn=1013, st=32, mn=MN, pw=PW, qn="20240101000000002", flag=5, cp=""),
    hj212.encode(cn=2011, st=32, mn=MN_2005, pw=PW, flag=1,
                 cp="DataTime=20240101000000;w01018-Rtd=1.5"),
]
_ACCEPTABLE.append(_ACCEPTABLE[0][:-6] + _ACCEPTABLE[0][-6:-2].lower() + b"\r\n")


@given(raw=st.sampled_from(_ACCEPTABLE), topic=st.integers(0, 255),
       key=st.binary(max_size=40), receive_ns=st.integers(0, 2**64 - 1),
       seq=st.integers(0, 2**64 - 1), gateway=st.binary(max_size=255),
       peer=st.binary(max_size=255))
def test_accept_frame_makes_the_envelope_record_and_answer_of_the_python_references(
        raw: bytes, topic: int, key: bytes, receive_ns: int, seq: int, gateway: bytes,
        peer: bytes) -> None:
    frame = hj212.parse(raw, strict=False)
    sender = envelope.sender_part(gateway, peer)
    value, rec, reply = hj212.accept_frame(frame, topic, key, receive_ns, seq, sender)
    assert value == envelope.encode_accepted(receive_ns, seq, sender, raw)
    assert rec == spool.record(topic, key, value)
    assert reply == hj212.answer(frame)
    records: list[tuple[int, bytes, bytes]] = []
    assert _parse(rec, records, 10) == len(rec)
    assert records == [(topic, key, value)]


def test_accept_frame_names_what_its_prefixes_cannot_hold() -> None:
    frame = hj212.parse(upload(1))
    with pytest.raises(ValueError, match="key has 70000 bytes"):
        hj212.accept_frame(frame, 0, b"k" * 70_000, 0, 0, b"\x00\x00")
    with pytest.raises(OverflowError):
        hj212.accept_frame(frame, 256, b"k", 0, 0, b"\x00\x00")


class _Transport:
    """What a session writes, and nothing else of a socket."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def write(self, data: bytes) -> None:
        self.out.append(data)

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


class _VerdictOnly(Session):
    """Every read through the verdict loop (``_handle``): the reference for the short
    paths (``_accept_one``, ``Framer.feed_accepting``)."""

    def data_received(self, data: bytes) -> None:
        items = self.framer.feed(data)
        if items:
            self._handle(items, answer=True)


_OTHER_MN = "010000A8900016F000169DC1"
#: what a logger's reads may hold: its usual frame, another registered MN, a wrong PW, an
#: unknown MN, a command's answer, a frame that wants no answer, two frames in one read, a
#: frame cut over two reads, a broken CRC, garbage
_READS = {
    "usual": [upload(1)], "usual2": [upload(2, cn=2051)], "2005": [
        hj212.encode(cn=2011, st=32, mn=MN_2005, pw=PW, flag=1,
                     cp="DataTime=20240101000000;w01018-Rtd=1.5")],
    "wrong_pw": [upload(3, pw="999999")], "unknown": [upload(4, mn=_OTHER_MN)],
    "answer_9011": [hj212.encode(cn=9011, st=91, mn=MN, pw=PW, qn="20240101000000001",
                                 flag=4, cp="QnRtn=1")],
    "no_answer": [upload(5, flag=4)], "two": [upload(6) + upload(7)],
    "cut": [upload(8)[:40], upload(8)[40:]],
    "bad_crc": [upload(9)[:-6] + b"0000\r\n"], "garbage": [b"xx\r\n"],
}


async def _run_reads(cls: type[Session], tmp: Path, reads: list[bytes]
                     ) -> tuple[list[bytes], list[tuple[Any, ...]], dict[Any, int], set[str]]:
    s = settings(tmp)
    gw = Gateway(s, directory=directory(), publish=False, downlink=False)
    await gw.spool.open()
    t = _Transport()
    sess = cls(gw.context)
    sess.connection_made(t)  # type: ignore[arg-type]
    for data in reads:
        sess.data_received(data)
        await gw.spool.flushed()
        await asyncio.sleep(0)
    kept = []
    while (batch := gw.spool.read_nowait(100_000, 1 << 30)) is not None:
        for topic, key, value in batch.records:
            e = envelope.decode(value)
            kept.append((topic, key, e.kind, e.seq, e.gateway, e.peer, e.reason, e.raw))
    await gw.spool.close()
    return t.out, kept, dict(gw.metrics.frames), set(gw.context.live)


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(_READS)), min_size=1, max_size=14))
def test_the_short_paths_keep_answer_and_count_as_the_verdict_loop(names: list[str]
                                                                    ) -> None:
    reads = [part for name in names for part in _READS[name]]
    with tempfile.TemporaryDirectory() as tmp:
        fast = asyncio.run(_run_reads(Session, Path(tmp) / "fast", reads))
        ref = asyncio.run(_run_reads(_VerdictOnly, Path(tmp) / "ref", reads))
    assert fast == ref


class _Counting(Session):
    """A session that counts which path took each read (and takes it)."""

    paths: ClassVar[dict[str, int]] = {}

    def _handle(self, items: list[Any], *, answer: bool) -> None:
        self.paths["verdict loop"] = self.paths.get("verdict loop", 0) + 1
        super()._handle(items, answer=answer)

    def _accept_one(self, item: Any) -> bool:
        taken = super()._accept_one(item)
        if taken:
            self.paths["_accept_one"] = self.paths.get("_accept_one", 0) + 1
        return taken


def test_the_usual_read_takes_the_rust_path_from_the_third_frame() -> None:
    """The differential test above says nothing if the short paths never run: count them.
    The first frame binds the connection (verdict loop), the second goes by _accept_one
    (which names the MN for the Rust path) and the rest by Framer.feed_accepting."""
    _Counting.paths = {}
    with tempfile.TemporaryDirectory() as tmp:
        out, kept, counts, _ = asyncio.run(
            _run_reads(_Counting, Path(tmp), [upload(i) for i in range(1, 6)]))
    assert len(out) == len(kept) == 5 and counts == {("2011", "accepted"): 5}
    assert _Counting.paths == {"verdict loop": 1, "_accept_one": 1}


def _context(tmp: Path) -> GatewayContext:
    s = settings(tmp)
    spool = Spool(tmp / "spool", max_bytes=1 << 30)
    return GatewayContext(s, gateway_id="gw", metrics=Metrics(), spool=spool,
                          directory=directory(), log=get_logger("test"))


def test_answers_of_one_fsync_group_are_written_once_each_in_order(tmp_path: Path) -> None:
    async def main() -> list[tuple[str, Any]]:
        ctx = _context(tmp_path)
        loop = asyncio.get_running_loop()
        written: list[tuple[str, Any]] = []

        def writer(name: str) -> Any:
            return lambda fut, answers: written.append((name, answers))

        first: asyncio.Future[None] = loop.create_future()
        ctx.when_kept(first, writer("a"), [b"1"])
        ctx.when_kept(first, writer("b"), [b"2"])
        ctx.when_kept(first, writer("a"), [b"3"])
        second: asyncio.Future[None] = loop.create_future()
        ctx.when_kept(second, writer("c"), [b"4"])
        await asyncio.sleep(0)
        assert written == []  # nothing before the fsync
        first.set_result(None)
        await asyncio.sleep(0)
        assert written == [("a", [b"1"]), ("b", [b"2"]), ("a", [b"3"])]
        # a completed group is never joined: a late waiter still gets its answer
        ctx.when_kept(first, writer("late"), [b"5"])
        second.set_result(None)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return written

    written = asyncio.run(main())
    assert sorted(written[3:]) == [("c", [b"4"]), ("late", [b"5"])]


def test_each_process_of_several_has_its_own_id_spool_and_metrics_port(tmp_path: Path) -> None:
    s = settings(tmp_path)
    s = dataclasses.replace(s, gateway=dataclasses.replace(s.gateway, metrics_port=9300))
    p0, p1 = process_settings(s, 0), process_settings(s, 1)
    assert (p0.gateway.id, p1.gateway.id) == ("gw-test-p0", "gw-test-p1")
    assert (p0.gateway.metrics_port, p1.gateway.metrics_port) == (9300, 9301)
    assert p0.spool_dir == tmp_path / "spool" / "p0"
    assert p1.spool_dir == tmp_path / "spool" / "p1"
    assert p0.gateway.port == s.gateway.port
    off = process_settings(dataclasses.replace(s, gateway=dataclasses.replace(
        s.gateway, metrics_port=0)), 3)
    assert off.gateway.metrics_port == 0


def test_two_gateways_share_one_port_with_reuse_port(tmp_path: Path) -> None:
    async def main() -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        gws = []
        for i in range(2):
            s = settings(tmp_path / f"g{i}")
            s = dataclasses.replace(s, gateway=dataclasses.replace(s.gateway, port=port,
                                                                    host="127.0.0.1"))
            gw = Gateway(s, directory=directory(), publish=False, downlink=False,
                         reuse_port=True)
            await gw.start()  # the second one fails to bind without SO_REUSEPORT
            gws.append(gw)
        try:
            conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(40)]
            for k, (_r, w) in enumerate(conns):
                w.write(upload(k))
            for r, _w in conns:
                [ans] = await read_answers(r, 1)
                assert (ans.cn, ans.mn) == ("9014", MN)
            for _r, w in conns:
                w.close()
            # every connection was answered by one of the two, and both took some
            # (the kernel hashes connections over the listeners)
            kept = [gw.spool.next_seq for gw in gws]
            assert sum(kept) == 40
        finally:
            for gw in gws:
                await gw.stop()

    asyncio.run(main())


def _records(n: int, start: int = 0) -> list[tuple[int, bytes, bytes]]:
    return [(i % 2, f"MN{i:04d}".encode(), f"value {i} ".encode() * 3)
            for i in range(start, start + n)]


async def _filled(tmp: Path, groups: list[list[tuple[int, bytes, bytes]]]) -> Spool:
    spool = Spool(tmp / "spool", max_bytes=1 << 30)
    await spool.open()
    for group in groups:
        for topic, key, value in group:
            spool.append(topic, key, value)
        await spool.flushed()
    return spool


def _scribble(tmp: Path) -> None:
    """Overwrite every segment's bytes: a read from the disk now fails its CRC."""
    for seg in (tmp / "spool").glob("*.seg"):
        size = seg.stat().st_size
        seg.write_bytes(b"\x00" * 8 + b"\xff" * (size - 8))


def test_fsynced_records_reach_the_publisher_from_memory(tmp_path: Path) -> None:
    async def main() -> None:
        groups = [_records(5), _records(3, 5), _records(4, 8)]
        spool = await _filled(tmp_path, groups)
        _scribble(tmp_path)  # proves the reader does not go back to the disk
        batch = spool.read_nowait(100, 1 << 20)
        assert batch is not None
        assert batch.records == [r for g in groups for r in g]
        assert batch.first_seq == 0
        assert spool.read_nowait(100, 1 << 20) is None
        spool.ack(batch)
        assert spool.depth_records == 0 and spool.depth_bytes == 0
        await spool.close()

    asyncio.run(main())


def test_memory_batches_respect_max_records_at_group_bounds(tmp_path: Path) -> None:
    async def main() -> None:
        groups = [_records(5), _records(3, 5), _records(4, 8)]
        spool = await _filled(tmp_path, groups)
        first = spool.read_nowait(9, 1 << 20)
        second = spool.read_nowait(9, 1 << 20)
        assert first is not None and second is not None
        assert (len(first.records), first.first_seq) == (8, 0)  # 5 + 3; + 4 would pass 9
        assert (second.records, second.first_seq) == (groups[2], 8)
        await spool.close()

    asyncio.run(main())


def test_after_a_rewind_the_same_records_come_from_the_disk(tmp_path: Path) -> None:
    async def main() -> None:
        groups = [_records(6), _records(2, 6)]
        spool = await _filled(tmp_path, groups)
        from_memory = spool.read_nowait(100, 1 << 20)
        spool.rewind()
        from_disk = spool.read_nowait(100, 1 << 20)
        assert from_memory is not None and from_disk is not None
        assert from_disk.records == from_memory.records == [r for g in groups for r in g]
        assert (from_disk.first_seq, from_disk.end, from_disk.nbytes) == (
            from_memory.first_seq, from_memory.end, from_memory.nbytes)
        await spool.close()

    asyncio.run(main())


def test_past_the_memory_cap_records_are_read_back_from_the_disk(
        tmp_path: Path, monkeypatch: Any) -> None:
    from pipeline.gateway import spool as spool_module

    monkeypatch.setattr(spool_module, "MEMORY_BYTES", 64)

    async def main() -> None:
        spool = await _filled(tmp_path, [_records(5)])
        batch = spool.read_nowait(100, 1 << 20)
        assert batch is not None and batch.records == _records(5)
        await spool.close()

    asyncio.run(main())
