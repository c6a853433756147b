"""A small seeded data set for the store's SQL, and what every named query and the
completeness SQL must answer on it, shared by the chDB unit test (current ClickHouse) and
the integration test on the local server (18.16), so both are held to the same values.

The expected answers are derived here, in plain Python, from the seed and the documented
meaning of each query (FINAL keeps the newest row per key, [start, end) ranges, China
Standard Time); nothing is copied from a server's output. The seed is made to hit the
places where servers could disagree: replaced rows in a later part (FINAL), NaN values,
flags, an inactive or narrowed limits row, a pollutant with no limits row, NULL data
times, records whose UTC day or hour differs from their CST one, and range boundaries.

Seed times are CST wall-clock times, inserted as the epoch seconds they stand for (as the
sinks write them); the servers' own time zones play no part.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pipeline.store import completeness, queries
from pipeline.store.completeness import Period
from pipeline.store.migrate import load_migrations

NAN = math.nan
CST = timedelta(hours=8)

A = "SEEDWATER000000000000001"  # waste water: minute (2051) and real-time (2011) records
B = "SEEDGAS00000000000000002"  # flue gas: hourly (2061) records
C = "SEEDWATER000000000000003"  # minute records in the same hour as A; frames rejected
D = "SEEDWATER000000000000004"  # minute records in that hour, but never refreshed

HOUR = datetime(2024, 3, 1, 8, 0)  # CST; 00:00 UTC, so the UTC hour is the same ...
DAY = datetime(2024, 3, 1)  # ... but 00:00-08:00 CST of this day is February 29th in UTC
MIN_INTERVAL = {A: 10, C: 10, D: 10}  # minutes between 2051 records: 6 expected per hour


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A CST wall-clock time in March 2024 (day 0 is February 29th)."""
    return datetime(2024, 3, 1) + timedelta(days=day - 1, hours=hour, minutes=minute,
                                            seconds=second)


def epoch(local: datetime) -> int:
    """Epoch seconds of a naive CST time."""
    return int((local - CST - datetime(1970, 1, 1)).total_seconds())


# --- the seed ------------------------------------------------------------------------

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
    avg: float
    rtd: float = NAN
    flag: str = "N"
    receive_time: datetime | None = None  # default: one minute after the data time
    min: float = NAN
    max: float = NAN
    zs_avg: float = NAN
    eflag: str = ""

    @property
    def received(self) -> datetime:
        return self.receive_time or self.data_time + timedelta(minutes=1)

    @property
    def key(self) -> tuple[str, int, str, datetime]:
        return (self.mn, self.cn, self.code, self.data_time)

    def row(self) -> dict[str, Any]:
        values = {name: NAN for name in READING_COLUMNS}
        values.update(
            mn=self.mn, st="31" if self.mn == B else "32", cn=self.cn, code=self.code,
            wire_code=self.code, data_time=self.data_time, rtd=self.rtd, min=self.min,
            avg=self.avg, max=self.max, zs_avg=self.zs_avg, flag=self.flag, eflag=self.eflag,
            qn=self.received.strftime("%Y%m%d%H%M%S") + "000", edition=2017,
            receive_time=self.received)
        return values


R = Reading
# first INSERT (one part)
READINGS_1: tuple[Reading, ...] = (
    # A, minute records: the hour before, the hour 08:00 CST (08:40 missing), the hour after
    R(A, 2051, "w01018", at(1, 7, 50), 18.0),
    R(A, 2051, "w01018", at(1, 8, 0), 20.0, min=19.5, max=20.5),
    R(A, 2051, "w01001", at(1, 8, 0), 7.5),
    R(A, 2051, "w00000", at(1, 8, 0), -5.0),  # replaced below by a flagged copy
    R(A, 2051, "w01018", at(1, 8, 10), 600.0),  # above the instrument range (0-500)
    R(A, 2051, "w01001", at(1, 8, 10), 20.0),  # its limits row is deactivated below
    R(A, 2051, "w00000", at(1, 8, 10), 3.25),  # no limits row at all
    R(A, 2051, "w01018", at(1, 8, 20), 22.0, flag="D"),  # replaced below by a valid copy
    R(A, 2051, "w01001", at(1, 8, 20), 7.25),
    R(A, 2051, "w01018", at(1, 8, 30), NAN, rtd=21.0),  # no Avg: hourly mean falls to Rtd
    R(A, 2051, "w01001", at(1, 8, 30), 7.0),
    R(A, 2051, "w01018", at(1, 8, 50), 30.0, flag=""),  # no flag sent counts as N
    R(A, 2051, "w01018", at(1, 9, 0), 40.0),
    # A, real-time records
    R(A, 2011, "w01018", at(1, 7, 59, 30), NAN, rtd=18.5),
    R(A, 2011, "w01018", at(1, 8, 0, 30), NAN, rtd=19.5, eflag="A01"),
    R(A, 2011, "w01018", at(1, 8, 1, 0), NAN, rtd=21.0),
    R(A, 2011, "w01001", at(1, 8, 1, 30), NAN, rtd=7.75, flag="C"),
    # C and D: minute records in the same hour
    R(C, 2051, "w01018", at(1, 8, 30), 10.0),
    R(C, 2051, "w01018", at(1, 8, 40), 11.0, flag="M"),
    R(D, 2051, "w01018", at(1, 8, 30), 12.0),
    # B, hourly records: the day before, the CST day of March 1st, the day after
    R(B, 2061, "a21026", at(0, 23), 10.0),  # Feb 29th in CST and UTC
    R(B, 2061, "a21026", at(1, 0), 50.0, zs_avg=55.0),  # Feb 29th 16:00 UTC
    R(B, 2061, "a21002", at(1, 0), 200.0),
    R(B, 2061, "a21026", at(1, 1), 150.0),  # out of the narrowed range set below
    R(B, 2061, "a21002", at(1, 1), 210.0),
    R(B, 2061, "a21026", at(1, 2), 60.0, flag="F"),
    R(B, 2061, "a21002", at(1, 5), 230.0),
    R(B, 2061, "a21026", at(1, 7), 40.0),  # Feb 29th 23:00 UTC
    R(B, 2061, "a21002", at(1, 7), 220.0),
    R(B, 2061, "a21026", at(1, 12), NAN, rtd=45.0),
    R(B, 2061, "a21026", at(1, 23), 80.0),
    R(B, 2061, "a21002", at(1, 23), -3.0),  # no limits row: not judged against zeros
    R(B, 2061, "a21026", at(2, 3), 10.0),  # March 1st 19:00 UTC, but March 2nd in CST
)
# second INSERT (another part): resends that replace rows of the first (newer receive time)
READINGS_2: tuple[Reading, ...] = (
    R(A, 2051, "w01018", at(1, 8, 20), 25.0, receive_time=at(1, 9, 5)),
    R(A, 2051, "w00000", at(1, 8, 0), 4.0, flag="M", receive_time=at(1, 9, 6)),
    R(B, 2061, "a21026", at(1, 7), 40.0, receive_time=at(1, 9, 0)),  # same values again
)
READINGS = READINGS_1 + READINGS_2

LIMIT_COLUMNS = ("mn", "code", "limit_low", "limit_high", "basis", "range_low", "range_high",
                 "unit", "active", "updated_at", "version")


@dataclass(frozen=True)
class Limit:
    mn: str
    code: str
    range_low: float
    range_high: float
    active: int
    version: int

    def row(self) -> dict[str, Any]:
        return dict(mn=self.mn, code=self.code, limit_low=NAN, limit_high=100.0,
                    basis="avg", range_low=self.range_low, range_high=self.range_high,
                    unit="mg/L", active=self.active, updated_at=at(0, 12),
                    version=self.version)


LIMITS_1 = (
    Limit(A, "w01018", 0.0, 500.0, 1, 1),
    Limit(A, "w01001", 0.0, 14.0, 1, 1),
    Limit(B, "a21026", 0.0, 1000.0, 1, 1),
    Limit(C, "w01018", 0.0, 500.0, 1, 1),
)
LIMITS_2 = (
    Limit(A, "w01001", 0.0, 14.0, 0, 2),  # deactivated: pH is no longer range-checked
    Limit(B, "a21026", 0.0, 100.0, 1, 2),  # narrowed range
)
LIMITS = LIMITS_1 + LIMITS_2

FRAME_COLUMNS = ("receive_time", "gateway", "peer", "mn", "st", "cn", "qn", "flag",
                 "edition", "data_time", "status", "error_kind", "error_field",
                 "error_message", "warnings", "n_readings", "raw")


@dataclass(frozen=True)
class Frame:
    mn: str
    cn: str
    receive_time: datetime
    data_time: datetime | None = None
    kind: str = ""  # error kind; '' for an accepted frame
    field: str = ""
    message: str = ""
    gateway: str = "gw-1"
    peer: str = "127.0.0.1:40001"

    @property
    def status(self) -> str:
        return "rejected" if self.kind else "accepted"

    def row(self) -> dict[str, Any]:
        qn = self.receive_time.strftime("%Y%m%d%H%M%S") + "000"
        return dict(receive_time=self.receive_time, gateway=self.gateway, peer=self.peer,
                    mn=self.mn, st="31" if self.mn == B else "32", cn=self.cn, qn=qn,
                    flag=-1 if self.kind else 4, edition=0 if self.kind else 2017,
                    data_time=self.data_time, status=self.status, error_kind=self.kind,
                    error_field=self.field, error_message=self.message, warnings=0,
                    n_readings=0 if self.kind else 1,
                    raw=f"##SEED;MN={self.mn};CN={self.cn};QN={qn};{self.kind}\r\n")


F = Frame
REJECTS_START = at(1, 8, 15)
REJECTS_END = at(2, 0)
FRAMES: tuple[Frame, ...] = (
    F(A, "2011", at(1, 8, 0, 31), at(1, 8, 0, 30)),
    F(A, "2051", at(1, 8, 1), at(1, 8, 0)),
    F(A, "2051", at(1, 8, 51), at(1, 8, 50)),
    F(A, "2051", at(1, 9, 6), at(1, 8, 0), gateway="gw-2", peer="127.0.0.1:40002"),
    F(B, "2061", at(1, 0, 1), at(1, 0)),
    F(B, "2061", at(1, 23, 1), at(1, 23)),
    # the last frame of B is rejected and has no data time: argMax skips NULLs, so the
    # station's last data time is that of its last frame that had one
    F(B, "2061", at(1, 23, 30), None, "crc", "", "CRC mismatch: frame says 1C80, data 1D41"),
    F(C, "", at(1, 8, 14, 59), None, "crc", "", "CRC mismatch: before the window"),
    F(C, "2051", REJECTS_START, None, "field", "MN", "MN is 25 characters, at most 24"),
    F(C, "2051", at(1, 8, 40), None, "crc", "", "CRC mismatch: frame says 0000, data 9A3C"),
    F(C, "2051", REJECTS_END, None, "crc", "", "CRC mismatch: at the window's end"),
    F("", "", at(1, 8, 20), None, "header", "", "no ## header"),
)

# --- the web app's overview: registry, alarm episodes, stale completeness rows --------

E = "SEEDGAS00000000000000005"  # in the registry, deactivated by its second row
F_ = "SEEDWATER000000000000006"  # in the registry, never sent a frame
U = "SEEDUNREGISTERED00000007"  # an alarm of a station the registry does not know
JS, JJ, YG = "苏皖沪", "京津冀鲁", "粤桂湘琼鄂"

STATION_COLUMNS = ("mn", "pw", "enterprise", "outlet", "st", "edition", "province",
                   "region", "rtd_interval", "min_interval", "active", "updated_at",
                   "version")


@dataclass(frozen=True)
class StationRow:
    mn: str
    enterprise: str
    province: str
    region: str
    rtd_interval: int
    min_interval: int
    active: int
    version: int

    def row(self) -> dict[str, Any]:
        return dict(mn=self.mn, pw="123456", enterprise=self.enterprise,
                    outlet=f"DW00{self.version} 总排口", st="31" if "GAS" in self.mn else "32",
                    edition=2017, province=self.province, region=self.region,
                    rtd_interval=self.rtd_interval, min_interval=self.min_interval,
                    active=self.active, updated_at=at(0, 12), version=self.version)


S = StationRow
STATIONS_1 = (
    S(A, "甲污水处理厂", "江苏", JS, 30, 10, 1, 1),
    S(B, "乙热电有限公司", "安徽", JS, 60, 10, 1, 1),
    S(C, "丙化工有限公司", "江苏", JS, 30, 10, 1, 1),  # moved to 京津冀鲁 below
    S(D, "丁制药有限公司", "山东", JJ, 600, 5, 1, 1),  # 5-minute records: 12 an hour
    S(E, "戊水泥有限公司", "广东", YG, 30, 10, 1, 1),  # deactivated below
    S(F_, "己食品有限公司", "广东", YG, 30, 0, 1, 1),  # MinInterval 0 read as 1
)
STATIONS_2 = (
    S(C, "丙化工有限公司", "山东", JJ, 30, 10, 1, 2),
    S(E, "戊水泥有限公司", "广东", YG, 30, 10, 0, 2),
)
STATIONS = STATIONS_1 + STATIONS_2

ALARM_COLUMNS = ("alarm_id", "mn", "cn", "code", "rule", "severity", "state", "opened_at",
                 "last_seen", "cleared_at", "occurrences", "value", "threshold", "message",
                 "evidence", "version")


@dataclass(frozen=True)
class AlarmRow:
    mn: str
    code: str
    rule: str
    severity: str
    state: str
    opened_at: datetime
    last_seen: datetime
    occurrences: int
    version: int

    @property
    def alarm_id(self) -> str:
        return f"{self.mn}/{self.code}/{self.rule}/{self.opened_at:%Y%m%d%H%M%S}"

    def row(self) -> dict[str, Any]:
        return dict(alarm_id=self.alarm_id, mn=self.mn, cn=2051, code=self.code,
                    rule=self.rule, severity=self.severity, state=self.state,
                    opened_at=self.opened_at, last_seen=self.last_seen,
                    cleared_at=self.last_seen if self.state == "cleared" else None,
                    occurrences=self.occurrences, value=NAN, threshold=NAN,
                    message=f"{self.rule} {self.code}".strip(), evidence="{}",
                    version=self.version)


AL = AlarmRow
ALARMS_1 = (
    AL(A, "w01018", "over_limit", "critical", "open", at(1, 8, 10), at(1, 8, 10), 1, 1),
    AL(A, "", "offline", "major", "open", at(1, 9, 10), at(1, 9, 10), 1, 1),
    AL(B, "a21026", "out_of_range", "warning", "open", at(1, 1), at(1, 1), 1, 1),
    AL(C, "", "missing", "warning", "open", at(1, 9), at(1, 9), 1, 1),
    AL(E, "", "offline", "major", "open", at(0, 20), at(0, 20), 1, 1),
    AL(U, "", "offline", "info", "open", at(1, 7), at(1, 7), 1, 1),
)
ALARMS_2 = (  # later rows of the same episodes
    AL(A, "w01018", "over_limit", "critical", "open", at(1, 8, 10), at(1, 8, 50), 3, 2),
    AL(A, "", "offline", "major", "cleared", at(1, 9, 10), at(1, 9, 40), 1, 2),
)
ALARMS = ALARMS_1 + ALARMS_2

COMPLETENESS_COLUMNS = ("mn", "code", "period", "period_start", "expected", "received",
                        "valid", "transmission_rate", "validity_rate",
                        "transmission_efficiency", "updated_at", "version")


@dataclass(frozen=True)
class CompletenessRow:
    """A stale row of a key that refresh_completeness later rewrites with a far larger
    version, so test_completeness_sql still finds only its own figures there; until then
    the overview's queries read these."""

    mn: str
    code: str
    period: str
    period_start: datetime
    received: int
    valid: int
    version: int
    expected: int = 6

    def row(self) -> dict[str, Any]:
        tr = min(self.received / self.expected, 1.0)
        vr = self.valid / self.received
        return dict(mn=self.mn, code=self.code, period=self.period,
                    period_start=self.period_start, expected=self.expected,
                    received=self.received, valid=self.valid, transmission_rate=tr,
                    validity_rate=vr, transmission_efficiency=tr * vr,
                    updated_at=at(1, 9), version=self.version)


CR = CompletenessRow
COMPLETENESS_1 = (
    CR(A, "", "hour", HOUR, 4, 3, 1),
    CR(A, "w01018", "hour", HOUR, 3, 3, 1),  # a pollutant's row: not the station's
    CR(C, "", "hour", HOUR, 7, 2, 1),  # more than expected: capped at 6
    CR(B, "", "day", DAY, 7, 4, 1, expected=24),  # a day's row: not an hour's
)
COMPLETENESS_2 = (CR(A, "", "hour", HOUR, 5, 2, 2),)
COMPLETENESS_SEEDED = COMPLETENESS_1 + COMPLETENESS_2

# the INSERTs, in order; each is its own part
SEED: tuple[tuple[str, Sequence[str], Sequence[dict[str, Any]]], ...] = (
    ("readings", READING_COLUMNS, [r.row() for r in READINGS_1]),
    ("limits", LIMIT_COLUMNS, [lim.row() for lim in LIMITS_1]),
    ("frames", FRAME_COLUMNS, [f.row() for f in FRAMES]),
    ("readings", READING_COLUMNS, [r.row() for r in READINGS_2]),
    ("limits", LIMIT_COLUMNS, [lim.row() for lim in LIMITS_2]),
    ("stations", STATION_COLUMNS, [st.row() for st in STATIONS_1]),
    ("stations", STATION_COLUMNS, [st.row() for st in STATIONS_2]),
    ("alarms", ALARM_COLUMNS, [al.row() for al in ALARMS_1]),
    ("alarms", ALARM_COLUMNS, [al.row() for al in ALARMS_2]),
    ("completeness", COMPLETENESS_COLUMNS, [c.row() for c in COMPLETENESS_1]),
    ("completeness", COMPLETENESS_COLUMNS, [c.row() for c in COMPLETENESS_2]),
)


def seed(ch: Any) -> None:
    """Insert the seed through ``ch.insert_columns``, as the sinks write: one block per
    INSERT, times as epoch seconds, None for NULL."""
    for table, columns, rows in SEED:
        ch.insert_columns(table, {c: [_driver_value(row[c]) for row in rows]
                                  for c in columns})


def _driver_value(value: Any) -> Any:
    return epoch(value) if isinstance(value, datetime) else value


# --- comparing answers ---------------------------------------------------------------


@dataclass(frozen=True)
class OneOf:
    """An expected value that may be any of several (``any()`` picks one)."""

    values: frozenset[Any]

    def __eq__(self, other: object) -> bool:
        return other in self.values

    def __hash__(self) -> int:
        return hash(self.values)


def canon(value: Any) -> Any:
    """Floats compared to 9 decimals with NaN equal to NaN; times as naive CST (the driver
    gives a ``DateTime('Asia/Shanghai')`` as an aware datetime); the rest as is."""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else round(value, 9)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone(CST)).replace(tzinfo=None)
    return value


def canon_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: canon(v) for k, v in row.items()} for row in rows]


# --- the schema ----------------------------------------------------------------------


def schema_columns() -> dict[str, list[tuple[str, str]]]:
    """Each migration table's (column, type) pairs as its migrations write them: the
    CREATE statement's columns, then those of later ``ALTER TABLE ... ADD COLUMN``s."""
    out: dict[str, list[tuple[str, str]]] = {}
    for mig in load_migrations():
        for stmt in mig.statements():
            create = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\(", stmt)
            alter = re.match(r"ALTER TABLE (\w+)\s+ADD COLUMN\s+(?:IF NOT EXISTS\s+)?"
                             r"(\w+)\s+(.*)$", stmt, re.S)
            if stmt.upper().startswith(("CREATE MATERIALIZED VIEW", "INSERT INTO")):
                continue  # a view filling a table, a one-off fill: no column of their own
            if create:
                body, depth, i = [], 1, create.end()
                while depth:
                    ch = stmt[i]
                    depth += {"(": 1, ")": -1}.get(ch, 0)
                    body.append(ch)
                    i += 1
                cols = []
                for item in _split_top_level("".join(body[:-1])):
                    name, rest = item.split(None, 1)
                    cols.append((name, _leading_type(rest)))
                out[create.group(1)] = cols
            elif alter:
                table, name, rest = alter.groups()
                after = re.search(r"\bAFTER\s+(\w+)\s*$", rest)
                cols = out[table]
                pos = ([c for c, _ in cols].index(after.group(1)) + 1 if after
                       else len(cols))
                cols.insert(pos, (name, _leading_type(rest)))
            else:
                raise AssertionError(f"{mig.name}: tests/store_seed.py does not know what "
                                     f"`{stmt[:50]}` does to the schema; teach "
                                     "schema_columns() before relying on it")
    return out


def _split_top_level(text: str) -> list[str]:
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def _leading_type(text: str) -> str:
    depth = 0
    for i, ch in enumerate(text):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch.isspace() and depth == 0:
            return text[:i]
    return text


# --- expected answers of the named queries -------------------------------------------


def final_readings() -> dict[tuple[str, int, str, datetime], Reading]:
    """readings FINAL: per key the row with the newest receive time."""
    out: dict[tuple[str, int, str, datetime], Reading] = {}
    for r in READINGS:
        if r.key not in out or r.received >= out[r.key].received:
            out[r.key] = r
    return out


def final_limits() -> dict[tuple[str, str], Limit]:
    out: dict[tuple[str, str], Limit] = {}
    for lim in LIMITS:
        key = (lim.mn, lim.code)
        if key not in out or lim.version >= out[key].version:
            out[key] = lim
    return out


def expected_station_readings(mn: str, start: datetime, end: datetime,
                              cn: int = 0) -> list[dict[str, Any]]:
    rows = [r for r in final_readings().values()
            if r.mn == mn and start <= r.data_time < end and cn in (0, r.cn)]
    rows.sort(key=lambda r: (r.data_time, r.cn, r.code))
    keep = ("data_time", "cn", "code", "rtd", "min", "avg", "max", "cou", "zs_rtd",
            "zs_avg", "flag", "eflag", "receive_time")
    return [{k: r.row()[k] for k in keep} for r in rows]


def expected_hourly_means(mn: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    groups: dict[tuple[datetime, str], list[Reading]] = {}
    for r in final_readings().values():
        if r.mn == mn and start <= r.data_time < end:
            hour = r.data_time.replace(minute=0, second=0)
            groups.setdefault((hour, r.code), []).append(r)
    out = []
    for (hour, code), rows in sorted(groups.items()):
        values = [r.avg if math.isfinite(r.avg) else r.rtd for r in rows
                  if r.flag in ("N", "")]
        values = [v for v in values if math.isfinite(v)]
        out.append({"hour": hour, "code": code,
                    "mean": sum(values) / len(values) if values else NAN,
                    "flagged": sum(r.flag not in ("N", "") for r in rows),
                    "records": len(rows)})
    return out


def expected_latest_frame_per_station() -> list[dict[str, Any]]:
    out = []
    for mn in sorted({f.mn for f in FRAMES if f.mn}):
        frames = sorted((f for f in FRAMES if f.mn == mn), key=lambda f: f.receive_time)
        last = frames[-1]
        timed = [f for f in frames if f.data_time is not None]
        out.append({"mn": mn, "last_receive": last.receive_time, "last_cn": last.cn,
                    "last_status": last.status,
                    "last_data_time": timed[-1].data_time if timed else None,
                    "gateway": last.gateway, "peer": last.peer, "frames": len(frames)})
    return out


def expected_rejects_by_reason(start: datetime, end: datetime) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[Frame]] = {}
    for f in FRAMES:
        if f.status == "rejected" and start <= f.receive_time < end:
            groups.setdefault((f.kind, f.field), []).append(f)
    out = [{"error_kind": kind, "error_field": fld, "frames": len(fs),
            "stations": len({f.mn for f in fs}),
            "first_seen": min(f.receive_time for f in fs),
            "last_seen": max(f.receive_time for f in fs),
            "example": OneOf(frozenset(f.message for f in fs))}
           for (kind, fld), fs in groups.items()]
    out.sort(key=lambda row: (-row["frames"], row["error_kind"], row["error_field"]))
    return out


# the web app's overview: a scope is None (every region) or the regions a user sees
Scope = tuple[str, ...] | None
EPOCH_CST = datetime(1970, 1, 1, 8, 0)  # a DateTime's default (an unmatched join row)


def scope_params(scope: Scope) -> dict[str, Any]:
    return {"all_regions": 1 if scope is None else 0, "regions": scope or ("",)}


def _newest(rows: Iterable[Any], key: Any) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    for row in rows:
        k = key(row)
        if k not in out or row.version >= out[k].version:
            out[k] = row
    return out


def final_stations() -> dict[str, StationRow]:
    return _newest(STATIONS, lambda st: st.mn)


def _in_scope(region: str, scope: Scope) -> bool:
    return scope is None or region in scope


def _active_in_scope(scope: Scope) -> list[StationRow]:
    return [st for st in final_stations().values() if st.active and _in_scope(st.region, scope)]


def expected_station_status(since: datetime, until: datetime,
                            scope: Scope) -> list[dict[str, Any]]:
    out = []
    for st in sorted(_active_in_scope(scope), key=lambda st: (st.region, st.mn)):
        times = [f.receive_time for f in FRAMES if f.mn == st.mn and f.status == "accepted"
                 and since <= f.receive_time < until]
        row = st.row()
        out.append({**{k: row[k] for k in ("mn", "enterprise", "outlet", "province",
                                           "region", "rtd_interval", "min_interval")},
                    "has_frame": 1 if times else 0,
                    "last_receive": max(times) if times else EPOCH_CST})
    return out


def expected_frames_per_minute(start: datetime, end: datetime,
                               scope: Scope) -> list[dict[str, Any]]:
    regions = {mn: st.region for mn, st in final_stations().items()}
    minutes: dict[datetime, dict[str, int]] = {}
    for f in FRAMES:
        if not start <= f.receive_time < end:
            continue
        if scope is not None and regions.get(f.mn) not in scope:
            continue
        minute = f.receive_time.replace(second=0)
        counts = minutes.setdefault(minute, {"accepted": 0, "rejected": 0})
        counts[f.status] += 1  # the seed has no replayed frame: each row is one frame
    return [{"minute": m, **c} for m, c in sorted(minutes.items())]


def _open_alarms(scope: Scope) -> list[tuple[AlarmRow, str]]:
    regions = {mn: st.region for mn, st in final_stations().items()}
    episodes = _newest(ALARMS, lambda al: (al.mn, al.code, al.rule, al.opened_at))
    return [(al, regions.get(al.mn, "")) for al in episodes.values()
            if al.state == "open" and _in_scope(regions.get(al.mn, ""), scope)]


def expected_open_alarms(scope: Scope) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[AlarmRow]] = {}
    for al, region in _open_alarms(scope):
        groups.setdefault((al.severity, region), []).append(al)
    return [{"severity": sev, "region": region, "alarms": len(als),
             "stations": len({al.mn for al in als})}
            for (sev, region), als in sorted(groups.items())]


def expected_latest_open_alarms(limit: int, scope: Scope) -> list[dict[str, Any]]:
    stations = final_stations()
    rows = sorted(_open_alarms(scope), key=lambda ar: (-epoch(ar[0].opened_at),
                                                        ar[0].alarm_id))
    out = []
    for al, region in rows[:limit]:
        st = stations.get(al.mn)
        out.append({"alarm_id": al.alarm_id, "mn": al.mn,
                    "enterprise": st.enterprise if st else "", "region": region,
                    "code": al.code, "rule": al.rule, "severity": al.severity,
                    "opened_at": al.opened_at, "last_seen": al.last_seen,
                    "occurrences": al.occurrences, "message": al.row()["message"]})
    return out


def expected_station_hours(start: datetime, end: datetime,
                           scope: Scope) -> list[dict[str, Any]]:
    """Per active station in scope: expected, received (capped per hour) and valid over
    the whole hours [start, end), from the station rows of hourly completeness."""
    hours = int((end - start).total_seconds()) // 3600
    rows = _newest(COMPLETENESS_SEEDED, lambda c: (c.mn, c.period, c.code, c.period_start))
    out = []
    for st in _active_in_scope(scope):
        mine = [c for c in rows.values() if c.mn == st.mn and c.period == "hour"
                and c.code == "" and start <= c.period_start < end]
        expected = hours * max(60 // max(st.min_interval, 1), 1)
        received = sum(min(c.received, c.expected) for c in mine)
        valid = sum(c.valid for c in mine)
        tr = received / expected if expected else 0.0
        vr = valid / received if received else 0.0
        out.append({"mn": st.mn, "enterprise": st.enterprise, "outlet": st.row()["outlet"],
                    "region": st.region, "expected": expected, "received": received,
                    "valid": valid, "transmission_rate": tr, "validity_rate": vr,
                    "transmission_efficiency": tr * vr})
    return out


def expected_efficiency_by_region(start: datetime, end: datetime,
                                  scope: Scope) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in expected_station_hours(start, end, scope):
        groups.setdefault(row["region"], []).append(row)
    out = []
    for region, rows in sorted(groups.items()):
        expected = sum(r["expected"] for r in rows)
        received = sum(r["received"] for r in rows)
        valid = sum(r["valid"] for r in rows)
        tr = received / expected if expected else 0.0
        vr = valid / received if received else 0.0
        out.append({"region": region, "stations": len(rows), "expected": expected,
                    "received": received, "valid": valid, "transmission_rate": tr,
                    "validity_rate": vr, "transmission_efficiency": tr * vr})
    return out


def expected_worst_stations(start: datetime, end: datetime, limit: int,
                            scope: Scope) -> list[dict[str, Any]]:
    rows = sorted(expected_station_hours(start, end, scope),
                  key=lambda r: (r["transmission_efficiency"], r["mn"]))
    return rows[:limit]


def overview_checks() -> list[QueryCheck]:
    """The web app's overview queries, for every region and for a field engineer's."""
    out: list[QueryCheck] = []
    day_end = at(2, 0)
    for label, scope in (("all", None), ("js", (JS,)), ("jj+yg", (JJ, YG))):
        sp = scope_params(scope)
        out += [
            QueryCheck(f"overview_station_status-{label}", "overview_station_status",
                       dict(since=at(1, 8, 1), until=at(1, 9, 6), **sp),
                       expected_station_status(at(1, 8, 1), at(1, 9, 6), scope)),
            QueryCheck(f"overview_frames_per_minute-{label}", "overview_frames_per_minute",
                       dict(start=HOUR, end=at(1, 9), **sp),
                       expected_frames_per_minute(HOUR, at(1, 9), scope)),
            QueryCheck(f"overview_open_alarms-{label}", "overview_open_alarms", sp,
                       expected_open_alarms(scope)),
            QueryCheck(f"overview_latest_open_alarms-{label}", "overview_latest_open_alarms",
                       dict(limit=3, **sp), expected_latest_open_alarms(3, scope)),
            QueryCheck(f"overview_efficiency_by_region-{label}",
                       "overview_efficiency_by_region",
                       dict(start=DAY, end=at(1, 10), hours=10, **sp),
                       expected_efficiency_by_region(DAY, at(1, 10), scope)),
            QueryCheck(f"overview_worst_stations-{label}", "overview_worst_stations",
                       dict(start=DAY, end=at(1, 10), hours=10, limit=4, **sp),
                       expected_worst_stations(DAY, at(1, 10), 4, scope)),
        ]
    # the hour of the seeded rows left out by the range: nothing received by anyone
    out.append(QueryCheck("overview_worst_stations-before", "overview_worst_stations",
                          dict(start=DAY, end=HOUR, hours=8, limit=10, **scope_params(None)),
                          expected_worst_stations(DAY, HOUR, 10, None)))
    out.append(QueryCheck("overview_efficiency_by_region-day-after",
                          "overview_efficiency_by_region",
                          dict(start=day_end, end=at(2, 6), hours=6, **scope_params(None)),
                          expected_efficiency_by_region(day_end, at(2, 6), None)))
    return out


@dataclass(frozen=True)
class QueryCheck:
    id: str
    query: str  # a name in pipeline.store.queries.QUERIES
    params: dict[str, Any]
    expected: list[dict[str, Any]] = field(hash=False)


def query_checks() -> list[QueryCheck]:
    day_end = at(2, 0)
    return [
        QueryCheck("station_readings-all-cn", "station_readings",
                   dict(mn=A, start=HOUR, end=HOUR + timedelta(hours=1), cn=0),
                   expected_station_readings(A, HOUR, HOUR + timedelta(hours=1))),
        QueryCheck("station_readings-2011", "station_readings",
                   dict(mn=A, start=at(1, 7), end=at(1, 10), cn=2011),
                   expected_station_readings(A, at(1, 7), at(1, 10), 2011)),
        # a time-zone-aware bound is turned into CST wall-clock text by queries._param
        QueryCheck("station_readings-utc-bounds", "station_readings",
                   dict(mn=B, start=datetime(2024, 2, 29, 16, 0, tzinfo=UTC),
                        end=datetime(2024, 3, 1, 16, 0, tzinfo=UTC), cn=2061),
                   expected_station_readings(B, DAY, day_end, 2061)),
        QueryCheck("station_readings-empty", "station_readings",
                   dict(mn=A, start=at(3, 0), end=at(4, 0), cn=0), []),
        QueryCheck("hourly_means-A", "hourly_means",
                   dict(mn=A, start=at(1, 7), end=at(1, 10)),
                   expected_hourly_means(A, at(1, 7), at(1, 10))),
        QueryCheck("hourly_means-B", "hourly_means", dict(mn=B, start=DAY, end=day_end),
                   expected_hourly_means(B, DAY, day_end)),
        QueryCheck("latest_frame_per_station", "latest_frame_per_station", {},
                   expected_latest_frame_per_station()),
        QueryCheck("rejects_by_reason", "rejects_by_reason",
                   dict(start=REJECTS_START, end=REJECTS_END),
                   expected_rejects_by_reason(REJECTS_START, REJECTS_END)),
        *overview_checks(),
    ]


# --- expected completeness -----------------------------------------------------------

#: what the worker would refresh: the hour of A's and C's minute records (not D's), and
#: B's day of hourly records
TOUCHED: tuple[tuple[str, Period], ...] = (
    (A, Period("hour", epoch(HOUR))),
    (C, Period("hour", epoch(HOUR))),
    (B, Period("day", epoch(DAY))),
)
PERIOD_CN = {"hour": (2051, 3600), "day": (2061, 86400)}

COMPLETENESS_SQL = """
SELECT mn, code, period, period_start, expected, received, valid, transmission_rate,
       validity_rate, transmission_efficiency
FROM completeness FINAL
ORDER BY period, mn, code, period_start
"""


def _ok(r: Reading) -> bool:
    """The documented validity of a record: flag N or none, an Avg, inside the instrument
    range of an active limits row (no row or an inactive one: no range check)."""
    if r.flag not in ("N", "") or not math.isfinite(r.avg):
        return False
    lim = final_limits().get((r.mn, r.code))
    if lim is None or not lim.active:
        return True
    return not (r.avg < lim.range_low or r.avg > lim.range_high)


def expected_completeness() -> list[dict[str, Any]]:
    out = []
    for mn, period in TOUCHED:
        cn, length = PERIOD_CN[period.name]
        start = datetime(1970, 1, 1) + CST + timedelta(seconds=period.start)
        end = start + timedelta(seconds=length)
        expected = (60 // MIN_INTERVAL[mn]) if period.name == "hour" else 24
        records = [r for r in final_readings().values()
                   if r.mn == mn and r.cn == cn and start <= r.data_time < end]
        if not records:
            continue
        by_code: dict[str, list[Reading]] = {}
        by_time: dict[datetime, list[Reading]] = {}
        for r in records:
            by_code.setdefault(r.code, []).append(r)
            by_time.setdefault(r.data_time, []).append(r)
        counts = {code: (len({r.data_time for r in rs}),
                         len({r.data_time for r in rs if _ok(r)}))
                  for code, rs in by_code.items()}
        counts[""] = (len(by_time), sum(all(_ok(r) for r in rs) for rs in by_time.values()))
        for code, (received, valid) in counts.items():
            tr = min(received / expected, 1.0)
            vr = valid / received
            out.append({"mn": mn, "code": code, "period": period.name,
                        "period_start": start, "expected": expected,
                        "received": received, "valid": valid, "transmission_rate": tr,
                        "validity_rate": vr, "transmission_efficiency": tr * vr})
    out.sort(key=lambda row: (row["period"], row["mn"], row["code"], row["period_start"]))
    return out


# --- running the checks on a connection ----------------------------------------------
# ``ch`` is a pipeline.store.client.ClickHouse (the local server) or the unit tests' chDB
# stand-in with the same methods.


def refresh_completeness(ch: Any) -> int:
    """What the worker does for the touched periods."""
    return completeness.refresh(ch, TOUCHED, MIN_INTERVAL)


def stored_completeness(ch: Any) -> list[dict[str, Any]]:
    return canon_rows(ch.query_dicts(COMPLETENESS_SQL))


def described(ch: Any, table: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in ch.execute(f"DESCRIBE TABLE {table}")]


def answer(ch: Any, check: QueryCheck) -> list[dict[str, Any]]:
    return canon_rows(queries.run(ch, check.query, **check.params))


def value_kinds(ch: Any) -> dict[str, tuple[str, str | None]]:
    """Python type (and zone) of each column of one ``station_readings`` row, before
    ``canon``: the chDB stand-in must hand back what the driver does."""
    check = next(c for c in query_checks() if c.id == "station_readings-all-cn")
    row = queries.run(ch, check.query, **check.params)[0]
    return {k: (type(v).__name__, str(v.tzinfo) if isinstance(v, datetime) else None)
            for k, v in row.items()}


VALUE_KINDS = {
    **{k: ("float", None) for k in ("rtd", "min", "avg", "max", "cou", "zs_rtd", "zs_avg")},
    "data_time": ("datetime", "Asia/Shanghai"), "receive_time": ("datetime", "Asia/Shanghai"),
    "cn": ("int", None), "code": ("str", None), "flag": ("str", None), "eflag": ("str", None),
}
