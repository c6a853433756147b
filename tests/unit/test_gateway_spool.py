"""The disk spool: order, durability before the future completes, recovery after a stop
or a torn write, acknowledgement, and the size cap."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from pipeline.gateway import envelope
from pipeline.gateway.spool import Spool, SpoolError


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_append_read_ack_and_recover_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        sp = Spool(tmp_path, max_bytes=1 << 30, segment_bytes=64 * 1024)
        await sp.open()
        futs = [sp.append(i % 2, b"MN%d" % (i % 7), b"v%06d" % i) for i in range(5000)]
        await futs[-1]
        assert sp.durable_seq == 5000
        first = sp.read_nowait(1000, 1 << 30)
        assert first is not None and first.first_seq == 0
        assert [v for _, _, v in first.records] == [b"v%06d" % i for i in range(1000)]
        sp.ack(first)
        await sp.close()
        assert len(list(tmp_path.glob("*.seg"))) > 1  # rolled

        again = Spool(tmp_path, max_bytes=1 << 30, segment_bytes=64 * 1024)
        await again.open()
        assert again.depth_records == 4000 and again.next_seq == 5000
        rest = []
        while (b := again.read_nowait(700, 1 << 30)) is not None:
            rest.extend(v for _, _, v in b.records)
            again.ack(b)
        assert rest == [b"v%06d" % i for i in range(1000, 5000)]
        await again.append(0, b"k", b"new")
        assert again.next_seq == 5001
        await again.close()
    run(main())


def test_torn_tail_is_cut_and_the_rest_kept(tmp_path: Path) -> None:
    async def main() -> None:
        sp = Spool(tmp_path, max_bytes=1 << 30)
        await sp.open()
        for i in range(10):
            fut = sp.append(0, b"k", b"v%d" % i)
        await fut
        await sp.close()
        seg = sorted(tmp_path.glob("*.seg"))[-1]
        with open(seg, "ab") as fh:
            fh.write(b"\x00\x00\x01\x00garbage")  # a crash in the middle of a write
        again = Spool(tmp_path, max_bytes=1 << 30)
        await again.open()
        batch = again.read_nowait(100, 1 << 30)
        assert batch is not None and [v for _, _, v in batch.records] == [
            b"v%d" % i for i in range(10)]
        await again.close()
    run(main())


def test_cap_reports_no_room_and_wakes_waiters_after_ack(tmp_path: Path) -> None:
    async def main() -> None:
        sp = Spool(tmp_path, max_bytes=1024 * 1024, warn_ratio=0.5)
        await sp.open()
        payload = b"x" * 1000
        while sp.has_room():
            fut = sp.append(0, b"k", payload)
        await fut
        woke: list[bool] = []
        sp.wait_room(lambda: woke.append(True))
        batch = sp.read_nowait(100, 1 << 30)
        assert batch is not None
        sp.ack(batch)
        assert sp.has_room() and woke == [True]
        await sp.close()
    run(main())


def test_envelope_round_trip_keeps_raw_bytes() -> None:
    raw = b"##0010\xff\x00garbage\r\n"
    value = envelope.encode(envelope.REJECTED, 123, 7, b"gw", b"1.2.3.4:5", "原因".encode(), raw)
    env = envelope.decode(value)
    assert (env.kind, env.receive_ns, env.seq, env.gateway, env.peer, env.reason, env.raw) == (
        envelope.REJECTED, 123, 7, "gw", "1.2.3.4:5", "原因", raw)


def test_a_spool_in_use_is_refused_with_its_holder_named(tmp_path: Path) -> None:
    import os

    async def main() -> None:
        first = Spool(tmp_path, max_bytes=1 << 30)
        await first.open()
        await first.append(0, b"k", b"kept")
        second = Spool(tmp_path, max_bytes=1 << 30)
        holder = rf"in use by another gateway process \(pid {os.getpid()}\)"
        with pytest.raises(SpoolError, match=holder):
            await second.open()
        assert not list(tmp_path.glob("*.tmp"))
        await first.close()
        await second.open()  # free again once the first is closed
        batch = second.read_nowait(10, 1 << 30)
        assert batch is not None and [v for _, _, v in batch.records] == [b"kept"]
        await second.close()
    run(main())


def test_a_failed_write_fails_its_group_and_every_later_append(tmp_path: Path) -> None:
    async def main() -> None:
        sp = Spool(tmp_path, max_bytes=1 << 30, segment_bytes=64 * 1024)
        await sp.open()
        await sp.append(0, b"k", b"x" * 70_000)  # fills segment 2: the next rolls
        # the next segment cannot be opened: a folder holds its name
        (tmp_path / "0000000003.seg").mkdir()
        with pytest.raises(SpoolError, match=r"open .*0000000003\.seg: .*directory"):
            await sp.append(0, b"k", b"second")
        with pytest.raises(SpoolError, match="stopped after a write error"):
            sp.append(0, b"k", b"third")
        assert sp.durable_seq == 1  # the failed group never became durable
        await sp.close()
    run(main())


def test_acknowledged_segments_are_deleted_off_the_event_loop(tmp_path, monkeypatch):
    # unlinking a big cached segment takes milliseconds: on the event loop it would hold
    # every connection's answers
    removed: list[tuple[str, int]] = []
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        removed.append((os.path.basename(path), threading.get_ident()))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)

    async def main() -> None:
        loop_thread = threading.get_ident()
        sp = Spool(tmp_path, max_bytes=1 << 30, segment_bytes=64 * 1024)
        await sp.open()
        futs = [sp.append(0, b"k", b"v" * 200 + b"%06d" % i) for i in range(2000)]
        await futs[-1]
        while (b := sp.read_nowait(300, 1 << 30)) is not None:
            sp.ack(b)
        await sp.close()
        segs = [name for name, _ in removed if name.endswith(".seg")]
        assert len(segs) >= 3, removed
        assert all(t != loop_thread for name, t in removed if name.endswith(".seg"))
        # all but the segment being written are gone by the time close returns
        assert len(list(tmp_path.glob("*.seg"))) == 1

    run(main())
