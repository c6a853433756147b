"""Downlink: requests from ``hj212.commands`` sent to the MN's live connection, and the
9011/9012 conversation followed by QN to an outcome in the ``commands`` table.

A message on ``hj212.commands`` is JSON (key: the MN)::

    {"mn": "010000A8900016F000169DC0", "cn": 2051,
     "fields": {"BeginTime": "20240101000000", "EndTime": "20240101020000"},
     "qn": "20240102030405123",      # optional: a fresh QN is made
     "purpose": "backfill",          # optional, free text (backfill, time_sync, manual ...)
     "timeout_s": 60}                # optional: gateway.command_timeout

The request is built with ``hj212.request`` in the station's edition with its PW and ST.
States written (each a new row version): ``sent``; ``offline`` (no live connection from
that MN on this gateway); ``failed`` (unknown MN, bad message); ``accepted`` / ``refused``
(9011 QnRtn 1 / other); ``executed`` / ``failed`` (9012 ExeRtn 1 / other); ``timed_out``
(no 9011/9012 within the timeout).

Offsets are committed after the outcome of sending is recorded; a command read twice
(after a crash) is sent twice with the same QN, which a logger answers twice: harmless.
Each gateway reads every command (a consumer group of its own). With one gateway a
missing connection means the logger is offline. Processes sharing a port (``hj212 gateway
--processes N``) each run a downlink: the one holding the MN's connection sends, and
when none holds it, process 0 alone records ``offline`` (``siblings.LiveBoard``).
Separate gateway hosts on other ports do not know each other: each records ``offline``
for the MNs it does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import hj212

from pipeline.config import Settings
from pipeline.gateway.context import Connection, DownlinkHost
from pipeline.gateway.siblings import LiveBoard
from pipeline.logs import get_logger
from pipeline.timebase import CST, parse_stamp


@dataclass(slots=True)
class CommandRecord:
    """One row of the ``commands`` table (migration 006)."""

    qn: str
    mn: str
    cn: int
    st: str = ""
    purpose: str = ""
    request: str = ""
    state: str = "queued"
    qn_rtn: int | None = None
    exe_rtn: int | None = None
    gateway: str = ""
    peer: str = ""
    requested_at: float = field(default_factory=time.time)
    sent_at: float | None = None
    answered_at: float | None = None
    finished_at: float | None = None
    detail: str = ""
    begin_time: str | None = None
    end_time: str | None = None
    deadline: float = 0.0


class CommandRecorder(Protocol):
    def record(self, row: CommandRecord) -> None: ...
    async def flush(self) -> None: ...


class MemoryRecorder:
    """Keeps every state change in a list (tests, and when ClickHouse is not wanted)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []  # (qn, mn, state)
        self.last: dict[str, CommandRecord] = {}

    def record(self, row: CommandRecord) -> None:
        self.rows.append((row.qn, row.mn, row.state))
        self.last[row.qn] = CommandRecord(**{k: getattr(row, k) for k in row.__slots__})

    async def flush(self) -> None:
        return None


def _dt(text: str | None) -> Any:
    if not text:
        return None
    try:
        return parse_stamp(text).replace(tzinfo=CST)
    except ValueError:
        return None


def _ts(epoch: float | None) -> Any:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, CST)


class ClickHouseRecorder:
    """Buffers rows and inserts them into ``commands`` (ReplacingMergeTree by version)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._rows: list[CommandRecord] = []
        self._log = get_logger("gateway.downlink")

    def record(self, row: CommandRecord) -> None:
        self._rows.append(CommandRecord(**{k: getattr(row, k) for k in row.__slots__}))

    async def flush(self) -> None:
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        try:
            await asyncio.get_running_loop().run_in_executor(None, self._insert, rows)
        except Exception as exc:
            self._rows = rows + self._rows  # kept for the next flush
            self._log.warning("commands.write_failed", rows=len(rows), error=str(exc),
                              fix="check ClickHouse (HJ212_CLICKHOUSE__DSN) and migrations")

    def _insert(self, rows: list[CommandRecord]) -> None:
        from pipeline.store.client import ClickHouse

        base = time.time_ns()
        with ClickHouse(self.dsn) as ch:
            ch.insert_columns("commands", {
                "qn": [r.qn for r in rows], "mn": [r.mn for r in rows],
                "cn": [r.cn for r in rows], "st": [r.st for r in rows],
                "purpose": [r.purpose for r in rows],
                "begin_time": [_dt(r.begin_time) for r in rows],
                "end_time": [_dt(r.end_time) for r in rows],
                "request": [r.request for r in rows], "state": [r.state for r in rows],
                "qn_rtn": [r.qn_rtn for r in rows], "exe_rtn": [r.exe_rtn for r in rows],
                "gateway": [r.gateway for r in rows], "peer": [r.peer for r in rows],
                "requested_at": [_ts(r.requested_at) for r in rows],
                "sent_at": [_ts(r.sent_at) for r in rows],
                "answered_at": [_ts(r.answered_at) for r in rows],
                "finished_at": [_ts(r.finished_at) for r in rows],
                "detail": [r.detail for r in rows],
                # later states of one command must win: versions rise in record order
                "version": [base + i for i in range(len(rows))],
            })


def recorder_for(settings: Settings) -> CommandRecorder:
    return ClickHouseRecorder(settings.clickhouse.dsn)


class Downlink:
    """Commands to loggers. ``host`` is the gateway's shared context (or the gateway):
    its id, settings, station directory, live connections by MN and counters."""

    def __init__(self, host: DownlinkHost, recorder: CommandRecorder,
                 board: LiveBoard | None = None) -> None:
        self.host = host
        self.recorder = recorder
        #: the sibling processes on the same port, if any
        self.board = board
        self.pending: dict[tuple[str, str], CommandRecord] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._log = get_logger("gateway.downlink", gateway=host.id)

    def start(self, consume: bool = True) -> None:
        if consume:
            self._tasks.append(asyncio.create_task(self._consume(), name="downlink-consumer"))
        self._tasks.append(asyncio.create_task(self._tick(), name="downlink-timeouts"))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        await self.recorder.flush()

    # --- commands in ------------------------------------------------------------------

    def submit(self, message: dict[str, Any]) -> CommandRecord:
        """Send one command now; returns its record (state sent, offline or failed)."""
        g = self.host
        now = time.time()
        mn = str(message.get("mn", ""))
        fields = dict(message.get("fields") or {})
        try:
            cn = int(message["cn"])
        except (KeyError, TypeError, ValueError):
            cn = 0
        qn = str(message.get("qn") or hj212.now_qn())
        rec = CommandRecord(qn=qn, mn=mn, cn=cn, purpose=str(message.get("purpose", "")),
                            gateway=g.id, requested_at=now,
                            begin_time=fields.get("BeginTime"), end_time=fields.get("EndTime"))
        timeout = float(message.get("timeout_s") or g.settings.gateway.command_timeout)
        station = g.directory.lookup(mn)
        session = g.live.get(mn)
        if station is None or cn == 0:
            rec.state, rec.finished_at = "failed", now
            rec.detail = (f"MN {mn!r} is not in the station registry" if station is None
                          else f"cn={message.get('cn')!r} is not a command code")
            return self._record(rec)
        rec.st = station.st
        try:
            frame = hj212.request(cn, mn, station.pw, st=station.st, qn=qn,
                                  edition=station.edition, **fields)
        except (ValueError, TypeError) as exc:
            rec.state, rec.finished_at, rec.detail = "failed", now, f"cannot build: {exc}"
            return self._record(rec)
        rec.request = frame.decode("utf-8", "replace")
        if session is None or not session.send(frame):
            rec.state, rec.finished_at = "offline", now
            rec.detail = ("no live connection from this MN on this gateway" if self.board is None
                          else "no live connection from this MN on any of this gateway's "
                               f"{self.board.siblings.count} processes")
            return self._record(rec)
        rec.state, rec.sent_at, rec.peer = "sent", now, session.peer
        rec.deadline = now + timeout
        self.pending[(mn, qn)] = rec
        session.log.info("command.sent", mn=mn, cn=cn, qn=qn)
        return self._record(rec)

    def on_answer(self, frame: hj212.Frame, session: Connection) -> None:
        """A 9011 or 9012 from a logger: advance its command."""
        rec = self.pending.get((frame.mn or "", frame.qn or ""))
        if rec is None:
            return
        now = time.time()
        if frame.cn == "9011":
            rtn = _int(frame.cp.get("QnRtn"))
            rec.qn_rtn, rec.answered_at = rtn, now
            if rtn == 1:
                rec.state = "accepted"
            else:
                rec.state, rec.finished_at = "refused", now
                del self.pending[(rec.mn, rec.qn)]
        else:
            rtn = _int(frame.cp.get("ExeRtn"))
            rec.exe_rtn, rec.finished_at = rtn, now
            rec.answered_at = rec.answered_at or now
            rec.state = "executed" if rtn == 1 else "failed"
            del self.pending[(rec.mn, rec.qn)]
        session.log.info("command." + rec.state, mn=rec.mn, qn=rec.qn, qn_rtn=rec.qn_rtn,
                         exe_rtn=rec.exe_rtn)
        self._record(rec)

    def _record(self, rec: CommandRecord) -> CommandRecord:
        self.host.metrics.commands[rec.state] += 1
        self.recorder.record(rec)
        return rec

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.time()
            for key, rec in list(self.pending.items()):
                if rec.deadline and now >= rec.deadline:
                    del self.pending[key]
                    rec.state, rec.finished_at = "timed_out", now
                    rec.detail = f"no 9011/9012 within {rec.deadline - (rec.sent_at or now):.0f} s"
                    self._log.info("command.timed_out", mn=rec.mn, qn=rec.qn)
                    self._record(rec)
            await self.recorder.flush()

    async def _consume(self) -> None:
        from aiokafka import AIOKafkaConsumer  # type: ignore[import-untyped,unused-ignore]
        from aiokafka.errors import KafkaError  # type: ignore[import-untyped,unused-ignore]

        s = self.host.settings
        while True:
            consumer = AIOKafkaConsumer(
                s.topics.commands, bootstrap_servers=s.kafka.bootstrap,
                group_id=f"{s.kafka.client_id}-gateway-{self.host.id}",
                client_id=f"{s.kafka.client_id}-gateway-downlink",
                enable_auto_commit=False, auto_offset_reset="latest")
            try:
                await consumer.start()
                self._log.info("downlink.consuming", topic=s.topics.commands)
                async for msg in consumer:
                    self.receive(msg.value)
                    await self.recorder.flush()
                    await consumer.commit()
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                raise
            except (KafkaError, OSError) as exc:
                self._log.warning("downlink.kafka_error", error=repr(exc), retry_in_s=2)
                with contextlib.suppress(Exception):
                    await consumer.stop()
                await asyncio.sleep(2.0)

    def receive(self, value: bytes | None) -> CommandRecord | None:
        """One message of ``hj212.commands``: submitted here, or None when it is not this
        process's to send or record (a sibling holds the MN, or none does and process 0
        records it), or when it is no command at all (logged)."""
        try:
            message = json.loads(value or b"")
            if not isinstance(message, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            self._log.warning("command.bad_message", error=str(exc),
                              value=(value or b"")[:200].decode("utf-8", "replace"),
                              fix='send {"mn": ..., "cn": ..., "fields": {...}}')
            return None
        mn = str(message.get("mn", ""))
        board = self.board
        if mn not in self.host.live and board is not None:
            holder = board.holder(mn)
            if holder is not None or not board.speaks_for_absent:
                return None
        return self.submit(message)


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
