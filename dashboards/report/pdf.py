"""The weekly report's PDF: its HTML printed by Debian's Chromium (headless, under
chromedriver), A4 with page numbers, Chinese in Noto Sans CJK SC (embedded by Chromium).

One browser prints many reports (``Printer`` is a context manager): a Chromium start costs
a second or two, a report a quarter of a second (mostly embedding the CJK glyphs), and
``hj212 report weekly --all`` prints one per enterprise. Each page is written into the
browser's one open page and printed through the DevTools command Page.printToPDF, which
(unlike WebDriver's print) draws the page-number footer.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from pipeline.stack.browser import CHROMEDRIVER, CHROMIUM, REPORT_FONT

#: Chromium headless in a container: no sandbox, GPU, or background networking of its own
FLAGS: Final = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--lang=zh-CN")
MM_PER_INCH: Final = 25.4
#: the footer Chromium draws on every page (its own small document: its own font)
FOOTER: Final = (
    '<div style="width:100%;font-size:8px;color:#6b7785;text-align:center;'
    f"font-family:'{REPORT_FONT}','Noto Sans CJK SC',sans-serif;\">"
    '第 <span class="pageNumber"></span> 页 / 共 <span class="totalPages"></span> 页'
    " · {title}</div>")


class PdfUnavailable(RuntimeError):
    """Chromium or chromedriver is missing or would not start; the message says how to
    install them."""


def check_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        raise PdfUnavailable(
            f"the weekly report's PDF is printed by Chromium, and {', '.join(missing)} is "
            "missing; fix: run `make browser-install` (as root: it installs Debian's "
            "chromium, chromium-driver, fonts-noto-cjk and poppler-utils), or write HTML "
            "only with --no-pdf")


def _inches(mm: float) -> float:
    return mm / MM_PER_INCH


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

    def pdf(self, html: str, title: str = "") -> bytes:
        """``html`` printed on A4 with '第 n 页 / 共 m 页' under each page."""
        if self._driver is None or self._dir is None:
            raise RuntimeError("Printer.pdf outside `with Printer() as printer`")
        # written into the one open page rather than loaded from a file: a navigation
        # may start a renderer process, which costs about as much as the printing
        self._driver.execute_script(
            "document.open(); document.write(arguments[0]); document.close();", html)
        # fonts are local, but a page may still be laying out: wait until they are ready
        self._driver.execute_async_script(
            "const done = arguments[arguments.length - 1]; document.fonts.ready.then("
            "() => done(true));")
        footer = FOOTER.format(title=_escape(title))
        result = self._driver.execute_cdp_cmd("Page.printToPDF", {
            "paperWidth": _inches(210), "paperHeight": _inches(297),
            "marginTop": _inches(14), "marginBottom": _inches(16),
            "marginLeft": _inches(12), "marginRight": _inches(12),
            "printBackground": True, "preferCSSPageSize": True,
            "displayHeaderFooter": True, "headerTemplate": "<div></div>",
            "footerTemplate": footer,
        })
        return base64.b64decode(result["data"])


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def html_to_pdf(html: str, title: str = "") -> bytes:
    """One page to PDF with a browser of its own (the web app's download button)."""
    with Printer() as printer:
        return printer.pdf(html, title)
