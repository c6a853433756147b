"""The weekly report's model from query rows (pure: no server), and its HTML: the
figures an enterprise reads, computed here by hand from the rows."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from dashboards.report.data import Action, ReportRows, build_reports, counted_end, percent
from dashboards.report.html import duration, file_name, render_html
from dashboards.report.week import parse_week

NAN = math.nan
WEEK = parse_week("2026-W48")
MON = WEEK.start
NOW = datetime(2026, 12, 2, 10, 30)  # a Wednesday after the week


def station(mn: str, enterprise: str, outlet: str, min_interval: int = 10,
            region: str = "苏皖沪", province: str = "江苏") -> dict[str, object]:
    return {"mn": mn, "enterprise": enterprise, "outlet": outlet, "province": province,
            "region": region, "st": "32", "min_interval": min_interval}


def alarm(alarm_id: str, mn: str, rule: str, severity: str, state: str, opened: datetime,
          cleared: datetime | None, code: str = "") -> dict[str, object]:
    return {"alarm_id": alarm_id, "mn": mn, "cn": 2051, "code": code, "rule": rule,
            "severity": severity, "state": state, "opened_at": opened,
            "last_seen": cleared or opened + timedelta(hours=1), "cleared_at": cleared,
            "occurrences": 3, "message": f"{rule} {code}"}


def rows() -> ReportRows:
    return ReportRows(
        stations=[station("A1", "甲化工有限公司", "DW001 废水总排口", 10),
                  station("A2", "甲化工有限公司", "DA001 锅炉排放口", 5),
                  station("B1", "乙水务", "DW001 总排口", 10, "京津冀鲁", "山东")],
        station_days=[
            {"mn": "A1", "day": 0, "received_sum": 144, "valid_sum": 140, "hours_with_rows": 24},
            {"mn": "A1", "day": 3, "received_sum": 100, "valid_sum": 90, "hours_with_rows": 20},
            {"mn": "A2", "day": 6, "received_sum": 288, "valid_sum": 288, "hours_with_rows": 24},
            {"mn": "B1", "day": 1, "received_sum": 10, "valid_sum": 5, "hours_with_rows": 2},
        ],
        over_limit=[
            {"mn": "A1", "code": "w01018", "unit_of": "mg/L", "limit_hi": 100.0,
             "limit_lo": NAN, "basis_of": "avg", "hours_over": 2, "hours_high": 2,
             "hours_low": 0, "max_value": 130.5, "min_value": 101.0,
             "first_hour": MON + timedelta(hours=5), "last_hour": MON + timedelta(hours=9)},
            {"mn": "A2", "code": "w01001", "unit_of": "", "limit_hi": 9.0, "limit_lo": 6.0,
             "basis_of": "avg", "hours_over": 3, "hours_high": 0, "hours_low": 3,
             "max_value": 5.9, "min_value": 5.2, "first_hour": MON + timedelta(days=2),
             "last_hour": MON + timedelta(days=2, hours=2)},
        ],
        alarms=[
            alarm("a1", "A1", "over_limit", "critical", "cleared", MON + timedelta(hours=5),
                  MON + timedelta(hours=10), "w01018"),
            alarm("a2", "A1", "missing", "major", "cleared", MON + timedelta(days=1),
                  MON + timedelta(days=1, hours=2)),
            alarm("a3", "A2", "constant_streak", "warning", "open",
                  MON + timedelta(days=6), None, "w01001"),
            alarm("b1", "B1", "offline", "major", "open", MON + timedelta(days=2), None),
        ],
        missing_windows=[
            {"mn": "A1", "cn": 2051, "window_start": MON + timedelta(days=1, minutes=10),
             "window_end": MON + timedelta(days=1, hours=1), "state": "filled",
             "expected": 6, "received": 6, "requests": 1,
             "last_request_at": MON + timedelta(days=1, hours=1, minutes=5),
             "detected_at": MON, "updated_at": MON},
            {"mn": "A1", "cn": 2051, "window_start": MON + timedelta(days=1, hours=1, minutes=30),
             "window_end": MON + timedelta(days=1, hours=1, minutes=50), "state": "partly_filled",
             "expected": 3, "received": 1, "requests": 2, "last_request_at": None,
             "detected_at": MON, "updated_at": MON},
            # another data type: listed, not counted in the minute records' back-fill
            {"mn": "A1", "cn": 2061, "window_start": MON + timedelta(days=4),
             "window_end": MON + timedelta(days=4, hours=2), "state": "given_up",
             "expected": 3, "received": 0, "requests": 3, "last_request_at": None,
             "detected_at": MON, "updated_at": MON},
        ],
        extra_actions={"a3": [Action("work_order", "工单 WO-7 已派发")]},
    )


@pytest.fixture(scope="module")
def reports():
    return {r.enterprise: r for r in build_reports(rows(), WEEK, NOW)}


def test_one_report_per_enterprise_with_its_header(reports):
    assert list(reports) == ["乙水务", "甲化工有限公司"]  # in name order
    jia = reports["甲化工有限公司"]
    assert jia.provinces == "江苏" and jia.regions == "苏皖沪"
    assert [w.station.mn for w in jia.stations] == ["A1", "A2"]
    assert jia.hours == 168 and jia.generated_at == NOW


def test_completeness_per_station_per_day_and_week(reports):
    jia = reports["甲化工有限公司"]
    a1, a2 = jia.stations
    assert [d.expected for d in a1.days] == [144] * 7  # 24 h x 60 / 10
    assert [d.expected for d in a2.days] == [288] * 7  # 24 h x 60 / 5
    assert [(d.received, d.valid) for d in a1.days] == [
        (144, 140), (0, 0), (0, 0), (100, 90), (0, 0), (0, 0), (0, 0)]
    assert (a1.week.expected, a1.week.received, a1.week.valid) == (1008, 244, 230)
    assert a1.week.transmission_rate == pytest.approx(244 / 1008)
    assert a1.week.validity_rate == pytest.approx(230 / 244)
    assert a1.week.efficiency == pytest.approx(244 / 1008 * 230 / 244)
    total = jia.week_total
    assert (total.expected, total.received, total.valid) == (1008 + 2016, 244 + 288, 230 + 288)
    assert jia.days[6].received == 288 and jia.days[6].expected == 144 + 288


def test_a_week_still_running_counts_its_whole_hours():
    now = MON + timedelta(days=2, hours=5, minutes=40)  # Wednesday 05:40
    assert counted_end(WEEK, now) == MON + timedelta(days=2, hours=5)
    jia = next(r for r in build_reports(rows(), WEEK, now) if r.enterprise.startswith("甲"))
    assert jia.hours == 53
    assert [d.expected for d in jia.stations[0].days] == [144, 144, 30, 0, 0, 0, 0]
    assert counted_end(WEEK, MON - timedelta(days=3)) == MON  # before it: nothing


def test_over_limit_hours_sorted_most_first(reports):
    jia = reports["甲化工有限公司"]
    assert [(o.code, o.hours) for o in jia.over_limits] == [("w01001", 3), ("w01018", 2)]
    ph, cod = jia.over_limits
    assert cod.name == "化学需氧量" and cod.limit_text == "≤ 100" and cod.worst_text == "130.5"
    assert ph.name == "pH值" or "pH" in ph.name
    assert ph.limit_text == "6–9" and ph.worst_text == "5.2"  # below the lower limit
    assert jia.over_limit_hours == 5


def test_episodes_durations_and_what_was_done(reports):
    jia = reports["甲化工有限公司"]
    by_id = {e.alarm_id: e for e in jia.episodes}
    assert by_id["a1"].duration == timedelta(hours=5) and by_id["a1"].handled
    assert by_id["a3"].duration == NOW - (MON + timedelta(days=6))  # open: until now
    assert [a.kind for a in by_id["a1"].actions] == ["cleared"]
    # the missing-data episode carries the back-fill of the gaps within it
    kinds = [a.kind for a in by_id["a2"].actions]
    assert kinds == ["backfill", "cleared"]
    text = by_id["a2"].actions[0].text
    assert "补传请求 3 次" in text and "1 段已补齐" in text and "1 段部分补传" in text
    assert "补回 7 条" in text and "仍缺 2 条" in text
    # a source of HANDLING_SOURCES (work orders) adds after the episode's own
    assert [a.kind for a in by_id["a3"].actions] == ["open", "work_order"]
    assert jia.handled == 2
    groups = [(g.rule, g.severity, g.count, g.cleared, g.still_open) for g in jia.groups]
    assert groups == [("over_limit", "critical", 1, 1, 0), ("missing", "major", 1, 1, 0),
                      ("constant_streak", "warning", 1, 0, 1)]


def test_missing_data(reports):
    jia = reports["甲化工有限公司"]
    a1 = jia.missing[0]
    assert (a1.expected, a1.received, a1.still_missing) == (1008, 244, 1008 - 244)
    assert a1.backfilled == 7  # the two minute-data gaps, not the hourly one
    assert [g.outcome for g in a1.gaps] == ["已补齐", "部分补传", "补传失败（已放弃）"]
    assert jia.backfilled == 7 and jia.still_missing == 1008 - 244 + 2016 - 288


def test_the_summary_sentence(reports):
    jia = reports["甲化工有限公司"]
    eff = (244 + 288) / 3024 * (230 + 288) / (244 + 288)
    assert jia.summary[0] == (f"本周传输有效率 {100 * eff:.1f}%，超标 5 小时，"
                              "异常 3 起（已处理 2 起）。")
    yi = reports["乙水务"]
    assert yi.summary[0] == (f"本周传输有效率 {100 * 10 / 1008 * 0.5:.1f}%，超标 0 小时，"
                             "异常 1 起（已处理 0 起）。")
    assert "本周无超标小时。" in yi.summary


def test_html_holds_the_figures(reports):
    jia = reports["甲化工有限公司"]
    html = render_html(jia)
    for text in ("甲化工有限公司", "2026-W48（2026-11-23 至 2026-11-29）", "江苏 / 苏皖沪",
                 jia.summary[0], percent(jia.stations[0].week.efficiency), "1,008", "244",
                 "化学需氧量", "130.5", "≤ 100", "补传请求 3 次", "工单 WO-7 已派发",
                 "部分补传", 'font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC"',
                 "@page { size: A4", "周一", "11-29",
                 "数据恒值", "未恢复", "2026-12-02 10:30"):
        assert text in html, text
    assert "<script" not in html


def test_html_escapes_names():
    bad = rows()
    bad.stations[0]["enterprise"] = "<b>坏</b>"
    report = next(r for r in build_reports(bad, WEEK, NOW) if "坏" in r.enterprise)
    html = render_html(report)
    assert "<b>坏</b>" not in html and "&lt;b&gt;坏&lt;/b&gt;" in html
    assert "/" not in file_name(report, ".pdf")


def test_durations_read_in_chinese():
    assert duration(timedelta(minutes=40)) == "40 分"
    assert duration(timedelta(hours=2, minutes=15)) == "2 小时 15 分"
    assert duration(timedelta(hours=3)) == "3 小时"
    assert duration(timedelta(days=3, hours=4, minutes=5)) == "3 天 4 小时"
