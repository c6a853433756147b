"""What happens around a 365-subscription change besides the rule (the I/O side of
admin/subscriptions.py): an ``open`` carries the system's stability evidence, computed
here from the ``completeness`` table (daily rows, code '' = the whole station) for the
stations the subscription covers and never typed by a person; and which enterprises are
subscribed today (the weekly report and enterprise notifications go to them only).

A day's transmission-efficiency over several stations is their valid records over their
expected ones (24 hourly records a station a day; a missing row received nothing): the
product of transmission and validity rates summed over stations, HJ212.md's figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from admin import subscriptions as sub
from pipeline.ledger import queries as lq
from pipeline.timebase import now_local

if TYPE_CHECKING:
    from admin.record_types import Action, RecordStore

HOURLY_EXPECTED = 24

DAILY_SQL = """
SELECT toDate(period_start) AS day, mn, least(received, expected) AS received, valid
FROM completeness FINAL
WHERE period = 'day' AND code = '' AND mn IN %(mns)s
  AND period_start >= toDateTime(%(start)s, 'Asia/Shanghai')
  AND period_start < toDateTime(%(end)s, 'Asia/Shanghai')
"""


def daily_efficiency(ch: Any, stations: Sequence[str], start: date, end: date
                     ) -> list[tuple[date, float]]:
    """Each day of [start, end) with its transmission-efficiency over ``stations``."""
    if not stations:
        return []
    rows = ch.query_dicts(DAILY_SQL, {"mns": tuple(sorted(set(stations))),
                                      "start": f"{start} 00:00:00",
                                      "end": f"{end} 00:00:00"})
    valid: dict[date, float] = {}
    for r in rows:
        day = r["day"] if isinstance(r["day"], date) else date.fromisoformat(str(r["day"]))
        valid[day] = valid.get(day, 0.0) + min(float(r["valid"]), float(r["received"]))
    expected = HOURLY_EXPECTED * len(set(stations))
    out = []
    d = start
    while d < end:
        out.append((d, valid.get(d, 0.0) / expected))
        d += timedelta(days=1)
    return out


class SubscriptionHooks:
    def prepare(self, records: RecordStore, action: Action) -> None:
        if action.kind != sub.OPEN:
            return
        state = action.state
        today = records.clock().date()
        rules = records.service.subscriptions
        rows = daily_efficiency(records.ch, state.stations,
                                today - timedelta(days=rules.stable_days), today)
        # the system's figures, whatever the form sent
        action.payload["stability"] = sub.stability_check(rows, today, rules)



def subscribed_enterprises(ch: Any, today: date | None = None) -> frozenset[str]:
    """The enterprises whose 365 service is on today (trial, active or expiring)."""
    day = today or now_local().date()
    states = [sub.derive(events, rid) for rid, events in
              lq.stream_histories(ch, sub.STREAM).items()]
    return sub.subscribed(states, day)


def subscribed_now(ch: Any) -> frozenset[str]:
    """``subscribed_enterprises`` today; the entry point hj212 notify and the weekly
    report call (group ``hj212.service365``), so pipeline/ needs no import of admin/."""
    return subscribed_enterprises(ch)
