"""Planner and dispatcher overhead per message, on SQLite and (when reachable) PostgreSQL.

The provider's latency (~100-300 ms per Twilio request) is the real bound; the dispatcher's own
work per message must stay far below it. This enrolls N sessions, plans them, and sends every
day-0 message through a channel that does nothing, then prints the figures.

    .venv/bin/python bench/dispatch_throughput.py [--sessions 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from reminders.runtime import Runtime, migrate
from reminders.sending.channels.base import BaseChannel, Channel, OutgoingMessage
from reminders.sending.dispatch_results import DispatchResult
from reminders.sending.dispatcher import Dispatcher
from reminders.settings import Settings
from reminders.store.db import make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.models import Patient, TreatmentSession
from reminders.store.templates import load_defaults

COMPLETED = datetime(2026, 6, 10, 17, 0, tzinfo=UTC)  # 10:00 in Los Angeles
NOW = COMPLETED + timedelta(minutes=1)


class NullChannel(BaseChannel):
    name = "null"

    def send(self, message: OutgoingMessage) -> str:
        return f"null-{message.message_id}"

    def close(self) -> None:
        pass


def bench_dispatcher(
    runtime: Runtime,
    *,
    settings: Settings | None = None,
    channel: Channel | None = None,
    email: Channel | None = None,
    at: datetime = NOW,
) -> Dispatcher:
    """What every bench drains with: one worker on a fixed clock, `channel` for both channels
    (or `email` for email), a channel that does nothing where none is given."""
    sms = channel or NullChannel()
    return Dispatcher(
        runtime.engine,
        settings or runtime.settings,
        runtime.default_plans,
        {"sms": sms, "email": email or sms},
        worker_id="bench",
        clock=lambda: at,
    )


def seed(runtime: Runtime, sessions: int) -> None:
    """Patients and sessions written directly, as a practice system would."""
    with session_scope(runtime.engine) as session:
        for n in range(sessions):
            patient = Patient(
                name=f"Patient {n}", phone=f"+1310555{n:04d}", email=f"p{n}@example.org"
            )
            session.add(patient)
            session.flush()
            session.add(
                TreatmentSession(
                    patient_id=patient.id or 0, treatment="asclera", completed_at=COMPLETED
                )
            )


def seeded_runtime(url: str, sessions: int) -> Runtime:
    """A migrated database with the default templates and `sessions` unplanned sessions."""
    settings = Settings(_env_file=None, database_url=url, dispatch_batch_size=500)  # type: ignore[call-arg]
    engine = make_engine(url)
    migrate(engine)
    runtime = Runtime(settings, engine, load_care_plans())
    with session_scope(engine) as session:
        load_defaults(session, settings.templates_dir, actor="bench", now=NOW)
    seed(runtime, sessions)
    return runtime


def run(url: str, sessions: int) -> None:
    runtime = seeded_runtime(url, sessions)
    engine = runtime.engine
    started = time.perf_counter()
    planned = runtime.plan(NOW)
    plan_seconds = time.perf_counter() - started
    dispatcher = bench_dispatcher(runtime)
    sent, started = 0, time.perf_counter()
    while (report := dispatcher.run_once()).outcomes:
        sent += report.count(DispatchResult.SENT)
    send_seconds = time.perf_counter() - started
    engine.dispose()
    kind = sa.engine.make_url(url).get_backend_name()
    print(
        f"{kind}: planned {planned.messages} messages for {planned.sessions} sessions in "
        f"{plan_seconds:.2f} s ({planned.messages / plan_seconds:,.0f} rows/s)"
    )
    print(
        f"{kind}: sent {sent} messages in {send_seconds:.2f} s "
        f"({sent / send_seconds:,.0f} msg/s, {1000 * send_seconds / sent:.2f} ms each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run(f"sqlite:///{folder}/bench.db", args.sessions)
    try:
        probe = sa.create_engine(args.postgres, connect_args={"connect_timeout": 3})
        with probe.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS bench CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA bench")
        url = sa.engine.make_url(args.postgres).update_query_dict(
            {"options": "-csearch_path=bench"}
        )
        run(url.render_as_string(hide_password=False), args.sessions)
        with probe.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA bench CASCADE")
        probe.dispose()
    except sa.exc.OperationalError as exc:
        print(f"postgresql: skipped ({type(exc).__name__})")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
