"""How repeated failed logins are slowed down, then refused for a while.

Counted three ways (store/web_sessions.py keeps the counts): per account *and* address (one
email tried from one client), per address (every email from one client: spraying), and
everywhere (every failure). A few mistakes cost nothing; after that each further try must wait
twice as long as the last (1 s, 2 s, 4 s ...), and too many lock the account from that
address (or the address) for 15 minutes, even for the right password. An account is never
locked for everyone: a stranger's spaced guesses lock only the stranger's address out, so the
admin at the clinic still gets in. When failures everywhere pass UNDER_ATTACK, each address
gets one free mistake, not ten: a botnet of addresses gets a guess each, then waits. A quiet
spell of WINDOW forgives earlier failures. Pure: the state and `now` in.
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
UNDER_ATTACK = 100  # failures everywhere within WINDOW that make every address's limit strict


@dataclass(frozen=True)
class Policy:
    """Mistakes that cost nothing, and the failure that locks (None: never locks)."""

    free: int
    lock_after: int | None


BY_ACCOUNT = Policy(FREE_FAILURES, LOCK_AFTER)  # one email from one address
BY_ADDRESS = Policy(10, 30)  # every email from one address
BY_ADDRESS_UNDER_ATTACK = Policy(1, 10)
EVERYWHERE = Policy(UNDER_ATTACK, None)  # only counted: it never refuses anyone by itself


def address_policy(everywhere: Failures | None, now: datetime) -> Policy:
    """The per-address limit, strict while failures everywhere say an attack is under way."""
    if everywhere is None or _forgiven(everywhere, now) or everywhere.count < UNDER_ATTACK:
        return BY_ADDRESS
    return BY_ADDRESS_UNDER_ATTACK


@dataclass(frozen=True)
class Failures:
    """The failed attempts for one email since it was last forgiven."""

    count: int
    last_at: datetime
    locked_until: datetime | None = None


def wait_before_next(
    failures: Failures | None, now: datetime, policy: Policy = BY_ACCOUNT
) -> timedelta | None:
    """How long the next attempt must wait; None when it may be made now."""
    if failures is None or _forgiven(failures, now):
        return None
    if failures.locked_until is not None:
        return failures.locked_until - now
    if failures.count < policy.free or policy.lock_after is None:
        return None
    delay = min(timedelta(seconds=2 ** min(failures.count - policy.free, 16)), MAX_DELAY)
    ready_at = failures.last_at + delay
    return ready_at - now if now < ready_at else None


def after_failure(
    failures: Failures | None, now: datetime, policy: Policy = BY_ACCOUNT
) -> Failures:
    """The state once one more attempt has failed at `now`."""
    count = 1 if failures is None or _forgiven(failures, now) else failures.count + 1
    lock = policy.lock_after is not None and count >= policy.lock_after
    locked_until = now + LOCK_FOR if lock else None
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
