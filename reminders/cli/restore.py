"""`aftercare restore FILE`: a backup made by `aftercare backup` put back, and what may have
gone since held for staff to decide.

A backup is a moment: a message pending then may have been sent after it, and the copy would
send it again. So every message the restored copy still has to send that was due by now, or
was being sent or of unknown outcome, is held (`store.holds`): staff release or skip each
(`aftercare messages release|skip`), and nothing goes twice unasked. On PostgreSQL, restore
with pg_restore, then `aftercare restore --hold-only` holds the same messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reminders.cli.common import actor, fail, runtime, settings

if TYPE_CHECKING:
    from datetime import datetime

    from reminders.settings import Settings

PG_RESTORE = (
    "the database is PostgreSQL: restore a pg_dump file with pg_restore, e.g."
    " `pg_restore --clean --if-exists --dbname=postgresql://USER@HOST/DB aftercare.dump`,"
    " then run `aftercare init` and `aftercare restore --hold-only` (README: Backups)"
)


def restore_command(
    file: Annotated[
        Path | None,
        typer.Argument(metavar="FILE", help="A backup made by `aftercare backup`."),
    ] = None,
    hold_only: Annotated[
        bool,
        typer.Option("--hold-only", help="Restored by other means (pg_restore): only hold."),
    ] = False,
) -> None:
    """Put a backup back in place of the SQLite database, then hold what may have gone since.

    Refused while a daemon is running here (its heartbeat is fresh). The backup is checked
    first, the database it replaces is kept beside it (`….before-restore-STAMP`), the result
    is checked and upgraded as `aftercare init` does; then every message still to send that
    was due by now (or being sent, or of unknown outcome) is held: nothing is sent until
    staff decide, with `aftercare messages release ID` or `aftercare messages skip ID`.
    """
    from reminders.clock import utcnow

    loaded = settings()
    now = utcnow()
    if hold_only:
        _refuse_while_running(loaded, now)
    elif file is None:
        fail("name the backup FILE (or --hold-only after a pg_restore)")
    else:
        _restore(loaded, file, now)
    _hold(loaded, now, restored=not hold_only)


def _restore(loaded: Settings, file: Path, now: datetime) -> None:
    from reminders.store.backup import BackupError, restore_sqlite, sqlite_path

    target = sqlite_path(loaded.database_url)
    if target is None:
        fail(PG_RESTORE)
    _refuse_while_running(loaded, now)
    try:
        done = restore_sqlite(file, target, stamp=f"{now:%Y%m%dT%H%M%S}")
    except BackupError as exc:
        fail(str(exc))
    if done.kept is not None:
        typer.echo(f"The database it replaces is kept as {done.kept}.")
    typer.echo(f"Restored {file} to {done.path} ({done.pages:,} pages); integrity check: ok.")


def _refuse_while_running(loaded: Settings, now: datetime) -> None:
    """A daemon writing meanwhile would send from, or over, the restored copy."""
    from reminders.runtime import health_thresholds
    from reminders.store.backup import sqlite_path
    from reminders.store.db import DatabaseError, make_engine
    from reminders.store.health import read_workers

    path = sqlite_path(loaded.database_url)
    if path is not None and not path.is_file():
        return
    engine = make_engine(loaded.database_url)
    try:
        with engine.connect() as connection:
            alive_within = health_thresholds(loaded).alive_within
            alive = [w for w in read_workers(connection, now, alive_within) if w.alive]
    except DatabaseError:  # a broken database cannot say: it is what a restore replaces
        alive = []
    finally:
        engine.dispose()
    if alive:
        fail(
            f"a daemon is running ({alive[0].worker_id}, seen {alive[0].age_seconds:.0f}s ago):"
            " stop it and the web app first; nothing was restored"
        )


def _stop_copied_workers(loaded: Settings, now: datetime) -> None:
    """The copy's heartbeats are of workers that ran when it was made: marked stopped, so
    that neither `aftercare status` nor another restore takes them for a running daemon."""
    from reminders.runtime import health_thresholds
    from reminders.store.db import make_engine
    from reminders.store.health import mark_stopped, read_workers

    engine = make_engine(loaded.database_url)
    try:
        with engine.begin() as connection:
            alive_within = health_thresholds(loaded).alive_within
            for worker in read_workers(connection, now, alive_within):
                if worker.stopped_at is None:
                    mark_stopped(connection, worker.worker_id, now)
    finally:
        engine.dispose()


def _hold(loaded: Settings, now: datetime, *, restored: bool) -> None:
    from reminders.runtime import SchemaMismatch, initialize
    from reminders.store.db import session_scope
    from reminders.store.holds import hold_restored

    rt = runtime(initialized=False)
    try:
        initialize(rt, actor="restore", now=now)  # an older copy is upgraded, and checked
    except SchemaMismatch as exc:
        fail(f"{exc}; the restored database is not usable as it is (ask for help)")
    if restored:
        _stop_copied_workers(loaded, now)
    with session_scope(rt.engine) as session:
        held = hold_restored(session, now, actor=actor())
    if not held:
        typer.echo("Nothing was waiting to be sent: nothing held.")
        return
    typer.echo(
        f"{held} message(s) held: they were still to go in the copy, and may have gone after"
        " the backup was taken. See them with `aftercare messages --held`; send each with"
        " `aftercare messages release ID` or drop it with `aftercare messages skip ID`"
        " (`--restored` for all of them)."
    )
