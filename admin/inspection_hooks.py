"""What happens around an inspection change besides the rule (the I/O side of
admin/inspections.py): a follow-up of a problem finding without a work order opens one
(source ``inspection``, routed to the region's roster like any intake) and links it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from admin import inspections as ins
from admin import work_orders as wo
from admin.record_types import TYPES, RecordActionError, allowed

if TYPE_CHECKING:
    from admin.record_types import Action, RecordStore


class InspectionHooks:
    def prepare(self, records: RecordStore, action: Action) -> None:
        p = action.payload
        if action.kind != ins.FOLLOW_UP or str(p.get("work_order_id", "")).strip():
            return
        state = action.state
        item = str(p.get("item", "")).strip()
        found = state.finding(item)
        if found is None or found.result != ins.PROBLEM:
            return  # the rule refuses it, naming the problem items
        orders = TYPES["orders"]
        if not allowed(action.user, orders, wo.OPEN):
            raise RecordActionError(
                f"{action.user.username} 无权开立工单 / {action.user.username} may not open "
                "work orders; fix: ask the duty desk to open one, then give its id "
                "(work_order_id)")
        where = state.station or "平台 platform"
        rid, reply = records.create(action.user, orders, {
            "source": "inspection", "class": "technical_service", "station": where,
            "organisation": state.enterprise or "服务运营部 service operations",
            "region": state.region, "caller": state.inspector,
            "reason": f"巡检 {state.record_id} 发现问题 / inspection finding: {item}"
                      + (f"：{found.note}" if found.note else ""),
        }, "inspection")
        if not reply.ok:
            raise RecordActionError(f"跟进工单未开立 / the follow-up work order was not "
                                    f"opened: {reply.message}")
        p["work_order_id"] = rid

