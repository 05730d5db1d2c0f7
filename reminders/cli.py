"""The `aftercare` command. Thin: parse, call the modules that do the work, print."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from reminders import cli_output as out
from reminders.channels.factory import build_channels
from reminders.cli_common import actor, close_runtimes, fail, runtime, settings
from reminders.cli_import import import_csv
from reminders.cli_templates import templates_app
from reminders.clock import utcnow
from reminders.db import session_scope
from reminders.dispatcher import Dispatcher
from reminders.enroll_warnings import enrollment_warnings
from reminders.enrollment import (
    Enrolled,
    EnrollmentForm,
    InvalidEnrollment,
    PhoneOfAnotherPatient,
    validate,
    void_session,
)
from reminders.models import Patient, TreatmentSession
from reminders.opt_outs import opt_in, opt_out
from reminders.planner import enroll_and_plan
from reminders.queries import list_messages, list_replies
from reminders.runtime import Runtime, initialize, worker_id

app = typer.Typer(
    help="Aftercare: timely aftercare reminders by SMS and email.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(templates_app, name="templates")


@app.callback()
def main_callback(ctx: typer.Context) -> None:
    """Aftercare: timely aftercare reminders by SMS and email."""
    ctx.call_on_close(close_runtimes)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command()
def init() -> None:
    """Create or upgrade the database and load the default templates (safe to run again)."""
    rt = runtime(initialized=False)
    added = initialize(rt, actor="defaults", now=utcnow())
    typer.echo(
        f"Database ready at {out.safe_url(rt.settings.database_url)}; {added} template(s) loaded."
    )


@app.command(name="enroll")
def enroll_command(
    name: Annotated[str, typer.Option(help="Patient's full name.")],
    phone: Annotated[
        str, typer.Option(help="Mobile number; national numbers use DEFAULT_PHONE_REGION.")
    ],
    treatment: Annotated[str, typer.Option(help="asclera, sts, laser or test-dose.")],
    completed_at: Annotated[
        str, typer.Option(help="'YYYY-MM-DD HH:MM' patient-local, or ISO-8601.")
    ],
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA zone; default CLINIC_TIMEZONE.")
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="en or es; default the patient's own, else en.")
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
    as_json: JsonFlag = False,
) -> None:
    """Enroll a completed session and plan its messages."""
    rt = runtime()
    now = utcnow()
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
    enrolled = _enroll(rt, form, now)
    messages = list_messages(rt.engine, session_id=enrolled.session_id)
    with session_scope(rt.engine) as session:
        patient_row = session.get_one(Patient, enrolled.patient_id)
        warnings = [*enrolled.notes, *enrollment_warnings(session, patient_row, messages, now)]
    if as_json:
        typer.echo(json.dumps(out.enrolled_json(enrolled, messages, warnings), indent=2))
        return
    zone = (timezone or "").strip() or None  # validated by _enroll
    out.print_enrolled(enrolled, messages, rt.settings.timezone, zone, warnings)


def _enroll(rt: Runtime, form: EnrollmentForm, now: datetime) -> Enrolled:
    """Validate, write and plan in one transaction; bad input is one line and writes nothing."""
    settings = rt.settings
    region = settings.default_phone_region
    try:
        enrollment = validate(
            form, plans=rt.plans, clinic_tz=settings.timezone, region=region, now=now
        )
        with session_scope(rt.engine) as session:
            return enroll_and_plan(session, enrollment, rt.plans, clinic_tz=settings.timezone,
                                   region=region, actor=actor(), now=now)  # fmt: skip
    except PhoneOfAnotherPatient as exc:
        fail(f"{exc}; if it is the same person, add --patient {exc.patient_id}")
    except InvalidEnrollment as exc:
        fail(str(exc))


@app.command(name="import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, metavar="FILE.csv", help="CSV with the columns of enroll."
        ),
    ],
) -> None:
    """Enroll many sessions from a CSV; any bad row imports nothing."""
    rt = runtime()
    errors = import_csv(rt, file, actor=actor(), now=utcnow())
    if errors:
        for line, reason in errors:
            typer.echo(f"line {line}: {reason}", err=True)
        fail(f"{len(errors)} problem(s) found; nothing was imported")


@app.command()
def tick(
    now: Annotated[
        str | None, typer.Option(help="ISO-8601 moment to act as of (no offset: clinic time).")
    ] = None,
) -> None:
    """One plan pass and one dispatch pass, as of now or the given moment."""
    rt = runtime()
    moment = out.parse_moment(now, rt.settings.timezone) if now else utcnow()
    if moment is None:
        fail(f"--now {now!r} is not an ISO-8601 date and time")
    planned = rt.plan(moment)
    dispatcher = Dispatcher(
        rt.engine,
        rt.settings,
        rt.plans,
        build_channels(rt.settings),
        worker_id=worker_id(),
        clock=lambda: moment,
    )
    report = dispatcher.run_once()
    out.print_tick(moment, rt.settings.timezone, planned, report)


@app.command()
def run() -> None:
    """Run the daemon (the same as `python scheduler.py`)."""
    from reminders.daemon import run_daemon

    sys.exit(run_daemon(settings()))


@app.command()
def web(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on; default WEB_HOST.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port; default WEB_PORT.")] = None,
) -> None:
    """Serve the web app: Twilio webhooks, /healthz, unsubscribe links."""
    from reminders.cli_web import serve  # FastAPI loads only for this command

    serve(host, port)


@app.command()
def messages(
    session: Annotated[int | None, typer.Option("--session", help="Only this session.")] = None,
    patient: Annotated[int | None, typer.Option("--patient", help="Only this patient.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The outbox: what was sent, what is due, what was skipped or failed, and why."""
    rt = runtime()
    rows = list_messages(rt.engine, session_id=session, patient_id=patient, status=status)
    if as_json:
        typer.echo(json.dumps([out.message_json(row) for row in rows], indent=2))
        return
    out.print_messages(rows, rt.settings.timezone)


@app.command()
def replies(
    urgent: Annotated[bool, typer.Option("--urgent", help="Only replies flagged urgent.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Patients' texts back (not STOP/START/HELP), newest first; urgent ones flagged."""
    rt = runtime()
    rows = list_replies(rt.engine, urgent_only=urgent)
    if as_json:
        typer.echo(json.dumps([out.reply_json(row) for row in rows], indent=2))
        return
    out.print_replies(rows, rt.settings.timezone)


@app.command()
def void(
    session_id: Annotated[int, typer.Argument(metavar="SESSION_ID", help="The session to void.")],
) -> None:
    """Void a session: its pending messages are skipped."""
    rt = runtime()
    with session_scope(rt.engine) as db:
        treatment = db.get(TreatmentSession, session_id)
        if treatment is None:
            fail(f"no session {session_id}")
        if treatment.status == "voided":
            typer.echo(f"Session {session_id} was already voided.")
            return
        skipped = void_session(db, treatment, actor=actor(), now=utcnow())
    typer.echo(f"Voided session {session_id}; {skipped} pending message(s) skipped.")


AddressArgument = Annotated[
    str, typer.Argument(metavar="PHONE_OR_EMAIL", help="Phone number or email.")
]


def _address(rt: Runtime, address: str) -> str:
    """E.164 or a normalized email, as opt-outs are stored; one line and exit otherwise."""
    normalized = out.normalize_address(address, rt.settings.default_phone_region)
    if normalized is None:
        fail(f"{address!r} is neither a valid phone number nor an email address")
    return normalized


@app.command(name="opt-out")
def opt_out_command(address: AddressArgument) -> None:
    """Stop all messages to a phone number or email address."""
    rt = runtime()
    normalized = _address(rt, address)
    with session_scope(rt.engine) as db:
        skipped = opt_out(db, normalized, source="cli", actor=actor(), now=utcnow())
    typer.echo(f"Opted out; {skipped} pending message(s) skipped.")


@app.command(name="opt-in")
def opt_in_command(address: AddressArgument) -> None:
    """Lift an opt-out for a phone number or email address."""
    rt = runtime()
    normalized = _address(rt, address)
    with session_scope(rt.engine) as db:
        restored = opt_in(db, normalized, actor=actor(), now=utcnow())
    if restored is None:
        typer.echo("There was no opt-out for that address.")
        return
    typer.echo(f"Opted back in; {restored} skipped message(s) pending again.")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
