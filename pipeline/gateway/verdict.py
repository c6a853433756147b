"""What the gateway does with one frame or framing error: the verdict.

``judge(item, directory, policy, source_blocked)`` is a pure function: no I/O, no clock,
no counters. The session applies what it returns (spool, answer, counters, log, the
source's wrong-password count). The common verdicts are preallocated constants, so the
accept path allocates nothing here.

In the order ``judge`` tries them:

==============================  ===========  ========================  ==================
case                            action       counter (frames outcome)  answer
==============================  ===========  ========================  ==================
source IP blocked (auth_guard)  reject       rejected_source_blocked   none
framing, CRC, field error       reject       rejected_<kind>           9011, error's QnRtn
CRC of a variant the station    accept,      accepted (and             9014/9013 as due
is allowed (registry column     warning as   crc_variant_frames
crc_variants)                   the reason   per MN and variant)
MN not in the registry          reject       rejected_unknown_mn       9011 QnRtn=4 (a)
... policy quarantine           quarantine   quarantined               9014/9013 as due
wrong PW                        reject       rejected_wrong_pw         9011 QnRtn=3 (a)
otherwise                       accept       accepted                  9014/9013 as due
==============================  ===========  ========================  ==================

(a) only where the sender expects an answer (Flag A=1, or a notification). A wrong PW also
counts against the source IP (``Verdict.auth_failure``). A CRC that matches a known variant
the station is not allowed is rejected as a CRC error whose reason says how to allow it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

import hj212

from pipeline.config import Settings, UnknownMnPolicy
from pipeline.gateway import envelope
from pipeline.gateway.auth import StationDirectory, StationEntry


class Action(enum.IntEnum):
    """What becomes of the frame; the value is its envelope kind."""

    ACCEPT = envelope.ACCEPTED
    REJECT = envelope.REJECTED
    QUARANTINE = envelope.QUARANTINED


class Answer(enum.Enum):
    """How the session builds the answer (only when it answers at all)."""

    NONE = "none"  # nothing is written back
    NORMAL = "normal"  # hj212.answer(frame): 9014 / 9013 where due
    QN_RTN = "qn_rtn"  # hj212.answer(frame, qn_rtn=...): 9011, where an answer is due
    ERROR = "error"  # hj212.answer_error(error): 9011 with the error's QnRtn


#: log events a verdict asks for
LOG_REJECT = "frame.rejected"
LOG_CRC_VARIANT = "frame.crc_variant"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    #: the frames counter's outcome label (metrics.frames[(cn, outcome)])
    outcome: str
    answer: Answer
    #: QnRtn of a 9011 answer (Answer.QN_RTN)
    qn_rtn: int | None = None
    #: stored in the envelope: why a frame was rejected or quarantined, or the warning an
    #: accepted frame carries ("" for a plain accept)
    reason: str = ""
    log_event: str | None = None
    #: a wrong password: counts against the source IP
    auth_failure: bool = False
    #: a known CRC variant the frame's CRC matched (accepted: allowed; rejected: not)
    crc_variant: str | None = None
    #: what to answer and key by when it is not the item judged: the frame (or its real
    #: error) read again accepting the station's CRC variant
    reread: hj212.Frame | hj212.FrameError | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    unknown_mn: UnknownMnPolicy = "reject"
    strict: bool = False

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(unknown_mn=settings.gateway.unknown_mn, strict=settings.strict)


ACCEPT = Verdict(Action.ACCEPT, "accepted", Answer.NORMAL)
SOURCE_BLOCKED = Verdict(
    Action.REJECT, "rejected_source_blocked", Answer.NONE,
    reason="source_blocked: this address sent too many wrong passwords and is refused for "
           "gateway.auth_block_s; fix the logger's PW (or the registry's)",
    log_event=LOG_REJECT)
_ERROR_OUTCOMES = {kind: "rejected_" + kind for kind in hj212.ERROR_KINDS}


_FrameError = hj212.FrameError


def judge(item: hj212.Frame | hj212.FrameError, directory: StationDirectory, policy: Policy,
          source_blocked: bool = False) -> Verdict:
    """The verdict on one item of ``Framer.feed``."""
    if source_blocked:
        return SOURCE_BLOCKED
    if isinstance(item, _FrameError):
        return _judge_error(item, directory, policy)
    # the accept path, written out: it runs for nearly every frame
    station = directory.lookup(item.mn or "")
    if station is not None and station.pw == item.pw:
        return ACCEPT
    return _judge_frame(item, station, policy)


def _judge_frame(frame: hj212.Frame, station: StationEntry | None, policy: Policy) -> Verdict:
    if station is None:
        mn = frame.mn or ""
        if policy.unknown_mn == "quarantine":
            return Verdict(Action.QUARANTINE, "quarantined", Answer.NORMAL,
                           reason=f"quarantine: MN {mn!r} is not in the station registry",
                           log_event=LOG_REJECT)
        return Verdict(Action.REJECT, "rejected_unknown_mn", Answer.QN_RTN, qn_rtn=4,
                       reason=f"unknown_mn: MN {mn!r} is not in the station registry; "
                              "import the station or fix the logger's MN",
                       log_event=LOG_REJECT)
    if station.pw != frame.pw:
        return Verdict(Action.REJECT, "rejected_wrong_pw", Answer.QN_RTN, qn_rtn=3,
                       reason=f"wrong_pw: PW {frame.pw!r} does not match the registry's for "
                              f"MN {station.mn}; set the logger's PW or update the registry",
                       log_event=LOG_REJECT, auth_failure=True)
    return ACCEPT


def _judge_error(err: hj212.FrameError, directory: StationDirectory, policy: Policy
                 ) -> Verdict:
    # the codec names the known CRC variant a bad CRC matches (FrameError.crc_variant);
    # a codec built before that has no such attribute, and this branch stays inert
    variant: str | None = getattr(err, "crc_variant", None) if err.kind == "crc" else None
    if not variant:
        return _error_verdict(err)
    station = directory.lookup(err.mn or "")
    if station is None or variant not in station.crc_variants:
        return _error_verdict(err, variant, err.mn or "")
    again = parse_with_crc_variant(err.raw, variant, strict=policy.strict)
    if again is None:
        return _error_verdict(err)
    if isinstance(again, hj212.FrameError):
        # the CRC passes under the variant, but something else is wrong with the frame
        return replace(_error_verdict(again), reread=again)
    verdict = _judge_frame(again, station if again.mn == station.mn
                           else directory.lookup(again.mn or ""), policy)
    if verdict is not ACCEPT:
        return replace(verdict, reread=again)
    warning = next((w for w in again.warnings if w.startswith("crc_variant")),
                   f"crc_variant: the CRC is {variant}'s, not the standard's")
    return Verdict(Action.ACCEPT, "accepted", Answer.NORMAL, reason=warning,
                   log_event=LOG_CRC_VARIANT, crc_variant=variant, reread=again)


def _error_verdict(err: hj212.FrameError, variant: str | None = None, mn: str = ""
                   ) -> Verdict:
    reason = f"{err.kind}: {err.message}"
    if variant:
        reason += (f"; the CRC is the {variant} variant's: fix the logger, or allow it for "
                   f"MN {mn!r} with crc_variants={variant} in the station registry")
    return Verdict(Action.REJECT, _ERROR_OUTCOMES.get(err.kind) or "rejected_" + err.kind,
                   Answer.ERROR, reason=reason, log_event=LOG_REJECT, crc_variant=variant)


def answer_to(verdict: Verdict, subject: hj212.Frame | hj212.FrameError) -> bytes | None:
    """The answer ``verdict`` names for ``subject`` (the item judged, or ``verdict.reread``),
    or None when none is due."""
    how = verdict.answer
    if how is Answer.ERROR and isinstance(subject, hj212.FrameError):
        return hj212.answer_error(subject)
    if isinstance(subject, hj212.Frame):
        if how is Answer.NORMAL:
            return hj212.answer(subject)
        # an auth failure is answered only where the logger expects an answer at all
        if how is Answer.QN_RTN and verdict.qn_rtn is not None and (
                subject.needs_ack or hj212.answer(subject) is not None):
            return hj212.answer(subject, qn_rtn=verdict.qn_rtn)
    return None


def parse_with_crc_variant(raw: bytes, variant: str, *, strict: bool
                           ) -> hj212.Frame | hj212.FrameError | None:
    """``raw`` parsed accepting ``variant``'s CRC: the frame, or the error it still has;
    None when the codec cannot parse with CRC variants (built before they existed)."""
    parse: Any = hj212.parse  # crc_variants is newer than some builds' stubs
    try:
        frame: hj212.Frame = parse(raw, strict=strict, crc_variants=(variant,))
    except hj212.FrameError as exc:
        return exc
    except TypeError:
        return None
    return frame
