"""Each test's database at the newest schema, quickly: Alembic runs the migrations once per
worker and database kind; later databases get the very statements it ran (PostgreSQL), or a
copy of the file it made (SQLite).

Running every migration through Alembic for each of some 4,000 tests cost about 0.4 s of
setup each, most of the suite's time. What a test's database holds is the same either way:
the same statements, or the same file. `tests/store/test_migrations.py` and `aftercare init`
still run the migrations themselves.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.runtime import migrate
from reminders.store.db import make_engine

_lock = threading.Lock()
_statements: list[tuple[str, Any]] = []  # what Alembic ran on PostgreSQL, in order
_sqlite_file: list[Path] = []  # a migrated SQLite file, made once


def migrated_engine(url: str, scratch: Path) -> Engine:
    """An engine on `url` with the newest schema; `scratch`, a folder of the worker's own."""
    if url.startswith("sqlite:///"):
        target = Path(url.removeprefix("sqlite:///"))
        if not target.exists():
            shutil.copyfile(_migrated_sqlite(scratch), target)
            return make_engine(url)
    engine = make_engine(url)
    try:
        if engine.dialect.name != "postgresql" or _has_schema(engine):
            migrate(engine)  # made already (by `aftercare init`, say): brought up to date
        elif _statements:
            _replay(engine)
        else:
            _record(engine)
    except BaseException:
        engine.dispose()  # no connection left for the garbage collector to complain of
        raise
    return engine


def _has_schema(engine: Engine) -> bool:
    return sa.inspect(engine).has_table("alembic_version")


def _migrated_sqlite(scratch: Path) -> Path:
    with _lock:
        if not _sqlite_file:
            path = scratch / "migrated.db"
            engine = make_engine(f"sqlite:///{path}")
            migrate(engine)
            engine.dispose()  # checkpoints the WAL: the file alone is the database
            _sqlite_file.append(path)
        return _sqlite_file[0]


def _record(engine: Engine) -> None:
    ran: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    try:
        migrate(engine)
    finally:
        sa.event.remove(engine, "before_cursor_execute", keep)
    with _lock:
        if not _statements:
            _statements.extend(ran)


def _replay(engine: Engine) -> None:
    with engine.begin() as connection:
        for statement, parameters in _statements:
            connection.exec_driver_sql(statement, parameters or None)
