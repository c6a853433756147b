"""``hj212 report weekly``: the weekly reports (周报) to HTML and PDF files.

Joined to ``hj212`` through the entry-point group ``hj212.commands`` (pyproject.toml),
as pipeline/ may not import dashboards/. The week's data for every enterprise come from
five queries (dashboards/report/render.py), and one Chromium prints every PDF.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from dashboards.report import render
from dashboards.report.data import WeeklyReport, percent
from dashboards.report.pdf import PdfUnavailable
from dashboards.report.week import Week, WeekError, last_full_week, parse_week
from pipeline.cli_context import CONTEXT, CliContext, pass_cli
from pipeline.store import queries
from pipeline.store.client import StoreError
from pipeline.timebase import now_local

#: where reports go unless --out says otherwise (relative to the current directory)
DEFAULT_OUT = Path("reports")


def _week(ctx: click.Context, param: click.Parameter, value: str | None) -> Week:
    if value is None:
        return last_full_week(now_local())
    try:
        return parse_week(value)
    except WeekError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def close_names(name: str, known: list[str], n: int = 5) -> list[str]:
    """Known enterprise names like ``name``: those containing it (or contained in it),
    then the most similar."""
    inside = [k for k in known if name and (name in k or k in name)]
    similar = difflib.get_close_matches(name, known, n=n, cutoff=0.3)
    return list(dict.fromkeys([*inside, *similar]))[:n]


def summary_line(report: WeeklyReport) -> str:
    c = report.week_total
    return (f"{report.enterprise}: {len(report.stations)} outlet(s), efficiency "
            f"{percent(c.efficiency)}, over limit {report.over_limit_hours} h, anomalies "
            f"{len(report.episodes)} ({report.handled} handled), missing {c.missing} "
            f"(back-filled {report.backfilled})")


@click.group(context_settings=CONTEXT)
def report() -> None:
    """Reports for enterprises (报告): the weekly report (周报)."""


@report.command(context_settings=CONTEXT)
@click.option("--enterprise", "-e", default=None, metavar="NAME",
              help="The enterprise (企业) as the registry names it.")
@click.option("--all", "all_", is_flag=True,
              help="Every enterprise with an active station.")
@click.option("--subscribed", is_flag=True,
              help="The enterprises on the 365 service today (trial, active or expiring "
                   "in the subscription records): those the weekly report is sent to.")
@click.option("--week", "-w", default=None, callback=_week, metavar="YYYY-Www",
              help="ISO week, China Standard Time, e.g. 2026-W48 (Monday 2026-11-23 to "
                   "Sunday 2026-11-29). Default: the last full week.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=DEFAULT_OUT, show_default=True, help="Folder for the files.")
@click.option("--no-pdf", is_flag=True, help="HTML only (no Chromium needed).")
@pass_cli
def weekly(cli: CliContext, enterprise: str | None, all_: bool, subscribed: bool,
           week: Week, out_dir: Path, no_pdf: bool) -> None:
    """The weekly report (周报) of one enterprise (--enterprise) or of all (--all): its
    completeness, hours over the limits, anomalies and what was done about them, and
    missing data, as HTML and PDF (A4, Chinese in WenQuanYi Micro Hei) in --out.

    Example: hj212 report weekly --enterprise 上海绿安污水处理厂 --week 2026-W48
    """
    if [all_, subscribed, enterprise is not None].count(True) != 1:
        raise click.UsageError("give one of --enterprise NAME, --subscribed or --all")
    dsn = cli.dsn
    timing = render.Timing()
    now = now_local()
    try:
        if enterprise is not None:
            _check_enterprise(dsn, enterprise)
        reports = render.load_reports(dsn, week, enterprise=enterprise or "", now=now,
                                      timing=timing)
        if subscribed:
            names = _subscribed(dsn)
            reports = [r for r in reports if r.enterprise in names]
            if not reports:
                raise click.ClickException(
                    "no enterprise with an active station is on the 365 service today; "
                    "see `hj212 subscriptions list`")
        if not reports:
            raise click.ClickException(
                "no enterprise has an active station; load the registry with `hj212 "
                "stations import` (or `hj212 stations sample`)")
        written = render.write_reports(reports, out_dir, pdf=not no_pdf, timing=timing)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    except PdfUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"weekly report 周报 {week.label()}: {len(written)} enterprise(s)")
    for item in written:
        click.echo(summary_line(item.report))
        for path in item.paths:
            click.echo(f"  {path}")
    click.echo(timing.line())


def _subscribed(dsn: str) -> frozenset[str]:
    from pipeline import service365

    conn = render.connect(dsn)
    try:
        return service365.subscribed(conn)
    finally:
        conn.close()


def _check_enterprise(dsn: str, enterprise: str) -> None:
    conn = render.connect(dsn)
    try:
        rows = queries.run(conn, "report_enterprises",  # type: ignore[arg-type]
                           **render.ALL_REGIONS)
    finally:
        conn.close()
    known = [r["enterprise"] for r in rows]
    if enterprise in known:
        return
    close = close_names(enterprise, known)
    hint = ("; did you mean: " + ", ".join(close)) if close else (
        "; see them with `hj212 stations export` or use --all")
    raise click.ClickException(f"no enterprise named {enterprise!r} has an active "
                               f"station{hint}")
