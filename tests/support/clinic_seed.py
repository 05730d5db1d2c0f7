"""A clinic's day written into a browser test's site: a patient with a long name and every
kind of row a page can show (planned, failed and opted-out messages, a reply, an API key, the
audit entries of all that), so each page is photographed as full as staff will see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from reminders.planning.planner import enroll_and_plan
from reminders.planning.validation import EnrollmentForm, validate
from reminders.store.api_keys import create_api_key
from reminders.store.automatic_answers import keep_answer
from reminders.store.db import session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.models import OutboxMessage, Reply
from reminders.store.opt_outs import opt_out
from reminders.store.replies import store_reply
from reminders.store.saved_replies import add_saved_reply

CLINIC = ZoneInfo("America/Los_Angeles")
NAME = "María Guadalupe Fernández-Castellanos"
PHONE, EMAIL = "+13105550142", "maria.guadalupe.fernandez-castellanos@example.com"


@dataclass(frozen=True)
class Seeded:
    patient_id: int
    session_id: int
    number_reply_id: int  # an urgent text from a number no patient has
    saved_reply_id: int


def seed_clinic(engine: Engine, now: datetime) -> Seeded:
    plans = load_care_plans()
    form = EnrollmentForm(NAME, PHONE, "sts", (now - timedelta(hours=1)).isoformat(), EMAIL,
                          "America/New_York", "es", sms=True, email_ok=True)  # fmt: skip
    enrollment = validate(form, plans=plans, clinic_tz=CLINIC, region="US", now=now)
    with session_scope(engine) as session:
        done = enroll_and_plan(session, enrollment, plans, clinic_tz=CLINIC, region="US",
                               actor="bo@example.com", now=now)  # fmt: skip
        first = session.exec(
            select(OutboxMessage).where(OutboxMessage.session_id == done.session_id)
        ).first()
        assert first is not None
        first.status, first.error_code = "failed", "30007"
        first.error_reason = "Carrier filtered the message as spam; ask the patient to text us"
        opt_out(session, EMAIL, source="web", actor="bo@example.com", now=now)
        store_reply(session, sid="SM" + "1" * 32, sender=PHONE, patient_id=done.patient_id,
                    body="Is it normal that the bruise is turning yellow-green on day 3?",
                    urgent=False, now=now)  # fmt: skip
        store_reply(session, sid="SM" + "2" * 32, sender="+13105550177", patient_id=None,
                    body="Who is this? My arm is swelling and hot since the injection",
                    urgent=True, now=now)  # fmt: skip
        stranger = session.exec(select(Reply.id).where(col(Reply.patient_id).is_(None))).one()
        keep_answer(session, sid="SM" + "3" * 32, patient_id=done.patient_id, kind="help",
                    body="Mensajes de cuidado de Fine Touch Dermatology. ¿Preguntas? Llame al "
                    "877-337-6424. Responda STOP para darse de baja.", now=now)  # fmt: skip
        saved = add_saved_reply(session, language="es", title="Moretones: es normal los primeros"
                                " días, llámenos si empeoran", body="Hola {{ first_name }}, es "
                                "normal. Llámenos al {{ clinic_phone }} si empeora.",
                                actor="ana@example.com", now=now)  # fmt: skip
        create_api_key(session, label="Practice management system (front desk)",
                       actor="ana@example.com", now=now)  # fmt: skip
    return Seeded(done.patient_id, done.session_id, stranger, saved.id or 0)
