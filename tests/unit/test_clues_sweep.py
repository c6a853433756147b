"""Which periods a sweep takes (pipeline/clues/sweep.py) and what it remembers between
sweeps: closed hours and days after the grace, the watermark across a restart, an
explicit range; the alarm rows of one sweep newest last."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from pipeline.clues.episodes import ClueBook
from pipeline.clues.model import Finding, Judgement
from pipeline.clues.service import records_of
from pipeline.clues.settings import ClueSettings
from pipeline.clues.sweep import SweepResult, Watermark, due, in_range

S = ClueSettings.load()
HOUR = timedelta(hours=1)


def test_first_sweep_goes_back_the_lookback_and_takes_closed_periods_only():
    now = datetime(2026, 11, 10, 10, 25)  # 10:00 closed at 11:00; 09:00 closed + 20 min
    hours, days, after = due(now, S, None)
    first = datetime(2026, 11, 10, 10) - S.sweep.lookback_hours * HOUR
    assert hours[0] == first and hours[-1] == datetime(2026, 11, 10, 9)
    assert len(hours) == S.sweep.lookback_hours
    assert days == [datetime(2026, 11, 9)]  # 11-09 ended at 00:00, + 60 min grace passed
    assert after == Watermark(datetime(2026, 11, 10, 10), datetime(2026, 11, 10))


def test_an_hour_waits_for_its_grace():
    mark = Watermark(datetime(2026, 11, 10, 9), datetime(2026, 11, 10))
    hours, days, after = due(datetime(2026, 11, 10, 10, 19), S, mark)
    assert hours == [] and days == [] and after == mark
    hours, _, after = due(datetime(2026, 11, 10, 10, 20), S, mark)
    assert hours == [datetime(2026, 11, 10, 9)]
    assert after.hour == datetime(2026, 11, 10, 10)


def test_a_restart_goes_on_from_the_saved_watermark(tmp_path: Path):
    path = tmp_path / "clues" / "watermark-x.json"
    assert Watermark.read(path) is None
    mark = Watermark(datetime(2026, 11, 10, 9), datetime(2026, 11, 10))
    mark.save(path)
    assert Watermark.read(path) == mark
    assert json.loads(path.read_text()) == {"hour": "2026-11-10T09:00:00",
                                            "day": "2026-11-10T00:00:00"}
    path.write_text("{broken")
    assert Watermark.read(path) is None


def test_an_explicit_range_takes_its_whole_hours_and_days():
    hours, days = in_range(datetime(2026, 11, 9, 22, 30), datetime(2026, 11, 11, 1))
    assert hours[0] == datetime(2026, 11, 9, 23) and hours[-1] == datetime(2026, 11, 11, 0)
    assert days == [datetime(2026, 11, 10)]


def test_rows_of_one_sweep_get_increasing_versions():
    rule = S.rule("clue_hour_vs_minute")
    book = ClueBook()
    h = datetime(2026, 11, 10, 10)
    result = SweepResult()
    for at, found in ((h, True), (h + HOUR, True), (h + 2 * HOUR, False)):
        j = Judgement(rule.rule, judged={("MN", "w01018")})
        if found:
            j.findings.append(Finding("MN", "w01018", rule.rule, 2061, at, at, "甲 / a",
                                      {"value": 1.0}))
        result.add(j, book.apply(j, at, rule))
    records = records_of(result, now=1_800_000_000.0)
    assert [r.row["state"] for r in records] == ["open", "open", "cleared"]
    versions = [r.row["version"] for r in records]
    assert versions == sorted(set(versions))
    assert len({r.row["alarm_id"] for r in records}) == 1
    assert records[0].row["alarm_id"] == "MN/w01018/clue_hour_vs_minute/20261110100000"


def test_not_before_floors_the_first_sweep_and_a_saved_watermark():
    # a fleet started at 08:37 (data time): its first whole hour is 09:00
    now = datetime(2026, 11, 10, 10, 25)
    floor = datetime(2026, 11, 10, 8, 37)
    hours, days, after = due(now, S, None, not_before=floor)
    assert hours == [datetime(2026, 11, 10, 9)]
    assert days == []  # 11-10 began before the floor, 11-11 has not closed
    assert after == Watermark(datetime(2026, 11, 10, 10), datetime(2026, 11, 11))
    # a watermark from an earlier run behind the floor: the hours between are skipped
    old = Watermark(datetime(2026, 11, 10, 3), datetime(2026, 11, 10))
    assert due(now, S, old, not_before=floor)[0] == [datetime(2026, 11, 10, 9)]
    # ... and one ahead of it goes on from itself
    ahead = Watermark(datetime(2026, 11, 10, 9), datetime(2026, 11, 11))
    assert due(now, S, ahead, not_before=datetime(2026, 11, 10, 6))[0] == [
        datetime(2026, 11, 10, 9)]
    # a floor on the hour takes that hour
    assert due(now, S, None, not_before=datetime(2026, 11, 10, 9))[0] == [
        datetime(2026, 11, 10, 9)]


def test_not_before_floors_an_explicit_range():
    hours, days = in_range(datetime(2026, 11, 9, 22, 30), datetime(2026, 11, 11, 1),
                           not_before=datetime(2026, 11, 10, 23, 10))
    assert hours == [datetime(2026, 11, 11, 0)] and days == []


def test_clues_command_takes_not_before(monkeypatch):
    from click.testing import CliRunner

    from pipeline.cli import main
    from pipeline.clues import service

    seen = []

    async def fake_run(settings, clues, options):
        seen.append(options)
        return 0

    monkeypatch.setattr(service, "run_clues", fake_run)
    runner = CliRunner()
    done = runner.invoke(main, ["clues", "--once", "--not-before", "2026-12-03T11:00"])
    assert done.exit_code == 0, done.output
    assert seen[0].not_before == datetime(2026, 12, 3, 11) and seen[0].once
    bad = runner.invoke(main, ["clues", "--not-before", "noon"])
    assert bad.exit_code != 0 and "--not-before" in bad.output
    assert "--not-before" in runner.invoke(main, ["clues", "--help"]).output
