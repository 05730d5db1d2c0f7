"""How repeated failed logins for one email are slowed down, then refused for a while.

A few mistakes cost nothing; after that each further try must wait twice as long as the last
(1 s, 2 s, 4 s ...), and ten failures lock the email for 15 minutes, even for the right
password. A quiet spell of WINDOW forgives earlier failures. Pure: the state and `now` in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

FREE_FAILURES = 3
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)
WINDOW = timedelta(minutes=15)
MAX_DELAY = timedelta(seconds=60)


@dataclass(frozen=True)
class Failures:
    """The failed attempts for one email since it was last forgiven."""

    count: int
    last_at: datetime
    locked_until: datetime | None = None


def wait_before_next(failures: Failures | None, now: datetime) -> timedelta | None:
    """How long the next attempt must wait; None when it may be made now."""
    if failures is None or _forgiven(failures, now):
        return None
    if failures.locked_until is not None:
        return failures.locked_until - now
    if failures.count < FREE_FAILURES:
        return None
    delay = min(timedelta(seconds=2 ** (failures.count - FREE_FAILURES)), MAX_DELAY)
    ready_at = failures.last_at + delay
    return ready_at - now if now < ready_at else None


def after_failure(failures: Failures | None, now: datetime) -> Failures:
    """The state once one more attempt has failed at `now`."""
    count = 1 if failures is None or _forgiven(failures, now) else failures.count + 1
    locked_until = now + LOCK_FOR if count >= LOCK_AFTER else None
    return Failures(count, now, locked_until)


def _forgiven(failures: Failures, now: datetime) -> bool:
    if failures.locked_until is not None:
        return now >= failures.locked_until
    return now - failures.last_at >= WINDOW


def wait_words(wait: timedelta) -> str:
    """'15 minutes', '8 seconds': rounded up, so the person never comes back too early."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
