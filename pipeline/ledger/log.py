"""The ledger modules' logger, looked up at each call.

``pipeline.logs.get_logger`` binds its name at once, which fixes the structlog
configuration of the moment; the ledger's modules are imported by the web app and the
CLI before they configure logging, so a module-level bound logger would keep the
defaults (console, debug) for good."""

from __future__ import annotations

from typing import Any

from pipeline.logs import get_logger


class LazyLog:
    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, method: str) -> Any:
        return getattr(get_logger(self.name), method)
