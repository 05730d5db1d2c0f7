"""A consistent copy of a live SQLite database, checked before it is called a backup.

Copying the file with `cp` while the daemon writes can catch it between a page and the next,
or miss what still sits in the `-wal` file: a restore of such a copy lost 36 sends, which it
would then send again. SQLite's online backup API copies the database as one transaction
sees it, whatever writes meanwhile; `PRAGMA integrity_check` on the copy then proves it whole.
PostgreSQL has its own tool for this (`pg_dump`).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

__all__ = ["Backup", "BackupError", "backup_sqlite", "sqlite_path"]


class BackupError(RuntimeError):
    """The backup could not be made, or the copy is not whole: one line for the operator."""


@dataclass(frozen=True)
class Backup:
    path: Path
    pages: int
    bytes: int


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database (or an in-memory one)."""
    parsed = sa.engine.make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def backup_sqlite(source: Path, target: Path) -> Backup:
    """Copy `source` to `target` (which must not exist) with the online backup API, then
    check the copy's integrity; a copy that fails the check is removed."""
    if target.exists():
        raise BackupError(f"{target} exists already: choose a new file")
    if not source.is_file():
        raise BackupError(f"no database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
            live.backup(copy)
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
            pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise BackupError(f"the backup failed: {exc}") from None
    if verdict != "ok":
        target.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check ({verdict}); nothing kept")
    return Backup(target, pages, target.stat().st_size)
