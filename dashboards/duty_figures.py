"""The duty desk's figures (值守台, dashboards/duty_page.py), pure: the feed's order,
states and response clocks, one alarm's episode, evidence and history, the shift
handover (交接班) and its text, and the response-time and per-operator figures.

The people's state comes from pipeline/duty/lifecycle.py (``derive``), the response clock
from pipeline/duty/sla.py, the silences' matching from pipeline/duty/silences.py: this
module only arranges what they say for the page. Rows are the named queries' of
pipeline/store/queries_duty.py.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Final

from dashboards.labels import (
    bi,
    data_type_label,
    region_label,
    rule_class_label,
    rule_label,
    severity_label,
)
from dashboards.station_figures import pollutant_name, series_step
from pipeline.detect.names import raised_line
from pipeline.duty import lifecycle as lc
from pipeline.duty import sla
from pipeline.duty.silences import Silence
from pipeline.ledger.codec import event_from_row, from_ms
from pipeline.ledger.model import Event
from pipeline.timebase import to_local, unix_from_local

Row = Mapping[str, Any]
Table = list[dict[str, Any]]

#: seconds between redraws of the live feed (the issue's "every few seconds"). The feed's
#: cache key is "now" rounded to this, so a new alarm waits at most two of these plus the
#: query (benchmarks/duty.py: at 5 s the p99 from publication to the desk was 5.1 s,
#: missing the 5 s target; at 2 s, 2 x 2 s + 0.35 s bounds it)
REFRESH_S: Final = 2
#: an alarm cleared longer ago than this leaves the desk (an open one never does)
FEED_LOOKBACK: Final = timedelta(hours=24)
#: the most alarms the feed reads (open first, then newest)
FEED_LIMIT: Final = 500
#: rows the feed's table shows (the counts cover them all)
FEED_SHOWN: Final = 60
#: the figures' period
FIGURES_DAYS: Final = 7
#: the data around an alarm: this long before it opened and after it was last seen
AROUND: Final = timedelta(hours=1)
SERIES_POINTS: Final = 1500

SEVERITY_RANK: Final = {"critical": 0, "major": 1, "warning": 2, "info": 3}

# the people's axis as the desk shows it: the lifecycle's phases, with "assigned" and
# "notified" between acknowledged and dispatched (what happened last that matters)
UNACKNOWLEDGED: Final = lc.UNACKNOWLEDGED
ACKNOWLEDGED: Final = lc.ACKNOWLEDGED
ASSIGNED: Final = "assigned"
NOTIFIED: Final = "notified"
DISPATCHED: Final = lc.DISPATCHED
RESOLVED: Final = lc.RESOLVED
CLOSED: Final = lc.CLOSED
PEOPLE_STATES: Final = (UNACKNOWLEDGED, ACKNOWLEDGED, ASSIGNED, NOTIFIED, DISPATCHED,
                        RESOLVED, CLOSED)
PEOPLE_LABELS: Final = {
    UNACKNOWLEDGED: bi("未确认", "unacknowledged"), ACKNOWLEDGED: bi("已确认", "acknowledged"),
    ASSIGNED: bi("已指派", "assigned"), NOTIFIED: bi("已通知", "notified"),
    DISPATCHED: bi("已派单", "dispatched"), RESOLVED: bi("已处理", "resolved"),
    CLOSED: bi("已关闭", "closed"),
}
#: still work for someone: what "open" counts and the handover hands over
OPEN_STATES: Final = frozenset(PEOPLE_STATES) - {RESOLVED, CLOSED}
DETECTOR_LABELS: Final = {lc.ACTIVE: bi("告警中", "active"), lc.CLEARED: bi("已恢复", "cleared")}

_TIMES: Final = ("opened_at", "last_seen", "cleared_at", "starts_at", "ends_at",
                 "created_at", "cancelled_at", "at", "raised_at", "raised_data_time")


def local_row(row: Row) -> dict[str, Any]:
    """A query row with its times as naive CST (the driver gives zoned ones)."""
    return {k: (to_local(v) if isinstance(v, datetime) and k in _TIMES else v)
            for k, v in row.items()}


def span(d: timedelta) -> str:
    """``45m``, ``2h05m``, ``1d03h``."""
    minutes = int(abs(d).total_seconds() // 60)
    if minutes >= 1440:
        return f"{minutes // 1440}d{(minutes % 1440) // 60:02d}h"
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes}m"


def _stamp(when: datetime | None) -> str:
    return "" if when is None else f"{when:%Y-%m-%d %H:%M:%S}"


# --- the feed ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One alarm on the desk: its episode row (times naive CST), its state on both axes
    and its response clock."""

    alarm: dict[str, Any]
    state: lc.AlarmState
    clock: sla.ResponseClock
    people: str  # one of PEOPLE_STATES

    @property
    def alarm_id(self) -> str:
        return str(self.alarm["alarm_id"])

    @property
    def open(self) -> bool:
        return self.people in OPEN_STATES

    @property
    def late(self) -> bool:
        """Unacknowledged past its response time (the desk's red)."""
        return not self.clock.acknowledged and self.clock.breached and self.open


def people_state(state: lc.AlarmState) -> str:
    """The desk's people state: the lifecycle's phase, with acknowledged made finer
    (notified after assigned: the enterprise told is the later step of the two)."""
    if state.phase == lc.ACKNOWLEDGED:
        if state.notified:
            return NOTIFIED
        if state.assignee:
            return ASSIGNED
    return state.phase


def silence_of(row: Row) -> Silence:
    r = local_row(row)
    return Silence(silence_id=r["silence_id"], mn=r["mn"], code=r["code"], rule=r["rule"],
                   region=r["region"], starts_at=r["starts_at"], ends_at=r["ends_at"],
                   reason=r["reason"], created_by=r["created_by"],
                   created_at=r["created_at"], cancelled_at=r["cancelled_at"],
                   cancelled_by=r["cancelled_by"], version=int(r["version"]))


def events_by_alarm(rows: Iterable[Row]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for row in rows:
        out[str(row["record_id"])].append(event_from_row(row))
    return dict(out)


def item(alarm: Row, events: Sequence[Event], silences: Sequence[Silence],
         now: datetime) -> Item:
    a = local_row(alarm)
    state = lc.derive(a, events, silences=silences, at=now)
    clock = sla.response_clock(str(a["severity"]), a["opened_at"],
                               state.first_acknowledged_at, now)
    return Item(alarm=a, state=state, clock=clock, people=people_state(state))


def feed(alarms: Iterable[Row], event_rows: Iterable[Row], silence_rows: Iterable[Row],
         now: datetime) -> list[Item]:
    """The desk's alarms in its order (``feed_key``)."""
    events = events_by_alarm(event_rows)
    silences = [silence_of(r) for r in silence_rows]
    items = [item(a, events.get(str(a["alarm_id"]), []), silences, now) for a in alarms]
    return sorted(items, key=feed_key)


def feed_key(it: Item) -> tuple[Any, ...]:
    """Unacknowledged first, then still-open before resolved and closed; within each,
    gravest first, then the least response time left (the most overdue), then oldest."""
    unacked = it.people == UNACKNOWLEDGED
    return (not unacked, not it.open, SEVERITY_RANK.get(str(it.alarm["severity"]), 9),
            it.clock.time_left, it.alarm["opened_at"], it.alarm_id)


@dataclass(frozen=True, slots=True)
class Filters:
    regions: tuple[str, ...] = ()  # () any
    severities: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    people: tuple[str, ...] = ()


#: the people filter's default: what still needs someone
DEFAULT_PEOPLE: Final = tuple(s for s in PEOPLE_STATES if s in OPEN_STATES)


def apply(items: Iterable[Item], f: Filters) -> list[Item]:
    return [it for it in items
            if (not f.regions or str(it.alarm.get("region", "")) in f.regions)
            and (not f.severities or it.alarm["severity"] in f.severities)
            and (not f.rules or it.alarm["rule"] in f.rules)
            and (not f.people or it.people in f.people)]


def counts(items: Sequence[Item]) -> dict[str, int]:
    """open: still work for someone; unacknowledged: nobody has acknowledged it yet (and
    it is not closed); breached: unacknowledged past its response time."""
    return {"open": sum(it.open for it in items),
            "unacknowledged": sum(it.people == UNACKNOWLEDGED for it in items),
            "breached": sum(it.late for it in items)}


def response_text(it: Item) -> str:
    """The response clock in words: time left, breached (red), or acknowledged in time or
    late."""
    c = it.clock
    if c.acknowledged:
        return (bi("超时确认", "acked late") + f" {span(c.time_left)}" if c.breached
                else bi("按时确认", "acked in time"))
    if not it.open:
        return "—"
    if c.breached:
        return "🔴 " + bi("已超时", "breached") + f" {span(c.time_left)}"
    return bi("剩余", "left") + f" {span(c.time_left)}"


def alarm_label(a: Row) -> str:
    """An alarm in one line: for pickers and the handover."""
    code = pollutant_name(str(a.get("code", ""))) if a.get("code") else bi("整站", "station")
    who = a.get("enterprise") or a.get("mn")
    return (f"{severity_label(str(a['severity']))} · {who} · {code} · "
            f"{rule_label(str(a['rule']))} · {a['opened_at']:%m-%d %H:%M}")


def opened_cn(a: Row) -> int:
    """The data type that opened the alarm; a row from before migration 015 knows only
    its latest evidence's (``cn``)."""
    return int(a.get("opened_cn") or a.get("cn") or 0)


def raised_text(a: Row) -> str:
    """``发出 05-10 11:10:07（数据 05-10 11:00:00），证据始于 05-10 11:00:00，来自分钟数据``;
    a row from before migration 015 (no raised_at) says when its evidence began."""
    return raised_line(a.get("raised_at"), a.get("raised_data_time"), a["opened_at"],
                       opened_cn(a))


def _raised_short(a: Row) -> str:
    raised = a.get("raised_at")
    return f"{raised:%m-%d %H:%M}" if isinstance(raised, datetime) else "—"


def feed_table(items: Iterable[Item], now: datetime) -> Table:
    out = []
    for it in items:
        a = it.alarm
        out.append({
            "severity": severity_label(str(a["severity"])),
            "people": PEOPLE_LABELS.get(it.people, it.people),
            "detector": DETECTOR_LABELS.get(it.state.detector, it.state.detector),
            "age": span(now - a["opened_at"]),
            "response": response_text(it),
            "enterprise": a.get("enterprise") or a["mn"],
            "code": pollutant_name(str(a["code"])) if a["code"] else "—",
            "rule": rule_label(str(a["rule"])),
            "region": region_label(str(a.get("region", ""))),
            "silenced": "🔕 " + bi("静默", "silenced") if it.state.silenced else "",
            "assignee": it.state.assignee,
            "opened_at": f"{a['opened_at']:%m-%d %H:%M}",
            "raised_at": _raised_short(a),
            "source": data_type_label(opened_cn(a)),
        })
    return out


FEED_HEADERS: Final = {
    "people": bi("处置状态", "people"), "detector": bi("检测状态", "detector"),
    "age": bi("持续", "age"), "response": bi("响应时限", "response time"),
    "silenced": bi("静默", "silenced"), "assignee": bi("指派", "assignee"),
    "opened_at": bi("证据始于", "evidence since"), "raised_at": bi("发出", "raised"),
    "source": bi("数据类型", "from"),
}


# --- one alarm --------------------------------------------------------------------------


def _num(value: Any) -> str:
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:g}"
    return str(value)


def episode_table(a: Row) -> Table:
    rows = [
        (bi("站点", "station"), f"{a.get('enterprise') or '—'} · {a.get('outlet') or ''} · "
                                f"{a['mn']}"),
        (bi("服务区域", "region"), region_label(str(a.get("region", "")))),
        (bi("因子", "pollutant"), pollutant_name(str(a["code"])) if a["code"] else "—"),
        (bi("规则", "rule"), rule_label(str(a["rule"]))),
        (bi("规则类别", "rule class"), rule_class_label(str(a["rule"]),
                                                     str(a.get("rule_class") or ""))),
        (bi("级别", "severity"), severity_label(str(a["severity"]))),
        (bi("检测状态", "detector"), DETECTOR_LABELS.get(
            lc.CLEARED if a["state"] == "cleared" else lc.ACTIVE, str(a["state"]))),
        (bi("发出", "raised"), raised_text(a)),
        (bi("发出时间", "raised at"), _stamp(a.get("raised_at")) or "—"),
        (bi("发出数据时间", "raised for data time"), _stamp(a.get("raised_data_time")) or "—"),
        (bi("证据始于", "evidence since"), _stamp(a["opened_at"])),
        (bi("数据类型", "from"), data_type_label(opened_cn(a))),
        (bi("最近", "last seen"), _stamp(a["last_seen"])),
        (bi("恢复", "cleared"), _stamp(a.get("cleared_at")) or "—"),
        (bi("次数", "occurrences"), str(a["occurrences"])),
        (bi("数值", "value"), _num(a["value"])),
        (bi("阈值", "threshold"), _num(a["threshold"])),
        (bi("说明", "message"), str(a["message"])),
        ("ID", str(a["alarm_id"])),
    ]
    return [{"field": k, "value": v} for k, v in rows]


def evidence_table(text: str) -> Table:
    """The episode's evidence (a JSON object) as field/value rows; nested values as
    compact JSON; text that is not a JSON object as one row, so nothing is hidden."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return [{"field": bi("原文", "text"), "value": text}]
    if not isinstance(data, dict):
        return [{"field": bi("原文", "text"), "value": text}]
    return [{"field": str(k),
             "value": (json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list)
                       else _num(v))}
            for k, v in data.items()]


def payload_text(e: Event) -> str:
    """What the event says beyond its verb, in a line."""
    p = e.payload

    def g(key: str) -> str:
        value = p.get(key, "")
        return str(value) if value is not None else ""

    if e.kind == lc.ASSIGN:
        return bi("指派给", "to") + " " + g("assignee")
    if e.kind == lc.NOTIFY:
        parts = [g("channel"), g("recipient") or g("receiver"), g("text")]
        return " · ".join(x for x in parts if x)
    if e.kind == lc.DISPATCH:
        return (f"{g('work_order_id')} → {g('engineer')}"
                + (f" ({g('region')})" if g("region") else ""))
    if e.kind == lc.RESOLVE:
        return g("verification")
    if e.kind in (lc.COMMENT, lc.ACK, lc.UNACK, lc.CLOSE):
        return g("text")
    if e.kind == lc.REOPEN:
        return g("reason")
    return json.dumps(dict(p), ensure_ascii=False) if p else ""


DETECTOR_ACTOR: Final = bi("检测器", "detector")


def history_table(a: Row, events: Sequence[Event]) -> Table:
    """The detector's open (and clear) beside every ledger event, by time: who did what
    when. The detector's times are the data's; the people's are when the ledger took
    them."""
    rows: list[tuple[datetime, int, dict[str, Any]]] = [
        (a["opened_at"], 0, {"at": _stamp(a["opened_at"]), "seq": "", "who": DETECTOR_ACTOR,
                             "what": bi("告警开始", "opened"), "detail": str(a["message"])})]
    if a["state"] == "cleared":
        cleared = a.get("cleared_at") or a["last_seen"]
        rows.append((cleared, 0, {"at": _stamp(cleared), "seq": "", "who": DETECTOR_ACTOR,
                                  "what": bi("告警恢复", "cleared"), "detail": ""}))
    for e in events:
        rows.append((e.at, e.seq, {"at": _stamp(e.at.replace(microsecond=0)),
                                   "seq": str(e.seq), "who": e.actor,
                                   "what": lc.KIND_LABELS.get(e.kind, e.kind),
                                   "detail": payload_text(e)}))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r for _, _, r in rows]


HISTORY_HEADERS: Final = {"at": bi("时间", "time"), "seq": bi("序号", "seq"),
                          "who": bi("操作人", "who"), "what": bi("操作", "what"),
                          "detail": bi("内容", "detail")}
FIELD_HEADERS: Final = {"field": bi("项目", "field"), "value": bi("内容", "value")}


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    step: int  # the series query's bucket (1: each record)


def series_window(a: Row, now: datetime, cadence_s: int = 60) -> Window:
    """From AROUND before the alarm opened to AROUND after it was last seen (or cleared),
    not past now; the bucket keeps it under SERIES_POINTS points."""
    last = a.get("cleared_at") or a["last_seen"]
    start = a["opened_at"] - AROUND
    end = min(max(last, a["opened_at"]) + AROUND, now + timedelta(minutes=1))
    end = max(end, start + timedelta(minutes=1))
    step = series_step((end - start).total_seconds(), cadence_s, SERIES_POINTS)
    return Window(start.replace(microsecond=0), end.replace(microsecond=0), step)


def series_rows(rows: Iterable[Row]) -> Table:
    out = []
    for r in rows:
        v = r["value"]
        out.append({"time": f"{to_local(r['bucket']):%Y-%m-%dT%H:%M:%S}",
                    "value": v if isinstance(v, float) and math.isfinite(v) else None,
                    "records": r["records"], "flagged": r["flagged"]})
    return out


# --- the shift handover (交接班) ---------------------------------------------------------

DAY_START: Final = time(8)
NIGHT_START: Final = time(20)


@dataclass(frozen=True, slots=True)
class Shift:
    start: datetime
    end: datetime
    name: str  # 白班 day / 夜班 night


def shift_of(now: datetime) -> Shift:
    """The shift holding ``now``: 08:00-20:00 (白班 day) or 20:00-08:00 (夜班 night), CST."""
    day = now.date()
    if DAY_START <= now.time() < NIGHT_START:
        return Shift(datetime.combine(day, DAY_START), datetime.combine(day, NIGHT_START),
                     bi("白班", "day shift"))
    start_day = day if now.time() >= NIGHT_START else day - timedelta(days=1)
    start = datetime.combine(start_day, NIGHT_START)
    return Shift(start, start + timedelta(hours=12), bi("夜班", "night shift"))


@dataclass(frozen=True, slots=True)
class Handover:
    shift: Shift
    now: datetime
    #: still open (people's side) now: (severity, region) -> count, and the alarms
    open_by: dict[tuple[str, str], int]
    open_items: tuple[Item, ...]
    opened: int  # episodes opened during the shift
    opened_by_severity: dict[str, int]
    #: kind -> [(alarm label, actor, when)] for the shift's ack, dispatch, resolve, close
    done: dict[str, list[tuple[str, str, datetime]]]
    #: actor -> kind -> count, every people's action of the shift
    by_actor: dict[str, dict[str, int]]


HANDOVER_KINDS: Final = (lc.ACK, lc.ASSIGN, lc.NOTIFY, lc.DISPATCH, lc.RESOLVE, lc.CLOSE)


def handover(shift: Shift, now: datetime, items: Sequence[Item], opened: Iterable[Row],
             events: Iterable[Row]) -> Handover:
    """The handover at ``now``: ``items`` are the desk's alarms now (``feed``), ``opened``
    duty_shift_opened's rows and ``events`` duty_shift_events' for the shift."""
    still = [it for it in items if it.open]
    open_by: Counter[tuple[str, str]] = Counter(
        (str(it.alarm["severity"]), str(it.alarm.get("region", ""))) for it in still)
    opened_rows = [local_row(r) for r in opened]
    done: dict[str, list[tuple[str, str, datetime]]] = {k: [] for k in HANDOVER_KINDS}
    by_actor: dict[str, Counter[str]] = defaultdict(Counter)
    for raw in events:
        e = local_row(raw)
        when = from_ms(int(e["at_ms"])).replace(microsecond=0)
        if e["kind"] in done:
            done[e["kind"]].append((_short(e), str(e["actor"]), when))
        if not str(e["actor"]).startswith("system:"):
            by_actor[str(e["actor"])][str(e["kind"])] += 1
    for rows in done.values():
        rows.sort(key=lambda r: r[2])
    return Handover(
        shift=shift, now=now,
        open_by=dict(sorted(open_by.items(),
                            key=lambda kv: (SEVERITY_RANK.get(kv[0][0], 9), kv[0][1]))),
        open_items=tuple(sorted(still, key=feed_key)),
        opened=len(opened_rows),
        opened_by_severity=dict(sorted(Counter(str(r["severity"]) for r in opened_rows)
                                       .items(), key=lambda kv: SEVERITY_RANK.get(kv[0], 9))),
        done=done,
        by_actor={a: dict(sorted(c.items())) for a, c in sorted(by_actor.items())},
    )


def _short(a: Row) -> str:
    code = a.get("code") or ""
    who = a.get("enterprise") or a.get("mn")
    return f"{who} {code} {a['rule']}".replace("  ", " ").strip()


_DONE_WORDS: Final = {lc.ACK: "确认 acknowledged", lc.ASSIGN: "指派 assigned",
                      lc.NOTIFY: "通知企业 notified", lc.DISPATCH: "派单 dispatched",
                      lc.RESOLVE: "处理完成 resolved", lc.CLOSE: "关闭 closed"}


def handover_text(h: Handover, by: str = "") -> str:
    """The handover as text an operator copies into the shift log or a chat group."""
    s = h.shift
    lines = [f"【交接班 Shift handover】{s.name} {s.start:%Y-%m-%d %H:%M}–{s.end:%H:%M} "
             f"(CST)，截至 as of {h.now:%H:%M}" + (f"，交班人 by {by}" if by else ""),
             "",
             f"一、未处理完的告警 Still open: {len(h.open_items)}"]
    for (sev, region), n in h.open_by.items():
        lines.append(f"  - {severity_label(sev)} · {region_label(region)}: {n}")
    for it in h.open_items[:20]:
        a = it.alarm
        late = "，已超时 BREACHED" if it.late else ""
        lines.append(f"    · {_short(a)} [{PEOPLE_LABELS[it.people]}{late}] "
                     f"{a['opened_at']:%m-%d %H:%M}"
                     + (f"，指派 {it.state.assignee}" if it.state.assignee else ""))
    if len(h.open_items) > 20:
        lines.append(f"    · … {len(h.open_items) - 20} more")
    sev = "，".join(f"{severity_label(k)} {v}" for k, v in h.opened_by_severity.items())
    lines += ["", f"二、本班新开告警 Opened this shift: {h.opened}" + (f"（{sev}）" if sev else "")]
    lines += ["", "三、本班处置 Done this shift:"]
    for kind in HANDOVER_KINDS:
        rows = h.done[kind]
        lines.append(f"  - {_DONE_WORDS[kind]}: {len(rows)}")
        for label, actor, when in rows[:15]:
            lines.append(f"    · {when:%H:%M} {actor}: {label}")
        if len(rows) > 15:
            lines.append(f"    · … {len(rows) - 15} more")
    lines += ["", "四、按操作人 By operator:"]
    if not h.by_actor:
        lines.append("  - 无 none")
    for actor, kinds in h.by_actor.items():
        lines.append(f"  - {actor}: " + "，".join(
            f"{lc.KIND_LABELS.get(k, k).split()[0]} {n}" for k, n in kinds.items()))
    return "\n".join(lines)


def open_table(h: Handover) -> Table:
    return [{"severity": severity_label(sev), "region": region_label(region), "alarms": n}
            for (sev, region), n in h.open_by.items()]


# --- figures: response times and operators ----------------------------------------------


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The q-quantile by nearest rank: the smallest value with at least q of the values
    at or below it (a value that happened, never an interpolation)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


@dataclass(frozen=True, slots=True)
class Response:
    alarm_id: str
    region: str
    rule: str
    severity: str
    to_ack_s: float | None  # None: not acknowledged
    to_resolve_s: float | None  # None: neither resolved nor closed
    acked_by: str
    resolved_by: str


def responses(rows: Iterable[Row]) -> list[Response]:
    """duty_response_times' rows: seconds from opening to the first acknowledgement and
    to the first resolution (resolve or close). A time before the opening (an alarm
    acknowledged on an earlier episode's page, clocks apart) counts as 0."""
    out = []
    for raw in rows:
        r = local_row(raw)
        opened = unix_from_local(r["opened_at"])
        ack = (max(int(r["acked_at_ms"]) / 1000 - opened, 0.0) if int(r["acks"]) else None)
        res = (max(int(r["resolved_at_ms"]) / 1000 - opened, 0.0) if int(r["resolves"])
               else None)
        out.append(Response(str(r["alarm_id"]), str(r["region"]), str(r["rule"]),
                            str(r["severity"]), ack, res,
                            str(r["acked_by"]) if ack is not None else "",
                            str(r["resolved_by"]) if res is not None else ""))
    return out


def _minutes(values: Sequence[float], q: float | None) -> float | None:
    if not values:
        return None
    v = statistics.median(values) if q is None else nearest_rank(values, q)
    return round(v / 60, 1)


def response_summary(rs: Sequence[Response], by: str | None) -> Table:
    """Per region or rule (``by``), or overall (None): alarms, acknowledged, median and
    p90 minutes to acknowledge, resolved, median and p90 minutes to resolve. The median
    is the usual one (the mean of the middle two of an even count), p90 by nearest rank.
    Only the alarms acknowledged (resolved) count in the times: the rest are counted
    apart, as alarms still waiting have no time yet."""
    groups: dict[str, list[Response]] = defaultdict(list)
    for r in rs:
        groups["" if by is None else getattr(r, by)].append(r)
    out = []
    for key in sorted(groups):
        g = groups[key]
        acks = [r.to_ack_s for r in g if r.to_ack_s is not None]
        res = [r.to_resolve_s for r in g if r.to_resolve_s is not None]
        row: dict[str, Any] = {}
        if by == "region":
            row["region"] = region_label(key)
        elif by == "rule":
            row["rule"] = rule_label(key)
        row.update(alarms=len(g), acked=len(acks), ack_median_min=_minutes(acks, None),
                   ack_p90_min=_minutes(acks, 0.9), resolved=len(res),
                   resolve_median_min=_minutes(res, None),
                   resolve_p90_min=_minutes(res, 0.9))
        out.append(row)
    return out


RESPONSE_HEADERS: Final = {
    "alarms": bi("告警", "alarms"), "acked": bi("已确认", "acked"),
    "ack_median_min": bi("确认用时中位(分)", "ack median (min)"),
    "ack_p90_min": bi("确认用时P90(分)", "ack p90 (min)"),
    "resolved": bi("已处理", "resolved"),
    "resolve_median_min": bi("处理用时中位(分)", "resolve median (min)"),
    "resolve_p90_min": bi("处理用时P90(分)", "resolve p90 (min)"),
}


def operator_table(rows: Iterable[Row]) -> Table:
    """duty_operator_counts' rows as one row per operator: actions of each kind and in
    all, most active first."""
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for r in rows:
        per[str(r["actor"])][str(r["kind"])] += int(r["actions"])
    out = []
    for actor, c in per.items():
        row: dict[str, Any] = {"actor": actor}
        row.update({k: c.get(k, 0) for k in (lc.ACK, lc.ASSIGN, lc.COMMENT, lc.NOTIFY,
                                            lc.DISPATCH, lc.RESOLVE, lc.CLOSE)})
        row["total"] = sum(c.values())
        out.append(row)
    out.sort(key=lambda r: (-r["total"], r["actor"]))
    return out


OPERATOR_HEADERS: Final = {"actor": bi("操作人", "operator"),
                           **{k: lc.KIND_LABELS[k] for k in lc.KINDS}}
