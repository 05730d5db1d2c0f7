"""A patient's details edited on their page: read as enrollment reads them, written once,
and what is still to be sent made to follow.

Name, phone, email, date of birth, language and time zone are each checked as the enroll form
checks them (a number is stored as E.164, and one whose kind cannot take texts is refused
while the patient takes texts). Pending messages follow a new phone or email by themselves:
the address is read when a message is sent (`sending.facts.address`), never stored before.
A number on file for someone else is taken only when staff say the two share the phone (a
parent and a child). A new time zone moves the pending messages of the care plan: each step's
time is placed again in the new zone, as the planner places it (`Step.due_at`), through
`plan_moves.retime`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.planning.phones import require_textable
from reminders.planning.validation import (
    InvalidEnrollment,
    Problems,
    parse_date_of_birth,
    parse_email,
    parse_phone,
    read_language,
    read_name,
    read_zone,
)
from reminders.rules.care_plans import CarePlans
from reminders.rules.timing import readable_zone
from reminders.store.patient_details import change_details, pending_plan_messages
from reminders.store.patients import patient_by_id, patients_with_phones
from reminders.store.plan_moves import retime

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import Patient

RETIMED = "re-timed: the patient's time zone changed"


@dataclass(frozen=True)
class DetailsForm:
    """What staff typed into the edit form, as text."""

    name: str
    phone: str
    email: str = ""
    date_of_birth: str = ""
    language: str = "en"
    timezone: str = ""  # "": the clinic's zone
    shared_phone: bool = False  # the new number is on file for someone else: they share it


@dataclass(frozen=True)
class Edited:
    changed: tuple[str, ...] = ()  # fields changed, in the form's order
    retimed: int = 0  # pending messages placed again in the new zone
    problems: dict[str, str] = field(default_factory=dict)  # by field; nothing was written
    sharing_asked: bool = False  # the number is someone else's: staff may say they share it


class UnknownPatient(LookupError):
    """No patient has that id."""


def read_details(form: DetailsForm, *, sms: bool, region: str, now: datetime) -> dict[str, object]:
    """The form's values as they would be stored, or InvalidEnrollment naming each bad field."""
    problems = Problems()
    name = problems.check("name", "", read_name, form.name)
    phone = problems.check("phone", "", parse_phone, form.phone, region)
    if phone and sms:  # a landline may stay on file for a patient who gets only emails
        problems.check("phone", None, require_textable, phone)
    email = problems.check("email", None, parse_email, form.email)
    born: date | None = problems.check(
        "date_of_birth", None, parse_date_of_birth, form.date_of_birth, now
    )
    language = problems.check("language", None, read_language, form.language) or "en"
    zone = problems.check("timezone", None, read_zone, form.timezone)
    problems.raise_any()
    return {"name": name, "phone": phone, "email": email, "date_of_birth": born,
            "language": language, "timezone": zone.key if zone else None}  # fmt: skip


def edit_details(
    session: Session,
    patient_id: int,
    form: DetailsForm,
    *,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    region: str,
    actor: str,
    now: datetime,
) -> Edited:
    """Check, write and audit the details in the caller's transaction; re-time the pending
    plan messages when the zone changed. A refusal writes nothing."""
    patient = patient_by_id(session, patient_id)
    if patient is None:
        raise UnknownPatient(f"no patient {patient_id}")
    try:
        values = read_details(form, sms=patient.sms_consent, region=region, now=now)
    except InvalidEnrollment as exc:
        return Edited(problems=dict(exc.by_field or {exc.field or "form": str(exc)}))
    others = [
        p for p in patients_with_phones(session, [str(values["phone"])]) if p.id != patient.id
    ]
    if others and not form.shared_phone and values["phone"] != patient.phone:
        names = ", ".join(f"{p.name} (patient {p.id})" for p in others)
        problem = f"this number is on file for {names}: say if they share this phone"
        return Edited(problems={"phone": problem}, sharing_asked=True)
    before = readable_zone(patient.timezone) or clinic_tz
    changed = change_details(session, patient, values, actor=actor, now=now)
    after = readable_zone(patient.timezone) or clinic_tz
    moved = _retime(session, patient, plans, after, actor, now) if after.key != before.key else 0
    return Edited(tuple(changed), moved)


def _retime(
    session: Session, patient: Patient, plans: CarePlans, tz: ZoneInfo, actor: str, now: datetime
) -> int:
    """Each pending step's time placed again in `tz`; a step an edit removed from the plan,
    or whose time does not depend on the zone, keeps its own."""
    moved = 0
    for message, treatment in pending_plan_messages(session, patient.id or 0):
        found = plans.plans.get(message.plan)
        step = next((s for s in found.steps if s.name == message.step), None) if found else None
        if step is None:
            continue
        due_at = step.due_at(treatment.completed_at, tz)
        not_after = step.expires_at(treatment.completed_at, tz)
        if (due_at, not_after) != (message.due_at, message.not_after):
            retime(session, message, due_at, not_after, now, actor=actor, reason=RETIMED)
            moved += 1
    return moved
