"""Bookings of the next session: every write and read of them, and what they do to the prompts.

A booking skips its session's pending follow-up prompts in the same transaction (reason
`booked`, `plan_moves.skip_booked`); a cancellation plans again those still before their deadline
(`plan_moves.replan_unbooked`), unless another booking of the session still stands. A booking is
named by its source and the id it has there, so Cal.com's retries and an API client's repeats
change nothing the second time. The session's booking reference, the opaque value the booking
link carries, is made here the first time a message or a page needs it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from reminders.rules.bookings import booked_words
from reminders.rules.lifecycle import SkipReason, Status
from reminders.rules.timing import zone_or
from reminders.store import history
from reminders.store.audit import record
from reminders.store.booking_tables import Booking
from reminders.store.claims import lock_in_order
from reminders.store.models import OutboxMessage, Patient, TreatmentSession
from reminders.store.plan_moves import replan_unbooked, skip_booked
from reminders.store.sessions import lock_pending_of_session

CAL = "cal"
BOOKED = "booked"
CANCELLED = "cancelled"
VOIDED = "voided"

FollowUps = frozenset[tuple[str, str]]  # (plan, step) of the prompts a booking makes moot


def api_source(key_id: int) -> str:
    """A practice system's bookings are named within its own API key."""
    return f"api:{key_id}"


@dataclass(frozen=True)
class Change:
    """What a booking request did: `kind` is booked, moved, cancelled or unchanged."""

    booking: Booking
    kind: str
    skipped: int = 0
    replanned: int = 0


# -- the reference the booking link carries -------------------------------------------------


def booking_ref(session: Session, session_id: int) -> str:
    """The session's reference, made once: a concurrent maker's value wins, never two."""
    table = TreatmentSession.__table__  # type: ignore[attr-defined]
    session.execute(
        sa.update(table)
        .where(table.c.id == session_id, table.c.booking_ref.is_(None))
        .values(booking_ref=secrets.token_urlsafe(12))
    )
    ref = session.execute(sa.select(table.c.booking_ref).where(table.c.id == session_id))
    return str(ref.scalar_one())


def booking_ref_of(session: Session, treatment: TreatmentSession) -> str:
    """`booking_ref` for a session already loaded, which keeps the value it is given."""
    if treatment.booking_ref is None:
        set_committed_value(treatment, "booking_ref", booking_ref(session, treatment.id or 0))
    return str(treatment.booking_ref)


def session_by_ref(session: Session, ref: str) -> TreatmentSession | None:
    return session.exec(select(TreatmentSession).where(TreatmentSession.booking_ref == ref)).first()


def session_by_contact(
    session: Session, phones: tuple[str, ...], emails: tuple[str, ...], before: datetime
) -> TreatmentSession | None:
    """The newest live session of the one patient on file with one of these phones (E.164)
    or emails; None when none is, or when the emails name several patients."""
    patient = _patient_by_phone(session, phones) or _patient_by_email(session, emails)
    return None if patient is None else latest_session(session, patient.id or 0, before)


def latest_session(session: Session, patient_id: int, before: datetime) -> TreatmentSession | None:
    """The patient's newest session that is not voided, completed by `before`: the one whose
    follow-up prompts a booking answers."""
    query = (
        select(TreatmentSession)
        .where(
            TreatmentSession.patient_id == patient_id,
            TreatmentSession.status != VOIDED,
            col(TreatmentSession.completed_at) <= before,
        )
        .order_by(col(TreatmentSession.completed_at).desc(), col(TreatmentSession.id).desc())
    )
    return session.exec(query).first()


def _patient_by_phone(session: Session, phones: tuple[str, ...]) -> Patient | None:
    if not phones:
        return None
    return session.exec(select(Patient).where(col(Patient.phone).in_(phones))).first()


def _patient_by_email(session: Session, emails: tuple[str, ...]) -> Patient | None:
    if not emails:
        return None
    lowered = [e.lower() for e in emails]
    query = select(Patient).where(sa.func.lower(col(Patient.email)).in_(lowered)).limit(2)
    found = list(session.exec(query))
    return found[0] if len(found) == 1 else None


# -- reads ------------------------------------------------------------------------------------


def find_booking(session: Session, source: str, external_id: str) -> Booking | None:
    """The booking of this source and id, locked for the change about to be made."""
    query = select(Booking).where(Booking.source == source, Booking.external_id == external_id)
    return session.exec(query.with_for_update()).first()


def current_booking(session: Session, session_id: int) -> Booking | None:
    """The session's booking that stands (the soonest, if several): what the care page shows."""
    query = (
        select(Booking)
        .where(Booking.session_id == session_id, Booking.status == BOOKED)
        .order_by(col(Booking.starts_at), col(Booking.id))
    )
    return session.exec(query).first()


# -- writes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """A booking as a source reports it: which one, when, and who reports it."""

    source: str
    external_id: str
    starts_at: datetime
    ends_at: datetime | None
    actor: str


def book(
    session: Session,
    treatment: TreatmentSession,
    request: Request,
    follow_ups: FollowUps,
    clinic_tz: ZoneInfo,
    now: datetime,
) -> Change:
    """Record a booking of the next session after `treatment`, or the same one again."""
    existing = find_booking(session, request.source, request.external_id)
    if existing is not None and existing.status == BOOKED:
        return move(session, existing, request, clinic_tz, now)
    if existing is not None:  # booked again after a cancellation: it stands once more
        booking = existing
        booking.status, booking.cancelled_at, booking.moves = BOOKED, None, booking.moves + 1
        booking.starts_at, booking.ends_at, booking.updated_at = (
            request.starts_at, request.ends_at, now)  # fmt: skip
    else:
        booking = Booking(
            session_id=treatment.id or 0,
            patient_id=treatment.patient_id,
            source=request.source,
            external_id=request.external_id,
            starts_at=request.starts_at,
            ends_at=request.ends_at,
            booked_at=now,
            updated_at=now,
        )
    session.add(booking)
    session.flush()
    words = booked_words(request.starts_at, _zone(session, booking, clinic_tz))
    pending = [
        m
        for m in lock_pending_of_session(session, booking.session_id)
        if (m.plan, m.step) in follow_ups
    ]
    skipped = skip_booked(session, pending, words, now, actor=request.actor)
    _audit(session, booking, "booked", request.actor, now, f"skipped={skipped}")
    return Change(booking, BOOKED, skipped=skipped)


def move(
    session: Session, booking: Booking, request: Request, clinic_tz: ZoneInfo, now: datetime
) -> Change:
    """A booking at a new time (a reschedule, or an id the source reused): the prompts it
    skipped say the new time; the same time again changes nothing."""
    same = (booking.starts_at, booking.ends_at, booking.external_id)
    if same == (request.starts_at, request.ends_at, request.external_id):
        return Change(booking, "unchanged")
    booking.external_id = request.external_id
    booking.moves += 1
    booking.starts_at, booking.ends_at, booking.updated_at = (
        request.starts_at, request.ends_at, now)  # fmt: skip
    session.add(booking)
    words = booked_words(request.starts_at, _zone(session, booking, clinic_tz))
    for message in _skipped_by_booking(session, booking.session_id):
        history.note(session, message, now, f"booking moved: {words}", request.actor)
    _audit(session, booking, "booking_moved", request.actor, now, None)
    return Change(booking, "moved")


def cancel(session: Session, booking: Booking, now: datetime, *, actor: str) -> Change:
    """The booking no longer stands: its prompts still on time are planned again, unless the
    session has another booking that does. Cancelling twice changes nothing."""
    if booking.status != BOOKED:
        return Change(booking, "unchanged")
    booking.status, booking.cancelled_at, booking.updated_at = CANCELLED, now, now
    session.add(booking)
    session.flush()
    replanned = 0
    if current_booking(session, booking.session_id) is None:
        skipped = _skipped_by_booking(session, booking.session_id)
        replanned = replan_unbooked(session, skipped, now, actor=actor)
    _audit(session, booking, "booking_cancelled", actor, now, f"replanned={replanned}")
    return Change(booking, CANCELLED, replanned=replanned)


def _skipped_by_booking(session: Session, session_id: int) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(
        OutboxMessage.session_id == session_id,
        OutboxMessage.status == Status.SKIPPED,
        OutboxMessage.error_reason == SkipReason.BOOKED,
    )
    return list(lock_in_order(session, query))


def _zone(session: Session, booking: Booking, clinic_tz: ZoneInfo) -> ZoneInfo:
    patient = session.get(Patient, booking.patient_id)
    return zone_or(patient.timezone if patient else None, clinic_tz)


def _audit(
    session: Session, booking: Booking, action: str, actor: str, now: datetime, extra: str | None
) -> None:
    detail = f"session={booking.session_id} source={booking.source}"
    record(session, actor=actor, action=action, entity="booking", entity_id=booking.id, now=now,
           detail=f"{detail} {extra}" if extra else detail)  # fmt: skip
