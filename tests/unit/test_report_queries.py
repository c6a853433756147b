"""The weekly report's named queries on current ClickHouse (chDB), against answers
derived here in plain Python from the seed and each query's documented meaning (FINAL
keeps the newest row per key, [start, end) ranges in CST, active stations in scope).

The seed (also used by tests/unit/test_report_cli.py and, on the local 18.16 server, by
tests/integration/test_report_pdf.py) is made to hit what could go wrong: replaced rows
in a later insert, a deactivated station and limits row, a station activated and renamed
by its newer row, hours at the week's edges, received above expected, invalid records
(flags, NaN, negative, out of range), a Zs Avg basis with a missing Zs value, alarm
episodes and gaps before, across and after the week.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from dashboards.report.week import parse_week
from pipeline.store import queries
from pipeline.timebase import unix_s_from_local
from tests.store_seed import canon_rows
from tests.unit.chdb_client import ChdbClickHouse, migrate

NAN = math.nan
WEEK = parse_week("2026-W48")
START, END = WEEK.start, WEEK.end
JS, JJ, ZM = "苏皖沪", "京津冀鲁", "浙闽赣"
JIA, YI, BING = "甲化工有限公司", "乙水务有限公司", "丙制药厂"

W1 = "RPTWATER0000000000000001"
G2 = "RPTGAS000000000000000002"
W3 = "RPTWATER0000000000000003"
W4 = "RPTWATER0000000000000004"  # deactivated by its newer row
W5 = "RPTWATER0000000000000005"  # activated (and renamed) by its newer row


@dataclass(frozen=True)
class Stn:
    mn: str
    enterprise: str
    outlet: str
    province: str
    region: str
    min_interval: int
    active: int
    version: int

    def row(self) -> dict[str, Any]:
        return {"mn": self.mn, "pw": "123456", "enterprise": self.enterprise,
                "outlet": self.outlet, "st": "31" if self.mn == G2 else "32",
                "edition": 2017, "province": self.province, "region": self.region,
                "rtd_interval": 30, "min_interval": self.min_interval, "active": self.active,
                "updated_at": START - timedelta(days=30), "version": self.version}


STATIONS = (
    Stn(W1, JIA, "DW001 废水总排口", "江苏", JS, 10, 1, 1),
    Stn(G2, JIA, "DA001 锅炉排放口", "江苏", JS, 5, 1, 1),
    Stn(W3, YI, "DW001 总排口", "山东", JJ, 10, 1, 1),
    Stn(W4, YI, "DW002 雨水排口", "山东", JJ, 10, 1, 1),
    Stn(W4, YI, "DW002 雨水排口", "山东", JJ, 10, 0, 2),
    Stn(W5, "丙制药旧名", "DW001 总排口", "浙江", ZM, 15, 0, 1),
    Stn(W5, BING, "DW001 总排口", "浙江", ZM, 15, 1, 2),
)
MNS = (W1, G2, W3, W4, W5)


def hour(i: int) -> datetime:
    """The i-th hour from the week's start (negative: before it)."""
    return START + timedelta(hours=i)


HOURS = range(-3, 7 * 24 + 3)  # the week and three hours either side


def per_hour(mn: str) -> int:
    return max(60 // next(s for s in STATIONS if s.mn == mn).min_interval, 1)


@dataclass(frozen=True)
class Comp:
    mn: str
    code: str
    period: str
    period_start: datetime
    expected: int
    received: int
    valid: int
    version: int

    def row(self) -> dict[str, Any]:
        tr = min(self.received / self.expected, 1.0) if self.expected else 0.0
        vr = self.valid / self.received if self.received else 0.0
        return {"mn": self.mn, "code": self.code, "period": self.period,
                "period_start": self.period_start, "expected": self.expected,
                "received": self.received, "valid": self.valid, "transmission_rate": tr,
                "validity_rate": vr, "transmission_efficiency": tr * vr,
                "updated_at": self.period_start, "version": self.version}


def _completeness() -> tuple[list[Comp], list[Comp]]:
    first: list[Comp] = []
    for k, mn in enumerate(MNS):
        exp = per_hour(mn)
        for i in HOURS:
            if (i + k) % 5 == 0:
                continue  # an hour with no row: nothing received
            received = exp - ((i + k) % 3 == 0)
            if mn == W1 and i % 11 == 0:
                received = exp + 2  # a logger's duplicates: capped at the expected
            valid = max(received - ((i * 3 + k) % 7 == 0) - (mn == W3), 0)
            first.append(Comp(mn, "", "hour", hour(i), exp, received, valid, 1))
            first.append(Comp(mn, "w01018", "hour", hour(i), exp, 1, 1, 1))  # not the station's
        for d in range(-1, 8):
            first.append(Comp(mn, "", "day", START + timedelta(days=d), 24, 3, 3, 1))
    # a later refresh (back-filled records) replaces some of W1's hours
    second = [Comp(W1, "", "hour", hour(i), 6, 6 - (i % 2), 4, 2) for i in range(30, 36)]
    return first, second


COMPLETENESS_1, COMPLETENESS_2 = _completeness()


@dataclass(frozen=True)
class Rd:
    mn: str
    code: str
    data_time: datetime
    avg: float
    zs_avg: float = NAN
    flag: str = "N"
    cn: int = 2061
    received: int = 1  # minutes after the data time

    def row(self) -> dict[str, Any]:
        from tests.store_seed import READING_COLUMNS
        values: dict[str, Any] = {name: NAN for name in READING_COLUMNS}
        values.update(mn=self.mn, st="32", cn=self.cn, code=self.code, wire_code=self.code,
                      data_time=self.data_time, avg=self.avg, zs_avg=self.zs_avg,
                      flag=self.flag, eflag="", qn=f"{self.received:017d}", edition=2017,
                      receive_time=self.data_time + timedelta(minutes=self.received))
        return values


def _readings() -> tuple[list[Rd], list[Rd]]:
    first: list[Rd] = []
    for i in HOURS:
        t = hour(i)
        cod = 60.0 + (i * 37) % 90  # 60 .. 149 mg/L against a limit of 100
        flag = "D" if i % 13 == 0 else ("" if i % 19 == 0 else "N")
        if i % 17 == 0:
            cod = NAN
        if i == 50:
            cod = 600.0  # above the instrument range: not judged
        if i == 51:
            cod = -120.0
        first.append(Rd(W1, "w01018", t, cod, flag=flag))
        first.append(Rd(W1, "w01001", t, 5.0 + ((i * 7) % 50) / 10))  # pH 5.0 .. 9.9
        zs = NAN if i % 9 == 0 else 30.0 + (i * 11) % 40  # 30 .. 69 against 50
        first.append(Rd(G2, "a21026", t, 38.0 + (i * 5) % 25, zs_avg=zs))
        first.append(Rd(G2, "a21002", t, 500.0))  # its limits row was deactivated
        first.append(Rd(W3, "w01018", t, 999.0))  # no limits row: never over
        first.append(Rd(W4, "w01018", t, 150.0))  # an inactive station
        first.append(Rd(W5, "w01018", t, 70.0 + (i % 4) * 20))  # 70, 90, 110, 130
        first.append(Rd(W1, "w01018", t, 900.0, cn=2051))  # minute data: not hourly
    # resends that replace records of the first insert (a later receive time)
    second = [Rd(W1, "w01018", hour(i), 20.0, received=30) for i in (1, 2, 3)]
    second += [Rd(W1, "w01018", hour(i), 130.0, received=30) for i in (13, 26)]
    return first, second


READINGS_1, READINGS_2 = _readings()


@dataclass(frozen=True)
class Lim:
    mn: str
    code: str
    low: float
    high: float
    basis: str
    range_low: float
    range_high: float
    unit: str
    active: int = 1
    version: int = 1

    def row(self) -> dict[str, Any]:
        return {"mn": self.mn, "code": self.code, "limit_low": self.low,
                "limit_high": self.high, "basis": self.basis, "range_low": self.range_low,
                "range_high": self.range_high, "unit": self.unit, "active": self.active,
                "updated_at": START - timedelta(days=30), "version": self.version}


LIMITS = (
    Lim(W1, "w01018", NAN, 100.0, "avg", 0.0, 500.0, "mg/L"),
    Lim(W1, "w01001", 6.0, 9.0, "avg", 0.0, 14.0, ""),
    Lim(G2, "a21026", NAN, 50.0, "zs_avg", 0.0, 1000.0, "mg/m3"),
    Lim(G2, "a21002", NAN, 100.0, "zs_avg", 0.0, 1000.0, "mg/m3"),
    Lim(G2, "a21002", NAN, 100.0, "zs_avg", 0.0, 1000.0, "mg/m3", active=0, version=2),
    Lim(W4, "w01018", NAN, 100.0, "avg", 0.0, 500.0, "mg/L"),
    Lim(W5, "w01018", NAN, 120.0, "avg", NAN, NAN, "mg/L", version=1),
    Lim(W5, "w01018", NAN, 100.0, "avg", NAN, NAN, "mg/L", version=2),  # tightened
)


@dataclass(frozen=True)
class Al:
    mn: str
    code: str
    rule: str
    severity: str
    state: str
    opened_at: datetime
    cleared_at: datetime | None
    version: int = 1

    @property
    def alarm_id(self) -> str:
        return f"{self.mn}/{self.code}/{self.rule}/{self.opened_at:%Y%m%d%H%M%S}"

    def row(self) -> dict[str, Any]:
        seen = self.cleared_at or self.opened_at + timedelta(hours=1)
        return {"alarm_id": self.alarm_id, "mn": self.mn, "cn": 2051, "code": self.code,
                "rule": self.rule, "severity": self.severity, "state": self.state,
                "opened_at": self.opened_at, "last_seen": seen, "cleared_at": self.cleared_at,
                "occurrences": 2, "value": NAN, "threshold": NAN,
                "message": f"{self.rule} {self.code}".strip(), "evidence": "{}",
                "version": self.version}


ALARMS = (
    Al(W1, "w01018", "over_limit", "critical", "open", hour(5), None, 1),
    Al(W1, "w01018", "over_limit", "critical", "cleared", hour(5), hour(10), 2),
    Al(W1, "", "missing", "major", "cleared", hour(24), hour(26)),
    Al(G2, "a21026", "constant_streak", "warning", "open", hour(150), None),
    Al(W1, "w01018", "spike", "info", "cleared", hour(-48), hour(-24)),  # before the week
    Al(W1, "", "offline", "major", "open", hour(-24), None),  # from before, still open
    Al(W1, "w01018", "negative", "warning", "cleared", hour(-24), hour(1)),  # into the week
    Al(W3, "w01018", "spike", "info", "open", END, None),  # after the week
    Al(W4, "", "offline", "major", "open", hour(30), None),  # an inactive station
    Al(W5, "", "missing", "major", "cleared", hour(100), hour(101)),
)


@dataclass(frozen=True)
class Win:
    mn: str
    cn: int
    start: datetime
    end: datetime
    state: str
    expected: int
    received: int
    requests: int
    version: int = 1

    def row(self) -> dict[str, Any]:
        requested = self.end + timedelta(minutes=5) if self.requests else None
        return {"mn": self.mn, "cn": self.cn, "window_start": self.start,
                "window_end": self.end, "state": self.state, "expected": self.expected,
                "received": self.received, "requests": self.requests,
                "last_request_qn": "", "last_request_at": requested,
                "detected_at": self.end + timedelta(minutes=1),
                "updated_at": self.end + timedelta(minutes=10), "version": self.version}


WINDOWS = (
    Win(W1, 2051, hour(24) + timedelta(minutes=10), hour(25), "open", 6, 0, 0, 1),
    Win(W1, 2051, hour(24) + timedelta(minutes=10), hour(25), "requested", 6, 0, 1, 2),
    Win(W1, 2051, hour(24) + timedelta(minutes=10), hour(25), "filled", 6, 6, 1, 3),
    Win(W1, 2051, hour(-10), hour(-9), "filled", 6, 6, 1),  # before the week
    Win(W1, 2061, hour(-2), hour(2), "partly_filled", 5, 2, 2),  # across its start
    Win(G2, 2051, hour(160), hour(161), "given_up", 12, 0, 3),
    Win(W3, 2051, END, END + timedelta(hours=1), "open", 6, 0, 0),  # after the week
    Win(W4, 2051, hour(40), hour(41), "open", 6, 0, 0),  # an inactive station
)


def alarm_of(mn: str, code: str, rule: str, opened: datetime) -> str:
    return f"{mn}/{code}/{rule}/{opened:%Y%m%d%H%M%S}"


A_OVER = alarm_of(W1, "w01018", "over_limit", hour(5))  # JIA: the whole story in the week
A_OFFLINE = alarm_of(W1, "", "offline", hour(-24))  # JIA: from before the week
A_W3 = alarm_of(W3, "w01018", "spike", hour(40))  # YI: not in the alarms table (no matter)
A_W4 = alarm_of(W4, "", "offline", hour(30))  # an inactive station
A_W5 = alarm_of(W5, "", "missing", hour(100))  # BING
A_NOWHERE = "RPTNOWHERE00000000000009//offline/20261124000000"  # no such station


@dataclass(frozen=True)
class Ev:
    """A ledger event (``ledger_events``); ``ms`` is the millisecond within ``at``."""

    stream: str
    record_id: str
    seq: int
    kind: str
    actor: str
    at: datetime
    payload: dict[str, Any]
    ms: int = 0

    @property
    def at_ms(self) -> int:
        return unix_s_from_local(self.at) * 1000 + self.ms

    def row(self) -> dict[str, Any]:
        from pipeline.ledger.codec import payload_json  # the writer's JSON: compact, UTF-8
        return {"stream": self.stream, "record_id": self.record_id, "seq": self.seq,
                "request_id": f"{self.stream}-{self.record_id}-{self.seq}",
                "kind": self.kind, "actor": self.actor, "at": self.at,
                "at_ms": self.at_ms, "payload": payload_json(self.payload), "source": "web"}


def _m(i: int, minutes: int) -> datetime:
    return hour(i) + timedelta(minutes=minutes)


EVENTS = (
    # the over-limit episode of W1: acknowledged, the enterprise phoned, dispatched,
    # resolved, closed; a comment (not a report line) between
    Ev("alarm", A_OVER, 1, "ack", "zhang.wei", _m(5, 4), {}, 250),
    Ev("alarm", A_OVER, 2, "notify", "zhang.wei", _m(5, 10),
       {"channel": "phone", "receiver": "", "recipient": "王工",
        "text": "COD 超标，请排查"}, 100),
    Ev("alarm", A_OVER, 3, "comment", "zhang.wei", _m(5, 12), {"text": "已电话联系"}),
    Ev("alarm", A_OVER, 4, "dispatch", "zhang.wei", _m(5, 15),
       {"work_order_id": "WO-20261123-001", "engineer": "li.na", "region": JS}),
    Ev("alarm", A_OVER, 5, "resolve", "zhang.wei", _m(10, 5),
       {"verification": "10:00 起小时均值回到限值内"}),
    Ev("alarm", A_OVER, 6, "close", "zhang.wei", _m(10, 10), {}),
    # the work order opened by that dispatch, in the same millisecond as the dispatch
    Ev("work_order", "WO-20261123-001", 1, "open", "zhang.wei", _m(5, 15),
       {"source": "alarm", "alarm_id": A_OVER, "station": W1, "engineer": "li.na",
        "stops_system": False}),
    Ev("work_order", "WO-20261123-001", 2, "assign", "zhang.wei", _m(5, 15),
       {"engineer": "li.na"}),
    Ev("work_order", "WO-20261123-001", 3, "arrive", "li.na", _m(7, 2), {}, 999),
    Ev("work_order", "WO-20261123-001", 4, "resolve", "li.na", _m(9, 30),
       {"cause": "采样管堵塞", "action": "疏通采样管并校准", "result": "数据恢复正常",
        "report": ""}),
    Ev("work_order", "WO-20261123-001", 5, "verify", "zhang.wei", _m(10, 1),
       {"verification": "ok"}),
    Ev("work_order", "WO-20261123-001", 6, "close", "zhang.wei", _m(10, 20), {}),
    # the offline episode from before the week: its ack is before the week, the robot's
    # notification inside; its work order opened before the week resolves inside and
    # closes at the week's end (outside: [start, end))
    Ev("alarm", A_OFFLINE, 1, "ack", "zhang.wei", _m(-23, 0), {}),
    Ev("alarm", A_OFFLINE, 2, "notify", "system:notify", _m(2, 0),
       {"channel": "wecom", "receiver": "甲化工环保群", "recipient": "", "text": "离线"}),
    Ev("alarm", A_OFFLINE, 3, "dispatch", "zhang.wei", _m(-20, 0),
       {"work_order_id": "WO-20261122-007", "engineer": "li.na", "region": JS}),
    Ev("work_order", "WO-20261122-007", 1, "open", "zhang.wei", _m(-20, 0),
       {"source": "alarm", "alarm_id": A_OFFLINE, "engineer": "li.na"}),
    Ev("work_order", "WO-20261122-007", 2, "arrive", "li.na", _m(-10, 0), {}),
    Ev("work_order", "WO-20261122-007", 3, "resolve", "li.na", _m(3, 0),
       {"cause": "数采仪断电", "action": "", "result": "已恢复上传"}),
    Ev("work_order", "WO-20261122-007", 4, "close", "zhang.wei", END, {}),
    # YI: an operator the users table does not know
    Ev("alarm", A_W3, 1, "ack", "wang.wu", _m(40, 30), {}),
    # an inactive station's alarm, and an alarm id naming no station
    Ev("alarm", A_W4, 1, "ack", "zhang.wei", _m(31, 0), {}),
    Ev("alarm", A_NOWHERE, 1, "ack", "zhang.wei", _m(31, 0), {}),
    # BING: dispatched to an engineer without an account; the order's arrival
    Ev("alarm", A_W5, 1, "ack", "zhang.wei", _m(100, 20), {}),
    Ev("alarm", A_W5, 2, "dispatch", "zhang.wei", _m(100, 40),
       {"work_order_id": "WO-20261127-003", "engineer": "zhao.liu", "region": ZM}),
    Ev("work_order", "WO-20261127-003", 1, "open", "zhang.wei", _m(100, 40),
       {"source": "alarm", "alarm_id": A_W5, "engineer": "zhao.liu"}),
    Ev("work_order", "WO-20261127-003", 2, "arrive", "zhao.liu", _m(101, 5), {}),
    # a phone call's work order names no alarm; another stream's 'close'
    Ev("work_order", "WO-20261124-002", 1, "open", "zhang.wei", _m(20, 0),
       {"source": "phone", "caller": "王工", "station": W1}),
    Ev("work_order", "WO-20261124-002", 2, "arrive", "li.na", _m(22, 0), {}),
    Ev("inspection", "IN-1", 1, "close", "li.na", _m(22, 0), {"alarm_id": A_OVER}),
)
#: a twin of an appended event (a replayed write): read once
EVENT_TWIN = EVENTS[1]


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    version: int

    def row(self) -> dict[str, Any]:
        return {"username": self.username, "display_name": self.display_name,
                "roles": ["duty_operator"], "regions": [], "password_hash": "$argon2id$x",
                "active": 1, "changed_by": "test", "changed_at": START - timedelta(days=9),
                "version": self.version}


USERS = (User("zhang.wei", "张伟", 1), User("li.na", "李 娜", 1), User("li.na", "李娜", 2))


# --- writing the seed ----------------------------------------------------------------------


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    def value(v: Any) -> Any:
        return unix_s_from_local(v) if isinstance(v, datetime) else v
    return {name: [value(r[name]) for r in rows] for name in rows[0]}


def seed(ch: Any) -> None:
    """Insert the seed (each batch its own insert, so FINAL has parts to merge)."""
    batches: list[tuple[str, list[Any]]] = [
        ("stations", [s for s in STATIONS if s.version == 1]),
        ("stations", [s for s in STATIONS if s.version == 2]),
        ("completeness", COMPLETENESS_1), ("completeness", COMPLETENESS_2),
        ("readings", READINGS_1), ("readings", READINGS_2),
        ("limits", [x for x in LIMITS if x.version == 1]),
        ("limits", [x for x in LIMITS if x.version == 2]),
        ("alarms", [a for a in ALARMS if a.version == 1]),
        ("alarms", [a for a in ALARMS if a.version == 2]),
    ]
    batches += [("missing_windows", [w for w in WINDOWS if w.version == v]) for v in (1, 2, 3)]
    batches += [("ledger_events", list(EVENTS)), ("ledger_events", [EVENT_TWIN]),
                ("users", [u for u in USERS if u.version == 1]),
                ("users", [u for u in USERS if u.version == 2])]
    for table, items in batches:
        ch.insert_columns(table, _columns([x.row() for x in items]))


# --- expected answers, in Python ---------------------------------------------------------

Scope = tuple[str, ...] | None


def scope_params(scope: Scope) -> dict[str, Any]:
    return {"all_regions": 1 if scope is None else 0, "regions": scope or ("",)}


def final_stations() -> dict[str, Stn]:
    out: dict[str, Stn] = {}
    for s in STATIONS:
        if s.mn not in out or s.version > out[s.mn].version:
            out[s.mn] = s
    return out


def covered(scope: Scope, enterprise: str) -> dict[str, Stn]:
    """The active stations of the scope and enterprise ('' = all)."""
    return {mn: s for mn, s in final_stations().items()
            if s.active and (scope is None or s.region in scope)
            and (not enterprise or s.enterprise == enterprise)}


def expected_enterprises(scope: Scope) -> list[dict[str, Any]]:
    groups: dict[str, list[Stn]] = {}
    for s in covered(scope, "").values():
        groups.setdefault(s.enterprise, []).append(s)
    return [{"enterprise": e, "provinces": "、".join(sorted({s.province for s in ss})),
             "regions_of": "、".join(sorted({s.region for s in ss})), "stations": len(ss)}
            for e, ss in sorted(groups.items())]


def expected_stations(scope: Scope, enterprise: str) -> list[dict[str, Any]]:
    rows = [{"mn": s.mn, "enterprise": s.enterprise, "outlet": s.outlet,
             "province": s.province, "region": s.region, "st": s.row()["st"],
             "min_interval": s.min_interval} for s in covered(scope, enterprise).values()]
    return sorted(rows, key=lambda r: (r["enterprise"], r["outlet"], r["mn"]))


def expected_station_days(start: datetime, end: datetime, scope: Scope,
                          enterprise: str) -> list[dict[str, Any]]:
    newest: dict[tuple[Any, ...], Comp] = {}
    for c in COMPLETENESS_1 + COMPLETENESS_2:
        key = (c.mn, c.period, c.code, c.period_start)
        if key not in newest or c.version > newest[key].version:
            newest[key] = c
    mns = covered(scope, enterprise)
    sums: dict[tuple[str, int], list[int]] = {}
    for c in newest.values():
        if (c.period == "hour" and c.code == "" and start <= c.period_start < end
                and c.mn in mns):
            day = int((c.period_start - start).total_seconds()) // 86400
            acc = sums.setdefault((c.mn, day), [0, 0, 0])
            acc[0] += min(c.received, c.expected)
            acc[1] += c.valid
            acc[2] += 1
    return [{"mn": mn, "day": day, "received_sum": a[0], "valid_sum": a[1],
             "hours_with_rows": a[2]} for (mn, day), a in sorted(sums.items())]


def _finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))


def final_readings() -> dict[tuple[Any, ...], Rd]:
    out: dict[tuple[Any, ...], Rd] = {}
    for r in READINGS_1 + READINGS_2:
        key = (r.mn, r.cn, r.code, r.data_time)
        if key not in out or r.received > out[key].received:
            out[key] = r
    return out


def expected_over_limit(start: datetime, end: datetime, scope: Scope,
                        enterprise: str) -> list[dict[str, Any]]:
    limits: dict[tuple[str, str], Lim] = {}
    for lim in LIMITS:
        key = (lim.mn, lim.code)
        if key not in limits or lim.version > limits[key].version:
            limits[key] = lim
    mns = covered(scope, enterprise)
    hits: dict[tuple[str, str], list[tuple[datetime, float, bool]]] = {}
    for r in final_readings().values():
        lim = limits.get((r.mn, r.code))
        if (r.cn != 2061 or not start <= r.data_time < end or r.mn not in mns
                or lim is None or not lim.active):
            continue
        if r.flag not in ("N", "") or not _finite(r.avg) or r.avg < 0:
            continue
        if (_finite(lim.range_high) and r.avg > lim.range_high) or (
                _finite(lim.range_low) and r.avg < lim.range_low):
            continue
        v = r.zs_avg if lim.basis == "zs_avg" and _finite(r.zs_avg) else r.avg
        high = _finite(lim.high) and v > lim.high
        low = _finite(lim.low) and v < lim.low
        if high or low:
            hits.setdefault((r.mn, r.code), []).append((r.data_time, v, high))
    out = []
    for (mn, code), hs in sorted(hits.items()):
        lim = limits[(mn, code)]
        out.append({"mn": mn, "code": code, "unit_of": lim.unit, "limit_hi": lim.high,
                    "limit_lo": lim.low, "basis_of": lim.basis, "hours_over": len(hs),
                    "hours_high": sum(h for _, _, h in hs),
                    "hours_low": sum(not h for _, _, h in hs),
                    "max_value": max(v for _, v, _ in hs), "min_value": min(v for _, v, _ in hs),
                    "first_hour": min(t for t, _, _ in hs), "last_hour": max(t for t, _, _ in hs)})
    return out


def final_alarms() -> list[Al]:
    out: dict[tuple[Any, ...], Al] = {}
    for a in ALARMS:
        key = (a.mn, a.code, a.rule, a.opened_at)
        if key not in out or a.version > out[key].version:
            out[key] = a
    return list(out.values())


def expected_alarms(start: datetime, end: datetime, scope: Scope,
                    enterprise: str) -> list[dict[str, Any]]:
    mns = covered(scope, enterprise)
    keep = []
    for a in final_alarms():
        row = a.row()
        if (a.opened_at < end and a.mn in mns
                and (a.state != "cleared" or (a.cleared_at or row["last_seen"]) >= start)):
            keep.append({k: row[k] for k in (
                "alarm_id", "mn", "cn", "code", "rule", "severity", "state", "opened_at",
                "last_seen", "cleared_at", "occurrences", "message")})
    return sorted(keep, key=lambda r: (r["mn"], r["opened_at"], r["alarm_id"]))


def expected_windows(start: datetime, end: datetime, scope: Scope,
                     enterprise: str) -> list[dict[str, Any]]:
    newest: dict[tuple[Any, ...], Win] = {}
    for w in WINDOWS:
        key = (w.mn, w.cn, w.start)
        if key not in newest or w.version > newest[key].version:
            newest[key] = w
    mns = covered(scope, enterprise)
    out = []
    for w in newest.values():
        if w.start < end and w.end >= start and w.mn in mns:
            row = w.row()
            out.append({k: row[k] for k in (
                "mn", "cn", "window_start", "window_end", "state", "expected", "received",
                "requests", "last_request_at", "detected_at", "updated_at")})
    return sorted(out, key=lambda r: (r["mn"], r["cn"], r["window_start"]))


#: the kinds the report tells, per stream
ALARM_KINDS = {"ack", "notify", "dispatch", "resolve", "close"}
ORDER_KINDS = {"arrive", "resolve", "close"}
PAYLOAD_FIELDS = {"channel": "channel", "receiver": "receiver", "recipient": "recipient",
                  "work_order_id": "work_order_id", "engineer": "engineer",
                  "verification": "verification", "cause": "cause",
                  "action_taken": "action", "result": "result"}


def expected_actions(start: datetime, end: datetime, scope: Scope,
                     enterprise: str) -> list[dict[str, Any]]:
    names: dict[str, User] = {}
    for u in USERS:
        if u.username not in names or u.version > names[u.username].version:
            names[u.username] = u

    def name(user: str) -> str:
        return names[user].display_name if user in names else ""

    events: dict[tuple[str, str, int], Ev] = {}
    for e in (*EVENTS, EVENT_TWIN):
        events.setdefault((e.stream, e.record_id, e.seq), e)
    order_alarm = {e.record_id: str(e.payload.get("alarm_id", ""))
                   for e in events.values() if e.stream == "work_order" and e.kind == "open"}
    mns = covered(scope, enterprise)
    out = []
    for e in events.values():
        if not start <= e.at < end:
            continue
        if e.stream == "alarm" and e.kind in ALARM_KINDS:
            alarm_id = e.record_id
        elif e.stream == "work_order" and e.kind in ORDER_KINDS:
            alarm_id = order_alarm.get(e.record_id, "")
        else:
            continue
        if alarm_id.split("/")[0] not in mns:
            continue
        row = {"alarm_id": alarm_id, "stream": e.stream, "record_id": e.record_id,
               "seq": e.seq, "kind": e.kind, "actor": e.actor, "actor_name": name(e.actor),
               "at": e.at, "at_ms": e.at_ms}
        row.update({col: str(e.payload.get(key, "")) for col, key in PAYLOAD_FIELDS.items()})
        row["engineer_name"] = name(row["engineer"])
        out.append(row)
    return sorted(out, key=lambda r: (r["alarm_id"], r["at_ms"], r["stream"],
                                      r["record_id"], r["seq"]))


def checks() -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(id, query, params, expected rows) for every report query, scope and enterprise."""
    out = []
    for label, scope in (("all", None), ("js", (JS,)), ("jj+zm", (JJ, ZM))):
        sp = scope_params(scope)
        out.append((f"enterprises-{label}", "report_enterprises", sp,
                    expected_enterprises(scope)))
        for enterprise in ("", JIA, YI, "无此企业"):
            p = {"enterprise": enterprise, **sp}
            w = {"start": START, "end": END, **p}
            tag = f"{label}-{enterprise or 'every'}"
            out += [
                (f"stations-{tag}", "report_stations", p, expected_stations(scope, enterprise)),
                (f"days-{tag}", "report_station_days", w,
                 expected_station_days(START, END, scope, enterprise)),
                (f"over-{tag}", "report_over_limit", w,
                 expected_over_limit(START, END, scope, enterprise)),
                (f"alarms-{tag}", "report_alarms", w,
                 expected_alarms(START, END, scope, enterprise)),
                (f"windows-{tag}", "report_missing_windows", w,
                 expected_windows(START, END, scope, enterprise)),
                (f"actions-{tag}", "report_actions", w,
                 expected_actions(START, END, scope, enterprise)),
            ]
    # a week still running: the hours counted end early
    mid = START + timedelta(days=2, hours=7)
    out.append(("days-running", "report_station_days",
                {"start": START, "end": mid, "enterprise": "", **scope_params(None)},
                expected_station_days(START, mid, None, "")))
    return out


CHECKS = checks()


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_report") as conn:
        migrate(conn)
        seed(conn)
        yield conn


def test_the_seed_exercises_every_case():
    """Guards against a seed that proves nothing: each check that should find rows does."""
    by_id = {c[0]: c[3] for c in CHECKS}
    over = by_id["over-all-every"]
    assert {(r["mn"], r["code"]) for r in over} == {(W1, "w01018"), (W1, "w01001"),
                                                    (G2, "a21026"), (W5, "w01018")}
    assert any(r["hours_low"] for r in over) and any(r["hours_high"] for r in over)
    assert {r["rule"] for r in by_id["alarms-all-every"]} >= {"offline", "negative"}
    assert len(by_id["windows-all-every"]) == 3  # three windows in or across the week
    assert by_id["stations-js-乙水务有限公司"] == []
    assert [r["enterprise"] for r in by_id["enterprises-all"]] == sorted([JIA, YI, BING])
    acts = by_id["actions-all-every"]
    assert {r["alarm_id"] for r in acts} == {A_OVER, A_OFFLINE, A_W3, A_W5}
    assert {(r["stream"], r["kind"]) for r in acts} == {
        ("alarm", k) for k in ALARM_KINDS} | {("work_order", k) for k in ORDER_KINDS}
    assert {"李娜", "张伟", ""} <= {r["actor_name"] for r in acts}  # newest name; unknown
    assert {r["alarm_id"] for r in by_id["actions-js-every"]} == {A_OVER, A_OFFLINE}
    assert [r["kind"] for r in by_id["actions-all-乙水务有限公司"]] == ["ack"]


@pytest.mark.parametrize(("query", "params", "expected"),
                         [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS])
def test_report_query(chdb, query, params, expected):
    got = canon_rows(queries.run(chdb, query, **params))
    assert got == canon_rows(expected)
