"""What detectors see and say: readings and station activity in, alarm events out.

State lives outside the detectors, in plain JSON-serialisable dicts (their shape and
versions: ``state.py``), so that a stream worker can persist each station's state in a
changelog and a restarted worker resumes where it stopped. A detector is given the state
of one station and changes it in place, returning its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pipeline.detect import names

#: what an alarm event does to its episode
Transition = Literal["open", "update", "clear"]
Severity = Literal["info", "warning", "major", "critical"]

# not frozen: a frozen dataclass's __init__ sets each field through object.__setattr__,
# which made building the readings of a batch cost more than detecting on them. Treat it
# as read-only all the same.
@dataclass(slots=True)
class Reading:
    """One pollutant of one frame: a row of ``hj212.decode_batch``."""

    mn: str
    st: str
    cn: int  # 2011 real-time, 2051 minute, 2061 hourly, 2031 daily, ...
    code: str  # 2017 pollutant code (2005 codes mapped), e.g. "w01018"
    data_time: datetime  # the standard's local clock (Asia/Shanghai), naive
    receive_time: datetime  # when the gateway received it, same clock, naive
    #: numeric fields present: "rtd", "min", "avg", "max", "cou", "zs_rtd", ... (snake case,
    #: as hj212.NUMERIC_SUFFIXES); absent fields are left out, never NaN
    values: dict[str, float]
    flag: str | None = None  # instrument data flag (N, F, M, S, D, C, T, B), None if absent
    eflag: str | None = None
    resent: bool = False  # 2025 RF=1 or a back-fill reply


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """One step of an alarm episode, keyed by (mn, code, rule).

    ``open`` starts an episode, ``update`` adds evidence to the open one (never a new alarm),
    ``clear`` ends it. ``code`` is "" for station-level rules (offline, missing data).
    """

    mn: str
    code: str
    rule: str  # a name of ``pipeline.detect.names.VOCABULARY`` (its class: names.rule_class)
    transition: Transition
    severity: Severity
    first_seen: datetime  # data time the episode began
    last_seen: datetime  # data time of the latest evidence
    cn: int = 0  # data type the evidence came from (0 for station-level)
    message: str = ""  # one sentence for the duty centre, Chinese first is welcome
    evidence: dict[str, Any] = field(default_factory=dict)  # values, limits, counts


@dataclass(frozen=True, slots=True)
class AlarmStep:
    """An event with its place in its alarm, from the detector's episode record: what the
    ``alarms`` row and the ``hj212.alarms`` message carry besides the event itself."""

    event: AlarmEvent
    #: the first_seen the opening event gave; with (mn, code, rule) the alarm's id, so it
    #: stays put when later evidence moves the episode's first_seen earlier
    opened_at: datetime
    #: 1 for the open, one more for each update and for the clear (``alarms.occurrences``)
    number: int
    #: wall time (the standard's local clock, naive) the alarm was raised: the receive time
    #: of the reading whose observation opened it, or the clock tick that found a station
    #: offline or data missing; None when the producer does not know (older states)
    raised_at: datetime | None = None
    #: data time the alarm was raised for: that reading's data time, or for offline and
    #: missing the due time that was missed; None when unknown
    raised_data_time: datetime | None = None
    #: data type (CN) of the observation that opened the alarm; 0: unknown (then the
    #: event's ``cn``, the latest evidence's, is the best guess)
    opened_cn: int = 0

    @property
    def evidence_began(self) -> datetime:
        """Data time the evidence began (the episode's first_seen: late evidence may move
        it before ``opened_at``, which stays put as part of the alarm's id)."""
        return self.event.first_seen

    @property
    def rule_class(self) -> str:
        """The rule's class in the vocabulary (value, time, station, clue; '' unknown)."""
        return names.rule_class(self.event.rule) or ""
