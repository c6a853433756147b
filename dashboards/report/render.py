"""Weekly reports from the database to files: the reports of one enterprise or of all
(in scope), their HTML, and their PDFs printed by one Chromium.

``render_all`` is what ``hj212 report weekly`` and benchmarks/dashboards.py call. The
week's data come from the report's five named queries asked once for every enterprise
(queries_report.py), so the time is in the rendering, not in round trips.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from dashboards.report import handling
from dashboards.report.data import HANDLING_SOURCES, WeeklyReport, build_reports, fetch_rows
from dashboards.report.html import file_name, render_batch, render_html, report_title
from dashboards.report.pdf import Printer
from dashboards.report.week import Week, parse_week
from pipeline.store import queries
from pipeline.store.client import ClickHouse
from pipeline.timebase import now_local

#: one-page reports printed to one job (measured per report: alone 0.16 s of Chromium's
#: CPU, five to a job 0.07 s, ten 0.06 s, twenty 0.05 s); a report that spills over
#: makes its batch print again one by one, so a batch is kept small
BATCH = 10
#: every region: the CLI and the benchmark render for the whole platform
ALL_REGIONS: Mapping[str, Any] = {"all_regions": 1, "regions": ("",)}


class Connection(Protocol):
    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None
                    ) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def _connect(dsn: str) -> Connection:
    return ClickHouse(dsn, connect_timeout=3.0, send_receive_timeout=60.0)


# the duty desk's and the engineers' handling in every report's anomaly table (here, as
# the package's __init__ imports this module: the page and the CLI both get it)
handling.register(HANDLING_SOURCES)

#: how the reports get their connection; unit tests put a chDB stand-in here
connect: Callable[[str], Connection] = _connect


@dataclass
class Timing:
    """Seconds spent in each step of a run (printed by the CLI, read by benchmarks)."""

    query_s: float = 0.0
    build_s: float = 0.0
    html_s: float = 0.0
    browser_start_s: float = 0.0
    pdf_s: float = 0.0
    reports: int = 0
    browsers: int = 0
    #: PDFs printed many to a job (one-page reports) rather than alone
    batched: int = 0

    def line(self) -> str:
        total = (self.query_s + self.build_s + self.html_s + self.browser_start_s
                 + self.pdf_s)
        return (f"{self.reports} report(s) in {total:.1f} s: queries {self.query_s:.2f} s, "
                f"model {self.build_s:.2f} s, HTML {self.html_s:.2f} s, Chromium start "
                f"{self.browser_start_s:.2f} s, PDF {self.pdf_s:.2f} s "
                f"({self.browsers} browser(s), {self.batched} PDF(s) printed in batches)")


@dataclass
class Written:
    report: WeeklyReport
    paths: list[Path] = field(default_factory=list)


def load_reports(dsn: str, week: Week, *, enterprise: str = "",
                 scope: Mapping[str, Any] = ALL_REGIONS, now: datetime | None = None,
                 timing: Timing | None = None) -> list[WeeklyReport]:
    """The reports of ``week`` for ``enterprise`` ('' = every enterprise in scope)."""
    timing = timing if timing is not None else Timing()
    now = now or now_local()
    start = time.perf_counter()
    conn = connect(dsn)
    try:
        def run(name: str, **params: Any) -> list[dict[str, Any]]:
            return queries.run(conn, name, **params)  # type: ignore[arg-type]

        rows = fetch_rows(run, week, now, scope, enterprise)
    finally:
        conn.close()
    timing.query_s += time.perf_counter() - start
    start = time.perf_counter()
    reports = build_reports(rows, week, now)
    timing.build_s += time.perf_counter() - start
    return reports


def write_reports(reports: Sequence[WeeklyReport], out_dir: Path, *, pdf: bool = True,
                  timing: Timing | None = None, workers: int = 0) -> list[Written]:
    """Each report's HTML (and PDF) in ``out_dir``. PDFs are printed by ``workers``
    Chromiums at once (0: one per CPU), each reused for many reports."""
    timing = timing if timing is not None else Timing()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    pages = []
    start = time.perf_counter()
    for report in reports:
        html = render_html(report)
        path = out_dir / file_name(report, ".html")
        path.write_text(html, encoding="utf-8")
        written.append(Written(report, [path]))
        pages.append(html)
    timing.html_s += time.perf_counter() - start
    timing.reports += len(reports)
    if pdf and reports:
        _print_all(list(zip(written, pages, strict=True)), out_dir,
                   workers or default_workers(len(reports)), timing)
    return written


def default_workers(reports: int) -> int:
    """Browsers printing at once: one per CPU (printing is CPU-bound in Chromium), at
    most one per report."""
    return max(1, min(os.cpu_count() or 1, reports))


def _print_all(jobs: list[tuple[Written, str]], out_dir: Path, workers: int,
               timing: Timing) -> None:
    """Each job's PDF; ``workers`` browsers, each printing every workers-th report, in
    batches of BATCH (those that fit on one page; the others alone)."""
    started: list[float] = []

    def work(share: list[tuple[Written, str]]) -> None:
        start = time.perf_counter()
        with Printer() as printer:
            started.append(time.perf_counter() - start)
            for at in range(0, len(share), BATCH):
                chunk = share[at:at + BATCH]
                titles = [report_title(item.report) for item, _ in chunk]
                printed = (printer.batch(render_batch([item.report for item, _ in chunk]),
                                         titles) if len(chunk) > 1 else {})
                for i, (item, html) in enumerate(chunk):
                    path = out_dir / file_name(item.report, ".pdf")
                    data = printed.get(i)
                    path.write_bytes(data if data is not None else printer.pdf(html))
                    item.paths.append(path)
                    timing.batched += data is not None

    start = time.perf_counter()
    shares = [jobs[i::workers] for i in range(workers)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(work, share) for share in shares]:
            future.result()  # a browser's failure (PdfUnavailable) is the caller's
    elapsed = time.perf_counter() - start
    timing.browser_start_s += max(started, default=0.0)
    timing.pdf_s += elapsed - max(started, default=0.0)
    timing.browsers = workers


def render_all(dsn: str, week: str | Week, out_dir: Path, pdf: bool = True, *,
               enterprise: str = "", now: datetime | None = None,
               timing: Timing | None = None, workers: int = 0) -> list[Path]:
    """Render the weekly reports of ``week`` ('2026-W48' or a Week) for every enterprise
    with an active station (or only ``enterprise``) into ``out_dir``: HTML, and PDF when
    ``pdf``. Returns the paths written (per enterprise: .html, then .pdf). Raises
    WeekError for a malformed week, StoreError when ClickHouse does not answer,
    PdfUnavailable when Chromium is missing. ``timing`` (if given) gets the seconds of
    each step. ``workers``: Chromiums printing at once (0: one per CPU)."""
    wk = parse_week(week) if isinstance(week, str) else week
    timing = timing if timing is not None else Timing()
    reports = load_reports(dsn, wk, enterprise=enterprise, now=now, timing=timing)
    written = write_reports(reports, Path(out_dir), pdf=pdf, timing=timing, workers=workers)
    return [p for w in written for p in w.paths]
