"""A page's table as a download: CSV that Excel opens with its Chinese intact, and an
Excel workbook. No Streamlit here, so tests read both back.

A table is what the pages draw: a list of dicts (column order = key order) with rates as
percentages 0-100 in the ``percent`` columns. The CSV writes every cell as the page shows
it (``cell_text``), so the file and the page agree to the digit; the workbook keeps
numbers as numbers (rates as fractions with a percent format, which Excel shows as the
page does).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from openpyxl import Workbook  # type: ignore[import-untyped,unused-ignore]
from openpyxl.styles import (  # type: ignore[import-untyped,unused-ignore]
    Alignment,
    Font,
)
from openpyxl.utils import (  # type: ignore[import-untyped,unused-ignore]
    get_column_letter,
)

from pipeline.timebase import to_local

CSV_MIME: Final = "text/csv"
XLSX_MIME: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PERCENT_FORMAT: Final = "0.0%"
#: characters, not points: Excel's column width unit
MAX_WIDTH: Final = 60
MIN_WIDTH: Final = 6


def columns(rows: Sequence[Mapping[str, Any]], headers: Mapping[str, str]) -> list[str]:
    """The table's keys: those of its first row, or (no row) those of ``headers``."""
    return list(rows[0]) if rows else list(headers)


def cell_text(value: Any, percent: bool = False) -> str:
    """A cell as the page shows it: rates with one decimal and a % sign, times as CST
    wall-clock text, nothing for None."""
    if value is None:
        return ""
    if percent and isinstance(value, int | float):
        return f"{value:.1f}%"
    if isinstance(value, datetime):
        return _naive(value).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(rows: Sequence[Mapping[str, Any]], headers: Mapping[str, str],
           percent: Iterable[str] = ()) -> bytes:
    """UTF-8 with a byte-order mark: without it Excel reads the bytes as the system's
    code page and the Chinese turns to mojibake."""
    keys = columns(rows, headers)
    pct = frozenset(percent)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([headers.get(k, k) for k in keys])
    for row in rows:
        w.writerow([cell_text(row.get(k), k in pct) for k in keys])
    return buf.getvalue().encode("utf-8-sig")


def to_xlsx(rows: Sequence[Mapping[str, Any]], headers: Mapping[str, str],
            percent: Iterable[str] = (), sheet: str = "data") -> bytes:
    """One sheet: a bold, frozen header row, columns as wide as their text (CJK counted
    twice), rates as fractions shown as percentages."""
    keys = columns(rows, headers)
    pct = frozenset(percent)
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook has its sheet
    ws.title = _sheet_title(sheet)
    ws.append([headers.get(k, k) for k in keys])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(vertical="center")
    ws.freeze_panes = "A2"
    widths = [_width(headers.get(k, k)) for k in keys]
    for r, row in enumerate(rows, start=2):
        for c, k in enumerate(keys, start=1):
            value = row.get(k)
            cell = ws.cell(row=r, column=c, value=_xlsx_value(value, k in pct))
            if k in pct and isinstance(value, int | float):
                cell.number_format = PERCENT_FORMAT
            elif isinstance(value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(value, date):
                cell.number_format = "yyyy-mm-dd"
            widths[c - 1] = max(widths[c - 1], _width(cell_text(value, k in pct)))
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = min(max(width + 2, MIN_WIDTH),
                                                               MAX_WIDTH)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def file_name(page: str, level: str, period: str, ext: str) -> str:
    """``<page>_<level>_<period>.<ext>``, with only characters every file system takes."""
    parts = [re.sub(r"[^0-9A-Za-z._-]+", "-", p).strip("-") for p in (page, level, period)]
    return "_".join(p for p in parts if p) + f".{ext}"


def _naive(value: datetime) -> datetime:
    return to_local(value) if value.tzinfo is not None else value


def _xlsx_value(value: Any, percent: bool) -> Any:
    if percent and isinstance(value, int | float):
        return value / 100.0
    if isinstance(value, datetime):
        return _naive(value)  # Excel has no time zones: CST wall-clock time
    return value


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _sheet_title(name: str) -> str:
    # Excel refuses these characters and names over 31 characters
    return re.sub(r"[\[\]:*?/\\]", "-", name)[:31] or "data"
