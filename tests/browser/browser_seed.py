"""A small, realistic day for the browser suite: a registry in three service regions,
frames (HJ 212 bytes through pipeline.store.frame_rows.FrameSink, so frames and readings
are what the workers would store), today's completeness through the workers' refresh,
and alarm episodes; plus one user per role through admin.accounts.

Times are relative to ``now`` (China Standard Time), so the overview's "last hour" and
"today" have something in them whenever the suite runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import hj212

from admin.accounts import Accounts, Role
from pipeline.config import Settings
from pipeline.store import completeness
from pipeline.store.client import ClickHouse
from pipeline.store.completeness import Period
from pipeline.store.frame_rows import FrameSink
from pipeline.timebase import unix_from_local, version_ms

JS, JJ, YG = "苏皖沪", "京津冀鲁", "粤桂湘琼鄂"
PASSWORD = "Browser-Suite-2024!"  # every seeded user's; long enough for the policy


@dataclass(frozen=True)
class SeedStation:
    mn: str
    enterprise: str
    outlet: str
    province: str
    region: str
    rtd_interval: int
    min_interval: int
    behaviour: str  # ok, flaky (gaps, flags, rejects), offline (quiet for 2 h), silent

    def row(self, version: int) -> dict[str, Any]:
        return {"mn": self.mn, "pw": "123456", "enterprise": self.enterprise,
                "outlet": self.outlet, "st": "32", "edition": 2017,
                "province": self.province, "region": self.region,
                "rtd_interval": self.rtd_interval, "min_interval": self.min_interval,
                "active": 1, "updated_at": int(version / 1000), "version": version}


STATIONS = (
    SeedStation("BRW000000000000000000001", "苏州清源污水处理厂", "DW001 废水总排口", "江苏",
                JS, 30, 10, "ok"),
    SeedStation("BRW000000000000000000002", "合肥东风热电有限公司", "DW002 废水排口", "安徽",
                JS, 30, 10, "flaky"),
    SeedStation("BRW000000000000000000003", "济南北方化工有限公司", "DW001 废水总排口", "山东",
                JJ, 30, 10, "ok"),
    SeedStation("BRW000000000000000000004", "天津滨海制药有限公司", "DW001 废水总排口", "天津",
                JJ, 60, 10, "offline"),
    SeedStation("BRW000000000000000000005", "广州珠江纸业有限公司", "DW003 废水排口", "广东",
                YG, 30, 10, "flaky"),
    SeedStation("BRW000000000000000000006", "南宁红水河糖业有限公司", "DW001 废水总排口", "广西",
                YG, 30, 10, "silent"),
)
BY_MN = {s.mn: s for s in STATIONS}

#: (username, display name, roles, regions): one user per role
USERS: tuple[tuple[str, str, tuple[Role, ...], tuple[str, ...]], ...] = (
    ("admin", "管理员 Admin", (Role.ADMIN,), ()),
    ("duty", "值守员 王芳", (Role.DUTY_OPERATOR,), ()),
    ("supervisor", "值守主管 李强", (Role.DUTY_SUPERVISOR,), ()),
    ("engineer", "驻地工程师 赵磊", (Role.FIELD_ENGINEER,), (JJ,)),
    ("quality", "质量管理 陈静", (Role.QUALITY,), ()),
    ("analyst", "分析 刘洋", (Role.ANALYST,), ()),
)


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%d%H%M%S")


def _frame(station: SeedStation, cn: int, data_time: datetime, values: dict[str, float],
           flag: str = "N") -> bytes:
    parts = [f"DataTime={_stamp(data_time)}"]
    suffix = "Rtd" if cn == 2011 else "Avg"
    for code, value in values.items():
        parts.append(f"{code}-{suffix}={value:.2f},{code}-Flag={flag}")
    return hj212.encode(cn=cn, st=32, mn=station.mn, pw="123456", flag=4,
                        qn=_stamp(data_time) + "000", cp=";".join(parts))


def _damaged(raw: bytes) -> bytes:
    """The frame with a wrong CRC (its last four hex digits before CR LF)."""
    body, crc = raw[:-6], raw[-6:-2]
    return body + (b"0000" if crc != b"0000" else b"FFFF") + b"\r\n"


@dataclass
class Seeded:
    now: datetime
    frames: int
    readings: int
    rejected: int
    completeness_rows: int
    alarms: int


def seed(ch: ClickHouse, settings: Settings, now: datetime) -> Seeded:
    """Write the day; ``now`` is naive CST."""
    now = now.replace(microsecond=0)
    version = version_ms()
    ch.insert_columns("stations", _columns([s.row(version) for s in STATIONS]))

    raws: list[bytes] = []
    received: list[float] = []
    touched: set[tuple[str, Period]] = set()
    day_start = now.replace(hour=0, minute=0, second=0)
    history_start = min(day_start, now - timedelta(hours=3))
    for i, st in enumerate(STATIONS):
        if st.behaviour == "silent":
            continue
        stop = now - timedelta(hours=2) if st.behaviour == "offline" else now
        # minute records: one per MinInterval, sent when the interval ends
        slot = history_start
        n = 0
        while slot + timedelta(minutes=st.min_interval) <= stop:
            n += 1
            if not (st.behaviour == "flaky" and n % 3 == 0):
                flag = "D" if st.behaviour == "flaky" and n % 5 == 0 else "N"
                cod = 20.0 + 5.0 * math.sin(n / 7.0 + i)
                raws.append(_frame(st, 2051, slot, {"w01018": cod, "w01001": 7.2}, flag))
                received.append(unix_from_local(slot + timedelta(minutes=st.min_interval)))
                hour = slot.replace(minute=0, second=0)
                touched.add((st.mn, Period("hour", int(unix_from_local(hour)))))
            slot += timedelta(minutes=st.min_interval)
        # real-time records every minute of the last hour (the frames-per-minute chart)
        t = max(now - timedelta(minutes=65), history_start)
        k = 0
        while t + timedelta(seconds=1) <= stop:
            k += 1
            raw = _frame(st, 2011, t, {"w01018": 20.0 + (k % 7), "w01001": 7.1})
            if st.behaviour == "flaky" and k % 6 == 0:
                raw = _damaged(raw)  # rejected by the codec: a CRC error
            raws.append(raw)
            received.append(unix_from_local(t + timedelta(seconds=1)))
            t += timedelta(minutes=1)
    result = FrameSink(ch).write(raws, received, gateway="gw-browser", peer="127.0.0.1:40000")

    rows = completeness.refresh(ch, touched, {s.mn: s.min_interval for s in STATIONS})
    alarms = _alarms(now, version)
    ch.insert_columns("alarms", _columns(alarms))
    return Seeded(now=now, frames=result.frames, readings=result.readings,
                  rejected=result.rejected, completeness_rows=rows, alarms=len(alarms))


def _alarms(now: datetime, version: int) -> list[dict[str, Any]]:
    def row(mn: str, code: str, rule: str, severity: str, opened: datetime,
            state: str = "open") -> dict[str, Any]:
        cleared = state == "cleared"
        return {"alarm_id": f"{mn}/{code}/{rule}/{_stamp(opened)}", "mn": mn, "cn": 2051,
                "code": code, "rule": rule, "severity": severity, "state": state,
                "opened_at": int(unix_from_local(opened)),
                "last_seen": int(unix_from_local(now - timedelta(minutes=1))),
                "cleared_at": int(unix_from_local(now - timedelta(minutes=1)))
                if cleared else None,
                "occurrences": 2, "value": 120.0, "threshold": 100.0,
                "message": f"{BY_MN[mn].enterprise} {code or '站点'} {rule}",
                "evidence": "{}", "version": version}

    s = [st.mn for st in STATIONS]
    return [
        row(s[1], "w01018", "over_limit", "critical", now - timedelta(minutes=50)),
        row(s[3], "", "offline", "major", now - timedelta(minutes=105)),
        row(s[4], "w01018", "constant", "warning", now - timedelta(minutes=30)),
        row(s[0], "", "missing", "warning", now - timedelta(minutes=20)),
        row(s[2], "w01001", "negative", "warning", now - timedelta(minutes=40), "cleared"),
        row(s[2], "w01018", "spike", "info", now - timedelta(minutes=10)),
    ]


def add_users(ch: ClickHouse, settings: Settings) -> None:
    accounts = Accounts(ch, settings)
    for username, display, roles, regions in USERS:
        accounts.add("browser-suite", username, display, roles, regions, PASSWORD,
                     source="test")


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [r[name] for r in rows] for name in rows[0]}
