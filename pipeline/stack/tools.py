"""External tools the stack needs (apt-get, mvn, java) and running them with progress.

A slow tool's output goes to a log file; the person watching sees one progress line
every few seconds (with the tool's latest line) instead of pages of download noise, and
the log's tail when the tool fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.logs import get_logger
from pipeline.stack.procs import StackError, log_hint

_ERROR_LINE = re.compile(r"^(\[ERROR\] \S|E: |ERROR|error:|Exception)")


def require_tool(name: str, fix: str) -> str:
    """The path of executable ``name``, or StackError with ``fix``."""
    path = shutil.which(name)
    if path is None:
        raise StackError(f"the tool {name!r} is not on PATH ({os.environ.get('PATH', '')}); "
                         f"fix: {fix}")
    return path


def run_logged(argv: Sequence[str], *, what: str, log_file: Path,
               env: Mapping[str, str] | None = None, cwd: Path | None = None,
               progress_every: float = 5.0,
               count: tuple[str, str] | None = None) -> float:
    """Run ``argv`` to completion, output appended to ``log_file``; returns seconds taken.

    Every ``progress_every`` s one log line says how long it has run and what the tool
    printed last; ``count`` = (field, regex) adds how many lines matched so far (e.g.
    ``("downloaded", "^Downloaded from")``).
    A non-zero exit raises StackError with the command and the log's tail.
    """
    log = get_logger("stack")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    last_line = ""
    lines_seen = 0
    matched = 0
    first_error = ""
    pattern = re.compile(count[1]) if count else None
    with log_file.open("a", encoding="utf-8", errors="replace") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors="replace", cwd=cwd,
            env=None if env is None else dict(env),
        )
        assert proc.stdout is not None

        done = threading.Event()

        def ticker() -> None:
            # a separate thread so that a tool that prints nothing for a while still
            # shows the person that it is alive
            while not done.wait(progress_every):
                fields = {count[0]: matched} if count else {}
                log.info("stack.progress", what=what,
                         elapsed_s=round(time.monotonic() - start), lines=lines_seen,
                         last=last_line[:160], **fields)

        thread = threading.Thread(target=ticker, daemon=True)
        thread.start()
        try:
            for line in proc.stdout:
                out.write(line)
                stripped = line.strip()
                if stripped:
                    last_line = stripped
                    # Maven says "[ERROR] ...", apt "E: ...": the first one is the cause,
                    # the rest is advice about -X and wiki links
                    if not first_error and _ERROR_LINE.match(stripped):
                        first_error = stripped[:300]
                    lines_seen += 1
                    if pattern is not None and pattern.search(stripped):
                        matched += 1
            code = proc.wait()
        finally:
            done.set()
            thread.join()
            if proc.poll() is None:
                proc.kill()
    took = time.monotonic() - start
    if code != 0:
        reason = f"; first error: {first_error}" if first_error else ""
        raise StackError(f"{what} failed (exit {code}) after {took:.0f} s{reason}; command: "
                         f"{' '.join(argv)}{log_hint(log_file, 12)}")
    return took
