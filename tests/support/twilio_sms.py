"""An SMS as the dispatcher hands it to the Twilio channel, and settings for a loopback Twilio."""

from __future__ import annotations

from datetime import UTC, datetime

from reminders.sending.channels.base import OutgoingMessage
from reminders.settings import Settings
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN

MARIA = "+13105550142"
CLINIC_SENDER = "+13105550100"
PUBLIC_URL = "https://aftercare.example.org"
BODY = "Fine Touch Dermatology: for 3 days avoid hot baths, saunas and long flights. STOP to end"
TIMEOUT = 0.5


def twilio_settings(api_base: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from_number": CLINIC_SENDER,
        "twilio_messaging_service_sid": None,
        "twilio_api_base": api_base,
        "twilio_timeout_seconds": TIMEOUT,
        "public_base_url": PUBLIC_URL,
        "sms_validity_seconds": 14_400,
        "sms_max_per_second": 1_000,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def outgoing(
    message_id: int = 7,
    body: str = BODY,
    segments: int | None = 1,
    sent_at: datetime | None = None,
    expires_at: datetime | None = None,
) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=message_id,
        channel="sms",
        to=MARIA,
        body=body,
        step="day1_restrictions",
        sent_at=sent_at or datetime.now(UTC),
        segments=segments,
        expires_at=expires_at,
    )
