"""`POST /webhooks/cal`: Cal.com says a patient booked, moved or cancelled their next session.

Order matters: configuration (503 without CAL_WEBHOOK_SECRET: nothing can be verified), then
the signature (401 when missing, before the body is read; 403 when wrong, before it is
parsed), then the payload (400). A booking finds its session by the reference our booking
link put in `metadata.aftercare`, else by an attendee's phone or email on file; one that
matches nothing is answered 202 (Cal.com would otherwise retry it) and logged with Cal.com's
uid only: no name, number or address reaches a log line.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from reminders.planning.validation import InvalidEnrollment, parse_phone
from reminders.rules.bookings import (
    BadPayload,
    CalBooking,
    Trigger,
    parse_booking,
    signature_ok,
    trigger_of,
)
from reminders.rules.care_plans import CarePlans
from reminders.rules.emails import normalize_email
from reminders.store import bookings
from reminders.store.care_plans import current_plans
from reminders.store.db import Session
from reminders.store.models import TreatmentSession
from reminders.web import plans_of, run_db, settings_of
from reminders.web.webhooks import read_body

log = logging.getLogger(__name__)
router = APIRouter()

PATH = "/webhooks/cal"
ACTOR = "cal.com"
SIGNATURE = "X-Cal-Signature-256"
MAX_BODY_BYTES = 256 * 1024  # a booking's payload is a few kilobytes


@dataclass(frozen=True)
class Outcome:
    status: int
    result: str  # booked, moved, cancelled, unchanged, unknown, ignored
    booking_id: int | None = None
    session_id: int | None = None
    skipped: int = 0
    replanned: int = 0


@router.post(PATH)
async def cal_webhook(request: Request) -> JSONResponse:
    """Apply one booking change; 200 with what it did, 202 for a booking of no session."""
    settings = settings_of(request)
    if settings.cal_webhook_secret is None:
        raise HTTPException(
            503, "the Cal.com webhook is off: set CAL_WEBHOOK_SECRET to the webhook's secret"
        )
    signature = request.headers.get(SIGNATURE)
    if not signature:
        log.warning("cal webhook: no %s header", SIGNATURE)
        raise HTTPException(401, f"missing {SIGNATURE}")
    body = await read_body(request, MAX_BODY_BYTES)
    if not signature_ok(settings.cal_webhook_secret.get_secret_value(), body, signature):
        log.warning("cal webhook: invalid %s", SIGNATURE)
        raise HTTPException(403, f"invalid {SIGNATURE}")
    booking = _booking(body)
    if booking is None:
        return _answer(Outcome(200, "ignored"))
    region = settings.default_phone_region
    phones = tuple(p for p in (_phone(raw, region) for raw in booking.phones) if p)
    emails = tuple(e for e in (_email(raw) for raw in booking.emails) if e)
    work = partial(
        apply_booking,
        booking=booking,
        contact=(phones, emails),
        defaults=plans_of(request),
        zone=settings.timezone,
    )
    outcome = await run_db(request, work)
    _log(booking, outcome)
    return _answer(outcome)


def _booking(body: bytes) -> CalBooking | None:
    """The booking change the payload reports; None for a trigger that changes none (PING)."""
    try:
        data = json.loads(body)
        trigger = trigger_of(data)
        return None if trigger is None else parse_booking(data, trigger)
    except (ValueError, BadPayload) as exc:  # json's errors are ValueErrors too
        message = str(exc) if isinstance(exc, BadPayload) else "the body is not JSON"
        raise HTTPException(400, message) from None


def apply_booking(
    session: Session,
    now: datetime,
    *,
    booking: CalBooking,
    contact: tuple[tuple[str, ...], tuple[str, ...]],
    defaults: CarePlans,
    zone: ZoneInfo,
) -> Outcome:
    """One transaction: the booking recorded, moved or cancelled, and its prompts with it.
    `zone` is the clinic's, for a patient with none on file."""
    if booking.trigger == Trigger.CANCELLED:
        found = bookings.find_booking(session, bookings.CAL, booking.uid)
        if found is None:
            return Outcome(202, "unknown")
        change = bookings.cancel(session, found, now, actor=ACTOR)
        return _outcome(change)
    assert booking.starts_at is not None  # parse_booking requires it for these triggers
    request = bookings.Request(bookings.CAL, booking.uid, booking.starts_at, booking.ends_at, ACTOR)
    if booking.rescheduled_from and not bookings.find_booking(session, bookings.CAL, booking.uid):
        earlier = bookings.find_booking(session, bookings.CAL, booking.rescheduled_from)
        if earlier is not None and earlier.status == bookings.BOOKED:
            return _outcome(bookings.move(session, earlier, request, zone, now))
        # Unseen, or cancelled first (calls can come out of order): booked afresh below.
    treatment = _session_of(session, booking, contact, now)
    if treatment is None:
        return Outcome(202, "unknown")
    follow_ups = current_plans(session, defaults).follow_up_steps
    return _outcome(bookings.book(session, treatment, request, follow_ups, zone, now))


def _session_of(
    session: Session,
    booking: CalBooking,
    contact: tuple[tuple[str, ...], tuple[str, ...]],
    now: datetime,
) -> TreatmentSession | None:
    """The session booked from: the link's reference, else the attendee on file."""
    if booking.ref is not None:
        found = bookings.session_by_ref(session, booking.ref)
        if found is not None and found.status == bookings.VOIDED:
            # Entered again since the email went: the entry that replaced it is the one.
            return bookings.latest_session(session, found.patient_id, now) or found
        if found is not None:
            return found
    phones, emails = contact
    return bookings.session_by_contact(session, phones, emails, now)


def _outcome(change: bookings.Change) -> Outcome:
    b = change.booking
    return Outcome(200, change.kind, b.id, b.session_id, change.skipped, change.replanned)


def _phone(raw: str, region: str) -> str | None:
    try:
        return parse_phone(raw, region)
    except InvalidEnrollment:
        return None


def _email(raw: str) -> str | None:
    try:
        return normalize_email(raw)
    except ValueError:
        return None


def _answer(outcome: Outcome) -> JSONResponse:
    body: dict[str, object] = {"result": outcome.result}
    if outcome.result == "unknown":
        body["detail"] = "no session matches this booking; nothing changed"
    if outcome.booking_id is not None:
        body |= {"booking_id": outcome.booking_id, "session_id": outcome.session_id}
        body |= {"prompts_skipped": outcome.skipped, "prompts_replanned": outcome.replanned}
    return JSONResponse(body, status_code=outcome.status)


def _log(booking: CalBooking, outcome: Outcome) -> None:
    """Cal.com's uid and our ids only."""
    log.info(
        "cal webhook %s %s: %s (booking %s, session %s, %d skipped, %d replanned%s)",
        booking.trigger,
        booking.uid,
        outcome.result,
        outcome.booking_id,
        outcome.session_id,
        outcome.skipped,
        outcome.replanned,
        ", by reference" if booking.ref else "",
    )
