"""Readings out of a decoded batch, through the detectors, with per-station state.

This is plumbing, not rules: it turns ``hj212.decode_batch`` rows into
``pipeline.detect.model.Reading`` objects, hands each detector the state of its key
(station x data type x pollutant) and collects the events. Which detectors run comes
from ``pipeline.detect`` (see ``load_detectors``).

Layout of one station's state (a JSON dict, the value of the Faust table under its MN)::

    {"d": {detector name: {"<cn>/<code>": detector state}},
     "episodes": {"<code>|<rule>": {"opened_at": iso, "occurrences": n}},
     "offset": Kafka offset of the last frame folded in}
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import hj212
import numpy as np
import numpy.typing as npt

from pipeline.detect.model import AlarmEvent, Reading, ReadingDetector, State
from pipeline.store.sinks import VALUE_COLUMNS, normalise_codes

_EPOCH = datetime(1970, 1, 1)
_CST = timedelta(hours=8)


def load_detectors(spec: str = "auto") -> list[ReadingDetector]:
    """The detectors a worker runs.

    ``auto``: ``pipeline.detect.default_detectors()`` when the detector package provides
    it, else none (frames and readings are still stored). ``none``: no detection.
    ``module:function``: any factory returning a list of detectors (tests use this)."""
    if spec == "none":
        return []
    if spec == "auto":
        try:
            detect = importlib.import_module("pipeline.detect")
        except ImportError:  # pragma: no cover - the package ships with the platform
            return []
        factory = getattr(detect, "default_detectors", None)
        return list(factory()) if callable(factory) else []
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"detectors {spec!r}: expected auto, none or module:function, e.g. "
                         "pipeline.stream.builtin:wiring_detectors")
    return list(getattr(importlib.import_module(module), name)())


def readings_by_station(batch: hj212.Batch, receive_epoch: npt.NDArray[np.int64],
                        offsets: Sequence[int]) -> dict[str, list[tuple[int, Reading]]]:
    """(Kafka offset of its frame, Reading) per row of ``batch``, grouped by MN in
    arrival order; ``offsets`` has one entry per frame of the batch.

    A Python object per row is the cost of plain-Python detectors; it is paid only when
    there are detectors to feed."""
    c = batch.columns
    n = batch.n_rows
    out: dict[str, list[tuple[int, Reading]]] = {}
    if n == 0:
        return out
    row_frame = c["row_frame"]
    edition = c["frame_edition"][row_frame]
    mns = [m.decode("ascii", "replace") for m in c["mn"].tolist()]
    sts = [s.decode("ascii", "replace") for s in c["st"].tolist()]
    cns = c["cn"].tolist()
    codes = [x.decode("ascii", "replace") for x in normalise_codes(c["code"], edition).tolist()]
    times = c["data_time"].astype("datetime64[us]").tolist()
    received = (receive_epoch[row_frame] + 8 * 3600).tolist()
    row_offsets = np.asarray(offsets, dtype=np.int64)[row_frame].tolist()
    flags = [f.decode("ascii", "replace") or None for f in c["flag"].tolist()]
    eflags = [f.decode("ascii", "replace") or None for f in c["eflag"].tolist()]
    matrix = c["numeric"]
    present = ~np.isnan(matrix)
    values_rows = matrix.tolist()
    present_rows = present.tolist()
    for i in range(n):
        values = {name: v for name, v, p in zip(VALUE_COLUMNS, values_rows[i],
                                                 present_rows[i], strict=True) if p}
        recv = _EPOCH + timedelta(seconds=received[i])
        data_time = times[i] if times[i] is not None else recv
        out.setdefault(mns[i], []).append((row_offsets[i], Reading(
            mn=mns[i], st=sts[i], cn=int(cns[i]), code=codes[i], data_time=data_time,
            receive_time=recv, values=values, flag=flags[i], eflag=eflags[i])))
    return out


class StationDetection:
    """Runs every detector over one station's readings, keeping their state in ``state``."""

    def __init__(self, detectors: Sequence[ReadingDetector]) -> None:
        self.detectors = list(detectors)

    def __bool__(self) -> bool:
        return bool(self.detectors)

    def run(self, state: State, items: Sequence[tuple[int, Reading]]
            ) -> tuple[State, list[AlarmEvent]]:
        """Fold one station's (offset, reading) pairs, in order, into ``state``; return it
        and the events.

        Rows of frames at or below the offset already folded are skipped: after a kill
        the table's changelog can be ahead of the committed Kafka offsets, and a
        redelivered reading must not count twice in a streak. Skipping by offset, not by
        data time, keeps a logger's genuine resends visible to the detectors. (An MN
        stays on one partition while the partition count stays; changing it needs a new
        app id, as with any Faust table.)"""
        det_states: dict[str, dict[str, Any]] = state.setdefault("d", {})
        done = int(state.get("offset", -1))
        events: list[AlarmEvent] = []
        for offset, reading in items:
            if offset <= done:
                continue
            state["offset"] = max(int(state.get("offset", -1)), offset)
            key = f"{reading.cn}/{reading.code}"
            for det in self.detectors:
                per_key = det_states.setdefault(det.name, {})
                new_state, found = det.observe(per_key.get(key, {}), reading)
                per_key[key] = new_state
                events.extend(found)
        return state, events
