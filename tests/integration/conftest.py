"""The integration suites' one real stack: a session fixture that starts the local
ClickHouse and Kafka once (or finds them running), and stops at the end what it started.

Servers that already ran before the session (a developer's `hj212 stack up`) are left
running. With HJ212_CLICKHOUSE__LOCAL=false / HJ212_KAFKA__LOCAL=false the configured
external servers are used and nothing is started.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from pipeline.config import load_settings
from pipeline.logs import configure_logging
from pipeline.stack import SERVERS, StackError, down, kafka, status, up
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
    bootstrap = settings.kafka.bootstrap
    topics_before = set(kafka.topic_partitions(bootstrap))
    yield LiveStack(settings=settings, started=list(report.started))
    # the suites' own topics (test.<suite>.<tag>...) go with the session: over hundreds of
    # runs on a developer's broker they held gigabytes (a gateway suite's frames)
    try:
        kafka.delete_topics(bootstrap, (t for t in kafka.topic_partitions(bootstrap)
                                        if t.startswith("test.") and t not in topics_before))
    except Exception as exc:  # leftovers must not fail a green session
        print(f"\n[stack] could not delete this session's test topics: {exc!r}")
    if report.started:
        down(settings, report.started)

