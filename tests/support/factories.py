"""Test data through the real enrollment path: the same validation and planning staff use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from reminders.planning.enrollment import Enrolled, enroll
from reminders.planning.planner import enroll_and_plan
from reminders.planning.validation import EnrollmentForm, validate
from reminders.runtime import Runtime
from reminders.sending.channels.base import Channel
from reminders.sending.channels.console import ConsoleChannel
from reminders.sending.dispatcher import Dispatcher
from reminders.store.db import session_scope

MARIA_PHONE = "+13105550142"
MARIA_EMAIL = "maria@example.com"


def enroll_patient(
    runtime: Runtime,
    *,
    completed_at: datetime,
    now: datetime,
    treatment: str = "asclera",
    name: str = "Maria Lopez",
    phone: str = MARIA_PHONE,
    email: str | None = MARIA_EMAIL,
    timezone: str | None = None,
    language: str = "en",
    sms: bool = True,
    email_ok: bool = True,
    plan: bool = True,
    patient_id: int | None = None,
    date_of_birth: str | None = None,
    shared_phone: bool = False,
) -> Enrolled:
    """Enroll (and by default plan) a session completed at the given aware moment.

    `plan=False` leaves the session for the planner, as a practice system's row would be.
    """
    form = EnrollmentForm(
        name,
        phone,
        treatment,
        completed_at.isoformat(),
        email,
        timezone,
        language,
        sms=sms,
        email_ok=email_ok,
        patient_id=patient_id,
        date_of_birth=date_of_birth,
        shared_phone=shared_phone,
    )
    settings = runtime.settings
    plans = runtime.care_plans()  # as the CLI reads them: once, the newest revisions
    enrollment = validate(
        form,
        plans=plans,
        clinic_tz=settings.timezone,
        region=settings.default_phone_region,
        now=now,
    )
    with session_scope(runtime.engine) as session:
        if not plan:
            row, notes = enroll(session, enrollment, plans, clinic_tz=settings.timezone,
                                actor="test", now=now)  # fmt: skip
            return Enrolled(row.id or 0, row.patient_id, None, tuple(notes))
        return enroll_and_plan(
            session,
            enrollment,
            plans,
            clinic_tz=settings.timezone,
            region=settings.default_phone_region,
            actor="test",
            now=now,
        )


def make_dispatcher(
    runtime: Runtime,
    clock: Callable[[], datetime],
    *,
    sms: Channel | None = None,
    email: Channel | None = None,
    worker_id: str = "worker-1",
) -> Dispatcher:
    console = ConsoleChannel(runtime.settings.outbox_file)
    channels = {"sms": sms or console, "email": email or console}
    return Dispatcher(
        runtime.engine,
        runtime.settings,
        runtime.default_plans,
        channels,
        worker_id=worker_id,
        clock=clock,
    )
