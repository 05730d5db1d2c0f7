"""`aftercare messages` on a large outbox: one page must cost the same with 100,000 rows.

Seeds patients (half in New York, half in the clinic's zone), sessions (every 20th entered
again, so its first entry is replaced) and outbox rows straight into a temporary SQLite
database, then times the listing query plus table formatting for the default limit, and for a
one-week --since/--until window, and prints each figure beside its target.

    .venv/bin/python bench/messages_listing.py [--rows 100000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.cli import output as out
from reminders.cli.messages import DEFAULT_LIMIT
from reminders.runtime import migrate
from reminders.store.db import make_engine
from reminders.store.models import OutboxMessage, Patient, TreatmentSession
from reminders.store.queries import MessageFilter, page_messages

TARGET_SECONDS = 1.0
PER_SESSION = 10  # outbox rows per session
START = datetime(2026, 1, 5, 17, 0, tzinfo=UTC)
CLINIC = ZoneInfo("America/Los_Angeles")


def seed(engine: Engine, rows: int) -> None:
    """Core executemany in one transaction: seconds for 100,000 rows, not minutes."""
    sessions = rows // PER_SESSION
    patients = [
        {"id": n, "name": f"Patient {n}", "phone": f"+1310{n:07d}",
         "timezone": "America/New_York" if n % 2 else None, "language": "en",
         "sms_consent": True, "email_consent": True, "created_at": START}
        for n in range(1, sessions + 1)
    ]  # fmt: skip
    treatments = [_session(n) for n in range(1, sessions + 1)]
    messages = [
        _message(n, step, (n - 1) * PER_SESSION + step + 1)
        for n in range(1, sessions + 1)
        for step in range(PER_SESSION)
    ]
    with engine.begin() as connection:
        connection.execute(sa.insert(Patient), patients)
        connection.execute(sa.insert(TreatmentSession), treatments)
        connection.execute(sa.insert(OutboxMessage), messages)


def _replaces(n: int) -> int | None:
    """Every 20th session is a second entry of the one before it."""
    return n - 1 if n % 20 == 0 else None


def _session(n: int) -> dict[str, object]:
    return {
        "id": n, "patient_id": _replaces(n) or n, "treatment": "asclera",
        "completed_at": START + timedelta(hours=n), "status": "completed",
        "replaces_session_id": _replaces(n), "planned_at": START,
        "created_at": START,
    }  # fmt: skip


def _message(session: int, step: int, row_id: int) -> dict[str, object]:
    due = START + timedelta(hours=session, days=step * 3)
    sent = step < 3
    return {
        "id": row_id, "session_id": session, "patient_id": _replaces(session) or session,
        "plan": "asclera", "step": f"step_{step}", "channel": "sms",
        "status": "sent" if sent else "pending",
        "due_at": due, "not_after": due + timedelta(days=1), "attempts": int(sent),
        "sent_at": due if sent else None, "body": "Hello", "delivery_retries": 0,
        "created_at": START, "updated_at": START,
    }  # fmt: skip


def timed(run: Callable[[], object]) -> float:
    """Best of three, so a cold page cache does not decide the figure."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def listing(engine: Engine, where: MessageFilter) -> Callable[[], object]:
    def run() -> object:
        page = page_messages(engine, where, limit=DEFAULT_LIMIT)
        with contextlib.redirect_stdout(io.StringIO()):
            out.print_message_page(page, CLINIC)
        return page

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/bench.db")
        migrate(engine)
        started = time.perf_counter()
        seed(engine, args.rows)
        print(f"seeded {args.rows:,} outbox rows in {time.perf_counter() - started:.1f} s")
        week = MessageFilter(since=START + timedelta(days=30), before=START + timedelta(days=37))
        for label, where in (("default", MessageFilter()), ("one-week window", week)):
            seconds = timed(listing(engine, where))
            verdict = "ok" if seconds <= TARGET_SECONDS else "TOO SLOW"
            print(
                f"messages, {label}, limit {DEFAULT_LIMIT}: {seconds:.3f} s"
                f" (target <= {TARGET_SECONDS:.0f} s) {verdict}"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
