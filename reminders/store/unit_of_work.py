"""One transaction that runs again when it lost a race, and the drivers' errors told apart.

The web app runs every request's database work through `unit_of_work`; what the database
drivers say (a deadlock, a serialization failure, a locked SQLite file, a unique-key race)
is read here, so no room above the store knows a driver's error class.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from psycopg import errors as pg_errors
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from reminders.store.db import Engine, Session, session_scope

T = TypeVar("T")
Clock = Callable[[], datetime]
Work = Callable[[Session, datetime], T]

# Pauses before running a transaction again that lost a deadlock or a lock race (seconds):
# short, because Twilio waits 15 s for a webhook's answer, and a lost STOP is worse than a wait.
CONTENTION_DELAYS = (0.05, 0.2, 0.5)


class DatabaseUnavailable(Exception):
    """The database could not be reached or refused the work; the app answers 503."""


def unit_of_work(
    engine: Engine, clock: Clock, work: Work[T], *, sleep: Callable[[float], None] = time.sleep
) -> T:
    """One transaction, run again when a concurrent one won a race; else DatabaseUnavailable.

    A unique-key race (a webhook retried at once) runs again once, at once: now it sees the
    other request's row. A deadlock, a serialization failure or a locked SQLite file runs
    again a few times after short pauses, so a STOP is not lost to a moment's contention.
    """
    delays = iter(CONTENTION_DELAYS)
    unique_race_retried = False
    while True:
        try:
            return _transaction(engine, clock, work)
        except IntegrityError as exc:
            if unique_race_retried:
                raise DatabaseUnavailable(type(exc).__name__) from exc
            unique_race_retried = True
        except SQLAlchemyError as exc:
            delay = next(delays, None) if is_contention(exc) else None
            if delay is None:
                raise DatabaseUnavailable(type(exc).__name__) from exc
            sleep(delay)


def is_contention(exc: SQLAlchemyError) -> bool:
    """Lost to a concurrent transaction, not an outage: running it again should succeed."""
    orig = exc.orig if isinstance(exc, DBAPIError) else None
    if isinstance(orig, pg_errors.DeadlockDetected | pg_errors.SerializationFailure):
        return True
    return isinstance(orig, sqlite3.OperationalError) and str(orig).endswith("is locked")


def _transaction(engine: Engine, clock: Clock, work: Work[T]) -> T:
    with session_scope(engine) as session:
        return work(session, clock())
