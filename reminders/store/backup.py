"""A consistent copy of a live SQLite database, checked before it is called a backup.

Copying the file with `cp` while the daemon writes can catch it between a page and the next,
or miss what still sits in the `-wal` file: a restore of such a copy lost 36 sends, which it
would then send again. SQLite's online backup API copies the database as one transaction
sees it, whatever writes meanwhile; `PRAGMA integrity_check` on the copy then proves it whole.
PostgreSQL has its own tool for this (`pg_dump`). A restore (`restore_sqlite`) checks the
backup first, keeps the database it replaces beside it, and copies with the same API, so a
`-wal` file of the old database is never replayed over the restored one.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

__all__ = ["Backup", "BackupError", "Restored", "backup_sqlite", "restore_sqlite", "sqlite_path"]


class BackupError(RuntimeError):
    """The backup could not be made, or the copy is not whole: one line for the operator."""


@dataclass(frozen=True)
class Backup:
    path: Path
    pages: int
    bytes: int


@dataclass(frozen=True)
class Restored:
    path: Path
    pages: int
    kept: Path | None  # the database it replaced, copied aside; None when there was none


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


def restore_sqlite(backup: Path, target: Path, *, stamp: str) -> Restored:
    """Copy `backup` over the database at `target` with the online backup API, after checking
    that the backup is whole and Aftercare's; the database it replaces is first copied to
    `target.before-restore-STAMP` (when it can still be read), then the result is checked."""
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    if backup.resolve() == target.resolve():
        raise BackupError(f"{backup} is the database itself: name a backup")
    _check_backup(backup)
    kept = None
    if target.is_file():
        kept = target.with_name(f"{target.name}.before-restore-{stamp}")
        try:
            backup_sqlite(target, kept)
        except BackupError:  # a broken database is what a restore is for: replaced all the same
            kept = None
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(_read_only(backup)) as copy, closing(sqlite3.connect(target)) as live:
            copy.backup(live)
            verdict = live.execute("PRAGMA integrity_check").fetchone()[0]
            pages = int(live.execute("PRAGMA page_count").fetchone()[0])
    except sqlite3.Error as exc:
        raise BackupError(f"the restore failed: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"the restored database failed its integrity check ({verdict})")
    return Restored(target, pages, kept)


def _check_backup(backup: Path) -> None:
    try:
        with closing(_read_only(backup)) as copy:
            verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
            ours = copy.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'outbox_message'"
            ).fetchone()[0]
    except sqlite3.Error as exc:
        raise BackupError(f"{backup} cannot be read as a SQLite database: {exc}") from None
    if verdict != "ok":
        raise BackupError(f"{backup} failed its integrity check ({verdict}); nothing restored")
    if not ours:
        raise BackupError(f"{backup} is not an Aftercare database; nothing restored")


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
