"""Station and limit CSV files: read with every error reported, write for a round trip.

A file is a stations file or a limits file, told apart by its header (a limits file has
a ``code`` column). A stations file may also have the optional ``crc_variants`` column
(``STATION_OPTIONAL``): the CRC variants the gateway accepts from the station, e.g.
``modbus``; a file without it means none.

Reading checks every row and collects every problem, each naming the file, the line, the
column and the value and saying what is allowed; if there is any,
``CsvImportError`` carries them all and nothing is returned, so an import is all or
nothing. Files exported from Excel on Chinese Windows are often GB18030 rather than
UTF-8; both are read.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pipeline.registry import model
from pipeline.registry.model import Limit, Station

STATION_COLUMNS: tuple[str, ...] = (
    "mn", "pw", "enterprise", "outlet", "st", "edition", "province", "region", "rtd_interval",
    "min_interval", "active")
STATION_REQUIRED: tuple[str, ...] = (
    "mn", "pw", "enterprise", "st", "edition", "province", "rtd_interval", "min_interval")
#: columns a stations file may have besides STATION_COLUMNS; written only when used, so a
#: registry that uses none exports in the same columns as before they existed
STATION_OPTIONAL: tuple[str, ...] = ("crc_variants",)
LIMIT_COLUMNS: tuple[str, ...] = (
    "mn", "code", "limit_low", "limit_high", "basis", "range_low", "range_high", "unit",
    "active")
LIMIT_REQUIRED: tuple[str, ...] = ("mn", "code", "range_low", "range_high", "unit")

_TRUE = {"1", "true", "yes", "y", "是", "t"}
_FALSE = {"0", "false", "no", "n", "否", "f"}


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int  # 1-based line in the file (the header is line 1)
    column: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.column is None:
            return f"{where}: {self.message}"
        return f"{where}: column {self.column}={self.value!r}: {self.message}"


class CsvImportError(ValueError):
    """Every problem found in the files; nothing was imported."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        files = sorted({e.file for e in self.errors})
        head = (f"{len(self.errors)} error{'s' if len(self.errors) != 1 else ''} in "
                f"{', '.join(files)}; nothing was imported. Fix these lines and import again:")
        super().__init__("\n".join([head, *(f"  {e}" for e in self.errors)]))


@dataclass
class Registry:
    stations: list[Station] = field(default_factory=list)
    limits: list[Limit] = field(default_factory=list)


def decode(data: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvImportError([RowError(name, 1, None, None,
                                   "the file is neither UTF-8 nor GB18030 text; save it as "
                                   "CSV UTF-8")])


def read_files(paths: Iterable[Path], known_mns: Iterable[str] = ()) -> Registry:
    """Read stations and limits files; limits may name stations of these files or
    ``known_mns`` (those already in the store). Raises CsvImportError with every error."""
    sources = [(str(p), decode(Path(p).read_bytes(), str(p))) for p in paths]
    return read_texts(sources, known_mns)


def read_texts(sources: Sequence[tuple[str, str]], known_mns: Iterable[str] = ()) -> Registry:
    errors: list[RowError] = []
    reg = Registry()
    station_lines: dict[str, tuple[str, int]] = {}
    limit_rows: list[tuple[str, int, Limit]] = []
    for name, text in sources:
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or not any(cell.strip() for cell in rows[0]):
            errors.append(RowError(name, 1, None, None,
                                   "the file is empty; the first line must be a header "
                                   f"(stations: {','.join(STATION_COLUMNS)}; limits: "
                                   f"{','.join(LIMIT_COLUMNS)})"))
            continue
        header = [h.strip().lower() for h in rows[0]]
        if "code" in header:
            kind, columns, required = "limits", LIMIT_COLUMNS, LIMIT_REQUIRED
        elif "pw" in header or "mn" in header:
            kind, columns, required = ("stations", STATION_COLUMNS + STATION_OPTIONAL,
                                       STATION_REQUIRED)
        else:
            errors.append(RowError(name, 1, None, None,
                                   f"header {','.join(header)} is neither a stations file "
                                   f"({','.join(STATION_COLUMNS)}) nor a limits file "
                                   f"({','.join(LIMIT_COLUMNS)})"))
            continue
        bad = _check_header(name, header, columns, required)
        if bad:
            errors.extend(bad)
            continue
        line = 1
        reader = csv.reader(io.StringIO(text))
        next(reader)
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines are harmless
            if len(cells) != len(header):
                errors.append(RowError(name, line, None, None,
                                       f"{len(cells)} cells but the header has {len(header)}; "
                                       "a value with a comma must be in double quotes"))
                continue
            row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
            if kind == "stations":
                station = _station(name, line, row, errors)
                if station is None:
                    continue
                if station.mn in station_lines:
                    f0, l0 = station_lines[station.mn]
                    errors.append(RowError(name, line, "mn", station.mn,
                                           f"duplicate: the same MN is at {f0}:{l0}; one row "
                                           "per station"))
                    continue
                station_lines[station.mn] = (name, line)
                reg.stations.append(station)
            else:
                limit = _limit(name, line, row, errors)
                if limit is not None:
                    limit_rows.append((name, line, limit))
    known = set(known_mns) | set(station_lines)
    seen: dict[tuple[str, str], tuple[str, int]] = {}
    for name, line, limit in limit_rows:
        key = (limit.mn, limit.code)
        if limit.mn not in known:
            errors.append(RowError(name, line, "mn", limit.mn,
                                   "no such station in this import or in the registry; import "
                                   "its stations row first (or in the same command)"))
        elif key in seen:
            f0, l0 = seen[key]
            errors.append(RowError(name, line, "code", limit.code,
                                   f"duplicate: station {limit.mn} already has limits for "
                                   f"{limit.code} at {f0}:{l0}"))
        else:
            seen[key] = (name, line)
            reg.limits.append(limit)
    if errors:
        raise CsvImportError(errors)
    return reg


def _check_header(name: str, header: list[str], columns: Sequence[str],
                  required: Sequence[str]) -> list[RowError]:
    errors = []
    unknown = [h for h in header if h not in columns]
    missing = [c for c in required if c not in header]
    dup = sorted({h for h in header if header.count(h) > 1})
    if unknown:
        errors.append(RowError(name, 1, None, None,
                               f"unknown column(s) {', '.join(unknown)}; allowed: "
                               f"{', '.join(columns)}"))
    if missing:
        errors.append(RowError(name, 1, None, None,
                               f"missing column(s) {', '.join(missing)}; required: "
                               f"{', '.join(required)}"))
    if dup:
        errors.append(RowError(name, 1, None, None,
                               f"column(s) {', '.join(dup)} appear more than once"))
    return errors


class _Row:
    """Reads typed cells of one row, recording an error per bad cell."""

    def __init__(self, file: str, line: int, row: dict[str, str],
                 errors: list[RowError]) -> None:
        self.file, self.line, self.row, self.errors = file, line, row, errors
        self.ok = True

    def fail(self, column: str, message: str) -> None:
        self.errors.append(RowError(self.file, self.line, column, self.row.get(column, ""),
                                    message))
        self.ok = False

    def text(self, column: str, required: bool = True) -> str:
        value = self.row.get(column, "")
        if required and not value:
            self.fail(column, "a value is required")
        return value

    def integer(self, column: str, default: int | None = None) -> int:
        value = self.row.get(column, "")
        if not value and default is not None:
            return default
        try:
            return int(value)
        except ValueError:
            self.fail(column, "a whole number is required")
            return 0

    def number(self, column: str, *, required: bool) -> float:
        value = self.row.get(column, "")
        if not value:
            if required:
                self.fail(column, "a number is required")
            return math.nan
        try:
            x = float(value)
        except ValueError:
            self.fail(column, "a decimal number is required (leave empty for none)")
            return math.nan
        if not math.isfinite(x):
            self.fail(column, "a finite number is required (leave empty for none)")
            return math.nan
        return x

    def boolean(self, column: str) -> bool:
        value = self.row.get(column, "").lower()
        if not value or value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.fail(column, "1/0, true/false, yes/no or 是/否 (empty: 1)")
        return True

    def check(self, column: str, value: Any, rule: Callable[[Any], str | None]) -> None:
        message = rule(value)
        if message:
            self.fail(column, message)


def _station(file: str, line: int, row: dict[str, str], errors: list[RowError]
             ) -> Station | None:
    r = _Row(file, line, row, errors)
    edition = r.integer("edition")
    if r.ok:
        r.check("edition", edition, model.check_edition)
    mn = r.text("mn")
    if mn and r.ok:
        r.check("mn", mn, lambda v: model.check_mn(v, edition))
    pw = r.text("pw")
    if pw:
        r.check("pw", pw, model.check_pw)
    st = r.text("st")
    if st:
        r.check("st", st, model.check_st)
    enterprise = r.text("enterprise")
    outlet = r.text("outlet", required=False)
    province_text = r.text("province")
    region = r.text("region", required=False)
    province = model.province_name(province_text) if province_text else None
    if province_text and province is None:
        r.fail("province", "not a province of China; use its Chinese name (江苏), pinyin "
                           "(Jiangsu) or English name (Inner Mongolia)")
    if province:
        derived = model.region_of(province)
        if derived is None and not region:
            r.fail("province", f"{province} is in no service region of the seed; give the "
                               "region column explicitly (one of "
                               f"{', '.join(model.REGIONS)})")
        elif region and region not in model.REGIONS:
            r.fail("region", f"not a service region; one of {', '.join(model.REGIONS)}")
        elif region and derived and region != derived:
            r.fail("region", f"{province} belongs to {derived}; leave region empty or write "
                             f"{derived}")
        region = region or derived or ""
    rtd = r.integer("rtd_interval")
    if row.get("rtd_interval"):
        r.check("rtd_interval", rtd, model.check_rtd_interval)
    minutes = r.integer("min_interval")
    if row.get("min_interval"):
        r.check("min_interval", minutes, model.check_min_interval)
    active = r.boolean("active")
    crc_variants = model.parse_crc_variants(row.get("crc_variants", ""))
    r.check("crc_variants", crc_variants, model.check_crc_variants)
    if not r.ok:
        return None
    return Station(mn=mn, pw=pw, enterprise=enterprise, outlet=outlet, st=st, edition=edition,
                   province=province or "", region=region, rtd_interval=rtd,
                   min_interval=minutes, active=active, crc_variants=crc_variants)


def _limit(file: str, line: int, row: dict[str, str], errors: list[RowError]) -> Limit | None:
    r = _Row(file, line, row, errors)
    mn = r.text("mn")
    code = r.text("code")
    if code:
        r.check("code", code, model.check_pollutant_code)
    low = r.number("limit_low", required=False)
    high = r.number("limit_high", required=False)
    basis = row.get("basis", "") or "avg"
    r.check("basis", basis, model.check_basis)
    range_low = r.number("range_low", required=True)
    range_high = r.number("range_high", required=True)
    unit = r.text("unit")
    active = r.boolean("active")
    if math.isfinite(low) and math.isfinite(high) and low > high:
        r.fail("limit_low", f"above limit_high ({high:g}); the lower limit must not exceed "
                            "the upper")
    if math.isfinite(range_low) and math.isfinite(range_high) and range_low >= range_high:
        r.fail("range_low", f"not below range_high ({range_high:g}); the measuring range "
                            "runs from low to high")
    if math.isfinite(high) and math.isfinite(range_high) and high > range_high:
        r.fail("limit_high", f"above the instrument's range_high ({range_high:g}); an "
                             "analyser cannot show an exceedance it cannot measure")
    if not r.ok:
        return None
    return Limit(mn=mn, code=code, limit_low=low, limit_high=high, basis=basis,
                 range_low=range_low, range_high=range_high, unit=unit, active=active)


def _fmt(x: float) -> str:
    return "" if math.isnan(x) else f"{x:g}"


def write_stations(stations: Iterable[Station], fh: TextIO) -> int:
    """STATION_COLUMNS, plus ``crc_variants`` when any station has some."""
    rows = list(stations)
    variants = any(s.crc_variants for s in rows)
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(STATION_COLUMNS + STATION_OPTIONAL if variants else STATION_COLUMNS)
    for s in rows:
        cells: list[object] = [s.mn, s.pw, s.enterprise, s.outlet, s.st, s.edition,
                               s.province, s.region, s.rtd_interval, s.min_interval,
                               int(s.active)]
        if variants:
            cells.append(model.format_crc_variants(s.crc_variants))
        w.writerow(cells)
    return len(rows)


def write_limits(limits: Iterable[Limit], fh: TextIO) -> int:
    w = csv.writer(fh, lineterminator="\n")
    w.writerow(LIMIT_COLUMNS)
    n = 0
    for lim in limits:
        w.writerow([lim.mn, lim.code, _fmt(lim.limit_low), _fmt(lim.limit_high), lim.basis,
                    _fmt(lim.range_low), _fmt(lim.range_high), lim.unit, int(lim.active)])
        n += 1
    return n
