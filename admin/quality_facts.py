"""The quality figures' inputs from the service records (the I/O side of
admin/quality.py): each record type's derived states read through ``Records`` and mapped
onto the fact rows the figures count. Everything is computed from the append-only
histories, so a month's figures can be recomputed at any time and agree with the records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from admin import inspections as ins
from admin import quality as q
from admin import visits as vi
from admin.records import TYPES, Records


@dataclass(frozen=True, slots=True)
class Facts:
    orders: list[q.OrderFacts]
    visits: list[q.VisitFacts]
    complaints: list[q.ComplaintFacts]
    inspections: list[q.InspectionFacts]


def load_facts(records: Records, now: datetime) -> Facts:
    orders = [s for s in records.all(TYPES["orders"]) if s.opened_at is not None]
    engineer_of = {s.record_id: s.engineer for s in orders}
    order_rows = [q.order_facts(s, now, records.service.sla) for s in orders]
    visit_rows = [q.VisitFacts(v.record_id, v.region,
                               v.engineer or engineer_of.get(v.work_order_id, ""), v.due,
                               v.done_at, v.satisfaction)
                  for v in records.all(TYPES["visits"])
                  if v.opened and v.due is not None and v.state != vi.CANCELLED]
    complaint_rows = [q.ComplaintFacts(c.record_id, c.region,
                                       engineer_of.get(c.work_order_id, ""), c.opened_at,
                                       c.first_closed_at or c.closed_at)
                      for c in records.all(TYPES["complaints"])
                      if c.opened and c.opened_at is not None]
    inspection_rows = [q.InspectionFacts(i.record_id, i.region, i.inspector, i.due,
                                         i.completed_at)
                       for i in records.all(TYPES["inspections"])
                       if i.opened and i.due is not None and i.state != ins.CANCELLED]
    return Facts(order_rows, visit_rows, complaint_rows, inspection_rows)


def month_figures(records: Records, month: str, by: str, now: datetime,
                  groups: tuple[str, ...] = ()) -> list[q.QualityRow]:
    f = load_facts(records, now)
    return q.figures(f.orders, f.visits, f.complaints, f.inspections, month, by, now=now,
                     groups=groups)

