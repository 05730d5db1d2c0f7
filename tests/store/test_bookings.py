"""store.bookings on SQLite and PostgreSQL: the session's reference made once, a booking and
its skipped prompts in one transaction, and what stands after a cancellation."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from reminders.rules.bookings import REF
from reminders.rules.lifecycle import SkipReason, Status
from reminders.store import bookings
from reminders.store.booking_tables import Booking
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage, TreatmentSession
from reminders.store.unit_of_work import unit_of_work
from tests.support.factories import enroll_patient
from tests.support.settings import utc

NOW = utc(2026, 12, 1, 17, 0)
COMPLETED = utc(2026, 11, 2, 22, 30)
LA = ZoneInfo("America/Los_Angeles")
STARTS = utc(2027, 1, 12, 18, 0)


@pytest.fixture
def maria(runtime) -> int:
    return enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED).session_id


def follow_ups(runtime) -> frozenset[tuple[str, str]]:
    return runtime.care_plans().follow_up_steps


def request(external_id: str = "uid-1", starts_at=STARTS) -> bookings.Request:
    return bookings.Request("cal", external_id, starts_at, None, "cal.com")


def prompt_statuses(engine, session_id: int) -> list[tuple[str, str | None]]:
    with session_scope(engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.session_id == session_id, OutboxMessage.step == "follow_up"
        )
        return sorted((m.status, m.error_reason) for m in session.exec(query))


def book(engine, runtime, session_id: int, req: bookings.Request) -> bookings.Change:
    steps = follow_ups(runtime)  # read first: SQLite has one writer at a time
    with session_scope(engine) as session:
        treatment = session.get_one(TreatmentSession, session_id)
        return bookings.book(session, treatment, req, steps, LA, NOW)


def test_the_reference_is_made_once_and_is_opaque(engine, runtime, maria):
    other = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, name="Ana Ruiz",
                           phone="+13105550199", email=None).session_id  # fmt: skip
    with session_scope(engine) as session:
        first = bookings.booking_ref(session, maria)
    with session_scope(engine) as session:
        again = bookings.booking_ref(session, maria)
        treatment = session.get_one(TreatmentSession, maria)
        assert bookings.booking_ref_of(session, treatment) == first
        theirs = bookings.booking_ref(session, other)
    assert first == again and theirs != first
    assert REF.fullmatch(first)
    with session_scope(engine) as session:
        assert bookings.session_by_ref(session, first).id == maria  # type: ignore[union-attr]
        assert bookings.session_by_ref(session, "NoSuchReference0") is None


def test_a_booking_and_its_skipped_prompts_are_one_transaction(engine, runtime, maria):
    steps = follow_ups(runtime)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        treatment = session.get_one(TreatmentSession, maria)
        change = bookings.book(session, treatment, request(), steps, LA, NOW)
        assert change.skipped == 2
        raise RuntimeError("the request failed after the booking")
    with session_scope(engine) as session:
        assert session.exec(select(Booking)).all() == []
    assert prompt_statuses(engine, maria) == [(Status.PENDING, None)] * 2


def test_a_cancellation_replans_nothing_while_another_booking_of_the_session_stands(
    engine, runtime, maria
):
    book(engine, runtime, maria, request("uid-1"))
    book(engine, runtime, maria, request("uid-2", STARTS + timedelta(days=1)))
    with session_scope(engine) as session:
        first = bookings.find_booking(session, "cal", "uid-1")
        assert first is not None
        assert bookings.cancel(session, first, NOW, actor="cal.com").replanned == 0
        standing = bookings.current_booking(session, maria)
        assert standing is not None and standing.external_id == "uid-2"
    assert prompt_statuses(engine, maria) == [(Status.SKIPPED, SkipReason.BOOKED)] * 2
    with session_scope(engine) as session:
        second = bookings.find_booking(session, "cal", "uid-2")
        assert second is not None
        assert bookings.cancel(session, second, NOW, actor="cal.com").replanned == 2
        assert bookings.current_booking(session, maria) is None
    assert prompt_statuses(engine, maria) == [(Status.PENDING, None)] * 2


def test_the_attendee_is_found_by_phone_or_by_an_email_only_one_patient_has(engine, runtime, maria):
    enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, name="Ana Ruiz",
                   phone="+13105550199", email="shared@example.com")  # fmt: skip
    enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, name="Bo Ruiz",
                   phone="+13105550198", email="shared@example.com")  # fmt: skip
    with session_scope(engine) as session:
        by_phone = bookings.session_by_contact(session, ("+13105550142",), (), NOW)
        by_email = bookings.session_by_contact(session, (), ("Maria@Example.com",), NOW)
        shared = bookings.session_by_contact(session, (), ("shared@example.com",), NOW)
        before = bookings.session_by_contact(session, ("+13105550142",), (), COMPLETED.replace(
            year=2025))  # fmt: skip
    assert by_phone is not None and by_phone.id == maria
    assert by_email is not None and by_email.id == maria
    assert shared is None  # two patients share it: not a guess
    assert before is None


def test_two_deliveries_of_one_booking_at_once_record_it_once(engine, runtime, maria):
    """Cal.com retries a webhook it got no answer to: the second waits for the first's row,
    loses the unique-key race, runs again and finds the booking made (PostgreSQL: SQLite has
    one writer at a time, so the second simply comes after)."""
    steps = follow_ups(runtime)

    def deliver(session, now) -> tuple[str, int]:
        treatment = session.get_one(TreatmentSession, maria)
        change = bookings.book(session, treatment, request(), steps, LA, now)
        return change.kind, change.skipped

    with ThreadPoolExecutor(1) as pool:
        with session_scope(engine) as first:
            assert deliver(first, NOW) == ("booked", 2)
            if engine.dialect.name == "postgresql":
                second = pool.submit(unit_of_work, engine, lambda: NOW, deliver)
                time.sleep(0.5)
                assert not second.done()  # waiting on the first's uncommitted booking
        if engine.dialect.name != "postgresql":
            second = pool.submit(unit_of_work, engine, lambda: NOW, deliver)
        assert second.result(timeout=30) == ("unchanged", 0)
    with session_scope(engine) as session:
        assert len(session.exec(select(Booking)).all()) == 1
    assert prompt_statuses(engine, maria) == [(Status.SKIPPED, SkipReason.BOOKED)] * 2
