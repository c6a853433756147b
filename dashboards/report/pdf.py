"""The weekly report's PDF: its HTML printed by Debian's Chromium (headless, under
chromedriver), A4, Chinese in WenQuanYi Micro Hei (embedded by Chromium as a subset
TrueType font), page numbers drawn by the page's own CSS (@page margin boxes).

One browser prints many reports (``Printer`` is a context manager): a Chromium start costs
a second or two, a report printed alone a sixth of a second, and ``hj212 report weekly
--all`` prints one per enterprise. Each page is written into the browser's one open page
and printed through the DevTools command Page.printToPDF. Reports that fit on one page
are printed many to a job (``Printer.batch``) and the job's PDF cut apart (split.py): a
print job's fixed cost is most of a one-page report's.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from dashboards.report.split import SplitError, split
from pipeline.stack.browser import CHROMEDRIVER, CHROMIUM

#: Chromium headless in a container: no sandbox, GPU, or background networking of its own
FLAGS: Final = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--lang=zh-CN")
MM_PER_INCH: Final = 25.4
CSS_PX_PER_MM: Final = 96 / MM_PER_INCH
#: the height of an A4 page's text area (297 mm less the @page margins of 14 and 16 mm)
PAGE_BODY_MM: Final = 267.0
#: a report laid out on screen (same width, same fonts) up to this part of a page's text
#: area is printed in a batch: measured, 999 px of 1009 came out on one page and 1038 on
#: two; right at the edge the print's own breaks may still spill onto a second page,
#: which the page count shows and which costs that batch a reprint one by one
FITS: Final = 0.995
#: Page.printToPDF's options: the size and margins are the page's CSS (@page); no
#: structure tags, as a print job's structure tree spans all its pages and a batch is cut
PRINT: Final = {"preferCSSPageSize": True, "printBackground": True,
                "displayHeaderFooter": False, "generateTaggedPDF": False}
#: writes the page, waits for its fonts, and (for a batch) takes out the reports taller
#: than one page, answering the indices of those kept: one DevTools round trip
WRITE: Final = """
const [html, limit, done] = arguments;
document.open(); document.write(html); document.close();
document.fonts.ready.then(() => {
  const kept = [];
  if (limit > 0) {
    document.querySelectorAll('article.report').forEach((a, i) => {
      if (a.getBoundingClientRect().height > limit) { a.remove(); } else { kept.push(i); }
    });
  }
  done(kept);
});
"""


class PdfUnavailable(RuntimeError):
    """Chromium or chromedriver is missing or would not start; the message says how to
    install them."""


def check_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise PdfUnavailable(
            f"the weekly report's PDF is printed by Chromium, and {', '.join(missing)} is "
            "missing; fix: run `make browser-install` (as root: it installs Debian's "
            "chromium, chromium-driver, the CJK fonts and poppler-utils), or write HTML "
            "only with --no-pdf")


class Printer:
    """One headless Chromium that prints HTML to PDF; use as ``with Printer() as p``."""

    def __init__(self) -> None:
        self._driver: Any = None
        self._dir: Path | None = None

    def __enter__(self) -> Printer:
        check_browser()
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service

        self._dir = Path(tempfile.mkdtemp(prefix="hj212-report-"))
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self._dir / 'profile'}")
        try:
            self._driver = webdriver.Chrome(
                options=options, service=Service(executable_path=str(CHROMEDRIVER)))
        except WebDriverException as exc:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise PdfUnavailable(
                f"Chromium ({CHROMIUM}) would not start under {CHROMEDRIVER}: "
                f"{str(exc.msg or exc).strip().splitlines()[0]}; fix: run `make "
                "browser-install`, and check that chromium and chromium-driver are the "
                "same version") from None
        self._driver.get("about:blank")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._driver is not None:
                self._driver.quit()
        finally:
            self._driver = None
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    def _write(self, html: str, limit_px: float = 0.0) -> list[int]:
        if self._driver is None:
            raise RuntimeError("Printer used outside `with Printer() as printer`")
        # written into the one open page rather than loaded from a file: a navigation
        # may start a renderer process, which costs about as much as the printing
        return [int(i) for i in self._driver.execute_async_script(WRITE, html, limit_px)]

    def _print(self) -> bytes:
        result = self._driver.execute_cdp_cmd("Page.printToPDF", dict(PRINT))
        return base64.b64decode(result["data"])

    def pdf(self, html: str, title: str = "") -> bytes:
        """``html`` printed on A4. The page draws its own footer ('第 n 页 / 共 m 页 ·
        title', html.py), and its <title> is the PDF's; ``title`` is not used."""
        self._write(html)
        return self._print()

    def batch(self, html: str, titles: Sequence[str]) -> dict[int, bytes]:
        """The one-page reports of a page made by html.render_batch (``titles``: theirs,
        in order), printed as one job and cut apart: {index in titles: its PDF}. Reports
        taller than a page are left out, and all are when the job does not come out at
        one page per report kept (the caller prints those alone)."""
        kept = self._write(html, PAGE_BODY_MM * CSS_PX_PER_MM * FITS)
        if not kept:
            return {}
        try:
            parts = split(self._print(), [(1, titles[i]) for i in kept])
        except SplitError:
            return {}
        return dict(zip(kept, parts, strict=True))


def html_to_pdf(html: str, title: str = "") -> bytes:
    """One page to PDF with a browser of its own (the web app's download button)."""
    with Printer() as printer:
        return printer.pdf(html, title)
