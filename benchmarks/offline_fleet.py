"""The simulator's loggers and the detectors in one process, on a manual clock.

Plays the platform's part without Kafka or ClickHouse: each logger's bytes go through an
``hj212.Framer`` (one per connection) and an ``hj212.Reassembler``; uploads get their
9014, bad CRCs their 9011 (so the logger resends the good copy), as the gateway does;
accepted frames are decoded with ``hj212.decode_batch`` into ``Reading``s and fed to
``pipeline.detect.DetectorBundle``; its back-fill requests are encoded with
``hj212.request`` and handed to the logger, whose replay goes the same way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import hj212
import numpy as np

from pipeline.detect.context import StationContext, contexts_from_csv
from pipeline.detect.model import AlarmEvent, Reading
from pipeline.detect.station import DetectorBundle, Result
from pipeline.simulator.clock import ManualClock
from pipeline.simulator.datalogger import VirtualLogger, make_loggers
from pipeline.simulator.faults import GroundTruth, assign, load_script
from pipeline.simulator.stations import REGISTRY_DIR, load_fleet
from pipeline.store.frame_rows import VALUE_COLUMNS, normalise_codes


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def event_json(event: AlarmEvent) -> str:
    return json.dumps(asdict(event), default=_json, ensure_ascii=False)


def readings_of(frames: Sequence[hj212.Frame], receive: datetime) -> list[list[Reading]]:
    """Readings per frame, through ``hj212.decode_batch`` as the worker decodes them."""
    if not frames:
        return []
    batch = hj212.decode_batch([f.raw for f in frames])
    c = batch.columns
    out: list[list[Reading]] = [[] for _ in frames]
    if batch.n_rows == 0:
        return out
    row_frame = c["row_frame"].tolist()
    codes = normalise_codes(c["code"], c["frame_edition"][c["row_frame"]]).tolist()
    times = c["data_time"].astype("datetime64[s]").tolist()
    present = ~np.isnan(c["numeric"])
    values = c["numeric"].tolist()
    flags = c["flag"].tolist()
    for i, fi in enumerate(row_frame):
        frame = frames[fi]
        row = {name: v for name, v, p in zip(VALUE_COLUMNS, values[i], present[i].tolist(),
                                             strict=True) if p}
        out[fi].append(Reading(
            mn=frame.mn or "", st=frame.st or "", cn=int(frame.cn), code=codes[i].decode(),
            data_time=times[i] or receive, receive_time=receive, values=row,
            flag=flags[i].decode() or None, resent=frame.rf == "1"))
    return out


class OfflineRun:
    def __init__(self, *, stations: int, duration_s: float, seed: int, faults: Path,
                 truth_path: Path, step_s: float = 30.0,
                 start: datetime = datetime(2024, 3, 1)) -> None:
        fleet = load_fleet(stations, seed)[:stations]
        self.start = start
        self.end = start + timedelta(seconds=duration_s)
        self.step = step_s
        self.truth = GroundTruth(truth_path)
        assigned = assign(load_script(faults), fleet, start, seed)
        self.clock = ManualClock(start)
        self.loggers = make_loggers(fleet, start=start, seed=seed, faults=assigned,
                                    truth=self.truth)
        known = contexts_from_csv(REGISTRY_DIR)
        ctxs = {s.mn: known.get(s.mn) or StationContext(s.mn, str(s.station.st),
                                                        s.rtd_interval, s.min_interval)
                for s in fleet}
        self.detector = DetectorBundle(contexts=ctxs)
        self.states: dict[str, dict[str, Any]] = {lg.mn: {} for lg in self.loggers}
        self.framers = {lg.mn: hj212.Framer() for lg in self.loggers}
        self.reassembler = hj212.Reassembler()
        self.online = {lg.mn: False for lg in self.loggers}
        self.stats = {"frames": 0, "rejected": 0, "readings": 0, "events": 0,
                      "requests": 0, "windows": 0}

    def run(self, alarms: Path, windows: Path, requests: Path) -> dict[str, int]:
        with alarms.open("w", encoding="utf-8") as fa, \
                windows.open("w", encoding="utf-8") as fw, \
                requests.open("w", encoding="utf-8") as fr:
            self._files = (fa, fw, fr)
            now = self.start
            while now <= self.end:
                self.clock.advance((now - self.clock.now()).total_seconds())
                for lg in self.loggers:
                    self._logger(lg, now)
                now += timedelta(seconds=self.step)
        self.truth.close()
        return self.stats

    def _logger(self, lg: VirtualLogger, now: datetime) -> None:
        wall = self.clock.wall()
        if not lg.wants_link(now):
            if self.online[lg.mn]:
                self.online[lg.mn] = False
                lg.disconnected()
            lg.advance(now, wall, online=False)
        else:
            out: list[bytes] = []
            if not self.online[lg.mn]:
                self.online[lg.mn] = True
                out += lg.connected(now, wall)
            out += lg.advance(now, wall)
            self._deliver(lg, out, now)
        result = self.detector.tick(self.states[lg.mn], lg.mn, now)
        self._emit(result)
        for req in result.requests:
            raw = hj212.request(req.cn, lg.mn, lg.pw, st=lg.st, qn=req.qn, edition=lg.edition,
                                BeginTime=req.begin, EndTime=req.end)
            replies = lg.receive(hj212.parse(raw), now, wall)
            if self.online[lg.mn]:
                self._deliver(lg, replies, now)

    def _deliver(self, lg: VirtualLogger, chunks: list[bytes], now: datetime) -> None:
        """The gateway's side of one connection, plus detection of what it accepts."""
        wall = self.clock.wall()
        queue = list(chunks)
        while queue:
            accepted: list[hj212.Frame] = []
            replies: list[bytes] = []
            for item in self.framers[lg.mn].feed(b"".join(queue)):
                if isinstance(item, hj212.FrameError):
                    self.stats["rejected"] += 1
                    answer = hj212.answer_error(item)
                else:
                    self.stats["frames"] += 1
                    answer = hj212.answer(item)
                    joined = self.reassembler.add(item, wall)
                    if joined is not None:
                        accepted.append(joined)
                if answer is not None:
                    replies += lg.receive(hj212.parse(answer), now, wall)
            self._detect(accepted, now)
            queue = replies

    def _detect(self, frames: list[hj212.Frame], now: datetime) -> None:
        for frame, readings in zip(frames, readings_of(frames, now), strict=True):
            mn = frame.mn or ""
            if mn not in self.states:
                continue
            self.stats["readings"] += len(readings)
            data_time = None
            if frame.data_time:
                data_time = datetime.strptime(frame.data_time, "%Y%m%d%H%M%S")
            result = self.detector.on_frame(
                self.states[mn], readings, mn=mn, st=frame.st or "", cn=int(frame.cn),
                data_time=data_time, receive_time=now, resent=frame.rf == "1")
            self._emit(result)

    def _emit(self, result: Result) -> None:
        fa, fw, fr = self._files
        for ev in result.events:
            self.stats["events"] += 1
            fa.write(event_json(ev) + "\n")
        for row in result.windows:
            self.stats["windows"] += 1
            fw.write(json.dumps(row, default=_json) + "\n")
        for req in result.requests:
            self.stats["requests"] += 1
            fr.write(json.dumps(req.to_command()) + "\n")
