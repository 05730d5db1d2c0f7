"""The lookup that settles a text whose outcome is unknown: does Twilio hold this attempt?

Twilio's Message resource does not return the StatusCallback URL, so the message is found by
recipient, creation time and body (the status callback, which carries our message_id, settles
the same question when it comes first). The list is not filtered on DateSent: a message still
queued at Twilio has no date_sent and would be missed, then sent twice.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioException
from twilio.rest import Client

from reminders.sending.channels.base import OutcomeUnknown

log = logging.getLogger(__name__)

RECONCILE_LIMIT = 50  # newest messages to the number read back: one page, and a bound on paging


def find_attempt(
    client: Client, *, message_id: int, to: str, body: str, since: datetime
) -> str | None:
    """The SID of the message Twilio holds for this send attempt, or None if it has none.

    Raises OutcomeUnknown when Twilio cannot be asked. Nothing logged names the number.
    """
    try:
        records = client.messages.list(to=to, limit=RECONCILE_LIMIT)
    except (TwilioException, requests.RequestException, json.JSONDecodeError) as exc:
        log.warning("twilio reconcile of message %s failed", message_id)
        raise OutcomeUnknown(f"could not list Twilio messages: {type(exc).__name__}") from None
    since_utc = since.astimezone(UTC)
    matches = [r.sid for r in records if r.sid and _same_attempt(r, body, since_utc)]
    return matches[-1] if matches else None  # newest first: the last is our attempt


def _same_attempt(record: Any, body: str, since: datetime) -> bool:
    """Our body (a trial account prefixes its own words), created at or after the attempt."""
    created = record.date_created
    if isinstance(created, datetime) and created < since:
        return False
    return bool(body and record.body) and str(record.body).endswith(body)
