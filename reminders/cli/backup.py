"""`aftercare backup FILE`: a consistent, checked copy of the SQLite database while it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reminders.cli.common import fail, settings

PG_DUMP = (
    "the database is PostgreSQL: back it up with pg_dump, e.g."
    ' `pg_dump --format=custom --file=aftercare.dump "$DATABASE_URL"` (README: Backups)'
)


def backup_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Where the copy goes (new file).")],
) -> None:
    """Copy the SQLite database while it runs (SQLite's online backup), then check the copy.

    Safe while the daemon and the web app write: unlike `cp`, the copy is one consistent
    moment, the `-wal` file included. On PostgreSQL, use pg_dump.
    """
    from reminders.store.backup import BackupError, backup_sqlite, sqlite_path

    source = sqlite_path(settings().database_url)
    if source is None:
        fail(PG_DUMP)
    try:
        done = backup_sqlite(source, file)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(
        f"Backed up {source} to {done.path} ({done.bytes:,} bytes, {done.pages:,} pages);"
        " integrity check: ok."
    )
