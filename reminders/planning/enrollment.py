"""Writing a validated enrollment: the patient on file, the session, voiding one.

A phone number and a name identify a patient. A different name on a known number is refused
with a question (another person would take over that patient's record): the same person
(staff name the patient by id, and the name on file is corrected), or someone else sharing
the phone (`shared_phone`: a patient of their own on the same number). A changed email
address is never replaced silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from reminders.planning.validation import (
    Enrollment,
    EnrollmentForm,
    InvalidEnrollment,
    PhoneOfAnotherPatient,
    parse_phone,
    require_a_timely_step,
)
from reminders.rules.care_plans import CarePlans
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import is_direct
from reminders.rules.lifecycle import SkipReason
from reminders.rules.names import fold_name
from reminders.rules.timing import readable_zone
from reminders.store.audit import record
from reminders.store.models import Patient, TreatmentSession
from reminders.store.moves import skip
from reminders.store.patients import patient_by_id, patients_with_phone
from reminders.store.sessions import lock_pending_of_session

if TYPE_CHECKING:
    from reminders.store.db import Session


@dataclass(frozen=True)
class Enrolled:
    session_id: int
    patient_id: int
    replaced_session_id: int | None
    notes: tuple[str, ...] = ()  # what staff must hear: details on file that were changed


def normalize_contact(session: Session, patient: Patient, region: str, now: datetime) -> None:
    """Store the phone as E.164 and the email lower-case, in place, audited.

    Rows written straight into the database may hold '3105550142' or ' Ana@Example.com ';
    opt-outs (STOP, unsubscribe) match exact E.164 numbers and lower-case addresses, so a
    number left as written would never be stopped. Raises InvalidEnrollment (nothing
    changed) for a number that cannot be read or that another patient already has.
    """
    phone = _stored_phone(patient.phone, region)
    email = (patient.email or "").strip().lower() or None
    changed = [f for f, new in (("phone", phone), ("email", email)) if getattr(patient, f) != new]
    if not changed:
        return
    if "phone" in changed:
        _check_phone_free(session, patient, phone)
    patient.phone, patient.email = phone, email
    session.add(patient)
    detail = f"normalized: {', '.join(changed)}"
    record(session, actor="planner", action="patient_normalize", entity="patient",
           entity_id=patient.id, now=now, detail=detail)  # fmt: skip


def _check_phone_free(session: Session, patient: Patient, phone: str | None) -> None:
    found = patients_with_phone(session, phone) if phone is not None else []
    holder = next((p.id for p in found if p.id != patient.id), None)
    if holder is not None:
        raise InvalidEnrollment(f"patient phone is the number of another patient ({holder})")


def _stored_phone(raw: str | None, region: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return parse_phone(raw.strip(), region)
    except InvalidEnrollment:
        raise InvalidEnrollment("patient phone is not a valid number") from None


def enroll(
    session: Session,
    enrollment: Enrollment,
    plans: CarePlans,
    *,
    clinic_tz: ZoneInfo,
    actor: str,
    now: datetime,
) -> tuple[TreatmentSession, list[str]]:
    """Write the patient and the session; returns the session and notes for staff.

    Raises InvalidEnrollment before writing anything when the number is another patient's,
    or when nothing could be sent for want of an email address. The caller plans (see
    planner.enroll_and_plan, which also replaces a same-day session) and commits.
    """
    existing = _existing_patient(session, enrollment)
    require_an_address(enrollment, existing, plans, clinic_tz, now)
    patient, notes = _write_patient(session, existing, enrollment, actor=actor, now=now)
    notes = [*enrollment.notes, *notes]
    treatment = TreatmentSession(
        patient_id=patient.id or 0,
        treatment=enrollment.treatment,
        completed_at=enrollment.completed_at,
        enrolled_by=actor,
        created_at=now,
    )
    session.add(treatment)
    session.flush()
    detail = f"treatment={enrollment.treatment}"
    record(session, actor=actor, action="enroll", entity="treatment_session",
           entity_id=treatment.id, now=now, detail=detail)  # fmt: skip
    return treatment, notes


def require_an_address(
    enrollment: Enrollment,
    existing: PatientDetails | None,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    now: datetime,
) -> None:
    """`validate` judged consent alone; email consent without an address carries nothing.

    Only here is it known whether the patient has an address on file, and which zone the
    session's steps fall in.
    """
    if not enrollment.email_consent or enrollment.email or (existing and existing.email):
        return
    blocked: dict[str, str] = {ChannelKind.EMAIL: "no email address"}
    if not enrollment.sms_consent:
        blocked = {ChannelKind.SMS: "no consent to SMS", **blocked}
    plan = plans.for_treatment(enrollment.treatment)
    tz = _patient_zone(enrollment, existing, clinic_tz)
    require_a_timely_step(plan, enrollment.completed_at, tz, blocked, now, field="email")


def _patient_zone(
    enrollment: Enrollment, existing: PatientDetails | None, clinic_tz: ZoneInfo
) -> ZoneInfo:
    """The zone the planner will use: the one given, else the patient's own, else the clinic's.

    A zone on file that cannot be read falls back to the clinic's: the planner reports it.
    """
    name = enrollment.timezone or (existing.timezone if existing else None)
    return readable_zone(name) or clinic_tz


def same_name(left: str, right: str) -> bool:
    """'Maria Lopez' is 'maría  LÓPEZ': staff type names with or without accents and caps."""
    return fold_name(left) == fold_name(right)


def _existing_patient(session: Session, enrollment: Enrollment) -> Patient | None:
    """The patient this enrollment is for: the one named by id, else the one with the phone
    and the name."""
    holders = patients_with_phone(session, enrollment.phone)
    chosen = (
        None if enrollment.patient_id is None else patient_by_id(session, enrollment.patient_id)
    )
    return choose_patient(enrollment, holders, chosen)


def choose_patient(
    enrollment: Enrollment, holders: Sequence[Patient], chosen: Patient | None
) -> Patient | None:
    """The rule apart from the look-ups, which an import makes for all its rows at once.

    `holders` have the enrollment's phone number; `chosen` is the patient named by id, if any.
    None: a new patient (a first one on the number, or one sharing it).
    """
    if enrollment.patient_id is None:
        same = next((h for h in holders if same_name(h.name, enrollment.name)), None)
        if same is None and holders and not enrollment.shared_phone:
            raise PhoneOfAnotherPatient(enrollment.phone, holders[0].id or 0)
        return same
    if chosen is None:
        raise InvalidEnrollment(f"there is no patient {enrollment.patient_id}", "patient")
    others = [h for h in holders if h.id != chosen.id]
    if others and len(others) == len(holders) and not enrollment.shared_phone:
        raise InvalidEnrollment(
            f"phone number {enrollment.phone} belongs to patient {others[0].id},"
            f" not patient {chosen.id}",
            "phone",
        )
    return chosen


def patient_on_file(session: Session, form: EnrollmentForm, region: str) -> Patient | None:
    """The patient on file `enroll` will write this form to, as far as the raw form tells:
    the one named by id, else the one with the phone under the same name. Its zone is the
    `zone_on_file` that `validate` reads the completion time in; refusals are `enroll`'s."""
    if form.patient_id is not None:
        return patient_by_id(session, form.patient_id)
    try:
        phone = parse_phone(form.phone, region)
    except InvalidEnrollment:
        return None
    holders = patients_with_phone(session, phone)
    return next((h for h in holders if same_name(h.name, form.name)), None)


def _write_patient(
    session: Session, patient: Patient | None, enrollment: Enrollment, *, actor: str, now: datetime
) -> tuple[Patient, list[str]]:
    """Create or update the patient; changed details are audited (by field) and noted."""
    patient, action, changed = apply_enrollment(patient, enrollment, actor=actor, now=now)
    session.add(patient)
    session.flush()
    record(session, actor=actor, action=action, entity="patient", entity_id=patient.id,
           now=now, detail=change_detail(changed))  # fmt: skip
    return patient, change_notes(patient.id, changed)


def apply_enrollment(
    patient: Patient | None, enrollment: Enrollment, *, actor: str, now: datetime
) -> tuple[Patient, str, list[str]]:
    """The patient as the enrollment leaves it, in memory: (patient, audit action, changed)."""
    action, changed = "patient_update", []
    if patient is None:
        action, patient = "patient_create", Patient(name=enrollment.name, created_at=now)
    else:
        changed = _changed_fields(patient, enrollment)
        _forget_undeliverable(patient, changed)
    set_details(patient, enrollment, actor=actor, now=now)
    return patient, action, changed


def _forget_undeliverable(patient: Patient, changed: list[str]) -> None:
    """A provider's "cannot be delivered" was about the number or address now replaced."""
    for field in ("phone", "email"):
        if field in changed:
            setattr(patient, f"{field}_undeliverable_at", None)
            setattr(patient, f"{field}_undeliverable_reason", None)


class PatientDetails(Protocol):
    """A patient record, or an import's lighter stand-in for a patient it has yet to write."""

    name: str
    phone: str | None
    email: str | None
    timezone: str | None
    language: str
    date_of_birth: date | None


def set_details(
    patient: PatientDetails, enrollment: Enrollment, *, actor: str, now: datetime
) -> None:
    for field, value in enrolled_details(patient, enrollment).items():
        setattr(patient, field, value)
    _set_consent(patient, ChannelKind.SMS, enrollment.sms_consent, actor, now)
    _set_consent(patient, ChannelKind.EMAIL, enrollment.email_consent, actor, now)


def enrolled_details(patient: PatientDetails, enrollment: Enrollment) -> dict[str, object]:
    """The details on file once the enrollment is written; what is not given is kept."""
    return {
        # staff named the patient: the name may be corrected
        "name": enrollment.name if enrollment.patient_id is not None else patient.name,
        "phone": enrollment.phone,
        "email": enrollment.email or patient.email,
        "timezone": enrollment.timezone or patient.timezone,
        "language": enrollment.language or patient.language or "en",
        "date_of_birth": enrollment.date_of_birth or patient.date_of_birth,
        "sms_consent": enrollment.sms_consent,
        "email_consent": enrollment.email_consent,
    }


def change_detail(changed: list[str]) -> str | None:
    return f"changed: {', '.join(changed)}" if changed else None


def change_notes(patient_id: int | None, changed: list[str]) -> list[str]:
    return [_CHANGE_NOTES[field].format(id=patient_id) for field in changed]


_CHANGE_NOTES = {
    "name": "patient {id}'s name on file was corrected to the one given",
    "phone": "patient {id}'s phone number on file was replaced by the one given",
    "email": (
        "patient {id} had a different email address on file; it was replaced by the one given"
        " (emails for this patient go there from now on)"
    ),
    "date_of_birth": "patient {id}'s date of birth on file was replaced by the one given",
}


def _changed_fields(patient: Patient, enrollment: Enrollment) -> list[str]:
    """Details on file this enrollment replaces; a first email address or phone is no change."""
    changed = []
    if enrollment.patient_id is not None and enrollment.name != patient.name:
        changed.append("name")
    if patient.phone and patient.phone != enrollment.phone:
        changed.append("phone")
    if enrollment.email and patient.email and enrollment.email != patient.email.lower():
        changed.append("email")
    born = enrollment.date_of_birth
    if born and patient.date_of_birth and born != patient.date_of_birth:
        changed.append("date_of_birth")
    return changed


def _set_consent(
    patient: PatientDetails, channel: ChannelKind, given: bool, actor: str, now: datetime
) -> None:
    """Consent is recorded with when and by whom each time it is stated at enrollment."""
    setattr(patient, f"{channel}_consent", given)
    setattr(patient, f"{channel}_consent_at", now)
    setattr(patient, f"{channel}_consent_by", actor)


def void_session(
    session: Session,
    treatment: TreatmentSession,
    *,
    actor: str,
    now: datetime,
    reason: str = "voided",
) -> int:
    """Void a session and skip its pending plan messages; returns how many were skipped. A
    direct message (a staff reply, a code) is a conversation, not the plan: it still goes."""
    locked = lock_pending_of_session(session, treatment.id or 0)
    pending = [message for message in locked if not is_direct(message.plan)]
    for message in pending:
        skip(session, message, SkipReason.VOIDED, now, actor=actor)
    mark_voided(session, treatment, actor=actor, now=now, reason=reason)
    return len(pending)


def mark_voided(
    session: Session, treatment: TreatmentSession, *, actor: str, now: datetime, reason: str
) -> None:
    """The session's own part of voiding, audited; its pending messages are the caller's."""
    treatment.status = "voided"
    treatment.voided_at = now
    session.add(treatment)
    record(
        session,
        actor=actor,
        action="void",
        entity="treatment_session",
        entity_id=treatment.id,
        now=now,
        detail=reason,
    )
