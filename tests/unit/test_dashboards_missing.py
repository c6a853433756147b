"""The missing-data statistics page (缺失统计): its named queries on current ClickHouse
(chDB) against tests/unit/completeness_seed.py, answers derived there in Python; the pure
figures; the page under AppTest as an analyst, as a field engineer of one region, and with
ClickHouse down."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

import pytest
import streamlit as st

from dashboards import data, missing_page
from dashboards import missing_figures as fig
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
    assert out["given_up"]["still_missing"] == (12 - 5) + (4 - 2)
    assert out["partly_filled"]["still_missing"] == (4 - 2) + 0  # 9 of 6: none missing
    assert out["partly_filled"]["backfilled"] == 2 + 9
    week = cs.expected_station_periods(cs.START, cs.END, cs.DAYS, 2051, "week", None)
    p1 = next(r for r in week if r["mn"] == cs.P1)
    assert (p1["gaps"], p1["backfilled"], p1["still_missing"]) == (3, 5, 6 + 2)
    assert p1["expected"] == (3 * 24 + 10) * 6


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


def _row(mn: str, ent: str, day: date, e: int, r: int, b: int, m: int, g: int
         ) -> dict[str, Any]:
    return {"mn": mn, "enterprise": ent, "outlet": "o", "region": cs.JS, "period_start": day,
            "expected": e, "received": r, "backfilled": b, "still_missing": m, "gaps": g}


def test_tables_sum_and_order():
    d1, d2 = date(2024, 4, 1), date(2024, 4, 2)
    stations = fig.station_table([
        _row("M1", "甲", d1, 144, 100, 4, 10, 2), _row("M2", "甲", d1, 288, 280, 0, 0, 0),
        _row("M3", "乙", d1, 144, 0, 0, 144, 1), _row("M1", "甲", d2, 0, 0, 0, 0, 0)], "day")
    assert stations[0]["received_share"] == pytest.approx(100 * 100 / 144)
    assert stations[3]["received_share"] == 0.0
    ents = fig.level_table(stations, "enterprise")
    assert [(r["period"], r["enterprise"]) for r in ents] == [
        ("2024-04-02", "甲"), ("2024-04-01", "乙"), ("2024-04-01", "甲")]
    jia = ents[2]
    assert (jia["stations"], jia["expected"], jia["received"], jia["backfilled"],
            jia["still_missing"], jia["gaps"]) == (2, 432, 380, 4, 10, 2)
    assert [r["mn"] for r in fig.level_table(stations, "station")] == ["M1", "M3", "M1", "M2"]
    assert fig.totals(stations) == {"expected": 576, "received": 380, "backfilled": 4,
                                    "still_missing": 154, "gaps": 3}


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
    monkeypatch.setattr(missing_page, "now_local", lambda: cs.NOW)
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
    assert "缺失统计 Missing-data statistics" in shown and "仍缺失" in shown
    assert fig.DEFINITIONS in shown and "Still missing: expected - received" in shown
    _in_range(at, date(2024, 4, 1), date(2024, 4, 4))
    want = cs.expected_station_periods(cs.START, cs.END, cs.DAYS, 2051, "day", None)
    assert _metric(at, "应收 Expected") == sum(r["expected"] for r in want)
    assert _metric(at, "收到 Received") == sum(r["received"] for r in want)
    assert _metric(at, "补传 Back-filled") == sum(r["backfilled"] for r in want)
    assert _metric(at, "仍缺失 Still missing") == sum(r["still_missing"] for r in want)
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
