"""The integration suites' one real stack: a session fixture that starts the local
ClickHouse and Kafka once (or finds them running), and stops at the end what it started.

Servers that already ran before the session (a developer's `hj212 stack up`) are left
running. With HJ212_CLICKHOUSE__LOCAL=false / HJ212_KAFKA__LOCAL=false the configured
external servers are used and nothing is started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from pipeline.config import load_settings
from pipeline.logs import configure_logging
from pipeline.stack import SERVERS, StackError, down, status, up
from pipeline.stack.live import LiveStack


@pytest.fixture(scope="session")
def stack() -> Iterator[LiveStack]:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    start = time.monotonic()
    running_before = {row.name for row in status(settings) if row.running}
    try:
        report = up(settings)
    except StackError as exc:
        # a half-started stack must not outlive the session that failed to start it
        down(settings, [name for name in SERVERS if name not in running_before])
        pytest.fail(f"the local stack did not come up: {exc}", pytrace=False)
    print(f"\n[stack] up in {time.monotonic() - start:.1f} s; started here: "
          f"{', '.join(report.started) or 'nothing (already running or external)'}")
    topics_before = _topics(settings.kafka.bootstrap)
    yield LiveStack(settings=settings, started=list(report.started))
    # the suites' own topics (test.<suite>.<tag>...) go with the session: over hundreds of
    # runs on a developer's broker they held gigabytes (a gateway suite's frames)
    _delete_new_test_topics(settings.kafka.bootstrap, topics_before)
    if report.started:
        down(settings, report.started)


async def _list_topics(bootstrap: str) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def _topics(bootstrap: str) -> set[str]:
    return asyncio.run(asyncio.wait_for(_list_topics(bootstrap), 30))


def _delete_new_test_topics(bootstrap: str, before: set[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            doomed = sorted(t for t in await admin.list_topics()
                            if t.startswith("test.") and t not in before)
            for i in range(0, len(doomed), 50):
                await admin.delete_topics(doomed[i:i + 50], timeout_ms=30_000)
        finally:
            await admin.close()

    try:
        asyncio.run(asyncio.wait_for(run(), 120))
    except Exception as exc:  # leftovers must not fail a green session
        print(f"\n[stack] could not delete this session's test topics: {exc!r}")
