"""Stations and limits in ClickHouse (tables ``stations`` and ``limits``, migration 003;
each station's CRC variants in ``station_crc_variants``, migration 008).

Every write carries a fresh version (milliseconds since the epoch), so the newest row per
key wins under ReplacingMergeTree; reads use FINAL so they see exactly that row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pipeline.registry.model import Limit, Station, format_crc_variants, parse_crc_variants
from pipeline.store.client import ClickHouse
from pipeline.timebase import version_ms


def write_stations(ch: ClickHouse, stations: Sequence[Station], version: int | None = None
                   ) -> int:
    if not stations:
        return 0
    v = version or version_ms()
    now = int(time.time())
    # every station gets its row (an empty one clears what an earlier import allowed);
    # written first, so a failure part way leaves no station without its variants row
    ch.insert_columns("station_crc_variants", {
        "mn": [s.mn for s in stations],
        "crc_variants": [format_crc_variants(s.crc_variants) for s in stations],
        "updated_at": [now] * len(stations),
        "version": [v] * len(stations),
    })
    return ch.insert_columns("stations", {
        "mn": [s.mn for s in stations],
        "pw": [s.pw for s in stations],
        "enterprise": [s.enterprise for s in stations],
        "outlet": [s.outlet for s in stations],
        "st": [s.st for s in stations],
        "edition": [s.edition for s in stations],
        "province": [s.province for s in stations],
        "region": [s.region for s in stations],
        "rtd_interval": [s.rtd_interval for s in stations],
        "min_interval": [s.min_interval for s in stations],
        "active": [int(s.active) for s in stations],
        "updated_at": [now] * len(stations),
        "version": [v] * len(stations),
    })


def write_limits(ch: ClickHouse, limits: Sequence[Limit], version: int | None = None) -> int:
    if not limits:
        return 0
    v = version or version_ms()
    now = int(time.time())
    return ch.insert_columns("limits", {
        "mn": [x.mn for x in limits],
        "code": [x.code for x in limits],
        "limit_low": [x.limit_low for x in limits],
        "limit_high": [x.limit_high for x in limits],
        "basis": [x.basis for x in limits],
        "range_low": [x.range_low for x in limits],
        "range_high": [x.range_high for x in limits],
        "unit": [x.unit for x in limits],
        "active": [int(x.active) for x in limits],
        "updated_at": [now] * len(limits),
        "version": [v] * len(limits),
    })


def read_stations(ch: ClickHouse, *, active_only: bool = False) -> list[Station]:
    where = "WHERE active = 1" if active_only else ""
    # a station without a variants row (written before migration 008) reads as ''
    rows = ch.execute(
        "SELECT mn, pw, enterprise, outlet, st, edition, province, region, rtd_interval, "
        "min_interval, active, crc_variants FROM stations FINAL "
        "ANY LEFT JOIN (SELECT mn, crc_variants FROM station_crc_variants FINAL) AS v "
        f"USING mn {where} ORDER BY mn")
    return [Station(mn=r[0], pw=r[1], enterprise=r[2], outlet=r[3], st=r[4], edition=int(r[5]),
                    province=r[6], region=r[7], rtd_interval=int(r[8]),
                    min_interval=int(r[9]), active=bool(r[10]),
                    crc_variants=parse_crc_variants(r[11])) for r in rows]


def read_limits(ch: ClickHouse, *, active_only: bool = False) -> list[Limit]:
    where = "WHERE active = 1" if active_only else ""
    rows = ch.execute(
        "SELECT mn, code, limit_low, limit_high, basis, range_low, range_high, unit, active "
        f"FROM limits FINAL {where} ORDER BY mn, code")
    return [Limit(mn=r[0], code=r[1], limit_low=float(r[2]), limit_high=float(r[3]),
                  basis=r[4], range_low=float(r[5]), range_high=float(r[6]), unit=r[7],
                  active=bool(r[8])) for r in rows]


def known_mns(ch: ClickHouse) -> set[str]:
    return {r[0] for r in ch.execute("SELECT DISTINCT mn FROM stations")}
