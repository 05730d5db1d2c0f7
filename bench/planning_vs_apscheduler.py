"""Our planner and dispatcher against the naive peer: one APScheduler date job per reminder.

Issue #8 target 3. The obvious way to build this service is one APScheduler 3 `date` job per
reminder, kept in `SQLAlchemyJobStore` on the same database. This bench runs that peer beside
ours, on SQLite (a file) and on PostgreSQL (a schema of its own) when reachable:

A. Planning cost per reminder. Ours: `runtime.plan(NOW)` over N seeded sessions, divided by
   the outbox rows it wrote. Peer: a started BackgroundScheduler with the job store, then
   `add_job(send_reminder, "date", ...)` for the same reminders (one job per row we wrote,
   at the row's due time shifted to the future so none fires during the loop). Target: ours
   ≥ 10 × faster per reminder.
B. 1,000 reminders due at once, each send a sleep standing for the provider call. Ours:
   that many due rows drained by the Dispatcher with `run_once` until nothing is left, at the
   peer's concurrency. Peer: that many date jobs due at one moment on a BackgroundScheduler
   with its default executor (10 threads), once with the default misfire grace (1 s) and once
   with a larger one. A job whose turn comes later than its grace is dropped
   (EVENT_JOB_MISSED) and, being a date job, deleted from the store: that reminder is lost.

    .venv/bin/python bench/planning_vs_apscheduler.py [--sessions 1000] [--due 1000]
        [--sleep-ms 50] [--grace 60] [--postgres URL]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from bench_db import drop_schema, fresh_schema, postgres_reachable
from dispatch_throughput import COMPLETED, NOW, bench_dispatcher, seeded_runtime

from reminders.runtime import Runtime
from reminders.sending.channels.base import BaseChannel, OutgoingMessage
from reminders.sending.dispatch_results import DispatchResult
from reminders.store.models import OutboxMessage

TARGET_RATIO = 10.0
PEER_THREADS = 10  # APScheduler's default ThreadPoolExecutor
SCHEMA = "bench_peer"
OUTBOX: sa.Table = OutboxMessage.__table__  # type: ignore[assignment]
FAR_LATER = COMPLETED + timedelta(days=365)  # rows beyond --due are moved here, out of the way


class SleepChannel(BaseChannel):
    """A provider call that takes `seconds` and always succeeds."""

    name = "sleep"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def send(self, message: OutgoingMessage) -> str:
        time.sleep(self.seconds)
        return f"sleep-{message.message_id}"

    def close(self) -> None:
        pass


@dataclass
class PeerSends:
    """What the peer's job function did; module state, as a job is stored by reference."""

    seconds: float = 0.0
    delivered: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


PEER = PeerSends()


def send_reminder(session_id: int, step: str, channel: str) -> None:
    """The peer's job: the provider call (a sleep) for one reminder."""
    time.sleep(PEER.seconds)
    with PEER.lock:
        PEER.delivered += 1


def peer_scheduler(url: str, table: str) -> BackgroundScheduler:
    store = SQLAlchemyJobStore(url=url, tablename=table)
    return BackgroundScheduler(jobstores={"default": store}, timezone=UTC)


def drop_table(url: str, table: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    engine.dispose()


# -- A: planning -------------------------------------------------------------------------


def plan_ours(url: str, sessions: int) -> tuple[float, list[Any]]:
    """Seconds for one planning pass and the rows it wrote."""
    runtime = seeded_runtime(url, sessions)
    started = time.perf_counter()
    runtime.plan(NOW)
    seconds = time.perf_counter() - started
    with runtime.engine.connect() as connection:
        rows = connection.execute(
            sa.select(OUTBOX.c.id, OUTBOX.c.session_id, OUTBOX.c.step, OUTBOX.c.channel)
            .add_columns(OUTBOX.c.due_at)
            .order_by(OUTBOX.c.id)
        ).all()
    runtime.engine.dispose()
    return seconds, rows


def plan_peer(url: str, rows: list[Any], grace: int) -> float:
    """Seconds to add one date job per row to a started scheduler, as a naive user would."""
    table = "apscheduler_jobs"
    drop_table(url, table)
    scheduler = peer_scheduler(url, table)
    scheduler.start()
    # Our rows are due from NOW on; the peer's jobs keep that schedule, but from an hour ahead
    # of the wall clock, so the scheduler has nothing to run while the loop is timed.
    shift = datetime.now(UTC) + timedelta(hours=1) - NOW
    started = time.perf_counter()
    for row in rows:
        scheduler.add_job(
            send_reminder,
            "date",
            run_date=row.due_at + shift,
            args=[row.session_id, row.step, row.channel],
            id=f"reminder-{row.id}",
            misfire_grace_time=grace,
        )
    seconds = time.perf_counter() - started
    stored = len(scheduler.get_jobs())
    scheduler.shutdown(wait=False)
    assert stored == len(rows), f"peer stored {stored} jobs of {len(rows)}"
    drop_table(url, table)
    return seconds


# -- B: due at once ----------------------------------------------------------------------


def burst_ours(url: str, due: int, sleep: float) -> tuple[int, int, float]:
    """(sent, other outcomes, seconds) draining `due` rows due at once."""
    runtime: Runtime = seeded_runtime(url, math.ceil(due / 2))  # two day-0 rows per session
    runtime.plan(NOW)
    with runtime.engine.begin() as connection:
        kept = sa.select(OUTBOX.c.id).where(OUTBOX.c.due_at <= NOW).order_by(OUTBOX.c.id).limit(due)
        connection.execute(
            sa.update(OUTBOX)
            .where(sa.or_(OUTBOX.c.due_at > NOW, OUTBOX.c.id.not_in(kept)))
            .values(due_at=FAR_LATER)
        )
        waiting = connection.execute(
            sa.select(sa.func.count()).select_from(OUTBOX).where(OUTBOX.c.due_at <= NOW)
        ).scalar_one()
    assert waiting == due, f"{waiting} rows due, wanted {due}"
    settings = runtime.settings.model_copy(update={"send_concurrency": PEER_THREADS})
    channel = SleepChannel(sleep)
    dispatcher = bench_dispatcher(runtime, settings=settings, channel=channel)
    sent = other = 0
    started = time.perf_counter()
    while (report := dispatcher.run_once()).outcomes:
        sent += report.count(DispatchResult.SENT)
        other += len(report.outcomes) - report.count(DispatchResult.SENT)
    seconds = time.perf_counter() - started
    runtime.engine.dispose()
    return sent, other, seconds


@dataclass
class Burst:
    delivered: int
    missed: int
    errors: int
    seconds: float  # from the due moment to the last event
    late_setup: bool  # the jobs were not all stored before they fell due
    left: int  # jobs still in the store afterwards: a dropped date job is gone for good


def burst_peer(url: str, due: int, sleep: float, grace: int | None, lead: float) -> Burst:
    """`due` date jobs at one moment; grace None means the scheduler's default (1 s)."""
    table = "apscheduler_burst"
    drop_table(url, table)
    PEER.seconds, PEER.delivered = sleep, 0
    counts = {EVENT_JOB_EXECUTED: 0, EVENT_JOB_MISSED: 0, EVENT_JOB_ERROR: 0}
    last_event = [0.0]
    finished = threading.Event()
    lock = threading.Lock()

    def listen(event: JobExecutionEvent) -> None:
        with lock:
            counts[event.code] += 1
            last_event[0] = time.time()
            if sum(counts.values()) >= due:
                finished.set()

    scheduler = peer_scheduler(url, table)
    scheduler.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_MISSED | EVENT_JOB_ERROR)
    scheduler.start(paused=True)
    moment = datetime.now(UTC) + timedelta(seconds=lead)
    options = {} if grace is None else {"misfire_grace_time": grace}
    for n in range(due):
        scheduler.add_job(
            send_reminder,
            "date",
            run_date=moment,
            args=[n, "aftercare", "sms"],
            id=f"burst-{n}",
            **options,
        )
    late_setup = datetime.now(UTC) >= moment
    scheduler.resume()
    drain = due * sleep / PEER_THREADS
    finished.wait(timeout=lead + 3 * drain + 60)
    left = len(scheduler.get_jobs())
    scheduler.shutdown(wait=True)
    drop_table(url, table)
    assert PEER.delivered == counts[EVENT_JOB_EXECUTED], "executed events and sends disagree"
    return Burst(
        delivered=PEER.delivered,
        missed=counts[EVENT_JOB_MISSED],
        errors=counts[EVENT_JOB_ERROR],
        seconds=max(0.0, last_event[0] - moment.timestamp()),
        late_setup=late_setup,
        left=left,
    )


# -- running -----------------------------------------------------------------------------


def run(kind: str, url_for: Any, args: argparse.Namespace) -> None:
    """Both parts on one database; `url_for(name)` gives a fresh database's URL."""
    url = url_for("plan")
    ours_seconds, rows = plan_ours(url, args.sessions)
    peer_seconds = plan_peer(url, rows, args.grace)
    ours_ms = 1000 * ours_seconds / len(rows)
    peer_ms = 1000 * peer_seconds / len(rows)
    ratio = peer_ms / ours_ms
    verdict = "PASS" if ratio >= TARGET_RATIO else "MISS"
    print(f"{kind}: A. planning, {args.sessions} sessions -> {len(rows)} reminders")
    print(f"{kind}:    ours  runtime.plan: {ours_seconds:6.2f} s, {ours_ms:.3f} ms per reminder")
    print(f"{kind}:    peer  add_job:      {peer_seconds:6.2f} s, {peer_ms:.3f} ms per reminder")
    print(f"{kind}:    peer / ours = {ratio:.1f} x (target >= {TARGET_RATIO:.0f} x: {verdict})")

    sleep = args.sleep_ms / 1000
    print(
        f"{kind}: B. {args.due} reminders due at once, {args.sleep_ms:g} ms per send, "
        f"{PEER_THREADS} send threads each"
    )
    sent, other, seconds = burst_ours(url_for("burst"), args.due, sleep)
    mark = "all" if sent == args.due else "NOT ALL"
    print(
        f"{kind}:    ours  Dispatcher.run_once: delivered {sent}/{args.due} ({mark}), "
        f"{other} other outcomes, {seconds:.2f} s"
    )
    lead = args.lead if args.lead is not None else 2.0 + args.due * peer_ms * 3 / 1000
    for grace, label in ((None, "default grace 1 s"), (args.grace, f"grace {args.grace} s")):
        burst = burst_peer(url, args.due, sleep, grace, lead)
        note = " (jobs stored late: raise --lead)" if burst.late_setup else ""
        print(
            f"{kind}:    peer  {label:>17}: delivered {burst.delivered}/{args.due}, "
            f"dropped {burst.missed} as missed, {burst.errors} errors, "
            f"{burst.seconds:.2f} s, {burst.left} jobs left in the store{note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000, help="sessions planned in A")
    parser.add_argument("--due", type=int, default=1000, help="reminders due at once in B")
    parser.add_argument("--sleep-ms", type=float, default=50.0, help="one provider call")
    parser.add_argument("--grace", type=int, default=60, help="the peer's larger grace, s")
    parser.add_argument("--lead", type=float, help="s before the peer's jobs fall due in B")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    # The peer logs a warning per missed job: 800 lines at the defaults. They are counted.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    print(f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as folder:
        run("sqlite", lambda name: f"sqlite:///{folder}/{name}.db", args)
    if not postgres_reachable(args.postgres):
        return
    try:
        run("postgresql", lambda _name: fresh_schema(args.postgres, SCHEMA), args)
    finally:
        drop_schema(args.postgres, SCHEMA)


if __name__ == "__main__":
    main()
