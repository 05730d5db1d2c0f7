"""The `aftercare` command. Thin: parse, call the modules that do the work, print.

Each command imports what it needs when it runs, so `aftercare --help` and a mistyped
option answer at once instead of loading the database layer, Twilio and Jinja first.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reminders.cli import backup, enroll, held, messages, pause, restore, status
from reminders.cli.common import NowOption, actor, close_runtimes, fail, moment, runtime, settings
from reminders.cli.templates import templates_app
from reminders.cli.users import users_app

if TYPE_CHECKING:
    from reminders.runtime import Runtime

app = typer.Typer(
    help="Aftercare: timely aftercare reminders by SMS and email.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(templates_app, name="templates")
app.add_typer(messages.messages_app, name="messages")
messages.messages_app.command(name="release")(held.release_command)
messages.messages_app.command(name="skip")(held.skip_command)
app.add_typer(messages.replies_app, name="replies")
app.add_typer(users_app, name="users")


@app.callback()
def main_callback(ctx: typer.Context) -> None:
    """Aftercare: timely aftercare reminders by SMS and email."""
    ctx.call_on_close(close_runtimes)


@app.command()
def init() -> None:
    """Create or upgrade the database and load the default templates and care plans.

    Safe to run again: a template or care plan an admin edited is kept as it is.
    """
    from reminders.clock import utcnow
    from reminders.rules.care_plans import CarePlanError
    from reminders.runtime import SchemaMismatch, initialize
    from reminders.store.db import printable_url
    from reminders.store.templates import InvalidDefaultTemplate

    rt = runtime(initialized=False)
    try:
        done = initialize(rt, actor="defaults", now=utcnow())
    except InvalidDefaultTemplate as exc:
        fail(f"{exc}; no template was loaded")
    except CarePlanError as exc:
        fail(f"{exc}; no template or care plan was loaded")
    except SchemaMismatch as exc:
        fail(f"{exc}; not ready: nothing was loaded (restore a backup, or ask for help)")
    typer.echo(
        f"Database ready at {printable_url(rt.settings.database_url)};"
        f" {done.templates} template(s) loaded; {done.plans} care plan(s) loaded."
    )
    for plan in done.kept_plans:
        typer.echo(
            f"note: care plan {plan} keeps an admin's edit; care_plans.toml differs from it"
            " (see /admin/care-plans)"
        )


app.command(name="enroll")(enroll.enroll_command)


@app.command(name="import")
def import_command(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, metavar="FILE.csv", help="CSV with the columns of enroll."
        ),
    ],
    now: NowOption = None,
) -> None:
    """Enroll many sessions from a CSV; any bad row imports nothing.

    Says how many sessions were created, replaced (entered again: the planner replaces a
    session on file for the same patient, care plan and local day) and unchanged, and how
    many messages were planned, how many of them are already past their deadline and how
    many have no address. A row is unchanged when the patient's details on file already are
    what it says and the session it would replace has the same treatment and completion
    time: it writes nothing, so importing a file again changes nothing.
    """
    from reminders.cli.import_csv import import_csv

    rt = runtime()
    errors = import_csv(rt, file, actor=actor(), now=moment(now, rt))
    if errors:
        for line, reason in errors:
            typer.echo(f"line {line}: {reason}", err=True)
        fail(f"{len(errors)} problem(s) found; nothing was imported")


@app.command()
def tick(now: NowOption = None) -> None:
    """One plan pass and one dispatch pass, as of now or the given moment."""
    from reminders.cli import output as out
    from reminders.runtime import worker_id
    from reminders.sending.channels.factory import build_channels
    from reminders.sending.dispatcher import Dispatcher
    from reminders.sending.rate_limit import sms_limiter

    rt = runtime()
    as_of = moment(now, rt)
    planned = rt.plan(as_of)
    dispatcher = Dispatcher(
        rt.engine,
        rt.settings,
        rt.default_plans,
        build_channels(rt.settings, sms_limiter=sms_limiter(rt.settings, rt.engine)),
        worker_id=worker_id(),
        clock=lambda: as_of,
    )
    report = dispatcher.run_once()
    out.print_tick(as_of, rt.settings.timezone, planned, report)


@app.command()
def run() -> None:
    """Run the daemon (the same as `python scheduler.py`).

    The first Ctrl-C or SIGTERM finishes the message in hand, hands back the rest and exits;
    a second one stops at once, handing back everything still held.
    """
    from reminders.cli.users import announce_first_admin_link
    from reminders.daemon import run_daemon

    loaded = settings()
    base_url = loaded.public_base_url or f"http://{loaded.web_host}:{loaded.web_port}"
    announce_first_admin_link(loaded, base_url, serves_it=False)
    sys.exit(run_daemon(loaded))


@app.command()
def web(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on; default WEB_HOST.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port; default WEB_PORT.")] = None,
) -> None:
    """Serve the web app alone: staff and admin pages, Twilio webhooks, /healthz, unsubscribe
    links (`aftercare serve` runs it beside the daemon)."""
    from reminders.cli.web import serve  # FastAPI loads only for this command

    serve(host, port)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface the web app listens on; default WEB_HOST.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Its port; default WEB_PORT.")] = None,
) -> None:
    """Run the daemon and the web app together, in one process (what `make run` starts).

    Prints the address to open, and the first-admin link while there is no account. Ctrl-C
    or SIGTERM stops both (the daemon finishes the message in hand); a second stops at once.
    """
    import signal
    import threading

    # Loading the web app and the daemon takes a moment: a Ctrl-C meanwhile is kept, not a
    # KeyboardInterrupt, and `serve` stops before starting anything.
    asked = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: asked.set())
    from reminders.cli.serve import serve as serve_both  # FastAPI loads only for this command

    serve_both(host, port, stop_asked=asked)


app.command(name="reply")(messages.reply_command)
app.command(name="status")(status.status_command)
app.command(name="backup")(backup.backup_command)
app.command(name="restore")(restore.restore_command)


@app.command()
def void(
    session_id: Annotated[int, typer.Argument(metavar="SESSION_ID", help="The session to void.")],
) -> None:
    """Void a session: its pending messages are skipped."""
    from reminders.clock import utcnow
    from reminders.planning.enrollment import void_session
    from reminders.store.db import session_scope
    from reminders.store.models import TreatmentSession

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


@app.command(name="restore-session")
def restore_session_command(
    session_id: Annotated[
        int, typer.Argument(metavar="SESSION_ID", help="The voided session to restore.")
    ],
) -> None:
    """Undo a void within 24 hours: messages still before their deadline go again."""
    from reminders.clock import utcnow
    from reminders.planning.restore import RestoreRefused, restore_session
    from reminders.store.db import session_scope
    from reminders.store.models import TreatmentSession

    rt = runtime()
    plans = rt.care_plans()
    with session_scope(rt.engine) as db:
        treatment = db.get(TreatmentSession, session_id)
        if treatment is None:
            fail(f"no session {session_id}")
        try:
            restored = restore_session(
                db, treatment, plans, rt.settings.timezone, actor=actor(), now=utcnow()
            )
        except RestoreRefused as exc:
            fail(f"cannot restore: {exc}")
    typer.echo(f"Restored session {session_id}; {restored} message(s) pending again.")


app.command(name="pause")(pause.pause_command)
app.command(name="resume")(pause.resume_command)


AddressArgument = Annotated[
    str, typer.Argument(metavar="PHONE_OR_EMAIL", help="Phone number or email.")
]


def _address(rt: Runtime, address: str) -> str:
    """E.164 or a normalized email, as opt-outs are stored; one line and exit otherwise."""
    from reminders.cli import output as out

    normalized = out.normalize_address(address, rt.settings.default_phone_region)
    if normalized is None:
        fail(f"{address!r} is neither a valid phone number nor an email address")
    return normalized


@app.command(name="opt-out")
def opt_out_command(address: AddressArgument) -> None:
    """Stop all messages to a phone number or email address."""
    from reminders.clock import utcnow
    from reminders.store.db import session_scope
    from reminders.store.opt_outs import opt_out

    rt = runtime()
    normalized = _address(rt, address)
    with session_scope(rt.engine) as db:
        skipped = opt_out(db, normalized, source="cli", actor=actor(), now=utcnow())
    typer.echo(f"Opted out; {skipped} pending message(s) skipped.")


@app.command(name="opt-in")
def opt_in_command(address: AddressArgument) -> None:
    """Lift an opt-out for a phone number or email address."""
    from reminders.clock import utcnow
    from reminders.store.db import session_scope
    from reminders.store.opt_outs import opt_in

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
