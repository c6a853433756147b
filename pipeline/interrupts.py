"""SIGTERM taken as Ctrl-C, for the commands that stop cleanly on KeyboardInterrupt.

A service manager, ``docker stop``, ``make`` or a CI timeout stops a process with SIGTERM;
Python's default for it ends the process at once, skipping the ``finally`` blocks that stop
children and print summaries.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """A SIGTERM inside the block raises KeyboardInterrupt, as Ctrl-C does; the handler
    before it is put back on the way out."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
