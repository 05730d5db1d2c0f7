"""Keep a provider under its rate (for SMS: segments per second), in one process or across all.

Both limiters book tokens first and sleep off their own debt afterwards, so concurrent senders
queue in arrival order, no lock is held while waiting, and a request larger than the burst
still goes through (it waits for the whole amount). Tokens are paid *before* the send: in any
one-second window at most `rate + burst` tokens go out, plus at most one message's segments
when a single message is larger than the burst. The burst is a twentieth of a second's worth,
so the grants of a window carry at most 1.05 × the rate, and the rest of the 1.1 × promised at
the provider is left for the moment between a grant and its request leaving, which a busy
machine stretches (a limiter that started with a full second's worth let twice the rate
through its first second).

- `TokenBucket` keeps the rate within one process (SQLite: one daemon).
- `SharedBucket` keeps it across every worker on one PostgreSQL: each reservation is one
  atomic upsert on a row of `rate_bucket`, timed by the database's clock
  (`store/rate_limits.py`), so adding workers never adds throughput past the account's rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from reminders.rules.channel_kinds import ChannelKind
from reminders.settings import Settings
from reminders.store.db import DatabaseError, Engine
from reminders.store.rate_limits import reserve

BURST_SHARE = 0.05  # of one second's tokens: the most a window's grants may carry over the rate
BLOCK_SHARE = 0.02  # of one second's tokens: what a worker books from the shared row at a time
SMS_BUCKET = ChannelKind.SMS  # the row of the SMS rate, keyed by its channel


class RateLimiter(Protocol):
    def acquire(self, tokens: float = 1) -> float:
        """Take `tokens`, blocking until they may be spent; returns the seconds waited."""
        ...


class LimiterUnavailable(RuntimeError):
    """The shared limiter could not be asked (the database is unreachable): do not send now."""


def default_burst(rate_per_second: float) -> float:
    return rate_per_second * BURST_SHARE


def default_block(rate_per_second: float) -> float:
    return rate_per_second * BLOCK_SHARE


def _checked(rate_per_second: float, burst: float | None) -> float:
    if rate_per_second <= 0:
        raise ValueError("rate_per_second must be positive")
    burst = default_burst(rate_per_second) if burst is None else burst
    if burst < 0:
        raise ValueError("burst must not be negative")
    return burst


def _checked_tokens(tokens: float) -> float:
    if tokens < 0:
        raise ValueError("tokens must not be negative")
    return tokens


class TokenBucket:
    """Tokens accrue at `rate_per_second` up to `burst` (default: a twentieth of a second's)."""

    def __init__(
        self,
        rate_per_second: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.burst = _checked(rate_per_second, burst)
        self.rate = rate_per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._level = self.burst  # full, but a full bucket is only the small burst
        self._updated = clock()

    def acquire(self, tokens: float = 1) -> float:
        wait = self.reserve(_checked_tokens(tokens))
        if wait > 0:
            self._sleep(wait)
        return wait

    def reserve(self, tokens: float) -> float:
        """Book the tokens now (the level may go negative) and say how long until they exist."""
        with self._lock:
            now = self._clock()
            elapsed = max(now - self._updated, 0.0)
            self._level = min(self.burst, self._level + elapsed * self.rate)
            self._updated = now
            self._level -= tokens
            return max(-self._level / self.rate, 0.0)


class SharedBucket:
    """The same bucket for every worker: its state is one row, moved by one atomic statement.

    Booking a send at a time made every text wait for its own round trip to that row (on
    PostgreSQL about a third of a text's cost in a morning burst), so a worker books a block
    of at least `block` tokens at once and hands them out to its own sends in order. Each
    send may still go only at the moment its own tokens would have been spendable had they
    been booked alone (`BookedSpan`), so the limit holds exactly as before: tokens booked
    early are never spent early, and those not spent before their time are dropped, as an
    idle bucket drops them. What a block costs is at most that many tokens unused when a
    worker stops, or when another worker books between two of its blocks.
    """

    def __init__(
        self,
        engine: Engine,
        name: str,
        rate_per_second: float,
        burst: float | None = None,
        *,
        block: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = _checked(rate_per_second, burst)
        self.rate = rate_per_second
        self.block = default_block(rate_per_second) if block is None else block
        self.engine = engine
        self.name = name
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._span = BookedSpan()

    def acquire(self, tokens: float = 1) -> float:
        cost = _checked_tokens(tokens) / self.rate
        tolerance = self.burst / self.rate
        with self._lock:
            ready = self._span.take(cost, tolerance, self._clock())
            if ready is None:
                booked_at = self._book(max(cost, self.block / self.rate), tolerance)
                # Taken as of the moment the booking was made, which its stretch covers.
                ready = self._span.take(cost, tolerance, booked_at)
            if ready is None:
                raise LimiterUnavailable("rate limit booking did not cover the send")
        wait = max(ready - self._clock(), 0.0)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _book(self, seconds: float, tolerance: float) -> float:
        """Book `seconds` of the shared row; returns when it was booked, on this clock (the
        database read its clock for the booking a moment before the one it returned)."""
        try:
            booked = reserve(self.engine, self.name, seconds, tolerance)
        except DatabaseError as exc:
            raise LimiterUnavailable(f"rate limit unavailable ({type(exc).__name__})") from None
        start = booked.tat - seconds
        self._span.add(start, booked.tat, booked.at, self._clock())
        return min(start, booked.at) - self._span.offset


@dataclass
class BookedSpan:
    """Tokens a worker has booked and not yet handed out, as a stretch of the shared row's
    time (`start` to `end`, in seconds on the database's clock): a send of `cost` takes the
    stretch's first `cost` seconds and may go once they are within the burst `tolerance`,
    the very moment a booking of its own would have given it."""

    start: float = 0.0
    end: float = 0.0
    offset: float = 0.0  # the database's clock minus this process's clock

    def take(self, cost: float, tolerance: float, local_now: float) -> float | None:
        """When a send of `cost` may go, on this process's clock; None if too little is left."""
        start = max(self.start, local_now + self.offset)  # what is past is gone, as when idle
        if start + cost > self.end + 1e-9:
            return None
        self.start = start + cost
        return self.start - tolerance - self.offset

    def add(self, start: float, end: float, database_now: float, local_now: float) -> None:
        """A new booking: joined to what is left when no other worker booked in between,
        otherwise it replaces it (what was left can no longer go in order)."""
        self.offset = database_now - local_now  # read after the booking returned: never early
        if abs(start - self.end) > 1e-9:
            self.start = start
        self.end = end


def sms_limiter(settings: Settings, engine: Engine) -> RateLimiter:
    """Shared through PostgreSQL, where several workers may run; in-process on SQLite."""
    if engine.dialect.name == "postgresql":
        return SharedBucket(engine, SMS_BUCKET, settings.sms_max_per_second)
    return TokenBucket(settings.sms_max_per_second)
