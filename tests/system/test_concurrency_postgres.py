"""Several planners and dispatchers on one PostgreSQL: nothing is planned or sent twice.

Workers run as threads, each with its own engine and worker id, started together behind a
`threading.Barrier`; one test runs two real `aftercare tick` processes. The clock is fixed at
2026-06-10 18:00 UTC (11:00 in Los Angeles, the clinic's zone): inside the send window.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reminders.planning.planner import PlanReport, plan_pending
from reminders.rules.care_plans import CarePlans
from reminders.runtime import Runtime, migrate
from reminders.sending.channels.base import BaseChannel, Channel, OutgoingMessage
from reminders.sending.channels.console import ConsoleChannel
from reminders.sending.dispatcher import Dispatcher, Outcome
from reminders.settings import Settings
from reminders.store.claims import claim_due
from reminders.store.db import make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.models import MessageEvent, OutboxMessage, Patient, TreatmentSession
from reminders.store.templates import load_defaults
from tests.support.factories import enroll_patient
from tests.support.send_plans import long_texts
from tests.support.settings import make_settings

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)  # Wed 11:00 PDT
COMPLETED = NOW - timedelta(minutes=5)
NEXT_OPENING = datetime(2026, 6, 11, 16, 0, tzinfo=UTC)  # Thu 09:00 PDT
SCLEROTHERAPY_SMS = ["aftercare", "restriction_day_1", "restriction_day_2", "restrictions_over"]
WAIT = 60  # seconds: an upper bound for any worker; the whole module takes a few seconds

T = TypeVar("T")


# -- set-up ------------------------------------------------------------------------------


@pytest.fixture
def make_runtime(postgres_url: str, tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """A migrated PostgreSQL schema with the default templates, as after `aftercare init`."""
    engines: list[Engine] = []

    def build(**overrides: object) -> Runtime:
        settings = make_settings(postgres_url, tmp_path, **overrides)
        engine = make_engine(postgres_url)
        engines.append(engine)
        migrate(engine)
        with session_scope(engine) as session:
            load_defaults(session, settings.templates_dir, actor="defaults", now=NOW)
        return Runtime(settings, engine, load_care_plans())

    yield build
    for engine in engines:
        engine.dispose()


@pytest.fixture
def open_engine(postgres_url: str) -> Iterator[Callable[[], Engine]]:
    """Each worker gets its own engine, as separate processes would."""
    engines: list[Engine] = []

    def build() -> Engine:
        engines.append(make_engine(postgres_url))
        return engines[-1]

    yield build
    for engine in engines:
        engine.dispose()


def phone(n: int) -> str:
    return f"+1310555{n:04d}"


def add_sessions(
    engine: Engine, treatments: Sequence[str], *, completed_at: Callable[[int], datetime]
) -> list[int]:
    """A practice system's rows: one patient per entry of `treatments`, one session each."""
    with session_scope(engine) as session:
        sessions = []
        for n, treatment in enumerate(treatments):
            patient = Patient(
                name=f"Patient {n}", phone=phone(n), email=f"p{n}@example.com", created_at=NOW
            )
            session.add(patient)
            session.flush()
            sessions.append(
                TreatmentSession(
                    patient_id=patient.id or 0,
                    treatment=treatment,
                    completed_at=completed_at(n),
                    created_at=NOW,
                )
            )
        session.add_all(sessions)
        session.flush()
        return [s.id or 0 for s in sessions]


def rows_per_session(plans: CarePlans, treatment: str) -> int:
    return sum(len(step.channels) for step in plans.for_treatment(treatment).steps)


def outbox(engine: Engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def outbox_lines(settings: Settings) -> list[dict[str, object]]:
    path = settings.outbox_file
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def clean_env(**values: str) -> dict[str, str]:
    """The parent's environment without any Aftercare setting, plus the given ones."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update({k.upper(): v for k, v in values.items()})
    return env


def together(tasks: Sequence[Callable[[], T]]) -> list[T]:
    """Run the tasks in threads released at the same instant; re-raise any worker's error."""
    barrier = threading.Barrier(len(tasks))

    def start(task: Callable[[], T]) -> T:
        barrier.wait(timeout=WAIT)
        return task()

    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = [pool.submit(start, task) for task in tasks]
        return [future.result(timeout=WAIT) for future in futures]


# -- channels and clocks that widen race windows -------------------------------------------


@dataclass
class ProviderLog:
    """Every provider call of every worker, in order; shared by all workers, under a lock."""

    calls: list[tuple[str, int]] = field(default_factory=list)  # (worker, message id)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_message(self) -> Counter[int]:
        return Counter(message_id for _worker, message_id in self.calls)

    def workers(self) -> set[str]:
        return {worker for worker, _message_id in self.calls}


@dataclass
class SlowRecordingChannel(BaseChannel):
    """Records the call, sleeps like a provider round trip, then writes through the console."""

    inner: Channel
    log: ProviderLog
    worker: str
    delay: float = 0.003
    name: str = "slow-console"

    def send(self, message: OutgoingMessage) -> str:
        with self.log.lock:
            self.log.calls.append((self.worker, message.message_id))
        time.sleep(self.delay)
        return self.inner.send(message)

    def close(self) -> None:
        self.inner.close()


def slow_clock(moment: datetime, delay: float = 0.005) -> Callable[[], datetime]:
    """A fixed clock that takes a moment to answer: the dispatcher reads it right after it
    locks the patient and before it counts today's SMS, so two workers reach that count at
    the same time unless the lock keeps them apart."""

    def clock() -> datetime:
        time.sleep(delay)
        return moment

    return clock


def dispatcher(
    runtime: Runtime,
    engine: Engine,
    worker: str,
    log: ProviderLog,
    console: ConsoleChannel,
    clock: Callable[[], datetime] = lambda: NOW,
) -> Dispatcher:
    channel = SlowRecordingChannel(console, log, worker)
    return Dispatcher(
        engine,
        runtime.settings,
        runtime.default_plans,
        {"sms": channel, "email": channel},
        worker_id=worker,
        clock=clock,
    )


def drain(worker: Dispatcher, max_batches: int = 200) -> list[Outcome]:
    """Run batches until a claim comes back empty (bounded)."""
    outcomes: list[Outcome] = []
    for _ in range(max_batches):
        report = worker.run_once()
        if not report.outcomes:
            return outcomes
        outcomes.extend(report.outcomes)
    raise AssertionError(f"{worker.worker_id} still had work after {max_batches} batches")


def assert_nothing_left_sending(engine: Engine) -> None:
    with Session(engine) as session:
        stuck = session.exec(
            select(OutboxMessage.id).where(OutboxMessage.status == "sending")
        ).all()
    assert stuck == []


# -- planners ------------------------------------------------------------------------------


def test_two_planners_at_once_create_each_outbox_row_exactly_once(make_runtime, open_engine):
    runtime = make_runtime()
    treatments = [("asclera", "laser", "test-dose", "sts")[n % 4] for n in range(200)]
    session_ids = add_sessions(runtime.engine, treatments, completed_at=lambda _n: COMPLETED)
    expected = sum(rows_per_session(runtime.default_plans, t) for t in treatments)

    def planner() -> PlanReport:
        return plan_pending(
            open_engine(), runtime.default_plans, runtime.settings.timezone, NOW, limit=25
        )

    reports = together([planner, planner])

    rows = outbox(runtime.engine)
    assert len(rows) == expected
    assert len({(r.session_id, r.step, r.channel) for r in rows}) == expected
    assert {r.session_id for r in rows} == set(session_ids)
    assert sum(r.sessions for r in reports) == len(session_ids)
    assert sum(r.messages for r in reports) == expected
    assert sum(r.errors for r in reports) == 0
    with Session(runtime.engine) as session:
        planned_events = session.exec(
            select(sa.func.count()).where(MessageEvent.actor == "planner")
        ).one()
        unplanned = session.exec(
            select(TreatmentSession.id).where(col(TreatmentSession.planned_at).is_(None))
        ).all()
    assert planned_events == expected
    assert unplanned == []


def test_two_tick_processes_at_once_plan_once_and_send_each_message_once(
    make_runtime, postgres_url, tmp_path
):
    runtime = make_runtime()
    treatments = ["asclera"] * 100
    add_sessions(runtime.engine, treatments, completed_at=lambda _n: COMPLETED)
    env = clean_env(database_url=postgres_url, outbox_file=str(runtime.settings.outbox_file))
    command = [sys.executable, "-m", "reminders", "tick", "--now", NOW.isoformat()]
    ticks = [
        subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for tick in ticks:
        _out, err = tick.communicate(timeout=WAIT)
        assert tick.returncode == 0, err.decode()

    rows = outbox(runtime.engine)
    assert len(rows) == len(treatments) * rows_per_session(runtime.default_plans, "asclera")
    assert len({(r.session_id, r.step, r.channel) for r in rows}) == len(rows)
    lines = outbox_lines(runtime.settings)
    sent_ids = Counter(int(str(line["message_id"])) for line in lines)
    assert sent_ids and max(sent_ids.values()) == 1
    assert set(sent_ids) == {r.id for r in rows if r.status == "sent"}
    assert_nothing_left_sending(runtime.engine)


# -- dispatchers ---------------------------------------------------------------------------


# The claim once took every due row: PostgreSQL reran `id IN (SELECT ... LIMIT n SKIP LOCKED)`
# per row, and the rows this UPDATE had locked were skipped, so the LIMIT slid forward.


def keep_fresh_table_statistics(engine: Engine) -> None:
    """No autovacuum ANALYZE mid-test: the planner keeps the view it has of a new table."""
    with engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE outbox_message SET (autovacuum_enabled = false)")


def due_messages(runtime: Runtime, sessions: int) -> set[int]:
    """`sessions` asclera sessions just completed: their aftercare SMS and email are due."""
    add_sessions(runtime.engine, ["asclera"] * sessions, completed_at=lambda _n: COMPLETED)
    plan_pending(runtime.engine, runtime.default_plans, runtime.settings.timezone, NOW)
    due = {r.id or 0 for r in outbox(runtime.engine) if r.due_at <= NOW}
    assert len(due) == 2 * sessions
    return due


def test_four_dispatchers_at_once_send_every_due_message_exactly_once(make_runtime, open_engine):
    runtime = make_runtime(dispatch_batch_size=10)
    due = due_messages(runtime, 100)
    log, console = ProviderLog(), ConsoleChannel(runtime.settings.outbox_file)
    workers = [dispatcher(runtime, open_engine(), f"worker-{n}", log, console) for n in range(4)]

    outcomes = together([lambda w=w: drain(w) for w in workers])

    lines = outbox_lines(runtime.settings)
    assert Counter(int(str(line["message_id"])) for line in lines) == dict.fromkeys(due, 1)
    assert log.by_message() == dict.fromkeys(due, 1)
    assert Counter(o.result for mine in outcomes for o in mine) == {"sent": len(due)}
    assert {r.status for r in outbox(runtime.engine) if r.id in due} == {"sent"}
    assert_nothing_left_sending(runtime.engine)


def test_one_claim_takes_no_more_than_the_batch_size(make_runtime):
    runtime = make_runtime()
    due = due_messages(runtime, 50)
    keep_fresh_table_statistics(runtime.engine)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    with session_scope(runtime.engine) as session:
        claimed = claim_due(session, "worker-0", NOW, lease, limit=10)
    leased = [r.id for r in outbox(runtime.engine) if r.status == "sending"]
    assert (len(claimed), len(leased)) == (10, 10)
    assert set(claimed) <= due


def test_concurrent_dispatchers_share_the_work_in_batches(make_runtime, open_engine):
    runtime = make_runtime(dispatch_batch_size=10)
    due_messages(runtime, 50)
    keep_fresh_table_statistics(runtime.engine)
    log, console = ProviderLog(), ConsoleChannel(runtime.settings.outbox_file)
    workers = [dispatcher(runtime, open_engine(), f"worker-{n}", log, console) for n in range(4)]
    batches: dict[str, list[int]] = {w.worker_id: [] for w in workers}

    def drain_in_batches(worker: Dispatcher) -> None:
        for _ in range(200):
            handled = len(worker.run_once().outcomes)
            if not handled:
                return
            batches[worker.worker_id].append(handled)

    together([lambda w=w: drain_in_batches(w) for w in workers])

    assert max(size for sizes in batches.values() for size in sizes) <= 10
    assert log.workers() == set(batches)  # SKIP LOCKED lets every worker take a batch


def test_a_dead_workers_lease_is_claimed_again_only_after_it_expires(make_runtime, open_engine):
    runtime = make_runtime()
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    with session_scope(runtime.engine) as session:
        abandoned = list(claim_due(session, "dead", NOW, lease, limit=100))
    assert len(abandoned) == 2  # the aftercare SMS and email, never processed
    log, console = ProviderLog(), ConsoleChannel(runtime.settings.outbox_file)

    def worker(name: str, at: datetime) -> Dispatcher:
        return dispatcher(runtime, open_engine(), name, log, console, clock=lambda: at)

    def two_workers_claim_at(at: datetime) -> list[Outcome]:
        reports = together([worker(f"worker-{n}-{at:%H%M%S}", at).run_once for n in range(2)])
        return [outcome for report in reports for outcome in report.outcomes]

    assert two_workers_claim_at(NOW + lease - timedelta(seconds=1)) == []
    assert {(r.status, r.lease_owner) for r in outbox(runtime.engine) if r.id in abandoned} == {
        ("sending", "dead")
    }

    after = two_workers_claim_at(NOW + lease + timedelta(seconds=1))

    assert sorted(o.message_id for o in after if o.result == "sent") == sorted(abandoned)
    assert log.by_message() == dict.fromkeys(abandoned, 1)
    reclaimed = [r for r in outbox(runtime.engine) if r.id in abandoned]
    # Taken over from a worker that died before sending: the same attempt, not a second one.
    assert {(r.status, r.attempts, r.lease_owner) for r in reclaimed} == {("sent", 1, None)}
    # The dead worker wakes up: its lease is gone, so it sends nothing.
    [late] = worker("dead", NOW + lease + timedelta(seconds=2)).send_claimed(abandoned[:1])
    assert late is not None and late.result == "lost"
    assert log.by_message() == dict.fromkeys(abandoned, 1)
    assert_nothing_left_sending(runtime.engine)


def lease_to(engine: Engine, worker: str, message_ids: Sequence[int]) -> None:
    """Leave messages as `claim_due` leaves them for `worker`."""
    with session_scope(engine) as session:
        session.execute(
            sa.update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(message_ids))
            .values(
                status="sending",
                lease_owner=worker,
                lease_expires_at=NOW + timedelta(minutes=5),
                attempts=col(OutboxMessage.attempts) + 1,
            )
        )


def test_daily_sms_cap_holds_across_two_dispatchers_at_once(make_runtime, open_engine):
    """Each patient had sclerotherapy and laser in one visit: two SMS due at the same moment.

    One worker holds the lease of each patient's first SMS, the other of the second (as after
    two claims), and both work through the patients in the same order: every patient's two
    SMS are decided at the same time, by two workers on two connections.
    """
    runtime = make_runtime()
    long_texts(runtime.engine, "sclerotherapy", SCLEROTHERAPY_SMS)  # no two fit one text
    patients = 20
    with session_scope(runtime.engine) as session:
        for n in range(patients):
            patient = Patient(name=f"Patient {n}", phone=phone(n), created_at=NOW)
            session.add(patient)
            session.flush()
            session.add_all(
                TreatmentSession(
                    patient_id=patient.id or 0,
                    treatment=treatment,
                    completed_at=COMPLETED,
                    created_at=NOW,
                )
                for treatment in ("asclera", "laser")
            )
    plan_pending(runtime.engine, runtime.default_plans, runtime.settings.timezone, NOW)
    sms = [r for r in outbox(runtime.engine) if (r.step, r.channel) == ("aftercare", "sms")]
    pairs = [
        sorted(r.id or 0 for r in sms if r.patient_id == patient_id)
        for patient_id in sorted({r.patient_id for r in sms})
    ]
    assert len(pairs) == patients and {len(pair) for pair in pairs} == {2}
    log, console = ProviderLog(), ConsoleChannel(runtime.settings.outbox_file)
    workers = [
        dispatcher(runtime, open_engine(), f"worker-{n}", log, console, clock=slow_clock(NOW))
        for n in range(2)
    ]
    for n, worker in enumerate(workers):
        lease_to(runtime.engine, worker.worker_id, [pair[n] for pair in pairs])

    outcomes = together(
        [
            lambda n=n, w=w: [w.send_claimed([pair[n]])[0] for pair in pairs]
            for n, w in enumerate(workers)
        ]
    )

    assert Counter(o.result for mine in outcomes for o in mine) == {
        "sent": patients,
        "deferred": patients,
    }
    lines = outbox_lines(runtime.settings)
    assert Counter(line["to"] for line in lines) == {phone(n): 1 for n in range(patients)}
    rows = {r.id: r for r in outbox(runtime.engine)}
    # Both workers read the same send plan (rules.send_plan), whichever decides first: laser's
    # text (the nearer deadline) goes today; sclerotherapy's waits for Saturday 09:00, since
    # Thursday's and Friday's texts (the restrictions) have nearer deadlines still.
    saturday = NEXT_OPENING + timedelta(days=2)
    for pair in pairs:
        today = {
            (m.plan, m.status, m.due_at if m.status == "pending" else m.sent_at, m.attempts)
            for m in (rows[i] for i in pair)
        }
        assert today == {("laser", "sent", NOW, 1), ("sclerotherapy", "pending", saturday, 0)}
    assert_nothing_left_sending(runtime.engine)
