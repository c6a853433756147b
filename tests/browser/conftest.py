"""The browser suite's real parts, each started once per session: the local ClickHouse
and Kafka (as tests/integration/conftest.py starts the stack), a database of its own
migrated and seeded (tests/browser/browser_seed.py), the ledger writer on a ledger topic
and group of the suite's own (so a page's action travels page -> Kafka -> writer ->
ClickHouse -> the page's reply, as in production), the web app as `hj212 ui` on a free
port publishing to that topic, and Debian's Chromium under Selenium
(tests/browser/browser_driver.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline.config import Settings, load_settings
from pipeline.logs import configure_logging
from pipeline.stack import StackError, down, status, up
from pipeline.stack.live import LiveStack
from pipeline.store.client import ClickHouse
from pipeline.store.migrate import Migrator
from pipeline.timebase import now_local
from tests.browser import browser_driver, browser_seed
from tests.browser.browser_app import App, running_app
from tests.browser.browser_driver import RUN_DIR
from tests.ledger_writer_thread import WriterThread, drop_topic

DATABASE = "hj212_browser"


#: the web app reads ClickHouse and submits people's changes to the ledger topic (Kafka)
NEEDED = ("clickhouse", "kafka")


@pytest.fixture(scope="session")
def stack() -> Iterator[LiveStack]:
    """The local ClickHouse and Kafka, started unless they run (and then stopped again at
    the end), as tests/integration/conftest.py does."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    running_before = {row.name for row in status(settings, NEEDED) if row.running}
    try:
        report = up(settings, NEEDED)
    except StackError as exc:
        down(settings, [name for name in NEEDED if name not in running_before])
        pytest.fail(f"the local stack did not come up: {exc}", pytrace=False)
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
def ledger(stack: LiveStack, seeded_db: SeededDb) -> Iterator[Settings]:
    """The ledger writer in a thread of this process, on a topic and group of this
    session's own and the browser database. The variables stay set for the session: the
    app (`running_app` passes this process's environment on) and any test's
    load_settings() then name the same topic. Yields the writer's settings."""
    topic = f"hj212_browser_ledger_{uuid.uuid4().hex[:8]}"
    mp = pytest.MonkeyPatch()
    mp.setenv("HJ212_CLICKHOUSE__DSN", seeded_db.dsn)
    mp.setenv("HJ212_TOPICS__LEDGER", topic)
    mp.setenv("HJ212_LEDGER__GROUP_ID", f"{topic}-writer")
    # a slow first answer (a new group joining) is still an answer, not "queued"
    mp.setenv("HJ212_LEDGER__REPLY_WAIT_S", "15")
    settings = load_settings()
    writer = WriterThread(settings)
    try:
        writer.start()
        yield settings
    finally:
        writer.stop()
        mp.undo()
        drop_topic(stack.kafka_bootstrap, topic)
    assert writer.error is None, f"the browser suite's ledger writer failed: {writer.error!r}"


@pytest.fixture(scope="session")
def app(seeded_db: SeededDb, ledger: Settings) -> Iterator[App]:
    """`hj212 ui` against the seeded database (users exist already, so it creates no
    first admin and asks for nothing), submitting to the session's ledger topic."""
    with running_app(seeded_db.dsn, RUN_DIR / "hj212-ui.log") as running:
        yield running


@pytest.fixture(scope="session")
def driver() -> Iterator[browser_driver.Browser]:
    browser = browser_driver.Browser.start(RUN_DIR)
    try:
        yield browser
    finally:
        browser.quit()
