"""Group windows, repeats, resolved notices, escalation timers, quiet hours and each
receiver's rate limit: the notifier's state, pure. Time comes in as ``now_ms``
(milliseconds since the Unix epoch), so tests drive it with any clock.

Per (receiver, route, group key) a group, as in Alertmanager: its first alarm arms a
flush after ``group_wait``; after a flush the next one comes no sooner than
``group_interval`` later and only when something new is pending; an alarm still open
``repeat_interval`` after its last notice is repeated; a notified alarm that clears gets
a resolved notice. A flush moves the group's items to the receiver's ready queue, from
which ``take`` forms messages as the receiver's rate limit allows: one group per message
normally, and when more groups wait than the limit has room for, a digest of many
groups in one message. Nothing is dropped: what does not fit waits for the next slot.

The delivery log's item keys (receiver, alarm_id, kind, n) are ``covered``: an item
already covered is never made again, which is what makes a replay of the alarms topic
after a crash send nothing twice.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from typing import Any, Final

from pipeline.notify.model import (
    OPERATOR,
    PENDING,
    RETRYING,
    SUPPRESSED,
    Alarm,
    Item,
    ItemKey,
    Notification,
    OperatorNote,
)
from pipeline.notify.routing import Route, RouteParams, Routing, Target
from pipeline.timebase import CST

MINUTE_MS: Final = 60_000
#: a message counts against its robot's minute this much longer than 60 s: the robot
#: counts arrivals, and a message taken early in one window can arrive late in it while the
#: next one arrives fast (seen in CI: 21 arrivals in 60 s from 20 sends in 60 s)
WINDOW_SLACK_MS: Final = 2_000
#: ready groups above which a receiver without a rate limit also gets digests (a
#: backlog: the sender is slower than the alarms come)
BACKLOG_GROUPS: Final = 20
#: most items one digest carries (what render can still summarise in a robot's 4 kB)
DIGEST_ITEMS: Final = 2000


class SlidingWindowLimit:
    """At most ``per_minute`` messages in any 60 s: stricter than a token bucket of the
    same rate (which lets a full bucket plus a minute's refill through in one minute),
    and what the robots count, with ``WINDOW_SLACK_MS`` for the way to the robot."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.sent: deque[int] = deque()
        self.blocked_until = 0

    def _trim(self, now_ms: int) -> None:
        while self.sent and self.sent[0] <= now_ms - MINUTE_MS - WINDOW_SLACK_MS:
            self.sent.popleft()

    def available(self, now_ms: int) -> int:
        if now_ms < self.blocked_until:
            return 0
        if self.per_minute <= 0:
            return 1 << 30
        self._trim(now_ms)
        return max(0, self.per_minute - len(self.sent))

    def next_free_ms(self, now_ms: int) -> int:
        if self.available(now_ms) > 0:
            return now_ms
        if now_ms < self.blocked_until:
            return self.blocked_until
        return self.sent[0] + MINUTE_MS + WINDOW_SLACK_MS

    def take(self, now_ms: int) -> None:
        self.sent.append(now_ms)

    def block(self, until_ms: int) -> None:
        """The robot said "too many": send nothing before ``until_ms``."""
        self.blocked_until = max(self.blocked_until, until_ms)


@dataclass
class AlarmState:
    alarm: Alarm
    target: Target
    first_seen_ms: int
    notified: bool = False  # its firing item has left the group (or the log has it)
    last_notice_ms: int = 0
    repeats: int = 0


@dataclass
class Group:
    receiver: str
    route: str
    key: str
    params: RouteParams
    alarms: dict[str, AlarmState] = field(default_factory=dict)
    pending: dict[ItemKey, Item] = field(default_factory=dict)
    next_flush_ms: int | None = None
    last_flush_ms: int | None = None

    def arm(self, now_ms: int) -> None:
        """Schedule a flush for what is pending: group_wait after the group's start,
        group_interval after its last flush."""
        if self.next_flush_ms is not None:
            return
        if self.last_flush_ms is None:
            self.next_flush_ms = now_ms + int(self.params.group_wait_s * 1000)
        else:
            self.next_flush_ms = max(now_ms, self.last_flush_ms
                                     + int(self.params.group_interval_s * 1000))


@dataclass(frozen=True, slots=True)
class Ingested:
    """What one alarm message did: how many items its record now waits for, and the
    items a silence suppressed (to be logged as such)."""

    waits: int
    suppressed: tuple[Item, ...] = ()


def cst_clock(now_ms: int) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, CST)


class Engine:
    def __init__(self, routing: Routing) -> None:
        self.routing = routing
        self.groups: dict[tuple[str, str, str], Group] = {}
        self.ready: dict[str, list[Item]] = {}
        self.resume: dict[str, list[Notification]] = {}
        #: operators' notifications (operator.py), each sent as it is, before the
        #: grouped alarm notices: a person is waiting for it
        self.operator: dict[str, list[Notification]] = {}
        self.limits: dict[str, SlidingWindowLimit] = {
            name: SlidingWindowLimit(r.per_minute) for name, r in routing.receivers.items()}
        #: item key -> the delivery log's state for it
        self.covered: dict[ItemKey, str] = {}
        #: alarms escalated, or checked and found acknowledged
        self.escalated: set[str] = set()

    # --- alarms in -----------------------------------------------------------------------

    def ingest(self, alarm: Alarm, targets: Iterable[Target], origin: Any, now_ms: int,
               silence_id: str | None = None) -> Ingested:
        waits = 0
        suppressed: list[Item] = []
        for target in targets:
            gk = target.group_key(alarm)
            group = self._group(target, gk)
            made = self._one(group, target, alarm, origin, now_ms)
            if made is None:
                continue
            if made.origins and silence_id is not None:
                # a silence covers it: logged as suppressed instead of sent
                group.pending.pop(made.key, None)
                if made.kind == "firing":
                    group.alarms.pop(alarm.alarm_id, None)
                self.covered[made.key] = SUPPRESSED
                suppressed.append(made)
                waits += 1
                continue
            waits += 1
            group.arm(now_ms)
        for key in [k for k, g in self.groups.items() if not g.alarms and not g.pending]:
            del self.groups[key]
        return Ingested(waits, tuple(suppressed))

    def _group(self, target: Target, gk: str) -> Group:
        key = (target.receiver, target.route, gk)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = Group(target.receiver, target.route, gk, target.params)
        return g

    def _one(self, group: Group, target: Target, alarm: Alarm, origin: Any, now_ms: int
             ) -> Item | None:
        """The item this alarm step adds to or updates in ``group`` (the record waits for
        it), or None when the step needs no notice."""
        aid = alarm.alarm_id
        st = group.alarms.get(aid)
        fkey = (target.receiver, aid, "firing", 0)
        pend = next((i for k, i in group.pending.items() if k[1] == aid), None)
        if pend is not None:
            # not sent yet: the notice will carry the newest state (an update, or a
            # clear that makes it read 已恢复)
            item = pend.with_alarm(alarm, origin)
            group.pending[pend.key] = item
            if st is not None:
                st.alarm = alarm
                if alarm.cleared and pend.kind in ("firing", "resolved"):
                    del group.alarms[aid]
            return item
        if st is None:
            was = self.covered.get(fkey)
            if was == SUPPRESSED:
                return None
            if was is not None:
                # notified before a restart: known open, or owed its resolved notice
                if not alarm.cleared:
                    group.alarms[aid] = AlarmState(alarm, target, now_ms, True, now_ms)
                    return None
                return self._resolved(group, target, alarm, origin)
            if alarm.cleared:
                return None
            group.alarms[aid] = AlarmState(alarm, target, now_ms)
            item = Item(target.receiver, target.route, group.key, "firing", 0, alarm,
                        (origin,))
            group.pending[item.key] = item
            return item
        st.alarm = alarm
        if alarm.cleared:
            del group.alarms[aid]
            return self._resolved(group, target, alarm, origin) if st.notified else None
        return None

    def _resolved(self, group: Group, target: Target, alarm: Alarm, origin: Any
                  ) -> Item | None:
        item = Item(target.receiver, target.route, group.key, "resolved", 0, alarm,
                    (origin,))
        if not target.params.send_resolved or item.key in self.covered:
            return None
        group.pending[item.key] = item
        return item

    # --- timers --------------------------------------------------------------------------

    def tick(self, now_ms: int) -> None:
        """Flush the groups that are due, and add repeats of alarms still open."""
        clock = cst_clock(now_ms)
        for g in list(self.groups.values()):
            for st in g.alarms.values():
                if not st.notified or any(k[1] == st.alarm.alarm_id for k in g.pending):
                    continue
                if now_ms - st.last_notice_ms >= g.params.repeat_interval_s * 1000:
                    item = Item(g.receiver, g.route, g.key, "repeat", st.repeats + 1,
                                st.alarm)
                    if item.key not in self.covered:
                        g.pending[item.key] = item
                        g.next_flush_ms = min(g.next_flush_ms or now_ms, now_ms)
                    st.repeats += 1
                    st.last_notice_ms = now_ms
            if g.next_flush_ms is None or g.next_flush_ms > now_ms or not g.pending:
                continue
            self._flush(g, now_ms, clock)

    def _flush(self, g: Group, now_ms: int, clock: datetime) -> None:
        held: dict[ItemKey, Item] = {}
        out: list[Item] = []
        for key, item in g.pending.items():
            if g.params.quiet_hours and self.routing.is_quiet(item.alarm.severity,
                                                              clock.time()):
                held[key] = item
            else:
                out.append(item)
        g.pending = held
        g.last_flush_ms = now_ms
        g.next_flush_ms = None
        if held:
            g.next_flush_ms = self._quiet_end_ms(clock)
        for item in out:
            st = g.alarms.get(item.alarm.alarm_id)
            if st is not None and item.kind == "firing":
                st.notified = True
                st.last_notice_ms = now_ms
        if out:
            self.ready.setdefault(g.receiver, []).extend(out)

    def _quiet_end_ms(self, clock: datetime) -> int:
        end = self.routing.quiet.end or clock_time(0, 0)
        at = clock.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if at <= clock:
            at += timedelta(days=1)
        return int(at.timestamp() * 1000)

    def escalation_due(self, now_ms: int) -> list[str]:
        """Open alarms past their route's escalation time and not yet escalated (the
        service asks the ledger which of them were acknowledged)."""
        out: dict[str, None] = {}
        for g in self.groups.values():
            p = g.params
            if p.escalate_after_min <= 0 or not p.escalate_to:
                continue
            for aid, st in g.alarms.items():
                if aid in self.escalated:
                    continue
                if now_ms - st.first_seen_ms >= p.escalate_after_min * MINUTE_MS:
                    out[aid] = None
        return list(out)

    def escalate(self, checked: Iterable[str], unacked: set[str], now_ms: int) -> int:
        """Send the ``unacked`` of the ``checked`` alarms to their escalation receivers;
        the acknowledged are not checked again. Returns how many items were made."""
        made = 0
        want = set(checked)
        for g in self.groups.values():
            p = g.params
            for aid, st in g.alarms.items():
                if aid not in want or aid in self.escalated or not p.escalate_to:
                    continue
                if aid in unacked:
                    item = Item(p.escalate_to, f"{g.route}>escalation", f"esc:{st.alarm.mn}",
                                "escalation", 0, st.alarm)
                    if item.key not in self.covered:
                        self.ready.setdefault(p.escalate_to, []).append(item)
                        made += 1
                self.escalated.add(aid)
        return made

    # --- messages out --------------------------------------------------------------------

    def take(self, receiver: str, now_ms: int) -> Notification | None:
        """The next message for ``receiver`` if its rate limit allows one now."""
        limit = self.limits[receiver]
        avail = limit.available(now_ms)
        if avail <= 0:
            return None
        resume = self.resume.get(receiver)
        if resume:
            limit.take(now_ms)
            return resume.pop(0)
        told = self.operator.get(receiver)
        if told:
            limit.take(now_ms)
            return told.pop(0)
        queue = self.ready.get(receiver)
        if not queue:
            return None
        groups = list(dict.fromkeys(i.group_key for i in queue))
        if len(groups) > min(avail, BACKLOG_GROUPS):
            # more groups wait than messages may go: one digest for as many as it holds
            items, rest = queue[:DIGEST_ITEMS], queue[DIGEST_ITEMS:]
        else:
            first = groups[0]
            items = [i for i in queue if i.group_key == first]
            rest = [i for i in queue if i.group_key != first]
        self.ready[receiver] = rest
        limit.take(now_ms)
        return Notification.of(receiver, items, now_ms)

    def backlog(self) -> dict[str, int]:
        return {r: len(q) + sum(len(n.items) for n in self.resume.get(r, []))
                + len(self.operator.get(r, ()))
                for r, q in self.ready.items()}

    def queue_operator(self, n: Notification) -> None:
        """An operator's notification, to go out as it is at the receiver's next slot."""
        self.operator.setdefault(n.receiver, []).append(n)

    def rate_limited(self, receiver: str, until_ms: int) -> None:
        self.limits[receiver].block(until_ms)

    def settle(self, n: Notification, state: str) -> None:
        """The log has ``state`` for ``n``: its items are covered."""
        for item in n.items:
            self.covered[item.key] = state

    # --- after a restart -----------------------------------------------------------------

    def restore(self, logged: Iterable[Mapping[str, Any]], now_ms: int) -> int:
        """Take back the delivery log's recent notifications (latest state each: keys
        notification_id, receiver, state, items (dicts of route, group_key, kind, n,
        alarm), at_ms): their items are covered, the unfinished are resumed, and alarms
        notified and still open are open again in their groups (for repeats, resolved
        notices and escalation). Returns how many notifications are resumed."""
        routes = {r.name: r for r in _all(self.routing.routes)}
        latest: dict[tuple[str, str, str, str], tuple[int, Item]] = {}
        first_seen: dict[str, int] = {}
        resumed = 0
        for row in sorted(logged, key=lambda r: int(r["at_ms"])):
            receiver = str(row["receiver"])
            items = [Item(receiver, d["route"], d["group_key"], d["kind"], int(d["n"]),
                          Alarm.from_json(d["alarm"]),
                          operator=(OperatorNote.from_json(d["operator"])
                                    if d.get("operator") else None))
                     for d in row["items"]]
            at_ms = int(row["at_ms"])
            for it in items:
                self.covered[it.key] = str(row["state"])
                aid = it.alarm.alarm_id
                first_seen[aid] = min(first_seen.get(aid, at_ms), at_ms)
                if it.kind == "escalation":
                    self.escalated.add(aid)
                elif it.kind != OPERATOR and row["state"] != SUPPRESSED:
                    # an operator's message says nothing of the alarm's notices
                    latest[(receiver, it.route, it.group_key, aid)] = (at_ms, it)
            if row["state"] in (PENDING, RETRYING) and receiver in self.limits:
                self.resume.setdefault(receiver, []).append(
                    Notification(str(row["notification_id"]), receiver, tuple(items),
                                 int(row.get("created_ms") or at_ms), resumed=True))
                resumed += 1
        for (receiver, route_name, gk, aid), (at_ms, it) in latest.items():
            if it.alarm.cleared or it.kind == "resolved":
                continue
            route = routes.get(route_name)
            params = route.params if route else (
                self.routing.defaults if route_name == "root" else None)
            if params is None or receiver not in self.limits:
                continue  # the routing changed since: nothing more for it there
            target = Target(route_name, receiver, params)
            g = self._group(target, gk)
            g.last_flush_ms = at_ms
            reps = max((k[3] for k in self.covered if k[0] == receiver and k[1] == aid
                        and k[2] == "repeat"), default=0)
            g.alarms[aid] = AlarmState(it.alarm, target, first_seen[aid], True, at_ms, reps)
        return resumed


def _all(routes: Iterable[Route]) -> list[Route]:
    out: list[Route] = []
    for r in routes:
        out.append(r)
        out.extend(_all(r.routes))
    return out

