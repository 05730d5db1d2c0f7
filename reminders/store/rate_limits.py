"""A rate limit kept in the database, shared by every worker: one row per limit, GCRA.

The row holds the limit's "theoretical arrival time" (`tat`): when every token booked so far
will have been paid for. Booking `cost` seconds of tokens moves it to max(tat, now) + cost in
ONE upsert, which the row lock serialises across workers; the booking may be spent once the
debt left is within the burst tolerance: at `tat - tolerance`. `now` is the database's clock
(PostgreSQL `clock_timestamp()`, read after the row lock is taken), so workers' own clocks,
which may differ, never enter into it; a worker only sleeps the returned duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from reminders.store.models import RateBucket

_UNIX_EPOCH_JULIAN_DAY = 2440587.5


@dataclass(frozen=True)
class Booking:
    wait: float  # seconds from now until the tokens may be spent
    slot: float  # that moment, in seconds since the epoch on the database's clock
    tat: float  # where the booking ends: its tokens are the `cost` seconds before it
    at: float  # the database's clock when it booked


def reserve(
    engine: Engine, name: str, cost: float, tolerance: float, *, now: float | None = None
) -> Booking:
    """Book `cost` seconds of the limit `name`, in a transaction of its own.

    `now` (seconds since the epoch) replaces the database's clock, for tests of the arithmetic.
    """
    dialect = engine.dialect.name
    clock = sa.literal(now, sa.Float) if now is not None else _database_now(dialect)
    table = RateBucket.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    latest = sa.func.greatest if dialect == "postgresql" else sa.func.max
    statement = (
        insert.values(name=name, tat=clock + cost)
        .on_conflict_do_update(
            index_elements=["name"], set_={"tat": latest(table.c.tat, clock) + cost}
        )
        .returning(table.c.tat, clock)
    )
    with engine.begin() as connection:
        if dialect == "postgresql":
            # Every send books from this one row, so each commit waiting for its WAL flush
            # would serialise all workers' texts behind the disk. A database crash can lose only
            # the last fraction of a second's bookings (wal_writer_delay), which lets that many
            # texts out early once, so the booking's commit does not wait for the flush.
            connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        tat, moment = connection.execute(statement).one()
    slot = float(tat) - tolerance  # spendable once the debt left is within the tolerance
    return Booking(wait=max(slot - float(moment), 0.0), slot=slot, tat=float(tat), at=float(moment))


def _database_now(dialect: str) -> sa.ColumnElement[float]:
    """Seconds since the epoch on the database's clock, as a float."""
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", sa.func.clock_timestamp()), sa.Float)
    return (sa.func.julianday("now") - _UNIX_EPOCH_JULIAN_DAY) * 86400.0
