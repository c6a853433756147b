"""What the judges read, from ClickHouse through the named clue queries, made into the
columns of ``model.py``. The only I/O of the clues besides the sweep's writes."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from pipeline.clues.episodes import KnownAlarm
from pipeline.clues.model import DaySeries, HourStats, O2Records, StationInfo, columns
from pipeline.clues.settings import ClueSettings
from pipeline.detect import names
from pipeline.store.queries_clues import run
from pipeline.timebase import local_from_unix, to_local


def _local(value: Any) -> datetime:
    return to_local(value) if isinstance(value, datetime) else value


def stations(ch: Any, settings: ClueSettings) -> dict[str, StationInfo]:
    """The registry's active stations."""
    out: dict[str, StationInfo] = {}
    for row in run(ch, "clue_stations"):
        mn, st = row["mn"], row["st"]
        out[mn] = StationInfo(mn, st, int(row["min_interval"]) or 10,
                              int(row["rtd_interval"]) or 30, settings.station(mn, st))
    return out


def stations_from(seen: dict[str, str], settings: ClueSettings) -> dict[str, StationInfo]:
    """Stations seen only in readings (MN -> ST), with the registry's default cadences
    (10-minute and 30-second records)."""
    return {mn: StationInfo(mn, st, 10, 30, settings.station(mn, st))
            for mn, st in seen.items()}


def limits(ch: Any) -> dict[tuple[str, str], tuple[float, str]]:
    return {(row["mn"], row["code"]): (float(row["limit_high"]), row["basis"] or "avg")
            for row in run(ch, "clue_limits")}


def hour_stats(ch: Any, start: datetime, end: datetime) -> HourStats:
    rows = run(ch, "clue_hour_stats", start=start, end=end)
    for row in rows:
        row["hour"] = _local(row["hour"])
    c = columns(rows, {"mn": object, "st": object, "cn": np.int64, "code": object,
                       "hour": object, "records": np.int64, "mean": np.float64,
                       "n_flag_n": np.int64, "n_flag_f": np.int64})
    return HourStats(**c)


def o2_records(ch: Any, start: datetime, end: datetime) -> O2Records:
    rows = run(ch, "clue_o2_records", start=start, end=end)
    for row in rows:
        row["data_time"] = _local(row["data_time"])
        if not row["has_o2"]:
            row["o2"] = math.nan
    c = columns(rows, {"mn": object, "cn": np.int64, "data_time": object, "code": object,
                       "avg": np.float64, "zs_avg": np.float64, "o2": np.float64})
    return O2Records(**c)


def minute_last(ch: Any, start: datetime, end: datetime) -> dict[str, datetime]:
    return {row["mn"]: _local(row["last"])
            for row in run(ch, "clue_minute_last", start=start, end=end)}


def frame_minutes(ch: Any, start: datetime, end: datetime) -> dict[str, list[datetime]]:
    """Per station, the minutes (naive CST, in time order) in which a frame of it was
    received in [start, end)."""
    return {row["mn"]: sorted(local_from_unix(int(m) * 60) for m in row["minutes"])
            for row in run(ch, "clue_frame_minutes", start=start, end=end)}


def day_series(ch: Any, start: datetime, end: datetime) -> DaySeries:
    avg: dict[tuple[str, str, date], np.ndarray[Any, Any]] = {}
    zs: dict[tuple[str, str, date], np.ndarray[Any, Any]] = {}
    ok: dict[tuple[str, str, date], np.ndarray[Any, Any]] = {}
    for row in run(ch, "clue_day_series", start=start, end=end):
        key = (row["mn"], row["code"], row["day"])
        a = np.full(24, math.nan)
        z = np.full(24, math.nan)
        n = np.zeros(24, dtype=bool)
        for h, v, zv, flag in zip(row["hours"], row["avgs"], row["zs_avgs"], row["flags"],
                                  strict=True):
            a[int(h)] = float(v)
            z[int(h)] = float(zv)
            n[int(h)] = flag in ("N", "")
        avg[key], zs[key], ok[key] = a, z, n
    return DaySeries(avg=avg, zs_avg=zs, n_ok=ok)


def known_alarms(ch: Any, since: datetime) -> list[KnownAlarm]:
    out = []
    for row in run(ch, "clue_alarms", rules=tuple(names.CLUE_RULES), since=since):
        try:
            evidence = json.loads(row["evidence"]) if row["evidence"] else {}
        except ValueError:
            evidence = {}
        out.append(KnownAlarm(
            mn=row["mn"], code=row["code"], rule=row["rule"], state=row["state"],
            severity=row["severity"], cn=int(row["cn"]), opened_at=_local(row["opened_at"]),
            last_seen=_local(row["last_seen"]), occurrences=int(row["occurrences"]),
            message=row["message"], evidence=evidence if isinstance(evidence, dict) else {},
            raised_at=_local(row["raised_at"]) if row["raised_at"] else None,
            raised_data_time=(_local(row["raised_data_time"]) if row["raised_data_time"]
                              else None),
            opened_cn=int(row["opened_cn"] or 0)))
    return out


def latest_data_time(ch: Any, since: datetime) -> datetime | None:
    rows = run(ch, "clue_latest_data_time", since=since)
    if not rows or not rows[0]["has_data"]:
        return None
    return _local(rows[0]["latest"])


def lookback(day: date, days: int) -> tuple[datetime, datetime]:
    """[start, end) of ``days`` days before ``day`` and ``day`` itself."""
    start = datetime(day.year, day.month, day.day) - timedelta(days=days)
    return start, datetime(day.year, day.month, day.day) + timedelta(days=1)
