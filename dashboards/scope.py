"""Which stations a user may see, as the parameters of the web app's named queries.

The scope goes into the query (``%(all_regions)s``, ``%(regions)s``): a page never
fetches another region's rows to drop them in Python.
"""

from __future__ import annotations

from typing import Any

from admin.accounts import User

#: None: every region (and stations in none); else the service regions a user sees
Scope = tuple[str, ...] | None


def region_scope(user: User) -> Scope:
    """An admin, and a user with no region set, see every region; anyone else (a field
    engineer) sees their regions only."""
    if user.is_admin or not user.regions:
        return None
    return tuple(sorted(user.regions))


def scope_params(scope: Scope) -> dict[str, Any]:
    """``all_regions`` and ``regions`` for a named query. ``regions`` is never empty
    (``IN ()`` is an error on ClickHouse 18.16); with all_regions = 1 it is not read."""
    if scope is None:
        return {"all_regions": 1, "regions": ("",)}
    if not scope:
        raise ValueError("an empty scope sees nothing; the page must say so instead of "
                         "querying")
    return {"all_regions": 0, "regions": tuple(scope)}


def describe(scope: Scope) -> str:
    if scope is None:
        return "全部服务区域 all service regions"
    return "服务区域 service regions: " + "、".join(scope)
