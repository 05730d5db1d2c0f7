"""What a page of the audit log names: the people, patients, sessions and settings behind its
ids, read with one query per kind for the whole page (never one per row).

The audit rows themselves carry ids only; the page that shows them to an admin words them
(`web.audit_words`) from what is read here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.store.batches import chunks
from reminders.store.models import (
    ApiKey,
    AuditEvent,
    CarePlanRevision,
    OptOut,
    OutboxMessage,
    Patient,
    Reply,
    TemplateRevision,
    TreatmentSession,
    User,
)


@dataclass(frozen=True)
class Named:
    """A patient named by a row: who, and where their page is."""

    patient_id: int
    name: str


@dataclass(frozen=True)
class SessionNamed(Named):
    treatment: str
    completed_at: datetime


@dataclass(frozen=True)
class MessageNamed(Named):
    session_id: int
    plan: str
    step: str
    channel: str


@dataclass(frozen=True)
class Subjects:
    people: dict[str, str] = field(default_factory=dict)  # lower-case email -> shown name
    users: dict[int, tuple[str, str]] = field(default_factory=dict)  # id -> (name, email)
    patients: dict[int, Named] = field(default_factory=dict)
    sessions: dict[int, SessionNamed] = field(default_factory=dict)
    messages: dict[int, MessageNamed] = field(default_factory=dict)
    opt_outs: dict[int, Named] = field(default_factory=dict)
    replies: dict[int, Named] = field(default_factory=dict)
    templates: dict[int, TemplateRevision] = field(default_factory=dict)
    care_plans: dict[int, CarePlanRevision] = field(default_factory=dict)
    api_keys: dict[int, str] = field(default_factory=dict)  # id -> label


def shown_name(user: User) -> str:
    """A user as others read them: their display name, else their email."""
    return (getattr(user, "display_name", None) or "").strip() or user.email


def names_of(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """lower-case email -> the name others read, for the actors that are users."""
    emails = sorted({actor.lower() for actor in actors if "@" in actor})
    return {user.email: shown_name(user) for user in _fetch(session, User, emails, col(User.email))}


def subjects_of(session: Session, rows: Sequence[AuditEvent]) -> Subjects:
    """Everything `rows` name, by id, in a query per kind."""

    def ids(entity: str) -> list[int]:
        return sorted({r.entity_id for r in rows if r.entity == entity and r.entity_id})

    people = names_of(session, (r.actor for r in rows))
    users = {
        user.id or 0: (shown_name(user), user.email) for user in _fetch(session, User, ids("user"))
    }
    sessions = _sessions(session, ids("treatment_session"))
    messages = _messages(session, ids("outbox_message"))
    return Subjects(
        people=people,
        users=users,
        patients=_patients(session, ids("patient")),
        sessions=sessions,
        messages=messages,
        opt_outs=_opt_outs(session, ids("opt_out")),
        replies=_replies(session, ids("reply")),
        templates=_by_id(_fetch(session, TemplateRevision, ids("template_revision"))),
        care_plans=_by_id(_fetch(session, CarePlanRevision, ids("care_plan_revision"))),
        api_keys={key.id or 0: key.label for key in _fetch(session, ApiKey, ids("api_key"))},
    )


def _fetch(session: Session, model: Any, values: Iterable[object], column: Any = None) -> list[Any]:
    """Rows of `model` whose `column` (its id unless given) is among `values`, chunked."""
    column = model.id if column is None else column
    found: list[Any] = []
    for chunk in chunks(list(values)):
        found.extend(session.exec(select(model).where(column.in_(chunk))))
    return found


def _by_id(rows: Iterable[Any]) -> dict[int, Any]:
    return {row.id or 0: row for row in rows}


def _names(session: Session, patient_ids: Iterable[int]) -> dict[int, str]:
    rows = _fetch(session, Patient, sorted(set(patient_ids)))
    return {patient.id or 0: patient.name for patient in rows}


def _patients(session: Session, patient_ids: list[int]) -> dict[int, Named]:
    return {pid: Named(pid, name) for pid, name in _names(session, patient_ids).items()}


def _sessions(session: Session, session_ids: list[int]) -> dict[int, SessionNamed]:
    rows = _fetch(session, TreatmentSession, session_ids)
    names = _names(session, (row.patient_id for row in rows))
    return {
        row.id or 0: SessionNamed(
            row.patient_id, names.get(row.patient_id, ""), row.treatment, row.completed_at
        )
        for row in rows
    }


def _messages(session: Session, message_ids: list[int]) -> dict[int, MessageNamed]:
    rows = _fetch(session, OutboxMessage, message_ids)
    names = _names(session, (row.patient_id for row in rows))
    return {
        row.id or 0: MessageNamed(
            row.patient_id, names.get(row.patient_id, ""), row.session_id, row.plan, row.step,
            row.channel,
        )
        for row in rows
    }  # fmt: skip


def _opt_outs(session: Session, opt_out_ids: list[int]) -> dict[int, Named]:
    """An opt-out still on file, with the patient whose address it is (an opt-in deletes it)."""
    rows = _fetch(session, OptOut, opt_out_ids)
    addresses = sorted({row.address for row in rows})
    holders = _holders(session, addresses, lambda p: (p.phone, (p.email or "").lower()))
    return {row.id or 0: holders[row.address] for row in rows if row.address in holders}


def _holders(
    session: Session, addresses: list[str], keys: Callable[[Patient], tuple[str | None, str]]
) -> dict[str, Named]:
    found: dict[str, Named] = {}
    for chunk in chunks(addresses):
        query = select(Patient).where(
            sa.or_(col(Patient.phone).in_(chunk), sa.func.lower(col(Patient.email)).in_(chunk))
        )
        for patient in session.exec(query):
            for key in keys(patient):
                if key:
                    found.setdefault(key, Named(patient.id or 0, patient.name))
    return found


def _replies(session: Session, reply_ids: list[int]) -> dict[int, Named]:
    rows = [r for r in _fetch(session, Reply, reply_ids) if r.patient_id]
    names = _names(session, (row.patient_id or 0 for row in rows))
    return {
        row.id or 0: Named(row.patient_id or 0, names.get(row.patient_id or 0, "")) for row in rows
    }
