"""`aftercare enroll`: one completed session, validated like the web form, planned at once."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from reminders.cli.common import JsonFlag, NowOption, actor, fail, moment, runtime

if TYPE_CHECKING:
    from datetime import datetime

    from reminders.planning.enrollment import Enrolled, EnrollmentForm
    from reminders.runtime import Runtime


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
    now: NowOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Enroll a completed session and plan its messages."""
    from reminders.cli import output as out
    from reminders.planning.enrollment import EnrollmentForm
    from reminders.planning.warnings import enrollment_warnings
    from reminders.store.db import session_scope
    from reminders.store.models import Patient
    from reminders.store.queries import list_messages

    rt = runtime()
    as_of = moment(now, rt)
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
    )
    enrolled = _enroll(rt, form, as_of)
    messages = list_messages(rt.engine, session_id=enrolled.session_id)
    with session_scope(rt.engine) as session:
        patient_row = session.get_one(Patient, enrolled.patient_id)
        warnings = [*enrolled.notes, *enrollment_warnings(session, patient_row, messages, as_of)]
    if as_json:
        typer.echo(json.dumps(out.enrolled_json(enrolled, messages, warnings), indent=2))
        return
    # the zone given, else the one on file: where the planner placed the steps
    out.print_enrolled(enrolled, messages, rt.settings.timezone, patient_row.timezone, warnings)


def _enroll(rt: Runtime, form: EnrollmentForm, now: datetime) -> Enrolled:
    """Validate, write and plan in one transaction; bad input is one line and writes nothing.

    Without --timezone, the completion time is read in the zone of the patient on file
    (the one the planner will use), else in the clinic's.
    """
    from reminders.planning.enrollment import (
        InvalidEnrollment,
        PhoneOfAnotherPatient,
        patient_on_file,
        validate,
    )
    from reminders.planning.planner import enroll_and_plan
    from reminders.store.db import session_scope

    settings = rt.settings
    region = settings.default_phone_region
    plans = rt.care_plans()
    try:
        with session_scope(rt.engine) as session:
            on_file = patient_on_file(session, form, region)
            enrollment = validate(form, plans=plans, clinic_tz=settings.timezone,
                                  region=region, now=now,
                                  zone_on_file=on_file.timezone if on_file else None)  # fmt: skip
            return enroll_and_plan(session, enrollment, plans, clinic_tz=settings.timezone,
                                   region=region, actor=actor(), now=now)  # fmt: skip
    except PhoneOfAnotherPatient as exc:
        fail(f"{exc}; if it is the same person, add --patient {exc.patient_id}")
    except InvalidEnrollment as exc:
        fail(str(exc))
