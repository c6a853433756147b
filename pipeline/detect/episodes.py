"""Raw rule hits become alarm episodes: one per (mn, code, rule), opened, updated, cleared.

Rules report ``Observation``s: a hit (evidence of the anomaly) or a clean look at the same
series. Evidence for an open episode updates it instead of raising a new alarm, and at
most once per ``update_interval_s`` of data time (or sooner when the severity rises), so
the duty feed is not flooded by a fault that lasts hours. An episode clears after
``clear_after[cn]`` clean observations in a row in every data type that carried its
evidence: a constant streak seen in real-time and minute data is not over until both are
clean, but a data type that never showed it does not hold the alarm open.

State: ``{"<code>|<rule>": EpisodeRecord}`` (``state.py``), one record per open episode.
The record is also its alarm's: it counts the events sent (the open, each update, the
clear) and keeps the opening's first_seen, data time, data type and wall time (when the
alarm was raised), which the alarm row and message carry on every step (``fold_alarms``
hands them out with each event as an ``AlarmStep``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.detect.model import AlarmEvent, AlarmStep, Severity, Transition
from pipeline.detect.rules import SEVERITIES, Rules, default_rules
from pipeline.detect.state import EpisodeRecord
from pipeline.timebase import from_s, to_s

#: open episodes of a station, "<code>|<rule>" -> record
EpisodesState = dict[str, EpisodeRecord]


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

    def fold(self, state: EpisodesState, observations: Iterable[Observation], st: str = ""
             ) -> tuple[EpisodesState, list[AlarmEvent]]:
        """The events of ``observations``; ``fold_alarms`` gives them with their steps."""
        return state, [step.event for step in self.fold_alarms(state, observations, st)]

    def fold_alarms(self, state: EpisodesState, observations: Iterable[Observation],
                    st: str = "", *, received: datetime | None = None) -> list[AlarmStep]:
        """The alarm steps of ``observations``. ``received`` is the wall time (receive
        time, the standard's clock) of the frame they came from: an episode opened here
        records it as the time its alarm was raised, and every later step of the alarm
        carries it (None: not known, as for a caller replaying data without times)."""
        steps: list[AlarmStep] = []
        raised = to_s(received) if received is not None else None
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
                    ep = state[key] = {
                        "first_seen": first, "last_seen": at, "opening_hit_at": at,
                        "severity": ob.severity, "hits": 1, "cn": ob.cn,
                        "clean_runs": {str(ob.cn): 0}, "evidence": ob.evidence,
                        "message": ob.message, "reported_at": at,
                        "alarm_opened_at": first, "alarm_steps": 0,
                        "opened_cn": ob.cn}
                    if raised is not None:
                        ep["raised_at"] = raised
                    steps.append(self._step(ob.mn, ob.code, ob.rule, "open", ep))
                    continue
                escalated = _rank(ob.severity) > _rank(ep["severity"])
                ep["first_seen"] = min(ep["first_seen"], first)
                ep["last_seen"] = max(ep["last_seen"], at)
                ep["hits"] += 1
                ep["cn"] = ob.cn
                ep["clean_runs"][str(ob.cn)] = 0
                ep["evidence"] = ob.evidence
                ep["message"] = ob.message
                if escalated:
                    ep["severity"] = ob.severity
                if escalated or at - ep["reported_at"] >= th.update_interval_s:
                    ep["reported_at"] = at
                    steps.append(self._step(ob.mn, ob.code, ob.rule, "update", ep))
            elif ep is not None:
                runs = ep["clean_runs"]
                name = str(ob.cn)
                if name not in runs:
                    continue  # this data type never showed the anomaly: it says nothing
                runs[name] += 1
                if all(n >= th.clear_after.get(int(c), 1) for c, n in runs.items()):
                    del state[key]
                    steps.append(self._step(ob.mn, ob.code, ob.rule, "clear", ep, at))
        return steps

    def _step(self, mn: str, code: str, rule: str, transition: Transition,
              ep: EpisodeRecord, cleared_at: int | None = None) -> AlarmStep:
        ep["alarm_steps"] += 1
        evidence = {**ep["evidence"], "occurrences": ep["hits"],
                    "rules_version": self.rules.version}
        if cleared_at is not None:
            evidence["cleared_at"] = from_s(cleared_at).isoformat()
        event = AlarmEvent(mn=mn, code=code, rule=rule, transition=transition,
                           severity=ep["severity"],  # type: ignore[arg-type]
                           first_seen=from_s(ep["first_seen"]),
                           last_seen=from_s(ep["last_seen"]), cn=int(ep["cn"]),
                           message=ep["message"], evidence=evidence)
        raised = ep.get("raised_at")
        return AlarmStep(event, from_s(ep["alarm_opened_at"]), ep["alarm_steps"],
                         raised_at=from_s(raised) if raised is not None else None,
                         raised_data_time=from_s(ep["opening_hit_at"]),
                         opened_cn=int(ep.get("opened_cn", 0)))
