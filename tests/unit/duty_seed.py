"""A seed of the duty desk's tables (stations, alarms, ledger_events, silences, users,
readings) and what its named queries (pipeline/store/queries_duty.py) must answer on it,
derived here in plain Python from the seed and each query's documented meaning (FINAL
keeps the newest row per key; [start, end) ranges; CST; a station outside the scope, or
not in the registry for a scoped user, gives no row). Nothing is copied from a server.

In a database of its own; tests/unit/test_dashboards_duty.py runs ``checks()`` on chDB,
and the same checks hold on the local 18.16 server (``failing(ch)`` after ``seed(ch)``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from tests.store_seed import canon_rows, epoch

NAN = math.nan
JS, JJ = "苏皖沪", "京津冀鲁"
P1 = "DUTYWATER000000000000001"  # 苏皖沪
P2 = "DUTYGAS00000000000000002"  # 京津冀鲁
U = "DUTYUNREGISTERED00000009"  # not in the registry
NOW = datetime(2024, 5, 10, 12, 0)  # a Friday, in the day shift (08:00-20:00)
SINCE = NOW - timedelta(hours=24)
SHIFT = (datetime(2024, 5, 10, 8), datetime(2024, 5, 10, 20))
WEEK = (NOW - timedelta(days=7), NOW)

Scope = tuple[str, ...] | None
SCOPES: tuple[Scope, ...] = (None, (JS,), (JJ,), (JS, JJ))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, day, hour, minute)


def scope_params(scope: Scope) -> dict[str, Any]:
    return {"all_regions": 1 if scope is None else 0, "regions": scope or ("",)}


STATIONS = (
    {"mn": P1, "enterprise": "甲水务有限公司", "outlet": "DW001 总排口", "region": JS},
    {"mn": P2, "enterprise": "乙电力有限公司", "outlet": "DA001 烟囱", "region": JJ},
)
REGION = {s["mn"]: s["region"] for s in STATIONS}


def _station_row(s: dict[str, str]) -> dict[str, Any]:
    return dict(mn=s["mn"], pw="123456", enterprise=s["enterprise"], outlet=s["outlet"],
                st="32", edition=2017, province="", region=s["region"], rtd_interval=30,
                min_interval=10, active=1, updated_at=epoch(at(1, 9)), version=1)


@dataclass(frozen=True)
class Alarm:
    mn: str
    code: str
    rule: str
    severity: str
    opened_at: datetime
    last_seen: datetime
    cleared_at: datetime | None
    version: int
    occurrences: int = 1
    cn: int = 2051
    value: float = NAN
    threshold: float = NAN
    message: str = ""
    evidence: str = "{}"
    #: when and from what it was raised (migration 015); None: a row written before it,
    #: which leaves those columns out (the server's defaults fill them)
    raised_at: datetime | None = None
    raised_data_time: datetime | None = None
    opened_cn: int = 0
    rule_class: str = ""

    @property
    def alarm_id(self) -> str:
        return f"{self.mn}/{self.code}/{self.rule}/{self.opened_at:%Y%m%d%H%M%S}"

    @property
    def state(self) -> str:
        return "open" if self.cleared_at is None else "cleared"

    def row(self) -> dict[str, Any]:
        return dict(alarm_id=self.alarm_id, mn=self.mn, cn=self.cn, code=self.code,
                    rule=self.rule, severity=self.severity, state=self.state,
                    opened_at=epoch(self.opened_at), last_seen=epoch(self.last_seen),
                    cleared_at=None if self.cleared_at is None else epoch(self.cleared_at),
                    occurrences=self.occurrences, value=self.value, threshold=self.threshold,
                    message=self.message, evidence=self.evidence, version=self.version,
                    **self.raised_cols())

    def raised_cols(self) -> dict[str, Any]:
        """Migration 015's columns as the writer gives them; none for an older row."""
        if self.raised_at is None:
            return {}
        return dict(raised_at=epoch(self.raised_at),
                    raised_data_time=(None if self.raised_data_time is None
                                      else epoch(self.raised_data_time)),
                    opened_cn=self.opened_cn, rule_class=self.rule_class)


# raised at 11:10:07 on the minute record of 11:00 (its evidence began then), by a
# value rule; an update carries the opening's raised values
_A1 = Alarm(P1, "w01018", "over_limit", "critical", at(10, 11), at(10, 11, 10), None, 1,
            value=110.0, threshold=100.0, message="COD 超标", evidence='{"avg": 110.0}',
            raised_at=datetime(2024, 5, 10, 11, 10, 7), raised_data_time=at(10, 11),
            opened_cn=2051, rule_class="value")
ALARMS = (
    _A1,
    # the same episode rewritten: FINAL keeps this one
    replace(_A1, last_seen=at(10, 11, 50), occurrences=3, value=130.0, version=2,
            evidence=json.dumps({"avg": 130.0, "limit": 100.0, "hours": [11, 12]})),
    Alarm(P2, "a21026", "spike", "warning", at(10, 10, 30), at(10, 11), None, 1,
          message="SO2 突变"),
    Alarm(P1, "", "offline", "major", at(10, 7), at(10, 9), at(10, 9), 1, cn=0,
          message="站点离线", raised_at=at(10, 7, 15), raised_data_time=at(10, 7, 15),
          rule_class="station"),
    Alarm(P1, "w01001", "negative", "info", at(8, 7), at(8, 8), at(8, 8), 1,
          message="pH 负值"),  # cleared two days ago: off the desk
    Alarm(U, "w01018", "zero_streak", "warning", at(10, 9, 30), at(10, 11), None, 1,
          message="零值"),
    Alarm(P2, "w01018", "constant_streak", "major", at(6, 9), at(6, 10), at(6, 10), 1,
          message="恒值"),  # in the week's figures only
    Alarm(P1, "w21003", "spike", "info", at(10, 8, 30), at(10, 8, 40), at(10, 8, 40), 1,
          message="氨氮突变"),  # cleared this shift, never touched
)


def final_alarms() -> dict[str, Alarm]:
    out: dict[str, Alarm] = {}
    for a in ALARMS:
        if a.alarm_id not in out or a.version >= out[a.alarm_id].version:
            out[a.alarm_id] = a
    return out


A1 = final_alarms()[_A1.alarm_id]
A2, A3, A4, A5, A6, A7 = (final_alarms()[a.alarm_id] for a in ALARMS[2:])


@dataclass(frozen=True)
class Ev:
    record_id: str
    seq: int
    kind: str
    actor: str
    at: datetime
    payload: dict[str, Any]

    @property
    def at_ms(self) -> int:
        return epoch(self.at) * 1000 + 250  # within the second: at_ms keeps it

    def row(self) -> dict[str, Any]:
        return dict(stream="alarm", record_id=self.record_id, seq=self.seq,
                    request_id=f"req-{self.record_id}-{self.seq}", kind=self.kind,
                    actor=self.actor, at=epoch(self.at), at_ms=self.at_ms,
                    payload=json.dumps(self.payload, ensure_ascii=False, sort_keys=True),
                    source="web")


EVENTS = (
    Ev(A1.alarm_id, 1, "ack", "duty", at(10, 11, 5), {}),
    Ev(A1.alarm_id, 2, "notify", "duty", at(10, 11, 10),
       {"channel": "phone", "recipient": "甲水务 王工", "text": "COD 超标，请排查"}),
    Ev(A1.alarm_id, 3, "dispatch", "duty", at(10, 11, 12),
       {"work_order_id": "WO-1", "engineer": "eng", "region": JS}),
    Ev(A2.alarm_id, 1, "ack", "duty2", at(10, 10, 50), {}),
    Ev(A2.alarm_id, 2, "assign", "duty2", at(10, 10, 55), {"assignee": "eng2"}),
    Ev(A2.alarm_id, 3, "comment", "system:notify", at(10, 11), {"text": "sent"}),
    Ev(A3.alarm_id, 1, "ack", "duty", at(10, 7, 20), {}),
    Ev(A3.alarm_id, 2, "resolve", "duty", at(10, 9, 10), {"verification": "cleared"}),
    Ev(A3.alarm_id, 3, "close", "sup", at(10, 9, 30), {}),
    Ev(A6.alarm_id, 1, "ack", "duty2", at(6, 9, 40), {}),
    Ev(A6.alarm_id, 2, "resolve", "eng2", at(6, 12), {"verification": "ok"}),
    # another stream's record of the same id is not the alarm's
    Ev(A2.alarm_id, 9, "ack", "someone", at(10, 11), {}),
)
#: the last event is the other stream's
OTHER_STREAM = 1


def _event_rows() -> list[dict[str, Any]]:
    rows = [e.row() for e in EVENTS]
    rows[-1]["stream"] = "work_order"
    return rows


def alarm_events() -> list[Ev]:
    return list(EVENTS[:-OTHER_STREAM])


@dataclass(frozen=True)
class Sil:
    silence_id: str
    mn: str
    code: str
    rule: str
    region: str
    starts_at: datetime
    ends_at: datetime
    cancelled_at: datetime | None = None

    def row(self) -> dict[str, Any]:
        return dict(silence_id=self.silence_id, mn=self.mn, code=self.code, rule=self.rule,
                    region=self.region, starts_at=epoch(self.starts_at),
                    ends_at=epoch(self.ends_at), reason="planned calibration",
                    created_by="duty", created_at=epoch(self.starts_at),
                    cancelled_at=None if self.cancelled_at is None
                    else epoch(self.cancelled_at),
                    cancelled_by="" if self.cancelled_at is None else "duty", version=1)


SILENCES = (
    Sil("SIL-1", P1, "w01018", "over_limit", "", at(10, 11), at(10, 13)),
    Sil("SIL-2", "", "", "", JJ, at(10, 10), at(10, 14), cancelled_at=at(10, 11, 30)),
    Sil("SIL-3", P2, "", "", "", at(10, 11), at(10, 12, 30)),
    Sil("SIL-4", "", "", "spike", "", at(10, 12, 1), at(10, 15)),  # not started yet
    Sil("SIL-5", "", "", "", JS, at(10, 9), at(10, 12)),  # ended at NOW (exclusive)
)

USERS = (
    ("duty", "值守员 王芳", ["duty_operator"], [], 1),
    ("duty2", "值守员 张伟", ["duty_operator"], [], 1),
    ("sup", "值守主管 李强", ["duty_supervisor"], [], 1),
    ("eng", "驻地工程师 赵磊", ["field_engineer"], [JS], 1),
    ("eng2", "驻地工程师 孙涛", ["field_engineer"], [JJ], 1),
    ("gone", "离职 员工", ["duty_operator"], [], 0),
)


def _user_row(u: tuple[str, str, list[str], list[str], int]) -> dict[str, Any]:
    return dict(username=u[0], display_name=u[1], roles=u[2], regions=u[3],
                password_hash="$argon2id$not-a-real-hash", active=u[4], changed_by="test",
                changed_at=epoch(at(1, 9)), version=1)


# readings of P1's COD every 10 minutes 09:50-12:50, P2's (another region) alike
READ_TIMES = [at(10, 9, 50) + timedelta(minutes=10 * i) for i in range(19)]


def _value(i: int) -> float:
    return 90.0 + 5 * i


def _reading_row(mn: str, i: int, when: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {c: NAN for c in ("rtd", "min", "max", "cou", "zs_rtd", "zs_min",
                                            "zs_avg", "zs_max")}
    row.update(mn=mn, st="32", cn=2051, code="w01018", wire_code="w01018",
               data_time=epoch(when), avg=_value(i), rs=NAN, rt=NAN, data=NAN, day_data=NAN,
               night_data=NAN, ala=NAN, up_value=NAN, low_value=NAN,
               flag="D" if i == 3 else "N", eflag="", qn="q", edition=2017,
               receive_time=epoch(when) + 5)
    return row


def seed(ch: Any) -> None:
    def put(table: str, rows: list[dict[str, Any]]) -> None:
        ch.insert_columns(table, {k: [r[k] for r in rows] for k in rows[0]})

    put("stations", [_station_row(s) for s in STATIONS])
    for version in (1, 2):
        # rows written before migration 015 (without its columns) apart from newer ones
        for old in (True, False):
            rows = [a.row() for a in ALARMS if a.version == version
                    and (a.raised_at is None) == old]
            if rows:
                put("alarms", rows)
    put("ledger_events", _event_rows())
    put("silences", [s.row() for s in SILENCES])
    put("users", [_user_row(u) for u in USERS])
    put("readings", [_reading_row(mn, i, t) for mn in (P1, P2)
                     for i, t in enumerate(READ_TIMES)])


# --- expected answers ---------------------------------------------------------------------


def _in(mn: str, scope: Scope) -> bool:
    return scope is None or (mn in REGION and REGION[mn] in scope)


def _station(mn: str) -> dict[str, str]:
    s = next((x for x in STATIONS if x["mn"] == mn), None)
    return {"enterprise": s["enterprise"] if s else "", "outlet": s["outlet"] if s else "",
            "region": s["region"] if s else ""}


def _alarm_cols(a: Alarm) -> dict[str, Any]:
    return dict(alarm_id=a.alarm_id, mn=a.mn, cn=a.cn, code=a.code, rule=a.rule,
                severity=a.severity, state=a.state, opened_at=a.opened_at,
                last_seen=a.last_seen, cleared_at=a.cleared_at, occurrences=a.occurrences,
                value=a.value, threshold=a.threshold, message=a.message,
                # an older row reads the defaults of migration 015
                raised_at=a.raised_at, raised_data_time=a.raised_data_time,
                opened_cn=a.opened_cn, rule_class=a.rule_class)


def on_desk(a: Alarm, since: datetime) -> bool:
    return a.state == "open" or (a.cleared_at or a.last_seen) >= since


def expected_feed(since: datetime, limit: int, scope: Scope) -> list[dict[str, Any]]:
    rows = [a for a in final_alarms().values() if on_desk(a, since) and _in(a.mn, scope)]
    rows.sort(key=lambda a: (a.state != "open", -epoch(a.opened_at), a.alarm_id))
    out = []
    for a in rows[:limit]:
        s = _station(a.mn)
        out.append({"alarm_id": a.alarm_id, "mn": a.mn, "enterprise": s["enterprise"],
                    "outlet": s["outlet"], "region": s["region"],
                    **{k: v for k, v in _alarm_cols(a).items() if k not in ("alarm_id", "mn")}})
    return out


def _event_cols(e: Ev) -> dict[str, Any]:
    return {"stream": "alarm", "record_id": e.record_id, "seq": e.seq,
            "request_id": f"req-{e.record_id}-{e.seq}", "kind": e.kind, "actor": e.actor,
            "at_ms": e.at_ms, "payload": json.dumps(e.payload, ensure_ascii=False,
                                                    sort_keys=True), "source": "web"}


def expected_feed_events(since: datetime, scope: Scope) -> list[dict[str, Any]]:
    ids = {a.alarm_id for a in final_alarms().values()
           if on_desk(a, since) and _in(a.mn, scope)}
    evs = sorted((e for e in alarm_events() if e.record_id in ids),
                 key=lambda e: (e.record_id, e.seq))
    return [_event_cols(e) for e in evs]


def expected_alarm(alarm_id: str, scope: Scope) -> list[dict[str, Any]]:
    a = final_alarms().get(alarm_id)
    if a is None or not _in(a.mn, scope):
        return []
    s = _station(a.mn)
    cols = _alarm_cols(a)
    return [{"alarm_id": a.alarm_id, "mn": a.mn, **s,
             **{k: v for k, v in cols.items() if k not in ("alarm_id", "mn")},
             "evidence": a.evidence}]


def expected_alarm_events(alarm_id: str, scope: Scope) -> list[dict[str, Any]]:
    if not expected_alarm(alarm_id, scope):
        return []
    evs = sorted((e for e in alarm_events() if e.record_id == alarm_id), key=lambda e: e.seq)
    return [{k: v for k, v in _event_cols(e).items()} for e in evs]


def expected_series(mn: str, start: datetime, end: datetime, step: int,
                    scope: Scope) -> list[dict[str, Any]]:
    if not _in(mn, scope):
        return []
    buckets: dict[int, list[tuple[float, str]]] = {}
    for i, t in enumerate(READ_TIMES):
        if start <= t < end:
            b = epoch(t) // step * step
            buckets.setdefault(b, []).append((_value(i), "D" if i == 3 else "N"))
    out = []
    for b in sorted(buckets):
        vals = [v for v, _ in buckets[b]]
        out.append({"bucket": datetime(1970, 1, 1) + timedelta(seconds=b + 8 * 3600),
                    "value": sum(vals) / len(vals), "value_min": min(vals),
                    "value_max": max(vals), "records": len(vals),
                    "flagged": sum(f != "N" for _, f in buckets[b])})
    return out


def expected_silences(when: datetime, scope: Scope) -> list[dict[str, Any]]:
    out = []
    for s in sorted(SILENCES, key=lambda s: (s.starts_at, s.silence_id)):
        if not (s.starts_at <= when < s.ends_at):
            continue
        if s.cancelled_at is not None and s.cancelled_at <= when:
            continue
        if scope is not None and s.region and s.region not in scope:
            continue
        if s.mn and not _in(s.mn, scope):
            continue
        out.append({"silence_id": s.silence_id, "mn": s.mn, "code": s.code, "rule": s.rule,
                    "region": s.region, "starts_at": s.starts_at, "ends_at": s.ends_at,
                    "reason": "planned calibration", "created_by": "duty",
                    "created_at": s.starts_at, "cancelled_at": s.cancelled_at,
                    "cancelled_by": "" if s.cancelled_at is None else "duty", "version": 1})
    return out


def expected_people(scope: Scope) -> list[dict[str, Any]]:
    return [{"username": u[0], "display_name": u[1], "role_list": ",".join(u[2]),
             "region_list": ",".join(u[3])}
            for u in sorted(USERS) if u[4]
            and (scope is None or not u[3] or any(r in scope for r in u[3]))]


def expected_shift_opened(start: datetime, end: datetime, scope: Scope
                          ) -> list[dict[str, Any]]:
    rows = sorted((a for a in final_alarms().values()
                   if start <= a.opened_at < end and _in(a.mn, scope)),
                  key=lambda a: (a.opened_at, a.alarm_id))
    return [{"alarm_id": a.alarm_id, "mn": a.mn, "enterprise": _station(a.mn)["enterprise"],
             "region": _station(a.mn)["region"], "code": a.code, "rule": a.rule,
             "severity": a.severity, "state": a.state, "opened_at": a.opened_at}
            for a in rows]


def expected_shift_events(start: datetime, end: datetime, scope: Scope
                          ) -> list[dict[str, Any]]:
    alarms = final_alarms()
    evs = sorted((e for e in alarm_events() if start <= e.at < end
                  and _in(alarms[e.record_id].mn, scope)),
                 key=lambda e: (e.at_ms, e.record_id, e.seq))
    out = []
    for e in evs:
        a = alarms[e.record_id]
        s = _station(a.mn)
        out.append({"alarm_id": e.record_id, "seq": e.seq, "kind": e.kind, "actor": e.actor,
                    "at_ms": e.at_ms, "payload": _event_cols(e)["payload"], "mn": a.mn,
                    "enterprise": s["enterprise"], "region": s["region"], "code": a.code,
                    "rule": a.rule, "severity": a.severity})
    return out


def expected_response_times(start: datetime, end: datetime, scope: Scope
                            ) -> list[dict[str, Any]]:
    out = []
    rows = sorted((a for a in final_alarms().values()
                   if start <= a.opened_at < end and _in(a.mn, scope)),
                  key=lambda a: (a.opened_at, a.alarm_id))
    for a in rows:
        evs = [e for e in alarm_events() if e.record_id == a.alarm_id]
        acks = sorted((e for e in evs if e.kind == "ack"), key=lambda e: e.at_ms)
        res = sorted((e for e in evs if e.kind in ("resolve", "close")), key=lambda e: e.at_ms)
        out.append({"alarm_id": a.alarm_id, "region": _station(a.mn)["region"],
                    "rule": a.rule, "severity": a.severity, "opened_at": a.opened_at,
                    "acks": len(acks), "acked_at_ms": acks[0].at_ms if acks else 0,
                    "acked_by": acks[0].actor if acks else "",
                    "resolves": len(res), "resolved_at_ms": res[0].at_ms if res else 0,
                    "resolved_by": res[0].actor if res else ""})
    return out


def expected_operator_counts(start: datetime, end: datetime, scope: Scope
                             ) -> list[dict[str, Any]]:
    alarms = final_alarms()
    counts: dict[tuple[str, str], list[str]] = {}
    for e in alarm_events():
        if e.actor.startswith("system:") or not (start <= e.at < end):
            continue
        if not _in(alarms[e.record_id].mn, scope):
            continue
        counts.setdefault((e.actor, e.kind), []).append(e.record_id)
    return [{"actor": a, "kind": k, "actions": len(ids), "alarms": len(set(ids))}
            for (a, k), ids in sorted(counts.items())]


Check = tuple[str, str, dict[str, Any], list[dict[str, Any]]]


def _sname(scope: Scope) -> str:
    return "all" if scope is None else "+".join(scope)


def checks() -> list[Check]:
    out: list[Check] = []
    for scope in SCOPES:
        p = scope_params(scope)
        n = _sname(scope)
        out += [
            (f"duty_feed-{n}", "duty_feed", {"since": SINCE, "limit": 100, **p},
             expected_feed(SINCE, 100, scope)),
            (f"duty_feed_events-{n}", "duty_feed_events", {"since": SINCE, **p},
             expected_feed_events(SINCE, scope)),
            (f"duty_active_silences-{n}", "duty_active_silences", {"at": NOW, **p},
             expected_silences(NOW, scope)),
            (f"duty_people-{n}", "duty_people", p, expected_people(scope)),
            (f"duty_shift_opened-{n}", "duty_shift_opened",
             {"start": SHIFT[0], "end": SHIFT[1], **p}, expected_shift_opened(*SHIFT, scope)),
            (f"duty_shift_events-{n}", "duty_shift_events",
             {"start": SHIFT[0], "end": SHIFT[1], **p}, expected_shift_events(*SHIFT, scope)),
            (f"duty_response_times-{n}", "duty_response_times",
             {"start": WEEK[0], "end": WEEK[1], **p}, expected_response_times(*WEEK, scope)),
            (f"duty_operator_counts-{n}", "duty_operator_counts",
             {"start": WEEK[0], "end": WEEK[1], **p}, expected_operator_counts(*WEEK, scope)),
        ]
        for a in (A1, A2, A5):
            short = a.alarm_id.split("/")[2]
            out += [
                (f"duty_alarm-{short}-{n}", "duty_alarm", {"alarm_id": a.alarm_id, **p},
                 expected_alarm(a.alarm_id, scope)),
                (f"duty_alarm_events-{short}-{n}", "duty_alarm_events",
                 {"alarm_id": a.alarm_id, **p}, expected_alarm_events(a.alarm_id, scope)),
            ]
        for mn, step in ((P1, 1), (P1, 1800), (P2, 1)):
            start, end = at(10, 10), at(10, 12, 1)
            out.append((f"duty_alarm_series-{mn[-1]}-{step}-{n}", "duty_alarm_series",
                        {"mn": mn, "cn": 2051, "code": "w01018", "start": start, "end": end,
                         "step": step, "limit": 1000, **p},
                        expected_series(mn, start, end, step, scope)))
    # the limit and the since: a feed of 2, and one since the morning
    out.append(("duty_feed-limit", "duty_feed",
                {"since": SINCE, "limit": 2, **scope_params(None)},
                expected_feed(SINCE, 2, None)))
    out.append(("duty_feed-since", "duty_feed",
                {"since": at(10, 9), "limit": 100, **scope_params(None)},
                expected_feed(at(10, 9), 100, None)))
    return out


def failing(ch: Any) -> list[str]:
    from pipeline.store import queries

    return [cid for cid, name, params, want in checks()
            if canon_rows(queries.run(ch, name, **params)) != canon_rows(want)]
