"""`aftercare messages` and `aftercare replies`: what went out, and what came back."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from reminders.cli.common import JsonFlag, runtime


def messages_command(
    session: Annotated[int | None, typer.Option("--session", help="Only this session.")] = None,
    patient: Annotated[int | None, typer.Option("--patient", help="Only this patient.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The outbox: what was sent, what is due, what was skipped or failed, and why."""
    from reminders.cli import output as out
    from reminders.store.queries import list_messages

    rt = runtime()
    rows = list_messages(rt.engine, session_id=session, patient_id=patient, status=status)
    if as_json:
        typer.echo(json.dumps([out.message_json(row) for row in rows], indent=2))
        return
    out.print_messages(rows, rt.settings.timezone)


def replies_command(
    urgent: Annotated[bool, typer.Option("--urgent", help="Only replies flagged urgent.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Patients' texts back (not STOP/START/HELP), newest first; urgent ones flagged."""
    from reminders.cli import output as out
    from reminders.store.queries import list_replies

    rt = runtime()
    rows = list_replies(rt.engine, urgent_only=urgent)
    if as_json:
        typer.echo(json.dumps([out.reply_json(row) for row in rows], indent=2))
        return
    out.print_replies(rows, rt.settings.timezone)
