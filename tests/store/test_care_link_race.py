"""Two workers composing a session's first texts at the same instant make one care link: both
texts carry the same link, and one row is kept (SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from reminders.rules.care_links import CareLinks
from reminders.store import care_links
from reminders.store.db import session_scope
from reminders.store.models import CareLink
from tests.support.factories import enroll_patient

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
NOW = COMPLETED + timedelta(minutes=5)
LINKS = CareLinks("https://finetouch.co", "a-secret-of-the-test-only")


def test_two_workers_making_the_first_link_at_once_agree(runtime, monkeypatch):
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    both_read_none = threading.Barrier(2, timeout=2.0)
    token_hex = secrets.token_hex

    def salt_after_both_looked(nbytes: int) -> str:
        # Both have found no link by now (where the database lets both read at once).
        with contextlib.suppress(threading.BrokenBarrierError):
            both_read_none.wait()
        return token_hex(nbytes)

    monkeypatch.setattr(care_links.secrets, "token_hex", salt_after_both_looked)

    def compose() -> str:
        with session_scope(runtime.engine) as session:
            return care_links.link_for(session, enrolled.session_id, LINKS)

    with ThreadPoolExecutor(2) as workers:
        first, second = workers.map(lambda _: compose(), range(2))
    assert first == second
    with session_scope(runtime.engine) as session:
        assert len(session.exec(select(CareLink)).all()) == 1
