"""The dashboard `/` on a large outbox: its figures come from a few GROUP BY statements, so
100,000 rows must still answer well within a second.

Seeds patients, sessions (every 20th entered again), outbox rows spread over 45 days either
side of now in every status, bookings of every third session, opt-outs and heartbeats
straight into a temporary SQLite database (or an empty PostgreSQL schema given by
--postgres), then times the dashboard's figures (`web.dashboard.gather` and
`web.booking_figures.conversion`) and the chart (`web.charts.delivery_chart`).

    .venv/bin/python bench/dashboard_speed.py [--rows 100000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.runtime import migrate
from reminders.store.booking_tables import Booking
from reminders.store.db import make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.models import OptOut, OutboxMessage, Patient, TreatmentSession, WorkerHeartbeat
from reminders.web.booking_figures import conversion
from reminders.web.charts import delivery_chart
from reminders.web.dashboard import gather, past_days

TARGET_SECONDS = 1.0
PER_SESSION = 10
NOW = datetime.now(UTC).replace(microsecond=0)
CLINIC = ZoneInfo("America/Los_Angeles")
PAST = ("delivered", "delivered", "delivered", "sent", "undelivered", "failed", "skipped")


def seed(engine: Engine, rows: int) -> None:
    sessions = rows // PER_SESSION
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Patient),
            [{"id": n, "name": f"Patient {n}", "phone": f"+1310{n:07d}", "language": "en",
              "sms_consent": True, "email_consent": True, "created_at": NOW}
             for n in range(1, sessions + 1)],
        )  # fmt: skip
        connection.execute(
            sa.insert(TreatmentSession),
            [{"id": n, "patient_id": n, "treatment": "asclera", "status": "completed",
              "completed_at": NOW - timedelta(days=n % 120), "planned_at": NOW, "created_at": NOW,
              "replaces_session_id": n - 1 if n % 20 == 0 else None}
             for n in range(1, sessions + 1)],
        )  # fmt: skip
        connection.execute(
            sa.insert(OutboxMessage),
            [_message(n, step) for n in range(1, sessions + 1) for step in range(PER_SESSION)],
        )
        connection.execute(
            sa.insert(Booking),  # every third session booked, 20 to 80 days after it
            [{"session_id": n, "patient_id": n, "source": "cal", "external_id": f"uid-{n}",
              "starts_at": NOW, "status": "booked", "updated_at": NOW,
              "booked_at": NOW - timedelta(days=n % 120) + timedelta(days=20 + n % 61)}
             for n in range(3, sessions + 1, 3)],
        )  # fmt: skip
        connection.execute(
            sa.insert(OptOut),
            [{"channel": "sms", "address": f"+1415{n:07d}", "source": "sms_reply",
              "created_at": NOW - timedelta(hours=n)} for n in range(500)],
        )  # fmt: skip
        connection.execute(
            sa.insert(WorkerHeartbeat),
            [{"worker_id": f"host:{n}", "seen_at": NOW - timedelta(hours=n)} for n in range(200)],
        )


def _message(session: int, step: int) -> dict[str, object]:
    """Due anywhere from 45 days ago to 45 days ahead; past ones in a past status."""
    due = NOW + timedelta(minutes=(session * 7919 + step * 104729) % (90 * 1440) - 45 * 1440)
    past = due < NOW
    status = PAST[(session + step) % len(PAST)] if past else "pending"
    return {
        "session_id": session, "patient_id": session, "plan": "asclera",
        "step": f"step_{step}", "channel": "email" if step % 3 == 0 else "sms",
        "status": status, "due_at": due, "attempts": int(past),
        "sent_at": due if past and status in ("delivered", "sent", "undelivered") else None,
        "delivery_retries": 0, "created_at": due, "updated_at": due,
    }  # fmt: skip


def timed(run: Callable[[], object]) -> float:
    """Best of three, so a cold page cache does not decide the figure."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def figures(engine: Engine) -> None:
    with session_scope(engine) as session:
        gather(session, NOW, CLINIC, 120.0)
        conversion(session, NOW, load_care_plans())


def chart(engine: Engine) -> None:
    with session_scope(engine) as session:
        days = past_days(session, NOW, CLINIC)
    delivery_chart([d.day for d in days], [d.outcomes for d in days])


def run(engine: Engine, rows: int, label: str) -> None:
    migrate(engine)
    started = time.perf_counter()
    seed(engine, rows)
    print(f"{label}: seeded {rows:,} outbox rows in {time.perf_counter() - started:.1f} s")
    for name, work in (("dashboard figures", figures), ("chart (query + SVG)", chart)):
        seconds = timed(lambda work=work: work(engine))  # type: ignore[misc]
        verdict = "ok" if seconds <= TARGET_SECONDS else "TOO SLOW"
        print(f"{label}: {name}: {seconds:.3f} s (target <= {TARGET_SECONDS:.0f} s) {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL; a schema of its own is made")
    args = parser.parse_args()
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres)
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = sa.engine.make_url(args.postgres).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        engine = make_engine(url.render_as_string(hide_password=False))
        try:
            run(engine, args.rows, "PostgreSQL")
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()
        return
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        run(engine, args.rows, "SQLite")
        engine.dispose()


if __name__ == "__main__":
    main()
