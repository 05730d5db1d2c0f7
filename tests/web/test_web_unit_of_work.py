"""The web's unit of work: a transaction that lost a race runs again; an outage is a 503.

A STOP must not be lost to a deadlock with a worker voiding or superseding the same rows, a
serialization failure, or a SQLite file locked for a moment: those run again a few times
after short pauses. A unique-key race runs again once. Anything else is DatabaseUnavailable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from psycopg import errors as pg_errors
from sqlalchemy.engine import Engine
from sqlmodel import Session

from reminders.store.unit_of_work import CONTENTION_DELAYS, DatabaseUnavailable, unit_of_work
from tests.support.settings import utc

NOW = utc(2026, 3, 10, 18, 0)


def operational(orig: Exception) -> sa.exc.OperationalError:
    return sa.exc.OperationalError("UPDATE outbox_message ...", None, orig)


DEADLOCK = operational(pg_errors.DeadlockDetected("deadlock detected"))
SERIALIZATION = operational(pg_errors.SerializationFailure("could not serialize access"))
SQLITE_LOCKED = operational(sqlite3.OperationalError("database is locked"))
UNIQUE_RACE = sa.exc.IntegrityError("INSERT INTO reply ...", None, Exception("duplicate key"))
OUTAGE = operational(pg_errors.AdminShutdown("terminating connection"))
NO_FILE = operational(sqlite3.OperationalError("unable to open database file"))


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = sa.create_engine("sqlite://")
    yield engine
    engine.dispose()


class Flaky:
    """Work that fails with the given errors, in turn, then answers 'done'."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, session: Session, now: datetime) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def run(engine: Engine, work: Flaky, pauses: list[float]) -> str:
    return unit_of_work(engine, lambda: NOW, work, sleep=pauses.append)


@pytest.mark.parametrize("error", [DEADLOCK, SERIALIZATION, SQLITE_LOCKED])
def test_a_transaction_that_lost_a_race_runs_again_after_a_short_pause(engine, error):
    pauses: list[float] = []
    work = Flaky(error, error)

    assert run(engine, work, pauses) == "done"
    assert (work.calls, pauses) == (3, list(CONTENTION_DELAYS[:2]))
    assert sum(CONTENTION_DELAYS) < 2  # Twilio waits 15 s for the answer


def test_contention_that_does_not_pass_is_a_503_after_a_few_tries(engine):
    pauses: list[float] = []
    work = Flaky(*[DEADLOCK] * (len(CONTENTION_DELAYS) + 1))

    with pytest.raises(DatabaseUnavailable):
        run(engine, work, pauses)
    assert (work.calls, pauses) == (len(CONTENTION_DELAYS) + 1, list(CONTENTION_DELAYS))


@pytest.mark.parametrize("error", [OUTAGE, NO_FILE])
def test_an_outage_is_a_503_at_once(engine, error):
    pauses: list[float] = []
    work = Flaky(error)

    with pytest.raises(DatabaseUnavailable):
        run(engine, work, pauses)
    assert (work.calls, pauses) == (1, [])


def test_a_unique_key_race_runs_again_once_at_once(engine):
    pauses: list[float] = []
    assert run(engine, Flaky(UNIQUE_RACE), pauses) == "done"
    assert pauses == []
    with pytest.raises(DatabaseUnavailable):
        run(engine, Flaky(UNIQUE_RACE, UNIQUE_RACE), pauses)


def test_a_unique_key_race_and_a_deadlock_each_get_their_retry(engine):
    pauses: list[float] = []
    work = Flaky(UNIQUE_RACE, DEADLOCK)

    assert run(engine, work, pauses) == "done"
    assert (work.calls, pauses) == (3, [CONTENTION_DELAYS[0]])
