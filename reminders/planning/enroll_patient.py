"""One enrollment, whichever door it comes through: `aftercare enroll`, `/enroll`, the API.

Every door does the same in one transaction: read the plans in force (an admin's newest
edit, else the plans the app or command was built with), find the patient on file, validate
(a completion time without an offset is read in that patient's zone), enroll and plan, and
gather what staff must hear. The answer is one `EnrollResult`; each door only says it in its
own words (CLI text and exit code, the form's field errors, a 422 JSON body).

A refused result wrote nothing. Doors end the transaction by raising on a refusal all the same
(the CLI's exit, the form's NotEnrolled, the API's InvalidRequest), so nothing is committed.
`aftercare import` enrolls a file's rows with `enroll_rows`: the same steps, with the database
read and written a fixed number of times for the lot (one difference: see its docstring).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.planning.bulk import BulkReport, RowNote, RowsRefused, enroll_many
from reminders.planning.enrollment import Enrolled, patient_on_file
from reminders.planning.line_types import LineTypeLookup, check_line_type
from reminders.planning.planner import enroll_and_plan
from reminders.planning.validation import (
    Enrollment,
    EnrollmentForm,
    InvalidEnrollment,
    PhoneOfAnotherPatient,
    validate,
)
from reminders.planning.warnings import Forecaster, enrollment_warnings, forecast_notes
from reminders.rules.care_plans import CarePlans
from reminders.rules.send_plan import Expected
from reminders.rules.timing import zone_or
from reminders.store.care_plans import current_plans
from reminders.store.models import OutboxMessage, Patient
from reminders.store.patients import patients_with_phone
from reminders.store.sessions import messages_of_session

if TYPE_CHECKING:
    from reminders.store.db import Session


@dataclass(frozen=True)
class Desk:
    """What every door enrolls with, built once with the app or the command."""

    plans: CarePlans  # as the app or command was built with them (care_plans.toml)
    clinic_tz: ZoneInfo
    region: str  # DEFAULT_PHONE_REGION: how national numbers are read
    forecast: Forecaster | None = None  # when each planned SMS will go (window, cap, deadlines)
    line_types: LineTypeLookup | None = None  # Twilio Lookup, when TWILIO_LOOKUP is on


def in_force(session: Session, desk: Desk) -> CarePlans:
    """The plans in force: each plan's newest revision, else the desk's (the file's) plan."""
    return current_plans(session, desk.plans)


class _Find(Enum):
    ON_FILE = "look the patient up"


FIND = _Find.ON_FILE


@dataclass(frozen=True)
class EnrollResult:
    """What came of one enrollment: written and planned (`enrolled`), refused (`problem`:
    nothing was written), or, asked to check only, neither."""

    enrolled: Enrolled | None = None
    patient: Patient | None = None  # the patient as enrolled
    messages: tuple[OutboxMessage, ...] = ()  # the session's messages, soonest first
    warnings: tuple[str, ...] = ()  # what staff must hear at once, notes first
    problem: str = ""  # the first problem, in one line (the CLI's error)
    problems: Mapping[str, str] = field(default_factory=dict)  # by field (validation.FIELDS)
    other_patient: Patient | None = None  # the number's patient, under another name
    sharers: tuple[Patient, ...] = ()  # everyone on file with that number: the question's choices
    expected: Mapping[int, Expected] = field(default_factory=dict)  # planned SMS, by message id

    @property
    def refused(self) -> bool:
        return bool(self.problem)


def enroll_patient(
    session: Session,
    form: EnrollmentForm,
    desk: Desk,
    *,
    actor: str,
    now: datetime,
    on_file: Patient | _Find | None = FIND,
    also_refused: Mapping[str, str] | None = None,
    check_only: bool = False,
) -> EnrollResult:
    """Validate, enroll and plan the form in the caller's transaction.

    `on_file`: the patient on file, when the door looked it up itself (the web form shows
    the form in that patient's zone first); else it is looked up here. `also_refused`: the
    door's own problems with the input (the API's missing offset), refused beside validate's.
    `check_only`: validate and stop, writing nothing (the form shown again for a check).
    """
    plans = in_force(session, desk)
    if on_file is FIND:
        on_file = patient_on_file(session, form, desk.region)
    zone_on_file = on_file.timezone if isinstance(on_file, Patient) else None
    also = dict(also_refused or {})
    try:
        enrollment = validate(form, plans=plans, clinic_tz=desk.clinic_tz, region=desk.region,
                              now=now, zone_on_file=zone_on_file)  # fmt: skip
    except InvalidEnrollment as exc:
        return _refusal(session, exc, {**also, **exc.by_field})
    if also:
        return EnrollResult(problem=next(iter(also.values())), problems=also)
    if desk.line_types is not None and enrollment.sms_consent:
        try:
            note = check_line_type(session, enrollment.phone, desk.line_types, now)
        except InvalidEnrollment as exc:
            return _refusal(session, exc, exc.by_field)
        if note is not None:
            enrollment = replace(enrollment, notes=(*enrollment.notes, note))
    if check_only:
        return EnrollResult()
    return _enroll(session, enrollment, plans, desk, actor=actor, now=now)


def _enroll(
    session: Session,
    enrollment: Enrollment,
    plans: CarePlans,
    desk: Desk,
    *,
    actor: str,
    now: datetime,
) -> EnrollResult:
    try:
        enrolled = enroll_and_plan(session, enrollment, plans, clinic_tz=desk.clinic_tz,
                                   region=desk.region, actor=actor, now=now)  # fmt: skip
    except InvalidEnrollment as exc:
        return _refusal(session, exc, exc.by_field)
    patient = session.get_one(Patient, enrolled.patient_id)
    messages = messages_of_session(session, enrolled.session_id)
    warnings = [*enrolled.notes, *enrollment_warnings(session, patient, messages, now)]
    ours = {m.id or 0 for m in messages}
    expected = _forecast(session, desk, [patient.id or 0], plans, now)
    warnings += forecast_notes(expected, zone_or(patient.timezone, desk.clinic_tz), ours)
    return EnrollResult(enrolled, patient, tuple(messages), tuple(warnings),
                        expected={e.message_id: e for e in expected})  # fmt: skip


def _forecast(
    session: Session, desk: Desk, patient_ids: Sequence[int], plans: CarePlans, now: datetime
) -> list[Expected]:
    return [] if desk.forecast is None else desk.forecast(session, patient_ids, plans, now)


def _refusal(session: Session, exc: InvalidEnrollment, problems: Mapping[str, str]) -> EnrollResult:
    other: Patient | None = None
    sharers: tuple[Patient, ...] = ()
    if isinstance(exc, PhoneOfAnotherPatient):
        other = session.get_one(Patient, exc.patient_id)
        sharers = tuple(patients_with_phone(session, exc.phone))
    return EnrollResult(problem=str(exc), problems=dict(problems), other_patient=other,
                        sharers=sharers)  # fmt: skip


# -- a file's rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowsResult:
    """What came of a file's rows: all written (`report`), or the problems by line and none."""

    report: BulkReport | None = None
    problems: list[RowNote] = field(default_factory=list)


def enroll_rows(
    session: Session,
    rows: Sequence[tuple[int, EnrollmentForm | InvalidEnrollment]],
    desk: Desk,
    *,
    actor: str,
    now: datetime,
) -> RowsResult:
    """Every row validated (a row the door could not even read comes as its problem), then,
    when none is refused, every row enrolled and planned in the caller's transaction.

    Rows are read as `enroll` reads them, with one difference kept from the first import: a
    completion time without an offset is read in the row's zone, else the clinic's.
    """
    plans = in_force(session, desk)
    valid: list[tuple[int, Enrollment]] = []
    problems: list[RowNote] = []
    for line, form in rows:
        try:
            if isinstance(form, InvalidEnrollment):
                raise form
            valid.append((line, validate(form, plans=plans, clinic_tz=desk.clinic_tz,
                                         region=desk.region, now=now)))  # fmt: skip
        except InvalidEnrollment as exc:
            problems.append((line, str(exc)))
    if problems:
        return RowsResult(problems=problems)
    try:
        report = enroll_many(session, valid, plans, clinic_tz=desk.clinic_tz,
                             region=desk.region, actor=actor, now=now)  # fmt: skip
    except RowsRefused as refused:
        return RowsResult(problems=refused.errors)
    expected = _forecast(session, desk, sorted(report.lines), plans, now)
    for patient_id, line in report.lines.items():
        mine = [e for e in expected if e.patient_id == patient_id]
        tz = zone_or(report.zones.get(patient_id), desk.clinic_tz)
        report.notes.extend((line, note) for note in forecast_notes(mine, tz))
    report.notes.sort()
    return RowsResult(report)
