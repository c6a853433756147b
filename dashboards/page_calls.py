"""Every page's default-view queries, for benchmarks/dashboards.py: page K's module
dashboards/K_page.py lists them in ``calls`` (see navigation.PAGES)."""

from __future__ import annotations

import importlib
from datetime import datetime
from typing import Any, Protocol

from dashboards.navigation import PAGES
from dashboards.scope import Scope

Call = tuple[str, dict[str, Any]]


class _PageModule(Protocol):
    def calls(self, scope: Scope, now: datetime, mn: str, enterprise: str
              ) -> list[Call]: ...


def page_calls(scope: Scope, now: datetime, mn: str, enterprise: str
               ) -> dict[str, list[Call]]:
    """Page key -> the named queries its default view asks, for a user of ``scope`` at
    ``now`` looking at station ``mn`` of ``enterprise``."""
    out: dict[str, list[Call]] = {}
    for spec in PAGES:
        module: _PageModule = importlib.import_module(f"dashboards.{spec.key}_page")
        out[spec.key] = module.calls(scope, now, mn, enterprise)
    return out
