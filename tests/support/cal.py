"""Cal.com's webhook calls as Cal.com makes them: the payload's real shape, signed or not.

The shape follows Cal.com's documented example (docs/developing/guides/automation/
webhooks.mdx): `triggerEvent`, `createdAt` and a `payload` with `uid`, `startTime`,
`endTime`, `attendees` (name, email, timeZone; `phoneNumber` when the event asks for one),
`responses`, `metadata` (our `aftercare` reference beside Cal.com's own `videoCallUrl`) and,
for a reschedule, `rescheduleUid`, the booking it replaces.
"""

from __future__ import annotations

import json
from typing import Any

from reminders.rules.bookings import sign

SECRET = "cal-webhook-secret-0123456789"
URL = "/webhooks/cal"


def cal_payload(
    trigger: str = "BOOKING_CREATED",
    *,
    uid: str = "bFJeNb2uX8ANpT3JL5EfXw",
    start: str = "2027-01-12T18:00:00Z",
    end: str = "2027-01-12T18:30:00Z",
    ref: str | None = None,
    email: str = "someone@example.com",
    phone: str | None = None,
    reschedule_uid: str | None = None,
) -> dict[str, Any]:
    attendee: dict[str, Any] = {
        "email": email,
        "name": "Maria Lopez",
        "timeZone": "America/Los_Angeles",
        "language": {"locale": "en"},
    }
    if phone is not None:
        attendee["phoneNumber"] = phone
    metadata: dict[str, Any] = {"videoCallUrl": "https://app.cal.com/video/abc"}
    if ref is not None:
        metadata["aftercare"] = ref
    payload: dict[str, Any] = {
        "type": "follow-up",
        "title": "Follow-up between Fine Touch Dermatology and Maria Lopez",
        "description": "",
        "additionalNotes": "",
        "customInputs": {},
        "startTime": start,
        "endTime": end,
        "organizer": {
            "id": 5,
            "name": "Fine Touch Dermatology",
            "email": "desk@finetouch.example",
            "username": "finetouch",
            "timeZone": "America/Los_Angeles",
            "language": {"locale": "en"},
            "timeFormat": "h:mma",
        },
        "responses": {
            "name": {"label": "your_name", "value": "Maria Lopez"},
            "email": {"label": "email_address", "value": email},
        },
        "attendees": [attendee],
        "location": "Fine Touch Dermatology",
        "uid": uid,
        "bookingId": 91,
        "eventTypeId": 7,
        "length": 30,
        "metadata": metadata,
        "status": "CANCELLED" if trigger == "BOOKING_CANCELLED" else "ACCEPTED",
    }
    if reschedule_uid is not None:
        payload["rescheduleUid"] = reschedule_uid
    if trigger == "BOOKING_CANCELLED":
        payload["cancellationReason"] = "Something came up"
    return {"triggerEvent": trigger, "createdAt": "2026-12-01T17:00:00.000Z", "payload": payload}


def signed(body: dict[str, Any] | bytes, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    """The raw body and the headers Cal.com sends with it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", "X-Cal-Signature-256": sign(secret, raw)}
