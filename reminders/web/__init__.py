"""The web app: Twilio webhooks, health, unsubscribe links. Build it with `app.create_app`.

What every route shares lives here: the app's state (settings, engine, clock, set by
`create_app`) and one unit of work that turns a database outage into a 503, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from fastapi import Request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from reminders.db import session_scope
from reminders.settings import Settings

T = TypeVar("T")
Clock = Callable[[], datetime]
Work = Callable[[Session, datetime], T]


class DatabaseUnavailable(Exception):
    """The database could not be reached or refused the work; the app answers 503."""


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def run_db(request: Request, work: Work[T]) -> T:
    """Run `work(session, now)` in one transaction, off the event loop."""
    state = request.app.state
    return await run_in_threadpool(unit_of_work, state.engine, state.clock, work)


def unit_of_work(engine: Engine, clock: Clock, work: Work[T]) -> T:
    """One transaction; run again once after a unique-key race (a webhook retried at once)."""
    try:
        try:
            return _transaction(engine, clock, work)
        except IntegrityError:
            return _transaction(engine, clock, work)  # now it sees the other request's row
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(type(exc).__name__) from exc


def _transaction(engine: Engine, clock: Clock, work: Work[T]) -> T:
    with session_scope(engine) as session:
        return work(session, clock())
