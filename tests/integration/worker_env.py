"""The environment a test's `hj212 worker` subprocess runs in: the test's own Kafka topics,
database and run folder, and none of the caller's HJ212_* settings."""

from __future__ import annotations

import os
from pathlib import Path


def worker_env(bootstrap: str, dsn: str, topics: dict[str, str], run_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HJ212_")}
    env.update({
        "HJ212_KAFKA__BOOTSTRAP": bootstrap,
        "HJ212_CLICKHOUSE__DSN": dsn,
        "HJ212_RUN_DIR": str(run_dir),
        "HJ212_LOG_FORMAT": "json",
    })
    env.update({f"HJ212_TOPICS__{name.upper()}": topic for name, topic in topics.items()})
    return env


def log_tail(log: Path, n: int) -> str:
    """The last ``n`` lines of a subprocess's log, for an assertion message."""
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:])
    except FileNotFoundError:
        return "(no log)"
