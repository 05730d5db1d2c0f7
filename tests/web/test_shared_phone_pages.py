"""A phone two patients share, as staff see it: the inbox row and the thread name everyone on
the number, each a link to their own conversation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reminders.receiving.answers import Clinic
from reminders.receiving.inbound import InboundSms, handle_inbound
from reminders.runtime import Runtime
from reminders.store.db import session_scope
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import utc
from tests.support.staff_pages import signed_in
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, make_user

COMPLETED = utc(2026, 11, 20, 19, 30)
NOW = COMPLETED + timedelta(minutes=5)
STAFF = "bo@example.com"


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    make_user(runtime.engine, STAFF, now=NOW)
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


def test_the_inbox_and_the_thread_name_everyone_on_a_shared_phone(app, runtime):
    maria = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).patient_id
    sofia = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Sofía López",
                           email=None, shared_phone=True).patient_id  # fmt: skip
    with session_scope(runtime.engine) as session:
        handle_inbound(session, NOW, sms=InboundSms("SM1", MARIA_PHONE, "who is this for?"),
                       clinic=Clinic("Vein Clinic", "+13105550100"))  # fmt: skip
    staff = signed_in(app, STAFF)
    inbox = staff.get("/inbox").text
    assert "Maria Lopez (phone shared with Sofía López)" in inbox
    thread = staff.get(f"/inbox/{maria}").text
    assert "This phone is shared with" in thread
    assert f'<a href="/inbox/{sofia}">Sofía López</a>' in thread
    assert "a STOP from it stops texts to all of them" in thread
