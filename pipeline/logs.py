"""structlog set-up shared by every command and service.

Services write JSON lines (one event per line, machine-readable for whoever collects
them); a person at a terminal gets readable, coloured lines. ``auto`` picks console only
when the log stream is a terminal and we are not under CI, since CI logs are read by
tools too.

Logs go to stderr so that commands whose stdout is data (``hj212 parse --json``) stay
pipeable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Any, TextIO

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def resolve_format(fmt: str, stream: TextIO) -> str:
    """``json`` or ``console`` for the requested format and the stream it will go to."""
    if fmt != "auto":
        return fmt
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return "json"
    try:
        return "console" if stream.isatty() else "json"
    except (AttributeError, ValueError):  # closed or fake streams
        return "json"


def configure_logging(fmt: str = "auto", level: str = "info",
                      stream: TextIO | None = None) -> str:
    """Configure structlog globally; returns the format chosen (``json`` or ``console``)."""
    out = stream if stream is not None else sys.stderr
    chosen = resolve_format(fmt, out)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=False),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any
    if chosen == "json":
        renderer = [structlog.processors.dict_tracebacks,
                    structlog.processors.JSONRenderer(ensure_ascii=False)]
    else:
        colors = False
        with contextlib.suppress(AttributeError, ValueError):
            colors = out.isatty()
        renderer = [structlog.dev.ConsoleRenderer(colors=colors)]
    structlog.configure(
        processors=[*shared, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        # re-configuration (tests, the CLI's --log-format) must take effect on loggers
        # already handed out, so they are not cached
        cache_logger_on_first_use=False,
    )
    return chosen


def get_logger(name: str | None = None, **context: Any) -> Any:
    """A bound structlog logger; ``name`` becomes the ``logger`` key."""
    log = structlog.get_logger()
    if name:
        log = log.bind(logger=name)
    return log.bind(**context) if context else log
