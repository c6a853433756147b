"""The anomalies page: its pure figures, its named queries on current ClickHouse (chDB,
tests/unit/station_seed.py, expected answers derived there in Python), and the page under
AppTest (an analyst sees every region's episodes, the unregistered station's too; a field
engineer sees his region's only; ClickHouse down is a message)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards import anomalies_figures as fig
from dashboards import anomalies_page, auth, data, widgets
from pipeline.detect.rules import RULE_NAMES
from pipeline.store.client import StoreError
from tests.store_seed import canon_rows
from tests.unit import station_seed as ss
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.test_dashboards_app import APP, FakeAccounts, KeepOpen, sign_in, texts

# --- pure figures ---------------------------------------------------------------------

COUNTS = [
    {"day": datetime(2024, 5, 9), "rule": "offline", "severity": "major", "state": "open",
     "region": "苏皖沪", "enterprise": "甲", "episodes": 2, "stations": 2},
    {"day": datetime(2024, 5, 9), "rule": "over_limit", "severity": "critical",
     "state": "cleared", "region": "京津冀鲁", "enterprise": "乙", "episodes": 3,
     "stations": 1},
    {"day": datetime(2024, 5, 10), "rule": "offline", "severity": "info", "state": "cleared",
     "region": "", "enterprise": "", "episodes": 1, "stations": 1},
]


def test_every_detector_rule_has_a_chinese_label():
    for rule in (*RULE_NAMES, "missing", "offline"):
        label = fig.rule_label(rule)
        assert label.endswith(f"({rule})") and label != rule
    assert fig.rule_label("made_up") == "made_up"
    assert fig.severity_text("critical") == "严重 critical"


def test_rows_under_an_older_rule_name_count_with_todays():
    rows = [{**COUNTS[0], "rule": "missing"}, {**COUNTS[1], "rule": "missing_data"}]
    assert fig.by_rule(rows) == [
        {"rule": "数据缺失 missing data (missing)", "episodes": 5, "open": 2}]


def test_counts_by_rule_region_enterprise_and_day():
    assert fig.total(COUNTS) == 6
    assert fig.by_rule(COUNTS) == [  # a tie: in label order
        {"rule": "站点离线 offline (offline)", "episodes": 3, "open": 2},
        {"rule": "超标 over limit (over_limit)", "episodes": 3, "open": 0}]
    assert fig.by_region(COUNTS) == [{"region": "京津冀鲁", "episodes": 3},
                                     {"region": "苏皖沪", "episodes": 2},
                                     {"region": "未登记 unregistered", "episodes": 1}]
    assert [r["enterprise"] for r in fig.by_enterprise(COUNTS, limit=2)] == ["乙", "甲"]
    assert fig.by_severity(COUNTS) == {"critical": 3, "major": 2, "info": 1}
    period = fig.Period(datetime(2024, 5, 8, 12), datetime(2024, 5, 10, 12))
    assert [d.day for d in period.days] == [8, 9, 10]
    assert fig.per_day(COUNTS, period, "severity") == [
        {"day": "2024-05-09", "group": "严重 critical", "episodes": 3},
        {"day": "2024-05-09", "group": "重要 major", "episodes": 2},
        {"day": "2024-05-10", "group": "提示 info", "episodes": 1}]
    assert fig.filter_values(COUNTS, "region") == ["", "京津冀鲁", "苏皖沪"]


def test_durations_read_as_people_say_them():
    assert fig.human_duration(59) == "0 分 (0 min)"
    assert fig.human_duration(3 * 3600 + 5 * 60) == "3 小时 5 分 (3 h 5 min)"
    assert fig.human_duration(2 * 86400 + 7200 + 59) == "2 天 2 小时 (2 d 2 h)"
    assert fig.duration_class_labels() == ["< 5min", "5min–15min", "15min–1h", "1h–4h",
                                           "4h–1d", "1d–3d", "≥ 3d"]
    long = fig.duration_classes([{"rule": "offline", "duration_class": 6, "episodes": 2}])
    assert long == [{"duration": "≥ 3d", "order": 6, "rule": "站点离线 offline (offline)",
                     "episodes": 2}]


def test_default_period_and_whole_days():
    p = fig.default_period(datetime(2024, 5, 10, 12, 0, 30))
    assert (p.start, p.end) == (datetime(2024, 5, 3, 12, 1), datetime(2024, 5, 10, 12, 1))
    p = fig.period_of_days(datetime(2024, 5, 1, 15), datetime(2024, 5, 2, 1))
    assert (p.start, p.end) == (datetime(2024, 5, 1), datetime(2024, 5, 3))


def test_episode_rows_link_to_the_station_page():
    now = datetime(2024, 5, 10, 12)
    rows = [{"opened_at": datetime(2024, 5, 10, 9), "rule": "offline", "severity": "major",
             "state": "open", "cleared_at": None, "last_seen": datetime(2024, 5, 10, 9, 30),
             "enterprise": "甲", "outlet": "DW001", "region": "苏皖沪", "code": "",
             "occurrences": 2, "message": "m", "mn": "MN 1/2"},
            {"opened_at": datetime(2024, 5, 10, 9), "rule": "offline", "severity": "major",
             "state": "cleared", "cleared_at": datetime(2024, 5, 10, 9, 45),
             "last_seen": datetime(2024, 5, 10, 9, 30), "enterprise": "甲",
             "outlet": "DW001", "region": "", "code": "", "occurrences": 2, "message": "m",
             "mn": "X"}]
    table = fig.episodes_table(rows, now)
    assert table[0]["station"] == "station?mn=MN%201/2"
    assert table[0]["duration"] == "3 小时 0 分 (3 h 0 min)"  # still open: up to now
    assert table[1]["duration"] == "45 分 (45 min)" and table[1]["state"] == "已关闭 cleared"
    assert table[1]["region"] == "未登记 unregistered"
    (open_row,) = fig.open_table(rows[:1], now)
    assert open_row["open_for"] == "3 小时 0 分 (3 h 0 min)"


# --- the named queries on chDB --------------------------------------------------------


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_anomalies") as conn:
        migrate(conn)
        ss.seed(conn)
        yield conn


CHECKS = [c for c in ss.checks() if c.query.startswith("anomalies_")]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.id)
def test_anomalies_query(chdb, check):
    assert ss.answer(chdb, check) == canon_rows(check.expected)


def test_every_anomalies_query_is_checked():
    from pipeline.store import queries_anomalies

    assert {c.query for c in CHECKS} == {q.name for q in queries_anomalies.NAMED}
    # a check expecting nothing passes on a query returning nothing: only one may
    assert [c.id for c in CHECKS if not c.expected] == ["anomalies_open_longest-jj+yg"]


def test_the_derived_answers_match_a_count_by_hand():
    # opened 3 May 12:01 .. 10 May 12:01: not P1's missing of 2 May
    counts = ss.expected_counts(*ss.WEEK, None)
    assert sum(r["episodes"] for r in counts) == 10
    assert sum(r["episodes"] for r in ss.expected_counts(*ss.WEEK, (ss.JS,))) == 5
    # the unregistered station's episode: only in the all-regions scope, region ''
    assert [r["region"] for r in counts if r["enterprise"] == ""] == [""]
    stats = {r["rule"]: r for r in ss.expected_duration_stats(ss.at(1, 0), ss.at(11, 0),
                                                               None)}
    # offline, cleared: P1 50 min + 10 min, P3 2 h 30 min, U 2 h -> 1h, 2h, 2.5h
    assert (stats["offline"]["median_s"], stats["offline"]["p90_s"]) == (7200, 9000)
    # over_limit, cleared: P1 1 h, P2 30 min: the upper middle of two
    assert stats["over_limit"]["median_s"] == 3600
    longest = ss.expected_open_longest(2, None)
    assert [(r["mn"], r["rule"]) for r in longest] == [(ss.P1, "missing"), (ss.P1, "spike")]


# --- the page under AppTest -----------------------------------------------------------


@pytest.fixture()
def page(monkeypatch: pytest.MonkeyPatch, chdb: ChdbClickHouse) -> type[FakeAccounts]:
    @contextmanager
    def accounts() -> Iterator[FakeAccounts]:
        yield FakeAccounts()

    monkeypatch.setattr(auth, "accounts", accounts)
    monkeypatch.setattr(data, "connect", lambda dsn: KeepOpen(chdb))
    monkeypatch.setattr(widgets, "now_local", lambda: ss.NOW)
    st.cache_data.clear()
    data.reset_breaker()
    return FakeAccounts


def _open(username: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    sign_in(at, username)
    at.switch_page("views/anomalies.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _all_text(at: AppTest) -> str:
    frames = [t.value.to_csv() for t in at.table] + [d.value.to_csv() for d in at.dataframe]
    return texts(at) + "\n".join(frames)


def _expected_metrics(scope: ss.Scope) -> tuple[int, int]:
    start = ss.NOW + timedelta(minutes=1) - timedelta(days=7)
    eps = [a for a in ss.final_alarms() if start <= a.opened < ss.NOW + timedelta(minutes=1)
           and (scope is None or ss._region(a.mn) in scope)]
    return len(eps), sum(a.state == "open" for a in eps)


def test_an_analyst_sees_every_regions_episodes(page):
    at = _open("analyst")
    episodes, still = _expected_metrics(None)
    metrics = _metrics(at)
    assert metrics["告警 Episodes"] == str(episodes) and metrics["仍未关闭 Still open"] == \
        str(still)
    shown = _all_text(at)
    for name in ("anomalies_counts", "anomalies_open_longest", "anomalies_duration_stats",
                 "anomalies_duration_classes", "anomalies_episodes"):
        assert f"`{name}`" in shown
    assert "未登记 unregistered" in shown and ss.U in shown
    assert f"station?mn={ss.P2}" in shown
    assert "站点离线 offline (offline)" in shown
    # the longest open first: P1's missing data since 2 May (8 days 4 hours)
    assert "8 天 4 小时 (8 d 4 h)" in shown


def test_a_field_engineer_sees_only_his_regions_episodes(page):
    at = _open("engineer")  # 苏皖沪
    episodes, still = _expected_metrics((ss.JS,))
    metrics = _metrics(at)
    assert (metrics["告警 Episodes"], metrics["仍未关闭 Still open"]) == (str(episodes),
                                                                       str(still))
    shown = _all_text(at)
    assert ss.P1 in shown
    for other in (ss.P2, ss.P3, ss.U, "乙电力", "丙纸业", "京津冀鲁", "粤桂湘琼鄂", "未登记"):
        assert other not in shown, other


def test_a_filter_narrows_the_episodes(page):
    at = _open("analyst")
    at.selectbox(key="ep_rule").select("over_limit")
    at.run()
    table = at.dataframe[0].value
    start = ss.NOW + timedelta(minutes=1) - timedelta(days=7)
    want = [a for a in ss.final_alarms() if a.rule == "over_limit" and start <= a.opened]
    assert len(table) == len(want) and set(table["mn"]) == {a.mn for a in want}


def test_clickhouse_down_is_a_message(page, monkeypatch):
    def refuse(dsn: str) -> Any:
        raise StoreError("ClickHouse at clickhouse://default@127.0.0.1:9000/x did not answer")

    monkeypatch.setattr(data, "connect", refuse)
    at = _open("analyst")
    assert data.UNAVAILABLE in [e.value for e in at.error]


def test_calls_name_the_default_views_queries():
    from pipeline.store.queries import QUERIES

    calls = anomalies_page.calls(("苏皖沪",), ss.NOW, "", "")
    assert [n for n, _ in calls] == ["anomalies_counts", "anomalies_open_longest",
                                     "anomalies_duration_stats", "anomalies_duration_classes",
                                     "anomalies_episodes"]
    for name, params in calls:
        assert set(params) == set(QUERIES[name].params), name
        assert params["regions"] == ("苏皖沪",) and params["all_regions"] == 0
    counts = dict(calls)["anomalies_counts"]
    assert counts["end"] - counts["start"] == timedelta(days=7)
