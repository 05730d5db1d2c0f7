"""The web app: Twilio webhooks, health, unsubscribe links. Build it with `app.create_app`.

What every route shares lives here: the app's state (settings, engine, clock, set by
`create_app`) and one unit of work that turns a database outage into a 503, never a 500.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from fastapi import Request
from psycopg import errors as pg_errors
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from reminders.rules.care_plans import CarePlans
from reminders.settings import Settings
from reminders.store.db import session_scope

if TYPE_CHECKING:
    from reminders.planning.enroll_patient import Desk

T = TypeVar("T")
Clock = Callable[[], datetime]
Work = Callable[[Session, datetime], T]

# Pauses before running a transaction again that lost a deadlock or a lock race (seconds):
# short, because Twilio waits 15 s for a webhook's answer, and a lost STOP is worse than a wait.
CONTENTION_DELAYS = (0.05, 0.2, 0.5)


class DatabaseUnavailable(Exception):
    """The database could not be reached or refused the work; the app answers 503."""


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def plans_of(request: Request) -> CarePlans:
    plans: CarePlans = request.app.state.plans
    return plans


def desk_of(request: Request) -> Desk:
    """What enrolling needs from the app: the plans it was built with, the clinic's zone and
    phone region (the plans in force are read from them in each transaction)."""
    from reminders.planning.enroll_patient import Desk

    settings = settings_of(request)
    return Desk(plans_of(request), settings.timezone, settings.default_phone_region)


def now_of(request: Request) -> datetime:
    """The app's clock (tests move it), for a page that needs `now` outside `run_db`."""
    now: datetime = request.app.state.clock()
    return now


async def run_db(request: Request, work: Work[T]) -> T:
    """Run `work(session, now)` in one transaction, off the event loop."""
    state = request.app.state
    return await run_in_threadpool(unit_of_work, state.engine, state.clock, work)


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
