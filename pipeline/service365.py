"""Which enterprises are on the 365 service (企业环保365服务) today: the service records
(admin/subscriptions.py) know, and pipeline/ may not import admin/ (DESIGN.md's rooms), so
the answer comes through the entry-point group ``hj212.service365``: name ->
``module:function(ch) -> frozenset[str]`` (ch a ClickHouse connection). Several providers
are united; none installed gives the empty set.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, Final

GROUP: Final = "hj212.service365"

Provider = Callable[[Any], frozenset[str]]


def providers() -> list[Provider]:
    out: list[Provider] = []
    for ep in entry_points(group=GROUP):
        module, _, attr = ep.value.partition(":")
        out.append(getattr(importlib.import_module(module), attr))
    return out


def subscribed(ch: Any) -> frozenset[str]:
    """The enterprises every provider names, united."""
    names: set[str] = set()
    for provider in providers():
        names |= provider(ch)
    return frozenset(names)
