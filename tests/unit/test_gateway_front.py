"""The Rust front end (``gateway.io = "rust"``, pipeline/gateway/front.py) over real
loopback sockets, against the verdict loop: the same reads give the same spool records,
answers, counters and live map; the usual read is kept by the front end from a
connection's third frame on; a read that is not the usual one is handed to the session
whole, with the part of a frame an earlier read began; a logger slow to read its answers
gets them all. The gateway's other socket tests run with both I/O modes
(tests/unit/test_gateway_session.py, tests/integration/test_gateway.py)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from pipeline.gateway import envelope
from pipeline.gateway.server import Gateway
from tests.unit.gateway_helpers import read_answers, start, upload
from tests.unit.test_gateway_fastpath import _READS, _run_reads, _VerdictOnly

#: long enough for a write on loopback to reach the gateway and be handled
_SETTLE_S = 0.03


def _rows(gw: Gateway) -> list[tuple[Any, ...]]:
    """The spool's records as ``_run_reads`` gives them, less the peer (a real socket's
    port is not the fake transport's)."""
    out = []
    while (batch := gw.spool.read_nowait(100_000, 1 << 30)) is not None:
        for topic, key, value in batch.records:
            e = envelope.decode(value)
            out.append((topic, key, e.kind, e.seq, e.gateway, e.reason, e.raw))
    return out


async def _drain(reader: asyncio.StreamReader) -> bytes:
    got = bytearray()
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(65536), 0.05)
        except TimeoutError:
            return bytes(got)
        if not chunk:
            return bytes(got)
        got += chunk


async def _run_front(tmp: Path, reads: list[bytes]
                     ) -> tuple[bytes, list[tuple[Any, ...]], dict[Any, int], set[str], int]:
    gw = await start(tmp, io="rust")
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
    answers = bytearray()
    for data in reads:
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(_SETTLE_S)
        await gw.spool.flushed()
        answers += await _drain(reader)
    # the end: until the gateway has kept what it read and the answers stop coming (a
    # loaded machine may take longer than the settling time above)
    kept_before = -1
    while gw.spool.next_seq != kept_before:
        kept_before = gw.spool.next_seq
        await asyncio.sleep(0.2)
        await gw.spool.flushed()
        answers += await _drain(reader)
    live = set(gw.context.live)
    kept = _rows(gw)
    writer.close()
    await gw.stop()
    return bytes(answers), kept, dict(gw.metrics.frames), live, gw.metrics.front_frames_total


def _reference(tmp: Path, reads: list[bytes]
               ) -> tuple[bytes, list[tuple[Any, ...]], dict[Any, int], set[str]]:
    out, kept, counts, live = asyncio.run(_run_reads(_VerdictOnly, tmp, reads))
    return b"".join(out), [k[:5] + k[6:] for k in kept], counts, live


@hsettings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(sorted(_READS)), min_size=1, max_size=12))
def test_the_front_end_keeps_answers_and_counts_as_the_verdict_loop(names: list[str]
                                                                    ) -> None:
    # the usual frame first and twice, so that most examples bind the connection
    reads = [upload(1), upload(2)] + [part for name in names for part in _READS[name]]
    with tempfile.TemporaryDirectory() as tmp:
        answers, kept, counts, live, _ = asyncio.run(_run_front(Path(tmp) / "front", reads))
        ref = _reference(Path(tmp) / "ref", reads)
    assert (answers, kept, counts, live) == ref


def test_the_usual_read_is_kept_by_the_front_end_from_the_third_frame(tmp_path: Path
                                                                      ) -> None:
    """The differential test says nothing if the front end never keeps a frame: the first
    frame binds the session's log (verdict loop), the second names the MN for the short
    path, and the session then binds the connection in the front end."""
    reads = [upload(i) for i in range(1, 7)]
    answers, kept, counts, _, front = asyncio.run(_run_front(tmp_path, reads))
    assert counts == {("2011", "accepted"): 6} and len(kept) == 6
    assert answers.count(b"CN=9014") == 6
    assert front == 4


def test_a_frame_begun_while_bound_reaches_the_session_whole(tmp_path: Path) -> None:
    """A bound connection sends half a frame (the front end waits for the rest), then the
    rest with a second frame in the same read: not the usual read, so the session gets
    both reads' bytes and keeps both frames."""
    first, second = upload(10), upload(11)
    reads = [upload(1), upload(2), upload(3), first[:50], first[50:] + second]
    answers, kept, counts, _, front = asyncio.run(_run_front(tmp_path, reads))
    assert front == 1  # the third frame; the two after it went to the session
    assert [k[-1] for k in kept] == [upload(1), upload(2), upload(3), first, second]
    assert counts == {("2011", "accepted"): 5}
    assert answers.count(b"CN=9014") == 5
    ref = _reference(tmp_path / "ref", reads)
    assert (answers, kept, counts) == ref[:3]


def test_a_logger_slow_to_read_its_answers_gets_every_one(tmp_path: Path) -> None:
    """A logger that writes for a second without reading its answers: once it reads,
    every frame it sent is answered, in order, and kept."""
    async def main() -> tuple[int, int]:
        gw = await start(tmp_path, io="rust", frames_per_s_per_mn=1e6)
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        n = 3000

        async def late_reader() -> list[Any]:
            await asyncio.sleep(1.0)  # meanwhile the answers fill the socket's buffers
            return await read_answers(reader, n, timeout=30)

        reading = asyncio.create_task(late_reader())
        for i in range(n):
            writer.write(upload(i))
            await writer.drain()
        answers = await reading
        await gw.spool.flushed()
        kept = len(_rows(gw))
        writer.close()
        await gw.stop()
        assert [a.qn for a in answers] == [f"20240101{i:09d}" for i in range(n)]
        return len(answers), kept

    answered, kept = asyncio.run(main())
    assert answered == kept == 3000


def test_an_accept_that_fails_is_reported(tmp_path: Path) -> None:
    """Out of open files, the front end's accept fails: it says so (once a second at most)
    instead of leaving new connections waiting unexplained. The front end runs in a child
    process whose open-files limit is lowered."""
    import socket
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", _ACCEPT_CHILD], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        out, _ = child.communicate(timeout=10)
        for c in clients:
            c.close()
    finally:
        child.kill()
    assert child.returncode == 0, out
    reports = [line for line in out.splitlines() if line.startswith("accept_failed")]
    assert 1 <= len(reports) <= 3 and "Too many open files" in reports[0], out


_ACCEPT_CHILD = """
import os, resource, sys, time
import hj212
front = hj212.Front("127.0.0.1", 0)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 2, hard))
print(front.port, flush=True)
opened, end = 0, time.monotonic() + 3
while time.monotonic() < end:
    events, _ = front.take(0, 0)
    for ev in events:
        if ev[0] == "open":
            opened += 1
        elif ev[0] == "accept_failed":
            print("accept_failed", ev[2], flush=True)
    time.sleep(0.05)
print("opened", opened, flush=True)
front.shutdown()
"""
