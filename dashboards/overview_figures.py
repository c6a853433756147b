"""The overview page's figures from its named queries' rows: plain functions, no
Streamlit and no I/O, so unit tests and the page share them. Tables are lists of dicts
(column order = key order), which st.dataframe and Altair both take.

"Online" is the stream workers' own rule (pipeline/detect/missing.py): a station is
offline once no accepted frame has arrived for max(offline_after_s, 3 x RtdInterval).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dashboards.labels import SEVERITIES, region_label, rule_label, severity_label
from pipeline.detect.missing import MissingPolicy
from pipeline.timebase import to_local

#: silence after which the workers call a station offline (MissingPolicy's default)
OFFLINE_AFTER_S = MissingPolicy().offline_after_s
#: how far back the status query looks for a station's last frame
STATUS_LOOKBACK = timedelta(days=1)
#: minutes of the frames-per-minute chart
FRAMES_WINDOW = timedelta(hours=1)
WORST_LIMIT = 10
LATEST_ALARMS_LIMIT = 10
ACCEPTED = "接受 accepted"
REJECTED = "拒绝 rejected"


@dataclass(frozen=True, slots=True)
class Window:
    """The times one overview render asks about (naive China Standard Time)."""

    now: datetime
    status_since: datetime
    frames_start: datetime  # whole minutes: [frames_start, frames_end)
    frames_end: datetime
    day_start: datetime  # today's whole hours: [day_start, hours_end)
    hours_end: datetime

    @property
    def hours(self) -> int:
        return int((self.hours_end - self.day_start).total_seconds()) // 3600


def window(now: datetime) -> Window:
    """The status, frames and efficiency ranges for ``now``. The frames chart and
    today's efficiency count whole minutes and whole hours: the one in progress has not
    had all its frames yet, and would show as a false drop."""
    now = to_local(now).replace(microsecond=0)
    minute_end = now.replace(second=0)
    day_start = now.replace(hour=0, minute=0, second=0)
    return Window(now=now, status_since=now - STATUS_LOOKBACK,
                  frames_start=minute_end - FRAMES_WINDOW, frames_end=minute_end,
                  day_start=day_start, hours_end=now.replace(minute=0, second=0))


def offline_after_s(rtd_interval: int) -> float:
    return max(OFFLINE_AFTER_S, 3.0 * rtd_interval)


@dataclass(frozen=True, slots=True)
class StationState:
    mn: str
    enterprise: str
    outlet: str
    region: str
    last_receive: datetime | None  # None: no accepted frame within STATUS_LOOKBACK
    online: bool
    silent_s: float | None


def station_states(rows: Iterable[Mapping[str, Any]], now: datetime) -> list[StationState]:
    """Each station's state from ``overview_station_status`` rows."""
    out = []
    for row in rows:
        last = to_local(row["last_receive"]) if row["has_frame"] else None
        silent = (now - last).total_seconds() if last is not None else None
        online = silent is not None and silent <= offline_after_s(int(row["rtd_interval"]))
        out.append(StationState(mn=row["mn"], enterprise=row["enterprise"],
                                outlet=row["outlet"], region=row["region"],
                                last_receive=last, online=online, silent_s=silent))
    return out


Table = list[dict[str, Any]]


def status_by_region(states: Sequence[StationState]) -> Table:
    """Stations, online and offline per region, with a total row last."""
    rows: dict[str, list[int]] = {}
    for s in states:
        counts = rows.setdefault(s.region, [0, 0])
        counts[0 if s.online else 1] += 1
    table = [{"region": region_label(r), "stations": on + off, "online": on, "offline": off}
             for r, (on, off) in sorted(rows.items())]
    online = sum(s.online for s in states)
    table.append({"region": "合计 total", "stations": len(states), "online": online,
                  "offline": len(states) - online})
    return table


def offline_table(states: Sequence[StationState]) -> Table:
    """Offline stations, longest silent first (never heard within the lookback first)."""
    off = [s for s in states if not s.online]
    off.sort(key=lambda s: (s.last_receive is not None, s.last_receive or datetime.min,
                            s.mn))
    return [{"mn": s.mn, "enterprise": s.enterprise, "outlet": s.outlet,
             "region": region_label(s.region),
             "last_frame": s.last_receive.strftime("%Y-%m-%d %H:%M:%S") if s.last_receive
             else "24 小时内无 none in 24 h",
             "silent_min": round(s.silent_s / 60) if s.silent_s is not None else None}
            for s in off]


def frames_series(rows: Iterable[Mapping[str, Any]], start: datetime,
                  end: datetime) -> Table:
    """Frames per minute in long form (minute, status, frames), every minute of
    [start, end) present: a minute with no frame is a zero, not a gap in the line.
    Minutes are ISO text without a zone: the chart shows them as the wall-clock (CST)
    times they are, whatever the browser's zone."""
    counts = {to_local(r["minute"]): (int(r["accepted"]), int(r["rejected"])) for r in rows}
    out = []
    minute = start
    while minute < end:
        acc, rej = counts.get(minute, (0, 0))
        text = minute.isoformat()
        out.append({"minute": text, "status": ACCEPTED, "frames": acc})
        out.append({"minute": text, "status": REJECTED, "frames": rej})
        minute += timedelta(minutes=1)
    return out


def frames_total(rows: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """(accepted, rejected) frames over the rows."""
    acc = rej = 0
    for r in rows:
        acc += int(r["accepted"])
        rej += int(r["rejected"])
    return acc, rej


def alarms_long(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Open alarms (severity, region, alarms) with bilingual labels, gravest first."""
    rank = {sev: i for i, sev in enumerate(SEVERITIES)}
    ordered = sorted(rows, key=lambda r: (rank.get(r["severity"], len(rank)), r["region"]))
    return [{"severity": severity_label(r["severity"]), "region": region_label(r["region"]),
             "alarms": int(r["alarms"]), "stations": int(r["stations"])} for r in ordered]


def alarms_matrix(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Open alarms as a table: a row per region (most alarms first), a column per
    severity present (gravest first), and the total."""
    long = alarms_long(rows)
    severities = list(dict.fromkeys(r["severity"] for r in long))
    by_region: dict[str, dict[str, Any]] = {}
    for r in long:
        row = by_region.setdefault(r["region"], {"region": r["region"],
                                                 **dict.fromkeys(severities, 0)})
        row[r["severity"]] += r["alarms"]
    table = [{**row, "total": sum(row[s] for s in severities)} for row in by_region.values()]
    table.sort(key=lambda row: (-row["total"], row["region"]))
    return table


def open_alarm_count(rows: Iterable[Mapping[str, Any]]) -> int:
    return sum(int(r["alarms"]) for r in rows)


def latest_alarms_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    return [{"opened_at": to_local(r["opened_at"]).strftime("%m-%d %H:%M"),
             "severity": severity_label(r["severity"]), "rule": rule_label(r["rule"]),
             "mn": r["mn"], "enterprise": r["enterprise"], "code": r["code"],
             "region": region_label(r["region"]), "message": r["message"]} for r in rows]


def _rates(r: Mapping[str, Any]) -> dict[str, Any]:
    return {"expected": int(r["expected"]), "received": int(r["received"]),
            "valid": int(r["valid"]),
            "transmission_rate": 100.0 * float(r["transmission_rate"]),
            "validity_rate": 100.0 * float(r["validity_rate"]),
            "transmission_efficiency": 100.0 * float(r["transmission_efficiency"])}


def efficiency_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Today's figures per region as percentages, lowest efficiency first."""
    table = [{"region": region_label(r["region"]), "stations": int(r["stations"]),
              **_rates(r)} for r in rows]
    table.sort(key=lambda row: (row["transmission_efficiency"], row["region"]))
    return table


def worst_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """The worst stations in the query's order (lowest efficiency first)."""
    return [{"mn": r["mn"], "enterprise": r["enterprise"], "outlet": r["outlet"],
             "region": region_label(r["region"]), **_rates(r)} for r in rows]
