"""Two people on one phone (a parent and a child), on both databases: a second name on a number
needs the staff's answer, a STOP from the phone stops texts to everyone on it, a reply is
filed under the one last texted there, and START brings everyone's texts back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from reminders.planning.validation import PhoneOfAnotherPatient
from reminders.receiving.answers import Clinic
from reminders.receiving.inbound import InboundSms, handle_inbound
from reminders.runtime import Runtime
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage, Reply
from reminders.store.patients import names_on_phones, patient_with_phone
from tests.support.factories import MARIA_PHONE, enroll_patient

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
NOW = COMPLETED + timedelta(minutes=5)
CLINIC = Clinic("Vein Clinic", "+13105550100")


@pytest.fixture
def family(runtime: Runtime) -> tuple[int, int]:
    maria = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).patient_id
    with pytest.raises(PhoneOfAnotherPatient, match="someone else sharing this phone"):
        enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Sofia Lopez", email=None)
    sofia = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Sofia Lopez",
                           email=None, shared_phone=True).patient_id  # fmt: skip
    return maria, sofia


def sms_statuses(runtime: Runtime) -> dict[int, set[str]]:
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.channel == "sms")
        found: dict[int, set[str]] = {}
        for m in session.exec(query):
            found.setdefault(m.patient_id, set()).add(m.status)
        return found


def receive(runtime: Runtime, sid: str, body: str, at: datetime) -> str | None:
    with session_scope(runtime.engine) as session:
        return handle_inbound(session, at, sms=InboundSms(sid, MARIA_PHONE, body), clinic=CLINIC)


def test_a_stop_from_a_shared_phone_stops_everyone_on_it_and_start_brings_them_back(
    runtime, family
):
    maria, sofia = family
    assert sms_statuses(runtime) == {maria: {"pending"}, sofia: {"pending"}}
    receive(runtime, "SM1", "STOP", NOW)
    assert sms_statuses(runtime) == {maria: {"skipped"}, sofia: {"skipped"}}
    receive(runtime, "SM2", "START", NOW + timedelta(minutes=1))
    assert sms_statuses(runtime) == {maria: {"pending"}, sofia: {"pending"}}


def test_a_reply_is_filed_under_the_one_last_texted_and_every_name_is_known(runtime, family):
    maria, sofia = family
    with session_scope(runtime.engine) as session:
        assert patient_with_phone(session, MARIA_PHONE).id == maria  # nobody texted yet: first
        first = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.patient_id == sofia, OutboxMessage.channel == "sms"
            )
        ).first()
        assert first is not None
        first.recipient, first.sent_at = MARIA_PHONE, NOW  # as the dispatcher leaves it
        session.add(first)
    receive(runtime, "SM3", "thanks, she is fine", NOW + timedelta(minutes=2))
    with session_scope(runtime.engine) as session:
        [reply] = session.exec(select(Reply)).all()
        assert reply.patient_id == sofia
        assert names_on_phones(session, [MARIA_PHONE]) == {
            MARIA_PHONE: [(maria, "Maria Lopez"), (sofia, "Sofia Lopez")]}  # fmt: skip
