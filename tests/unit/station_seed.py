"""A seed of the station and anomalies pages' tables, and what their named queries
(pipeline/store/queries_station.py, queries_anomalies.py) must answer on it, derived here
in plain Python from the seed and each query's documented meaning (FINAL keeps the newest
row per key; [start, end) ranges; China Standard Time; a station outside the scope or
unknown gives no row). Nothing is copied from a server's output.

It lives in a database of its own (the store seed's global queries would see these rows
otherwise): tests/unit/test_dashboards_station.py runs it on chDB, and ``run_on`` on any
connection, e.g. the local 18.16 server (see that module's docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import hj212

from pipeline.store import queries
from pipeline.store.queries_anomalies import ANY, DURATION_EDGES_S
from tests.store_seed import canon_rows, epoch

NAN = math.nan
JS, JJ, YG = "苏皖沪", "京津冀鲁", "粤桂湘琼鄂"
P1 = "STNWATER0000000000000001"  # 苏皖沪, waste water: the series, frames and gaps
P2 = "STNGAS000000000000000002"  # 京津冀鲁, flue gas
P3 = "STNWATER0000000000000003"  # 苏皖沪, moved to 粤桂湘琼鄂 by its second row
U = "STNUNREGISTERED000000009"  # not in the registry: alarms and a frame only
NOW = datetime(2024, 5, 10, 12, 0)  # the tests' "now" (CST)


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A CST time in May 2024."""
    return datetime(2024, 5, day, hour, minute, second)


Scope = tuple[str, ...] | None


def scope_params(scope: Scope) -> dict[str, Any]:
    return {"all_regions": 1 if scope is None else 0, "regions": scope or ("",)}


def _in(region: str, scope: Scope) -> bool:
    return scope is None or region in scope


# --- registry -------------------------------------------------------------------------

@dataclass(frozen=True)
class Station:
    mn: str
    enterprise: str
    outlet: str
    st: str
    province: str
    region: str
    active: int
    version: int
    rtd_interval: int = 30
    min_interval: int = 10

    def row(self) -> dict[str, Any]:
        return dict(mn=self.mn, pw="123456", enterprise=self.enterprise, outlet=self.outlet,
                    st=self.st, edition=2017, province=self.province, region=self.region,
                    rtd_interval=self.rtd_interval, min_interval=self.min_interval,
                    active=self.active, updated_at=at(1, 9), version=self.version)


STATIONS_1 = (
    Station(P1, "甲水务有限公司", "DW001 总排口", "32", "江苏", JS, 1, 1),
    Station(P2, "乙电力有限公司", "DA001 烟囱", "31", "山东", JJ, 1, 1, 60, 5),
    Station(P3, "丙纸业有限公司", "DW002 排口", "32", "江苏", JS, 1, 1),
)
STATIONS_2 = (
    Station(P3, "丙纸业有限公司", "DW002 排口", "32", "湖北", YG, 0, 2),
)


def final_stations() -> dict[str, Station]:
    out: dict[str, Station] = {}
    for s in STATIONS_1 + STATIONS_2:
        if s.mn not in out or s.version >= out[s.mn].version:
            out[s.mn] = s
    return out


CRC_VARIANTS = ({"mn": P2, "crc_variants": "modbus", "updated_at": at(1, 9), "version": 1},)


@dataclass(frozen=True)
class Limit:
    mn: str
    code: str
    limit_low: float
    limit_high: float
    range_low: float
    range_high: float
    active: int
    version: int
    unit: str = "mg/L"

    def row(self) -> dict[str, Any]:
        return dict(mn=self.mn, code=self.code, limit_low=self.limit_low,
                    limit_high=self.limit_high, basis="avg", range_low=self.range_low,
                    range_high=self.range_high, unit=self.unit, active=self.active,
                    updated_at=at(1, 9), version=self.version)


LIMITS_1 = (
    Limit(P1, "w01018", NAN, 100.0, 0.0, 500.0, 1, 1),
    Limit(P1, "w01001", 6.0, 9.0, 0.0, 14.0, 1, 1, "-"),
    Limit(P1, "w21003", NAN, 15.0, 0.0, 50.0, 1, 1),
    Limit(P2, "a21026", NAN, 35.0, 0.0, 200.0, 1, 1),
)
LIMITS_2 = (
    Limit(P1, "w21003", NAN, 15.0, 0.0, 50.0, 0, 2),  # deactivated
    Limit(P1, "w01018", NAN, 80.0, 0.0, 500.0, 1, 2),  # a stricter limit
)


def final_limits() -> dict[tuple[str, str], Limit]:
    out: dict[tuple[str, str], Limit] = {}
    for lim in LIMITS_1 + LIMITS_2:
        k = (lim.mn, lim.code)
        if k not in out or lim.version >= out[k].version:
            out[k] = lim
    return out


# --- readings -------------------------------------------------------------------------

READING_COLUMNS = ("mn", "st", "cn", "code", "wire_code", "data_time", "rtd", "min", "avg",
                   "max", "cou", "zs_rtd", "zs_min", "zs_avg", "zs_max", "rs", "rt", "data",
                   "day_data", "night_data", "ala", "up_value", "low_value", "flag", "eflag",
                   "qn", "edition", "receive_time")


@dataclass(frozen=True)
class Reading:
    mn: str
    cn: int
    code: str
    data_time: datetime
    avg: float = NAN
    rtd: float = NAN
    flag: str = "N"
    zs_avg: float = NAN
    received: datetime | None = None

    @property
    def receive_time(self) -> datetime:
        return self.received or self.data_time + timedelta(seconds=40)

    @property
    def key(self) -> tuple[str, int, str, datetime]:
        return (self.mn, self.cn, self.code, self.data_time)

    def row(self) -> dict[str, Any]:
        values: dict[str, Any] = {name: NAN for name in READING_COLUMNS}
        values.update(mn=self.mn, st="32", cn=self.cn, code=self.code, wire_code=self.code,
                      data_time=self.data_time, rtd=self.rtd, avg=self.avg,
                      zs_avg=self.zs_avg, flag=self.flag, eflag="",
                      qn=self.receive_time.strftime("%Y%m%d%H%M%S") + "000", edition=2017,
                      receive_time=self.receive_time)
        return values


def _minute_series() -> list[Reading]:
    """P1's minute COD over 10 May 00:00-12:00, every 10 minutes: a ramp, with a run of
    D flags (03:00-03:30), one M (05:00), a missing stretch (07:00-07:50), NaN Avg with
    an Rtd (08:20) and a value over the limit (10:00)."""
    out = []
    t = at(10, 0)
    i = 0
    while t < at(10, 12):
        if not at(10, 7) <= t < at(10, 8):
            flag = "D" if at(10, 3) <= t <= at(10, 3, 30) else "M" if t == at(10, 5) else "N"
            if t == at(10, 8, 20):
                out.append(Reading(P1, 2051, "w01018", t, NAN, rtd=41.5))
            else:
                value = 150.0 if t == at(10, 10) else 20.0 + i * 0.5
                out.append(Reading(P1, 2051, "w01018", t, value, flag=flag))
        t += timedelta(minutes=10)
        i += 1
    return out


READINGS_1: tuple[Reading, ...] = (
    *_minute_series(),
    Reading(P1, 2051, "w01001", at(10, 1), 7.2),
    Reading(P1, 2051, "w01001", at(10, 1, 10), 7.4, flag="C"),
    Reading(P1, 2011, "w01018", at(10, 11, 59, 0), rtd=30.5),
    Reading(P1, 2011, "w01018", at(10, 11, 59, 30), rtd=31.0),
    Reading(P1, 2061, "w01018", at(9, 23), 25.0),
    Reading(P1, 2051, "w01018", at(9, 23, 50), 19.0),  # the day before
    Reading(P2, 2061, "a21026", at(10, 1), 12.0, zs_avg=18.0),
    Reading(P3, 2051, "w01018", at(10, 1), 9.0),
)
READINGS_2: tuple[Reading, ...] = (  # resends replacing rows of the first insert
    Reading(P1, 2051, "w01018", at(10, 2), 99.0, received=at(10, 11)),
    Reading(P1, 2051, "w01018", at(10, 3, 10), 50.0, flag="N", received=at(10, 11)),
)
READINGS = READINGS_1 + READINGS_2


def final_readings() -> dict[tuple[str, int, str, datetime], Reading]:
    out: dict[tuple[str, int, str, datetime], Reading] = {}
    for r in READINGS:
        if r.key not in out or r.receive_time >= out[r.key].receive_time:
            out[r.key] = r
    return out


# --- missing windows, frames, alarms --------------------------------------------------

@dataclass(frozen=True)
class Window:
    mn: str
    cn: int
    start: datetime
    end: datetime
    state: str
    received: int
    version: int
    expected: int = 6

    def row(self) -> dict[str, Any]:
        return dict(mn=self.mn, cn=self.cn, window_start=self.start, window_end=self.end,
                    state=self.state, expected=self.expected, received=self.received,
                    requests=1 if self.state != "open" else 0, last_request_qn="",
                    last_request_at=None if self.state == "open" else self.end,
                    detected_at=self.end, updated_at=self.end, version=self.version)


WINDOWS_1 = (
    Window(P1, 2051, at(10, 7), at(10, 7, 50), "open", 0, 1),
    Window(P1, 2051, at(9, 20), at(9, 20, 30), "filled", 4, 1, 4),
    Window(P1, 2061, at(10, 7), at(10, 7), "requested", 0, 1, 1),
    Window(P2, 2051, at(10, 7), at(10, 7, 50), "open", 0, 1),
)
WINDOWS_2 = (Window(P1, 2051, at(10, 7), at(10, 7, 50), "requested", 0, 2),)


def final_windows() -> list[Window]:
    out: dict[tuple[str, int, datetime], Window] = {}
    for w in WINDOWS_1 + WINDOWS_2:
        k = (w.mn, w.cn, w.start)
        if k not in out or w.version >= out[k].version:
            out[k] = w
    return list(out.values())


def _good_frame(mn: str, cn: int, qn: str, data_time: datetime, cp: str) -> bytes:
    return hj212.encode(cn=cn, st=32, mn=mn, pw="123456", qn=qn, flag=5,
                        cp=f"DataTime={data_time:%Y%m%d%H%M%S};{cp}")


@dataclass(frozen=True)
class Frame:
    mn: str
    cn: str
    received: datetime
    raw: bytes
    data_time: datetime | None = None
    kind: str = ""
    field_: str = ""
    message: str = ""

    @property
    def qn(self) -> str:
        return self.received.strftime("%Y%m%d%H%M%S") + "000"

    @property
    def status(self) -> str:
        return "rejected" if self.kind else "accepted"

    def row(self) -> dict[str, Any]:
        return dict(receive_time=self.received, gateway="gw-1", peer="10.0.0.1:4000",
                    mn=self.mn, st="32", cn=self.cn, qn=self.qn, flag=-1 if self.kind else 5,
                    edition=0 if self.kind else 2017, data_time=self.data_time,
                    status=self.status, error_kind=self.kind, error_field=self.field_,
                    error_message=self.message, warnings=0,
                    n_readings=0 if self.kind else 1,
                    raw=self.raw.decode("ascii"))


def _frames() -> tuple[Frame, ...]:
    def good(mn: str, received: datetime, data_time: datetime, cp: str) -> Frame:
        qn = received.strftime("%Y%m%d%H%M%S") + "000"
        return Frame(mn, "2051", received, _good_frame(mn, 2051, qn, data_time, cp), data_time)

    bad = _good_frame(P1, 2051, "20240510113000000", at(10, 11, 20), "w01018-Avg=33.0")
    bad = bad[:-6] + b"0000\r\n"  # a CRC that does not match
    return (
        good(P1, at(10, 11, 1), at(10, 11), "w01018-Avg=25.0,w01018-Flag=N"),
        good(P1, at(10, 11, 11), at(10, 11, 10), "w01018-Avg=25.5,w01018-Flag=N;"
             "w01001-Avg=7.1,w01001-Flag=D"),
        Frame(P1, "2051", at(10, 11, 30), bad, None, "crc", "", "CRC mismatch"),
        good(P1, at(10, 9, 1), at(10, 9), "w01018-Avg=24.0,w01018-Flag=N"),  # earlier
        good(P2, at(10, 11, 5), at(10, 11), "a21026-Avg=12.0,a21026-Flag=N"),
        good(U, at(10, 11, 6), at(10, 11), "w01018-Avg=1.0,w01018-Flag=N"),
    )


FRAMES = _frames()
FRAMES_RESENT = (FRAMES[0],)  # the same frame again in another part: FINAL keeps one

FRAME_COLUMNS = ("receive_time", "gateway", "peer", "mn", "st", "cn", "qn", "flag",
                 "edition", "data_time", "status", "error_kind", "error_field",
                 "error_message", "warnings", "n_readings", "raw")


@dataclass(frozen=True)
class Alarm:
    mn: str
    code: str
    rule: str
    severity: str
    opened: datetime
    last_seen: datetime
    cleared: datetime | None
    version: int
    occurrences: int = 1

    @property
    def state(self) -> str:
        return "cleared" if self.cleared else "open"

    @property
    def alarm_id(self) -> str:
        return f"{self.mn}/{self.code}/{self.rule}/{self.opened:%Y%m%d%H%M%S}"

    @property
    def key(self) -> tuple[str, str, str, datetime]:
        return (self.mn, self.code, self.rule, self.opened)

    def row(self) -> dict[str, Any]:
        return dict(alarm_id=self.alarm_id, mn=self.mn, cn=2051, code=self.code,
                    rule=self.rule, severity=self.severity, state=self.state,
                    opened_at=self.opened, last_seen=self.last_seen, cleared_at=self.cleared,
                    occurrences=self.occurrences, value=NAN, threshold=NAN,
                    message=f"{self.rule} {self.code}".strip(), evidence="{}",
                    version=self.version)


M = timedelta(minutes=1)
ALARMS_1 = (
    # P1's COD over the limit twice, and a station-wide offline episode
    Alarm(P1, "w01018", "over_limit", "critical", at(10, 10), at(10, 10), None, 1),
    Alarm(P1, "w01018", "over_limit", "critical", at(8, 6), at(8, 7), at(8, 7), 1),
    Alarm(P1, "", "offline", "major", at(10, 7), at(10, 7, 50), at(10, 8), 1),
    Alarm(P1, "w01001", "non_n_flag", "warning", at(10, 1, 10), at(10, 1, 10),
          at(10, 1, 20), 1),
    Alarm(P1, "w01018", "spike", "info", at(9, 23, 55), at(9, 23, 55), None, 1),
    # P2 and P3, and the unregistered station
    Alarm(P2, "a21026", "over_limit", "critical", at(9, 15), at(9, 15, 30),
          at(9, 15, 30), 1),
    Alarm(P2, "", "missing", "major", at(4, 3), at(4, 5), None, 1),
    Alarm(P2, "a21026", "constant_streak", "warning", at(6, 0), at(6, 4), at(6, 4), 1),
    Alarm(P3, "", "offline", "major", at(7, 23, 30), at(8, 0, 30), at(8, 2), 1),
    Alarm(U, "", "offline", "info", at(9, 12), at(9, 12), None, 1),
    # opened before the default period (May 3rd 12:01): only the open list sees it
    Alarm(P1, "", "missing", "major", at(2, 8), at(2, 9), None, 1),
)
ALARMS_2 = (  # later rows of the same episodes: cleared, more occurrences
    Alarm(P1, "w01018", "over_limit", "critical", at(10, 10), at(10, 11), None, 2, 7),
    Alarm(U, "", "offline", "info", at(9, 12), at(9, 13), at(9, 14), 2),
    Alarm(P2, "", "missing", "major", at(4, 3), at(4, 20), at(5, 1), 2, 3),
)
ALARMS = ALARMS_1 + ALARMS_2


def final_alarms() -> list[Alarm]:
    out: dict[tuple[str, str, str, datetime], Alarm] = {}
    for a in ALARMS:
        if a.key not in out or a.version >= out[a.key].version:
            out[a.key] = a
    return list(out.values())


# --- inserting ------------------------------------------------------------------------

ALARM_COLUMNS = ("alarm_id", "mn", "cn", "code", "rule", "severity", "state", "opened_at",
                 "last_seen", "cleared_at", "occurrences", "value", "threshold", "message",
                 "evidence", "version")


def _cols(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {k: [epoch(r[k]) if isinstance(r[k], datetime) else r[k] for r in rows]
            for k in rows[0]}


def seed(ch: Any) -> None:
    """Each list its own INSERT (part), as the sinks write them."""
    parts: list[tuple[str, list[dict[str, Any]]]] = [
        ("stations", [s.row() for s in STATIONS_1]),
        ("stations", [s.row() for s in STATIONS_2]),
        ("station_crc_variants", list(CRC_VARIANTS)),
        ("limits", [lim.row() for lim in LIMITS_1]),
        ("limits", [lim.row() for lim in LIMITS_2]),
        ("readings", [r.row() for r in READINGS_1]),
        ("readings", [r.row() for r in READINGS_2]),
        ("missing_windows", [w.row() for w in WINDOWS_1]),
        ("missing_windows", [w.row() for w in WINDOWS_2]),
        ("frames", [f.row() for f in FRAMES]),
        ("frames", [f.row() for f in FRAMES_RESENT]),
        ("alarms", [a.row() for a in ALARMS_1]),
        ("alarms", [a.row() for a in ALARMS_2]),
    ]
    for table, rows in parts:
        ch.insert_columns(table, _cols(rows))


# --- expected answers: the station page -----------------------------------------------


def _visible(mn: str, scope: Scope) -> bool:
    st = final_stations().get(mn)
    return st is not None and _in(st.region, scope)


def expected_station_list(scope: Scope) -> list[dict[str, Any]]:
    rows = [s for s in final_stations().values() if _in(s.region, scope)]
    rows.sort(key=lambda s: (s.enterprise, s.outlet, s.mn))
    return [{"mn": s.mn, "enterprise": s.enterprise, "outlet": s.outlet, "region": s.region,
             "active": s.active} for s in rows]


def expected_station_info(mn: str, scope: Scope) -> list[dict[str, Any]]:
    if not _visible(mn, scope):
        return []
    s = final_stations()[mn]
    crc = next((c["crc_variants"] for c in CRC_VARIANTS if c["mn"] == mn), "")
    row = s.row()
    return [{**{k: row[k] for k in ("mn", "enterprise", "outlet", "st", "edition",
                                    "province", "region", "rtd_interval", "min_interval",
                                    "active", "updated_at")}, "crc_variants": crc}]


def expected_station_limits(mn: str, scope: Scope) -> list[dict[str, Any]]:
    if not _visible(mn, scope):
        return []
    rows = sorted((lim for lim in final_limits().values() if lim.mn == mn),
                  key=lambda lim: lim.code)
    return [{k: lim.row()[k] for k in ("code", "limit_low", "limit_high", "basis",
                                       "range_low", "range_high", "unit", "active",
                                       "updated_at")} for lim in rows]


def expected_station_codes(mn: str, start: datetime, end: datetime,
                           scope: Scope) -> list[dict[str, Any]]:
    """Counted over every stored row (the query reads without FINAL: a resend before a
    merge counts twice, which the picker does not mind), so over READINGS."""
    if not _visible(mn, scope):
        return []
    groups: dict[tuple[int, str], list[datetime]] = {}
    for r in READINGS:
        if r.mn == mn and start <= r.data_time < end:
            groups.setdefault((r.cn, r.code), []).append(r.data_time)
    return [{"cn": cn, "code": code, "records": len(ts), "last_data_time": max(ts)}
            for (cn, code), ts in sorted(groups.items())]


def _value(r: Reading) -> float:
    return r.avg if math.isfinite(r.avg) else r.rtd


def expected_station_series(mn: str, cn: int, code: str, start: datetime, end: datetime,
                            step: int, limit: int, scope: Scope) -> list[dict[str, Any]]:
    if not _visible(mn, scope):
        return []
    buckets: dict[datetime, list[Reading]] = {}
    for r in final_readings().values():
        if r.mn == mn and r.cn == cn and r.code == code and start <= r.data_time < end:
            s = epoch(r.data_time)
            b = datetime(1970, 1, 1, 8) + timedelta(seconds=s - s % step)
            buckets.setdefault(b, []).append(r)
    out = []
    for b, rs in sorted(buckets.items())[:limit]:
        vals = [_value(r) for r in rs if math.isfinite(_value(r))]
        zs = [r.zs_avg for r in rs if math.isfinite(r.zs_avg)]
        flagged = [r.flag for r in rs if r.flag not in ("N", "")]
        out.append({"bucket": b, "value": sum(vals) / len(vals) if vals else NAN,
                    "value_min": min(vals) if vals else NAN,
                    "value_max": max(vals) if vals else NAN,
                    "zs_value": sum(zs) / len(zs) if zs else NAN, "records": len(rs),
                    "flagged": len(flagged), "flag": max(flagged) if flagged else ""})
    return out


def expected_station_alarms(mn: str, code: str, start: datetime, end: datetime,
                            scope: Scope) -> list[dict[str, Any]]:
    if not _visible(mn, scope):
        return []
    rows = [a for a in final_alarms() if a.mn == mn and a.code in (code, "")
            and a.opened < end and (a.state == "open" or (a.cleared or a.last_seen) >= start)]
    rows.sort(key=lambda a: (a.opened, a.alarm_id))
    return [{k: a.row()[k] for k in ("alarm_id", "code", "rule", "severity", "state",
                                     "opened_at", "last_seen", "cleared_at", "occurrences",
                                     "message")} for a in rows]


def expected_station_missing_windows(mn: str, cn: int, start: datetime, end: datetime,
                                     scope: Scope) -> list[dict[str, Any]]:
    if not _visible(mn, scope):
        return []
    rows = sorted((w for w in final_windows() if w.mn == mn and w.cn == cn
                   and w.start < end and w.end >= start), key=lambda w: w.start)
    return [{k: w.row()[k] for k in ("cn", "window_start", "window_end", "state",
                                     "expected", "received", "requests", "last_request_at",
                                     "detected_at", "updated_at")} for w in rows]


def expected_station_frames(mn: str, start: datetime, end: datetime, status: str,
                            limit: int, scope: Scope) -> list[dict[str, Any]]:
    """raw_hash is the server's cityHash64: compared as any text (the frame's key is
    checked by station_frame_raw's own check)."""
    if not _visible(mn, scope):
        return []
    rows = [f for f in FRAMES if f.mn == mn and start <= f.received < end
            and status in ("", f.status)]
    rows.sort(key=lambda f: (-epoch(f.received), f.cn, f.qn))
    return [{"receive_time": f.received, "cn": f.cn, "qn": f.qn, "data_time": f.data_time,
             "status": f.status, "error_kind": f.kind, "error_field": f.field_,
             "error_message": f.message, "warnings": 0, "n_readings": 0 if f.kind else 1,
             "gateway": "gw-1", "peer": "10.0.0.1:4000", "edition": 0 if f.kind else 2017,
             "raw_bytes": len(f.raw), "raw_hash": AnyText()} for f in rows[:limit]]


@dataclass(frozen=True)
class AnyText:
    """Any non-empty text (a server-computed hash)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.isdigit()

    def __hash__(self) -> int:
        return 0


# --- expected answers: the anomalies page ---------------------------------------------


def _region(mn: str) -> str:
    st = final_stations().get(mn)
    return st.region if st else ""


def _enterprise(mn: str) -> str:
    st = final_stations().get(mn)
    return st.enterprise if st else ""


def _outlet(mn: str) -> str:
    st = final_stations().get(mn)
    return st.outlet if st else ""


def _episodes(start: datetime, end: datetime, scope: Scope) -> list[Alarm]:
    return [a for a in final_alarms() if start <= a.opened < end and _in(_region(a.mn), scope)]


def expected_counts(start: datetime, end: datetime, scope: Scope) -> list[dict[str, Any]]:
    groups: dict[tuple[datetime, str, str, str, str, str], list[Alarm]] = {}
    for a in _episodes(start, end, scope):
        day = a.opened.replace(hour=0, minute=0, second=0)
        groups.setdefault((day, a.rule, a.severity, a.state, _region(a.mn),
                           _enterprise(a.mn)), []).append(a)
    return [{"day": k[0], "rule": k[1], "severity": k[2], "state": k[3], "region": k[4],
             "enterprise": k[5], "episodes": len(v), "stations": len({a.mn for a in v})}
            for k, v in sorted(groups.items())]


def expected_open_longest(limit: int, scope: Scope) -> list[dict[str, Any]]:
    rows = [a for a in final_alarms() if a.state == "open" and _in(_region(a.mn), scope)]
    rows.sort(key=lambda a: (a.opened, a.alarm_id))
    return [{"alarm_id": a.alarm_id, "mn": a.mn, "enterprise": _enterprise(a.mn),
             "outlet": _outlet(a.mn), "region": _region(a.mn), "code": a.code,
             "rule": a.rule, "severity": a.severity, "opened_at": a.opened,
             "last_seen": a.last_seen, "occurrences": a.occurrences,
             "message": a.row()["message"]} for a in rows[:limit]]


def _duration(a: Alarm) -> int:
    return int(((a.cleared or a.last_seen) - a.opened).total_seconds())


def quantile_exact(values: list[int], level: float) -> int:
    """ClickHouse's quantileExact: the element at index floor(level x n) of the sorted
    values (the upper one of two middles for a median of an even count)."""
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


def _cleared_by_rule(start: datetime, end: datetime, scope: Scope) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for a in _episodes(start, end, scope):
        if a.state == "cleared":
            out.setdefault(a.rule, []).append(_duration(a))
    return out


def expected_duration_stats(start: datetime, end: datetime,
                            scope: Scope) -> list[dict[str, Any]]:
    return [{"rule": rule, "episodes": len(ds), "median_s": quantile_exact(ds, 0.5),
             "p90_s": quantile_exact(ds, 0.9), "mean_s": sum(ds) / len(ds),
             "max_s": max(ds)}
            for rule, ds in sorted(_cleared_by_rule(start, end, scope).items())]


def duration_class(seconds: int) -> int:
    return next((i for i, edge in enumerate(DURATION_EDGES_S) if seconds < edge),
                len(DURATION_EDGES_S))


def expected_duration_classes(start: datetime, end: datetime,
                              scope: Scope) -> list[dict[str, Any]]:
    counts: dict[tuple[str, int], int] = {}
    for rule, ds in _cleared_by_rule(start, end, scope).items():
        for d in ds:
            k = (rule, duration_class(d))
            counts[k] = counts.get(k, 0) + 1
    return [{"rule": r, "duration_class": c, "episodes": n}
            for (r, c), n in sorted(counts.items())]


def expected_episodes(start: datetime, end: datetime, scope: Scope, limit: int,
                      **filters: str) -> list[dict[str, Any]]:
    def keep(a: Alarm) -> bool:
        have = {"rule": a.rule, "severity": a.severity, "state": a.state,
                "region": _region(a.mn), "enterprise": _enterprise(a.mn)}
        return all(v == ANY or have[k] == v for k, v in filters.items())

    rows = [a for a in _episodes(start, end, scope) if keep(a)]
    rows.sort(key=lambda a: (-epoch(a.opened), a.alarm_id))
    return [{"alarm_id": a.alarm_id, "mn": a.mn, "enterprise": _enterprise(a.mn),
             "outlet": _outlet(a.mn), "region": _region(a.mn), "cn": 2051, "code": a.code,
             "rule": a.rule, "severity": a.severity, "state": a.state,
             "opened_at": a.opened, "last_seen": a.last_seen, "cleared_at": a.cleared,
             "occurrences": a.occurrences, "message": a.row()["message"]}
            for a in rows[:limit]]


# --- the checks -----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    id: str
    query: str
    params: dict[str, Any]
    expected: list[dict[str, Any]] = field(hash=False)


SCOPES: tuple[tuple[str, Scope], ...] = (("all", None), ("js", (JS,)), ("jj+yg", (JJ, YG)))
DAY = (at(10, 0), at(10, 12))
WEEK = (at(3, 12, 1), at(10, 12, 1))


def checks() -> list[Check]:
    out: list[Check] = []
    for label, scope in SCOPES:
        sp = scope_params(scope)
        out += [
            Check(f"station_list-{label}", "station_list", sp, expected_station_list(scope)),
            Check(f"anomalies_counts-{label}", "anomalies_counts",
                  dict(start=WEEK[0], end=WEEK[1], **sp), expected_counts(*WEEK, scope)),
            Check(f"anomalies_open_longest-{label}", "anomalies_open_longest",
                  dict(limit=3, **sp), expected_open_longest(3, scope)),
            Check(f"anomalies_duration_stats-{label}", "anomalies_duration_stats",
                  dict(start=at(1, 0), end=at(11, 0), **sp),
                  expected_duration_stats(at(1, 0), at(11, 0), scope)),
            Check(f"anomalies_duration_classes-{label}", "anomalies_duration_classes",
                  dict(start=at(1, 0), end=at(11, 0), **sp),
                  expected_duration_classes(at(1, 0), at(11, 0), scope)),
            Check(f"anomalies_episodes-{label}", "anomalies_episodes",
                  dict(start=WEEK[0], end=WEEK[1], rule=ANY, severity=ANY, state=ANY,
                       region=ANY, enterprise=ANY, limit=50, **sp),
                  expected_episodes(*WEEK, scope, 50, rule=ANY, severity=ANY, state=ANY,
                                    region=ANY, enterprise=ANY)),
        ]
        for mn in (P1, P2, P3, U, "NOSUCHSTATION"):
            out += [
                Check(f"station_info-{label}-{mn}", "station_info", dict(mn=mn, **sp),
                      expected_station_info(mn, scope)),
                Check(f"station_limits-{label}-{mn}", "station_limits", dict(mn=mn, **sp),
                      expected_station_limits(mn, scope)),
                Check(f"station_frames-{label}-{mn}", "station_frames",
                      dict(mn=mn, start=at(10, 0), end=at(10, 12), status="", limit=200,
                           **sp),
                      expected_station_frames(mn, at(10, 0), at(10, 12), "", 200, scope)),
                Check(f"station_alarms-{label}-{mn}", "station_alarms",
                      dict(mn=mn, code="w01018", start=DAY[0], end=DAY[1], **sp),
                      expected_station_alarms(mn, "w01018", *DAY, scope)),
            ]
        out += [
            Check(f"station_codes-{label}", "station_codes",
                  dict(mn=P1, start=at(9, 0), end=at(11, 0), **sp),
                  expected_station_codes(P1, at(9, 0), at(11, 0), scope)),
            Check(f"station_series-raw-{label}", "station_series",
                  dict(mn=P1, cn=2051, code="w01018", start=DAY[0], end=DAY[1], step=1,
                       limit=1000, **sp),
                  expected_station_series(P1, 2051, "w01018", *DAY, 1, 1000, scope)),
            Check(f"station_missing_windows-{label}", "station_missing_windows",
                  dict(mn=P1, cn=2051, start=DAY[0], end=DAY[1], **sp),
                  expected_station_missing_windows(P1, 2051, *DAY, scope)),
        ]
    sp = scope_params(None)
    out += [
        # half-hour buckets, the window starting mid-bucket; and a row cap
        Check("station_series-1800", "station_series",
              dict(mn=P1, cn=2051, code="w01018", start=at(9, 23, 45), end=at(10, 12),
                   step=1800, limit=1000, **sp),
              expected_station_series(P1, 2051, "w01018", at(9, 23, 45), at(10, 12), 1800,
                                      1000, None)),
        Check("station_series-limit", "station_series",
              dict(mn=P1, cn=2051, code="w01018", start=DAY[0], end=DAY[1], step=3600,
                   limit=5, **sp),
              expected_station_series(P1, 2051, "w01018", *DAY, 3600, 5, None)),
        Check("station_series-zs", "station_series",
              dict(mn=P2, cn=2061, code="a21026", start=DAY[0], end=DAY[1], step=1,
                   limit=10, **sp),
              expected_station_series(P2, 2061, "a21026", *DAY, 1, 10, None)),
        Check("station_frames-rejected", "station_frames",
              dict(mn=P1, start=at(10, 0), end=at(10, 12), status="rejected", limit=10,
                   **sp), expected_station_frames(P1, at(10, 0), at(10, 12), "rejected",
                                                  10, None)),
        Check("station_frames-limit", "station_frames",
              dict(mn=P1, start=at(10, 0), end=at(10, 12), status="", limit=2, **sp),
              expected_station_frames(P1, at(10, 0), at(10, 12), "", 2, None)),
        Check("station_alarms-w01001", "station_alarms",
              dict(mn=P1, code="w01001", start=DAY[0], end=DAY[1], **sp),
              expected_station_alarms(P1, "w01001", *DAY, None)),
        Check("station_missing_windows-2061", "station_missing_windows",
              dict(mn=P1, cn=2061, start=DAY[0], end=DAY[1], **sp),
              expected_station_missing_windows(P1, 2061, *DAY, None)),
    ]
    for label, filters in (
            ("rule", dict(rule="over_limit", severity=ANY, state=ANY, region=ANY,
                          enterprise=ANY)),
            ("open-js", dict(rule=ANY, severity=ANY, state="open", region=JS,
                             enterprise=ANY)),
            ("unregistered", dict(rule=ANY, severity=ANY, state=ANY, region="",
                                  enterprise=ANY)),
            ("enterprise", dict(rule=ANY, severity="major", state=ANY, region=ANY,
                                enterprise="丙纸业有限公司"))):
        out.append(Check(f"anomalies_episodes-{label}", "anomalies_episodes",
                         dict(start=at(1, 0), end=at(11, 0), limit=50, **filters, **sp),
                         expected_episodes(at(1, 0), at(11, 0), None, 50, **filters)))
    return out


def answer(ch: Any, check: Check) -> list[dict[str, Any]]:
    return canon_rows(queries.run(ch, check.query, **check.params))


def raw_of(ch: Any, frame: Frame, scope: Scope) -> list[dict[str, Any]]:
    """station_frame_raw for ``frame``, by the key station_frames gives for it."""
    listed = queries.run(ch, "station_frames", mn=frame.mn, start=frame.received,
                         end=frame.received + timedelta(seconds=1), status="", limit=5,
                         **scope_params(None))
    row = next(r for r in listed if r["qn"] == frame.qn)
    return queries.run(ch, "station_frame_raw", mn=frame.mn, cn=frame.cn, qn=frame.qn,
                       raw_hash=row["raw_hash"], **scope_params(scope))


def run_on(ch: Any) -> list[str]:
    """Every check on ``ch`` (seeded); the ids of those that fail."""
    return [c.id for c in checks() if answer(ch, c) != canon_rows(c.expected)]

