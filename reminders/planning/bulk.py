"""Enrolling many sessions at once (`aftercare import`): the rules of one enrollment, row by row
in file order, with the database read and written a fixed number of times for the lot.

A row is *unchanged* when the patient's details on file already are what the row says (name
when a patient is named by id, phone, email, time zone, language, consent to SMS and email;
a blank email, time zone or language keeps what is on file) and the session it would replace
(the newest completed session of that patient for the same care plan on the same
patient-local day) has the same treatment and completion time. Such a row writes nothing, so
importing a file again changes nothing. Any other row is written: *replaced* when the planner
voids an earlier entry of the session for it, *created* otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.planning.enrollment import (
    apply_enrollment,
    change_detail,
    change_notes,
    choose_patient,
    enrolled_details,
    require_an_address,
    same_name,
    set_details,
)
from reminders.planning.planner import plan_sessions
from reminders.planning.validation import Enrollment, InvalidEnrollment, PhoneOfAnotherPatient
from reminders.rules.care_plans import CarePlans
from reminders.rules.timing import local_date, require_zone
from reminders.store.audit import record_many
from reminders.store.models import Patient, TreatmentSession
from reminders.store.patients import insert_patients, patients_by_ids, patients_with_phones
from reminders.store.sessions import (
    insert_sessions,
    pending_counts,
    sessions_by_ids,
    sessions_of_patients,
)

if TYPE_CHECKING:
    from reminders.store.db import Session

Row = tuple[int, Enrollment]  # the file line a row starts on, and the row
RowNote = tuple[int, str]
SessionKey = tuple[int, str, date]  # id() of the patient object, care plan, local day


class RowsRefused(InvalidEnrollment):
    """Rows that clash with what is on file (or with earlier rows); nothing may be written."""

    def __init__(self, errors: list[RowNote]) -> None:
        super().__init__(f"{len(errors)} row(s) refused")
        self.errors = errors


@dataclass(frozen=True)
class BulkReport:
    created: int
    replaced: int
    unchanged: int
    notes: list[RowNote]  # what staff must hear, by line
    planned: int  # messages waiting to be sent for the sessions written
    late: int  # of those, already past their deadline
    no_address: int  # of those, for a channel the patient has no address for
    lines: dict[int, int] = field(default_factory=dict)  # patient id → the first line naming it
    zones: dict[int, str | None] = field(default_factory=dict)  # patient id → zone on file

    @property
    def sessions(self) -> int:
        return self.created + self.replaced + self.unchanged


@dataclass
class NewPatient:
    """A patient first seen in this file, until it is written: a model object costs more to
    build than the rest of its row, and thousands of them are built."""

    line: int  # the first row that names it
    name: str
    created_at: datetime
    id: int | None = None
    phone: str | None = None
    email: str | None = None
    timezone: str | None = None
    language: str = "en"
    date_of_birth: date | None = None
    sms_consent: bool = True
    sms_consent_at: datetime | None = None
    sms_consent_by: str | None = None
    email_consent: bool = True
    email_consent_at: datetime | None = None
    email_consent_by: str | None = None

    def values(self) -> dict[str, object]:
        names = (f.name for f in fields(self) if f.name not in ("line", "id"))
        return {name: getattr(self, name) for name in names}


Someone = Patient | NewPatient


@dataclass
class _Write:
    line: int
    enrollment: Enrollment
    patient: Someone
    action: str
    changed: list[str]


@dataclass
class _Resolution:
    """The rows as enroll would take them one after another, before anything is written."""

    plans: CarePlans
    clinic_tz: ZoneInfo
    by_phone: dict[str, Someone]
    by_id: dict[int, Patient]
    current: dict[SessionKey, tuple[str, datetime]]  # the session each key would replace
    shared: dict[str, list[Patient]] = field(default_factory=dict)  # numbers several share
    writes: list[_Write] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowNote] = field(default_factory=list)


def enroll_many(
    session: Session,
    rows: Sequence[Row],
    plans: CarePlans,
    *,
    clinic_tz: ZoneInfo,
    region: str,
    actor: str,
    now: datetime,
) -> BulkReport:
    """Enroll and plan every row in the caller's transaction.

    Raises RowsRefused listing every clashing row (the caller rolls back): all or nothing.
    """
    resolution = _resolve(session, rows, plans, clinic_tz, actor=actor, now=now)
    if resolution.errors:
        raise RowsRefused(resolution.errors)
    writes = resolution.writes
    treatments = _write(session, writes, actor=actor, now=now)
    plan_sessions(session, plans, clinic_tz, treatments, now, region=region)
    notes = [(w.line, note) for w in writes for note in w.enrollment.notes]
    notes += [(w.line, note) for w in writes for note in change_notes(w.patient.id, w.changed)]
    notes += [
        (w.line, f"the session could not be planned: {t.plan_error}")
        for w, t in zip(writes, treatments, strict=True)
        if t.plan_error
    ]
    replaced = sum(1 for t in treatments if t.replaces_session_id is not None)
    planned, late, no_address = pending_counts(session, [t.id or 0 for t in treatments], now)
    return BulkReport(
        created=len(treatments) - replaced,
        replaced=replaced,
        unchanged=resolution.unchanged,
        notes=sorted(notes),
        planned=planned,
        late=late,
        no_address=no_address,
        lines={w.patient.id or 0: w.line for w in reversed(writes)},
        zones={w.patient.id or 0: w.patient.timezone for w in writes},
    )


def _resolve(
    session: Session,
    rows: Sequence[Row],
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    *,
    actor: str,
    now: datetime,
) -> _Resolution:
    """Each row's patient and whether it changes anything; patients changed in memory only."""
    phones = {e.phone for _, e in rows}
    on_file = sorted(patients_with_phones(session, phones), key=lambda p: p.id or 0)
    by_phone: dict[str, Someone] = {p.phone: p for p in on_file if p.phone}
    shared: dict[str, list[Patient]] = {}
    for patient in on_file:
        shared.setdefault(patient.phone or "", []).append(patient)
    ids = {e.patient_id for _, e in rows if e.patient_id is not None}
    by_id = {p.id: p for p in patients_by_ids(session, ids) if p.id is not None}
    resolution = _Resolution(plans, clinic_tz, by_phone, by_id, {}, shared)
    _load_current_sessions(session, resolution)
    for line, enrollment in rows:
        try:
            _resolve_row(resolution, line, enrollment, actor=actor, now=now)
        except PhoneOfAnotherPatient as exc:
            hint = f"put {exc.patient_id} in a patient_id column"
            resolution.errors.append((line, f"{exc}; if it is the same person, {hint}"))
        except InvalidEnrollment as exc:
            resolution.errors.append((line, str(exc)))
    return resolution


def _load_current_sessions(session: Session, resolution: _Resolution) -> None:
    """The newest completed session per patient, plan and local day: what a row replaces."""
    known = [*resolution.by_phone.values(), *resolution.by_id.values()]
    patients = {p.id: p for p in known if isinstance(p, Patient)}
    for treatment in sessions_of_patients(session, (i for i in patients if i is not None)):
        if treatment.status != "completed":
            continue
        patient = patients[treatment.patient_id]
        key = _key(resolution, patient, treatment.treatment, treatment.completed_at)
        if key is not None:
            resolution.current[key] = (treatment.treatment, treatment.completed_at)


def _key(
    resolution: _Resolution, patient: Someone, treatment: str, completed_at: datetime
) -> SessionKey | None:
    """None for a session no plan covers or a patient whose zone cannot be read."""
    try:
        plan = resolution.plans.for_treatment(treatment)
        tz = require_zone(patient.timezone) if patient.timezone else resolution.clinic_tz
    except (KeyError, ValueError):
        return None
    return id(patient), plan.name, local_date(completed_at, tz)


def _resolve_row(
    resolution: _Resolution, line: int, enrollment: Enrollment, *, actor: str, now: datetime
) -> None:
    patient = _choose(resolution, enrollment)
    require_an_address(enrollment, patient, resolution.plans, resolution.clinic_tz, now)
    if patient is not None and _unchanged(resolution, patient, enrollment):
        resolution.unchanged += 1
        return
    old_phone = patient.phone if patient is not None else None
    write = _apply(line, patient, enrollment, actor=actor, now=now)
    if old_phone and resolution.by_phone.get(old_phone) is write.patient:
        del resolution.by_phone[old_phone]  # the number is free for a later row
    resolution.by_phone[enrollment.phone] = write.patient
    key = _key(resolution, write.patient, enrollment.treatment, enrollment.completed_at)
    if key is not None:
        resolution.current[key] = (enrollment.treatment, enrollment.completed_at)
    resolution.writes.append(write)


def _apply(
    line: int, patient: Someone | None, enrollment: Enrollment, *, actor: str, now: datetime
) -> _Write:
    """enroll's changes to the patient, made in memory."""
    if isinstance(patient, Patient):
        patient, action, changed = apply_enrollment(patient, enrollment, actor=actor, now=now)
        return _Write(line, enrollment, patient, action, changed)
    if patient is None:
        patient = NewPatient(line=line, name=enrollment.name, created_at=now)
    set_details(patient, enrollment, actor=actor, now=now)
    action = "patient_create" if patient.line == line else "patient_update"
    return _Write(line, enrollment, patient, action, [])


def _choose(resolution: _Resolution, enrollment: Enrollment) -> Someone | None:
    """enroll's rule; a patient new in this file has no id yet, so its line is named."""
    holder = resolution.by_phone.get(enrollment.phone)
    chosen = None if enrollment.patient_id is None else resolution.by_id.get(enrollment.patient_id)
    if isinstance(holder, NewPatient):
        if enrollment.patient_id is not None:
            raise InvalidEnrollment(
                f"phone number {enrollment.phone} belongs to the new patient on line"
                f" {holder.line}, not patient {enrollment.patient_id}"
            )
        if not same_name(holder.name, enrollment.name):
            raise InvalidEnrollment(
                f"phone number {enrollment.phone} belongs to another patient (the one on line"
                f" {holder.line}, with a different name)"
            )
        return holder
    sharers = resolution.shared.get(enrollment.phone, [])
    if any(h is holder for h in sharers):  # on file, perhaps with others: the same name's
        return choose_patient(enrollment, sharers, chosen)
    return choose_patient(enrollment, [holder] if holder is not None else [], chosen)


def _unchanged(resolution: _Resolution, patient: Someone, enrollment: Enrollment) -> bool:
    details = enrolled_details(patient, enrollment)
    if any(getattr(patient, name) != value for name, value in details.items()):
        return False
    key = _key(resolution, patient, enrollment.treatment, enrollment.completed_at)
    return key is not None and resolution.current.get(key) == (
        enrollment.treatment,
        enrollment.completed_at,
    )


def _write(
    session: Session, writes: Sequence[_Write], *, actor: str, now: datetime
) -> list[TreatmentSession]:
    """Patients, sessions and audit rows in batched inserts (and one flush for the patients
    on file), audited as enroll audits them."""
    new = [w.patient for w in writes if w.action == "patient_create"]
    _insert_new_patients(session, [p for p in new if isinstance(p, NewPatient)])
    session.add_all(w.patient for w in writes if isinstance(w.patient, Patient))
    session.flush()
    patients = [(w.action, w.patient.id, change_detail(w.changed)) for w in writes]
    record_many(session, patients, actor=actor, entity="patient", now=now)
    values = [
        {"patient_id": w.patient.id, "treatment": w.enrollment.treatment,
         "completed_at": w.enrollment.completed_at, "status": "completed",
         "enrolled_by": actor, "created_at": now}
        for w in writes
    ]  # fmt: skip
    ids = insert_sessions(session, values)
    enrolled = [
        ("enroll", i, f"treatment={w.enrollment.treatment}")
        for w, i in zip(writes, ids, strict=True)
    ]
    record_many(session, enrolled, actor=actor, entity="treatment_session", now=now)
    return sessions_by_ids(session, ids)


def _insert_new_patients(session: Session, patients: Sequence[NewPatient]) -> None:
    ids = insert_patients(session, [p.values() for p in patients])
    for patient, patient_id in zip(patients, ids, strict=True):
        patient.id = patient_id
