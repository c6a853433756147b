"""The completeness page (传输有效率): its named queries on current ClickHouse (chDB) against
tests/unit/completeness_seed.py, with answers derived there in Python; the pure figures
(periods, levels, ranking, days); the page under AppTest as an analyst, as a field
engineer who sees his region only, and with ClickHouse down; its downloads equal its
table."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
import streamlit as st
from openpyxl import load_workbook  # type: ignore[import-untyped,unused-ignore]

from dashboards import completeness_figures as fig
from dashboards import completeness_page, data, widgets
from dashboards.widgets import HEADERS, PERCENT_COLUMNS
from pipeline.store import queries
from pipeline.store.client import StoreError
from tests.store_seed import canon_rows
from tests.unit import completeness_seed as cs
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.test_dashboards_app import KeepOpen, app, sign_in, texts

DAY3 = datetime(2024, 4, 3)


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse() as conn:
        migrate(conn)
        cs.seed(conn)
        yield conn


# --- the named queries ------------------------------------------------------------

SCOPES = {"all": None, "js": (cs.JS,), "jj+yg": (cs.JJ, cs.YG)}


def _station_checks() -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    out = []
    for label, scope in SCOPES.items():
        sp = cs.scope_params(scope)
        for period, units, end in (("hour", 24, datetime(2024, 4, 2)),
                                   ("hour", 3 * 24 + 10, cs.END),
                                   ("day", 3, datetime(2024, 4, 4))):
            out.append((f"stations-{label}-{period}-{units}", "completeness_stations",
                        dict(start=cs.START, end=end, period=period, units=units, **sp),
                        cs.expected_stations(cs.START, end, period, units, scope)))
        for period in ("hour", "day"):
            for mn in ("", cs.P1, cs.P5):
                out.append((f"days-{label}-{period}-{mn[-1:] or 'all'}",
                            "completeness_station_days",
                            dict(start=cs.START, end=cs.END, days=cs.DAYS, period=period,
                                 mn=mn, **sp),
                            cs.expected_station_days(cs.START, cs.END, cs.DAYS, period, mn,
                                                     scope)))
    return out


CHECKS = _station_checks()


@pytest.mark.parametrize(("check_id", "name", "params", "want"), CHECKS,
                         ids=[c[0] for c in CHECKS])
def test_named_query(chdb, check_id, name, params, want):
    assert canon_rows(queries.run(chdb, name, **params)) == canon_rows(want)


def test_the_seed_reaches_the_places_that_matter():
    """The expectations are not vacuous: rows over their expected, rewritten rows, a
    station in no range, a deactivated one, a day not begun."""
    comp = cs.final_completeness().values()
    assert any(c.received > c.expected for c in comp if c.code == "")
    assert any(c.version == 2 for c in comp)
    rows = cs.expected_stations(cs.START, cs.END, "hour", 82, None)
    assert {r["mn"] for r in rows} == {cs.P1, cs.P2, cs.P3, cs.P4}
    assert 0 < rows[0]["transmission_efficiency"] < rows[-1]["transmission_efficiency"] < 1
    days = cs.expected_station_days(cs.START, cs.END, cs.DAYS, "day", cs.P1, None)
    assert [d["expected"] for d in days] == [24, 24, 24, 0]  # the 4th has not ended


def test_a_day_gives_the_overviews_figures(chdb):
    """The same day on both pages: the regions of this page (sums of its stations) equal
    the overview's query for those hours."""
    sp = cs.scope_params(None)
    stations = fig.station_table(queries.run(
        chdb, "completeness_stations", start=DAY3, end=datetime(2024, 4, 3, 18),
        period="hour", units=18, **sp))
    ours = {r["region"]: r for r in fig.aggregate(stations, "region")}
    theirs = queries.run(chdb, "overview_efficiency_by_region", start=DAY3,
                         end=datetime(2024, 4, 3, 18), hours=18, **sp)
    assert len(theirs) == len(ours) == 3
    for r in theirs:
        mine = ours[r["region"]]
        assert (mine["expected"], mine["received"], mine["valid"]) == (
            r["expected"], r["received"], r["valid"])
        assert mine["transmission_efficiency"] == pytest.approx(
            100 * r["transmission_efficiency"])


# --- the pure figures -------------------------------------------------------------


def test_periods_count_whole_hours_or_days_only():
    now = datetime(2024, 4, 4, 10, 37, 12)
    assert fig.default_day(now) == date(2024, 4, 3)
    day = fig.day_period(date(2024, 4, 3), now, "hour")
    assert (day.start, day.end, day.units, day.days) == (DAY3, datetime(2024, 4, 4), 24, 1)
    today = fig.day_period(date(2024, 4, 4), now, "hour")
    assert (today.end, today.units) == (datetime(2024, 4, 4, 10), 10)
    assert fig.day_period(date(2024, 4, 4), now, "day").units == 0
    month = fig.month_period(date(2024, 4, 1), now, "hour")
    assert (month.start, month.end, month.units, month.days, month.label) == (
        cs.START, datetime(2024, 4, 4, 10), 82, 4, "2024-04")
    assert fig.month_period(date(2024, 4, 1), now, "day").units == 3
    march = fig.month_period(date(2024, 3, 9), now, "day")
    assert (march.start, march.end, march.units, march.days) == (
        datetime(2024, 3, 1), cs.START, 31, 31)
    assert fig.month_of(today, now) == month
    assert fig.recent_months(datetime(2024, 2, 10), 3) == [
        date(2024, 2, 1), date(2024, 1, 1), date(2023, 12, 1)]


def _station(mn: str, ent: str, region: str, e: int, r: int, v: int) -> dict[str, Any]:
    return {"mn": mn, "enterprise": ent, "outlet": "o", "region": region, "expected": e,
            "received": r, "valid": v}


STATIONS = fig.station_table([
    _station("M1", "甲", "苏皖沪", 144, 144, 144),
    _station("M2", "甲", "苏皖沪", 288, 144, 72),
    _station("M3", "乙", "京津冀鲁", 144, 0, 0),
    _station("M4", "丙", "", 24, 30, 24),  # more than expected: a row's own cap is SQL's
])


def test_levels_are_sums_of_their_stations():
    regions = {r["region"]: r for r in fig.aggregate(STATIONS, "region")}
    js = regions["苏皖沪"]
    assert (js["stations"], js["expected"], js["received"], js["valid"]) == (2, 432, 288, 216)
    assert js["transmission_rate"] == pytest.approx(100 * 288 / 432)
    assert js["validity_rate"] == pytest.approx(100 * 216 / 288)
    assert js["transmission_efficiency"] == pytest.approx(100 * 216 / 432)
    assert regions["未登记 unregistered"]["stations"] == 1
    assert regions["京津冀鲁"]["transmission_efficiency"] == 0.0
    ents = {r["enterprise"]: r for r in fig.aggregate(STATIONS, "enterprise")}
    assert ents["甲"]["region"] == "苏皖沪" and ents["甲"]["stations"] == 2
    assert fig.aggregate(STATIONS, "station") == STATIONS
    total = fig.totals(STATIONS)
    assert (total["stations"], total["expected"], total["received"]) == (4, 600, 318)


def test_ranking_is_worst_first_and_sortable():
    assert [r["mn"] for r in fig.rank(STATIONS)] == ["M3", "M2", "M1", "M4"]
    assert [r["mn"] for r in fig.rank(STATIONS, "received", True)] == ["M1", "M2", "M4", "M3"]
    assert [r["mn"] for r in fig.rank(STATIONS, "name", True)] == ["M4", "M3", "M2", "M1"]
    ents = fig.rank(fig.aggregate(STATIONS, "enterprise"), "transmission_efficiency", True)
    assert [r["enterprise"] for r in ents] == ["丙", "甲", "乙"]


def test_days_leave_out_days_not_begun():
    rows = fig.day_rows([
        {**_station("M1", "甲", "苏皖沪", 144, 72, 72), "day": date(2024, 4, 1)},
        {**_station("M2", "甲", "苏皖沪", 144, 144, 0), "day": date(2024, 4, 1)},
        {**_station("M1", "甲", "苏皖沪", 0, 0, 0), "day": date(2024, 4, 2)},
    ])
    series = fig.daily(rows, "enterprise")
    assert len(series) == 1 and series[0]["expected"] == 288
    assert series[0]["transmission_efficiency"] == pytest.approx(100 * 72 / 288)
    assert fig.station_days(rows, "M1") == [
        {"day": date(2024, 4, 1), "expected": 144, "received": 72, "valid": 72,
         "transmission_rate": 50.0, "validity_rate": 100.0,
         "transmission_efficiency": 50.0}]
    month = {r["mn"]: r for r in fig.month_totals(rows)}
    assert month["M1"]["expected"] == 144 and month["M2"]["validity_rate"] == 0.0
    chart = fig.chart_rows(series, ["甲"])
    assert (chart[0]["day"], chart[0]["date"], chart[0]["name"]) == (
        "2024-04-01T00:00:00", "2024-04-01", "甲")
    assert fig.station_link("M1") == "[M1](station?mn=M1)"


def test_calls_are_the_default_views_queries():
    now = datetime(2024, 4, 4, 10, 37)
    calls = completeness_page.calls((cs.JS,), now, "", "")
    assert [c[0] for c in calls] == ["completeness_stations", "completeness_station_days"]
    stations, days = (c[1] for c in calls)
    assert (stations["start"], stations["end"], stations["units"], stations["period"]) == (
        DAY3, datetime(2024, 4, 4), 24, "hour")
    assert (days["start"], days["end"], days["days"], days["mn"]) == (
        cs.START, datetime(2024, 4, 4, 10), 4, "")
    for _, params in calls:
        assert params["all_regions"] == 0 and params["regions"] == (cs.JS,)
        assert set(params) == set(queries.QUERIES[_].params)


# --- the page under AppTest -------------------------------------------------------


@pytest.fixture()
def page(monkeypatch, chdb):
    from tests.unit import test_dashboards_app as base

    base.FakeAccounts.users = dict(base.USERS)
    base.FakeAccounts.logins, base.FakeAccounts.logouts = [], []
    base.FakeAccounts.down = False
    monkeypatch.setattr(base.auth, "accounts", _accounts(base.FakeAccounts))
    monkeypatch.setattr(data, "connect", lambda dsn: KeepOpen(chdb))
    monkeypatch.setattr(widgets, "now_local", lambda: cs.NOW)
    st.cache_data.clear()
    data.reset_breaker()


def _accounts(cls: Any) -> Any:
    from contextlib import contextmanager

    @contextmanager
    def accounts() -> Iterator[Any]:
        yield cls()

    return accounts


def _open(username: str) -> Any:
    at = sign_in(app(), username)
    at.switch_page("views/completeness.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _table_rows(at: Any, header: str) -> list[dict[str, Any]]:
    for t in at.table:
        df = t.value
        if header in df.columns:
            return list(df.to_dict("records"))
    raise AssertionError(f"no table with {header!r}")


def test_the_analyst_sees_yesterdays_stations_worst_first(page):
    at = _open("analyst")
    shown = texts(at)
    assert "传输有效率 Completeness" in shown and "全部服务区域 all service regions" in shown
    want = cs.expected_stations(DAY3, datetime(2024, 4, 4), "hour", 24, None)
    rows = _table_rows(at, "传输有效率 efficiency")
    assert [r["MN"] for r in rows] == [f"[{w['mn']}](station?mn={w['mn']})" for w in want]
    assert [r["传输有效率 efficiency"] for r in rows] == [
        f"{100 * w['transmission_efficiency']:.1f}%" for w in want]
    expected = sum(w["expected"] for w in want)
    received = sum(w["received"] for w in want)
    valid = sum(w["valid"] for w in want)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["传输有效率 Efficiency"] == f"{100 * valid / expected:.1f}%"
    assert metrics["传输率 Rate"] == f"{100 * received / expected:.1f}%"
    assert metrics["站点 Stations"] == str(len(want))
    for name in ("completeness_stations", "completeness_station_days"):
        assert name in shown
    # the drill-down starts at the month's worst station and shows its days
    month = cs.expected_station_days(cs.START, cs.END, cs.DAYS, "hour", "", None)
    sums: dict[str, list[int]] = {}
    for d in month:
        acc = sums.setdefault(d["mn"], [0, 0, 0])
        for i, c in enumerate(("expected", "received", "valid")):
            acc[i] += d[c]
    worst = min(sums, key=lambda mn: (sums[mn][2] / sums[mn][0], mn))
    assert at.selectbox(key="completeness_station").value == worst
    days = _table_rows(at, "日期 date")
    assert len(days) == cs.DAYS  # the 4th has ten whole hours


def test_levels_and_sorting_on_the_page(page):
    at = _open("analyst")
    at.radio(key="completeness_level").set_value("region")
    at.selectbox(key="completeness_sort").set_value("name")
    at.run()
    rows = _table_rows(at, "传输有效率 efficiency")
    assert [r["服务区域 region"] for r in rows] == sorted([cs.JS, cs.JJ, cs.YG])
    at.radio(key="completeness_kind").set_value("month")
    at.radio(key="completeness_basis").set_value("day")
    at.run()
    assert not at.exception
    want = fig.aggregate(fig.station_table(
        cs.expected_stations(cs.START, datetime(2024, 4, 4), "day", 3, None)), "region")
    by_region = {r["服务区域 region"]: r["传输有效率 efficiency"]
                 for r in _table_rows(at, "传输有效率 efficiency")}
    assert by_region == {w["region"]: f"{w['transmission_efficiency']:.1f}%" for w in want}


def test_a_field_engineer_sees_only_his_region(page):
    at = _open("engineer")
    assert "服务区域 service regions: 苏皖沪" in texts(at)
    rows = _table_rows(at, "传输有效率 efficiency")
    mine = {s.mn for s in cs.final_stations().values() if s.active and s.region == cs.JS}
    assert {r["MN"].split("]")[0][1:] for r in rows} == mine
    everything = "\n".join(str(t.value) for t in at.table) + texts(at)
    everything += "\n".join(str(o) for s in at.selectbox for o in s.options)
    for other in (cs.P3, cs.P4, cs.P5, "乙化工", "丙食品"):
        assert other not in everything


def test_clickhouse_down_is_a_message(page, monkeypatch):
    at = _open("analyst")

    def refuse(dsn: str) -> Any:
        raise StoreError("ClickHouse at clickhouse://default@127.0.0.1:9000/x did not answer")

    monkeypatch.setattr(data, "connect", refuse)
    st.cache_data.clear()
    at.run()
    assert not at.exception
    assert data.UNAVAILABLE in [e.value for e in at.error]
    assert not at.table


def test_the_downloads_hold_the_tables_figures(page):
    at = _open("analyst")
    rows = _table_rows(at, "传输有效率 efficiency")
    table = fig.rank(fig.station_table(
        cs.expected_stations(DAY3, datetime(2024, 4, 4), "hour", 24, None)))
    headers = {**HEADERS, **fig.HEADERS}
    from dashboards import export

    back = list(csv.reader(io.StringIO(
        export.to_csv(table, headers, PERCENT_COLUMNS).decode("utf-8-sig"))))
    assert back[0] == list(rows[0])
    for page_row, file_row in zip(rows, back[1:], strict=True):
        shown = [str(v) for v in page_row.values()]
        shown[0] = shown[0].split("]")[0][1:]  # the MN's link text
        assert file_row == shown
    wb = load_workbook(io.BytesIO(export.to_xlsx(table, headers, PERCENT_COLUMNS)))
    ws = wb.active
    assert [c.value for c in ws[1]] == list(rows[0])
    for page_row, cells in zip(rows, ws.iter_rows(min_row=2), strict=True):
        assert cells[0].value == page_row["MN"].split("]")[0][1:]
        assert f"{100 * cells[-1].value:.1f}%" == page_row["传输有效率 efficiency"]
        assert cells[-1].number_format == "0.0%"
