"""The gateway's write-ahead disk spool: every frame is appended here and fsynced before
it is answered; a drainer publishes from here to Kafka and acknowledges what Kafka took.

Why every frame and not only while Kafka is down: the standard says a logger may forget a
record once the platform answered it, so the answer must mean "kept". An fsync of a group
of appends costs ~1-5 ms on this disk, so writing everything first keeps one path, keeps
per-MN order for free (one sequence), and survives a crash of the gateway as well as an
outage of Kafka. While Kafka keeps up the spool holds only the last few milliseconds.

The appending and syncing happen on a Rust thread of the spool's own (``hj212.SpoolWriter``,
``core_rs/src/spool_writer.rs``): each event-loop turn's appends are handed over as one
group without waiting for the groups before it, and the writer writes together and
fsyncs once whatever queued up while it synced the last (group commit with no GIL and no
event-loop turn in it). It sends the answers of the gateway's Rust front end itself, right
after the sync (``release_to``); everything else learns of the sync from the group's future.

Layout of ``dir``::

    0000000001.seg, 0000000002.seg, ...   append-only segments, rolled at segment_bytes
    checkpoint                            JSON {"segment", "offset", "seq"}: the first
                                          record Kafka has not acknowledged

A record is ``u32 body length | u32 CRC-32 of body | body`` with body ``u8 topic |
u16 key length | key | value``. Records are numbered from 0 in append order over the
spool's whole life (the checkpoint carries the number), and that number is the envelope's
gateway sequence number, so a consumer can drop a redelivered message.

Size cap: ``depth_bytes`` (appended but not acknowledged) may not pass ``max_bytes``.
Appends never fail for size; the gateway asks ``has_room`` first and stops reading its
sockets while there is none (a logger keeps its records and resends), so nothing is
dropped. Past ``warn_ratio`` of the cap the spool logs a warning every 10 s.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import json
import os
import struct
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hj212

from pipeline.logs import get_logger

_HEAD = struct.Struct(">II")
_BODY_HEAD = struct.Struct(">BH")  # topic, key length
_SEG_SUFFIX = ".seg"
#: a segment is rolled past this size; whole acknowledged segments are deleted
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
_WARN_EVERY_S = 10.0
_CHECKPOINT_EVERY_S = 0.2
#: fsynced records kept in memory for the publisher at most (bytes); past it (Kafka slow or
#: away) the publisher reads them back from the segments
MEMORY_BYTES = 32 * 1024 * 1024


class SpoolError(RuntimeError):
    """The spool cannot keep frames (disk full, folder not writable, corrupt file)."""


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


@dataclass(slots=True)
class ReadBatch:
    """Records read for publishing: ``count`` spool records back to back in ``blob``, in
    spool order (the publisher splits them by partition in Rust: ``hj212.kafka_split``)."""

    blob: bytes
    count: int
    first_seq: int
    end: Position
    nbytes: int

    @property
    def records(self) -> list[tuple[int, bytes, bytes]]:
        """(topic, key, value) of each record (made on each call: for tests and tools)."""
        out: list[tuple[int, bytes, bytes]] = []
        _parse(self.blob, out, self.count)
        return out


@dataclass(slots=True)
class _Pending:
    chunks: list[tuple[int, bytearray]] = field(default_factory=list)
    records: int = 0
    nbytes: int = 0
    #: where the first record lands, and its sequence number
    start: Position = Position(0, 0)
    first_seq: int = 0
    #: the front end's answers to send once this group is synced (its latest token; 0:
    #: none)
    release: int = 0


@dataclass(slots=True)
class _KeptGroup:
    """An fsynced group of records still in memory (so the publisher takes them without
    reading them back from the disk): ``count`` records from seq ``first_seq``, bytes
    [start, end) of the segments, ``blob`` their bytes."""

    start: Position
    first_seq: int
    blob: bytes
    count: int
    end: Position
    nbytes: int


def _seg_name(index: int) -> str:
    return f"{index:010d}{_SEG_SUFFIX}"


def _take_lock(directory: Path) -> int:
    """Hold ``directory`` for this spool alone (``LOCK``, flock'd, with the holder's pid):
    two gateways appending to one spool would interleave their segments, and one
    recovering what the other is still writing would cut its tail as torn. The kernel
    drops the lock when the process ends, however it ends."""
    path = directory / "LOCK"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise SpoolError(f"spool lock {str(path)!r} cannot be opened: {exc}; fix: set "
                         "HJ212_SPOOL__DIR to a writable folder") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise SpoolError(
            f"the spool in {str(directory)!r} is in use by another gateway process (pid "
            f"{holder}); fix: stop that gateway first, or give this one a spool of its own "
            "(HJ212_SPOOL__DIR)") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


class Spool:
    """Append-only spool; one per gateway process (it owns ``dir``, and locks it)."""

    def __init__(self, directory: Path, *, max_bytes: int, warn_ratio: float = 0.8,
                 fsync_interval: float = 0.0, segment_bytes: int = DEFAULT_SEGMENT_BYTES,
                 on_depth: Callable[[int, int], None] | None = None) -> None:
        self.dir = Path(directory)
        self.max_bytes = max_bytes
        self.warn_ratio = warn_ratio
        self.fsync_interval = fsync_interval
        self.segment_bytes = max(64 * 1024, min(segment_bytes, max_bytes // 4 or segment_bytes))
        self._log = get_logger("gateway.spool", dir=str(self.dir))
        self._on_depth = on_depth
        # sizes of segments on disk (and the one being written)
        self._sizes: dict[int, int] = {}
        self._write_seg = 0
        self._write_size = 0  # bytes of _write_seg including pending (not yet written)
        self.next_seq = 0
        self.durable_seq = 0
        self._durable = Position(0, 0)
        self._acked = Position(0, 0)
        self.acked_seq = 0
        self._reader = Position(0, 0)
        self._read_seq = 0
        self.appended_bytes = 0
        self.acked_bytes = 0
        self._pending = _Pending()
        self._kept: collections.deque[_KeptGroup] = collections.deque()
        self._kept_bytes = 0
        #: completes when the records appended since the last hand-off are fsynced
        self._epoch: asyncio.Future[None] | None = None
        #: the groups handed to the writer and not yet synced, oldest first
        self._inflight: collections.deque[tuple[_Pending, asyncio.Future[None]]] = (
            collections.deque())
        self._wake = asyncio.Event()
        self._durable_event = asyncio.Event()
        self._room_waiters: list[Callable[[], None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None
        #: appends and syncs the groups on a thread of its own (started by ``open``)
        self._writer: hj212.SpoolWriter | None = None
        self._read_fd: int | None = None
        self._read_fd_seg = -1
        self._last_ckpt = 0.0
        self._last_warn = 0.0
        self._closed = False
        self._lock_fd: int | None = None
        #: deletes acknowledged segments off the event loop (made on first use)
        self._reaper: ThreadPoolExecutor | None = None

    # --- life cycle -----------------------------------------------------------------

    async def open(self) -> None:
        """Recover what an earlier run left (unacknowledged records are kept and will be
        published first) and start the flusher."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(f"spool folder {str(self.dir)!r} cannot be made: {exc}; fix: "
                             "set HJ212_SPOOL__DIR to a writable folder") from exc
        self._lock_fd = _take_lock(self.dir)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._recover)
        self._writer = writer = hj212.SpoolWriter(self.dir)
        loop.add_reader(writer.fd, self._on_written)
        self._flusher = asyncio.create_task(self._flush_loop(), name="spool-flusher")

    def _recover(self) -> None:
        segs = sorted(int(p.name[:-len(_SEG_SUFFIX)]) for p in self.dir.glob("*" + _SEG_SUFFIX)
                      if p.name[:-len(_SEG_SUFFIX)].isdigit())
        ckpt = self._read_checkpoint()
        start = Position(ckpt[0], ckpt[1]) if ckpt else Position(segs[0] if segs else 1, 0)
        seq = ckpt[2] if ckpt else 0
        unacked_records = 0
        unacked_bytes = 0
        for index in segs:
            path = self.dir / _seg_name(index)
            if index < start.segment:
                path.unlink(missing_ok=True)  # acknowledged before the last stop
                continue
            data = path.read_bytes()
            pos = start.offset if index == start.segment else 0
            valid_end, count = _scan(data, pos)
            if valid_end != len(data):
                # a torn write at a crash: the records after it were never fsynced, so never
                # answered; keep the good part
                self._log.warning("spool.torn_tail", segment=str(path), kept_bytes=valid_end,
                                  dropped_bytes=len(data) - valid_end,
                                  why="records after this offset were never fsynced")
                with open(path, "r+b") as fh:
                    fh.truncate(valid_end)
            self._sizes[index] = valid_end
            unacked_records += count
            unacked_bytes += valid_end - pos
        self._acked = start
        self._reader = start
        self.acked_seq = self._read_seq = seq
        self.next_seq = self.durable_seq = seq + unacked_records
        self.appended_bytes = unacked_bytes
        self.acked_bytes = 0
        # new records go to a fresh segment, never after a tail that was cut
        self._write_seg = max([*segs, start.segment]) + 1
        self._write_size = 0
        self._sizes[self._write_seg] = 0
        self._durable = Position(self._write_seg, 0)
        if unacked_records:
            self._log.warning("spool.recovered", records=unacked_records, bytes=unacked_bytes,
                              first_seq=seq, why="not yet acknowledged by Kafka at the last "
                              "stop; they are published before anything new")
        self._write_checkpoint(sync=True)

    def _read_checkpoint(self) -> tuple[int, int, int] | None:
        path = self.dir / "checkpoint"
        try:
            data = json.loads(path.read_text())
            return int(data["segment"]), int(data["offset"]), int(data["seq"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise SpoolError(f"spool checkpoint {str(path)!r} is unreadable ({exc}); fix: "
                             "restore it, or delete it to publish every segment again "
                             "(consumers drop the repeats by gateway sequence)") from exc

    def _write_checkpoint(self, sync: bool = False) -> None:
        path = self.dir / "checkpoint"
        tmp = self.dir / "checkpoint.tmp"
        text = json.dumps({"segment": self._acked.segment, "offset": self._acked.offset,
                           "seq": self.acked_seq})
        with open(tmp, "w") as fh:
            fh.write(text)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        self._last_ckpt = time.monotonic()

    async def close(self) -> None:
        """Write and fsync what is pending, then the checkpoint."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._flusher is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        loop = asyncio.get_running_loop()
        if self._writer is not None:
            loop.remove_reader(self._writer.fd)
        await loop.run_in_executor(None, self._close_files)

    def _close_files(self) -> None:
        if self._reaper is not None:
            self._reaper.shutdown(wait=True)  # the acknowledged segments gone before the lock
        if self._writer is not None:
            self._writer.close()
        if self._read_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._read_fd)
        self._read_fd = None
        with contextlib.suppress(OSError):
            self._write_checkpoint(sync=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = None

    # --- appending ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    async def flushed(self) -> None:
        """Return once every record appended before the call is fsynced, or its write
        failed (the appenders' futures carry that error; it is not raised here)."""
        futs = [f for _, f in self._inflight]
        for fut in [*futs, *([self._epoch] if self._epoch is not None else [])]:
            with contextlib.suppress(Exception):
                await asyncio.shield(fut)

    @property
    def depth_bytes(self) -> int:
        return self.appended_bytes - self.acked_bytes

    @property
    def depth_records(self) -> int:
        return self.next_seq - self.acked_seq

    def has_room(self) -> bool:
        # asked after every frame the gateway keeps: not through the property
        return self.appended_bytes - self.acked_bytes < self.max_bytes

    def wait_room(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the spool is below its cap again."""
        self._room_waiters.append(callback)

    def append(self, topic: int, key: bytes, value: bytes) -> asyncio.Future[None]:
        """Append one record; the future completes when it is fsynced. Records appended
        in one go share one future, so callers await the last one only."""
        return self.append_record(topic, key, value, record(topic, key, value))

    def append_record(self, topic: int, key: bytes, value: bytes, rec: bytes
                      ) -> asyncio.Future[None]:
        """``append`` with the record already made: ``rec`` must be ``record(topic, key,
        value)`` (the gateway's accepted frames get it from ``hj212.accept_frame``, made
        in Rust with the frame's envelope and answer)."""
        self._check_open()
        return self._add(rec, 1)

    def append_records(self, records: bytes, count: int, release: int = 0
                       ) -> asyncio.Future[None]:
        """Append ``count`` records made elsewhere, back to back in ``records`` (each as
        ``record`` makes it, numbered from ``next_seq``): the gateway's Rust front end
        hands its groups so. A group lands in one segment (a segment may pass its size by
        one group)."""
        self._check_open()
        if release:
            self._pending.release = release
        return self._add(records, count)

    def release_to(self, front: hj212.Front) -> None:
        """Have the writer send the answers ``front`` holds under a group's token
        (``append_records(..., release=token)``) once that group is synced, with no
        event-loop turn between the fsync and the answers."""
        if self._writer is None:
            raise SpoolError("the spool is not open")
        self._writer.release_to(front)

    def _check_open(self) -> None:
        if self._failed is not None:
            raise SpoolError(f"the spool in {str(self.dir)!r} stopped after a write error: "
                             f"{self._failed}; fix the disk and restart the gateway")
        if self._closed:
            raise SpoolError("the spool is closed (the gateway is shutting down)")

    def _add(self, rec: bytes, n: int) -> asyncio.Future[None]:
        """Add ``n`` records, ``rec`` back to back."""
        size = len(rec)
        if self._write_size and self._write_size + size > self.segment_bytes:
            self._write_seg += 1
            self._write_size = 0
            self._sizes[self._write_seg] = 0
        pending = self._pending
        if pending.records == 0:
            pending.start = Position(self._write_seg, self._write_size)
            pending.first_seq = self.next_seq
        pending.nbytes += size
        chunks = pending.chunks
        if not chunks or chunks[-1][0] != self._write_seg:
            chunks.append((self._write_seg, bytearray()))
        chunks[-1][1].extend(rec)
        pending.records += n
        self._write_size += size
        self.appended_bytes += size
        self.next_seq += n
        if self._epoch is None:
            self._epoch = asyncio.get_running_loop().create_future()
            self._wake.set()
            # the depth gauge and the cap warning: once per fsync group (here and when the
            # flusher takes the group), not per record
            self._check_depth()
        return self._epoch

    def _check_depth(self) -> None:
        depth = self.depth_bytes
        if self._on_depth is not None:
            self._on_depth(depth, self.depth_records)
        if depth < self.warn_ratio * self.max_bytes:
            return
        now = time.monotonic()
        if now - self._last_warn >= _WARN_EVERY_S:
            self._last_warn = now
            full = depth >= self.max_bytes
            log = self._log.error if full else self._log.warning
            log("spool.full" if full else "spool.nearly_full", depth_bytes=depth,
                max_bytes=self.max_bytes, fill=round(depth / self.max_bytes, 3),
                records=self.depth_records,
                why="Kafka is not taking frames as fast as they arrive",
                fix="bring Kafka back (HJ212_KAFKA__BOOTSTRAP) or raise HJ212_SPOOL__MAX_BYTES;"
                    " at the cap the gateway stops reading from loggers")

    async def _flush_loop(self) -> None:
        """Hand what each event-loop turn appended to the writer as one group, without
        waiting for the groups before it: the writer syncs together whatever queued up
        while it synced the last (the group commit is its, on its thread)."""
        writer = self._writer
        assert writer is not None  # open() started it before the flusher
        while True:
            await self._wake.wait()
            if self.fsync_interval and not self._closed:
                await asyncio.sleep(self.fsync_interval)  # gather a batch per fsync
            self._wake.clear()
            pending, self._pending = self._pending, _Pending()
            epoch, self._epoch = self._epoch, None
            if pending.records and epoch is not None:
                self._check_depth()
                self._inflight.append((pending, epoch))
                writer.submit(pending.chunks, pending.release)
            if self._closed and self._epoch is None:
                for _, fut in list(self._inflight):
                    with contextlib.suppress(Exception):
                        await asyncio.shield(fut)
                return

    def _on_written(self) -> None:
        """The writer finished groups (in the order they were handed over): make them
        durable, or fail them."""
        assert self._writer is not None  # the reader is removed before the writer closes
        for error in self._writer.done():
            pending, epoch = self._inflight.popleft()
            if error is not None:
                if self._failed is None:
                    self._failed = OSError(error)
                    self._log.error("spool.write_failed", error=error,
                                    fix="free disk space or fix HJ212_SPOOL__DIR; then restart")
                if not epoch.done():
                    epoch.set_exception(SpoolError(f"spool write failed: {error}"))
                continue
            end = self._durable
            for seg, data in pending.chunks:
                end = Position(seg, (end.offset if end.segment == seg else 0) + len(data))
                # the reader looks at a size only below the durable position, set next
                self._sizes[seg] = end.offset
            self._durable = end
            self.durable_seq += pending.records
            if self._kept_bytes + pending.nbytes <= MEMORY_BYTES:
                blob = b"".join(chunk for _, chunk in pending.chunks)
                self._kept.append(_KeptGroup(pending.start, pending.first_seq, blob,
                                             pending.records, end, pending.nbytes))
                self._kept_bytes += pending.nbytes
            self._durable_event.set()
            if not epoch.done():
                epoch.set_result(None)

    # --- reading and acknowledging (the drainer) ------------------------------------------

    async def read(self, max_records: int = 20_000, max_bytes: int = 8 * 1024 * 1024,
                   ) -> ReadBatch:
        """The next durable records after the last read, waiting until there are some."""
        while True:
            batch = self.read_nowait(max_records, max_bytes)
            if batch is not None:
                return batch
            if self._closed and self._epoch is None:
                raise SpoolError("the spool is closed")
            self._durable_event.clear()
            await self._durable_event.wait()

    def read_nowait(self, max_records: int, max_bytes: int) -> ReadBatch | None:
        kept = self._take_kept(max_records, max_bytes)
        if kept is not None:
            return kept
        pieces: list[bytes] = []
        count = 0
        nbytes = 0
        first_seq = self._read_seq
        pos = self._reader
        while count < max_records and nbytes < max_bytes and pos < self._durable:
            seg_end = (self._durable.offset if pos.segment == self._durable.segment
                       else self._sizes.get(pos.segment, 0))
            if pos.offset >= seg_end:
                pos = Position(pos.segment + 1, 0)
                continue
            fd = self._read_fd_for(pos.segment)
            want = min(seg_end - pos.offset, max(max_bytes - nbytes, 2048))
            data = os.pread(fd, want, pos.offset)
            used, n = _whole(data, max_records - count)
            if used == 0:
                # a record larger than what we asked for: read exactly it
                body_len = _HEAD.unpack_from(data, 0)[0]
                data = os.pread(fd, _HEAD.size + body_len, pos.offset)
                used, n = _whole(data, max_records - count)
                if used == 0:
                    raise SpoolError(f"spool segment {_seg_name(pos.segment)} is corrupt at "
                                     f"offset {pos.offset}")
            pieces.append(data[:used])
            count += n
            nbytes += used
            pos = Position(pos.segment, pos.offset + used)
        if not count:
            return None
        self._reader = pos
        self._read_seq += count
        return ReadBatch(b"".join(pieces), count, first_seq, pos, nbytes)

    def _take_kept(self, max_records: int, max_bytes: int) -> ReadBatch | None:
        """The next records from memory when they are the reader's next (the publisher
        keeps up); None to read the segments (a group skipped at the memory cap or larger
        than one read, a rewind, records recovered at start)."""
        # sequence numbers say which records are next (the reader's position may be the
        # end of one segment where the group starts the next)
        kept = self._kept
        seq = self._read_seq
        while kept and kept[0].first_seq < seq:
            self._kept_bytes -= kept.popleft().nbytes  # read from the segments already
        if not kept or kept[0].first_seq != seq:
            return None
        blobs: list[bytes] = []
        count = 0
        nbytes = 0
        pos = self._reader
        while (kept and kept[0].first_seq == seq + count
               and count + kept[0].count <= max_records
               and nbytes + kept[0].nbytes <= max_bytes):
            group = kept.popleft()
            self._kept_bytes -= group.nbytes
            blobs.append(group.blob)
            count += group.count
            nbytes += group.nbytes
            pos = group.end
        if not count:
            return None  # a group larger than one read: the segments give part of it
        first_seq = self._read_seq
        self._reader = pos
        self._read_seq += count
        return ReadBatch(blobs[0] if len(blobs) == 1 else b"".join(blobs), count, first_seq,
                         pos, nbytes)

    def _read_fd_for(self, segment: int) -> int:
        if segment != self._read_fd_seg:
            if self._read_fd is not None:
                os.close(self._read_fd)
            self._read_fd = os.open(self.dir / _seg_name(segment), os.O_RDONLY)
            self._read_fd_seg = segment
        assert self._read_fd is not None
        return self._read_fd

    def ack(self, batch: ReadBatch) -> None:
        """Kafka has every record of ``batch`` (batches are acknowledged in read order)."""
        old = self._acked.segment
        self._acked = batch.end
        self.acked_seq = batch.first_seq + batch.count
        self.acked_bytes += batch.nbytes
        done: list[Path] = []
        for seg in range(old, batch.end.segment):
            if seg in self._sizes and seg != self._write_seg:
                del self._sizes[seg]
                if seg == self._read_fd_seg and self._read_fd is not None:
                    os.close(self._read_fd)
                    self._read_fd, self._read_fd_seg = None, -1
                done.append(self.dir / _seg_name(seg))
        if done:
            self._remove(done)
        if time.monotonic() - self._last_ckpt >= _CHECKPOINT_EVERY_S or batch.end.segment != old:
            self._write_checkpoint()
        if self._on_depth is not None:
            self._on_depth(self.depth_bytes, self.depth_records)
        if self._room_waiters and self.has_room():
            waiters, self._room_waiters = self._room_waiters, []
            for callback in waiters:
                callback()

    def _remove(self, paths: list[Path]) -> None:
        """Delete acknowledged segments on a thread of their own: unlinking a 64 MB segment
        whose pages are cached takes about 10 ms, which on the event loop held every
        connection's answers once a second at 100 k frames/s. A crash before it is done
        leaves segments below the checkpoint, which the next start deletes."""
        if self._reaper is None:
            self._reaper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-reaper")
        self._reaper.submit(_unlink_all, paths, self._log)

    def rewind(self) -> None:
        """Read again from the first unacknowledged record (after a failed publish)."""
        self._reader = self._acked
        self._read_seq = self.acked_seq


def _unlink_all(paths: list[Path], log: Any) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:  # kept on disk: the next start deletes it (below the checkpoint)
            log.warning("spool.segment_not_deleted", segment=str(path), error=str(exc))


def _walk(data: bytes, pos: int, max_records: int) -> tuple[int, int, bool]:
    """(end, count, bad) of the whole, intact records from ``pos``, at most
    ``max_records``: the walk stops at a cut record, or at one that fails its CRC
    (``bad``)."""
    count = 0
    n = len(data)
    mv = memoryview(data)
    while count < max_records and pos + _HEAD.size <= n:
        body_len, crc = _HEAD.unpack_from(data, pos)
        end = pos + _HEAD.size + body_len
        if end > n:
            break
        if zlib.crc32(mv[pos + _HEAD.size:end]) != crc:
            return pos, count, True
        pos = end
        count += 1
    return pos, count, False


def _scan(data: bytes, pos: int) -> tuple[int, int]:
    """(end of the last whole, intact record, number of records) from ``pos``."""
    end, count, _ = _walk(data, pos, len(data))
    return end, count


def record(topic: int, key: bytes, value: bytes) -> bytes:
    """One record's bytes (the format in this module's docstring); the reference for
    ``hj212.accept_frame``'s record."""
    body = b"".join((_BODY_HEAD.pack(topic, len(key)), key, value))
    return _HEAD.pack(len(body), zlib.crc32(body)) + body


def _whole(data: bytes, max_records: int) -> tuple[int, int]:
    """(bytes, records) of the whole records at the start of ``data``, at most
    ``max_records``, each CRC-checked."""
    end, count, bad = _walk(data, 0, max_records)
    if bad:
        raise SpoolError(f"spool record at byte {end} of a read fails its CRC: the disk "
                         "returned other bytes than were fsynced")
    return end, count


def _parse(data: bytes, out: list[tuple[int, bytes, bytes]], max_records: int) -> int:
    """Append whole records of ``data`` to ``out``; bytes used."""
    pos = 0
    n = len(data)
    mv = memoryview(data)
    while len(out) < max_records and pos + _HEAD.size <= n:
        body_len, crc = _HEAD.unpack_from(data, pos)
        end = pos + _HEAD.size + body_len
        if end > n:
            break
        body = mv[pos + _HEAD.size:end]
        if zlib.crc32(body) != crc:
            raise SpoolError(f"spool record at byte {pos} of a read fails its CRC: the disk "
                             "returned other bytes than were fsynced")
        klen = int.from_bytes(body[1:3], "big")
        out.append((body[0], bytes(body[3:3 + klen]), bytes(body[3 + klen:])))
        pos = end
    return pos
