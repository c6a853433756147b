"""The missing-data statistics page (缺失统计): its named queries on current ClickHouse
(chDB) against tests/unit/completeness_seed.py, answers derived there in Python; its
missing figure against the weekly report's for the same station and week; the pure
figures; the page under AppTest as an analyst (and its downloads), as a field engineer of
one region, and with ClickHouse down."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pytest
import streamlit as st
from openpyxl import load_workbook  # type: ignore[import-untyped,unused-ignore]

from dashboards import data, export, missing_page, widgets
from dashboards import missing_figures as fig
from dashboards.report import data as report
from dashboards.report.week import Week
from pipeline.store import queries
from pipeline.store.client import StoreError
from tests.store_seed import canon_rows
from tests.unit import completeness_seed as cs
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.test_dashboards_app import KeepOpen, app, sign_in, texts


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse() as conn:
        migrate(conn)
        cs.seed(conn)
        yield conn


SCOPES = {"all": None, "js": (cs.JS,), "jj+yg": (cs.JJ, cs.YG)}


def _checks() -> list[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    out = []
    for label, scope in SCOPES.items():
        sp = cs.scope_params(scope)
        for cn in (2051, 2061):
            span = dict(start=cs.START, end=cs.END, cn=cn)
            for grain in ("day", "week", "month"):
                out.append((f"periods-{label}-{cn}-{grain}", "missing_station_periods",
                            dict(**span, days=cs.DAYS, grain=grain, **sp),
                            cs.expected_station_periods(cs.START, cs.END, cs.DAYS, cn,
                                                        grain, scope)))
            out.append((f"gaps-{label}-{cn}", "missing_gaps", dict(**span, limit=100, **sp),
                        cs.expected_gaps(cs.START, cs.END, cn, 100, scope)))
            out.append((f"outcomes-{label}-{cn}", "missing_outcomes", dict(**span, **sp),
                        cs.expected_outcomes(cs.START, cs.END, cn, scope)))
    out.append(("gaps-limit", "missing_gaps",
                dict(start=cs.START, end=cs.END, cn=2051, limit=2, **cs.scope_params(None)),
                cs.expected_gaps(cs.START, cs.END, 2051, 2, None)))
    return out


CHECKS = _checks()


@pytest.mark.parametrize(("check_id", "name", "params", "want"), CHECKS,
                         ids=[c[0] for c in CHECKS])
def test_named_query(chdb, check_id, name, params, want):
    assert canon_rows(queries.run(chdb, name, **params)) == canon_rows(want)


def test_the_definitions_counted_by_hand():
    """A few answers counted by hand from the seed, so a slip in the derivation cannot
    pass on the server unnoticed."""
    out = {r["state"]: r for r in cs.expected_outcomes(cs.START, cs.END, 2051, None)}
    # P1 03:00 open (6), P1 09:00 filled by its second row (3 of 3, requested once),
    # P1 2nd 23:50 partly (2 of 4, 2 requests), P2 given up (5 of 12, 3 requests),
    # P2 filled by the logger (3 of 3, no request), P3 given up (2 of 4, 3 requests),
    # P4 partly filled with 9 of 6; P2 after the end, P4 before the start, P5 inactive
    assert {s: r["gaps"] for s, r in out.items()} == {
        "open": 1, "filled": 2, "partly_filled": 2, "given_up": 2}
    assert out["filled"]["backfilled"] == 3  # the logger's own upload is no back-fill
    assert out["given_up"]["unfilled"] == (12 - 5) + (4 - 2)
    assert out["partly_filled"]["unfilled"] == (4 - 2) + 0  # 9 of 6: none missing
    assert out["partly_filled"]["backfilled"] == 2 + 9
    week = cs.expected_station_periods(cs.START, cs.END, cs.DAYS, 2051, "week", None)
    p1 = next(r for r in week if r["mn"] == cs.P1)
    assert (p1["gaps"], p1["backfilled"], p1["unfilled"]) == (3, 5, 6 + 2)
    assert p1["expected"] == (3 * 24 + 10) * 6
    # missing is every record not received, gap or not: far more than the gaps hold
    hours = [c for c in cs.COMP_1 + cs.COMP_2 if c.mn == cs.P1 and c.code == ""
             and c.period == "hour" and cs.START <= c.period_start < cs.END]
    newest = {c.period_start: c for c in sorted(hours, key=lambda c: c.version)}
    got = sum(min(c.received, 6) for c in newest.values())
    assert p1["missing"] == (3 * 24 + 10) * 6 - got > p1["unfilled"]
    # the user's case: P2 silent all of the 2nd, no gap recorded: 288 expected, 0 received
    days = cs.expected_station_periods(cs.START, cs.END, cs.DAYS, 2051, "day", None)
    silent = next(r for r in days if r["mn"] == cs.P2 and r["period_start"] == date(2024, 4, 2))
    assert (silent["expected"], silent["received"], silent["missing"], silent["unfilled"],
            silent["gaps"]) == (24 * 12, 0, 24 * 12, 0, 0)
    daily = cs.expected_station_periods(cs.START, cs.END, cs.DAYS, 2061, "day", None)
    silent = next(r for r in daily
                  if r["mn"] == cs.P2 and r["period_start"] == date(2024, 4, 2))
    assert (silent["expected"], silent["received"], silent["missing"]) == (24, 0, 24)


def test_missing_is_the_weekly_reports_missing(chdb):
    """The week 2024-W14 as of NOW: per station, the page's expected, received and missing
    (minute records, the week as one period) equal the weekly report's, built by
    dashboards/report/data.py from its own named queries on the same database."""
    week, sp = Week(2024, 14), cs.scope_params(None)
    rng = fig.date_range(week.monday, week.sunday, cs.NOW, 2051)
    page = {r["mn"]: r for r in queries.run(
        chdb, "missing_station_periods", start=rng.start, end=rng.end, days=rng.days,
        cn=2051, grain="week", **sp)}

    def run(name: str, **params: Any) -> list[dict[str, Any]]:
        return queries.run(chdb, name, **params)

    built = report.build_reports(report.fetch_rows(run, week, cs.NOW, sp), week, cs.NOW)
    theirs = {m.station.mn: m for r in built for m in r.missing}
    assert set(page) == set(theirs) == {cs.P1, cs.P2, cs.P3, cs.P4}
    for mn, m in theirs.items():
        mine = page[mn]
        assert (mine["expected"], mine["received"], mine["missing"]) == (
            m.expected, m.received, m.still_missing), mn
        # back-filled: both count only what a back-fill request brought (P2's filled
        # gap was the logger's own upload, and counts on neither)
        assert m.backfilled == mine["backfilled"], mn
    assert any(g.requests == 0 and g.received for g in theirs[cs.P2].gaps)
    for r in built:  # the report's headline "缺失 N 条" is the sum of its stations'
        assert r.week_total.missing == sum(page[m.station.mn]["missing"] for m in r.missing)


# --- the pure figures -------------------------------------------------------------


def test_ranges_count_whole_periods():
    now = datetime(2024, 4, 4, 10, 37)
    assert fig.default_dates(now) == (date(2024, 3, 29), date(2024, 4, 4))
    rng = fig.date_range(date(2024, 4, 1), date(2024, 4, 4), now, 2051)
    assert (rng.start, rng.end, rng.days, rng.label) == (
        cs.START, cs.END, 4, "2024-04-01_2024-04-04")
    daily = fig.date_range(date(2024, 4, 4), date(2024, 4, 1), now, 2061)  # either order
    assert (daily.start, daily.end, daily.days) == (cs.START, datetime(2024, 4, 4), 3)
    assert fig.date_range(date(2024, 4, 4), date(2024, 4, 4), now, 2061).days == 0
    assert fig.period_label(date(2024, 4, 1), "week") == "2024-W14"
    assert fig.period_label(date(2024, 4, 1), "month") == "2024-04"
    assert fig.period_label(date(2024, 4, 1), "day") == "2024-04-01"


def _row(mn: str, ent: str, day: date, e: int, r: int, b: int, u: int, g: int
         ) -> dict[str, Any]:
    return {"mn": mn, "enterprise": ent, "outlet": "o", "region": cs.JS, "period_start": day,
            "expected": e, "received": r, "missing": max(e - r, 0), "backfilled": b,
            "unfilled": u, "gaps": g}


def test_tables_sum_and_order():
    d1, d2 = date(2024, 4, 1), date(2024, 4, 2)
    stations = fig.station_table([
        _row("M1", "甲", d1, 144, 100, 4, 10, 2), _row("M2", "甲", d1, 288, 280, 0, 0, 0),
        _row("M3", "乙", d1, 144, 144, 0, 0, 1), _row("M4", "乙", d1, 288, 0, 0, 0, 0),
        _row("M1", "甲", d2, 0, 0, 0, 0, 0)], "day")
    assert stations[0]["missing"] == 44
    assert stations[0]["missing_share"] == pytest.approx(100 * 44 / 144)
    assert stations[3]["missing_share"] == 100.0  # silent: all missing, in no gap
    assert stations[4]["missing_share"] == 0.0
    ents = fig.level_table(stations, "enterprise")
    assert [(r["period"], r["enterprise"]) for r in ents] == [
        ("2024-04-02", "甲"), ("2024-04-01", "乙"), ("2024-04-01", "甲")]
    jia = ents[2]
    assert (jia["stations"], jia["expected"], jia["received"], jia["missing"],
            jia["backfilled"], jia["unfilled"], jia["gaps"]) == (2, 432, 380, 52, 4, 10, 2)
    assert jia["missing_share"] == pytest.approx(100 * 52 / 432)
    # the worst first by what is missing, not by what the gaps hold
    assert [r["mn"] for r in fig.level_table(stations, "station")] == [
        "M1", "M4", "M1", "M2", "M3"]
    total = fig.totals(stations)
    assert total == {"expected": 864, "received": 524, "missing": 340, "backfilled": 4,
                     "unfilled": 10, "gaps": 3}
    assert fig.missing_rate(total) == pytest.approx(100 * 340 / 864)


def test_gaps_and_outcomes_in_words():
    gaps = fig.gaps_table(cs.expected_gaps(cs.START, cs.END, 2051, 100, None))
    assert gaps[0]["window_start"] == "2024-04-04 01:00"
    assert gaps[0]["state"] == "放弃 given up" and gaps[-1]["last_request_at"] != ""
    assert any(g["last_request_at"] == "" for g in gaps)
    out = fig.outcomes_table(cs.expected_outcomes(cs.START, cs.END, 2051, None))
    assert [r["state"] for r in out] == ["未处理 open", "部分补齐 partly filled",
                                         "已补齐 filled", "放弃 given up"]


def test_calls_are_the_default_views_queries():
    now = datetime(2024, 4, 4, 10, 37)
    calls = missing_page.calls(None, now, "", "")
    assert [c[0] for c in calls] == ["missing_station_periods", "missing_outcomes",
                                     "missing_gaps"]
    for name, params in calls:
        assert set(params) == set(queries.QUERIES[name].params)
        assert (params["start"], params["end"], params["cn"]) == (
            datetime(2024, 3, 29), cs.END, 2051)
        assert params["all_regions"] == 1


# --- the page under AppTest -------------------------------------------------------


@pytest.fixture()
def page(monkeypatch, chdb):
    from tests.unit import test_dashboards_app as base

    base.FakeAccounts.users = dict(base.USERS)
    base.FakeAccounts.down = False

    @contextmanager
    def accounts() -> Iterator[Any]:
        yield base.FakeAccounts()

    monkeypatch.setattr(base.auth, "accounts", accounts)
    monkeypatch.setattr(data, "connect", lambda dsn: KeepOpen(chdb))
    monkeypatch.setattr(widgets, "now_local", lambda: cs.NOW)
    st.cache_data.clear()
    data.reset_breaker()


def _open(username: str) -> Any:
    at = sign_in(app(), username)
    at.switch_page("views/missing.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _tables(at: Any, header: str) -> list[dict[str, Any]]:
    for t in at.table:
        if header in t.value.columns:
            return list(t.value.to_dict("records"))
    raise AssertionError(f"no table with {header!r}")


def _metric(at: Any, label: str) -> int:
    return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))


def _in_range(at: Any, first: date, last: date) -> None:
    at.date_input(key="missing_dates").set_value((first, last))
    at.run()
    assert not at.exception, at.exception


def test_the_analyst_sees_every_regions_figures(page):
    at = _open("analyst")
    shown = texts(at)
    assert "缺失统计 Missing-data statistics" in shown and "缺口内未补" in shown
    assert "仍缺失" not in shown
    assert fig.DEFINITIONS in shown and "Missing = expected - received" in shown
    _in_range(at, date(2024, 4, 1), date(2024, 4, 4))
    want = cs.expected_station_periods(cs.START, cs.END, cs.DAYS, 2051, "day", None)
    expected = sum(r["expected"] for r in want)
    missing = sum(r["expected"] - r["received"] for r in want)
    assert _metric(at, "应收 Expected") == expected
    assert _metric(at, "收到 Received") == sum(r["received"] for r in want)
    assert _metric(at, "缺失 Missing") == missing
    assert next(m.value for m in at.metric if m.label == "缺失率 Missing rate") == (
        f"{100 * missing / expected:.1f}%")
    assert _metric(at, "补传 Back-filled") == sum(r["backfilled"] for r in want)
    assert _metric(at, "缺口内未补 Unfilled in gaps") == sum(r["unfilled"] for r in want)
    stations = _tables(at, "缺口内未补 unfilled in gaps")
    silent = next(r for r in stations
                  if r["MN"] == cs.P2 and r["时段 period"] == "2024-04-02")
    assert (silent["应收 expected"], silent["收到 received"], silent["缺失 missing"],
            silent["缺失率 missing rate"], silent["缺口内未补 unfilled in gaps"]) == (
        288, 0, 288, "100.0%", 0)
    gaps = cs.expected_gaps(cs.START, cs.END, 2051, 500, None)
    assert _metric(at, "缺失段 Gaps") == len(gaps)
    rows = _tables(at, "缺失开始 gap start")
    assert [r["MN"] for r in rows] == [g["mn"] for g in gaps]
    outcomes = _tables(at, "补传结果 outcome")
    assert sum(int(r["缺失段 gaps"]) for r in outcomes) == len(gaps)
    for name in ("missing_station_periods", "missing_outcomes", "missing_gaps"):
        assert name in texts(at)
    at.radio(key="missing_level").set_value("enterprise")
    at.radio(key="missing_grain").set_value("month")
    at.run()
    ents = _tables(at, "企业 enterprise")
    assert len(ents) == len({r["enterprise"] for r in want})
    assert all(r["时段 period"] == "2024-04" for r in ents)


def test_the_downloads_hold_the_tables_figures(page, monkeypatch):
    """The CSV and the workbook the page offers (caught as the page makes them) hold the
    rows and figures of its table, the missing rate as a percentage."""
    made: dict[str, bytes] = {}

    def catch(kind: str, real: Any) -> Any:
        def make(rows: Any, *args: Any, **kw: Any) -> bytes:
            out: bytes = real(rows, *args, **kw)
            if rows and "missing" in rows[0]:
                made[kind] = out
            return out
        return make

    monkeypatch.setattr(export, "to_csv", catch("csv", export.to_csv))
    monkeypatch.setattr(export, "to_xlsx", catch("xlsx", export.to_xlsx))
    at = _open("analyst")
    _in_range(at, date(2024, 4, 1), date(2024, 4, 4))
    shown = _tables(at, "缺口内未补 unfilled in gaps")
    assert len(shown) == 4 * cs.DAYS < missing_page.SHOWN_ROWS  # the page shows them all
    back = list(csv.reader(io.StringIO(made["csv"].decode("utf-8-sig"))))
    assert back[0] == list(shown[0])
    assert back[1:] == [[str(v) for v in r.values()] for r in shown]
    ws = load_workbook(io.BytesIO(made["xlsx"])).active
    assert [c.value for c in ws[1]] == list(shown[0])
    head = [c.value for c in ws[1]]
    for page_row, cells in zip(shown, ws.iter_rows(min_row=2), strict=True):
        cell = dict(zip(head, cells, strict=True))
        for col in ("应收 expected", "收到 received", "缺失 missing", "补传 back-filled",
                    "缺口内未补 unfilled in gaps", "缺失段 gaps"):
            assert cell[col].value == page_row[col], col
        rate = cell["缺失率 missing rate"]
        assert f"{100 * rate.value:.1f}%" == page_row["缺失率 missing rate"]
        assert rate.number_format == "0.0%"
        assert cell["缺失 missing"].value == (
            cell["应收 expected"].value - cell["收到 received"].value)


def test_a_field_engineer_sees_only_his_region(page):
    at = _open("engineer")
    _in_range(at, date(2024, 4, 1), date(2024, 4, 4))
    assert "服务区域 service regions: 苏皖沪" in texts(at)
    want = cs.expected_gaps(cs.START, cs.END, 2051, 500, (cs.JS,))
    assert _metric(at, "缺失段 Gaps") == len(want) > 0
    everything = "\n".join(str(t.value) for t in at.table) + texts(at)
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
