"""`aftercare restore FILE` and `aftercare messages release|skip`: a restore puts the backup
back and holds what may have gone since, so nothing is sent twice unless staff say so."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from reminders.store.health import mark_stopped
from tests.support.cli import Aftercare
from tests.support.health import worker_seen

NOW = datetime(2026, 6, 16, 18, 0, tzinfo=UTC)  # 11:00 in Los Angeles: inside the send window
MARIA = ("--name", "Maria Lopez", "--phone", "3105550142", "--email", "maria@example.com",
         "--treatment", "asclera",
         "--completed-at", "2026-06-16 10:30")  # fmt: skip


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
POSTGRES_ONLY = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def held_ids(aftercare: Aftercare) -> list[int]:
    listed = aftercare.json("messages", "--held")
    assert isinstance(listed, list)
    return [row["id"] for row in listed]


@SQLITE_ONLY
def test_a_restore_holds_what_may_have_gone_and_staff_decide(aftercare: Aftercare, tmp_path):
    aftercare.now = NOW
    aftercare("enroll", *MARIA)
    aftercare("backup", str(tmp_path / "copy.db"))
    aftercare("tick")
    sent = len(aftercare.delivered())
    assert sent >= 2  # the day-0 text and email went after the backup was taken

    out = aftercare("restore", str(tmp_path / "copy.db"))
    assert "integrity check: ok" in out and f"{sent} message(s) held" in out
    assert list(tmp_path.glob("aftercare.db.before-restore-*"))
    held = held_ids(aftercare)
    assert len(held) == sent
    aftercare("tick")
    assert len(aftercare.delivered()) == sent  # nothing went again by itself

    status = aftercare.result("status")
    assert status.exit_code == 1
    assert f"{sent} message(s) restored from a backup need a decision" in status.output

    assert "1 message(s) released" in aftercare("messages", "release", str(held[0]))
    aftercare("tick")
    assert len(aftercare.delivered()) == sent + 1  # staff chose to send that one again
    out = aftercare("messages", "skip", "--restored")
    assert f"{sent - 1} message(s) skipped" in out
    assert held_ids(aftercare) == []
    missing = aftercare.result("messages", "release", str(held[0]))
    assert missing.exit_code == 1 and f"not held (nothing done): {held[0]}" in missing.stderr
    assert "restored from a backup" not in aftercare.result("status").output


@SQLITE_ONLY
def test_a_restore_is_refused_while_a_daemon_runs(aftercare: Aftercare, tmp_path):
    aftercare.now = NOW
    aftercare("backup", str(tmp_path / "copy.db"))
    aftercare("enroll", *MARIA)
    worker_seen_now(aftercare)
    refused = aftercare.result("restore", str(tmp_path / "copy.db"))
    assert refused.exit_code == 1 and "a daemon is running" in refused.stderr
    assert len(held_ids(aftercare)) == 0 and aftercare.json("messages")  # still the live data
    assert not list(tmp_path.glob("aftercare.db.before-restore-*"))


def worker_seen_now(aftercare: Aftercare) -> None:
    engine = sa.create_engine(aftercare.database_url)
    try:
        worker_seen(engine, "clinic-1:4242", aftercare.now - timedelta(seconds=3))
    finally:
        engine.dispose()


@SQLITE_ONLY
def test_a_backup_that_is_not_whole_or_not_ours_is_refused(aftercare: Aftercare, tmp_path):
    aftercare.now = NOW
    aftercare("enroll", *MARIA)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    refused = aftercare.result("restore", str(junk))
    assert refused.exit_code == 1 and "cannot be read as a SQLite database" in refused.stderr
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.commit()
    refused = aftercare.result("restore", str(other))
    assert refused.exit_code == 1 and "not an Aftercare database" in refused.stderr
    assert aftercare.json("messages")  # the live data is untouched


@POSTGRES_ONLY
def test_postgresql_is_sent_to_pg_restore_and_then_holds(aftercare: Aftercare, tmp_path):
    aftercare.now = NOW
    aftercare("enroll", *MARIA)
    refused = aftercare.result("restore", str(tmp_path / "aftercare.dump"))
    assert refused.exit_code == 1 and "pg_restore --clean" in refused.stderr
    assert "--hold-only" in refused.stderr
    out = aftercare("restore", "--hold-only")
    assert "message(s) held" in out
    assert len(held_ids(aftercare)) >= 2


@SQLITE_ONLY
def test_the_copys_heartbeats_are_not_taken_for_a_running_daemon(aftercare: Aftercare, tmp_path):
    aftercare.now = NOW
    worker_seen_now(aftercare)  # the daemon ran when the backup was made...
    aftercare("backup", str(tmp_path / "copy.db"))
    engine = sa.create_engine(aftercare.database_url)
    try:
        with engine.begin() as connection:
            mark_stopped(connection, "clinic-1:4242", aftercare.now)  # ...and was stopped
    finally:
        engine.dispose()
    aftercare("restore", str(tmp_path / "copy.db"))
    assert "Workers: 0 alive" in aftercare.result("status").output
    aftercare("restore", str(tmp_path / "copy.db"))  # again: not refused
