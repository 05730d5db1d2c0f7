"""Restoring a voided session within 24 hours: the void undone, audited, and the messages it
skipped that are still before their deadline pending again (`store.plan_moves.restore_voided`).

Refused (`rules.restoring`) when it would send a step twice: the session was replaced by one
entered again, or another session of the same care plan and day is in force.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.rules.care_plans import CarePlans
from reminders.rules.restoring import RestoreFacts, restore_refusal
from reminders.rules.timing import is_expired, local_date, zone_or
from reminders.store.audit import record
from reminders.store.models import Patient, TreatmentSession
from reminders.store.plan_moves import restore_voided
from reminders.store.sessions import lock_voided_of_session, replacing_session, sessions_of_patients

if TYPE_CHECKING:
    from reminders.store.db import Session


class RestoreRefused(ValueError):
    """The session cannot be restored; the text says why, in staff's words."""


def restore_session(
    session: Session,
    treatment: TreatmentSession,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    *,
    actor: str,
    now: datetime,
) -> int:
    """Undo the session's void; returns how many messages are pending again. The caller commits."""
    session_id = treatment.id or 0
    facts = RestoreFacts(
        session_id=session_id,
        status=treatment.status,
        voided_at=treatment.voided_at,
        replaced_by=replacing_session(session, session_id),
        same_day=_same_day_in_force(session, treatment, plans, clinic_tz),
    )
    refusal = restore_refusal(facts, now)
    if refusal is not None:
        raise RestoreRefused(refusal)
    timely = [m for m in lock_voided_of_session(session, session_id)
              if not is_expired(now, m.not_after)]  # fmt: skip
    for message in timely:
        restore_voided(session, message, now, actor=actor)
    treatment.status = "completed"
    treatment.voided_at = None
    session.add(treatment)
    detail = f"{len(timely)} message(s) pending again"
    record(session, actor=actor, action="restore_session", entity="treatment_session",
           entity_id=session_id, now=now, detail=detail)  # fmt: skip
    return len(timely)


def _same_day_in_force(
    session: Session, treatment: TreatmentSession, plans: CarePlans, clinic_tz: ZoneInfo
) -> int | None:
    """Another session of the patient for the same care plan on the same local day, not voided:
    its steps are planned already (as the planner's same-day replacement reads a day)."""
    patient = session.get(Patient, treatment.patient_id)
    tz = zone_or(patient.timezone if patient else None, clinic_tz)
    same_plan = _same_plan(plans, treatment.treatment)
    day = local_date(treatment.completed_at, tz)
    for other in sessions_of_patients(session, [treatment.patient_id]):
        if (
            other.id != treatment.id
            and other.status == "completed"
            and other.treatment in same_plan
            and local_date(other.completed_at, tz) == day
        ):
            return other.id
    return None


def _same_plan(plans: CarePlans, treatment: str) -> frozenset[str]:
    """The treatments planned by the session's care plan (itself alone when none is known)."""
    try:
        return frozenset(plans.for_treatment(treatment).treatments)
    except KeyError:
        return frozenset({treatment})
