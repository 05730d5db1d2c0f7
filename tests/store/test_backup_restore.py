"""`store.backup.restore_sqlite`: a backup is checked before it replaces anything, the
database it replaces is kept, and the old database's `-wal` file is never replayed over the
restored one."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from reminders.store.backup import BackupError, backup_sqlite, restore_sqlite


def database(path: Path, rows: int) -> Path:
    """An Aftercare-shaped file (one of its tables) in WAL mode, with `rows` rows."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS outbox_message (id INTEGER PRIMARY KEY)")
        db.executemany("INSERT INTO outbox_message DEFAULT VALUES", [()] * rows)
        db.commit()
    return path


def count(path: Path) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute("SELECT count(*) FROM outbox_message").fetchone()[0])


def test_the_backup_replaces_the_database_which_is_kept_beside_it(tmp_path):
    live = database(tmp_path / "aftercare.db", 3)
    copy = backup_sqlite(live, tmp_path / "copy.db").path
    database(live, 4)  # seven rows after the backup
    with closing(sqlite3.connect(live)) as writer:  # a -wal file left by a process...
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("INSERT INTO outbox_message DEFAULT VALUES")
        writer.commit()
        done = restore_sqlite(copy, live, stamp="20261206T120000")
    assert count(live) == 3  # ...not replayed over the restored pages
    assert done.kept == tmp_path / "aftercare.db.before-restore-20261206T120000"
    assert count(done.kept) == 8


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"not a database" * 200, "cannot be read as a SQLite database"),
        (None, "is not an Aftercare database"),
    ],
)
def test_a_backup_that_is_not_a_whole_aftercare_database_replaces_nothing(tmp_path, content, said):
    live = database(tmp_path / "aftercare.db", 2)
    backup = tmp_path / "backup.db"
    if content is None:
        with closing(sqlite3.connect(backup)) as other:
            other.execute("CREATE TABLE x (y)")
            other.commit()
    else:
        backup.write_bytes(content)
    with pytest.raises(BackupError, match=said):
        restore_sqlite(backup, live, stamp="x")
    assert count(live) == 2 and not list(tmp_path.glob("*.before-restore-*"))


def test_the_database_itself_is_not_a_backup(tmp_path):
    live = database(tmp_path / "aftercare.db", 1)
    with pytest.raises(BackupError, match="is the database itself"):
        restore_sqlite(live, live, stamp="x")
