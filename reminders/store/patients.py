"""Finding a patient: by pieces of the name or email, by the phone or a few of its digits,
newest first.

Staff at the desk type what they remember: 'lopez' for 'María López', 'López Maria' (each word
anywhere in the name, in any order), 'maria@example', '(310) 555-0142', or '0142'. A page
is two statements: the page with the count of all matches (one scan of the names) and each
patient's latest session looked up in the index on `patient_id`; then that session's
treatment for the page's patients. No index helps a substring of a folded name: each search
reads every name, which a clinic's few thousand patients allow (see
bench/patient_search.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.store.batches import insert_rows, rows_where_in
from reminders.store.db import MAX_ID, FoldedName
from reminders.store.models import OutboxMessage, Patient, TreatmentSession


@dataclass(frozen=True)
class PatientSearch:
    """What to look for; an empty search lists every patient."""

    name: str = ""  # words each in the name (without regard to case or accents) or the email
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
    were added) first, and how many match (counted in the same scan of the names)."""
    where = _conditions(search)
    latest, patients = _with_latest_session(narrow=bool(where))
    seen = sa.func.coalesce(latest, col(Patient.created_at))
    query = (
        sa.select(
            col(Patient.id),
            col(Patient.name),
            col(Patient.phone),
            col(Patient.timezone),
            latest.label("latest"),
            sa.func.count().over().label("total"),
        )
        .select_from(patients)
        .where(*where)
        .order_by(seen.desc(), col(Patient.id).desc())
        .limit(limit)
        .offset(offset)
    )
    rows = session.execute(query).all()
    total = int(rows[0].total) if rows else _count(session, where)
    treatments = _treatments(session, {(row.id, row.latest) for row in rows if row.latest})
    found = [_found(row, treatments) for row in rows]
    return PatientPage(found, total)


def _found(row: sa.Row[Any], treatments: dict[tuple[int, datetime], str]) -> FoundPatient:
    treatment = treatments.get((row.id, row.latest))
    return FoundPatient(row.id, row.name, row.phone, row.timezone, row.latest, treatment)


def _count(session: Session, where: list[sa.ColumnElement[bool]]) -> int:
    """Past the last page the window count has no row to ride on: count on its own."""
    query = sa.select(sa.func.count()).select_from(Patient).where(*where)
    return int(session.execute(query).scalar_one())


def _conditions(search: PatientSearch) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    for word in search.name.split():
        conditions.append(_in_name_or_email(word))
    by_phone = []
    if search.phone:
        by_phone.append(col(Patient.phone) == search.phone)
    if search.digits:
        by_phone.append(col(Patient.phone).contains(search.digits, autoescape=True))
    if by_phone:
        conditions.append(sa.or_(*by_phone))
    return conditions


def _in_name_or_email(word: str) -> sa.ColumnElement[bool]:
    """One typed word, anywhere in the folded name or the (lower-case) email address.

    Each word is folded in SQL as the names are (PostgreSQL's fold and `fold_name` agree on
    the accents staff type), so 'López Maria' finds 'María López' on either database."""
    pattern = sa.literal("%") + FoldedName(sa.literal(_escaped(word))) + "%"
    in_name = FoldedName(col(Patient.name)).like(pattern, escape="\\")
    email = sa.literal("%") + sa.func.lower(sa.literal(_escaped(word))) + "%"
    in_email = sa.func.lower(col(Patient.email)).like(email, escape="\\")
    return sa.or_(in_name, in_email)


def _escaped(text: str) -> str:
    """Typed text as a LIKE pattern of itself: '%' and '_' are letters here, not wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _with_latest_session(*, narrow: bool) -> tuple[sa.ColumnElement[datetime], sa.FromClause]:
    """Each patient's latest completed (not voided) session time, and what to select from.

    A narrow search looks it up for its few matches (the index on patient_id); the whole list
    reads every session once, grouped, which is about twice as quick as that many look-ups.
    """
    completed = col(TreatmentSession.status) == "completed"
    latest_at = sa.func.max(TreatmentSession.completed_at)
    if narrow:
        mine = col(TreatmentSession.patient_id) == col(Patient.id)
        lookup = sa.select(latest_at).where(mine, completed).scalar_subquery()
        return lookup, sa.inspect(Patient).local_table
    grouped = (
        sa.select(col(TreatmentSession.patient_id).label("patient_id"), latest_at.label("at"))
        .where(completed)
        .group_by(col(TreatmentSession.patient_id))
        .subquery("latest")
    )
    joined = sa.outerjoin(Patient, grouped, grouped.c.patient_id == col(Patient.id))
    return grouped.c.at, joined


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


# -- the look-ups and writes of enrollment ----------------------------------------------------


def patients_with_phone(session: Session, phone: str) -> list[Patient]:
    """Every patient with this number (E.164), first enrolled first: two people may share
    one phone (a parent and a child)."""
    query = select(Patient).where(Patient.phone == phone.strip()).order_by(col(Patient.id))
    return list(session.exec(query))


def names_on_phones(session: Session, phones: Iterable[str]) -> dict[str, list[tuple[int, str]]]:
    """Each number's patients, (id, name) first enrolled first, a chunk of numbers per query:
    the inbox names everyone on a shared phone."""
    found: dict[str, list[tuple[int, str]]] = {}
    for patient in sorted(patients_with_phones(session, phones), key=lambda p: p.id or 0):
        if patient.phone is not None and patient.id is not None:
            found.setdefault(patient.phone, []).append((patient.id, patient.name))
    return found


def patient_with_phone(session: Session, phone: str) -> Patient | None:
    """The one patient a text from this number is about (an inbound text's sender, a
    booking's attendee): of those sharing it, the one last texted at it, else the first."""
    holders = patients_with_phone(session, phone)
    if len(holders) < 2:
        return holders[0] if holders else None
    last_sent = (
        sa.select(col(OutboxMessage.patient_id))
        .where(col(OutboxMessage.patient_id).in_([p.id for p in holders]))
        .where(col(OutboxMessage.recipient) == phone.strip())
        .where(col(OutboxMessage.sent_at).is_not(None))
        .order_by(col(OutboxMessage.sent_at).desc(), col(OutboxMessage.id).desc())
        .limit(1)
    )
    texted = session.execute(last_sent).scalar_one_or_none()
    return next((p for p in holders if p.id == texted), holders[0])


def patient_by_id(session: Session, patient_id: int) -> Patient | None:
    """The patient of this id; none past the ids' range, which PostgreSQL refuses to compare."""
    return session.get(Patient, patient_id) if 0 < patient_id <= MAX_ID else None


def patients_with_phones(session: Session, phones: Iterable[str]) -> list[Patient]:
    """The patients with any of these numbers, a chunk of numbers per query."""
    return rows_where_in(session, Patient, col(Patient.phone), phones)


def patients_by_ids(session: Session, ids: Iterable[int]) -> list[Patient]:
    """The patients of these ids; ids past the ids' range are none (see patient_by_id)."""
    return rows_where_in(session, Patient, col(Patient.id), (i for i in ids if 0 < i <= MAX_ID))


def insert_patients(session: Session, values: Sequence[Mapping[str, object]]) -> list[int]:
    """New patients' rows in one batched insert (no model objects); their ids, in order."""
    return insert_rows(session, Patient, values)
