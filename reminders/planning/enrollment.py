"""Enrolling a patient's completed session, and voiding one.

Validation is pure and happens before anything is written: bad input gives one clear line
and leaves the database untouched. That includes a session on which no message would go
(every step past its deadline, or no channel with consent and an address): it would be
enrolled for nothing, and is most often a typo in the year.

A phone number identifies a patient: a different name on a known number is refused (another
person would take over that patient's record) unless staff name the patient by id; a changed
email address is never replaced silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import ParamSpec, Protocol, TypeVar
from zoneinfo import ZoneInfo

import phonenumbers
from sqlmodel import Session, select

from reminders.rules.care_plans import CHANNELS, CarePlans, Plan
from reminders.rules.emails import normalize_email
from reminders.rules.lifecycle import SkipReason, Status
from reminders.rules.names import fold_name
from reminders.rules.timing import (
    is_expired,
    is_repeated,
    is_skipped,
    readable_zone,
    require_zone,
)
from reminders.store.audit import record
from reminders.store.claims import lock_in_order
from reminders.store.db import MAX_ID
from reminders.store.models import OutboxMessage, Patient, TreatmentSession
from reminders.store.moves import skip

LANGUAGES = ("en", "es")

P = ParamSpec("P")
T = TypeVar("T")


# The fields of the form a problem can concern, as the web form names its inputs.
FIELDS = ("name", "phone", "email", "treatment", "completed_at", "timezone", "language",
          "consent", "patient")  # fmt: skip


class InvalidEnrollment(ValueError):
    """What is wrong with the input: one line (the CLI and the import print it), and, for
    the web form, the line of each bad field by its name in FIELDS (`by_field`)."""

    def __init__(
        self, message: str, field: str | None = None, *, by_field: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.field = field
        self.by_field = dict(by_field) if by_field else ({field: message} if field else {})


class PhoneOfAnotherPatient(InvalidEnrollment):
    """The number is on file for a patient with another name; each front end says how to
    enroll for that patient if it is the same person (`--patient`, a `patient_id` column)."""

    def __init__(self, phone: str, patient_id: int) -> None:
        super().__init__(
            f"phone number {phone} belongs to another patient (patient {patient_id},"
            " with a different name)",
            "phone",
        )
        self.patient_id = patient_id


@dataclass(frozen=True)
class EnrollmentForm:
    """What staff typed, as text: from the CLI, a CSV row or the web form."""

    name: str
    phone: str
    treatment: str
    completed_at: str
    email: str | None = None
    timezone: str | None = None
    language: str | None = None  # None: the patient's own, or English for a new patient
    sms: bool = True
    email_ok: bool = True
    patient_id: int | None = None  # an existing patient, named explicitly


@dataclass(frozen=True)
class Enrollment:
    name: str
    phone: str  # E.164
    treatment: str
    completed_at: datetime  # aware UTC
    email: str | None
    timezone: str | None
    language: str | None
    sms_consent: bool
    email_consent: bool
    patient_id: int | None = None
    notes: tuple[str, ...] = ()  # what staff must hear about how the input was read


@dataclass(frozen=True)
class Enrolled:
    session_id: int
    patient_id: int
    replaced_session_id: int | None
    notes: tuple[str, ...] = ()  # what staff must hear: details on file that were changed


def validate(
    form: EnrollmentForm,
    *,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    region: str,
    now: datetime,
    zone_on_file: str | None = None,
) -> Enrollment:
    """Check every field; raise InvalidEnrollment naming each bad one, the first first.

    A completion time without an offset is read in the zone given, else in `zone_on_file`
    (the zone of the patient on file this form is for: see `patient_on_file`), else in the
    clinic's: the zone the planner will place the session's steps in.
    """
    problems = _Problems()
    name = problems.check("name", "", _name, form.name)
    treatment = problems.check("treatment", "", _treatment, form.treatment, plans)
    language = problems.check("language", None, _language, form.language)
    zone = problems.check("timezone", None, _zone, form.timezone)
    phone = problems.check("phone", "", parse_phone, form.phone, region)
    tz = zone or readable_zone(zone_on_file) or clinic_tz
    read = problems.check(
        "completed_at", (now, None), parse_completed_at, form.completed_at, tz, now
    )
    completed_at, note = read
    email = problems.check("email", None, parse_email, form.email)
    if not problems.by_field.keys() & {"treatment", "completed_at"}:
        consent = {"sms": form.sms, "email": form.email_ok}
        blocked = {ch: f"no consent to {_LABELS[ch]}" for ch, ok in consent.items() if not ok}
        plan = plans.for_treatment(treatment)
        problems.check("consent", None, require_a_timely_step, plan, completed_at, tz, blocked, now)
    problems.raise_any()
    return Enrollment(
        name=name,
        phone=phone,
        treatment=treatment,
        completed_at=completed_at,
        email=email,
        timezone=form.timezone.strip() if form.timezone else None,
        language=language,
        sms_consent=form.sms,
        email_consent=form.email_ok,
        patient_id=form.patient_id,
        notes=(note,) if note else (),
    )


class _Problems:
    """The first problem of each field, in the order checked; the first of all comes first."""

    def __init__(self) -> None:
        self.by_field: dict[str, str] = {}

    def check(
        self, field: str, fallback: T, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`read(*args)`, or `fallback` once its problem is noted under `field` (or its own)."""
        try:
            return read(*args, **kwargs)
        except InvalidEnrollment as exc:
            self.by_field.setdefault(exc.field or field, str(exc))
            return fallback

    def raise_any(self) -> None:
        if self.by_field:
            field, message = next(iter(self.by_field.items()))
            raise InvalidEnrollment(message, field, by_field=self.by_field)


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > 200:
        raise InvalidEnrollment("name is required (at most 200 characters)")
    return name


def _treatment(raw: str, plans: CarePlans) -> str:
    treatment = raw.strip().lower()
    if not treatment:
        raise InvalidEnrollment(f"treatment is required (one of {', '.join(plans.treatments)})")
    if treatment not in plans.treatments:
        raise InvalidEnrollment(
            f"unknown treatment {raw!r} (choose from {', '.join(plans.treatments)})"
        )
    return treatment


def _language(raw: str | None) -> str | None:
    language = raw.strip().lower() if raw else None
    if language is not None and language not in LANGUAGES:
        raise InvalidEnrollment(f"unknown language {raw!r} (choose en or es)")
    return language


_LABELS = {"sms": "SMS", "email": "email"}


def require_a_timely_step(
    plan: Plan,
    completed_at: datetime,
    tz: ZoneInfo,
    blocked: Mapping[str, str],
    now: datetime,
    *,
    field: str | None = None,
) -> None:
    """Raise InvalidEnrollment when not one step would still go out on an open channel.

    `blocked` maps each channel that cannot carry messages to why ("no consent to SMS").
    One step still before its deadline is enough: a late entry keeps its timely steps.
    The refusal concerns the consent boxes, or the completion time when it is too late;
    `field` names another field to blame instead.
    """
    open_channels = [channel for channel in CHANNELS if channel not in blocked]
    why_not = " and ".join(blocked.values())
    if not open_channels:
        raise InvalidEnrollment(f"{why_not}: nothing would be sent", field or "consent")
    steps = [step for step in plan.steps if set(step.channels) & set(open_channels)]
    by = " or ".join(_LABELS[channel] for channel in open_channels)
    if not steps:
        raise InvalidEnrollment(
            f"{why_not}, and the {plan.title} plan sends nothing by {by}: nothing would be sent",
            field or "consent",
        )
    deadlines = [step.expires_at(completed_at, tz) for step in steps]
    if any(deadline is None or not is_expired(now, deadline) for deadline in deadlines):
        return
    last = max(deadline for deadline in deadlines if deadline is not None)
    what = f"{by} message" if blocked else "message"
    raise InvalidEnrollment(
        f"every {what} of this plan would already be past its deadline (completed"
        f" {_wall(completed_at, tz)}, the last deadline {_wall(last, tz)}); check the date",
        field or "completed_at",
    )


def _wall(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or not name.strip():
        return None
    try:
        return require_zone(name.strip())
    except ValueError as exc:
        raise InvalidEnrollment(str(exc)) from None


@lru_cache(maxsize=8192)  # an import reads each number, then the planner reads it again
def parse_phone(raw: str, region: str) -> str:
    """E.164, or InvalidEnrollment: a number we cannot text is caught at the desk, not later."""
    if not raw.strip():
        raise InvalidEnrollment("phone number is required")
    if any(ch.isalpha() for ch in raw):
        raise InvalidEnrollment(f"phone number {raw!r} has letters; type the digits")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidEnrollment(f"phone number {raw!r} cannot be read") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidEnrollment(
            f"phone number {raw!r} is not a valid number: check its digits (one from abroad"
            " starts with + and its country code)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_email(raw: str | None) -> str | None:
    """Lower-case, as opt-outs store and match addresses."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalize_email(raw)
    except ValueError as exc:
        raise InvalidEnrollment(f"email address {raw!r} is not valid: {exc}") from None


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
    holder = session.exec(select(Patient.id).where(Patient.phone == phone)).first()
    if phone is not None and holder is not None and holder != patient.id:
        raise InvalidEnrollment(f"patient phone is the number of another patient ({holder})")


def _stored_phone(raw: str | None, region: str) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return parse_phone(raw.strip(), region)
    except InvalidEnrollment:
        raise InvalidEnrollment("patient phone is not a valid number") from None


def parse_completed_at(raw: str, tz: ZoneInfo, now: datetime) -> tuple[datetime, str | None]:
    """'YYYY-MM-DD HH:MM' in the patient's zone, or ISO-8601 with an offset; never the future.

    Returns the moment in UTC and, for a fall-back time that happens twice, a note saying
    which of the two it was taken as. A date alone or a time the clocks skip is refused:
    either would be read as some other moment (midnight, an hour later) without a word.
    """
    given = _read_moment(raw)
    moment, note = (given, None) if given.tzinfo else _on_wall_clock(raw, given, tz)
    moment = moment.astimezone(UTC)  # compared in UTC: PEP 495 inter-zone comparison is lax
    if moment > now:
        raise InvalidEnrollment(f"completion time {raw!r} is in the future")
    return moment, note


def _read_moment(raw: str) -> datetime:
    text = raw.strip()
    if not text:
        raise InvalidEnrollment("completion time is required")
    if _is_date(text):
        example = f"{date.fromisoformat(text)} 14:30"
        raise InvalidEnrollment(
            f"completion time {raw!r} has no time of day: give the time too, e.g. {example!r}"
        )
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEnrollment(
            f"completion time {raw!r} is not 'YYYY-MM-DD HH:MM' (patient-local) or ISO-8601"
        ) from None


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _on_wall_clock(raw: str, wall: datetime, tz: ZoneInfo) -> tuple[datetime, str | None]:
    """A patient-local time: refused if the clocks skip it, noted if it happens twice."""
    if is_skipped(wall, tz):
        raise InvalidEnrollment(
            f"completion time {raw!r} never happened in {tz.key}: the clocks skip that hour"
            " there (they spring forward that night); check the time"
        )
    first = wall.replace(tzinfo=tz, fold=0)
    if not is_repeated(wall, tz):
        return first, None
    second = wall.replace(tzinfo=tz, fold=1).isoformat(timespec="minutes")
    return first, (
        f"{wall:%Y-%m-%d %H:%M} happens twice in {tz.key} (the clocks go back): taken as"
        f" {first:%H:%M %Z} (the first of the two); for the second, give {second}"
    )


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
    blocked = {"email": "no email address"}
    if not enrollment.sms_consent:
        blocked = {"sms": "no consent to SMS", **blocked}
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
    """The patient this enrollment is for: the one named by id, else the one with the phone."""
    holder = session.exec(select(Patient).where(Patient.phone == enrollment.phone)).first()
    chosen = None if enrollment.patient_id is None else _patient(session, enrollment.patient_id)
    return choose_patient(enrollment, holder, chosen)


def _patient(session: Session, patient_id: int) -> Patient | None:
    """The patient of this id; none past the ids' range, which PostgreSQL refuses to compare."""
    return session.get(Patient, patient_id) if 0 < patient_id <= MAX_ID else None


def choose_patient(
    enrollment: Enrollment, holder: Patient | None, chosen: Patient | None
) -> Patient | None:
    """The rule apart from the look-ups, which an import makes for all its rows at once.

    `holder` has the enrollment's phone number; `chosen` is the patient named by id, if any.
    """
    if enrollment.patient_id is None:
        if holder is not None and not same_name(holder.name, enrollment.name):
            raise PhoneOfAnotherPatient(enrollment.phone, holder.id or 0)
        return holder
    if chosen is None:
        raise InvalidEnrollment(f"there is no patient {enrollment.patient_id}", "patient")
    if holder is not None and holder.id != chosen.id:
        raise InvalidEnrollment(
            f"phone number {enrollment.phone} belongs to patient {holder.id},"
            f" not patient {chosen.id}",
            "phone",
        )
    return chosen


def patient_on_file(session: Session, form: EnrollmentForm, region: str) -> Patient | None:
    """The patient on file `enroll` will write this form to, as far as the raw form tells:
    the one named by id, else the one with the phone under the same name. Its zone is the
    `zone_on_file` that `validate` reads the completion time in; refusals are `enroll`'s."""
    if form.patient_id is not None:
        return _patient(session, form.patient_id)
    try:
        phone = parse_phone(form.phone, region)
    except InvalidEnrollment:
        return None
    holder = session.exec(select(Patient).where(Patient.phone == phone)).first()
    return holder if holder is not None and same_name(holder.name, form.name) else None


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


def set_details(
    patient: PatientDetails, enrollment: Enrollment, *, actor: str, now: datetime
) -> None:
    for field, value in enrolled_details(patient, enrollment).items():
        setattr(patient, field, value)
    _set_consent(patient, "sms", enrollment.sms_consent, actor, now)
    _set_consent(patient, "email", enrollment.email_consent, actor, now)


def enrolled_details(patient: PatientDetails, enrollment: Enrollment) -> dict[str, object]:
    """The details on file once the enrollment is written; what is not given is kept."""
    return {
        # staff named the patient: the name may be corrected
        "name": enrollment.name if enrollment.patient_id is not None else patient.name,
        "phone": enrollment.phone,
        "email": enrollment.email or patient.email,
        "timezone": enrollment.timezone or patient.timezone,
        "language": enrollment.language or patient.language or "en",
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
    return changed


def _set_consent(
    patient: PatientDetails, channel: str, given: bool, actor: str, now: datetime
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
    """Void a session and skip its pending messages; returns how many were skipped."""
    pending = lock_in_order(
        session,
        select(OutboxMessage).where(
            OutboxMessage.session_id == treatment.id, OutboxMessage.status == Status.PENDING
        ),
    )
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
