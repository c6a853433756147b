"""What happens around a work-order change besides the rule (the I/O side of
admin/work_orders.py): an opened order takes its station's region and enterprise from
the registry and goes to the roster's engineer (an assign follows the open); an
escalation tells the level's receivers through ``hj212 notify`` (a notify event per
receiver follows it); a dispatch from the duty desk opens the order (``LedgerWorkOrders``,
the duty desk's WorkOrders)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from admin import work_orders as wo
from admin.accounts import Accounts
from admin.order_routing import pick_engineer
from pipeline.config import Settings
from pipeline.detect.names import rule_zh

if TYPE_CHECKING:
    from admin.record_types import Action, RecordStore

#: alarm rules whose fault stops the system from reporting: the 1 h / 3 h clocks apply
STOPPING_RULES = frozenset({"offline", "missing", "missing_data"})


def station_facts(records: RecordStore, mn: str) -> dict[str, Any] | None:
    rows = records.ch.query_dicts(
        "SELECT mn, region, enterprise, outlet FROM stations FINAL WHERE mn = %(mn)s",
        {"mn": mn})
    return rows[0] if rows else None


def open_counts(records: RecordStore) -> Counter[str]:
    from admin.record_types import TYPES

    return Counter(s.engineer for s in records.all(TYPES["orders"])
                   if s.state not in (wo.CLOSED, "") and s.engineer)


class OrderHooks:
    def prepare(self, records: RecordStore, action: Action) -> None:
        from admin.record_types import RecordActionError

        p = action.payload
        if action.kind == wo.OPEN:
            mn = str(p.get("station", "")).strip()
            facts = station_facts(records, mn) if mn else None
            if not str(p.get("region", "")).strip():
                if facts is None:
                    raise RecordActionError(
                        f"站点 {mn!r} 未登记，无法确定服务区域 / station {mn!r} is not in "
                        "the registry, so its service region is unknown; fix: give the "
                        "region, or register the station")
                p["region"] = facts["region"]
            if facts is not None and not str(p.get("organisation", "")).strip():
                p["organisation"] = facts["enterprise"]
            engineer = str(p.pop("engineer", "") or "").strip()
            if not engineer:
                engineer = pick_engineer(str(p["region"]), records.service.rosters,
                                         Accounts(records.ch, Settings()).list(),
                                         open_counts(records))
            if engineer:
                action.follow_ups.append((wo.ASSIGN, {"engineer": engineer}))
        elif action.kind == wo.TRANSFER:
            p.setdefault("from", action.state.engineer)
        elif action.kind == wo.ESCALATE:
            level = str(p.get("level", ""))
            spec = records.service.escalation.get(level)
            state = action.state
            if spec is not None:
                due = (f"；书面报告 {spec.report_due_min} 分钟内 / written report within "
                       f"{spec.report_due_min} min" if spec.report_due_min else "")
                text = (f"工单 {action.record_id} 升级为 {wo.LEVEL_LABELS.get(level, level)}"
                        f"{due}\n站点 {state.station} · {state.organisation} · "
                        f"{state.region}\n工程师 {state.engineer or '-'} · 升级人 "
                        f"{action.user.username}\n{p.get('note', '')}")
                for receiver in spec.receivers:
                    action.follow_ups.append((wo.NOTIFY, {"receiver": receiver,
                                                          "text": text, "level": level,
                                                          "station": state.station}))



@dataclass
class LedgerWorkOrders:
    """The duty desk's WorkOrders (admin/duty_actions.py): a dispatch opens a real work
    order from the alarm, routed to the roster unless an engineer is named."""

    records: RecordStore
    user_name: str = ""

    def create(self, alarm: Mapping[str, Any], engineer_region: str, actor: str,
               engineer: str = "") -> tuple[str, str]:
        from admin.record_types import TYPES

        accounts = Accounts(self.records.ch, Settings())
        user = accounts.get(actor)
        if user is None:
            raise ValueError(f"user {actor!r} has no account; fix: `hj212 users list`")
        rule = str(alarm.get("rule", ""))
        payload = {
            "source": "alarm", "class": "technical_service",
            "alarm_id": str(alarm["alarm_id"]), "station": str(alarm.get("mn", "")),
            "organisation": str(alarm.get("enterprise", "")), "region": engineer_region,
            "reason": f"{rule_zh(rule)} {alarm.get('code', '')} "
                      f"{alarm.get('message', '')}".strip(),
            "stops_system": rule in STOPPING_RULES,
        }
        if not engineer:
            engineer = pick_engineer(engineer_region, self.records.service.rosters,
                                     accounts.list(), open_counts(self.records))
        if not engineer:
            raise ValueError(f"服务区域 {engineer_region} 的值班表无人可派 / nobody on the "
                             f"roster of region {engineer_region!r} and no fallback; fix: "
                             "name the engineer, or fill [rosters] in the service settings")
        payload["engineer"] = engineer
        rid, reply = self.records.create(user, TYPES["orders"], payload, "duty-desk")
        if not reply.ok:
            raise ValueError(f"工单未开立 / work order not opened: {reply.message}")
        return rid, engineer
