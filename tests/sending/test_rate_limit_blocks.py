"""The shared SMS rate booked a block at a time: fewer trips to the row, the same limit.

The stretch arithmetic is checked against a simulated shared row (the same GCRA as
`store.rate_limits.reserve`): one worker's texts go at exactly the moments single bookings
would have given them, and workers booking blocks side by side never put more than the rate
and its burst into any second. Then real threads of two workers on the real row.
"""

from __future__ import annotations

import random
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.sending.rate_limit import BookedSpan, SharedBucket

RATE = 50.0  # tokens per second
TOLERANCE = 0.05  # the burst, in seconds of the rate


def busiest_second(releases: list[tuple[float, float]]) -> float:
    releases = sorted(releases)
    return max(
        sum(tokens for at, tokens in releases if start <= at < start + 1.0) for start, _ in releases
    )


class SimulatedRow:
    """`reserve`'s arithmetic: tat = max(tat, now) + cost, spendable at tat - tolerance."""

    def __init__(self) -> None:
        self.tat = 0.0
        self.bookings = 0

    def book(self, now: float, cost: float) -> float:
        self.bookings += 1
        self.tat = max(self.tat, now) + cost
        return self.tat


def take_or_book(span: BookedSpan, row: SimulatedRow, now: float, cost: float, block: float):
    """What `SharedBucket.acquire` does, on the simulated row (both clocks the same)."""
    ready = span.take(cost, TOLERANCE, now)
    if ready is None:
        seconds = max(cost, block)
        tat = row.book(now, seconds)
        span.add(tat - seconds, tat, now, now)
        ready = span.take(cost, TOLERANCE, min(tat - seconds, now))
    assert ready is not None
    return max(ready, now)


@pytest.mark.parametrize("seed", range(5))
def test_one_worker_sends_exactly_when_single_bookings_would_let_it(seed):
    rng = random.Random(seed)
    alone, blocks = SimulatedRow(), SimulatedRow()
    span = BookedSpan()
    now = 0.0
    for _ in range(400):
        now += rng.choice((0.0, 0.0, 0.001, 0.01, 0.2, 1.5))  # bursts, trickles and pauses
        cost = rng.choice((1, 1, 1, 2)) / RATE
        single = max(alone.book(now, cost) - TOLERANCE, now)
        assert take_or_book(span, blocks, now, cost, block=0.4) == pytest.approx(single)
    assert blocks.bookings < alone.bookings / 3


@pytest.mark.parametrize("seed", range(5))
def test_workers_booking_blocks_side_by_side_keep_the_rate(seed):
    rng = random.Random(seed)
    row = SimulatedRow()
    spans = [BookedSpan() for _ in range(3)]
    releases, now = [], 0.0
    while now < 10.0:
        now += rng.uniform(0.0, 0.01)
        tokens = rng.choice((1, 1, 1, 2))
        released = take_or_book(rng.choice(spans), row, now, tokens / RATE, block=0.3)
        releases.append((released, tokens))
    assert busiest_second(releases) <= RATE * (1 + TOLERANCE)


def test_threads_of_two_workers_on_the_real_row_keep_the_rate(engine: Engine):
    rate, per_thread = 100.0, 40
    workers = [SharedBucket(engine, "sms", rate, block=10) for _ in range(2)]
    bookings: list[int] = []
    sa.event.listen(
        engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: bookings.append(1) if "rate_bucket" in statement else None,
    )
    releases: list[tuple[float, float]] = []
    lock = threading.Lock()

    def send(bucket: SharedBucket) -> None:
        for _ in range(per_thread):
            bucket.acquire(1)
            with lock:
                releases.append((time.monotonic(), 1))

    threads = [threading.Thread(target=send, args=(w,)) for w in workers for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(releases) == 6 * per_thread
    assert busiest_second(releases) <= 1.1 * rate
    assert len(bookings) <= len(releases) / 4  # a block of ten, less what workers interleave
