"""dashboards/export.py: the CSV opens in Excel with its Chinese intact (a BOM) and reads
back as the page shows the table; the workbook reads back with the same figures, a
frozen bold header, percent-formatted rates and columns wide enough for their text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook  # type: ignore[import-untyped,unused-ignore]

from dashboards import export
from dashboards.completeness_figures import HEADERS as COMPLETENESS_HEADERS
from dashboards.missing_figures import HEADERS as MISSING_HEADERS
from dashboards.widgets import HEADERS, PERCENT_COLUMNS

ROWS = [
    {"mn": "88888880000001", "enterprise": "甲污水处理厂（一期）", "region": "苏皖沪",
     "expected": 144, "received": 143, "valid": 140, "transmission_rate": 99.30555555,
     "validity_rate": 97.9020979, "transmission_efficiency": 97.2222222},
    {"mn": "88888880000002", "enterprise": 'Quote "and", comma', "region": "未登记 unregistered",
     "expected": 0, "received": 0, "valid": 0, "transmission_rate": 0.0,
     "validity_rate": 0.0, "transmission_efficiency": 0.0},
]
HEAD = {**HEADERS, **COMPLETENESS_HEADERS}


def test_csv_has_a_bom_and_reads_back_as_the_page_shows_it():
    raw = export.to_csv(ROWS, HEAD, PERCENT_COLUMNS)
    assert raw.startswith(b"\xef\xbb\xbf")
    back = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert back[0] == ["MN", "企业 enterprise", "服务区域 region", "应收 expected",
                       "收到 received", "有效 valid", "传输率 rate", "有效率 validity",
                       "传输有效率 efficiency"]
    assert back[1] == ["88888880000001", "甲污水处理厂（一期）", "苏皖沪", "144", "143", "140",
                       "99.3%", "97.9%", "97.2%"]
    assert back[2][1] == 'Quote "and", comma' and back[2][-1] == "0.0%"
    assert len(back) == 3


def test_xlsx_reads_back_with_numbers_percent_formats_a_frozen_header_and_widths():
    wb = load_workbook(io.BytesIO(export.to_xlsx(ROWS, HEAD, PERCENT_COLUMNS,
                                                 sheet="传输有效率")))
    ws = wb.active
    assert ws.title == "传输有效率"
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == [HEAD[k] for k in ROWS[0]]
    assert all(c.font.bold for c in ws[1])
    row = [c for c in ws[2]]
    assert [c.value for c in row[:6]] == ["88888880000001", "甲污水处理厂（一期）", "苏皖沪",
                                          144, 143, 140]
    assert row[8].value == pytest.approx(0.972222222)
    assert {c.number_format for c in row[6:]} == {"0.0%"}
    assert row[3].number_format == "General"
    # the enterprise column fits its Chinese (two columns a character), within bounds
    width = ws.column_dimensions["B"].width
    assert 2 * len("甲污水处理厂（一期）") <= width <= export.MAX_WIDTH
    assert ws.column_dimensions["D"].width >= export.MIN_WIDTH
    assert ws.max_row == 3


def test_times_dates_and_none():
    rows = [{"window_start": datetime(2024, 4, 1, 0, 0, tzinfo=UTC),  # 08:00 CST
             "day": date(2024, 4, 2), "last_request_at": None, "gaps": 3}]
    head = {**HEADERS, **MISSING_HEADERS, **COMPLETENESS_HEADERS}
    back = list(csv.reader(io.StringIO(export.to_csv(rows, head).decode("utf-8-sig"))))
    assert back[1] == ["2024-04-01 08:00:00", "2024-04-02", "", "3"]
    ws = load_workbook(io.BytesIO(export.to_xlsx(rows, head))).active
    assert ws["A2"].value == datetime(2024, 4, 1, 8, 0)
    assert ws["B2"].value.date() == date(2024, 4, 2)
    assert ws["C2"].value is None and ws["D2"].value == 3


def test_an_empty_table_still_has_its_header():
    back = export.to_csv([], {"mn": "MN", "gaps": "缺失段 gaps"}).decode("utf-8-sig")
    assert back == "MN,缺失段 gaps\r\n"
    ws = load_workbook(io.BytesIO(export.to_xlsx([], {"mn": "MN"}))).active
    assert ws.max_row == 1 and ws["A1"].value == "MN"


def test_file_names_hold_page_level_and_period_and_nothing_unsafe():
    assert export.file_name("completeness", "station-hour", "2024-04", "xlsx") == (
        "completeness_station-hour_2024-04.xlsx")
    assert export.file_name("missing", "enterprise-2051", "2024-04-01_2024-04-07", "csv") == (
        "missing_enterprise-2051_2024-04-01_2024-04-07.csv")
    # no folder, no space
    assert export.file_name("a/b", "c d", "../x", "csv") == "a-b_c-d_..-x.csv"
