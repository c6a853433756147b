"""The browser suite's real parts, each started once per session: the local ClickHouse
(as tests/integration/conftest.py starts the stack), a database of its own migrated and seeded
(tests/browser/browser_seed.py), the web app as `hj212 ui` on a free port, and
Debian's Chromium under Selenium (tests/browser/browser_driver.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline.config import load_settings
from pipeline.logs import configure_logging
from pipeline.stack import StackError, down, status, up
from pipeline.stack.live import LiveStack
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from pipeline.timebase import now_local
from tests.browser import browser_driver, browser_seed

DATABASE = "hj212_browser"
RUN_DIR = Path(__file__).resolve().parents[2] / ".run" / "browser"


#: the web app reads ClickHouse only; Kafka is not started for it
NEEDED = ("clickhouse",)


@pytest.fixture(scope="session")
def stack() -> Iterator[LiveStack]:
    """The local ClickHouse, started unless it runs (and then stopped again at the end),
    as tests/integration/conftest.py does for the whole stack."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    running_before = {row.name for row in status(settings, NEEDED) if row.running}
    try:
        report = up(settings, NEEDED)
    except StackError as exc:
        down(settings, [name for name in NEEDED if name not in running_before])
        pytest.fail(f"the local ClickHouse did not come up: {exc}", pytrace=False)
    yield LiveStack(settings=settings, started=list(report.started))
    if report.started:
        down(settings, report.started)


@dataclass(frozen=True)
class SeededDb:
    dsn: str
    seeded: browser_seed.Seeded


@pytest.fixture(scope="session")
def seeded_db(stack: LiveStack) -> Iterator[SeededDb]:
    parts = urlsplit(stack.clickhouse_dsn)
    dsn = urlunsplit(parts._replace(path=f"/{DATABASE}"))
    with ClickHouse(dsn, database="default") as boot:
        boot.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
    Migrator(dsn).migrate()
    seeded = browser_seed.seed(dsn, now_local(), RUN_DIR / "registry")
    with ClickHouse(dsn) as ch:
        browser_seed.add_users(ch, stack.settings)
    yield SeededDb(dsn=dsn, seeded=seeded)
    with ClickHouse(dsn, database="default") as boot:
        boot.execute(f"DROP DATABASE IF EXISTS {DATABASE}")


@pytest.fixture()
def ch(seeded_db: SeededDb) -> Iterator[ClickHouse]:
    with ClickHouse(seeded_db.dsn) as conn:
        yield conn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path,
                  timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"`hj212 ui` exited with {proc.returncode}; its output:\n"
                        f"{log.read_text(errors='replace')[-3000:]}", pytrace=False)
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    pytest.fail(f"the web app did not answer at {url} within {timeout:.0f} s; its output:\n"
                f"{log.read_text(errors='replace')[-3000:]}", pytrace=False)


@dataclass(frozen=True)
class App:
    url: str
    log: Path


@pytest.fixture(scope="session")
def app(seeded_db: SeededDb) -> Iterator[App]:
    """`hj212 ui` on a free port against the seeded database (users exist already, so
    it creates no first admin and asks for nothing)."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    log = RUN_DIR / "hj212-ui.log"
    port = _free_port()
    env = {**os.environ, "HJ212_CLICKHOUSE__DSN": seeded_db.dsn, "HJ212_LOG_FORMAT": "json"}
    hj212 = Path(sys.executable).parent / "hj212"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(hj212), "ui", "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_healthy(url, proc, log)
        yield App(url=url, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def driver() -> Iterator[browser_driver.Browser]:
    browser = browser_driver.Browser.start(RUN_DIR)
    try:
        yield browser
    finally:
        browser.quit()
