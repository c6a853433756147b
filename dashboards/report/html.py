"""The weekly report as one self-contained HTML page (jinja2, templates/weekly.html.j2):
the same page is previewed in the web app, downloaded, and printed to PDF by Chromium
(dashboards/report/pdf.py), so its CSS is written for A4 paper as well as a screen.

Chinese is set in WenQuanYi Micro Hei (Debian's fonts-wqy-microhei, installed by
pipeline/stack/browser.py as its REPORT_FONT); the CSS names it first, so Chromium embeds
that font in the PDF instead of falling back to whatever fontconfig finds. Its outlines
are TrueType, which Chromium embeds as a subset CID font: Noto Sans CJK (CFF outlines)
went in as Type 3 glyphs, at 2.5 times the size and 1.6 times the printing time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Final

import jinja2
from markupsafe import Markup

from dashboards.report.data import WeeklyReport, percent
from dashboards.report.week import WEEKDAYS_ZH
from pipeline.stack.browser import REPORT_FONT

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
#: the CJK family the page asks for first (`fc-list "WenQuanYi Micro Hei"` lists it)
CJK_FAMILY: Final = REPORT_FONT
#: a rate under this (as a fraction) is marked as poor, under GOOD as fair
POOR: Final = 0.90
GOOD: Final = 0.98


def duration(span: timedelta) -> str:
    """'3 天 4 小时', '2 小时 15 分', '40 分'."""
    minutes = int(span.total_seconds()) // 60
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} 天 {hours} 小时"
    if hours:
        return f"{hours} 小时 {mins} 分" if mins else f"{hours} 小时"
    return f"{mins} 分"


def when(value: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    return value.strftime(fmt) if value is not None else "—"


def number(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "—"
    return f"{value:g}" if isinstance(value, float) else f"{value:,}"


def rate_class(rate: float, expected: int = 1) -> str:
    """The CSS class of a rate cell: no data expected, poor, fair or good."""
    if not expected:
        return "na"
    if rate < POOR:
        return "poor"
    return "fair" if rate < GOOD else "good"


def css_string(text: str) -> Markup:
    """``text`` as a CSS string (quoted, escaped), safe inside <style>: no quote, backslash,
    line break or '<' (the start of '</style>') left as it is."""
    out = "".join(f"\\{ord(c):x} " if c in '"\\<>\n\r' or ord(c) < 32 else c for c in text)
    return Markup(f'"{out}"')


def report_title(report: WeeklyReport) -> str:
    """'<enterprise> 周报 2026-W48': the PDF's title and its footer's."""
    return f"{report.enterprise} 周报 {report.week.name}"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(pct=percent, duration=duration, when=when, num=number,
                       rate_class=rate_class, css_string=css_string)
    env.globals.update(report_title=report_title)
    return env


def render_html(report: WeeklyReport) -> str:
    """The report's page (UTF-8 text)."""
    template = _env().get_template("weekly.html.j2")
    return template.render(reports=[report], title=report_title(report), batch=False,
                           weekdays=WEEKDAYS_ZH, cjk_family=CJK_FAMILY, poor=POOR)


def render_batch(reports: Sequence[WeeklyReport]) -> str:
    """One page holding ``reports`` one after another, each starting a page of its own
    with its own footer ('第 1 页 / 共 1 页 · <title>'): printed as one job and cut apart
    (render.py), for reports that fit on one page."""
    template = _env().get_template("weekly.html.j2")
    return template.render(reports=reports, title="周报", batch=True, weekdays=WEEKDAYS_ZH,
                           cjk_family=CJK_FAMILY, poor=POOR)


def file_name(report: WeeklyReport, suffix: str) -> str:
    """'周报_2026-W48_<enterprise>.html': the enterprise's name kept (Chinese is fine on
    every file system the reports go to), path separators and odd characters not."""
    safe = "".join(c if c.isalnum() or c in "()（）-_" else "_" for c in report.enterprise)
    return f"周报_{report.week.name}_{safe.strip('_') or 'enterprise'}{suffix}"
