"""`POST /api/v1/sessions`: a practice system enrolls a completed session, as staff would.

The fields are those of `aftercare enroll` and of an `aftercare import` row, checked, written
and planned by the same `planning.enroll_patient`, so an existing patient is found by phone,
a same-day session replaces the earlier entry, and everything is audited with `api:LABEL` as
actor. One difference, because no person reads the answer at once:
a completion time must carry its offset, or come with `timezone`; it is never guessed.

An `Idempotency-Key` header makes a retry safe: the same key with the same body gets the first
answer again (200, same ids) and enrolls nothing; with another body, 422.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from reminders.planning.enroll_patient import Desk, EnrollResult, enroll_patient
from reminders.planning.enrollment import Enrolled
from reminders.rules.lifecycle import Status
from reminders.store.api_keys import ApiCaller
from reminders.store.idempotency import KEY_MAX, LIFETIME, Kept, find_kept, keep, request_hash
from reminders.web import desk_of, run_db
from reminders.web.api_auth import Caller
from reminders.web.api_errors import InvalidRequest, Problem, field_errors
from reminders.web.api_models import PlannedMessage, SessionCreated, SessionRequest

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage

log = logging.getLogger(__name__)
router = APIRouter()

PATH = "/sessions"
MAX_BODY_BYTES = 64 * 1024  # a session is a few hundred bytes
KEPT_HOURS = int(LIFETIME.total_seconds() // 3600)


class PayloadTooLarge(Exception):
    """413: the body is longer than any session."""


class NotJson(Exception):
    """415: the body is not declared as JSON."""


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=r"^[\x21-\x7e]+$",
        max_length=KEY_MAX,
        description="Any string of visible ASCII (a UUID, or your own visit id), unique per"
        f" session you enroll. Sent again with the same body within {KEPT_HOURS} hours, it gets"
        " the first answer back and enrolls nothing; with another body, 422.",
    ),
]

RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "Enrolled: the patient and the session written, the messages planned."},
    200: {
        "model": SessionCreated,
        "description": "A retry with the same Idempotency-Key and"
        " body: the first answer again (header `Idempotent-Replayed: true`); nothing new.",
    },
    401: {"model": Problem, "description": "No API key, or an unknown or revoked one."},
    413: {"model": Problem, "description": "The body is larger than 64 KiB."},
    415: {"model": Problem, "description": "The body is not sent as application/json."},
    422: {
        "model": Problem,
        "description": "Bad fields, each named in `errors`, or an"
        " Idempotency-Key used before with another body. Nothing was written.",
    },
    503: {"model": Problem, "description": "The database is unavailable: try again later."},
}

OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": SessionRequest.model_json_schema()}},
    }
}


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


@router.post(
    PATH,
    status_code=201,
    response_model=SessionCreated,
    responses=RESPONSES,
    openapi_extra=OPENAPI_BODY,
    summary="Enroll a completed treatment session",
)
async def create_session(
    request: Request, caller: Caller, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Validate the session like `aftercare enroll`, write the patient and the session, and
    plan its messages, all in one transaction: a refusal (422) writes nothing."""
    # The body is read here rather than as a FastAPI body parameter: FastAPI parses that
    # before any dependency runs, so bad JSON without a key would get 422 instead of 401.
    body = _parse(await read_json(request))
    digest = request_hash("POST", PATH, body.model_dump(mode="json"))
    enroller = Enroller(desk_of(request), caller)
    work = partial(enroller.answer, body=body, key=idempotency_key, digest=digest)
    try:
        answer = await run_db(request, work)
    except InvalidRequest as exc:
        log.info("api key %d: session refused (%s)", caller.key_id, ", ".join(exc.errors))
        raise
    _log(caller, answer)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


async def read_json(request: Request) -> bytes:
    """The raw body of a JSON request: 415 unless declared JSON, 413 past MAX_BODY_BYTES."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise NotJson()
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise PayloadTooLarge()
    except ClientDisconnect:  # the sender gave up mid-body: nothing to answer, nothing to log
        raise HTTPException(400, "incomplete request body") from None
    return body


def _parse(raw: bytes) -> SessionRequest:
    try:
        return SessionRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidRequest(field_errors(exc.errors())) from None


@dataclass(frozen=True)
class Enroller:
    """What an enrollment through the API needs besides the request: what the web app
    enrolls with, and who is calling."""

    desk: Desk
    caller: ApiCaller

    def answer(
        self, session: Session, now: datetime, *, body: SessionRequest, key: str | None, digest: str
    ) -> Answer:
        """One transaction: the answer kept for this key, else the enrollment and its answer."""
        kept = find_kept(session, self.caller.key_id, key, now) if key else None
        if kept is not None:
            return _replay(kept, digest)
        created = self.enroll(session, now, body)
        if key:
            keep(
                session,
                self.caller.key_id,
                key,
                request_hash=digest,
                status=201,
                body=created,
                now=now,
            )
        return Answer(201, created)

    def enroll(self, session: Session, now: datetime, body: SessionRequest) -> dict[str, Any]:
        """What `aftercare enroll` does, the completion time read in the zone on file."""
        result = enroll_patient(session, body.form(), self.desk, actor=self.caller.actor,
                                now=now, also_refused=_offset_problem(body))  # fmt: skip
        if result.other_patient is not None:
            hint = (
                f"; if it is the same person, send patient_id {result.other_patient.id};"
                " if someone else shares this phone, send shared_phone true"
            )
            raise InvalidRequest({"phone": f"{result.problem}{hint}"})
        if result.enrolled is None:
            raise InvalidRequest(dict(result.problems))
        return _created(result.enrolled, result)


def _replay(kept: Kept, digest: str) -> Answer:
    if kept.request_hash != digest:
        raise InvalidRequest(
            {
                "Idempotency-Key": "this key was sent before with another body; a new session"
                " needs a new key"
            },
            detail="the Idempotency-Key was used for another request",
        )
    return Answer(200, kept.body, replayed=True)


def _offset_problem(body: SessionRequest) -> dict[str, str]:
    """A time without an offset is read in `timezone`; without one, it would be a guess."""
    if body.timezone is not None:
        return {}
    try:
        moment = datetime.fromisoformat(body.completed_at.strip())
    except ValueError:
        return {}  # validate says what is wrong with it
    if moment.tzinfo is not None:
        return {}
    return {
        "completed_at": f"completion time {body.completed_at!r} has no offset: add one"
        " (e.g. -08:00 or Z), or give `timezone`"
    }


def _created(enrolled: Enrolled, result: EnrollResult) -> dict[str, Any]:
    created = SessionCreated(
        patient_id=enrolled.patient_id,
        session_id=enrolled.session_id,
        replaced_session_id=enrolled.replaced_session_id,
        planned_messages=sum(1 for row in result.messages if row.status == "pending"),
        warnings=list(result.warnings),
        messages=[_planned(row, result) for row in result.messages if row.status == Status.PENDING],
    )
    return created.model_dump(mode="json")


def _planned(row: OutboxMessage, result: EnrollResult) -> PlannedMessage:
    """A planned message and the send plan's forecast of it (an email goes when due)."""
    expected = result.expected.get(row.id or 0)
    at = row.due_at if expected is None else expected.at
    combined = None if expected is None else expected.combined_into
    return PlannedMessage(id=row.id or 0, step=row.step, channel=row.channel, due_at=row.due_at,
                          not_after=row.not_after, expected_send_at=at, combined_into=combined,
                          too_late=expected is not None and expected.at is None)  # fmt: skip


def _log(caller: ApiCaller, answer: Answer) -> None:
    """Ids and counts only: never a name, a number or an address."""
    body = answer.body
    what = "replayed the answer for" if answer.replayed else "enrolled"
    log.info(
        "api key %d %s session %s (patient %s, %s message(s) planned)",
        caller.key_id,
        what,
        body.get("session_id"),
        body.get("patient_id"),
        body.get("planned_messages"),
    )
