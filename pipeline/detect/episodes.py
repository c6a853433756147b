"""Raw rule hits become alarm episodes: one per (mn, code, rule), opened, updated, cleared.

Rules report ``Observation``s: a hit (evidence of the anomaly) or a clean look at the same
series. Evidence for an open episode updates it instead of raising a new alarm, and at
most once per ``update_interval_s`` of data time (or sooner when the severity rises), so
the duty feed is not flooded by a fault that lasts hours. An episode clears after
``clear_after[cn]`` clean observations in a row in every data type that carried its
evidence: a constant streak seen in real-time and minute data is not over until both are
clean, but a data type that never showed it does not hold the alarm open.

State (JSON): ``{"<code>|<rule>": {first, last, opened, sev, n, cn, cns: {cn: clean},
ev, msg, upd}}`` with times in whole seconds (``times.to_s``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.detect.model import AlarmEvent, Severity, State
from pipeline.detect.rules import SEVERITIES, Rules, default_rules
from pipeline.timebase import from_s, to_s


@dataclass(frozen=True, slots=True)
class Observation:
    """One rule's look at one series: ``hit`` (evidence) or clean."""

    mn: str
    code: str  # "" for station-level rules
    rule: str
    cn: int
    at: datetime  # data time of this observation
    hit: bool
    severity: Severity = "warning"
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    #: data time the evidence began (a streak's first sample); ``at`` when None
    first: datetime | None = None


def _rank(sev: str) -> int:
    return SEVERITIES.index(sev) if sev in SEVERITIES else 1


class Episodes:
    """Folds observations of one station into alarm events; see the module docstring."""

    def __init__(self, rules: Rules | None = None) -> None:
        self.rules = rules or default_rules()

    def fold(self, state: State, observations: Iterable[Observation], st: str = ""
             ) -> tuple[State, list[AlarmEvent]]:
        events: list[AlarmEvent] = []
        for ob in observations:
            key = f"{ob.code}|{ob.rule}"
            ep = state.get(key)
            if ep is None and not ob.hit:
                continue  # the common case: a clean look at a series with nothing open
            th = self.rules.for_(ob.mn, st, ob.code)
            at = to_s(ob.at)
            if ob.hit:
                first = to_s(ob.first) if ob.first is not None else at
                if ep is None:
                    ep = state[key] = {"first": first, "last": at, "opened": at,
                                       "sev": ob.severity, "n": 1, "cn": ob.cn,
                                       "cns": {str(ob.cn): 0}, "ev": ob.evidence,
                                       "msg": ob.message, "upd": at}
                    events.append(self._event(ob.mn, ob.code, ob.rule, "open", ep))
                    continue
                escalated = _rank(ob.severity) > _rank(ep["sev"])
                ep["first"] = min(ep["first"], first)
                ep["last"] = max(ep["last"], at)
                ep["n"] += 1
                ep["cn"] = ob.cn
                ep["cns"][str(ob.cn)] = 0
                ep["ev"] = ob.evidence
                ep["msg"] = ob.message
                if escalated:
                    ep["sev"] = ob.severity
                if escalated or at - ep["upd"] >= th.update_interval_s:
                    ep["upd"] = at
                    events.append(self._event(ob.mn, ob.code, ob.rule, "update", ep))
            elif ep is not None:
                cns: dict[str, int] = ep["cns"]
                name = str(ob.cn)
                if name not in cns:
                    continue  # this data type never showed the anomaly: it says nothing
                cns[name] += 1
                if all(n >= th.clear_after.get(int(c), 1) for c, n in cns.items()):
                    del state[key]
                    ep["clear_at"] = at
                    events.append(self._event(ob.mn, ob.code, ob.rule, "clear", ep))
        return state, events

    def clear(self, state: State, mn: str, code: str, rule: str, at: datetime,
              evidence: dict[str, Any] | None = None) -> list[AlarmEvent]:
        """End an episode directly (station-level rules that know when they are over)."""
        ep = state.pop(f"{code}|{rule}", None)
        if ep is None:
            return []
        if evidence is not None:
            ep["ev"] = evidence
        ep["clear_at"] = to_s(at)
        return [self._event(mn, code, rule, "clear", ep)]

    @staticmethod
    def is_open(state: State, code: str, rule: str) -> bool:
        return f"{code}|{rule}" in state

    def _event(self, mn: str, code: str, rule: str, transition: str,
               ep: dict[str, Any]) -> AlarmEvent:
        evidence = {**ep["ev"], "occurrences": ep["n"], "rules_version": self.rules.version}
        if transition == "clear":
            evidence["cleared_at"] = from_s(ep["clear_at"]).isoformat()
        return AlarmEvent(mn=mn, code=code, rule=rule, transition=transition,  # type: ignore[arg-type]
                          severity=ep["sev"], first_seen=from_s(ep["first"]),
                          last_seen=from_s(ep["last"]), cn=int(ep["cn"]),
                          message=ep["msg"], evidence=evidence)
