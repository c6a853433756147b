"""Who a new work order goes to (issue 12 item 2): the region's roster, in order of
fewest open orders (ties: the roster's order), then the region's active field engineers,
then the roster's fallback. Pure: accounts and open-order counts come in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from admin.roles import Role, User
from admin.service_settings import Rosters


def pick_engineer(region: str, rosters: Rosters, accounts: Sequence[User],
                  open_orders: Mapping[str, int]) -> str:
    """The user name a new order of ``region`` goes to ('' when nobody can take it)."""
    active = {u.username: u for u in accounts if u.active}
    roster = [name for name in rosters.of(region) if name in active]
    if not roster:
        roster = sorted(u.username for u in active.values()
                        if Role.FIELD_ENGINEER in u.roles and region in u.regions)
    if roster:
        return min(roster, key=lambda n: (open_orders.get(n, 0), roster.index(n)))
    return rosters.fallback if rosters.fallback in active else ""
