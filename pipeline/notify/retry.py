"""When to try a failed delivery again, and what a failure means. Pure.

Back-off: exponential from ``base`` doubling per attempt, capped, with "equal jitter"
(half the delay fixed, half random) so that many notifications failing together on one
receiver do not come back in lockstep, yet none retries sooner than half its delay.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

#: robot errcodes that mean "too many messages, wait": WeCom 45009 (api freq out of
#: limit), DingTalk 130101 (send too fast, exceed 20 times per minute) and 90030
#: (webhook over limit)
RATE_LIMIT_ERRCODES: Final = frozenset({45009, 130101, 90030})
#: robot errcodes that may pass on their own (a busy system): retried
TRANSIENT_ERRCODES: Final = frozenset({-1, 45033})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    ok: bool
    retry: bool = False  # worth another attempt
    rate_limited: bool = False  # the robot asked us to slow down
    error: str = ""  # for the delivery log: never a secret


SENT_OK: Final = Outcome(ok=True)


def backoff_s(attempt: int, *, base: float, cap: float, rand: float | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, ...)."""
    full = float(min(cap, base * 2.0 ** max(0, attempt - 1)))
    r = random.random() if rand is None else rand
    return full / 2 + r * full / 2


def classify_http(status: int, body: str) -> Outcome:
    """An HTTP answer without a robot errcode: 2xx sent; 408, 429 and 5xx worth
    retrying; any other 4xx permanent (a bad key or URL does not heal by waiting)."""
    if 200 <= status < 300:
        return SENT_OK
    text = f"HTTP {status}: {body.strip()[:200]}"
    if status == 429:
        return Outcome(ok=False, retry=True, rate_limited=True, error=text)
    if status == 408 or status >= 500:
        return Outcome(ok=False, retry=True, error=text)
    return Outcome(ok=False, retry=False, error=text)


def classify_robot(errcode: int, errmsg: str) -> Outcome:
    """A WeCom or DingTalk answer (HTTP 200 with ``errcode``)."""
    if errcode == 0:
        return SENT_OK
    text = f"errcode {errcode}: {errmsg.strip()[:200]}"
    if errcode in RATE_LIMIT_ERRCODES:
        return Outcome(ok=False, retry=True, rate_limited=True, error=text)
    if errcode in TRANSIENT_ERRCODES:
        return Outcome(ok=False, retry=True, error=text)
    return Outcome(ok=False, retry=False, error=text)
