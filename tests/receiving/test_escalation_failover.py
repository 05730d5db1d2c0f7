"""Urgent texts reach a person even when a page fails, or nobody is the patient: a text from a
number no patient has is paged like any other (on nobody's row, with a link to the number's
thread); a page the provider refuses pages the next contact on call, then anyone listed, once
each; with nobody left it is red on the dashboard and `aftercare status` exits 1.

On SQLite and PostgreSQL, through the real dispatcher; the clock is passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from reminders.receiving.escalation import PAGE_TEXT_NO_LINK, page_overdue
from reminders.rules.on_call import parse_hours
from reminders.runtime import Runtime, health_thresholds
from reminders.sending.channels.base import ChannelError
from reminders.sending.receipts import StatusCallback, apply_status_callback
from reminders.store.dashboard import stuck
from reminders.store.db import session_scope
from reminders.store.health import read_health
from reminders.store.inbox import stranger_answered
from reminders.store.models import OutboxMessage, Reply
from reminders.store.on_call import add_contact
from reminders.store.replies import store_reply
from reminders.store.urgent_pages import pages_of, pages_of_number
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.recording_channel import RecordingChannel
from tests.support.settings import utc

WROTE = utc(2026, 12, 1, 10, 0)  # Tuesday 02:00 in Los Angeles
BASE = "https://aftercare.example"
STRANGER = "+13105550177"
NIGHT, BACKUP, OFFICE = "+13105550102", "+13105550103", "office@clinic.example"


def run(runtime: Runtime, now: datetime, base_url: str | None = BASE) -> int:
    with session_scope(runtime.engine) as session:
        return page_overdue(session, now, zone=runtime.settings.timezone, minutes=15,
                            base_url=base_url)  # fmt: skip


def contact(runtime: Runtime, name: str, hours: str, *, phone=None, email=None) -> None:
    with session_scope(runtime.engine) as session:
        add_contact(session, name=name, phone=phone, email=email, hours=parse_hours(hours),
                    actor="admin@example.com", now=WROTE)  # fmt: skip


def urgent(runtime: Runtime, sender: str, patient_id: int | None, sid: str = "SM1") -> int:
    with session_scope(runtime.engine) as session:
        store_reply(session, sid=sid, sender=sender, body="My throat feels tight",
                    patient_id=patient_id, urgent=True, now=WROTE)  # fmt: skip
        return session.exec(select(Reply.id).where(Reply.provider_id == sid)).one()


def pages(runtime: Runtime) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.purpose == "on_call_page")
        return list(session.exec(query.order_by(OutboxMessage.id)).all())


def dispatch(runtime: Runtime, now: datetime, refuse: set[str]) -> RecordingChannel:
    """Send what is due; the provider refuses, for good, messages to the addresses in `refuse`."""
    refused = ChannelError("unreachable", permanent=True, code="21612")
    sms = RecordingChannel(fail_with=lambda m: refused if m.to in refuse else None)
    email = RecordingChannel(fail_with=lambda m: refused if m.to in refuse else None)
    make_dispatcher(runtime, lambda: now, sms=sms, email=email).run_once()
    return sms


def unreached(runtime: Runtime, now: datetime) -> tuple[int, list[str]]:
    with runtime.engine.connect() as connection:
        health = read_health(connection, now, health_thresholds(runtime.settings))
    return health.unpaged_urgent, health.problems


def test_an_urgent_text_from_an_unknown_number_is_paged_once_on_nobodys_row(runtime):
    contact(runtime, "Dr Night", "always", phone=NIGHT)
    reply_id = urgent(runtime, STRANGER, None)
    assert run(runtime, WROTE + timedelta(minutes=14)) == 0
    assert run(runtime, WROTE + timedelta(minutes=15)) == 1
    assert run(runtime, WROTE + timedelta(minutes=16)) == 0  # once, not twice
    [page] = pages(runtime)
    assert (page.patient_id, page.session_id, page.recipient) == (None, None, NIGHT)
    link = f"{BASE}/inbox/numbers/{reply_id}"
    assert page.body == f"Aftercare: an urgent patient reply is waiting. Open {link}"
    assert STRANGER[-4:] not in page.body
    sms = dispatch(runtime, WROTE + timedelta(minutes=16), refuse=set())
    assert [(m.to, m.body) for m in sms.sent] == [(NIGHT, page.body)]
    assert pages(runtime)[0].status == "sent"
    with Session(runtime.engine) as session:
        [seen] = pages_of_number(session, STRANGER)
    assert (seen.contact_name, seen.on_call, seen.status) == ("Dr Night", True, "sent")


def test_an_unknown_number_handled_in_time_pages_nobody(runtime):
    contact(runtime, "Dr Night", "always", phone=NIGHT)
    reply_id = urgent(runtime, STRANGER, None)
    with session_scope(runtime.engine) as session:
        assert stranger_answered(session, reply_id, actor="bo@example.com",
                                 now=WROTE + timedelta(minutes=5)) == 1  # fmt: skip
    assert run(runtime, WROTE + timedelta(hours=1)) == 0
    assert pages(runtime) == []


def test_a_failed_page_pages_the_next_contact_once_then_gives_up(runtime):
    """On call: Dr Night, then Dr Backup; listed but off duty: the office, by email."""
    enrolled = enroll_patient(runtime, completed_at=WROTE - timedelta(days=1), now=WROTE,
                              email=None)  # fmt: skip
    contact(runtime, "Dr Night", "always", phone=NIGHT)
    contact(runtime, "Dr Backup", "always", phone=BACKUP)
    contact(runtime, "Office", "mon 09:00-17:00", email=OFFICE)
    urgent(runtime, MARIA_PHONE, enrolled.patient_id)
    due = WROTE + timedelta(minutes=15)
    assert run(runtime, due) == 1
    dispatch(runtime, due, refuse={NIGHT, BACKUP})  # Dr Night's page fails for good
    assert run(runtime, due + timedelta(minutes=1)) == 1  # Dr Backup, once
    assert run(runtime, due + timedelta(minutes=1)) == 0
    dispatch(runtime, due + timedelta(minutes=1), refuse={NIGHT, BACKUP})
    assert run(runtime, due + timedelta(minutes=2)) == 1  # then the office, off duty
    assert [p.recipient for p in pages(runtime)] == [NIGHT, BACKUP, OFFICE]
    with Session(runtime.engine) as session:
        seen = pages_of(session, enrolled.patient_id)
    assert [(p.contact_name, p.on_call, p.status) for p in seen] == [
        ("Dr Night", True, "failed"),
        ("Dr Backup", True, "failed"),
        ("Office", False, "pending"),
    ]
    assert unreached(runtime, due + timedelta(minutes=2))[0] == 0
    # The office's email fails too: nobody is left, and that is a problem until answered.
    dispatch(runtime, due + timedelta(minutes=2), refuse={NIGHT, BACKUP, OFFICE})
    assert run(runtime, due + timedelta(minutes=3)) == 0
    assert run(runtime, due + timedelta(minutes=4)) == 0  # nobody is paged twice
    count, problems = unreached(runtime, due + timedelta(minutes=4))
    assert count == 1 and any("on call" in problem for problem in problems)
    with session_scope(runtime.engine) as session:
        assert stuck(session, due).unpaged_urgent == 1
        assert pages_of(session, enrolled.patient_id)[-1].gave_up
    # Someone added to the list since is paged, and it is no longer red.
    contact(runtime, "Dr Late", "always", phone="+13105550104")
    assert run(runtime, due + timedelta(minutes=5)) == 1
    assert pages(runtime)[-1].recipient == "+13105550104"
    assert unreached(runtime, due + timedelta(minutes=5))[0] == 0


def test_a_page_the_carrier_could_not_deliver_pages_the_next_contact_at_once(runtime):
    """Twilio's "undelivered 30008" (temporary) would resend a patient's text once, ten
    minutes on; a page's next try is the next contact, now."""
    contact(runtime, "Dr Night", "always", phone=NIGHT)
    contact(runtime, "Dr Backup", "always", phone=BACKUP)
    urgent(runtime, STRANGER, None)
    due = WROTE + timedelta(minutes=15)
    assert run(runtime, due) == 1
    dispatch(runtime, due, refuse=set())
    [page] = pages(runtime)
    assert page.status == "sent" and page.provider_id
    receipt = StatusCallback(page.provider_id, "undelivered", "30008")
    with session_scope(runtime.engine) as session:
        apply_status_callback(session, page.id or 0, receipt, due + timedelta(minutes=1))
    assert pages(runtime)[0].status == "undelivered"  # not pending again for a resend
    assert run(runtime, due + timedelta(minutes=2)) == 1
    assert [p.recipient for p in pages(runtime)] == [NIGHT, BACKUP]


def test_the_page_names_the_inbox_without_a_public_address(runtime):
    contact(runtime, "Dr Night", "always", phone=NIGHT)
    urgent(runtime, STRANGER, None)
    assert run(runtime, WROTE + timedelta(minutes=15), base_url=None) == 1
    assert pages(runtime)[0].body == PAGE_TEXT_NO_LINK
    assert "/inbox" not in PAGE_TEXT_NO_LINK and "Aftercare's inbox" in PAGE_TEXT_NO_LINK
