"""Pausing a patient: staff hold every message to them until they resume.

A pause changes no message. Pending messages stay pending with their due times, and the claim
(`outbox.claim_due`) passes them by while `patient.paused_at` is set; the dispatcher checks
again under its lock on the patient, for a message it claimed just before the pause. On resume
they are due as before: what is still within its deadline goes out (send window and daily cap
as ever), what is past it is skipped as expired, as it would have been without the pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from reminders.rules.lifecycle import Status
from reminders.store.audit import record
from reminders.store.db import MAX_ID
from reminders.store.models import OutboxMessage, Patient


class UnknownPatient(LookupError):
    """No patient has that id."""


@dataclass(frozen=True)
class PauseChange:
    patient_id: int
    changed: bool  # False: it was already so (paused, or not paused), nothing written
    pending: int  # the patient's pending messages, now held (pause) or due again (resume)
    paused_at: datetime | None  # for an unchanged pause: since when, and by whom
    paused_by: str | None


def pause_patient(session: Session, patient_id: int, *, actor: str, now: datetime) -> PauseChange:
    """Hold the patient's messages from now on, in the caller's transaction, audited.

    A conditional UPDATE: it takes the patient's row lock, which the dispatcher also takes
    before it decides, so a message is either reserved before the pause or held by it.
    """
    patient = _patient(session, patient_id)
    moved = _set_pause(session, patient_id, now, actor, paused=False)
    session.refresh(patient)
    pending = _pending(session, patient_id)
    if moved:
        _audit(session, "patient_paused", patient_id, actor, now, pending)
    return PauseChange(patient_id, moved, pending, patient.paused_at, patient.paused_by)


def resume_patient(session: Session, patient_id: int, *, actor: str, now: datetime) -> PauseChange:
    """Lift a pause: the held messages are due again at the next dispatch pass."""
    patient = _patient(session, patient_id)
    since, by = patient.paused_at, patient.paused_by
    moved = _set_pause(session, patient_id, None, None, paused=True)
    pending = _pending(session, patient_id)
    if moved:
        _audit(session, "patient_resumed", patient_id, actor, now, pending)
    return PauseChange(patient_id, moved, pending, since, by)


def _set_pause(
    session: Session, patient_id: int, at: datetime | None, by: str | None, *, paused: bool
) -> bool:
    """Set or clear the pause if it is not so already; whether this call changed it."""
    is_paused = col(Patient.paused_at).is_not(None) if paused else col(Patient.paused_at).is_(None)
    statement = (
        sa.update(Patient)
        .where(col(Patient.id) == patient_id, is_paused)
        .values(paused_at=at, paused_by=by)
        .returning(col(Patient.id))
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).first() is not None


def _patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id) if 0 < patient_id <= MAX_ID else None
    if patient is None:
        raise UnknownPatient(f"no patient {patient_id}")
    return patient


def _pending(session: Session, patient_id: int) -> int:
    query = select(func.count()).where(
        OutboxMessage.patient_id == patient_id, OutboxMessage.status == Status.PENDING
    )
    return session.exec(query).one()


def _audit(
    session: Session, action: str, patient_id: int, actor: str, now: datetime, pending: int
) -> None:
    record(session, actor=actor, action=action, entity="patient", entity_id=patient_id,
           now=now, detail=f"pending={pending}")  # fmt: skip
