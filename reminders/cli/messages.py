"""`aftercare messages`, `aftercare replies` and `aftercare reply`: what went out, what came
back, and staff's answer to it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from reminders.cli.common import JsonFlag, actor, fail, runtime

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from reminders.rules.send_plan import Expected
    from reminders.runtime import Runtime
    from reminders.store.models import OutboxMessage

DEFAULT_LIMIT = 200


messages_app = typer.Typer(
    help="The outbox; `release` and `skip` decide on held messages.",
    invoke_without_command=True,
)


@messages_app.callback()
def messages_command(
    ctx: typer.Context,
    session: Annotated[int | None, typer.Option("--session", help="Only this session.")] = None,
    patient: Annotated[int | None, typer.Option("--patient", help="Only this patient.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE|ISO-8601",
            help="Only messages due at or after this (no offset: clinic time).",
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="DATE|ISO-8601",
            help="Only messages due before this; a date alone includes that whole day.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help="Show at most N messages.")
    ] = DEFAULT_LIMIT,
    show_all: Annotated[
        bool, typer.Option("--all", help="Include the messages of replaced sessions.")
    ] = False,
    held: Annotated[
        bool, typer.Option("--held", help="Only held ones (a failing template, a restore).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """The outbox: what was sent, what is due, what was skipped or failed, and why.

    Times are each patient's own; `--json` gives UTC. Sessions entered again replace the
    earlier entry, whose messages are left out unless `--all`. `aftercare messages release
    ID` and `aftercare messages skip ID` decide on a held message.
    """
    if ctx.invoked_subcommand is not None:
        return
    from reminders.cli import output as out
    from reminders.store.queries import MessageFilter, page_messages

    if limit < 1:
        fail(f"--limit must be at least 1, not {limit}")
    rt = runtime()
    clinic_tz = rt.settings.timezone
    start = _bound("--since", since, out.parse_moment, clinic_tz)
    before = _bound("--until", until, out.parse_before, clinic_tz)
    if start and before and start >= before:
        fail(f"--since {since!r} is not before --until {until!r}")
    where = MessageFilter(session, patient, status, start, before, include_replaced=show_all,
                          held=held)  # fmt: skip
    page = page_messages(rt.engine, where, limit=limit)
    if as_json:
        expected = _forecast(rt, [row.message for row in page.rows])
        listed = [out.message_json(row.message, expected.get(row.message.id)) for row in page.rows]
        typer.echo(json.dumps(listed, indent=2))
        if len(page.rows) < page.total:  # stdout stays valid JSON for scripts
            typer.echo(f"note: first {len(page.rows)} of {page.total}; raise --limit", err=True)
        return
    out.print_message_page(page, clinic_tz, rt.care_plans())


def _forecast(rt: Runtime, rows: Sequence[OutboxMessage]) -> dict[int | None, Expected]:
    """The send plan's forecast for the planned SMS listed (their patients' plans, now)."""
    from reminders.clock import utcnow
    from reminders.rules.channel_kinds import ChannelKind
    from reminders.rules.lifecycle import Status
    from reminders.sending.forecast import forecast
    from reminders.store.db import session_scope

    planned = (m for m in rows if m.status == Status.PENDING and m.channel == ChannelKind.SMS)
    patients = {m.patient_id for m in planned if m.patient_id is not None}
    if not patients:
        return {}
    with session_scope(rt.engine) as session:
        found = forecast(session, patients, rt.care_plans(), utcnow(), rt.settings)
    return {e.message_id: e for e in found}


def _bound(
    option: str,
    raw: str | None,
    parse: Callable[[str, ZoneInfo], datetime | None],
    tz: ZoneInfo,
) -> datetime | None:
    if raw is None:
        return None
    moment = parse(raw, tz)
    if moment is None:
        fail(f"{option} {raw!r} is not a date (YYYY-MM-DD) or an ISO-8601 date and time")
    return moment


replies_app = typer.Typer(
    help="Patients' texts that need an answer (not STOP/START/HELP), urgent first.",
    invoke_without_command=True,
)


@replies_app.callback()
def replies_command(
    ctx: typer.Context,
    urgent: Annotated[bool, typer.Option("--urgent", help="Only replies flagged urgent.")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every reply, handled ones too, newest first.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Patients' texts that need an answer (not STOP/START/HELP): urgent first, then the
    longest waiting. `--all` lists every reply, newest first.

    `aftercare reply PATIENT_ID "text"` answers one; `aftercare replies handled ID` marks one
    as needing no answer.
    """
    if ctx.invoked_subcommand is not None:
        return
    from reminders.cli import output as out
    from reminders.store.queries import list_replies

    rt = runtime()
    rows = list_replies(rt.engine, urgent_only=urgent, waiting_only=not show_all)
    if as_json:
        typer.echo(json.dumps([out.reply_json(row) for row in rows], indent=2))
        return
    out.print_replies(rows, rt.settings.timezone)


@replies_app.command(name="handled")
def handled_command(
    reply_id: Annotated[int, typer.Argument(metavar="ID", help="The reply's id.")],
) -> None:
    """Mark a reply as handled (answered or dealt with); safe to run again."""
    from reminders.cli import output as out
    from reminders.clock import utcnow
    from reminders.store.db import session_scope
    from reminders.store.replies import UnknownReply, mark_handled

    rt = runtime()
    try:
        with session_scope(rt.engine) as session:
            handled = mark_handled(session, reply_id, actor=actor(), now=utcnow())
    except UnknownReply:
        fail(f"no reply {reply_id}")
    when = out.local(handled.at, rt.settings.timezone)
    if handled.already:
        typer.echo(f"Reply {reply_id} was already handled by {handled.by} on {when}.")
        return
    typer.echo(f"Reply {reply_id} marked handled by {handled.by}.")


def reply_command(
    patient_id: Annotated[int, typer.Argument(metavar="PATIENT_ID", help="The patient's id.")],
    text: Annotated[
        str, typer.Argument(metavar="TEXT", help="The answer, as the patient reads it.")
    ],
) -> None:
    """Answer a patient by text: queued for the dispatcher (never sent from here).

    It goes at once when the patient wrote within the last hour, otherwise inside the send
    window; refused, with the reason, after an opt-out. Marks their waiting texts handled.
    """
    from reminders.clock import utcnow
    from reminders.receiving.conversations import Refused, UnknownPatient, answer_patient
    from reminders.store.db import session_scope

    rt = runtime()
    try:
        with session_scope(rt.engine) as session:
            queued = answer_patient(session, patient_id, text, actor=actor(), now=utcnow())
    except UnknownPatient:
        fail(f"no patient {patient_id}")
    except Refused as refused:
        fail(str(refused))
    when = "at once" if queued.at_once else "inside the send window"
    typer.echo(f"Answer queued as message {queued.message_id}; it goes {when}.")
