"""The browser suite's real parts, each started once per session: the local ClickHouse
(as tests/integration/conftest.py starts the stack), a database of its own migrated and seeded
(tests/browser/browser_seed.py), the web app as `hj212 ui` on a free port, and
Debian's Chromium under Selenium (tests/browser/browser_driver.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.browser.browser_app import App, running_app
from tests.browser.browser_driver import RUN_DIR

DATABASE = "hj212_browser"


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


@pytest.fixture(scope="session")
def app(seeded_db: SeededDb) -> Iterator[App]:
    """`hj212 ui` against the seeded database (users exist already, so it creates no
    first admin and asks for nothing)."""
    with running_app(seeded_db.dsn, RUN_DIR / "hj212-ui.log") as running:
        yield running


@pytest.fixture(scope="session")
def driver() -> Iterator[browser_driver.Browser]:
    browser = browser_driver.Browser.start(RUN_DIR)
    try:
        yield browser
    finally:
        browser.quit()
