"""structlog set-up shared by every command and service.

Services write JSON lines (one event per line, machine-readable for whoever collects
them); a person at a terminal gets readable, coloured lines. ``auto`` picks console only
when the log stream is a terminal and we are not under CI, since CI logs are read by
tools too.

Logs go to stderr so that commands whose stdout is data (``hj212 parse --json``) stay
pipeable.

The libraries' own ``logging`` records (aiokafka, clickhouse-driver, asyncio) come out the
same way, as lines with a time, a level and the library's logger name, at warning and
above. A library repeats itself when a server is gone (aiokafka says a topic is missing
ten times a second, 80 kB/s of log for as long as it lasts): the same message from the
same logger is shown once per ``repeat_window_s``, and the next line shown says how
many were held back (``repeated``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Callable
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


#: a library's message is shown once in this many seconds; the rest are counted
REPEAT_WINDOW_S = 60.0
#: distinct library messages remembered for that (the oldest forgotten first)
_REPEATS_REMEMBERED = 1000


class RepeatFilter(logging.Filter):
    """Lets a record through unless the same message (logger, level, text) was let
    through less than ``window_s`` ago; the next one let through carries how many were
    held back since (``record.repeated``)."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        #: (logger, level, text) -> [when last shown, held back since]
        self._seen: dict[tuple[str, int, str], list[float]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        seen = self._seen.pop(key, None)
        if seen is not None and now - seen[0] < self.window_s:
            seen[1] += 1
            self._seen[key] = seen
            return False
        if seen is not None and seen[1]:
            record.repeated = int(seen[1])
        self._seen[key] = [now, 0]
        if len(self._seen) > _REPEATS_REMEMBERED:
            del self._seen[next(iter(self._seen))]
        return True


def _repeats(_logger: Any, _method: str, event_dict: Any) -> Any:
    held = getattr(event_dict.get("_record"), "repeated", 0)
    if held:
        event_dict["repeated"] = held
    return event_dict


def _library_level(level: str) -> int:
    return max(logging.WARNING, _LEVELS.get(level, logging.INFO))


def configure_logging(fmt: str = "auto", level: str = "info",
                      stream: TextIO | None = None, *,
                      repeat_window_s: float = REPEAT_WINDOW_S,
                      clock: Callable[[], float] = time.monotonic) -> str:
    """Configure structlog globally, and the root ``logging`` handler for the libraries
    (warnings and errors, repeats held back: see the module docstring); returns the
    format chosen (``json`` or ``console``)."""
    global _configured
    out = stream if stream is not None else sys.stderr
    chosen = resolve_format(fmt, out)
    _configured += 1
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
    handler = logging.StreamHandler(out)
    handler.set_name("hj212")
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, _repeats],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer]))
    handler.addFilter(RepeatFilter(repeat_window_s, clock))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "hj212"]:
        root.removeHandler(old)  # configured again (the CLI's --log-format, tests)
    root.addHandler(handler)
    root.setLevel(_library_level(level))
    return chosen


#: counts ``configure_logging`` calls: a logger made under an earlier one is made again
_configured = 0


def _level(name: str) -> Any:
    def log(self: _LazyLogger, event: str | None = None, *args: Any, **kw: Any) -> Any:
        return getattr(self._logger(), name)(event, *args, **kw)
    log.__name__ = name
    return log


class _LazyLogger:
    """A structlog logger holding its context, made again (once) whenever logging has
    been configured since it was last used (structlog's own lazy proxy cannot carry a
    ``logger`` key: it names a parameter of ``wrap_logger``)."""

    __slots__ = ("_bound", "_context", "_made_under")

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context
        self._made_under = -1
        self._bound: Any = None

    def bind(self, **more: Any) -> _LazyLogger:
        return _LazyLogger({**self._context, **more})

    def _logger(self) -> Any:
        if self._made_under != _configured:
            self._bound = structlog.get_logger().bind(**self._context)
            self._made_under = _configured
        return self._bound

    # the levels as methods of the class: a lookup that falls through to __getattr__
    # costs ~2 us
    debug = _level("debug")
    info = _level("info")
    warning = _level("warning")
    error = _level("error")
    exception = _level("exception")
    critical = _level("critical")

    def __getattr__(self, name: str) -> Any:  # the rest of structlog's logger (unbind...)
        return getattr(self._logger(), name)


def get_logger(name: str | None = None, **context: Any) -> Any:
    """A structlog logger with ``context`` (``name`` becomes the ``logger`` key), made
    with the configuration of the moment it logs, not of the moment it was got: most
    modules get theirs at import, before the command configures logging (a logger bound
    then kept structlog's default, readable lines on stdout, in a service's JSON log)."""
    if name:
        context = {"logger": name, **context}
    return _LazyLogger(context)
