"""One poll's worth of changes answered at once: pure, given the records' histories and
the replies already written (the writer, pipeline/ledger/writer.py, reads both and writes
what this returns).

Why a replay gives the same answer: a change is answered from, in this order,
1. its reply already in ``ledger_replies`` (the writer crashed after writing it, before
   committing the offset): nothing is written again;
2. its own event already in the record's history (crashed after appending it, before
   the reply): the reply is ``appended`` with that event's seq, written now;
3. otherwise ``rules.decide`` on the history so far, which includes the changes before
   it in the same batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.ledger.codec import record_key
from pipeline.ledger.model import APPENDED, REFUSED, Change, Check, Event, Reply
from pipeline.ledger.rules import decide

#: a record: (stream, record_id)
RecordKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Bad:
    """A message that is not a readable change but names its request id (and, where it
    could be read, its record): answered ``refused`` so its submitter is not left waiting."""

    request_id: str
    stream: str
    record_id: str
    reason: str


@dataclass(slots=True)
class Plan:
    #: events to append, in order
    events: list[Event] = field(default_factory=list)
    #: replies to write: (reply, stream, record_id, answered at)
    replies: list[tuple[Reply, str, str, datetime]] = field(default_factory=list)
    #: the answer to every item, in order
    answers: list[Reply] = field(default_factory=list)
    #: the histories of the records this batch appended to, after it (the writer adds
    #: those it read and did not change, for its cache)
    histories: dict[RecordKey, list[Event]] = field(default_factory=dict)
    #: how many answers were replays (1. or 2. above)
    replayed: int = 0


def plan(items: Sequence[Change | Bad], histories: Mapping[RecordKey, Sequence[Event]],
         answered: Mapping[str, Reply], checks: Mapping[str, Check], now: datetime) -> Plan:
    """Answer ``items`` in order. ``histories`` must hold every record of the changes
    (empty for a record with no event); it is not modified."""
    out = Plan()
    seen: dict[str, Reply] = dict(answered)
    for item in items:
        if item.request_id in seen:  # 1., or the same request twice in the batch
            out.answers.append(seen[item.request_id])
            out.replayed += 1
            continue
        if isinstance(item, Bad):
            reply = Reply(item.request_id, REFUSED, 0, item.reason)
            out.replies.append((reply, item.stream, item.record_id, now))
            out.answers.append(reply)
            seen[item.request_id] = reply
            continue
        key = (item.stream, item.record_id)
        history = out.histories.get(key)
        if history is None:
            try:
                history = list(histories[key])
            except KeyError:
                raise KeyError(f"plan: no history given for record "
                               f"{record_key(*key)!r}; the caller must load it") from None
        own = next((e for e in history if e.request_id == item.request_id), None)
        if own is not None:  # 2.
            reply = Reply(item.request_id, APPENDED, own.seq)
            out.replayed += 1
        else:  # 3.
            reply = decide(history, item, checks.get(item.stream))
            if reply.outcome == APPENDED:
                event = Event(stream=item.stream, record_id=item.record_id, seq=reply.seq,
                              request_id=item.request_id, kind=item.kind, actor=item.actor,
                              at=now, payload=item.payload, source=item.source)
                history.append(event)
                out.histories[key] = history
                out.events.append(event)
        out.replies.append((reply, item.stream, item.record_id, now))
        out.answers.append(reply)
        seen[item.request_id] = reply
    return out
