"""A thread-safe token bucket that keeps a provider under its rate (for SMS: segments per second).

Each caller reserves its tokens under the lock and then sleeps off its own debt outside it, so
concurrent senders queue in arrival order, the lock is never held while waiting, and a request
larger than the burst still goes through (it waits for the whole amount) instead of deadlocking.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    """Tokens accrue at `rate_per_second` up to `burst` (default one second's worth, at least 1)."""

    def __init__(
        self,
        rate_per_second: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.rate = rate_per_second
        self.burst = max(burst if burst is not None else rate_per_second, 1.0)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._level = self.burst
        self._updated = clock()

    def acquire(self, tokens: float = 1) -> float:
        """Take `tokens`, blocking until they have accrued; returns the seconds waited."""
        if tokens < 0:
            raise ValueError("tokens must not be negative")
        wait = self._reserve(tokens)
        if wait > 0:
            self._sleep(wait)
        return wait

    def _reserve(self, tokens: float) -> float:
        """Book the tokens now (the level may go negative) and say how long until they exist."""
        with self._lock:
            now = self._clock()
            elapsed = max(now - self._updated, 0.0)
            self._level = min(self.burst, self._level + elapsed * self.rate)
            self._updated = now
            self._level -= tokens
            return max(-self._level / self.rate, 0.0)
