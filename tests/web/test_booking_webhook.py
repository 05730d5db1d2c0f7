"""`POST /webhooks/cal` over HTTP, on SQLite and PostgreSQL: Cal.com's signature first, then
each trigger, the session found by the link's reference or the attendee on file, and what a
booking does to the session's follow-up prompts."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from reminders.rules.lifecycle import SkipReason, Status
from reminders.settings import Settings
from reminders.store.booking_tables import Booking
from reminders.store.bookings import booking_ref
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OutboxMessage
from reminders.web.app import create_app
from tests.support.cal import SECRET, URL, cal_payload, signed
from tests.support.factories import MARIA_EMAIL, enroll_patient
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import FAST_PASSWORDS, TestClient, log_in, make_user

NOW = utc(2026, 12, 1, 17, 0)  # before the follow-up prompt (due Mon 14 Dec, 10:00 PST)
COMPLETED = utc(2026, 11, 2, 22, 30)  # Mon 2 Nov, 14:30 PST
DEADLINE = utc(2027, 1, 12, 4, 0)  # the prompt's not_after: day 70 at 20:00 PST
FOLLOW_UP = "follow_up"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        cal_webhook_secret=SECRET,
        booking_url="https://cal.com/finetouch/follow-up?metadata[aftercare]={ref}",
    )


@pytest.fixture
def maria(runtime) -> int:
    """Maria's sclerotherapy session, planned: its id."""
    return enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED).session_id


@pytest.fixture
def ref(engine: Engine, maria: int) -> str:
    """The reference her follow-up email's booking link carries."""
    with session_scope(engine) as session:
        return booking_ref(session, maria)


def post(client, body, secret: str = SECRET):
    raw, headers = signed(body, secret)
    return client.post(URL, content=raw, headers=headers)


def prompts(engine: Engine, session_id: int) -> list[OutboxMessage]:
    with session_scope(engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.session_id == session_id, OutboxMessage.step == FOLLOW_UP
        )
        return list(session.exec(query.order_by(col(OutboxMessage.id))).all())


def others(engine: Engine, session_id: int) -> set[str]:
    """The statuses of the session's other messages, which a booking leaves alone."""
    with session_scope(engine) as session:
        query = select(OutboxMessage.status).where(
            OutboxMessage.session_id == session_id, OutboxMessage.step != FOLLOW_UP
        )
        return set(session.exec(query).all())


def bookings(engine: Engine) -> list[Booking]:
    with session_scope(engine) as session:
        return list(session.exec(select(Booking).order_by(col(Booking.id))).all())


def reasons(engine: Engine, message_id: int) -> list[str]:
    with session_scope(engine) as session:
        query = select(MessageEvent.reason).where(MessageEvent.message_id == message_id)
        return [r or "" for r in session.exec(query.order_by(col(MessageEvent.id))).all()]


# -- who may call -------------------------------------------------------------------------------


def test_without_a_secret_configured_the_route_refuses_every_call(
    engine, database_url, tmp_path, clock, maria, ref
):
    bare = make_settings(database_url, tmp_path)
    with TestClient(create_app(bare, engine, clock=clock)) as client:
        answer = post(client, cal_payload(ref=ref))
    assert answer.status_code == 503
    assert "CAL_WEBHOOK_SECRET" in answer.json()["detail"]
    assert bookings(engine) == []


def test_an_unsigned_call_is_401_and_changes_nothing(client, engine, maria, ref):
    answer = client.post(URL, json=cal_payload(ref=ref))
    assert answer.status_code == 401
    assert "X-Cal-Signature-256" in answer.json()["detail"]
    assert bookings(engine) == []
    assert {m.status for m in prompts(engine, maria)} == {Status.PENDING}


@pytest.mark.parametrize(
    "tamper",
    ["another secret", "body changed", "not hex", "not json"],
)
def test_a_wrong_signature_is_403_before_the_body_is_read(client, engine, maria, ref, tamper):
    raw, headers = signed(cal_payload(ref=ref))
    if tamper == "another secret":
        raw, headers = signed(cal_payload(ref=ref), secret="another-secret-of-cal-0000")
    elif tamper == "body changed":
        raw = raw.replace(b"2027-01-12T18:00", b"2027-01-13T18:00")
    elif tamper == "not hex":
        headers["X-Cal-Signature-256"] = "zz" * 32
    else:
        raw = b"{not json"  # still refused for its signature, not for its JSON
    answer = client.post(URL, content=raw, headers=headers)
    assert answer.status_code == 403
    assert bookings(engine) == []
    assert {m.status for m in prompts(engine, maria)} == {Status.PENDING}


def test_a_signed_body_that_is_no_booking_is_400(client, engine, maria):
    assert post(client, b"{not json").status_code == 400
    body = cal_payload()
    del body["payload"]["uid"]
    answer = post(client, body)
    assert (answer.status_code, answer.json()["detail"]) == (400, "payload.uid is missing")
    body = cal_payload(start="tomorrow at ten")
    assert post(client, body).status_code == 400


@pytest.mark.parametrize("trigger", ["PING", "MEETING_ENDED", "BOOKING_REQUESTED"])
def test_a_trigger_that_books_nothing_is_acknowledged_and_ignored(client, engine, maria, trigger):
    answer = post(client, cal_payload(trigger))
    assert (answer.status_code, answer.json()) == (200, {"result": "ignored"})
    assert bookings(engine) == []


# -- BOOKING_CREATED ----------------------------------------------------------------------------


def test_a_booking_by_reference_skips_the_sessions_follow_up_prompts(client, engine, maria, ref):
    before = others(engine, maria)
    answer = post(client, cal_payload(ref=ref))
    assert answer.status_code == 200
    assert answer.json() | {"booking_id": 0} == {
        "result": "booked",
        "booking_id": 0,
        "session_id": maria,
        "prompts_skipped": 2,  # the SMS and the email
        "prompts_replanned": 0,
    }
    [booking] = bookings(engine)
    assert (booking.session_id, booking.source, booking.external_id, booking.status) == (
        maria, "cal", "bFJeNb2uX8ANpT3JL5EfXw", "booked")  # fmt: skip
    assert (booking.starts_at, booking.ends_at) == (
        utc(2027, 1, 12, 18, 0), utc(2027, 1, 12, 18, 30))  # fmt: skip
    skipped = prompts(engine, maria)
    assert {(m.status, m.error_reason) for m in skipped} == {(Status.SKIPPED, SkipReason.BOOKED)}
    # In words, on the patient's wall clock (Los Angeles: 18:00 UTC is 10:00 PST).
    assert reasons(engine, skipped[0].id or 0)[-1] == "booked: booked for Tue 12 Jan 10:00"
    assert others(engine, maria) == before  # the clinical steps are not touched


def test_the_same_booking_sent_again_changes_nothing(client, engine, maria, ref):
    first = post(client, cal_payload(ref=ref)).json()
    again = post(client, cal_payload(ref=ref))
    assert again.status_code == 200
    assert again.json() == first | {"result": "unchanged", "prompts_skipped": 0}
    assert len(bookings(engine)) == 1
    assert len(reasons(engine, prompts(engine, maria)[0].id or 0)) == 2  # planned, skipped


def test_without_a_reference_the_attendees_email_on_file_finds_the_session(client, engine, maria):
    answer = post(client, cal_payload(email=MARIA_EMAIL.upper()))
    assert (answer.status_code, answer.json()["session_id"]) == (200, maria)
    assert {m.status for m in prompts(engine, maria)} == {Status.SKIPPED}


def test_without_a_reference_the_attendees_phone_on_file_finds_the_session(client, engine, maria):
    answer = post(client, cal_payload(phone="(310) 555-0142"))  # national format, as typed
    assert (answer.status_code, answer.json()["session_id"]) == (200, maria)


def test_the_reference_wins_over_the_attendee(client, engine, runtime, maria, ref):
    other = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED, name="Ana Ruiz",
                           phone="+13105550199", email="ana@example.com").session_id  # fmt: skip
    answer = post(client, cal_payload(ref=ref, email="ana@example.com"))
    assert answer.json()["session_id"] == maria
    assert {m.status for m in prompts(engine, other)} == {Status.PENDING}


def test_a_reference_of_a_session_entered_again_books_the_entry_that_replaced_it(
    client, engine, runtime, maria, ref
):
    again = enroll_patient(runtime, completed_at=COMPLETED + timedelta(minutes=5),
                           now=COMPLETED + timedelta(minutes=5)).session_id  # fmt: skip
    assert again != maria  # the same session corrected: the first entry is voided
    answer = post(client, cal_payload(ref=ref))
    assert (answer.json()["session_id"], answer.json()["prompts_skipped"]) == (again, 2)


def test_the_newest_session_of_the_attendee_is_the_one_booked_from(client, engine, runtime, maria):
    week = COMPLETED + timedelta(days=7)
    later = enroll_patient(runtime, completed_at=week, now=week, treatment="laser").session_id
    answer = post(client, cal_payload(email=MARIA_EMAIL))
    assert answer.json()["session_id"] == later


def test_an_unknown_booking_is_202_and_logged_without_patient_data(client, engine, maria, caplog):
    body = cal_payload(ref="NoSuchReference0", email="stranger@example.com", phone="+14155550123")
    with caplog.at_level(logging.INFO, logger="reminders"):
        answer = post(client, body)
    assert answer.status_code == 202
    assert answer.json() == {
        "result": "unknown",
        "detail": "no session matches this booking; nothing changed",
    }
    assert bookings(engine) == []
    assert {m.status for m in prompts(engine, maria)} == {Status.PENDING}
    logged = caplog.text
    assert "bFJeNb2uX8ANpT3JL5EfXw" in logged and "unknown" in logged
    for secret in ("stranger", "4155550123", "Maria", "NoSuchReference0"):
        assert secret not in logged


def test_a_reference_that_is_not_ours_is_no_reference(client, engine, maria):
    answer = post(client, cal_payload(ref="x' OR 1=1 --", email="stranger@example.com"))
    assert answer.status_code == 202


# -- BOOKING_RESCHEDULED ------------------------------------------------------------------------


def test_a_reschedule_moves_the_booking_and_the_timeline_says_the_new_time(
    client, engine, maria, ref
):
    post(client, cal_payload(ref=ref))
    moved = cal_payload("BOOKING_RESCHEDULED", uid="newUid2", ref=ref,
                        start="2027-01-13T19:30:00Z", end="2027-01-13T20:00:00Z",
                        reschedule_uid="bFJeNb2uX8ANpT3JL5EfXw")  # fmt: skip
    answer = post(client, moved)
    assert (answer.status_code, answer.json()["result"]) == (200, "moved")
    [booking] = bookings(engine)
    assert (booking.external_id, booking.starts_at, booking.status, booking.moves) == (
        "newUid2", utc(2027, 1, 13, 19, 30), "booked", 1)  # fmt: skip
    message = prompts(engine, maria)[0]
    assert message.status == Status.SKIPPED
    assert reasons(engine, message.id or 0)[-1] == "booking moved: booked for Wed 13 Jan 11:30"
    # Cal.com retries it: nothing more.
    assert post(client, moved).json()["result"] == "unchanged"


def test_a_reschedule_of_a_booking_we_never_saw_is_booked_afresh(client, engine, maria, ref):
    body = cal_payload("BOOKING_RESCHEDULED", uid="newUid2", ref=ref, reschedule_uid="unseen")
    answer = post(client, body)
    assert (answer.status_code, answer.json()["result"]) == (200, "booked")
    assert {m.status for m in prompts(engine, maria)} == {Status.SKIPPED}


def test_a_reschedule_after_the_old_booking_was_cancelled_books_again(client, engine, maria, ref):
    post(client, cal_payload(ref=ref))
    post(client, cal_payload("BOOKING_CANCELLED"))  # came before the reschedule
    moved = cal_payload("BOOKING_RESCHEDULED", uid="newUid2", ref=ref,
                        reschedule_uid="bFJeNb2uX8ANpT3JL5EfXw")  # fmt: skip
    answer = post(client, moved)
    assert (answer.json()["result"], answer.json()["prompts_skipped"]) == ("booked", 2)
    assert [(b.external_id, b.status) for b in bookings(engine)] == [
        ("bFJeNb2uX8ANpT3JL5EfXw", "cancelled"), ("newUid2", "booked")]  # fmt: skip


# -- BOOKING_CANCELLED --------------------------------------------------------------------------


def test_a_cancellation_before_the_deadline_plans_the_prompts_again(client, engine, maria, ref):
    planned = {m.id: m.due_at for m in prompts(engine, maria)}
    post(client, cal_payload(ref=ref))
    answer = post(client, cal_payload("BOOKING_CANCELLED", ref=ref))
    assert answer.status_code == 200
    assert answer.json()["result"] == "cancelled"
    assert answer.json()["prompts_replanned"] == 2
    again = prompts(engine, maria)
    assert {m.id: m.due_at for m in again} == planned  # due when they were planned
    assert {(m.status, m.error_reason) for m in again} == {(Status.PENDING, None)}
    assert reasons(engine, again[0].id or 0)[-1] == "booking cancelled"
    assert bookings(engine)[0].status == "cancelled"
    # Cancelled twice (Cal.com's retry): nothing more.
    assert post(client, cal_payload("BOOKING_CANCELLED")).json()["result"] == "unchanged"


def test_a_cancellation_after_the_deadline_leaves_the_prompts_skipped(
    client, engine, clock, maria, ref
):
    post(client, cal_payload(ref=ref))
    clock.advance(seconds=(DEADLINE - NOW).total_seconds() + 60)
    answer = post(client, cal_payload("BOOKING_CANCELLED"))
    assert (answer.json()["result"], answer.json()["prompts_replanned"]) == ("cancelled", 0)
    assert {m.status for m in prompts(engine, maria)} == {Status.SKIPPED}


def test_a_cancellation_replans_only_the_prompts_still_before_their_deadline(
    client, engine, maria, ref
):
    post(client, cal_payload(ref=ref))
    _sms, email = prompts(engine, maria)
    with engine.begin() as db:  # the email's deadline already passed (an admin's shorter plan)
        db.execute(
            sa.update(OutboxMessage)
            .where(col(OutboxMessage.id) == email.id)
            .values(not_after=NOW - timedelta(minutes=1))
        )
    assert post(client, cal_payload("BOOKING_CANCELLED")).json()["prompts_replanned"] == 1
    assert [m.status for m in prompts(engine, maria)] == [Status.PENDING, Status.SKIPPED]


def test_a_cancellation_of_an_unknown_booking_is_202(client, engine, maria):
    answer = post(client, cal_payload("BOOKING_CANCELLED", uid="neverSeen"))
    assert answer.status_code == 202
    assert {m.status for m in prompts(engine, maria)} == {Status.PENDING}


def test_a_cancelled_booking_booked_again_skips_the_prompts_again(client, engine, maria, ref):
    post(client, cal_payload(ref=ref))
    post(client, cal_payload("BOOKING_CANCELLED"))
    answer = post(client, cal_payload(ref=ref))
    assert (answer.json()["result"], answer.json()["prompts_skipped"]) == ("booked", 2)
    assert len(bookings(engine)) == 1


def test_staff_read_the_booking_on_the_patients_timeline(client, engine, clock, maria, ref):
    post(client, cal_payload(ref=ref))
    make_user(engine, "bo@example.com", "staff", now=NOW)
    app = create_app(client.app.state.settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    with TestClient(app, follow_redirects=False) as staff:
        assert log_in(staff, "bo@example.com").status_code == 303
        page = staff.get(f"/patients/{prompts(engine, maria)[0].patient_id}")
    assert page.status_code == 200
    assert page.text.count("booked for Tue 12 Jan 10:00") >= 2  # the SMS and the email
