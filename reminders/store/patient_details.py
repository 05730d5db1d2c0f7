"""A patient's details changed on their page: the one write, audited field by field.

The audit names each field changed ("changed the phone number"), never its old or new value:
those are patient data. A replaced phone or address forgets the provider's "undeliverable"
about the old one; opt-outs stay with the number or address they were about (store/opt_outs),
so the old number's history is kept and a new number that opted out shows so at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from reminders.rules.direct import DIRECT_PLAN
from reminders.rules.lifecycle import Status
from reminders.store.audit import record
from reminders.store.claims import lock_in_order
from reminders.store.models import OutboxMessage, Patient, TreatmentSession

# The details staff may change, in the order the form shows them.
EDITABLE = ("name", "phone", "email", "date_of_birth", "language", "timezone")
UNDELIVERABLE = {"phone": "phone", "email": "email"}  # field -> its undeliverable mark's prefix


def change_details(
    session: Session,
    patient: Patient,
    values: Mapping[str, object],
    *,
    actor: str,
    now: datetime,
) -> list[str]:
    """Write the details that differ from those on file; one audit row per field changed
    (action `patient_edit`, the field's name as detail). Returns the fields changed."""
    changed = [f for f in EDITABLE if f in values and getattr(patient, f) != values[f]]
    for field in changed:
        setattr(patient, field, values[field])
        if field in UNDELIVERABLE:
            setattr(patient, f"{field}_undeliverable_at", None)
            setattr(patient, f"{field}_undeliverable_reason", None)
        record(session, actor=actor, action="patient_edit", entity="patient",
               entity_id=patient.id, now=now, detail=field)  # fmt: skip
    if changed:
        session.add(patient)
        session.flush()
    return changed


def pending_plan_messages(
    session: Session, patient_id: int
) -> Sequence[tuple[OutboxMessage, TreatmentSession]]:
    """The patient's pending messages of a care plan (not direct ones, whose time was set when
    staff queued them), locked in id order, each with its session: what a new time zone
    re-plans."""
    query = select(OutboxMessage).where(
        OutboxMessage.patient_id == patient_id,
        OutboxMessage.status == Status.PENDING,
        OutboxMessage.plan != DIRECT_PLAN,
    )
    messages = lock_in_order(session, query)
    ids = {m.session_id for m in messages}
    sessions = session.exec(select(TreatmentSession).where(col(TreatmentSession.id).in_(ids)))
    by_id = {s.id: s for s in sessions}
    return [(m, by_id[m.session_id]) for m in messages]
