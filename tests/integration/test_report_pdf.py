"""The weekly report on the local ClickHouse (18.16), in a database of its own seeded with
tests/unit/test_report_queries.py's seed: every report query gives the answers derived
in Python; the PDF printed by Debian's Chromium holds extractable Chinese (pdftotext) set in
WenQuanYi Micro Hei, embedded as a subset TrueType font with its Unicode map, its key
figures equal what plain SQL over the same tables says, every report has its own page
numbers and title whether printed alone or in a batch and cut apart, and its first page
is drawn to a PNG (pdftoppm) for a person to look at."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from dashboards.report import Timing, render_all
from pipeline.store import queries
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from tests.store_seed import canon_rows
from tests.unit import test_report_queries as seed

pytestmark = pytest.mark.integration

DATABASE = "hj212_it_report"
#: where the rendered files and the page images stay after the run
OUT = Path(__file__).resolve().parents[2] / ".run" / "report-pdf"


@pytest.fixture(scope="module")
def dsn(stack) -> Iterator[str]:
    parts = urlsplit(stack.clickhouse_dsn)
    url = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    with ClickHouse(url, database="default") as boot:
        boot.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    Migrator(url).migrate()
    with ClickHouse(url) as ch:
        seed.seed(ch)
    yield url
    with ClickHouse(url, database="default") as boot:
        boot.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


@pytest.fixture(scope="module")
def rendered(dsn) -> tuple[list[Path], Timing]:
    shutil.rmtree(OUT, ignore_errors=True)
    timing = Timing()
    # one browser, so that the three reports go to one batch: the one-page reports are
    # printed together and cut apart, the longer ones alone
    paths = render_all(dsn, "2026-W48", OUT, pdf=True, timing=timing, workers=1)
    print(f"\n[report] {timing.line()}")
    return paths, timing


def pdf_fonts(path: Path) -> list[str]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True,
                         timeout=60)
    return out.stdout.splitlines()[2:]


def pdf_pages(path: Path) -> int:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True,
                         timeout=60)
    return int(re.search(r"^Pages:\s+(\d+)", out.stdout, re.M).group(1))  # type: ignore[union-attr]


def pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         text=True, check=True, timeout=60)
    return out.stdout


def _sql_scalar(dsn: str, sql: str) -> float:
    with ClickHouse(dsn) as ch:
        return float(ch.execute(sql)[0][0])


@pytest.mark.parametrize(("query", "params", "expected"),
                         [c[1:] for c in seed.CHECKS], ids=[c[0] for c in seed.CHECKS])
def test_report_query_on_18_16(dsn, query, params, expected):
    with ClickHouse(dsn) as ch:
        assert canon_rows(queries.run(ch, query, **params)) == canon_rows(expected)


def test_every_enterprise_gets_html_and_pdf(rendered):
    paths, timing = rendered
    names = [p.name for p in paths]
    for e in (seed.JIA, seed.YI, seed.BING):
        assert f"周报_2026-W48_{e}.html" in names and f"周报_2026-W48_{e}.pdf" in names
    assert all(p.stat().st_size > 1000 for p in paths)
    assert timing.reports == 3


def test_the_pdf_text_is_chinese_and_its_figures_are_the_databases(dsn, rendered):
    pdf = OUT / f"周报_2026-W48_{seed.JIA}.pdf"
    text = pdf_text(pdf)
    # extractable Chinese: the font is embedded with its Unicode map, not drawn as boxes
    for words in ("企业环保监测周报", seed.JIA, "数据传输有效率", "超标情况", "异常及处理情况",
                  "数据缺失及补传", "废水总排口", "化学需氧量", "二氧化硫"):
        assert words in text, words
    assert "第 1 页 / 共" in text  # the page-number footer

    # the week's figures by plain SQL over the same tables (not the report's queries)
    mns = "('" + "', '".join(seed.covered(None, seed.JIA)) + "')"
    week = ("toDateTime('2026-11-23 00:00:00', 'Asia/Shanghai') AND period_start < "
            "toDateTime('2026-11-30 00:00:00', 'Asia/Shanghai')")
    received = _sql_scalar(dsn, f"""
        SELECT sum(if(received < expected, received, expected)) FROM completeness FINAL
        WHERE period = 'hour' AND code = '' AND mn IN {mns} AND period_start >= {week}""")
    valid = _sql_scalar(dsn, f"""
        SELECT sum(valid) FROM completeness FINAL
        WHERE period = 'hour' AND code = '' AND mn IN {mns} AND period_start >= {week}""")
    expected = sum(168 * seed.per_hour(mn) for mn in seed.covered(None, seed.JIA))
    efficiency = received / expected * valid / received
    assert f"本周传输有效率 {100 * efficiency:.1f}%" in text
    assert f"实收 {int(received)} 条" in text and f"应收分钟数据 {expected} 条" in text

    over = seed.expected_over_limit(seed.START, seed.END, None, seed.JIA)
    assert f"超标 {sum(o['hours_over'] for o in over)} 小时" in text
    episodes = seed.expected_alarms(seed.START, seed.END, None, seed.JIA)
    cleared = sum(e["state"] == "cleared" for e in episodes)
    assert f"异常 {len(episodes)} 起（已处理 {cleared} 起）" in text


def test_every_pdf_embeds_one_subset_truetype_font_with_its_unicode_map(rendered):
    paths, _ = rendered
    for pdf in (p for p in paths if p.suffix == ".pdf"):
        fonts = pdf_fonts(pdf)
        # "AAAAAA+WenQuanYiMicroHei  CID TrueType  Identity-H  yes yes yes": a subset
        # (the 6-letter tag), embedded, subset, with a ToUnicode map; nothing as Type 3
        assert len(fonts) == 1, (pdf.name, fonts)
        name, *rest = fonts[0].split()
        assert re.fullmatch(r"[A-Z]{6}\+WenQuanYiMicroHei", name), fonts
        assert rest[:4] == ["CID", "TrueType", "Identity-H", "yes"], fonts
        assert rest[4:6] == ["yes", "yes"], fonts  # subset, Unicode map


def test_each_pdf_has_its_own_title_and_page_numbers(rendered):
    paths, timing = rendered
    pdfs = [p for p in paths if p.suffix == ".pdf"]
    pages = {p: pdf_pages(p) for p in pdfs}
    # the seed has reports of one page (printed together and cut apart) and of more
    assert 1 in pages.values() and max(pages.values()) > 1, pages
    assert timing.batched == sum(n == 1 for n in pages.values())
    for pdf, n in pages.items():
        enterprise = pdf.stem.split("_", 2)[2]
        title = f"{enterprise} 周报 2026-W48"
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                              check=True).stdout
        assert re.search(rf"^Title:\s+{re.escape(title)}$", info, re.M), info
        text = pdf_text(pdf)
        for page in range(1, n + 1):
            assert f"第 {page} 页 / 共 {n} 页 · {title}" in text, (pdf.name, page)
        assert f"第 {n + 1} 页" not in text
        assert enterprise in text and "数据传输有效率" in text


def test_the_first_page_as_an_image(rendered):
    pdf = OUT / f"周报_2026-W48_{seed.JIA}.pdf"
    subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "2", str(pdf),
                    str(OUT / "page")], check=True, timeout=60)
    pages = sorted(OUT.glob("page-*.png"))
    assert pages and all(p.stat().st_size > 10_000 for p in pages)
