"""A station's detector state: its shape, its version, and its one JSON form.

The stream worker keeps one ``StationState`` per MN and persists it (in a compacted Kafka
changelog, ``pipeline/stream/state.py``) as the bytes ``dump_station_state`` makes;
``load_station_state`` reads them back. This module is the only place that writes or
reads that JSON, so it is the only place that knows its versions.

In memory a state is plain dicts and lists with these keys (TypedDicts: types for the
checker, nothing at run time): the detectors' inner loops index them directly, and
``orjson`` serialises them without a conversion step. The version is added by
``dump_station_state`` and checked (and old layouts migrated) by ``load_station_state``;
it is never in the dicts the detectors see. Times are whole seconds since
``pipeline.timebase.STATE_EPOCH`` on the standard's clock (``timebase.to_s``).

Versions:

1. the layout before versions existed (no ``"version"`` key): ``{"v": values, "e":
   episodes, "m": missing, "offset": n, "episodes": alarm bookkeeping}`` with one- and
   two-letter keys, and the alarm rows' opening time and step count kept apart from the
   detector's episode (by the worker's alarm sink); ``migrate_v1`` reads it.
2. this layout: readable keys, and each episode record carries its alarm's opening time
   and step count (``alarm_opened_at``, ``alarm_steps``): one owner per episode.

Additions that need no new version (a state without them reads as it did, an older
release keeps them untouched): ``values.resend_memory`` (the digests of the frames
received, to recognise an exact resend; a state without it starts remembering at its
next frame), the episode's ``raised_at`` and ``opened_cn``, ``missing.raised``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NotRequired, TypedDict

import orjson

from pipeline.timebase import to_s

if TYPE_CHECKING:
    from pipeline.detect.model import Reading

#: the layout this release writes
STATE_VERSION: Final = 2
#: the layouts this release reads (1: the unversioned layout, migrated on load)
READABLE_VERSIONS: Final = (1, 2)


class StateVersionError(ValueError):
    """A saved state this release cannot read: the message names the MN, the version found,
    what this release reads, and the fix."""


# --- values (pipeline/detect/values.py) ---------------------------------------------------


class FlagRun(TypedDict):
    """A non-N instrument flag running on one series."""

    flag: str
    since: int  # data time it began


class PendingSample(TypedDict):
    """A sample of a spike excursion not judged yet."""

    time: int
    value: float


class SeriesState(TypedDict, total=False):
    """One (data type, pollutant) series of a station, as the value rules follow it."""

    last_time: int  # data time of the newest reading followed in order
    zero_run: int  # zeros in a row
    zero_since: int  # data time the zero run began
    constant_run: int  # readings in a row within constant_tolerance of constant_value
    constant_value: float  # the value the constant run holds (absent after a zero)
    constant_since: int  # data time the constant run began
    spike_window: list[float]  # the latest values that are not part of an excursion
    spike_pending: list[PendingSample]  # an excursion being watched, oldest first
    flag_run: FlagRun  # absent while the flag is N


class RememberedTime(TypedDict):
    """The values one data time carried, for time_conflict: code -> field -> value, as
    received (NaN left out)."""

    time: int
    values: dict[str, dict[str, float]]


class ValuesState(TypedDict, total=False):
    #: "<cn>/<code>" -> the series
    series: dict[str, SeriesState]
    #: "<cn>" -> the newest data times seen, oldest first (time_conflict's memory)
    conflict_memory: dict[str, list[RememberedTime]]
    #: "<cn>" -> [data time, ``record_digest``] of each frame received within
    #: ``resend_memory_s`` of the newest, oldest first (a time twice if it came twice with
    #: other content): an exact resend is recognised by it. About 25 bytes a frame.
    resend_memory: dict[str, list[list[int]]]


def record_digest(readings: Sequence[Reading]) -> int:
    """A frame's content as one number: CRC-32 over its codes, flags and field names (text:
    per reading its code, flag and field names, then RS; all joined by US) and then its
    values (little-endian IEEE doubles), in frame order.

    Part of the persisted form (``ValuesState.resend_memory``): change it and every
    remembered frame stops matching its resend once. Values are compared exactly, not
    rounded: a resend decodes from the same text to the same doubles (NaN included), and
    the standard's numbers have at most 6 decimals anyway. A frame with its readings or
    fields in another order is another frame (it goes through the rules as a late one).
    A collision (another frame at the same data time taken for a resend) has a chance of
    one in 2**32."""
    names: list[str] = []
    numbers: list[float] = []
    for r in readings:
        # code, flag, field names, then a record separator: unit-separated below
        names += (r.code, r.flag or "", *r.values, "\x1e")
        numbers.extend(r.values.values())
    text = "\x1f".join(names).encode()
    return zlib.crc32(struct.pack(f"<{len(numbers)}d", *numbers), zlib.crc32(text))


# --- episodes (pipeline/detect/episodes.py) -----------------------------------------------


class EpisodeRecord(TypedDict):
    """One open episode, keyed "<code>|<rule>" in ``StationState["episodes"]``.

    It is also the alarm's record: ``alarm_opened_at`` (with MN, code and rule, the
    alarm's id) and ``alarm_steps`` are what the ``alarms`` row and the ``hj212.alarms``
    message carry besides the event (``pipeline.stream.sinks.alarm_record``)."""

    first_seen: int  # data time the evidence began (earlier late evidence moves it)
    last_seen: int  # data time of the latest evidence
    opening_hit_at: int  # data time of the hit that opened it
    severity: str
    hits: int  # observations with evidence
    cn: int  # data type of the latest evidence
    #: data type ("<cn>") that carried evidence -> clean looks in a row since its last hit
    clean_runs: dict[str, int]
    evidence: dict[str, Any]  # of the latest hit
    message: str  # of the latest hit
    reported_at: int  # data time of the last open or update event
    alarm_opened_at: int  # first_seen as the opening event gave it: the alarm's id
    alarm_steps: int  # events so far: the open is 1, each update and the clear add 1
    #: wall time (epoch s, receive time of the opening reading) the alarm was raised;
    #: absent in states written before it was kept
    raised_at: NotRequired[int]
    opened_cn: NotRequired[int]  # data type of the hit that opened it


# --- missing data (pipeline/detect/missing.py) ----------------------------------------------


class MissingWindow(TypedDict):
    """A gap in one data type: the records it should have held, and their back-fill."""

    cn: int
    start: int  # data time of the first missing record
    end: int  # data time of the last missing record
    state: str  # open, backfill_requested, filled, partly_filled, given_up
    expected: int  # records the window should hold
    received_times: list[int]  # data times received for it since
    requests: int  # back-fill requests sent for it
    detected_at: int  # receive-clock time it was found
    updated_at: int
    growing: bool  # its end still moves: the awaited record has not come
    last_request_at: NotRequired[int]
    last_request_qn: NotRequired[str]


class MissingAlarm(TypedDict):
    """The open ``missing`` alarm of a station."""

    first_seen: int  # start of the earliest gap it was raised for
    cn: int


class MissingState(TypedDict, total=False):
    last_heard: int  # receive-clock time of the latest frame
    online: bool
    offline_since: int  # last_heard when the station was found offline; absent when online
    next_due: dict[str, int]  # "<cn>" -> data time the next record should carry
    cadence: dict[str, int]  # "<cn>" -> seconds, from a 1061/1063 answer
    windows: list[MissingWindow]
    requests_sent: list[int]  # times of the back-fill requests inside the rate window
    request_count: int  # back-fill requests ever sent (the QN's last digits)
    missing_alarm: MissingAlarm | None
    #: rule (offline, missing) -> [wall time raised, due time missed] of its latest opening
    #: (``missing.raised_of``); absent in states written before it was kept
    raised: dict[str, list[int]]


# --- the station ---------------------------------------------------------------------------


class StationState(TypedDict, total=False):
    """Everything the detectors and the worker keep for one station. A new station starts
    as ``{}``; each part is made by the first detector that needs it."""

    #: Kafka offset of the last frame folded in: a replay after a kill skips what the
    #: state already holds (``pipeline.stream.detection.fold_frames``)
    offset: int
    #: gateway id -> sequence number of the last frame folded from it: tells a frame of a
    #: log made again (Kafka's data lost) from a replay (``take_frame``); absent in
    #: states written before it was kept
    seqs: dict[str, int]
    values: ValuesState
    episodes: dict[str, EpisodeRecord]
    missing: MissingState


# --- JSON --------------------------------------------------------------------------------

# Datetimes (none are expected) go through str() as json.dumps(default=str) wrote them.
_DUMP_OPTIONS: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dump_station_state(state: StationState, *, values_json: bytes | None = None) -> bytes:
    """The persisted form of a station's state: compact JSON with its version;
    ``values_json``, when given, is written as its values part (JSON text the value
    kernel made) in place of ``state["values"]``.

    orjson, not json: the worker writes every changed station (tens of kB each) every
    commit, and the standard encoder took a sixth of its time."""
    doc: dict[str, Any] = {"version": STATE_VERSION, **state}
    if values_json is not None:
        doc["values"] = orjson.Fragment(values_json)
    return orjson.dumps(doc, default=str, option=_DUMP_OPTIONS)


def dump_part(part: object) -> bytes:
    """Any part of a state as JSON with sorted keys: equal bytes, equal content (the worker
    compares a station's missing-data part before and after a tick this way)."""
    return orjson.dumps(part, default=str, option=_DUMP_OPTIONS | orjson.OPT_SORT_KEYS)


def load_station_state(mn: str, raw: bytes | str) -> StationState:
    """A station's state from its persisted form, in this release's layout. An older
    layout is migrated; a newer or unknown one raises ``StateVersionError``."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise StateVersionError(
            f"station {mn}: its saved state is not JSON ({exc}); this release reads state "
            f"versions {_readable()}. Delete the station's key from the changelog topic to "
            "start it afresh") from None
    if not isinstance(data, dict):
        raise StateVersionError(
            f"station {mn}: its saved state is a JSON {type(data).__name__}, not an object; "
            f"this release reads state versions {_readable()}")
    version = data.pop("version", 1)
    if type(version) is int:  # not a bool, float or text that compares equal
        if version == STATE_VERSION:
            state: StationState = data  # type: ignore[assignment]
            return state
        if version == 1:
            return migrate_v1(data)
    raise StateVersionError(
        f"station {mn}: its saved state has version {version!r}; this release reads state "
        f"versions {_readable()}. A newer release wrote it: run that release (or newer), "
        "or delete the station's key from the changelog topic to start it afresh")


def _readable() -> str:
    return (f"{READABLE_VERSIONS[0]} to {READABLE_VERSIONS[-1]} (1: the layout before "
            "versions, which has no \"version\" key)")


# --- migration from version 1 --------------------------------------------------------------


def migrate_v1(old: dict[str, Any]) -> StationState:
    """Version 1 (``{"v", "e", "m", "offset", "episodes"}``) in this layout.

    The worker's own alarm bookkeeping (v1 ``"episodes"``: ``{"<code>|<rule>":
    {"opened_at": iso, "occurrences": n}}``) becomes the alarm fields of the detector's
    episode record of the same key. Its entries for ``|offline`` and ``|missing`` are left
    out: those alarms have no updates, so their opening time and step follow from the
    event (``pipeline.detect.missing.alarm_step``). An entry with no open episode beside
    it can never be stepped again and is left out too, as is ``"d"`` (the state of the
    one-reading detectors, which this release no longer has)."""
    state: StationState = {}
    if "offset" in old:
        state["offset"] = int(old["offset"])
    if "v" in old:
        state["values"] = _values_v1(old["v"])
    if "e" in old:
        alarms: dict[str, Any] = old.get("episodes") or {}
        state["episodes"] = {key: _episode_v1(ep, alarms.get(key))
                             for key, ep in old["e"].items()}
    if "m" in old:
        state["missing"] = _missing_v1(old["m"])
    return state


def _values_v1(old: dict[str, Any]) -> ValuesState:
    out: ValuesState = {}
    if "s" in old:
        out["series"] = {key: _series_v1(s) for key, s in old["s"].items()}
    if "m" in old:
        out["conflict_memory"] = {
            cn: [{"time": int(t), "values": values} for t, values in entries]
            for cn, entries in old["m"].items()}
    return out


_SERIES_V1: Final = {"t": "last_time", "z": "zero_run", "zf": "zero_since",
                     "c": "constant_run", "cv": "constant_value", "cf": "constant_since",
                     "w": "spike_window"}


def _series_v1(old: dict[str, Any]) -> SeriesState:
    out: dict[str, Any] = {_SERIES_V1[k]: v for k, v in old.items() if k in _SERIES_V1}
    if "p" in old:
        out["spike_pending"] = [{"time": int(t), "value": v} for t, v in old["p"]]
    if "fl" in old:
        flag, since = old["fl"]
        out["flag_run"] = {"flag": flag, "since": int(since)}
    series: SeriesState = out  # type: ignore[assignment]
    return series


def _episode_v1(old: dict[str, Any], alarm: dict[str, Any] | None) -> EpisodeRecord:
    if alarm is not None:
        opened = to_s(datetime.fromisoformat(alarm["opened_at"]))
        steps = int(alarm["occurrences"])
    else:
        # no row made for it yet: its next event starts the alarm, as v1's sink did
        opened, steps = int(old["first"]), 0
    return {"first_seen": int(old["first"]), "last_seen": int(old["last"]),
            "opening_hit_at": int(old["opened"]), "severity": old["sev"],
            "hits": int(old["n"]), "cn": int(old["cn"]),
            "clean_runs": {cn: int(n) for cn, n in old["cns"].items()},
            "evidence": old["ev"], "message": old["msg"], "reported_at": int(old["upd"]),
            "alarm_opened_at": opened, "alarm_steps": steps}


_MISSING_V1: Final = {"seen": "last_heard", "online": "online", "off": "offline_since",
                      "next": "next_due", "cad": "cadence", "sent": "requests_sent",
                      "nq": "request_count"}
_WINDOW_V1: Final = {"cn": "cn", "start": "start", "end": "end", "state": "state",
                     "exp": "expected", "got": "received_times", "req": "requests",
                     "det": "detected_at", "upd": "updated_at", "grow": "growing",
                     "last_req": "last_request_at", "qn": "last_request_qn"}


def _missing_v1(old: dict[str, Any]) -> MissingState:
    out: dict[str, Any] = {_MISSING_V1[k]: v for k, v in old.items() if k in _MISSING_V1}
    if "win" in old:
        out["windows"] = [{_WINDOW_V1[k]: v for k, v in w.items() if k in _WINDOW_V1}
                          for w in old["win"]]
    if "alarm" in old:
        alarm = old["alarm"]
        out["missing_alarm"] = (None if alarm is None else
                                {"first_seen": int(alarm["first"]), "cn": int(alarm["cn"])})
    missing: MissingState = out  # type: ignore[assignment]
    return missing
