"""`aftercare pause` and `aftercare resume`: hold every message to a patient, and let them go.

The same `store.pauses` functions as the timeline's buttons, so both are audited alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from reminders.cli.common import actor, fail, runtime

if TYPE_CHECKING:
    from reminders.runtime import Runtime
    from reminders.store.pauses import PauseChange

PatientArgument = Annotated[int, typer.Argument(metavar="PATIENT_ID", help="The patient's id.")]


def pause_command(patient_id: PatientArgument) -> None:
    """Pause a patient: nothing is sent to them until `aftercare resume`.

    Their messages stay planned; one whose deadline passes meanwhile is skipped.
    """
    from reminders.cli import output as out

    rt = runtime()
    change = _change(rt, patient_id, pause=True)
    if not change.changed:
        since = out.local(change.paused_at, rt.settings.timezone)
        typer.echo(
            f"Patient {patient_id} was already paused (since {since}, by {change.paused_by})."
        )
        return
    typer.echo(f"Paused patient {patient_id}; {change.pending} planned message(s) held.")


def resume_command(patient_id: PatientArgument) -> None:
    """Resume a paused patient: held messages go out if still within their deadlines."""
    change = _change(runtime(), patient_id, pause=False)
    if not change.changed:
        typer.echo(f"Patient {patient_id} was not paused.")
        return
    typer.echo(
        f"Resumed patient {patient_id}; {change.pending} planned message(s) go out at the next"
        " dispatch if still within their deadlines."
    )


def _change(rt: Runtime, patient_id: int, *, pause: bool) -> PauseChange:
    from reminders.clock import utcnow
    from reminders.store.db import session_scope
    from reminders.store.pauses import UnknownPatient, pause_patient, resume_patient

    change = pause_patient if pause else resume_patient
    try:
        with session_scope(rt.engine) as session:
            return change(session, patient_id, actor=actor(), now=utcnow())
    except UnknownPatient:
        fail(f"no patient {patient_id}")
