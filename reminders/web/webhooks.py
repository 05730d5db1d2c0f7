"""Twilio webhooks: delivery status callbacks and patients' inbound texts.

This module checks and reads the request; what a text means is the receiving room's
(`receiving.inbound`), what a receipt does the sending room's (`sending.receipts`).

Order matters: configuration (503), then the signature (403), then the form (400). The
signature is checked over the PUBLIC URL, PUBLIC_BASE_URL plus the path and query string,
because behind a proxy the URL this app sees is not the one Twilio signed. Nothing here logs
a body or a phone number: MessageSids and message ids are enough to trace a request.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from functools import partial
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.requests import ClientDisconnect
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from reminders.receiving.answers import Clinic
from reminders.receiving.inbound import InboundSms, handle_inbound, note_first_arrival
from reminders.sending.receipts import StatusCallback, apply_status_callback
from reminders.settings import Settings
from reminders.store.db import Session
from reminders.web import run_db, settings_of

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks/twilio")

MAX_BODY_BYTES = 64 * 1024  # a Twilio form is a few kilobytes at most
TWIML = "application/xml"
MAX_MESSAGE_ID = 2**63 - 1  # the column's range on SQLite and PostgreSQL alike

# What Twilio sends is ASCII; anything else is refused (400) before it reaches a query or a
# log line, so a forged value can neither split a log line nor put an address in one.
SID = re.compile(r"[A-Za-z0-9]{2,64}")
STATUS = re.compile(r"[a-z_]{1,32}")
ERROR_CODE = re.compile(r"[0-9]{1,6}")
PHONE = re.compile(r"\+[0-9]{6,15}")  # E.164: an address with "@" is no sender of a text


# -- routes -------------------------------------------------------------------------------


@router.post("/status")
async def status_callback(request: Request) -> Response:
    """Apply a delivery receipt; always 200 once verified, even when it changes nothing."""
    params = await verified_params(request)
    message_id = _message_id(request.query_params.get("message_id"))
    status = params.get("MessageStatus") or params.get("SmsStatus")
    callback = StatusCallback(
        _sid(params),
        _matching(STATUS, _present(status, "MessageStatus"), "MessageStatus"),
        _error_code(params),
    )
    await run_db(request, partial(_apply_status, message_id=message_id, callback=callback))
    return Response(str(MessagingResponse()), media_type=TWIML)


@router.post("/inbound")
async def inbound(request: Request) -> Response:
    """A patient's text, acted on by the receiving room; its answer, if any, in TwiML."""
    params = await verified_params(request)
    sms = InboundSms(
        _sid(params),
        _matching(PHONE, _required(params, "From"), "From"),
        _present_key(params, "Body").replace("\x00", "\ufffd"),  # PostgreSQL text has no NUL
    )
    settings = settings_of(request)
    clinic = Clinic.from_settings(settings)
    # First arrival, committed on its own (see receiving.inbound.note_first_arrival).
    await run_db(request, partial(note_first_arrival, sms=sms))
    answer = await run_db(request, partial(handle_inbound, sms=sms, clinic=clinic))
    return Response(twiml(answer), media_type=TWIML)


def _apply_status(
    session: Session, now: datetime, *, message_id: int, callback: StatusCallback
) -> None:
    apply_status_callback(session, message_id, callback, now)


# -- verification -------------------------------------------------------------------------


async def verified_params(request: Request) -> dict[str, str]:
    """The form, once the request is proven to come from Twilio; raises 503 or 403."""
    settings = settings_of(request)
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not settings.public_base_url or not token:
        raise HTTPException(503, "webhooks need PUBLIC_BASE_URL and TWILIO_AUTH_TOKEN to verify")
    params = _parse_form(await read_body(request))
    signature = request.headers.get("X-Twilio-Signature")
    url = public_url(settings, request)
    if not signature or not RequestValidator(token).validate(url, params, signature):
        log.warning("webhook %s: invalid or missing Twilio signature", request.url.path)
        raise HTTPException(403, "invalid Twilio signature")
    return params


def public_url(settings: Settings, request: Request) -> str:
    """The URL Twilio called: the public base, then the path and query exactly as received."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    path = raw_path.decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    base = (settings.public_base_url or "").rstrip("/")
    return f"{base}{path}?{query}" if query else f"{base}{path}"


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The raw body, refused (413) past `limit` bytes; also what Cal.com's webhook reads."""
    body = b""
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise HTTPException(413, "request body too large")
    except ClientDisconnect:  # the sender gave up mid-body: nothing to answer, nothing to log
        raise HTTPException(400, "incomplete request body") from None
    return body


def _parse_form(body: bytes) -> dict[str, str]:
    """Best effort: a body that is no form yields {} and so fails the signature check."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        return {}


def _required(params: dict[str, str], name: str) -> str:
    return _present(params.get(name, "").strip(), name)


def _present(value: str | None, name: str) -> str:
    if not value:
        raise HTTPException(400, f"missing {name}")
    return value


def _present_key(params: dict[str, str], name: str) -> str:
    """An empty value is fine (a picture-only MMS has an empty Body); a missing key is not."""
    if name not in params:
        raise HTTPException(400, f"missing {name}")
    return params[name]


def _matching(pattern: re.Pattern[str], value: str, name: str) -> str:
    if not pattern.fullmatch(value):
        raise HTTPException(400, f"malformed {name}")
    return value


def _sid(params: dict[str, str]) -> str:
    return _matching(SID, _required(params, "MessageSid"), "MessageSid")


def _message_id(value: str | None) -> int:
    """Our outbox id from the callback URL: ASCII digits in the column's range ('²' is not 2)."""
    if value is None or not re.fullmatch(r"[0-9]{1,19}", value):
        raise HTTPException(400, "message_id must be a positive integer")
    number = int(value)
    if not 0 < number <= MAX_MESSAGE_ID:
        raise HTTPException(400, "message_id must be a positive integer")
    return number


def _error_code(params: dict[str, str]) -> str | None:
    code = params.get("ErrorCode", "").strip()
    return _matching(ERROR_CODE, code, "ErrorCode") if code else None


def twiml(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
