"""`hj212 ui` as a child process of the suite: on a free port, against a given database,
stopped when done; its output in a log file that a failure quotes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class App:
    url: str
    log: Path


def free_port() -> int:
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


@contextmanager
def running_app(dsn: str, log: Path) -> Iterator[App]:
    """`hj212 ui` against ``dsn`` until the block ends (no terminal: it asks nothing)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "HJ212_CLICKHOUSE__DSN": dsn, "HJ212_LOG_FORMAT": "json"}
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
