"""Bookings of the next session, pure: Cal.com's signature, its payload read, the booking link.

Cal.com signs a webhook's raw body with the subscription's secret (hex HMAC-SHA256 in
`X-Cal-Signature-256`); the payload names the booking (`uid`), its times, its attendees and
the `metadata` the booking page was opened with, where our booking link put the session's
reference (`?metadata[aftercare]={ref}`). Nothing here reads a clock or the database.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

REF_PLACEHOLDER = "{ref}"
METADATA_KEY = "aftercare"  # payload.metadata.aftercare carries the reference
# A reference as `store.bookings` makes them: URL-safe base64 of 12 random bytes.
REF = re.compile(r"[A-Za-z0-9_-]{16}")
UID = re.compile(r"[A-Za-z0-9_.:-]{1,200}")  # Cal.com's booking uid (and an API external_id)
MAX_ATTENDEES = 20
EARLIEST, LATEST = 2000, 2200  # an appointment outside these years is a typo or a forgery


class Trigger(StrEnum):
    """The triggers that change a booking; Cal.com sends others, which change nothing here."""

    CREATED = "BOOKING_CREATED"
    RESCHEDULED = "BOOKING_RESCHEDULED"
    CANCELLED = "BOOKING_CANCELLED"


class BadPayload(ValueError):
    """A signed payload that is not a booking we can read; the message names the field."""


@dataclass(frozen=True)
class CalBooking:
    """What a booking webhook says, checked: who, when, and which session it was booked from."""

    trigger: Trigger
    uid: str
    starts_at: datetime | None  # None for a cancellation that does not repeat the times
    ends_at: datetime | None
    ref: str | None  # payload.metadata.aftercare, when it is one of ours
    rescheduled_from: str | None  # the uid a reschedule replaces (payload.rescheduleUid)
    emails: tuple[str, ...]  # the attendees', as sent
    phones: tuple[str, ...]


def signature_ok(secret: str, body: bytes, signature: str | None) -> bool:
    """True when `signature` is the hex HMAC-SHA256 of `body` under `secret` (case-insensitive)."""
    if not signature or not secret:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def sign(secret: str, body: bytes) -> str:
    """The signature Cal.com sends for `body` (what a test or a replay tool signs with)."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_ref(value: object) -> str | None:
    """A reference of ours, or None: anything else in the metadata is not ours to read."""
    if isinstance(value, str) and REF.fullmatch(value.strip()):
        return value.strip()
    return None


def booking_link(template: str | None, ref: str | None) -> str | None:
    """BOOKING_URL with the session's reference in place of `{ref}`; None without either."""
    if not template or not ref or REF_PLACEHOLDER not in template:
        return None
    return template.replace(REF_PLACEHOLDER, ref)


def booked_words(starts_at: datetime, tz: ZoneInfo) -> str:
    """'booked for Tue 12 Jan 10:00': the appointment on the patient's wall clock."""
    local = starts_at.astimezone(tz)
    return f"booked for {local:%a} {local.day} {local:%b %H:%M}"


# The booked time as the patient reads it on the care page, in their language.
_DAYS = {"es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom")}
_MONTHS = {"es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov",
                  "dic")}  # fmt: skip


def appointment_words(starts_at: datetime, tz: ZoneInfo, language: str = "en") -> str:
    """'Tue 12 Jan 2027 at 10:00' / 'mar 12 ene 2027 a las 10:00', on the patient's clock."""
    local = starts_at.astimezone(tz)
    if language in _DAYS:
        day, month = _DAYS[language][local.weekday()], _MONTHS[language][local.month - 1]
        return f"{day} {local.day} {month} {local.year} a las {local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %Y} at {local:%H:%M}"


def trigger_of(body: object) -> Trigger | None:
    """The trigger of a payload, None for one that changes no booking (PING, MEETING_ENDED)."""
    if not isinstance(body, Mapping):
        raise BadPayload("the body is not a JSON object")
    try:
        return Trigger(str(body.get("triggerEvent")))
    except ValueError:
        return None


def parse_booking(body: Mapping[str, object], trigger: Trigger) -> CalBooking:
    """The booking in a Cal.com payload; BadPayload names what is missing or malformed."""
    payload = body.get("payload")
    if not isinstance(payload, Mapping):
        raise BadPayload("payload must be an object")
    uid = _text(payload.get("uid"), "payload.uid")
    if not UID.fullmatch(uid):
        raise BadPayload("payload.uid is malformed")
    timed = trigger != Trigger.CANCELLED
    starts = _moment(payload.get("startTime"), "payload.startTime", required=timed)
    ends = _moment(payload.get("endTime"), "payload.endTime", required=False)
    metadata = payload.get("metadata")
    ref = parse_ref(metadata.get(METADATA_KEY)) if isinstance(metadata, Mapping) else None
    previous = payload.get("rescheduleUid")
    emails, phones = _attendees(payload)
    return CalBooking(
        trigger,
        uid,
        starts,
        ends if ends is not None and starts is not None and ends > starts else None,
        ref,
        previous if isinstance(previous, str) and UID.fullmatch(previous) else None,
        emails,
        phones,
    )


def _attendees(payload: Mapping[str, object]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    attendees = payload.get("attendees")
    people = [a for a in attendees if isinstance(a, Mapping)] if isinstance(attendees, list) else []
    emails = [a.get("email") for a in people[:MAX_ATTENDEES]]
    phones = [a.get("phoneNumber") for a in people[:MAX_ATTENDEES]]
    # The booking form's own phone field, when the event type asks for one.
    responses = payload.get("responses")
    if isinstance(responses, Mapping):
        field = responses.get("attendeePhoneNumber")
        phones.append(field.get("value") if isinstance(field, Mapping) else None)
    return _strings(emails), _strings(phones)


def _strings(values: list[object]) -> tuple[str, ...]:
    return tuple(v.strip() for v in values if isinstance(v, str) and 0 < len(v.strip()) <= 320)


def _text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadPayload(f"{name} is missing")
    return value.strip()


def _moment(value: object, name: str, *, required: bool) -> datetime | None:
    if value is None and not required:
        return None
    try:
        return parse_moment(_text(value, name))
    except ValueError as exc:
        raise BadPayload(f"{name} {exc}") from None


def parse_moment(text: str) -> datetime:
    """An appointment's time: ISO-8601 with an offset, in UTC, in a sane range; ValueError
    says what is wrong ('has no offset'), to follow the field's name."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("is not an ISO-8601 time") from None
    if moment.tzinfo is None:
        raise ValueError("has no offset: add one (e.g. -08:00 or Z)")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None
    if not EARLIEST <= moment.year <= LATEST:
        raise ValueError(f"is out of range (years {EARLIEST} to {LATEST})")
    return moment
