"""Enrolling a patient's completed session, and voiding one.

Validation is pure and happens before anything is written: bad input gives one clear line
and leaves the database untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from reminders.audit import record
from reminders.care_plans import CarePlans
from reminders.lifecycle import SkipReason, Status
from reminders.models import OutboxMessage, Patient, TreatmentSession
from reminders.outbox import skip
from reminders.settings import require_zone
from reminders.timing import local_date

LANGUAGES = ("en", "es")


class InvalidEnrollment(ValueError):
    """One line saying what is wrong with the input."""


@dataclass(frozen=True)
class EnrollmentForm:
    """What staff typed, as text: from the CLI, a CSV row or the web form."""

    name: str
    phone: str
    treatment: str
    completed_at: str
    email: str | None = None
    timezone: str | None = None
    language: str = "en"
    sms: bool = True
    email_ok: bool = True


@dataclass(frozen=True)
class Enrollment:
    name: str
    phone: str  # E.164
    treatment: str
    completed_at: datetime  # aware UTC
    email: str | None
    timezone: str | None
    language: str
    sms_consent: bool
    email_consent: bool


@dataclass(frozen=True)
class Enrolled:
    session_id: int
    patient_id: int
    replaced_session_id: int | None


def validate(
    form: EnrollmentForm, *, plans: CarePlans, clinic_tz: ZoneInfo, region: str, now: datetime
) -> Enrollment:
    """Check every field; raise InvalidEnrollment naming the first bad one."""
    name = form.name.strip()
    if not name or len(name) > 200:
        raise InvalidEnrollment("name is required (at most 200 characters)")
    treatment = form.treatment.strip().lower()
    if treatment not in plans.treatments:
        raise InvalidEnrollment(
            f"unknown treatment {form.treatment!r} (choose from {', '.join(plans.treatments)})"
        )
    language = form.language.strip().lower()
    if language not in LANGUAGES:
        raise InvalidEnrollment(f"unknown language {form.language!r} (choose en or es)")
    zone = _zone(form.timezone)
    return Enrollment(
        name=name,
        phone=parse_phone(form.phone, region),
        treatment=treatment,
        completed_at=parse_completed_at(form.completed_at, zone or clinic_tz, now),
        email=parse_email(form.email),
        timezone=form.timezone.strip() if form.timezone else None,
        language=language,
        sms_consent=form.sms,
        email_consent=form.email_ok,
    )


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or not name.strip():
        return None
    try:
        return require_zone(name.strip())
    except ValueError as exc:
        raise InvalidEnrollment(str(exc)) from None


def parse_phone(raw: str, region: str) -> str:
    """E.164, or InvalidEnrollment: a number we cannot text is caught at the desk, not later."""
    if any(ch.isalpha() for ch in raw):
        raise InvalidEnrollment(f"phone number {raw!r} has letters; type the digits")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidEnrollment(f"phone number {raw!r} cannot be read") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidEnrollment(f"phone number {raw!r} is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidEnrollment(f"email address {raw!r} is not valid: {exc}") from None


def parse_completed_at(raw: str, tz: ZoneInfo, now: datetime) -> datetime:
    """'YYYY-MM-DD HH:MM' in the patient's zone, or ISO-8601 with an offset; never the future."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidEnrollment(
            f"completion time {raw!r} is not 'YYYY-MM-DD HH:MM' (patient-local) or ISO-8601"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    moment = moment.astimezone(UTC)
    if moment > now:
        raise InvalidEnrollment(f"completion time {raw!r} is in the future")
    return moment


def enroll(
    session: Session,
    enrollment: Enrollment,
    *,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    actor: str,
    now: datetime,
) -> Enrolled:
    """Write the patient (reused by phone) and the session; the caller plans and commits."""
    patient = _upsert_patient(session, enrollment, actor=actor, now=now)
    tz = require_zone(patient.timezone) if patient.timezone else clinic_tz
    replaced = _same_day_session(session, plans, patient, enrollment, tz)
    treatment = TreatmentSession(
        patient_id=patient.id or 0,
        treatment=enrollment.treatment,
        completed_at=enrollment.completed_at,
        enrolled_by=actor,
        replaces_session_id=replaced.id if replaced else None,
        created_at=now,
    )
    session.add(treatment)
    session.flush()
    if replaced is not None:
        void_session(session, replaced, actor=actor, now=now, reason=f"replaced by {treatment.id}")
    record(
        session,
        actor=actor,
        action="enroll",
        entity="treatment_session",
        entity_id=treatment.id,
        now=now,
        detail=f"treatment={enrollment.treatment}",
    )
    return Enrolled(treatment.id or 0, patient.id or 0, replaced.id if replaced else None)


def _upsert_patient(
    session: Session, enrollment: Enrollment, *, actor: str, now: datetime
) -> Patient:
    patient = session.exec(select(Patient).where(Patient.phone == enrollment.phone)).first()
    action = "patient_update"
    if patient is None:
        patient = Patient(name=enrollment.name, phone=enrollment.phone, created_at=now)
        action = "patient_create"
    patient.email = enrollment.email or patient.email
    patient.timezone = enrollment.timezone or patient.timezone
    patient.language = enrollment.language
    _set_consent(patient, "sms", enrollment.sms_consent, actor, now)
    _set_consent(patient, "email", enrollment.email_consent, actor, now)
    session.add(patient)
    session.flush()
    record(session, actor=actor, action=action, entity="patient", entity_id=patient.id, now=now)
    return patient


def _set_consent(patient: Patient, channel: str, given: bool, actor: str, now: datetime) -> None:
    """Consent is recorded with when and by whom each time it is stated at enrollment."""
    setattr(patient, f"{channel}_consent", given)
    setattr(patient, f"{channel}_consent_at", now)
    setattr(patient, f"{channel}_consent_by", actor)


def _same_day_session(
    session: Session, plans: CarePlans, patient: Patient, enrollment: Enrollment, tz: ZoneInfo
) -> TreatmentSession | None:
    """A re-enrollment: same patient, same care plan, same local day (a corrected entry)."""
    plan = plans.for_treatment(enrollment.treatment)
    candidates = session.exec(
        select(TreatmentSession).where(
            TreatmentSession.patient_id == patient.id,
            TreatmentSession.status == "completed",
            col(TreatmentSession.treatment).in_(list(plan.treatments)),
        )
    ).all()
    day = local_date(enrollment.completed_at, tz)
    return next((s for s in candidates if local_date(s.completed_at, tz) == day), None)


def void_session(
    session: Session,
    treatment: TreatmentSession,
    *,
    actor: str,
    now: datetime,
    reason: str = "voided",
) -> int:
    """Void a session and skip its pending messages; returns how many were skipped."""
    treatment.status = "voided"
    treatment.voided_at = now
    session.add(treatment)
    pending = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.session_id == treatment.id, OutboxMessage.status == Status.PENDING
        )
    ).all()
    for message in pending:
        skip(session, message, SkipReason.VOIDED, now, actor=actor)
    record(
        session,
        actor=actor,
        action="void",
        entity="treatment_session",
        entity_id=treatment.id,
        now=now,
        detail=reason,
    )
    return len(pending)
