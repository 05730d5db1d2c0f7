"""Urgent replies reach a person: paged once at URGENT_ESCALATE_MINUTES, to whoever is on call
then, never when answered or handled in time; with nobody on call it shows as a problem.

On SQLite and PostgreSQL; the clock is passed in.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from reminders.receiving.escalation import page_overdue
from reminders.rules.on_call import parse_hours
from reminders.runtime import Runtime, health_thresholds
from reminders.store.dashboard import stuck
from reminders.store.db import session_scope
from reminders.store.health import read_health
from reminders.store.inbox import answered
from reminders.store.models import OutboxMessage, Reply, UrgentPage
from reminders.store.on_call import add_contact
from reminders.store.replies import store_reply
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import utc

# Monday 30 November 2026, 19:00 in Los Angeles (the clinic's zone): a weeknight.
WROTE = utc(2026, 12, 1, 3, 0)
BASE = "https://aftercare.example"
DAY_PHONE, NIGHT_PHONE = "+13105550101", "+13105550102"


def run(runtime: Runtime, now: datetime) -> int:
    with session_scope(runtime.engine) as session:
        return page_overdue(session, now, zone=runtime.settings.timezone, minutes=15,
                            base_url=BASE)  # fmt: skip


def contact(runtime: Runtime, name: str, hours: str, *, phone=None, email=None) -> None:
    with session_scope(runtime.engine) as session:
        add_contact(session, name=name, phone=phone, email=email, hours=parse_hours(hours),
                    actor="admin@example.com", now=WROTE)  # fmt: skip


def urgent(runtime: Runtime, patient_id: int, at: datetime = WROTE, sid: str = "SM1") -> int:
    with session_scope(runtime.engine) as session:
        store_reply(session, sid=sid, sender=MARIA_PHONE, body="My face is swelling",
                    patient_id=patient_id, urgent=True, stop_wish=False, now=at)  # fmt: skip
        return session.exec(select(Reply.id).where(Reply.provider_id == sid)).one()


def pages(runtime: Runtime) -> list[OutboxMessage]:
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.purpose == "on_call_page")
        return list(session.exec(query).all())


@pytest.fixture
def maria(runtime: Runtime) -> int:
    enrolled = enroll_patient(runtime, completed_at=WROTE - timedelta(days=1), now=WROTE)
    contact(runtime, "Dr Day", "mon 08:00-18:00; tue 08:00-18:00", phone=DAY_PHONE)
    contact(runtime, "Dr Night", "mon 18:00-08:00", phone=NIGHT_PHONE)
    return enrolled.patient_id


def test_paged_once_at_fifteen_minutes_to_the_contact_on_call_then(runtime, maria):
    urgent(runtime, maria)
    assert run(runtime, WROTE + timedelta(minutes=14, seconds=59)) == 0
    assert run(runtime, WROTE + timedelta(minutes=15)) == 1
    assert run(runtime, WROTE + timedelta(minutes=16)) == 0  # a second run pages nobody
    [page] = pages(runtime)
    assert page.recipient == NIGHT_PHONE and page.channel == "sms" and page.at_once
    assert page.patient_id == maria and page.status == "pending"
    assert page.body == f"Aftercare: an urgent patient reply is waiting. Open {BASE}/inbox/{maria}"
    assert "Maria" not in page.body and MARIA_PHONE[-4:] not in page.body
    with session_scope(runtime.engine) as session:
        row = session.exec(select(UrgentPage)).one()
        assert (row.contact_name, row.message_id) == ("Dr Night", page.id)


def test_two_workers_at_once_page_it_once(runtime, maria):
    urgent(runtime, maria)
    start = threading.Barrier(2)
    counts: list[int] = []

    def worker() -> None:
        start.wait()
        counts.append(run(runtime, WROTE + timedelta(minutes=20)))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == [0, 1]
    assert len(pages(runtime)) == 1


@pytest.mark.parametrize("how", ["answered", "no_reply_needed"])
def test_nobody_is_paged_about_a_reply_answered_or_handled_in_time(runtime, maria, how):
    urgent(runtime, maria)
    with session_scope(runtime.engine) as session:
        answered(session, maria, actor="bo@example.com", now=WROTE + timedelta(minutes=10),
                 why=how)  # fmt: skip
    assert run(runtime, WROTE + timedelta(hours=1)) == 0
    assert pages(runtime) == []


def test_the_contact_is_the_one_on_call_at_the_moment_the_page_is_due(runtime, maria):
    """Written Monday 17:50: due 18:05, when the night shift (an overnight span) has begun;
    written Tuesday 07:50, due 08:05: the day's contact again."""
    urgent(runtime, maria, at=utc(2026, 12, 1, 1, 50), sid="SM1")
    urgent(runtime, maria, at=utc(2026, 12, 1, 15, 50), sid="SM2")
    assert run(runtime, utc(2026, 12, 1, 2, 5)) == 1
    assert run(runtime, utc(2026, 12, 1, 16, 5)) == 1
    assert [p.recipient for p in pages(runtime)] == [NIGHT_PHONE, DAY_PHONE]


def test_the_night_shift_ends_on_the_wall_clock_after_a_dst_change(runtime):
    """Sunday 8 March 2026, the spring change: the Saturday night shift ends at 08:00 PDT."""
    sunday = utc(2026, 3, 8, 15, 0)  # 08:00 PDT
    enrolled = enroll_patient(runtime, completed_at=sunday - timedelta(days=1), now=sunday)
    contact(runtime, "Dr Weekend Night", "sat 18:00-08:00", phone=NIGHT_PHONE)
    contact(runtime, "Dr Sunday", "sun 08:00-18:00", email="sunday@clinic.example")
    urgent(runtime, enrolled.patient_id, at=sunday - timedelta(minutes=20), sid="SM1")
    urgent(runtime, enrolled.patient_id, at=sunday - timedelta(minutes=10), sid="SM2")
    assert run(runtime, sunday - timedelta(minutes=1)) == 1  # 07:59 PDT
    assert run(runtime, sunday + timedelta(minutes=5)) == 1  # 08:05 PDT
    first, second = pages(runtime)
    assert (first.channel, first.recipient) == ("sms", NIGHT_PHONE)
    assert (second.channel, second.recipient) == ("email", "sunday@clinic.example")
    assert second.subject and "Maria" not in second.subject


def test_nobody_on_call_is_a_problem_until_someone_is_on_call_and_is_paged(runtime):
    enrolled = enroll_patient(runtime, completed_at=WROTE - timedelta(days=1), now=WROTE)
    urgent(runtime, enrolled.patient_id)
    later = WROTE + timedelta(minutes=15)
    assert run(runtime, later) == 0
    with runtime.engine.connect() as connection:
        health = read_health(connection, later, health_thresholds(runtime.settings))
    assert health.unpaged_urgent == 1
    assert any("nobody is on call" in problem for problem in health.problems)
    with session_scope(runtime.engine) as session:
        assert stuck(session, later).unpaged_urgent == 1
    contact(runtime, "Dr Always", "always", phone=DAY_PHONE)
    assert run(runtime, later + timedelta(minutes=1)) == 1  # the next run pages them
    with runtime.engine.connect() as connection:
        health = read_health(connection, later, health_thresholds(runtime.settings))
    assert health.unpaged_urgent == 0
    assert not any("on call" in problem for problem in health.problems)


def test_an_unpaged_reply_answered_meanwhile_is_no_longer_a_problem(runtime):
    enrolled = enroll_patient(runtime, completed_at=WROTE - timedelta(days=1), now=WROTE)
    urgent(runtime, enrolled.patient_id)
    assert run(runtime, WROTE + timedelta(minutes=15)) == 0
    with session_scope(runtime.engine) as session:
        answered(session, enrolled.patient_id, actor="bo@example.com",
                 now=WROTE + timedelta(minutes=20), why="answered")  # fmt: skip
        assert stuck(session, WROTE + timedelta(minutes=21)).unpaged_urgent == 0
