"""Engine and session factory; the only place that knows SQLite from PostgreSQL at connect time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as Connection
from sqlalchemy.engine import Engine as Engine
from sqlalchemy.exc import SQLAlchemyError as DatabaseError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session as Session

from reminders.rules.names import COMBINING_MARKS, fold_name

# Other rooms take `Session`, `Engine`, `Connection` and `DatabaseError` from here, never from
# SQLAlchemy: only the store speaks to the database layer.
__all__ = [
    "Connection",
    "DatabaseError",
    "Engine",
    "Session",
    "make_engine",
    "printable_url",
    "session_scope",
]

# The largest id a query may name: PostgreSQL's INTEGER ids hold no larger (SQLite's, 2**63 - 1).
# Ids typed into a URL or a command are checked against it before they reach a query.
MAX_ID = 2**31 - 1


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend.

    SQLite keeps no offset, so values are stored as naive UTC there and comparisons in SQL
    stay correct; a naive value is refused rather than guessed.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: sa.Dialect) -> Any:
        """On SQLite, the text SQLAlchemy would store, made in one step: the planner binds
        tens of thousands of these per import, and the two steps cost twice as much."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            value = self.process_bind_param(value, dialect)
            return None if value is None else value.isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    # Errors quote their SQL parameters, which hold phone numbers and message bodies, and
    # errors get logged: keep the parameters out of them.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        _require_sqlite_version()
        _ensure_sqlite_folder(url)
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # Every send thread books the shared SMS rate through the engine while the main thread
    # prepares and records: with fewer pooled connections than that, the overflow ones are
    # opened and closed again all through a drain (a new PostgreSQL backend each time).
    kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def printable_url(url: str) -> str:
    """The database URL without its password, fit to print."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


POSTGRES_POOL_SIZE = 12  # SEND_CONCURRENCY's default of 8, the main thread, heartbeats, metrics


SQLITE_MINIMUM = (3, 35, 0)  # UPDATE ... RETURNING and MATERIALIZED common table expressions


def _require_sqlite_version() -> None:
    if sqlite3.sqlite_version_info < SQLITE_MINIMUM:
        raise RuntimeError(
            f"SQLite {sqlite3.sqlite_version} is too old: Aftercare needs 3.35 or newer"
        )


def _ensure_sqlite_folder(url: str) -> None:
    database = sa.engine.make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions (pysqlite's own BEGIN handling is off).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    dbapi_connection.create_function(SQLITE_FOLD_NAME, 1, _fold_name_or_null, deterministic=True)


def _sqlite_begin_immediate(connection: sa.Connection) -> None:
    # Take the write lock at BEGIN: two processes never deadlock upgrading a read lock.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


SQLITE_FOLD_NAME = "aftercare_fold_name"


def _fold_name_or_null(value: object) -> str | None:
    return fold_name(value) if isinstance(value, str) else None


class FoldedName(FunctionElement[str]):
    """A name in SQL, folded as `rules.names.fold_name` folds it: SQLite calls that very
    function (registered at connect); PostgreSQL (13 or newer) decomposes it, drops the
    accents' marks, then folds case and runs of spaces, in C."""

    type = sa.String()
    inherit_cache = True
    name = "folded_name"


@compiles(FoldedName, "sqlite")
def _folded_on_sqlite(element: FoldedName, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(getattr(sa.func, SQLITE_FOLD_NAME)(*element.clauses), **kw)


@compiles(FoldedName)
def _folded_in_sql(element: FoldedName, compiler: SQLCompiler, **kw: Any) -> str:
    [name] = element.clauses
    decomposed = sa.func.normalize(name, sa.literal_column("NFKD"))
    bare = sa.func.lower(sa.func.translate(decomposed, COMBINING_MARKS, ""))
    spaced = sa.func.regexp_replace(bare, r"\s+", " ", "g")
    return compiler.process(sa.func.btrim(spaced), **kw)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error. Helpers never commit."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
