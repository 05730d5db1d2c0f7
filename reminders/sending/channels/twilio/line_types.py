"""Twilio Lookup v2's line type of a number (`line_type_intelligence`), for enrollment when
TWILIO_LOOKUP is on: the answer as Twilio words it (`mobile`, `landline`, `tollFree`...), or
LineTypeUnknown when Twilio could not be asked. Nothing logged names the number."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import requests
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from reminders.rules.line_types import LineTypeUnknown
from reminders.sending.channels.twilio.channel import RoutedHttpClient
from reminders.settings import Settings

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT_SECONDS = 5.0  # staff wait at the desk: at most this, then enroll unchecked


def line_type_lookup(settings: Settings) -> Callable[[str], str] | None:
    """The lookup enrollment calls, or None when TWILIO_LOOKUP is off."""
    if not settings.twilio_lookup:
        return None
    timeout = min(settings.twilio_timeout_seconds, LOOKUP_TIMEOUT_SECONDS)
    token = settings.twilio_auth_token
    client = Client(
        username=settings.twilio_account_sid,
        password=token.get_secret_value() if token else None,
        http_client=RoutedHttpClient(settings.twilio_api_base, timeout),
    )

    def lookup(e164: str) -> str:
        try:
            found = client.lookups.v2.phone_numbers(e164).fetch(fields="line_type_intelligence")
        except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
            log.warning("twilio lookup failed: %s", type(exc).__name__)
            raise LineTypeUnknown(type(exc).__name__) from None
        answer = found.line_type_intelligence or {}
        return str(answer.get("type") or "")

    return lookup
