"""Debian's Chromium under Selenium, and what the suite does with a Streamlit page: sign
in, wait for a page to finish drawing, read its metrics, tables and messages, find
exceptions, save screenshots.

Chromium's flags: headless in a container (no sandbox, no GPU); and no background
networking of its own (QUIC, sync, component updates, first-run fetches), which this
machine refuses and which would only slow or break the run. Each run gets a fresh
profile (--user-data-dir), so no cookie or cache of an earlier run plays a part.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from pipeline.stack.browser import CHROMEDRIVER, CHROMIUM

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
#: the suite's logs, Chromium profile and registry files
RUN_DIR = Path(__file__).resolve().parents[2] / ".run" / "browser"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1440,1000", "--lang=zh-CN")
WIDTH = 1440
WAIT_S = 30.0

# what changes while Streamlit draws: element kinds and counts, text length, charts drawn
_SNAPSHOT_JS = """
const ids = {};
for (const e of document.querySelectorAll('[data-testid]')) {
  ids[e.dataset.testid] = (ids[e.dataset.testid] || 0) + 1;
}
const charts = document.querySelectorAll('[data-testid="stVegaLiteChart"]');
let drawn = 0;
for (const c of charts) { if (c.querySelector('svg.marks, canvas.marks')) drawn += 1; }
return {ids: ids, text: document.body.innerText.length, charts: charts.length,
        drawn: drawn, skeletons: ids['stSkeleton'] || 0,
        stale: document.querySelectorAll('[data-stale="true"]').length};
"""

_PAGE_HEIGHT_JS = """
const main = document.querySelector('[data-testid="stMain"]');
return Math.max(main ? main.scrollHeight : 0, document.body.scrollHeight);
"""

USER_FIELD = "用户名 User name"
PASSWORD_FIELD = "密码 Password"
SIGN_IN = "登录 Sign in"
SIGN_OUT = "退出登录 Sign out"


@dataclass
class Browser:
    driver: webdriver.Chrome
    profile: Path

    @classmethod
    def start(cls, run_dir: Path) -> Browser:
        if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
            raise RuntimeError(f"{CHROMIUM} or {CHROMEDRIVER} is missing; fix: run "
                               "`make browser-install` (as root)")
        run_dir.mkdir(parents=True, exist_ok=True)
        profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=run_dir))
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        service = Service(executable_path=str(CHROMEDRIVER),
                          log_output=str(run_dir / "chromedriver.log"))
        driver = webdriver.Chrome(options=options, service=service)
        driver.set_page_load_timeout(WAIT_S)
        return cls(driver=driver, profile=profile)

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # --- waiting -----------------------------------------------------------------------

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = WAIT_S) -> Any:
        """``check()``'s first truthy value; a timeout names ``what`` and saves a
        screenshot of the page as it was."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = check()
            except (StaleElementReferenceException, WebDriverException):
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                shot = self.screenshot(f"timeout-{_slug(what)}")
                raise TimeoutException(f"waited {timeout:.0f} s for {what}; the page as it "
                                       f"was: {shot}; its text: {self.text()[:1500]!r}")
            time.sleep(0.2)

    def idle(self, settle_s: float = 1.0) -> None:
        """Until Streamlit has drawn the page: no skeleton or stale element left, every
        chart drawn, and nothing on the page changed for ``settle_s``."""
        last: object = None
        since = 0.0

        def settled() -> bool:
            nonlocal last, since
            snap = self.driver.execute_script(_SNAPSHOT_JS)
            busy = snap["skeletons"] or snap["stale"] or snap["charts"] > snap["drawn"]
            now = time.monotonic()
            if busy or snap != last:
                last, since = snap, now
                return False
            return now - since >= settle_s

        self.wait_for("the page to finish drawing", settled)

    # --- reading the page --------------------------------------------------------------

    def text(self) -> str:
        try:
            return str(self.driver.find_element(By.TAG_NAME, "body").text)
        except WebDriverException:
            return ""

    def css(self, selector: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def exceptions(self) -> list[str]:
        return [e.text for e in self.css('[data-testid="stException"]')]

    def metrics(self) -> dict[str, str]:
        out = {}
        for m in self.css('[data-testid="stMetric"]'):
            label = m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text
            value = m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text
            out[label.strip()] = value.strip()
        return out

    def tables(self) -> list[list[dict[str, str]]]:
        """Every st.table on the page as rows keyed by header text."""
        out = []
        for table in self.css('[data-testid="stTable"] table'):
            headers = [th.text.strip() for th in table.find_elements(By.CSS_SELECTOR,
                                                                      "thead th")]
            rows = []
            for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
                cells = [c.text.strip() for c in tr.find_elements(By.CSS_SELECTOR, "th, td")]
                rows.append(dict(zip(headers, cells, strict=False)))
            out.append(rows)
        return out

    def screenshot(self, name: str) -> Path:
        """The whole page as ``screenshots/<name>.png``: the window is made as tall as
        the page first (Streamlit scrolls inside its main block, so a screenshot shows
        only the window)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        try:
            self.driver.set_window_size(WIDTH, 900)
            height = int(self.driver.execute_script(_PAGE_HEIGHT_JS) or 0)
            self.driver.set_window_size(WIDTH, min(max(height + 120, 900), 8000))
        except WebDriverException:
            pass  # a page in the middle of a reload: take it as it is
        self.driver.save_screenshot(str(path))
        return path

    # --- acting ------------------------------------------------------------------------

    def open(self, url: str) -> None:
        """Load ``url``: a new Streamlit session, so signed out."""
        self.driver.get(url)

    def field(self, label: str) -> WebElement:
        return self.wait_for(f"the field {label!r}", lambda: next(iter(
            self.css(f'input[aria-label="{label}"]')), None))

    def button(self, label: str) -> WebElement:
        def find() -> WebElement | None:
            for b in self.css("button"):
                if b.text.strip() == label and b.is_displayed():
                    return b
            return None
        return self.wait_for(f"the button {label!r}", find)

    def sign_in(self, url: str, username: str, password: str) -> None:
        """Open the app afresh and submit the login form (the outcome is the caller's to
        check)."""
        self.open(url)
        user = self.field(USER_FIELD)
        user.clear()
        user.send_keys(username)
        pw = self.field(PASSWORD_FIELD)
        pw.clear()
        pw.send_keys(password)
        pw.send_keys(Keys.TAB)
        self.button(SIGN_IN).click()


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())[:60]
