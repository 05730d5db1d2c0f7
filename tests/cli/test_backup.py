"""`aftercare backup FILE`: a copy made while another process writes is whole, checked and
usable as the database; an existing file is not overwritten; PostgreSQL is sent to pg_dump."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa

from tests.support.cli import Aftercare

MARIA = ("--name", "Maria Lopez", "--phone", "3105550142", "--treatment", "asclera")


def keep_writing(url: str, stop: threading.Event) -> int:
    """Another process's writes, as the daemon's would be, until `stop`; how many."""
    engine = sa.create_engine(url)
    written = 0
    try:
        while not stop.is_set():
            with engine.begin() as db:
                db.execute(
                    sa.text(
                        "INSERT INTO audit_event (at, actor, action, entity)"
                        " VALUES (CURRENT_TIMESTAMP, 'writer', 'probe', 'test')"
                    )
                )
            written += 1
    finally:
        engine.dispose()
    return written


def test_a_backup_taken_while_writes_go_on_is_whole_and_usable(aftercare: Aftercare, tmp_path):
    if not aftercare.database_url.startswith("sqlite"):
        result = aftercare.result("backup", str(tmp_path / "copy.db"))
        assert result.exit_code == 1
        assert "back it up with pg_dump" in result.stderr
        assert not (tmp_path / "copy.db").exists()
        return
    aftercare("enroll", *MARIA, "--completed-at", "2026-06-15 10:00")
    stop = threading.Event()
    counts: list[int] = []
    writer = threading.Thread(
        target=lambda: counts.append(keep_writing(aftercare.database_url, stop))
    )
    writer.start()
    try:
        out = aftercare("backup", str(tmp_path / "backups" / "copy.db"))
    finally:
        stop.set()
        writer.join()
    copy = tmp_path / "backups" / "copy.db"
    assert "integrity check: ok" in out and counts[0] > 0
    with closing(sqlite3.connect(copy)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM outbox_message").fetchone()[0] > 0
    restored = Aftercare(f"sqlite:///{copy}", tmp_path)  # the copy works as the database
    listed = restored.json("messages")
    assert isinstance(listed, list) and len(listed) > 0


def test_a_backup_never_overwrites_a_file(aftercare: Aftercare, tmp_path: Path):
    if not aftercare.database_url.startswith("sqlite"):
        return
    existing = tmp_path / "keep.db"
    existing.write_text("precious")
    result = aftercare.result("backup", str(existing))
    assert result.exit_code == 1
    assert "exists already" in result.stderr
    assert existing.read_text() == "precious"
