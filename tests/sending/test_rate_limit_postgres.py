"""Two worker processes on one PostgreSQL keep one SMS rate between them, exactly.

Each process books from the shared bucket as fast as it can, sleeps what it is told, and
reports when the database gave it its slot and when it woke. The slots of both, merged, must
queue one cost apart (no two bookings share a slot), so the two together never go faster than
the rate: a limiter per process would have let each go at the full rate.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reminders.runtime import migrate
from reminders.store.db import make_engine
from tests.support.rate_limit import busiest_second

pytestmark = pytest.mark.postgres

REPO_ROOT = Path(__file__).resolve().parents[2]
RATE = 20.0  # tokens per second
BOOKINGS = 15  # per worker
WORKER = """
import json, sys, time
from reminders.sending.rate_limit import SharedBucket
from reminders.store.db import make_engine
from reminders.store.rate_limits import reserve
engine = make_engine(sys.argv[1])
rate = float(sys.argv[2])
burst = rate * 0.1
with engine.connect():  # connected and imported before the start, so both begin together
    pass
print("ready", flush=True)
sys.stdin.readline()
out = []
for _ in range(int(sys.argv[3])):
    booking = reserve(engine, "sms", 1 / rate, burst / rate)
    time.sleep(booking.wait)
    out.append({"slot": booking.slot, "woke": time.time()})
print(json.dumps(out))
"""


@pytest.fixture
def migrated_url(postgres_url: str) -> str:
    engine = make_engine(postgres_url)
    migrate(engine)
    engine.dispose()
    return postgres_url


def test_two_workers_together_keep_the_one_rate(migrated_url):
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, migrated_url, str(RATE), str(BOOKINGS)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    start = time.time()
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    results = [json.loads(worker.communicate(timeout=60)[0]) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]

    slots = sorted(booking["slot"] for mine in results for booking in mine)
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert min(gaps) >= 1 / RATE - 1e-6  # one queue: every booking a cost after the last
    assert busiest_second([(slot, 1) for slot in slots]) <= 1.1 * RATE
    first, second = (sorted(b["slot"] for b in mine) for mine in results)
    assert first[0] < second[-1] and second[0] < first[-1]  # interleaved, not one after another
    for mine in results:  # each slept until its slot (database and workers: one machine)
        assert all(b["woke"] >= b["slot"] - 0.005 for b in mine)
    elapsed = max(b["woke"] for mine in results for b in mine) - start
    assert elapsed >= (2 * BOOKINGS - 0.1 * RATE) / RATE - 0.05
