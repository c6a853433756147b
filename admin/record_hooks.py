"""The hooks of each record type (admin/records.py ``Hook``), in one place so the
records module does not import the types' I/O modules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from admin.record_types import Hook


def default_hooks() -> Mapping[str, Hook]:
    from admin.inspection_hooks import InspectionHooks
    from admin.order_hooks import OrderHooks
    from admin.subscription_hooks import SubscriptionHooks

    return {"orders": OrderHooks(), "subscriptions": SubscriptionHooks(),
            "inspections": InspectionHooks()}
