"""Findings into alarm episodes, with the clue alarms already written as the memory.

A clue alarm is keyed like every alarm by (mn, code, rule) and its opening time:
- a finding with no open alarm for its key opens one, ``opened_at`` = the data time its
  evidence began (the start of the first hour or day showing it);
- a finding for a key with an open alarm updates it (one more occurrence, ``last_seen``
  = the start of the period judged);
- a key judged in a later period with no finding clears its open alarm (``cleared_at`` =
  the start of that period). A station with no data in a period clears nothing: absent
  data are no evidence of anything (the ``missing`` rule speaks of them);
- a period already covered by an alarm (its ``last_seen`` at or past the period, or a
  cleared alarm spanning it) writes nothing: sweeping a period again after a restart, or
  an explicit range sweep over periods swept before, repeats no alarm.

``ClueBook`` holds the open and recent clue alarms (read from the ``alarms`` table at the
start of a sweep) and keeps them current as it makes steps, so one sweep over many
periods needs no reading back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pipeline.clues.model import Finding, Judgement
from pipeline.clues.settings import ClueRule
from pipeline.detect.model import AlarmEvent, AlarmStep, Severity


@dataclass(frozen=True, slots=True)
class KnownAlarm:
    """A clue alarm as the ``alarms`` table holds it (its newest version)."""

    mn: str
    code: str
    rule: str
    state: str  # open, cleared
    severity: Severity
    cn: int
    opened_at: datetime
    last_seen: datetime
    occurrences: int
    message: str = ""
    evidence: dict[str, Any] | None = None
    #: when the alarm was raised: the sweep's wall time, and the data time (start) and
    #: data type of the period judged (2061 an hour, 2031 a day); kept on every step
    raised_at: datetime | None = None
    raised_data_time: datetime | None = None
    opened_cn: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.mn, self.code, self.rule)


class ClueBook:
    def __init__(self, known: Iterable[KnownAlarm] = ()) -> None:
        self.open: dict[tuple[str, str, str], KnownAlarm] = {}
        #: spans (opened_at, last_seen) of cleared alarms, per key
        self.closed: dict[tuple[str, str, str], list[tuple[datetime, datetime]]] = {}
        for alarm in known:
            if alarm.state == "open":
                held = self.open.get(alarm.key)
                if held is None or alarm.opened_at > held.opened_at:
                    self.open[alarm.key] = alarm
            else:
                self.closed.setdefault(alarm.key, []).append((alarm.opened_at,
                                                              alarm.last_seen))

    def _covered(self, key: tuple[str, str, str], at: datetime) -> bool:
        return any(start <= at <= end for start, end in self.closed.get(key, ()))

    def apply(self, judgement: Judgement, period: datetime, rule: ClueRule, *,
              period_cn: int = 2061, now: datetime | None = None) -> list[AlarmStep]:
        """The alarm steps of one period's judgement (``period``: its start; ``period_cn``
        the data type whose period it is: 2061 an hour, 2031 a day; ``now``: the wall
        time of the sweep, the ``raised_at`` of the alarms it opens)."""
        steps: list[AlarmStep] = []
        found: set[tuple[str, str, str]] = set()
        for f in judgement.findings:
            key = (f.mn, f.code, f.rule)
            found.add(key)
            held = self.open.get(key)
            if held is not None:
                if f.at <= held.last_seen:
                    continue  # swept before
                steps.append(self._step(f, held, "update", held.occurrences + 1))
                continue
            if self._covered(key, f.at):
                continue
            opened = KnownAlarm(f.mn, f.code, f.rule, "open", rule.severity, f.cn, f.began,
                                f.at, 0, f.message, f.evidence, raised_at=now,
                                raised_data_time=f.at, opened_cn=period_cn)
            steps.append(self._step(f, opened, "open", 1))
        for (mn, code) in sorted(judgement.judged):
            key = (mn, code, judgement.rule)
            held = self.open.get(key)
            if key in found or held is None or period <= held.last_seen:
                continue
            event = AlarmEvent(
                mn=mn, code=code, rule=judgement.rule, transition="clear",
                severity=held.severity, first_seen=held.opened_at, last_seen=period,
                cn=held.cn, message=held.message,
                evidence={**(held.evidence or {}), "cleared_by": period.isoformat(sep=" ")})
            steps.append(AlarmStep(event=event, opened_at=held.opened_at,
                                   number=held.occurrences + 1, raised_at=held.raised_at,
                                   raised_data_time=held.raised_data_time,
                                   opened_cn=held.opened_cn))
            del self.open[key]
            self.closed.setdefault(key, []).append((held.opened_at, period))
        return steps

    def _step(self, f: Finding, held: KnownAlarm, transition: str, number: int) -> AlarmStep:
        event = AlarmEvent(
            mn=f.mn, code=f.code, rule=f.rule,
            transition="open" if transition == "open" else "update",
            severity=held.severity, first_seen=held.opened_at, last_seen=f.at, cn=f.cn,
            message=f.message, evidence={"class": "clue", **f.evidence})
        self.open[held.key] = replace(held, last_seen=f.at, occurrences=number, cn=f.cn,
                                      message=f.message, evidence=event.evidence)
        return AlarmStep(event=event, opened_at=held.opened_at, number=number,
                         raised_at=held.raised_at, raised_data_time=held.raised_data_time,
                         opened_cn=held.opened_cn)
