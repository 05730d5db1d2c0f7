"""`POST /api/v1/bookings`: a practice system says the patient booked their next session;
`DELETE /api/v1/bookings/{external_id}`: the appointment was cancelled.

As Cal.com's webhook does for a booking page: the booking follows the patient's newest
session that is not voided, and skips that session's pending follow-up prompts in the same
transaction. `external_id` names the appointment within the caller's API key, so a repeat
changes nothing (200, `unchanged`) and a new `starts_at` moves it (200, `moved`). A
cancellation plans again the prompts the booking skipped that are still on time, as Cal.com's
cancellation does; cancelling twice changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from reminders.planning.validation import InvalidEnrollment, parse_phone
from reminders.rules.bookings import parse_moment
from reminders.rules.care_plans import CarePlans
from reminders.store import bookings
from reminders.store.api_keys import ApiCaller
from reminders.store.care_plans import current_plans
from reminders.store.db import Session
from reminders.store.models import Patient
from reminders.store.patients import patient_by_id, patient_with_phone
from reminders.web import plans_of, run_db, settings_of
from reminders.web.api_auth import Caller
from reminders.web.api_errors import InvalidRequest, field_errors
from reminders.web.api_models import BookingCancelled, BookingCreated, BookingRequest
from reminders.web.api_sessions import RESPONSES as SESSION_RESPONSES
from reminders.web.api_sessions import read_json

log = logging.getLogger(__name__)
router = APIRouter()

PATH = "/bookings"
RESPONSES = {
    code: answer for code, answer in SESSION_RESPONSES.items() if code not in (200, 201, 422)
} | {
    201: {"description": "Booked: the session's pending follow-up prompts are skipped."},
    200: {
        "model": BookingCreated,
        "description": "The external_id was booked before: unchanged, or moved to the new"
        " starts_at (the prompts stay skipped).",
    },
    422: {
        "model": SESSION_RESPONSES[422]["model"],
        "description": "Bad fields, each named in `errors`: no such patient on file, no"
        " session to follow, a time without an offset. Nothing was written.",
    },
}
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": BookingRequest.model_json_schema()}},
    }
}


@dataclass(frozen=True)
class Booker:
    """What a booking through the API needs besides the request."""

    caller: ApiCaller
    defaults: CarePlans
    zone: ZoneInfo
    region: str

    def answer(self, session: Session, now: datetime, *, body: BookingRequest) -> JSONResponse:
        starts, ends = _times(body)
        patient = self._patient(session, body)
        treatment = bookings.latest_session(session, patient.id or 0, now)
        if treatment is None:
            field = "patient_id" if body.patient_id is not None else "phone"
            raise InvalidRequest({field: "the patient has no session on file to book after"})
        source = bookings.api_source(self.caller.key_id)
        request = bookings.Request(source, body.external_id, starts, ends, self.caller.actor)
        follow_ups = current_plans(session, self.defaults).follow_up_steps
        change = bookings.book(session, treatment, request, follow_ups, self.zone, now)
        booking = change.booking
        created = BookingCreated(
            booking_id=booking.id or 0,
            patient_id=booking.patient_id,
            session_id=booking.session_id,
            starts_at=booking.starts_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            result=change.kind,
            prompts_skipped=change.skipped,
        )
        status = 201 if change.kind == bookings.BOOKED else 200
        return JSONResponse(created.model_dump(mode="json"), status_code=status)

    def _patient(self, session: Session, body: BookingRequest) -> Patient:
        if body.patient_id is not None:
            found = patient_by_id(session, body.patient_id)
            if found is None:
                raise InvalidRequest({"patient_id": f"no patient {body.patient_id} on file"})
            return found
        if body.phone is None:
            raise InvalidRequest({"patient_id": "give patient_id, or the patient's phone"})
        try:
            phone = parse_phone(body.phone, self.region)
        except InvalidEnrollment as exc:
            raise InvalidRequest({"phone": str(exc)}) from None
        found = patient_with_phone(session, phone)
        if found is None:
            raise InvalidRequest({"phone": "no patient on file with this phone"})
        return found


@router.post(
    PATH,
    status_code=201,
    response_model=BookingCreated,
    responses=RESPONSES,
    openapi_extra=OPENAPI_BODY,
    summary="Record the patient's next appointment",
)
async def create_booking(request: Request, caller: Caller) -> JSONResponse:
    """Record a booking of the patient's next session; their pending "book your next
    session" prompts are skipped in the same transaction. Idempotent by `external_id`."""
    body = _parse(await read_json(request))
    settings = settings_of(request)
    booker = Booker(caller, plans_of(request), settings.timezone, settings.default_phone_region)
    try:
        answer = await run_db(request, partial(booker.answer, body=body))
    except InvalidRequest as exc:
        log.info("api key %d: booking refused (%s)", caller.key_id, ", ".join(exc.errors))
        raise
    log.info("api key %d: booking %s answered %d", caller.key_id, body.external_id,
             answer.status_code)  # fmt: skip
    return answer


CANCEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{code: answer for code, answer in SESSION_RESPONSES.items() if code in (401, 503)},
    200: {"model": BookingCancelled, "description": "Cancelled (or cancelled before)."},
    404: {"description": "No booking with this external_id was made with this API key."},
}


@router.delete(
    PATH + "/{external_id}",
    response_model=BookingCancelled,
    responses=CANCEL_RESPONSES,
    summary="Cancel the patient's next appointment",
)
async def cancel_booking(request: Request, caller: Caller, external_id: str) -> JSONResponse:
    """Cancel a booking this API key made: the follow-up prompts it skipped that are still
    before their deadline are planned again. Cancelling twice changes nothing."""
    work = partial(_cancel, caller=caller, external_id=external_id)
    answer = await run_db(request, work)
    log.info("api key %d: booking cancellation answered %d", caller.key_id, answer.status_code)
    return answer


def _cancel(
    session: Session, now: datetime, *, caller: ApiCaller, external_id: str
) -> JSONResponse:
    booking = bookings.find_booking(session, bookings.api_source(caller.key_id), external_id)
    if booking is None:
        detail = {"detail": "no booking with this external_id was made with this API key"}
        return JSONResponse(detail, status_code=404)
    change = bookings.cancel(session, booking, now, actor=caller.actor)
    cancelled = BookingCancelled(booking_id=booking.id or 0, result=change.kind,
                                 prompts_replanned=change.replanned)  # fmt: skip
    return JSONResponse(cancelled.model_dump(mode="json"))


def _parse(raw: bytes) -> BookingRequest:
    try:
        return BookingRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidRequest(field_errors(exc.errors())) from None


def _times(body: BookingRequest) -> tuple[datetime, datetime | None]:
    starts = _moment(body.starts_at, "starts_at")
    ends = _moment(body.ends_at, "ends_at") if body.ends_at is not None else None
    if ends is not None and ends <= starts:
        raise InvalidRequest({"ends_at": "must be after starts_at"})
    return starts, ends


def _moment(text: str, field: str) -> datetime:
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise InvalidRequest({field: f"{text!r} {exc}"}) from None
