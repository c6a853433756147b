"""Missing data: expected cadence, gap windows, offline/online, and the back-fill planner.

Two entry points per station, both pure (state in, state and outputs out):

- ``on_frame(state, ctx, cn, data_time, receive_time)`` for every accepted frame (any CN:
  every frame proves the station is alive; data frames move the expected cadence, close
  gaps and count records arriving for open windows);
- ``tick(state, ctx, now)`` every few seconds of the worker's clock: finds records
  overdue (a gap that is still growing), offline stations, plans back-fill requests
  (2051/2061/2031 with BeginTime/EndTime) while the station is online, with retries and a
  per-station rate limit, settles windows (filled, partly_filled, given_up), and raises a
  ``missing`` alarm for a gap still open after the grace period.

Cadence: 2011 every RtdInterval, 2051 every MinInterval, 2061 hourly, 2031 daily (from the
station context; ``set_cadence`` applies a 1061/1063 answer). A record stamped at the
start of its period is sent at its end, so a 2061 record for 15:00 is due at 16:00.

State: ``MissingState`` (``state.py``): when the station was last heard and whether it is
online, the next data time due per data type, the gap windows with their back-fill, the
rate limit's memory and the open ``missing`` alarm; times in whole seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from pipeline.detect.context import StationContext
from pipeline.detect.model import AlarmEvent, AlarmStep
from pipeline.detect.rules import Rules, RulesError, default_rules
from pipeline.detect.state import MissingState, MissingWindow
from pipeline.timebase import from_s, stamp, to_s

TRACKED_CNS = (2011, 2051, 2061, 2031)
OPEN, REQUESTED = "open", "backfill_requested"
FILLED, PARTLY, GIVEN_UP = "filled", "partly_filled", "given_up"
FINAL = (FILLED, PARTLY, GIVEN_UP)


@dataclass(frozen=True, slots=True)
class MissingPolicy:
    """The ``[missing]`` table of the rules file (these are its defaults)."""

    offline_after_s: float = 900.0  # silence before a station is offline (>= 3 x RtdInterval)
    due_tolerance_s: Mapping[int, float] = field(default_factory=lambda: {
        2011: 120.0, 2051: 180.0, 2061: 600.0, 2031: 1800.0})
    grace_s: float = 1800.0  # an open gap this old raises the missing alarm
    alarm_cns: frozenset[int] = frozenset({2051, 2061, 2031})
    backfill_cns: frozenset[int] = frozenset({2051, 2061, 2031})
    retry_after_s: float = 900.0
    max_attempts: int = 3
    rate_limit: int = 6  # back-fill requests per station per rate_window_s
    rate_window_s: float = 600.0
    #: a gap still growing on an online station is requested once it is this old
    trailing_request_after_s: float = 1800.0
    keep_final_s: float = 86400.0  # settled windows stay in state this long

    @classmethod
    def from_rules(cls, rules: Rules) -> MissingPolicy:
        table = dict(rules.raw.get("missing", {}))
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - names)
        if unknown:
            raise RulesError(f"{rules.source} [missing]: unknown keys {unknown}; allowed: "
                             f"{sorted(names)}")
        kw: dict[str, Any] = {}
        for k, v in table.items():
            if k == "due_tolerance_s":
                kw[k] = {int(c): float(s) for c, s in dict(v).items()}
            elif k in ("alarm_cns", "backfill_cns"):
                kw[k] = frozenset(int(c) for c in v)
            elif k in ("max_attempts", "rate_limit"):
                kw[k] = int(v)
            else:
                kw[k] = float(v)
        return cls(**kw)


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """A history request for the worker to publish to ``hj212.commands``."""

    mn: str
    cn: int  # 2051, 2061 or 2031
    begin: datetime  # BeginTime, inclusive
    end: datetime  # EndTime, inclusive
    attempt: int
    qn: str
    window_start: datetime  # key of the missing window it serves

    def to_command(self) -> dict[str, Any]:
        """The gateway's downlink message (pipeline/gateway/README.md, Messages)."""
        return {"mn": self.mn, "cn": self.cn, "qn": self.qn, "purpose": "backfill",
                "fields": {"BeginTime": stamp(self.begin), "EndTime": stamp(self.end)}}


def window_row(mn: str, w: MissingWindow) -> dict[str, Any]:
    """A ``missing_windows`` row (without version) for a window of the state."""
    last_request_at = w.get("last_request_at")
    return {"mn": mn, "cn": w["cn"], "window_start": from_s(w["start"]),
            "window_end": from_s(w["end"]), "state": w["state"], "expected": w["expected"],
            "received": len(w["received_times"]), "requests": w["requests"],
            "last_request_qn": w.get("last_request_qn", ""),
            "last_request_at": from_s(last_request_at) if last_request_at else None,
            "detected_at": from_s(w["detected_at"]), "updated_at": from_s(w["updated_at"])}


def alarm_step(event: AlarmEvent, state: MissingState | None = None) -> AlarmStep:
    """The place of an ``offline`` or ``missing`` event in its alarm. Neither alarm has
    updates, and both of its events carry the opening's first_seen (offline: when the
    station was last heard; missing: the start of the earliest late gap), so the open is
    step 1, the clear step 2, and the event's own first_seen is the alarm's.

    With the station's missing-data ``state`` (after the call that made the event) the
    step also says when the alarm was raised: the tick's clock and the due time missed,
    as the opening kept them (``raised``), on the open and on the clear alike."""
    kept = raised_of(state).get(event.rule) if state is not None else None
    raised_at, due = (from_s(kept[0]), from_s(kept[1])) if kept else (None, None)
    return AlarmStep(event, event.first_seen, 1 if event.transition == "open" else 2,
                     raised_at=raised_at, raised_data_time=due, opened_cn=event.cn)


def raised_of(state: MissingState) -> dict[str, list[int]]:
    """rule (offline, missing) -> [wall time raised, due time missed] of its latest
    opening, in the state's seconds; kept after the clear (the clear's row carries it)
    until the next opening replaces it (absent in states written before it was kept)."""
    return state.setdefault("raised", {})


def _send_delay(cn: int, cadence: int) -> int:
    return 0 if cn == 2011 else cadence


class MissingData:
    """Missing data of one station at a time; see the module docstring."""

    def __init__(self, rules: Rules | None = None, policy: MissingPolicy | None = None) -> None:
        self.rules = rules or default_rules()
        self.policy = policy or MissingPolicy.from_rules(self.rules)
        # the last clock reading converted: a worker ticks every station, and receives a
        # whole batch, with one datetime object
        self._last_dt: datetime | None = None
        self._last_s = 0

    def _seconds(self, when: datetime) -> int:
        """``to_s``, remembered for the same datetime object (identity, not equality:
        equal aware times in two zones have different fields)."""
        if when is not self._last_dt:
            self._last_s = to_s(when)
            self._last_dt = when
        return self._last_s

    # --- inputs -----------------------------------------------------------------------

    def set_cadence(self, state: MissingState, cn: int, seconds: int) -> MissingState:
        """A 1061 (RtdInterval) or 1063 (MinInterval x 60) answer changed the cadence."""
        state.setdefault("cadence", {})[str(cn)] = int(seconds)
        return state

    def cadence(self, state: MissingState, ctx: StationContext, cn: int) -> int:
        return int(state.get("cadence", {}).get(str(cn), ctx.period_s(cn)))

    def on_frame(self, state: MissingState, ctx: StationContext, cn: int,
                 data_time: datetime | None, receive_time: datetime
                 ) -> tuple[MissingState, list[AlarmEvent], list[dict[str, Any]]]:
        events: list[AlarmEvent] = []
        updates: list[dict[str, Any]] = []
        now = self._seconds(receive_time)
        state["last_heard"] = max(state.get("last_heard", now), now)
        if not state.get("online", False):
            state["online"] = True
            off = state.pop("offline_since", None)
            if off is not None:
                events.append(self._event(ctx.mn, "offline", "clear", off, now,
                                          {"offline_s": now - off}, "major",
                                          "站点恢复在线 station back online"))
        if cn not in TRACKED_CNS or data_time is None:
            return state, events, updates
        t = to_s(data_time)
        cads = state.get("cadence")  # self.cadence(), in line
        cad = int(cads.get(str(cn), ctx.period_s(cn)) if cads else ctx.period_s(cn))
        windows = state.setdefault("windows", [])
        backfill = False
        for w in windows:  # usually none
            if (w["cn"] == cn and w["start"] <= t <= w["end"] and w["state"] != FILLED
                    and t not in w["received_times"]):
                # an answer to our request, not the logger's own (late) upload: it must not
                # move the cadence, or the first replayed record reads as "the awaited
                # record came" and closes a still-growing gap at one record
                backfill = backfill or w["state"] == REQUESTED
                w["received_times"].append(t)
                w["updated_at"] = now
                if len(w["received_times"]) >= w["expected"] and not w["growing"]:
                    w["state"] = FILLED
                updates.append(window_row(ctx.mn, w))
        if backfill:
            return state, events, updates
        nexts = state.setdefault("next_due", {})
        nxt = nexts.get(str(cn))
        if nxt is None or t >= nxt - cad // 2:
            if nxt is not None and t >= nxt + cad // 2:
                w = self._window(windows, cn, nxt, now)
                w["end"], w["growing"] = t - cad, False
                w["expected"] = (w["end"] - w["start"]) // cad + 1
                w["updated_at"] = now
                _settle_if_complete(w)
                updates.append(window_row(ctx.mn, w))
            else:
                for w in windows:  # the awaited record came: a growing gap stops at it
                    if w["cn"] == cn and w["growing"]:
                        w["growing"] = False
                        w["end"] = min(w["end"], t - cad)
                        if w["end"] < w["start"]:
                            w["state"], w["end"] = FILLED, w["start"]
                        w["expected"] = (w["end"] - w["start"]) // cad + 1
                        updates.append(window_row(ctx.mn, w))
            nexts[str(cn)] = t + cad
        return state, events, updates

    @staticmethod
    def _window(windows: list[MissingWindow], cn: int, start: int, now: int
                ) -> MissingWindow:
        for w in windows:
            if w["cn"] == cn and w["start"] == start:
                return w
        new: MissingWindow = {"cn": cn, "start": start, "end": start, "state": OPEN,
                              "expected": 1, "received_times": [], "requests": 0,
                              "detected_at": now, "updated_at": now, "growing": True}
        windows.append(new)
        return new

    # --- the clock --------------------------------------------------------------------

    def tick(self, state: MissingState, ctx: StationContext, now_dt: datetime
             ) -> tuple[MissingState, list[AlarmEvent], list[BackfillRequest],
                        list[dict[str, Any]]]:
        pol = self.policy
        now = self._seconds(now_dt)
        events: list[AlarmEvent] = []
        requests: list[BackfillRequest] = []
        updates: list[dict[str, Any]] = []
        seen = state.get("last_heard")
        if seen is None:
            return state, events, requests, updates  # never heard: nothing is expected yet
        offline_after = max(pol.offline_after_s, 3 * ctx.rtd_interval)
        if state.get("online") and now - seen > offline_after:
            state["online"] = False
            state["offline_since"] = seen
            # due: when the station should have been heard at the latest
            raised_of(state)["offline"] = [now, seen + int(offline_after)]
            events.append(self._event(ctx.mn, "offline", "open", seen, now,
                                      {"silent_s": now - seen}, "major",
                                      f"站点离线 station silent for {now - seen} s"))
        windows = state.setdefault("windows", [])
        cads = state.get("cadence")
        tolerance = pol.due_tolerance_s
        for cn_text, nxt in state.get("next_due", {}).items():
            # self.cadence() and _send_delay() in line (this runs per station and data
            # type on every tick); both keys are written as str(cn), so cn_text is one
            cn = int(cn_text)
            cad_s = cads.get(cn_text) if cads else None
            if cad_s is not None:
                cad = int(cad_s)
            elif cn == 2011:  # ctx.period_s(cn), in line
                cad = ctx.rtd_interval
            elif cn == 2051:
                cad = ctx.min_interval * 60
            else:
                cad = ctx.period_s(cn)
            due = nxt + (0 if cn == 2011 else cad) + tolerance.get(cn, cad)
            if now <= due:
                continue
            last = nxt + int((now - due) // cad) * cad
            w = self._window(windows, cn, nxt, now)
            if w["growing"] and w["end"] != last:
                w["end"], w["updated_at"] = last, now
                w["expected"] = (last - nxt) // cad + 1
                updates.append(window_row(ctx.mn, w))
        if state.get("missing_alarm") is None and (
                not windows or all(w["state"] in FINAL for w in windows)):
            # the usual tick (every gap settled, no alarm): nothing to plan, settle or
            # clear; only the rate limit's memory and the settled windows age, exactly as
            # _plan and the filter below would age them
            sent = state.get("requests_sent")
            if sent or sent is None:
                state["requests_sent"] = [t for t in sent or () if now - t < pol.rate_window_s]
            if windows:
                state["windows"] = [w for w in windows
                                    if now - w["updated_at"] < pol.keep_final_s]
            return state, events, requests, updates
        self._plan(state, ctx, now, requests, updates)
        self._alarm(state, ctx, now, events)
        state["windows"] = [w for w in windows if w["state"] not in FINAL
                            or now - w["updated_at"] < pol.keep_final_s]
        return state, events, requests, updates

    def _plan(self, state: MissingState, ctx: StationContext, now: int,
              requests: list[BackfillRequest], updates: list[dict[str, Any]]) -> None:
        pol = self.policy
        sent = [t for t in state.get("requests_sent", []) if now - t < pol.rate_window_s]
        for w in sorted(state.get("windows", []), key=lambda w: (w["start"], w["cn"])):
            if w["state"] in FINAL:
                continue
            cn = w["cn"]
            if cn not in pol.backfill_cns:
                # real-time data have no history to ask for: settle once the gap is closed
                if not w["growing"] and now - w["detected_at"] >= pol.grace_s:
                    w["state"] = PARTLY if w["received_times"] else GIVEN_UP
                    w["updated_at"] = now
                    updates.append(window_row(ctx.mn, w))
                continue
            if w["requests"] and now - w.get("last_request_at", 0) < pol.retry_after_s:
                continue  # the last request may still be answering
            if w["requests"] >= pol.max_attempts:
                w["state"] = PARTLY if w["received_times"] else GIVEN_UP
                w["updated_at"] = now
                updates.append(window_row(ctx.mn, w))
                continue
            if not state.get("online"):
                continue
            if w["growing"] and now - w["detected_at"] < pol.trailing_request_after_s:
                continue  # the logger may still send it on its own
            if len(sent) >= pol.rate_limit:
                break
            nq = state.get("request_count", 0) + 1
            state["request_count"] = nq
            qn = f"{stamp(from_s(now))}{nq % 1000:03d}"
            w["requests"] += 1
            w["last_request_at"], w["last_request_qn"] = now, qn
            w["state"], w["updated_at"] = REQUESTED, now
            sent.append(now)
            requests.append(BackfillRequest(ctx.mn, cn, from_s(w["start"]), from_s(w["end"]),
                                            w["requests"], qn, from_s(w["start"])))
            updates.append(window_row(ctx.mn, w))
        state["requests_sent"] = sent

    def _alarm(self, state: MissingState, ctx: StationContext, now: int,
               events: list[AlarmEvent]) -> None:
        pol = self.policy
        relevant = [w for w in state.get("windows", []) if w["cn"] in pol.alarm_cns]
        late = [w for w in relevant
                if w["state"] in (OPEN, REQUESTED) and now - w["detected_at"] >= pol.grace_s]
        alarm = state.get("missing_alarm")
        if late and alarm is None:
            first = min(w["start"] for w in late)
            alarm = state["missing_alarm"] = {"first_seen": first, "cn": late[0]["cn"]}
            # due: the data time of the first record that did not come
            raised_of(state)["missing"] = [now, first]
            events.append(self._event(
                ctx.mn, "missing", "open", first, max(w["end"] for w in late),
                {"windows": _summary(late)}, "major",
                f"数据缺失 {len(late)} gap(s) unfilled after {pol.grace_s:.0f} s",
                cn=late[0]["cn"]))
        elif alarm is not None and not any(
                w["state"] in (OPEN, REQUESTED, GIVEN_UP) for w in relevant):
            state["missing_alarm"] = None
            last = max((w["end"] for w in relevant), default=alarm["first_seen"])
            events.append(self._event(ctx.mn, "missing", "clear", alarm["first_seen"], last,
                                      {"windows": _summary(relevant)}, "major",
                                      "缺失数据已补齐 gaps filled", cn=alarm["cn"]))

    @staticmethod
    def _event(mn: str, rule: str, transition: str, first: int, last: int,
               evidence: dict[str, Any], severity: str, message: str, cn: int = 0
               ) -> AlarmEvent:
        return AlarmEvent(mn=mn, code="", rule=rule, transition=transition,  # type: ignore[arg-type]
                          severity=severity, first_seen=from_s(first),  # type: ignore[arg-type]
                          last_seen=from_s(last), cn=cn, message=message, evidence=evidence)


def _summary(windows: list[MissingWindow]) -> list[dict[str, Any]]:
    return [{"cn": w["cn"], "start": from_s(w["start"]).isoformat(),
             "end": from_s(w["end"]).isoformat(), "state": w["state"],
             "expected": w["expected"], "received": len(w["received_times"])}
            for w in windows]


def _settle_if_complete(w: MissingWindow) -> None:
    """A gap that stops growing after its back-fill already came in is filled now."""
    got = sum(w["start"] <= t <= w["end"] for t in w["received_times"])
    if w["state"] not in FINAL and got >= w["expected"]:
        w["state"] = FILLED
