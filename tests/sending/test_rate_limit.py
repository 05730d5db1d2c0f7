"""The SMS rate limit: no one-second window carries more than 1.1 × the rate, from the start.

Pure tests drive `TokenBucket` with a simulated clock: many senders asking at once, messages
of one and two segments, the provider taking its time. The shared bucket's arithmetic is
checked on SQLite and PostgreSQL with the clock passed in; two real processes sharing it on
PostgreSQL are in test_rate_limit_postgres.py.
"""

from __future__ import annotations

import heapq
import random

import pytest
from sqlalchemy.engine import Engine

from reminders.sending.rate_limit import (
    LimiterUnavailable,
    SharedBucket,
    TokenBucket,
    default_burst,
    sms_limiter,
)
from reminders.store.db import make_engine
from reminders.store.rate_limits import reserve
from tests.support.rate_limit import busiest_second


class SimulatedClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(
    rate: float, senders: int, seconds: float, rng: random.Random, burst: float | None = None
) -> list[tuple[float, int]]:
    """Senders that ask for a 1- or 2-segment text, wait their turn, spend 50–300 ms at the
    provider, and ask again: when each send was released, and its segments."""
    clock = SimulatedClock()
    bucket = TokenBucket(rate, burst, clock=clock, sleep=lambda _s: None)
    asks = [(0.0, n) for n in range(senders)]  # everyone at once, on a bucket that starts full
    heapq.heapify(asks)
    releases = []
    while asks:
        clock.now, sender = heapq.heappop(asks)
        segments = rng.choice((1, 1, 1, 2))
        released = clock.now + bucket.reserve(segments)
        releases.append((released, segments))
        if released < seconds:
            heapq.heappush(asks, (released + rng.uniform(0.05, 0.3), sender))
    return releases


@pytest.mark.parametrize("rate", [1, 5, 10, 50, 200])
@pytest.mark.parametrize("seed", range(3))
def test_no_one_second_window_carries_more_than_a_tenth_over_the_rate(rate, seed):
    """At most rate + burst (a tenth), or rate + one message when a message is larger than
    the burst: a two-segment text at 1/s fills its second twice over, whatever the limiter."""
    releases = simulate(rate, senders=max(8, rate // 2), seconds=30, rng=random.Random(seed))
    largest_message = 2
    assert busiest_second(releases) <= rate + max(0.1 * rate, largest_message)
    if rate >= 20:
        assert busiest_second(releases) <= 1.1 * rate


def test_the_first_second_after_start_is_not_a_double_burst():
    """The bucket used to start with a full second's worth: 110 segments went in the first
    second at a cap of 50."""
    releases = simulate(50, senders=64, seconds=5, rng=random.Random(7))
    first_second = sum(segments for at, segments in releases if at < 1.0)
    assert first_second <= 55


def test_the_limiter_keeps_up_with_the_rate_it_allows():
    """Not trivially safe: over a busy half minute it lets nearly the whole rate through."""
    releases = simulate(50, senders=32, seconds=30, rng=random.Random(3))
    sent = sum(segments for at, segments in releases if at < 30)
    assert sent >= 0.97 * 50 * 30


def test_default_burst_is_a_twentieth_of_a_second():
    assert default_burst(50) == 2.5
    assert TokenBucket(50).burst == 2.5
    assert TokenBucket(1).burst == pytest.approx(0.05)


def test_at_one_per_second_texts_go_a_second_apart_from_the_first():
    clock = SimulatedClock()
    bucket = TokenBucket(1, clock=clock, sleep=lambda _s: None)
    waits = [bucket.reserve(1) for _ in range(3)]
    assert waits == pytest.approx([0.95, 1.95, 2.95])


def test_a_negative_burst_is_refused():
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(1, burst=-1)


# -- the shared bucket's arithmetic, with the clock passed in ---------------------------------


@pytest.fixture
def bucket_engine(engine: Engine) -> Engine:
    return engine  # migrated: the rate_bucket table exists


def test_shared_bookings_queue_one_cost_apart(bucket_engine):
    """Rate 10/s, burst 1 token (0.1 s): five bookings at one moment wait 0, .1, .2, .3, .4."""
    waits = [reserve(bucket_engine, "sms", 0.1, 0.1, now=1000.0).wait for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_shared_bucket_refills_after_a_pause_but_only_up_to_its_burst(bucket_engine):
    for _ in range(5):
        reserve(bucket_engine, "sms", 0.1, 0.1, now=1000.0)
    later = [reserve(bucket_engine, "sms", 0.1, 0.1, now=2000.0).wait for _ in range(3)]
    assert later == pytest.approx([0.0, 0.1, 0.2])


def test_shared_buckets_are_kept_apart_by_name(bucket_engine):
    reserve(bucket_engine, "sms", 5.0, 0.0, now=1000.0)
    assert reserve(bucket_engine, "other", 0.1, 0.0, now=1000.0).wait == pytest.approx(0.1)
    assert reserve(bucket_engine, "sms", 0.1, 0.0, now=1000.0).wait == pytest.approx(5.1)


def test_shared_bucket_sleeps_what_the_database_says(bucket_engine):
    slept: list[float] = []
    bucket = SharedBucket(bucket_engine, "sms", 10, burst=1, sleep=slept.append)
    waits = [bucket.acquire(2) for _ in range(3)]  # the database's own clock, a moment apart
    assert waits[0] == pytest.approx(0.1, abs=0.05)
    assert waits[1] == pytest.approx(0.3, abs=0.05)
    assert slept == waits


def test_shared_bucket_on_an_unreachable_database_says_so(tmp_path):
    engine = make_engine("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(LimiterUnavailable, match="unavailable") as caught:
        SharedBucket(engine, "sms", 10).acquire()
    assert "secret" not in str(caught.value)
    engine.dispose()


def test_workers_on_postgresql_share_the_limit_sqlite_keeps_it_in_process(runtime):
    limiter = sms_limiter(runtime.settings, runtime.engine)
    expected = SharedBucket if runtime.engine.dialect.name == "postgresql" else TokenBucket
    assert isinstance(limiter, expected)
    assert limiter.rate == runtime.settings.sms_max_per_second
