"""`/patients/{id}` over HTTP: the timeline in words and patient-local times, and its actions."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.sending.channels.base import BaseChannel, OutgoingMessage
from reminders.sending.channels.twilio.errors import classify_twilio_error
from reminders.sending.receipts import StatusCallback, apply_status_callback
from reminders.store.db import session_scope
from reminders.store.models import OptOut, OutboxMessage, Patient, TreatmentSession
from reminders.web.app import create_app
from tests.support.factories import MARIA_EMAIL, MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

NEW_YORK = "America/New_York"
COMPLETED = datetime(2026, 11, 20, 19, 30, tzinfo=UTC)  # Fri 14:30 EST
NOW = COMPLETED + timedelta(minutes=5)
STAFF = "bo@example.com"
ANA_PHONE = "+13105550199"


class Refusing(BaseChannel):
    """An SMS provider that refuses texts to some numbers (all, by default) with one Twilio
    error, and takes the rest with an SID of its own."""

    name = "refusing"

    def __init__(self, code: int, words: str, numbers: tuple[str, ...] = ()) -> None:
        self.error = classify_twilio_error(400, code, words)
        self.numbers = numbers

    def send(self, message: OutgoingMessage) -> str:
        if not self.numbers or message.to in self.numbers:
            raise self.error
        return f"SM{message.message_id}"

    def close(self) -> None:
        pass


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def staff(app, runtime: Runtime) -> Iterator[TestClient]:
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    with TestClient(app, follow_redirects=False) as client:
        assert log_in(client, STAFF).status_code == 303
        yield client


@pytest.fixture
def maria(runtime: Runtime) -> int:
    """Maria, in New York, enrolled five minutes after her session: nothing sent yet."""
    return enroll_patient(runtime, completed_at=COMPLETED, now=NOW, timezone=NEW_YORK).patient_id


def rows(runtime: Runtime, patient_id: int) -> dict[tuple[str, str], OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.patient_id == patient_id)
        return {(m.step, m.channel): m for m in session.exec(query).all()}


def post(client: TestClient, path: str, **data: str):
    token = csrf_of(client.get("/").text)
    return client.post(path, data={**data, "csrf_token": token})


def message_row(html: str, message_id: int) -> str:
    """What the timeline shows of one message: its row, up to the next message or session."""
    start = html.find(f'<tr id="message-{message_id}">')
    assert start >= 0, f"message {message_id} is not on the page"
    ends = [html.find(mark, start + 1) for mark in ('<tr id="message-', "</article>")]
    return html[start : min(end for end in ends if end > 0)]


def words(html: str) -> str:
    """The page's text as read: tags gone, spaces collapsed, none before punctuation."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    return re.sub(r" ([:;,.])", r"\1", text)


# -- what the page shows ----------------------------------------------------------------------


def test_the_timeline_shows_the_patient_and_every_planned_message_in_her_zone(
    staff, runtime, maria
):
    page = staff.get(f"/patients/{maria}")
    assert page.status_code == 200
    text = words(page.text)
    for shown in ("Maria Lopez", MARIA_PHONE, MARIA_EMAIL, "Eastern time (New York)", "English"):
        assert shown in text
    assert "SMS +13105550142 yes, recorded Fri 20 Nov 2026, 14:35 EST by test" in text
    assert "Pause all messages" in text
    assert "Asclera sclerotherapy, completed Fri 20 Nov 2026, 14:30 EST" in text
    messages = rows(runtime, maria)
    assert len(messages) == 11
    for message in messages.values():
        row = words(message_row(page.text, message.id or 0))
        assert (
            "planned" in row
            and runtime.care_plans().step_words("sclerotherapy", message.step) in row
        )
        assert "Written from the template in use when it is sent" in row
    day1 = words(message_row(page.text, messages["restriction_day_1", "sms"].id or 0))
    assert "Sat 21 Nov 2026, 09:00 EST" in day1  # 14:00 UTC, patient-local
    assert "deadline Sat 21 Nov 2026, 20:00 EST" in day1


def test_each_status_reads_in_words_with_the_exact_text_sent(staff, runtime, clock, maria):
    ana = enroll_patient(
        runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone=ANA_PHONE,
        email="ana@example.com", timezone=NEW_YORK,
    ).patient_id  # fmt: skip
    assert post(staff, f"/patients/{maria}/opt-out", channel="email").status_code == 303
    refusing = Refusing(30007, "Message filtered", numbers=(MARIA_PHONE,))
    make_dispatcher(runtime, clock, sms=refusing).run_once()  # Maria's text fails, Ana's goes
    sms = rows(runtime, ana)["aftercare", "sms"]
    with session_scope(runtime.engine) as session:
        callback = StatusCallback(f"SM{sms.id}", "delivered")
        apply_status_callback(session, sms.id or 0, callback, NOW)
    maria_rows = rows(runtime, maria)
    page = staff.get(f"/patients/{maria}").text
    failed = words(message_row(page, maria_rows["aftercare", "sms"].id or 0))
    assert "failed: Message filtered by the carrier (Twilio error 30007)" in failed
    assert "Send again" in failed
    opted = words(message_row(page, maria_rows["aftercare", "email"].id or 0))
    assert "skipped: the patient opted out" in opted
    assert "No text: it was never written" in opted
    assert "planned" in words(message_row(page, maria_rows["restriction_day_1", "sms"].id or 0))
    ana_page = staff.get(f"/patients/{ana}").text
    email = rows(runtime, ana)["aftercare", "email"]
    sent = message_row(ana_page, email.id or 0)
    assert "sent" in words(sent) and "sent Fri 20 Nov 2026, 14:35 EST" in words(sent)
    assert "Text sent" in sent and str(escape(email.body or "")) in sent
    assert str(escape(email.subject or "")) in sent
    delivered = words(message_row(ana_page, sms.id or 0))
    assert "delivered" in delivered and "sent → delivered" in delivered  # its history
    assert "Send again" not in delivered


def test_a_voided_session_and_its_skipped_messages_say_so(staff, runtime, maria):
    with Session(runtime.engine) as session:
        session_id = session.exec(select(TreatmentSession.id)).one()
    assert post(staff, f"/patients/{maria}/sessions/{session_id}/void").status_code == 303
    page = staff.get(f"/patients/{maria}").text
    assert "voided" in words(page) and "Void session" not in page
    row = words(message_row(page, rows(runtime, maria)["follow_up", "sms"].id or 0))
    assert "skipped: the session was voided" in row


def test_an_unknown_patient_is_not_found(staff):
    for path in ("/patients/999", "/patients/abc", f"/patients/{2**31}", f"/patients/{2**70}"):
        response = staff.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text
    for action in ("pause", "resume", "opt-out", "sessions/1/void", "messages/1/resend"):
        assert post(staff, f"/patients/999/{action}", channel="sms").status_code == 404


def test_a_session_or_message_of_another_patient_is_not_found(staff, runtime, maria):
    other = enroll_patient(
        runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone=ANA_PHONE, email=None
    ).patient_id
    with Session(runtime.engine) as session:
        theirs = session.exec(
            select(TreatmentSession).where(TreatmentSession.patient_id == other)
        ).one()
    message = next(iter(rows(runtime, other).values()))
    assert post(staff, f"/patients/{maria}/sessions/{theirs.id}/void").status_code == 404
    assert post(staff, f"/patients/{maria}/messages/{message.id}/resend").status_code == 404
    with Session(runtime.engine) as session:
        assert session.get_one(TreatmentSession, theirs.id).status == "completed"


# -- the actions --------------------------------------------------------------------------------


def test_pause_holds_the_real_dispatcher_and_resume_lets_it_send(staff, runtime, clock, maria):
    response = post(staff, f"/patients/{maria}/pause")
    assert (response.status_code, response.headers["location"]) == (
        303, f"/patients/{maria}?done=paused",
    )  # fmt: skip
    page = staff.get(response.headers["location"]).text
    assert "Paused: nothing is sent to this patient until you resume." in page
    assert "Paused</strong> since Fri 20 Nov 2026, 14:35 EST, by bo@example.com" in page
    assert "held while the patient is paused" in page
    dispatcher = make_dispatcher(runtime, clock)
    assert dispatcher.run_once().claimed == 0
    assert {m.status for m in rows(runtime, maria).values()} == {"pending"}
    clock.advance(minutes=30)
    response = post(staff, f"/patients/{maria}/resume")
    assert response.headers["location"] == f"/patients/{maria}?done=resumed"
    assert "Resumed: held messages go out" in staff.get(response.headers["location"]).text
    assert dispatcher.run_once().count("sent") == 2
    assert rows(runtime, maria)["aftercare", "sms"].status == "sent"
    actions = [(e.actor, e.action, e.entity_id, e.at) for e in audit(runtime.engine)]
    assert (STAFF, "patient_paused", maria, NOW) in actions
    assert (STAFF, "patient_resumed", maria, NOW + timedelta(minutes=30)) in actions


def test_pausing_twice_or_resuming_an_unpaused_patient_says_so_and_audits_nothing(
    staff, runtime, maria
):
    assert post(staff, f"/patients/{maria}/resume").headers["location"].endswith("=not_paused")
    post(staff, f"/patients/{maria}/pause")
    again = post(staff, f"/patients/{maria}/pause")
    assert again.headers["location"].endswith("?done=already_paused")
    assert "The patient was already paused." in staff.get(again.headers["location"]).text
    assert [e.action for e in audit(runtime.engine) if e.actor == STAFF] == [
        "login",
        "patient_paused",
    ]


def test_voiding_a_session_skips_its_planned_messages_audited(staff, runtime, maria):
    with Session(runtime.engine) as session:
        session_id = session.exec(select(TreatmentSession.id)).one()
    response = post(staff, f"/patients/{maria}/sessions/{session_id}/void")
    assert response.headers["location"] == f"/patients/{maria}?done=voided"
    assert "Session voided" in staff.get(response.headers["location"]).text
    assert {(m.status, m.error_reason) for m in rows(runtime, maria).values()} == {
        ("skipped", "voided")
    }
    entry = [e for e in audit(runtime.engine) if e.action == "void"]
    assert [(e.actor, e.entity_id) for e in entry] == [(STAFF, session_id)]
    again = post(staff, f"/patients/{maria}/sessions/{session_id}/void")
    assert again.headers["location"].endswith("?done=already_voided")
    assert len([e for e in audit(runtime.engine) if e.action == "void"]) == 1


def test_resending_a_failed_message_makes_it_due_now_and_the_dispatcher_sends_it(
    staff, runtime, clock, maria
):
    make_dispatcher(runtime, clock, sms=Refusing(30007, "Message filtered")).run_once()
    failed = rows(runtime, maria)["aftercare", "sms"]
    assert failed.status == "failed"
    clock.advance(minutes=20)
    response = post(staff, f"/patients/{maria}/messages/{failed.id}/resend")
    assert response.headers["location"] == f"/patients/{maria}?done=resent"
    assert "will be sent again" in staff.get(response.headers["location"]).text
    again = rows(runtime, maria)["aftercare", "sms"]
    assert (again.status, again.due_at, again.attempts) == ("pending", clock.now, 0)
    resent = [e for e in audit(runtime.engine) if e.action == "message_resend"]
    assert [(e.actor, e.entity_id) for e in resent] == [(STAFF, failed.id)]
    assert make_dispatcher(runtime, clock).run_once().count("sent") == 1
    assert rows(runtime, maria)["aftercare", "sms"].status == "sent"


def test_resending_a_message_that_did_not_fail_is_refused_with_the_reason(
    staff, runtime, clock, maria
):
    make_dispatcher(runtime, clock).run_once()
    sent = rows(runtime, maria)["aftercare", "sms"]
    pending = rows(runtime, maria)["restriction_day_1", "sms"]
    audited = len(audit(runtime.engine))
    for message, status in ((sent, "sent"), (pending, "planned")):
        response = post(staff, f"/patients/{maria}/messages/{message.id}/resend")
        assert response.status_code == 409
        assert (
            f"Message {message.id}: only a failed message can be sent again; this one is {status}."
            in response.text
        )
        assert "Maria Lopez" in response.text  # the timeline again, with the reason on top
    assert rows(runtime, maria)["aftercare", "sms"] == sent
    assert len(audit(runtime.engine)) == audited


def test_opt_out_and_opt_in_per_channel_are_recorded_as_staff_and_audited(staff, runtime, maria):
    response = post(staff, f"/patients/{maria}/opt-out", channel="sms")
    assert response.headers["location"] == f"/patients/{maria}?done=opted_out"
    page = staff.get(response.headers["location"]).text
    assert "Record opt-in" in page and "(web)" in page
    with Session(runtime.engine) as session:
        entry = session.exec(select(OptOut)).one()
    assert (entry.channel, entry.address, entry.source, entry.actor) == (
        "sms", MARIA_PHONE, "web", STAFF,
    )  # fmt: skip
    texts = [m for m in rows(runtime, maria).values() if m.channel == "sms"]
    assert {(m.status, m.error_reason) for m in texts} == {("skipped", "opted_out")}
    assert rows(runtime, maria)["aftercare", "email"].status == "pending"
    response = post(staff, f"/patients/{maria}/opt-in", channel="sms")
    assert response.headers["location"] == f"/patients/{maria}?done=opted_in"
    assert {m.status for m in rows(runtime, maria).values()} == {"pending"}
    with Session(runtime.engine) as session:
        assert session.exec(select(OptOut)).all() == []
    actions = [(e.actor, e.action) for e in audit(runtime.engine)]
    assert (STAFF, "opt_out") in actions and (STAFF, "opt_in") in actions
    none = post(staff, f"/patients/{maria}/opt-in", channel="email")
    assert none.headers["location"].endswith("?done=no_opt_out")


def test_an_opt_out_without_an_address_or_channel_is_refused(staff, runtime):
    patient_id = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None).patient_id
    no_email = post(staff, f"/patients/{patient_id}/opt-out", channel="email")
    assert no_email.status_code == 400
    assert "There is no email address on file for this patient." in no_email.text
    bogus = post(staff, f"/patients/{patient_id}/opt-out", channel="fax")
    assert bogus.status_code == 400 and "Choose SMS or email." in bogus.text
    with Session(runtime.engine) as session:
        assert session.exec(select(OptOut)).all() == []


def test_every_action_without_the_csrf_token_is_refused_and_changes_nothing(staff, runtime, maria):
    with Session(runtime.engine) as session:
        session_id = session.exec(select(TreatmentSession.id)).one()
    message_id = rows(runtime, maria)["aftercare", "sms"].id
    before = (rows(runtime, maria), len(audit(runtime.engine)))
    for action in (
        "pause", "resume", "opt-out", "opt-in", f"sessions/{session_id}/void",
        f"messages/{message_id}/resend",
    ):  # fmt: skip
        response = staff.post(f"/patients/{maria}/{action}", data={"channel": "sms"})
        assert response.status_code == 403, action
    assert (rows(runtime, maria), len(audit(runtime.engine))) == before
    with Session(runtime.engine) as session:
        assert session.get_one(Patient, maria).paused_at is None


def test_an_anonymous_visitor_is_sent_to_log_in(app, maria):
    with TestClient(app, follow_redirects=False) as anonymous:
        page = anonymous.get(f"/patients/{maria}")
        assert (page.status_code, page.headers["location"]) == (
            303, f"/login?next=/patients/{maria}",
        )  # fmt: skip
        assert anonymous.post(f"/patients/{maria}/pause").status_code == 303


def test_no_name_number_address_or_text_reaches_the_logs(staff, runtime, clock, maria, caplog):
    caplog.set_level(logging.DEBUG)
    with Session(runtime.engine) as session:
        session_id = session.exec(select(TreatmentSession.id)).one()
    make_dispatcher(runtime, clock, sms=Refusing(30007, "Message filtered")).run_once()
    failed = rows(runtime, maria)["aftercare", "sms"]
    for action in ("pause", "resume", "opt-out", "opt-in", f"messages/{failed.id}/resend",
                   f"sessions/{session_id}/void"):  # fmt: skip
        assert post(staff, f"/patients/{maria}/{action}", channel="email").status_code == 303
    staff.get(f"/patients/{maria}")
    body = rows(runtime, maria)["aftercare", "email"].body or ""
    assert body and f"patient {maria}: pause by user" in caplog.text
    for secret in ("Maria", MARIA_PHONE, MARIA_EMAIL, body[:40]):
        assert secret not in caplog.text
