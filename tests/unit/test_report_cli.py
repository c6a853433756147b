"""`hj212 report weekly` under click's CliRunner on chDB (the seed of
tests/unit/test_report_queries.py): the files written, the summary lines with figures
derived in Python from the seed, and the refusals (unknown enterprise, malformed week,
ClickHouse down, Chromium missing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dashboards.report import pdf, render
from dashboards.report.cli import close_names, report
from pipeline.cli import main
from pipeline.store.client import StoreError
from tests.unit import test_report_queries as seed
from tests.unit.chdb_client import ChdbClickHouse, migrate


class KeepOpen:
    def __init__(self, ch: ChdbClickHouse) -> None:
        self.ch = ch

    def query_dicts(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        return self.ch.query_dicts(sql, params)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def chdb() -> Iterator[ChdbClickHouse]:
    with ChdbClickHouse("hj212_report_cli") as conn:
        migrate(conn)
        seed.seed(conn)
        yield conn


@pytest.fixture()
def runner(monkeypatch: pytest.MonkeyPatch, chdb: ChdbClickHouse) -> CliRunner:
    monkeypatch.setattr(render, "connect", lambda dsn: KeepOpen(chdb))
    return CliRunner()


def efficiency(enterprise: str) -> float:
    """The week's transmission-efficiency of an enterprise, from the seed alone."""
    stations = seed.covered(None, enterprise)
    expected = sum(168 * seed.per_hour(mn) for mn in stations)
    days = seed.expected_station_days(seed.START, seed.END, None, enterprise)
    received = sum(d["received_sum"] for d in days)
    valid = sum(d["valid_sum"] for d in days)
    return received / expected * valid / received


def test_report_joins_hj212_through_the_entry_point():
    result = CliRunner().invoke(main, ["report", "weekly", "--help"])
    assert result.exit_code == 0, result.output
    assert "--enterprise" in result.output and "--all" in result.output
    assert "2026-W48" in result.output


def test_one_enterprise(runner, tmp_path):
    result = runner.invoke(report, ["weekly", "--enterprise", seed.JIA, "--week", "2026-W48",
                                    "--out", str(tmp_path), "--no-pdf"])
    assert result.exit_code == 0, result.output
    html = tmp_path / f"周报_2026-W48_{seed.JIA}.html"
    assert str(html) in result.output
    assert f"{seed.JIA}: 2 outlet(s), efficiency {100 * efficiency(seed.JIA):.1f}%" \
        in result.output
    over = sum(r["hours_over"] for r in seed.expected_over_limit(
        seed.START, seed.END, None, seed.JIA))
    assert f"over limit {over} h" in result.output
    text = html.read_text(encoding="utf-8")
    assert seed.JIA in text and f"{100 * efficiency(seed.JIA):.1f}%" in text
    assert [p.name for p in tmp_path.iterdir()] == [html.name]


def test_all_enterprises(runner, tmp_path):
    result = runner.invoke(report, ["weekly", "--all", "--week", "2026-W48", "--out",
                                    str(tmp_path), "--no-pdf"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"周报_2026-W48_{e}.html" for e in (seed.JIA, seed.YI, seed.BING))
    assert "3 enterprise(s)" in result.output
    for e in (seed.JIA, seed.YI, seed.BING):
        assert f"{e}: " in result.output and f"{100 * efficiency(e):.1f}%" in result.output


def test_an_unknown_enterprise_names_it_and_suggests(runner, tmp_path):
    result = runner.invoke(report, ["weekly", "-e", "甲化工", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "'甲化工'" in result.output and seed.JIA in result.output
    assert not list(tmp_path.iterdir())
    assert close_names("乙水务", [seed.JIA, seed.YI]) == [seed.YI]


@pytest.mark.parametrize("week", ["2026-48", "2026-W54", "next"])
def test_a_malformed_week_names_it(runner, week):
    result = runner.invoke(report, ["weekly", "--all", "--week", week])
    assert result.exit_code == 2
    assert f"'{week}'" in result.output


def test_one_of_enterprise_or_all(runner):
    for args in ([], ["--all", "-e", seed.JIA], ["--all", "--subscribed"]):
        result = runner.invoke(report, ["weekly", *args])
        assert result.exit_code == 2
        assert "one of --enterprise NAME, --subscribed or --all" in result.output


def test_clickhouse_down_is_a_message(monkeypatch):
    def refuse(dsn: str) -> Any:
        raise StoreError("ClickHouse at clickhouse://default@127.0.0.1:1/x did not answer; "
                         "fix: hj212 stack up")

    monkeypatch.setattr(render, "connect", refuse)
    result = CliRunner().invoke(report, ["weekly", "--all", "--week", "2026-W48"])
    assert result.exit_code == 1
    assert "did not answer" in result.output and "Traceback" not in result.output


def test_chromium_missing_says_how_to_install(runner, monkeypatch, tmp_path):
    monkeypatch.setattr(pdf, "CHROMIUM", Path("/nonexistent/chromium"))
    result = runner.invoke(report, ["weekly", "-e", seed.YI, "--week", "2026-W48", "--out",
                                    str(tmp_path)])
    assert result.exit_code == 1
    assert "make browser-install" in result.output and "/nonexistent/chromium" in result.output
