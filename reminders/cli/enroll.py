"""`aftercare enroll`: one completed session, validated like the web form, planned at once."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from reminders.cli.common import JsonFlag, NowOption, actor, fail, moment, runtime

if TYPE_CHECKING:
    from datetime import datetime

    from reminders.planning.enroll_patient import EnrollResult
    from reminders.planning.enrollment import Enrolled
    from reminders.planning.validation import EnrollmentForm
    from reminders.runtime import Runtime
    from reminders.store.models import Patient


def enroll_command(
    name: Annotated[str, typer.Option(metavar="NAME", help="Patient's full name.")],
    phone: Annotated[
        str,
        typer.Option(
            metavar="PHONE", help="Mobile number; national numbers use DEFAULT_PHONE_REGION."
        ),
    ],
    treatment: Annotated[
        str, typer.Option(metavar="TREATMENT", help="asclera, sts, laser or test-dose.")
    ],
    completed_at: Annotated[
        str,
        typer.Option(
            metavar="WHEN",
            help="When it ended: 'YYYY-MM-DD HH:MM' patient-local, or ISO-8601 with an offset.",
        ),
    ],
    email: Annotated[str | None, typer.Option(metavar="EMAIL", help="Email address.")] = None,
    timezone: Annotated[
        str | None,
        typer.Option(
            metavar="ZONE", help="IANA zone; default the patient's on file, else CLINIC_TIMEZONE."
        ),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(metavar="LANG", help="en or es; default the patient's own, else en."),
    ] = None,
    date_of_birth: Annotated[
        str | None,
        typer.Option(
            metavar="YYYY-MM-DD", help="Date of birth: what the care page asks before it opens."
        ),
    ] = None,
    no_sms: Annotated[bool, typer.Option("--no-sms", help="No consent to SMS.")] = False,
    no_email: Annotated[bool, typer.Option("--no-email", help="No consent to email.")] = False,
    patient: Annotated[
        int | None,
        typer.Option(
            "--patient",
            metavar="ID",
            help="Enroll for this existing patient (its name and phone may be corrected).",
        ),
    ] = None,
    same_person: Annotated[
        bool,
        typer.Option(
            "--same-person",
            help="The phone is on file under another name, and it is that patient: enroll"
            " for them (their name on file becomes NAME).",
        ),
    ] = False,
    shared_phone: Annotated[
        bool,
        typer.Option(
            "--shared-phone",
            help="The phone is on file under another name, and it is someone else sharing it"
            " (a parent and a child): a patient of their own on the same number.",
        ),
    ] = False,
    now: NowOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Enroll a completed session and plan its messages."""
    from reminders.cli import output as out
    from reminders.planning.validation import EnrollmentForm

    if same_person and shared_phone:
        fail("--same-person and --shared-phone answer one question: give one of them")
    rt = runtime()
    form = EnrollmentForm(
        name,
        phone,
        treatment,
        completed_at,
        email,
        timezone,
        language,
        sms=not no_sms,
        email_ok=not no_email,
        patient_id=patient,
        date_of_birth=date_of_birth,
        shared_phone=shared_phone,
    )
    result, enrolled, patient_row = _enroll(rt, form, moment(now, rt), same_person=same_person)
    if as_json:
        enrolled_json = out.enrolled_json(
            enrolled, result.messages, result.warnings, result.expected
        )
        typer.echo(json.dumps(enrolled_json, indent=2))
        return
    # the zone given, else the one on file: where the planner placed the steps
    out.print_enrolled(enrolled, result.messages, rt.settings.timezone, patient_row.timezone,
                       result.warnings, result.expected)  # fmt: skip


def _enroll(
    rt: Runtime, form: EnrollmentForm, now: datetime, *, same_person: bool = False
) -> tuple[EnrollResult, Enrolled, Patient]:
    """Validate, write and plan in one transaction; bad input is one line and writes nothing.

    `same_person`: a number on file under another name is that patient's (one of them only).

    Without --timezone, the completion time is read in the zone of the patient on file
    (the one the planner will use), else in the clinic's.
    """
    from reminders.planning.enroll_patient import Desk, enroll_patient
    from reminders.store.db import session_scope

    settings = rt.settings
    from reminders.sending.channels.factory import line_type_lookup_of
    from reminders.sending.forecast import forecaster

    desk = Desk(rt.default_plans, settings.timezone, settings.default_phone_region,
                forecaster(settings), line_type_lookup_of(settings))  # fmt: skip
    with session_scope(rt.engine) as session:
        result = enroll_patient(session, form, desk, actor=actor(), now=now)
        other = result.other_patient
        if other is not None and same_person and len(result.sharers) <= 1:
            form = replace(form, patient_id=other.id)
            result = enroll_patient(session, form, desk, actor=actor(), now=now)
            other = result.other_patient
        if other is not None:
            ids = ", ".join(f"{p.id} ({p.name})" for p in result.sharers) or str(other.id)
            hint = (
                f"if it is the same person, add --patient {other.id} (or --same-person);"
                " if someone else shares this phone, add --shared-phone"
            )
            if len(result.sharers) > 1:
                hint = f"it is on file for {ids}: name the same person with --patient ID, or"
                hint += " add --shared-phone"
            fail(f"{result.problem}; {hint}")
        if result.enrolled is None or result.patient is None:
            fail(result.problem)
        return result, result.enrolled, result.patient
