"""The worker's wiring of the detectors: a decoded batch's frames, one station at a time,
through a ``pipeline.detect.station.Detector`` (the ``DetectorBundle``), with the
station's state from the worker's table.

This is plumbing, not rules: it turns ``hj212.decode_batch`` rows into
``pipeline.detect.model.Reading`` objects grouped by frame and station, skips what a
station's state has already folded in (by Kafka offset), and gathers the results. The
state itself (``pipeline.detect.state.StationState``) is the detectors' but for
``"offset"``, which only this module reads and writes.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import hj212
import numpy as np
import numpy.typing as npt

from pipeline.detect.context import StationContext
from pipeline.detect.episodes import Observation
from pipeline.detect.missing import BackfillRequest
from pipeline.detect.model import AlarmStep, Reading
from pipeline.detect.state import StationState
from pipeline.detect.station import Detector, DetectorBundle, Result
from pipeline.detect.values_rs import KernelValueRules
from pipeline.store.frame_rows import VALUE_COLUMNS, normalise_codes
from pipeline.timebase import CST_OFFSET_S, STATE_EPOCH, UNIX_EPOCH


def _receive_times(receive_epoch: npt.NDArray[np.int64]) -> list[datetime]:
    """Each frame's receive time (UTC epoch seconds) as a naive CST datetime."""
    # numpy makes the datetimes in C: a timedelta sum per frame cost 0.5 us
    local = (np.asarray(receive_epoch, dtype=np.int64) + CST_OFFSET_S).astype("datetime64[s]")
    return local.astype("datetime64[us]").tolist()  # type: ignore[no-any-return]


def _readings(batch: hj212.Batch, frame_recv: Sequence[datetime]) -> list[Reading]:
    """One ``Reading`` per row of ``batch``, in row order; ``frame_recv`` is each
    frame's receive time (``_receive_times``), shared by the frame's rows.

    A Python object per row is the cost of plain-Python detectors; it is paid only when
    there are detectors to feed."""
    c = batch.columns
    n = batch.n_rows
    if n == 0:
        return []
    row_frame = c["row_frame"]
    edition = c["frame_edition"][row_frame]
    mns = [m.decode("ascii", "replace") for m in c["mn"].tolist()]
    sts = [s.decode("ascii", "replace") for s in c["st"].tolist()]
    cns = c["cn"].tolist()
    codes = [x.decode("ascii", "replace") for x in normalise_codes(c["code"], edition).tolist()]
    times = c["data_time"].astype("datetime64[us]").tolist()
    frame_of = row_frame.tolist()
    flags = [f.decode("ascii", "replace") or None for f in c["flag"].tolist()]
    eflags = [f.decode("ascii", "replace") or None for f in c["eflag"].tolist()]
    # only the values a row has: most of the suffix columns of a row are empty (NaN), and
    # turning them all into Python objects cost more than the detectors
    matrix = c["numeric"]
    rows, cols = np.nonzero(~np.isnan(matrix))
    values: list[dict[str, float]] = [{} for _ in range(n)]
    for r, col, v in zip(rows.tolist(), cols.tolist(), matrix[rows, cols].tolist(),
                         strict=True):
        values[r][VALUE_COLUMNS[col]] = v
    out = []
    for i in range(n):
        recv = frame_recv[frame_of[i]]
        data_time = times[i] if times[i] is not None else recv
        out.append(Reading(mn=mns[i], st=sts[i], cn=int(cns[i]), code=codes[i],
                           data_time=data_time, receive_time=recv, values=values[i],
                           flag=flags[i], eflag=eflags[i]))
    return out


@dataclass(frozen=True, slots=True)
class FrameFacts:
    """The header of one accepted frame, as ``Detector.on_frame`` wants it."""

    mn: str
    st: str
    cn: int
    data_time: datetime | None
    receive_time: datetime
    #: the gateway that received it and its sequence number there (the envelope's); -1:
    #: not known (frames not read from the gateway's topic)
    gateway: str = ""
    seq: int = -1


#: the gateways a station's state remembers the last sequence number of, at most
MAX_GATEWAYS = 32


def take_frame(state: StationState, offset: int, gateway: str, seq: int) -> bool:
    """Whether the frame at ``offset`` (``seq`` at ``gateway``) is to be folded into
    ``state``; if so, the state now holds it as its last (offset and origin). False for a
    redelivery, which must not count twice in a streak.

    A frame at or below the state's offset is a redelivery only if it comes from the log
    the state was folded from. When Kafka's data is lost and the topic made again (or a
    partition is truncated), the new log numbers its frames from 0 again: skipped by
    offset alone, every station would be skipped until the new log passed its old offset,
    and detection would stop without a word. The gateway's sequence numbers go on across
    that (they live in its spool), so such a frame is newer than the last one the state
    folded from its gateway: it is folded, and its offset becomes the state's. A state
    written before it kept sequence numbers (no ``seqs``), or a frame with none (-1),
    falls back to the offset alone."""
    if offset <= int(state.get("offset", -1)):
        seqs = state.get("seqs")
        if seq < 0 or seqs is None:
            return False
        last = seqs.get(gateway)
        if last is not None and seq <= last:
            return False
    state["offset"] = offset
    note_origin(state, gateway, seq)
    return True


def note_origin(state: StationState, gateway: str, seq: int) -> None:
    """Remember ``seq`` as the last frame folded from ``gateway`` (see ``take_frame``)."""
    if seq < 0:
        return
    seqs = state.setdefault("seqs", {})
    if seq > seqs.get(gateway, -1):
        if gateway not in seqs and len(seqs) >= MAX_GATEWAYS:
            del seqs[next(iter(seqs))]  # the longest-known gateway id: one long gone
        seqs[gateway] = seq


def frames_by_station(batch: hj212.Batch, receive_epoch: npt.NDArray[np.int64],
                      offsets: Sequence[int],
                      origins: tuple[Sequence[str], Sequence[int]] | None = None
                      ) -> dict[str, list[tuple[int, FrameFacts, list[Reading]]]]:
    """(offset, header, readings) per accepted frame, grouped by MN in arrival order;
    frames without readings are included (they still say the station is alive).
    ``origins``: each frame's gateway and sequence number (the envelopes')."""
    c = batch.columns
    # one datetime per frame, for its header and its rows alike
    received = _receive_times(receive_epoch)
    readings = _readings(batch, received)
    # a frame's rows are contiguous and in frame order: bounds[i]:bounds[i + 1]
    bounds = np.searchsorted(c["row_frame"], np.arange(len(receive_epoch) + 1)).tolist()
    status = c["status"].tolist()
    mns = [m.decode("ascii", "replace") for m in c["frame_mn"].tolist()]
    sts = [s.decode("ascii", "replace") for s in c["frame_st"].tolist()]
    cns = c["frame_cn"].tolist()
    times = c["frame_data_time"].astype("datetime64[us]").tolist()
    gateways, seqs = _origins(origins, len(mns))
    out: dict[str, list[tuple[int, FrameFacts, list[Reading]]]] = {}
    for i, mn in enumerate(mns):
        if status[i] != 0:
            continue
        facts = FrameFacts(mn=mn, st=sts[i], cn=int(cns[i]), data_time=times[i],
                           receive_time=received[i], gateway=gateways[i], seq=seqs[i])
        out.setdefault(mn, []).append((offsets[i], facts, readings[bounds[i]:bounds[i + 1]]))
    return out


@dataclass(slots=True)
class Outputs:
    """What detection produced over a batch (or a tick): alarm steps, missing-window rows,
    back-fill requests (``pipeline.detect.station.Result``s, gathered)."""

    alarms: list[AlarmStep] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    requests: list[BackfillRequest] = field(default_factory=list)

    def add(self, result: Result) -> None:
        self.alarms.extend(result.alarms)
        self.windows.extend(result.windows)
        self.requests.extend(result.requests)


def fold_frames(detector: Detector, state: StationState,
                frames: Sequence[tuple[int, FrameFacts, list[Reading]]], out: Outputs
                ) -> StationState:
    """Feed one station's frames to ``detector``, skipping frames its state has already
    folded in (``take_frame``).

    After a kill the state's changelog can be ahead of the committed Kafka offsets, and a
    redelivered frame must not count twice in a streak. Skipping by offset, not by data
    time, keeps a logger's genuine resends visible to the detectors. (An MN stays on one
    partition while the partition count stays; changing it needs a new app id.)"""
    for offset, f, readings in frames:
        if not take_frame(state, offset, f.gateway, f.seq):
            continue
        out.add(detector.on_frame(state, readings, mn=f.mn, st=f.st, cn=f.cn,
                                  data_time=f.data_time, receive_time=f.receive_time))
    return state


def _origins(origins: tuple[Sequence[str], Sequence[int]] | None, n: int
             ) -> tuple[Sequence[str], Sequence[int]]:
    """Each frame's gateway and sequence number (Python ints: they go into the state's
    JSON); unknown ones when not given."""
    return origins if origins is not None else ([""] * n, [-1] * n)


# --- the columnar path: the value rules over the batch's columns in the kernel --------------

#: seconds from the Unix epoch to ``timebase.STATE_EPOCH`` (2000-01-01, naive local)
_STATE_EPOCH_UNIX = int((STATE_EPOCH - UNIX_EPOCH).total_seconds())


def _frame_plans(kernel: KernelValueRules, bundle: DetectorBundle, mns: list[str],
                 sts: list[str], frames: list[int], edges: list[int], cn_of: list[int],
                 codes: npt.NDArray[np.bytes_]
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The kernel's plan id of each row of ``frames`` (-1 elsewhere), and each frame's
    station plan id and period. A station sends the same pollutants frame after frame:
    what a frame's rows need is looked up once per (MN, ST, data type, its codes) and
    kept across batches (``kernel.frame_plans``) while the station's context is the same
    object, so a frame of a known shape costs one dict lookup."""
    out = [-1] * len(codes)
    station: list[int] = []
    period: list[int] = []
    cache = kernel.frame_plans
    blob = codes.tobytes()
    width = codes.dtype.itemsize
    context = bundle.context
    for i in frames:
        start, end = edges[i], edges[i + 1]
        mn, st, cn = mns[i], sts[i], cn_of[start]
        ctx = context(mn, st)
        key = (mn, st, cn, width, blob[start * width:end * width])
        known = cache.get(key)
        if known is None or known.ctx is not ctx:
            known = kernel.frame_plan(key, ctx, cn, [
                (cn_of[row], codes[row].decode("ascii", "replace"))
                for row in range(start, end)])
        out[start:end] = known.rows
        station.append(known.station)
        period.append(known.period)
    return (np.array(out, dtype=np.int64), np.array(station, dtype=np.int64),
            np.array(period, dtype=np.int64))


def fold_batch(bundle: DetectorBundle, batch: hj212.Batch,
               receive_epoch: npt.NDArray[np.int64], offsets: Sequence[int],
               state_of: Callable[[str], StationState], out: Outputs,
               origins: tuple[Sequence[str], Sequence[int]] | None = None) -> list[str]:
    """``frames_by_station`` + ``fold_frames`` for a ``DetectorBundle`` on the Rust kernel:
    the value rules of every frame of the batch in one kernel call over its columns (no
    ``Reading`` object, no per-reading Python), then per station and frame, in arrival
    order, the observations folded into episodes and the frame into the missing-data
    tracker. Same skips (``take_frame``), same results; returns the MNs whose state it
    changed (``state_of(mn)`` gives each station's state, made if new)."""
    kernel = bundle.kernel
    assert kernel is not None, "fold_batch needs DetectorBundle(values='rust')"
    kernel.fresh()
    c = batch.columns
    n_frames = len(receive_epoch)
    received = _receive_times(receive_epoch)
    bounds = np.searchsorted(c["row_frame"], np.arange(n_frames + 1))
    status = c["status"].tolist()
    mns = [m.decode("ascii", "replace") for m in c["frame_mn"].tolist()]
    sts = [s.decode("ascii", "replace") for s in c["frame_st"].tolist()]
    cns = c["frame_cn"].tolist()
    times = c["frame_data_time"].astype("datetime64[us]").tolist()
    # the frames to detect, one station's together in arrival order, past its offset
    by_mn: dict[str, list[int]] = {}
    for i, mn in enumerate(mns):
        if status[i] == 0:
            by_mn.setdefault(mn, []).append(i)
    gateways, seqs = _origins(origins, n_frames)
    taken: list[int] = []
    states: dict[str, StationState] = {}
    for mn, frames in by_mn.items():
        state = states[mn] = state_of(mn)
        taken += [i for i in frames if take_frame(state, offsets[i], gateways[i], seqs[i])]
    if not taken:
        return list(states)
    # the rows of the taken frames that have readings, for the kernel
    with_rows = [i for i in taken if bounds[i + 1] > bounds[i]]
    row_frame = c["row_frame"]
    codes = normalise_codes(c["code"], c["frame_edition"][row_frame])
    row_cn = c["cn"].astype(np.int64)
    recv_local = receive_epoch.astype(np.int64) + CST_OFFSET_S - _STATE_EPOCH_UNIX
    data_s = c["data_time"].astype("datetime64[s]")
    row_t = np.where(np.isnat(data_s), recv_local[row_frame],
                     data_s.astype(np.int64) - _STATE_EPOCH_UNIX)
    open_keys: dict[str, list[tuple[str, str]]] = {}
    for mn in {mns[i] for i in with_rows}:
        bundle.adopt(states[mn], mn)
        episodes = states[mn].setdefault("episodes", {})  # as on_frame makes it
        if episodes:
            open_keys[mn] = [(k.partition("|")[0], k.partition("|")[2]) for k in episodes]
    starts = bounds[with_rows]
    # the batch's rows as lists, made once: for the plans and for wording
    edges = bounds.tolist()
    row_cn_of = row_cn.tolist()
    plans, frame_plan, frame_period = _frame_plans(kernel, bundle, mns, sts, with_rows,
                                                   edges, row_cn_of, codes)
    heads = starts.astype(np.int64)
    head_cn = row_cn[heads]
    head_t = row_t[heads]
    flags = c["flag"]
    found = kernel.kernel.observe_batch(
        [mns[i] for i in with_rows], heads, bounds[[i + 1 for i in with_rows]].astype(np.int64),
        head_cn, head_t, (head_t - recv_local[with_rows]).astype(np.float64), frame_period,
        frame_plan, codes.tobytes(), codes.dtype.itemsize, flags.tobytes(),
        flags.dtype.itemsize, row_cn, row_t, np.ascontiguousarray(c["numeric"], np.float64),
        plans, open_keys)
    by_frame: dict[int, list[tuple[int, str, bool, int | None, tuple[Any, ...]]]] = {}
    for k, reading, rule, hit, first, ev in found:
        by_frame.setdefault(with_rows[k], []).append((reading, rule, hit, first, ev))
    # what wording needs of each frame's first row, made for the whole batch at once
    # (numpy's scalar access per frame cost more than the rules)
    row_when = c["data_time"].astype("datetime64[us]").tolist()  # None where NaT
    for i in taken:
        mn = mns[i]
        ctx = bundle.context(mn, sts[i])
        observations: list[Observation] = []
        seen = by_frame.get(i)
        if seen:
            first = edges[i]
            readings = _FrameReadings(batch, codes, first, edges[i + 1], received[i])
            when = row_when[first]
            observations = kernel.word_frame(
                seen, mn, row_cn_of[first], received[i] if when is None else when, ctx,
                readings.code, readings.__getitem__, readings)
        out.add(bundle.fold(states[mn], observations, ctx, cns[i], times[i], received[i]))
    return list(states)


class _FrameReadings(Sequence[Reading]):
    """The ``Reading``s of one frame's rows, each made when first asked for: only a frame
    the kernel found something in is worded, and only the readings its hits name (and
    the first, whose data time and type every observation carries) are needed."""

    def __init__(self, batch: hj212.Batch, codes: npt.NDArray[np.bytes_], start: int,
                 end: int, received: datetime) -> None:
        self.c = batch.columns
        self.codes = codes
        self.start, self.end = start, end
        self.received = received
        self.made: dict[int, Reading] = {}

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        made = self.made.get(i)
        if made is None:
            made = self.made[i] = self._make(self.start + i)
        return made

    def code(self, i: int) -> str:
        text: str = self.codes[self.start + i].decode("ascii", "replace")
        return text

    def _make(self, row: int) -> Reading:
        c = self.c
        values = {VALUE_COLUMNS[j]: x for j, x in enumerate(c["numeric"][row].tolist())
                  if x == x}
        when = c["data_time"][row]
        return Reading(
            mn=c["mn"][row].decode("ascii", "replace"),
            st=c["st"][row].decode("ascii", "replace"), cn=int(c["cn"][row]),
            code=self.codes[row].decode("ascii", "replace"),
            data_time=self.received if np.isnat(when) else when.astype("datetime64[us]").item(),
            receive_time=self.received, values=values,
            flag=c["flag"][row].decode("ascii", "replace") or None,
            eflag=c["eflag"][row].decode("ascii", "replace") or None)


def load_detector(spec: str, contexts: Mapping[str, StationContext] | None = None,
                  rules_path: Path | None = None, values: str = "rust") -> Detector | None:
    """The detector a worker wires, from ``hj212 worker --detectors``: ``auto`` (the
    ``DetectorBundle`` with ``contexts``, the rules file at ``rules_path``, the packaged
    one when None, and the value rules of ``values``: rust or python), ``none`` (store
    only), or ``module:function`` (a factory returning a detector, e.g.
    ``pipeline.stream.builtin:wiring_detector``)."""
    if spec == "auto":
        from pipeline.detect.rules import Rules
        from pipeline.detect.station import VALUES_IMPLS

        rules = Rules.load(rules_path) if rules_path is not None else None
        impl = next((v for v in VALUES_IMPLS if v == values), None)
        if impl is None:
            raise ValueError(f"values {values!r}: choose from {', '.join(VALUES_IMPLS)}")
        return DetectorBundle(rules=rules, contexts=contexts, values=impl)
    if spec == "none":
        return None
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"detectors {spec!r}: expected auto, none or module:function, e.g. "
                         "pipeline.stream.builtin:wiring_detector")
    found: Detector = getattr(importlib.import_module(module), name)()
    return found


def registry_contexts(dsn: str) -> dict[str, StationContext]:
    """Station contexts (cadences, limits) from the registry in ClickHouse; empty, with a
    warning, when the registry cannot be read (detection then uses the defaults)."""
    from pipeline.detect.context import contexts
    from pipeline.logs import get_logger
    from pipeline.registry.store import read_limits, read_stations
    from pipeline.store.client import ClickHouse, StoreError

    try:
        with ClickHouse(dsn) as ch:
            found = contexts(read_stations(ch, active_only=True), read_limits(ch, active_only=True))
    except StoreError as exc:
        get_logger("stream.detection").warning(
            "registry.unavailable", error=str(exc),
            fix="run `hj212 stations sample` or `hj212 stations import FILE.csv`")
        return {}
    return found
