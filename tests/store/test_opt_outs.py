"""Opt-outs act at once on what is pending, and an opt-in brings back what is still timely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage
from reminders.store.opt_outs import is_opted_out, opt_in, opt_out
from tests.support.factories import MARIA_EMAIL, MARIA_PHONE, enroll_patient

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
NOW = COMPLETED + timedelta(minutes=5)


def statuses(runtime, channel: str) -> dict[str, tuple[str, str | None]]:
    with Session(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.channel == channel)).all()
        return {row.step: (row.status, row.error_reason) for row in rows}


def test_stop_skips_every_pending_sms_to_the_number_and_leaves_email(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        assert opt_out(session, MARIA_PHONE, source="sms_reply", actor="t", now=NOW) == 7
        assert is_opted_out(session, "sms", MARIA_PHONE)
    assert set(statuses(runtime, "sms").values()) == {("skipped", "opted_out")}
    assert {s for s, _ in statuses(runtime, "email").values()} == {"pending"}


def test_a_repeated_stop_is_harmless(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        opt_out(session, MARIA_PHONE, source="sms_reply", actor="t", now=NOW)
        assert opt_out(session, MARIA_PHONE, source="sms_reply", actor="t", now=NOW) == 0


def test_email_opt_out_matches_the_address_in_any_case(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        assert opt_out(session, MARIA_EMAIL.upper(), source="email_link", actor="t", now=NOW) == 4
    assert {s for s, _ in statuses(runtime, "email").values()} == {"skipped"}


def test_opting_back_in_restores_what_is_still_timely(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        opt_out(session, MARIA_PHONE, source="sms_reply", actor="t", now=NOW)
    day_two = COMPLETED + timedelta(days=2)  # restriction day 1 is over by then
    with session_scope(runtime.engine) as session:
        assert opt_in(session, MARIA_PHONE, actor="t", now=day_two) == 6
    sms = statuses(runtime, "sms")
    assert sms["restriction_day_1"] == ("skipped", "opted_out")
    assert sms["restriction_day_2"] == ("pending", None)
    assert sms["aftercare"] == ("pending", None)  # never sent, and within its 72 hours
    assert sms["follow_up"] == ("pending", None)


def test_opt_in_without_an_opt_out_says_so(runtime):
    with session_scope(runtime.engine) as session:
        assert opt_in(session, MARIA_PHONE, actor="t", now=NOW) is None


def test_opt_out_locks_the_messages_in_id_order(runtime):
    """The order every multi-row writer locks in, so a STOP never deadlocks with a void."""
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    statements: list[str] = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    sa.event.listen(runtime.engine, "before_cursor_execute", keep)
    try:
        with session_scope(runtime.engine) as session:
            opt_out(session, MARIA_PHONE, source="sms_reply", actor="t", now=NOW)
    finally:
        sa.event.remove(runtime.engine, "before_cursor_execute", keep)
    [locking] = [s for s in statements if s.startswith("SELECT outbox_message.") and "JOIN" in s]
    assert locking.endswith("ORDER BY outbox_message.id" + _for_update(runtime))


def _for_update(runtime) -> str:
    return "" if runtime.engine.dialect.name == "sqlite" else " FOR UPDATE OF outbox_message"
