"""Finding a patient: by a piece of the name, by the phone or a few of its digits, newest first.

Staff at the desk type what they remember: 'lopez' for 'María López', '(310) 555-0142', or
'0142'. One page is two or three statements whatever the number of patients: the count, the
page (each patient's latest session joined in as one grouped subquery), and that session's
treatment for the page's patients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.store.db import FoldedName
from reminders.store.models import Patient, TreatmentSession


@dataclass(frozen=True)
class PatientSearch:
    """What to look for; an empty search lists every patient."""

    name: str = ""  # a piece of the name, matched without regard to case or accents
    phone: str | None = None  # a whole E.164 number
    digits: str = ""  # ASCII digits found anywhere in the stored number


@dataclass(frozen=True)
class FoundPatient:
    id: int
    name: str
    phone: str | None  # E.164
    timezone: str | None  # None: the clinic's zone
    last_completed_at: datetime | None  # the latest session not voided
    last_treatment: str | None


@dataclass(frozen=True)
class PatientPage:
    rows: Sequence[FoundPatient]
    total: int  # patients matching, of which `rows` are those from `offset`


def search_patients(
    session: Session, search: PatientSearch, *, limit: int, offset: int = 0
) -> PatientPage:
    """The matching patients, the one seen most recently (latest session, else when they
    were added) first."""
    where = _conditions(search)
    total = session.execute(sa.select(sa.func.count()).select_from(Patient).where(*where))
    latest = _latest_sessions()
    seen = sa.func.coalesce(latest.c.completed_at, col(Patient.created_at))
    query = (
        sa.select(
            col(Patient.id),
            col(Patient.name),
            col(Patient.phone),
            col(Patient.timezone),
            latest.c.completed_at,
        )
        .outerjoin(latest, latest.c.patient_id == col(Patient.id))
        .where(*where)
        .order_by(seen.desc(), col(Patient.id).desc())
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(query).all()
    treatments = _treatments(session, {(pid, at) for pid, *_, at in rows if at is not None})
    found = [
        FoundPatient(pid or 0, name, phone, zone, at, treatments.get((pid, at)))
        for pid, name, phone, zone, at in rows
    ]
    return PatientPage(found, int(total.scalar_one()))


def _conditions(search: PatientSearch) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if search.name.strip():
        pattern = sa.literal("%") + FoldedName(sa.literal(_escaped(search.name))) + "%"
        conditions.append(FoldedName(col(Patient.name)).like(pattern, escape="\\"))
    by_phone = []
    if search.phone:
        by_phone.append(col(Patient.phone) == search.phone)
    if search.digits:
        by_phone.append(col(Patient.phone).contains(search.digits, autoescape=True))
    if by_phone:
        conditions.append(sa.or_(*by_phone))
    return conditions


def _escaped(text: str) -> str:
    """Typed text as a LIKE pattern of itself: '%' and '_' are letters here, not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _latest_sessions() -> sa.Subquery:
    """Each patient's latest completed (not voided) session time."""
    return (
        select(
            col(TreatmentSession.patient_id).label("patient_id"),
            sa.func.max(TreatmentSession.completed_at).label("completed_at"),
        )
        .where(TreatmentSession.status == "completed")
        .group_by(col(TreatmentSession.patient_id))
        .subquery("latest")
    )


def _treatments(
    session: Session, latest: set[tuple[int | None, datetime]]
) -> dict[tuple[int, datetime], str]:
    """The treatment of each (patient, latest completion) of one page."""
    if not latest:
        return {}
    query = (
        select(
            TreatmentSession.patient_id, TreatmentSession.completed_at, TreatmentSession.treatment
        )
        .where(col(TreatmentSession.patient_id).in_({pid for pid, _ in latest}))
        .where(TreatmentSession.status == "completed")
        .order_by(col(TreatmentSession.id))  # two sessions at one moment: the newer entry wins
    )
    return {
        (pid, at): treatment
        for pid, at, treatment in session.exec(query).all()
        if (pid, at) in latest
    }
