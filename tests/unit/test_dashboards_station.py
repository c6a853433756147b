"""The station page: its pure figures, its named queries on current ClickHouse (chDB,
tests/unit/station_seed.py, expected answers derived there in Python), and the page under
AppTest (an analyst sees a station; a field engineer asking for another region's station
by its address is refused with words that say nothing about it; ClickHouse down is a
message).

The same checks hold on the local 18.16 server: ``station_seed.run_on(ch)`` after
``station_seed.seed(ch)`` in a migrated scratch database returns no failed id.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import hj212
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboards import auth, data, station_page, widgets
from dashboards import station_figures as fig
from pipeline.store.client import StoreError
from tests.store_seed import canon_rows
from tests.unit import station_seed as ss
from tests.unit.chdb_client import ChdbClickHouse, migrate
from tests.unit.test_dashboards_app import APP, FakeAccounts, KeepOpen, sign_in, texts

# --- pure figures ---------------------------------------------------------------------


def test_series_step_keeps_each_record_until_the_range_holds_too_many():
    day = 24 * 3600.0
    assert fig.series_step(day, 600) == 1  # 144 minute records
    assert fig.series_step(day, 30) == 60  # 2880 real-time records: minute means
    assert fig.series_step(30 * day, 30) == 1800  # 86400 -> 1440 half hours
    assert fig.series_step(10_000 * day, 30) == fig.STEPS[-1]
    assert fig.series_step(day, 30, max_points=3000) == 1


def test_default_ranges_per_data_type():
    now = datetime(2024, 5, 10, 12, 0, 30)
    for cn, span in ((2011, timedelta(hours=24)), (2051, timedelta(hours=24)),
                     (2061, timedelta(days=7)), (2031, timedelta(days=30))):
        rng = fig.default_range(cn, now)
        assert rng.end == datetime(2024, 5, 10, 12, 1) and rng.end - rng.start == span


def test_names_come_from_the_codec_tables():
    assert fig.pollutant_name("w01018") == "w01018 化学需氧量 COD"
    assert fig.pollutant_name("") == "整站 station-wide"
    assert fig.pollutant_name("zzz") == "zzz"
    assert fig.flag_meaning("D").startswith("在线监控（监测）仪器仪表故障")
    legend = {r["flag"]: r["meaning"] for r in fig.flag_legend()}
    assert set(legend) == {"N", "F", "M", "S", "D", "C", "T", "B"}
    assert fig.system_name("32").startswith("32 地表水体")


def _bucket(minute: int, flagged: int = 0, flag: str = "", value: float = 1.0
            ) -> dict[str, Any]:
    return {"bucket": datetime(2024, 5, 10, 0, 0) + timedelta(minutes=minute),
            "value": value, "value_min": value, "value_max": value, "zs_value": math.nan,
            "records": 1, "flagged": flagged, "flag": flag}


def test_flag_spans_join_runs_of_the_same_flag():
    rows = [_bucket(0), _bucket(10, 1, "D"), _bucket(20, 1, "D"), _bucket(30, 1, "M"),
            _bucket(40), _bucket(50, 1, "M"), _bucket(80, 1, "M")]
    spans = [(s["start"][11:16], s["end"][11:16], s["flag_code"], s["records"])
             for s in fig.flag_spans(rows, 600)]
    assert spans == [("00:10", "00:30", "D", 2), ("00:30", "00:40", "M", 1),
                     ("00:50", "01:00", "M", 1), ("01:20", "01:30", "M", 1)]


def test_series_rows_break_the_line_where_no_value():
    rows = fig.series_rows([_bucket(0, value=math.nan), _bucket(10, 1, "C", 2.0)])
    assert rows[0]["value"] is None and rows[0]["flag"].startswith("N ")
    assert rows[1]["value"] == 2.0 and rows[1]["flag"].startswith("C 在线监控")
    assert rows[0]["time"] == "2024-05-10T00:00:00"


def test_alarm_and_window_bands_are_clipped_to_the_range():
    rng = fig.Range(datetime(2024, 5, 10, 0), datetime(2024, 5, 10, 12))
    alarms = [
        {"opened_at": datetime(2024, 5, 9, 23), "state": "cleared",
         "cleared_at": datetime(2024, 5, 10, 1), "last_seen": datetime(2024, 5, 10, 1),
         "rule": "offline", "severity": "major", "code": "", "message": "m"},
        {"opened_at": datetime(2024, 5, 10, 10), "state": "open", "cleared_at": None,
         "last_seen": datetime(2024, 5, 10, 10), "rule": "over_limit",
         "severity": "critical", "code": "w01018", "message": "m"},
        {"opened_at": datetime(2024, 5, 10, 13), "state": "open", "cleared_at": None,
         "last_seen": datetime(2024, 5, 10, 13), "rule": "spike", "severity": "info",
         "code": "w01018", "message": "m"},
    ]
    bands = fig.alarm_bands(alarms, rng, 600)
    assert [(b["start"][11:16], b["end"][11:16]) for b in bands] == [
        ("00:00", "01:00"), ("10:00", "12:00")]  # the open one lasts to the range's end
    assert bands[1]["kind"].startswith("超标") and "未关闭" in bands[1]["kind"]
    windows = [{"window_start": datetime(2024, 5, 10, 7), "state": "requested",
                "window_end": datetime(2024, 5, 10, 7, 50), "expected": 6, "received": 0,
                "requests": 1}]
    (w,) = fig.window_bands(windows, rng, 600)
    assert (w["start"][11:16], w["end"][11:16], w["kind"]) == (
        "07:00", "08:00", "已请求补传 back-fill requested")


def test_rules_and_the_value_axis():
    limit = {"limit_low": 6.0, "limit_high": 9.0, "range_low": 0.0, "range_high": 500.0}
    rules = fig.rules_for(limit)
    assert [(r.kind, r.value) for r in rules] == [("limit", 9.0), ("limit", 6.0),
                                                  ("range", 500.0), ("range", 0.0)]
    series = fig.series_rows([_bucket(0, value=7.0), _bucket(10, value=8.0)])
    lo, hi = fig.y_domain(series, rules) or (0, 0)
    assert 9.0 < hi < 500.0
    # 0 is near enough to be drawn; 500 is not
    assert [r.value for r in fig.rules_off_view(rules, (lo, hi))] == [500.0]
    assert lo <= 0.0
    assert fig.rules_for({"limit_low": math.nan, "limit_high": 100.0, "range_low": math.nan,
                          "range_high": math.nan})[0].value == 100.0


def test_code_options_put_codes_with_data_first():
    codes = [{"cn": 2051, "code": "w21003"}, {"cn": 2051, "code": "w01018"},
             {"cn": 2011, "code": "w01001"}]
    limits = [{"code": "w01001"}, {"code": "w01018"}]
    assert fig.code_options(codes, limits, 2051) == ["w01018", "w21003", "w01001"]
    assert fig.code_options([], [], 2031) == []


def test_decode_frame_shows_fields_items_and_a_refusal():
    raw = hj212.encode(cn=2051, st=32, mn="STNWATER0000000000000001", pw="123456",
                       qn="20240510110100000", flag=5,
                       cp="DataTime=20240510110000;w01018-Avg=25.0,w01018-Flag=N")
    ok = fig.decode_frame(raw.hex())
    assert ok.error == "" and ok.raw == raw.decode()
    header = {h["field"]: h["value"] for h in ok.header}
    assert header["CN"] == "2051" and "DataTime" not in header  # it is a CP field
    assert {(i["code"], i["suffix"], i["value"]) for i in ok.items} == {
        ("w01018 化学需氧量 COD", "Avg", "25.0"), ("w01018 化学需氧量 COD", "Flag", "N")}
    assert ok.other_cp == [{"field": "DataTime", "value": "20240510110000"}]
    bad = fig.decode_frame((raw[:-6] + b"0000\r\n").hex())
    assert bad.error.startswith("crc") and bad.items == []
    odd = fig.decode_frame(b"##\xff\xfe broken".hex())
    assert odd.error and "\\xff" in odd.raw


def test_frames_table_gives_a_rejected_frames_reason():
    rows = [{"receive_time": datetime(2024, 5, 10, 11, 30), "cn": "2051", "qn": "q",
             "data_time": None, "status": "rejected", "error_kind": "field",
             "error_field": "MN", "error_message": "too long", "n_readings": 0,
             "warnings": 0}]
    (row,) = fig.frames_table(rows)
    assert row["reason"] == "field/MN: too long" and row["status"] == "拒绝 rejected"
    assert row["receive_time"] == "2024-05-10 11:30:00" and row["data_time"] == ""


# --- the named queries on chDB --------------------------------------------------------


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_station") as conn:
        migrate(conn)
        ss.seed(conn)
        yield conn


STATION_CHECKS = [c for c in ss.checks() if c.query.startswith("station_")]


@pytest.mark.parametrize("check", STATION_CHECKS, ids=lambda c: c.id)
def test_station_query(chdb, check):
    assert ss.answer(chdb, check) == canon_rows(check.expected)


def test_every_station_query_is_checked():
    from pipeline.store import queries_station

    checked = {c.query for c in STATION_CHECKS} | {"station_frame_raw"}
    assert checked == {q.name for q in queries_station.NAMED}


def test_the_seed_checks_are_not_all_empty():
    """A check that expects nothing passes on a query that returns nothing."""
    assert sum(1 for c in STATION_CHECKS if c.expected) >= 30
    info = ss.expected_station_info(ss.P1, (ss.JJ,))
    assert info == [] and ss.expected_station_info(ss.P2, (ss.JJ,))[0]["crc_variants"]


def test_the_derived_series_matches_a_count_by_hand():
    rows = {r["bucket"].strftime("%H:%M"): r for r in ss.expected_station_series(
        ss.P1, 2051, "w01018", ss.at(10, 0), ss.at(10, 12), 1800, 100, None)}
    # 02:00 (resent: 99), 02:10, 02:20 of the ramp 20 + 0.5 per 10 minutes
    assert rows["02:00"]["value"] == pytest.approx((99.0 + 26.5 + 27.0) / 3)
    # 03:00 D, 03:10 resent as N (50), 03:20 D
    assert (rows["03:00"]["flagged"], rows["03:00"]["flag"]) == (2, "D")
    assert "07:00" not in rows and "07:30" not in rows  # the gap
    # 08:00, 08:10, and 08:20 with no Avg: its Rtd
    assert rows["08:00"]["value"] == pytest.approx((44.0 + 44.5 + 41.5) / 3)


def test_the_frame_bytes_come_back_by_their_key(chdb):
    for frame in ss.FRAMES:
        if frame.mn == ss.U:
            continue
        (row,) = ss.raw_of(chdb, frame, None)
        assert bytes.fromhex(row["raw_hex"]) == frame.raw
        assert row["status"] == frame.status
        assert ss.raw_of(chdb, frame, (ss.YG,)) == []  # outside the scope: nothing


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


def _open(username: str, mn: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    sign_in(at, username)
    if mn is not None:
        at.query_params["mn"] = mn
    at.switch_page("views/station.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _tables(at: AppTest) -> str:
    return "\n".join(t.value.to_csv() for t in at.table)


def test_an_analyst_sees_the_station_of_the_address(page):
    at = _open("analyst", ss.P1)
    shown = texts(at)
    assert "甲水务有限公司 · DW001 总排口" in shown
    assert station_page.REFUSED not in shown
    tables = _tables(at)
    assert "苏皖沪" in tables and "w01018 化学需氧量 COD" in tables
    assert "80" in tables  # the newer limits row of COD
    # the default view: minute COD over the last 24 h, counted from the seed
    want = [r for r in ss.final_readings().values() if r.mn == ss.P1 and r.cn == 2051
            and r.code == "w01018" and ss.NOW - timedelta(hours=24) + timedelta(minutes=1)
            <= r.data_time < ss.NOW + timedelta(minutes=1)]
    flagged = sum(r.flag not in ("N", "") for r in want)
    assert f"{len(want)} records, {flagged} flagged other than N" in shown
    for name in ("station_info", "station_limits", "station_series", "station_alarms",
                 "station_missing_windows", "station_frames", "station_frame_raw"):
        assert f"`{name}`" in shown
    # the newest frame is decoded: the rejected one, with its reason
    assert "Rejected by the gateway: crc: CRC mismatch" in shown
    assert len(at.get("vega_lite_chart")) == 1


def test_the_picker_lists_only_stations_in_scope(page):
    at = _open("engineer", None)  # 苏皖沪
    options = at.selectbox(key="station_mn").options
    assert len(options) == 1 and ss.P1 in options[0]  # P3 moved to 粤桂湘琼鄂
    assert "甲水务有限公司" in texts(at)


@pytest.mark.parametrize("mn", [ss.P2, ss.P3, ss.U, "NOSUCHSTATION"])
def test_a_field_engineer_is_refused_another_regions_station(page, mn):
    at = _open("engineer", mn)
    shown = texts(at)
    assert [e.value for e in at.error] == [station_page.REFUSED]
    everything = shown + _tables(at) + "\n".join(str(s.options) for s in at.selectbox)
    for other in (ss.P2, ss.P3, ss.U, "乙电力", "丙纸业", "京津冀鲁", "粤桂湘琼鄂"):
        assert other not in everything
    assert "监测数据 Monitoring data" not in shown


def test_clickhouse_down_is_a_message(page, monkeypatch):
    def refuse(dsn: str) -> Any:
        raise StoreError("ClickHouse at clickhouse://default@127.0.0.1:9000/x did not answer")

    monkeypatch.setattr(data, "connect", refuse)
    at = _open("analyst", ss.P1)
    assert data.UNAVAILABLE in [e.value for e in at.error]


def test_calls_name_the_default_views_queries():
    calls = station_page.calls(None, ss.NOW, ss.P1, "")
    names = [name for name, _ in calls]
    assert names == ["station_list", "station_info", "station_limits", "station_codes",
                     "station_series", "station_alarms", "station_missing_windows",
                     "station_frames"]
    from pipeline.store.queries import QUERIES
    for name, params in calls:
        assert set(params) == set(QUERIES[name].params), name
    series = dict(calls)["station_series"]
    assert (series["cn"], series["step"], series["all_regions"]) == (2051, 1, 1)
    assert dict(station_page.calls(("苏皖沪",), ss.NOW, ss.P1, ""))["station_info"][
        "regions"] == ("苏皖沪",)
