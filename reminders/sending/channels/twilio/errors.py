"""Twilio's error codes and what each means for us: the one table for refused sends and receipts.

Kept apart from the channel so that the receipts webhook and the timeline can read a code
without loading the twilio SDK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from reminders.sending.channels.base import ChannelError

# Twilio error code -> what follows (ChannelError flags), for a refused send and for a
# delivery receipt alike: this table is the one place that knows what a Twilio code means.
_TRANSIENT: Mapping[str, bool] = {"permanent": False}
_PERMANENT: Mapping[str, bool] = {"permanent": True}
_ACCOUNT: Mapping[str, bool] = {"permanent": False, "account_problem": True}
_UNDELIVERABLE: Mapping[str, bool] = {"permanent": True, "undeliverable": True}
_CODE_RULES: Mapping[int, Mapping[str, bool]] = {
    20003: _ACCOUNT,  # authentication failed
    20404: _ACCOUNT,  # no such account or resource: a wrong SID or API base
    21212: _ACCOUNT,  # our From number is invalid
    21606: _ACCOUNT,  # our From number cannot send SMS
    20429: _TRANSIENT,  # too many requests
    30001: _TRANSIENT,  # queue overflow
    30008: _TRANSIENT,  # unknown error
    21211: _UNDELIVERABLE,  # invalid To number
    21614: _UNDELIVERABLE,  # To is not a mobile number
    30005: _UNDELIVERABLE,  # unknown destination handset
    30006: _UNDELIVERABLE,  # landline or unreachable carrier
    21408: _PERMANENT,  # sending to that region is not enabled
    30007: _PERMANENT,  # carrier filtering
    21610: {"permanent": True, "opted_out": True},  # the recipient replied STOP
}
# Twilio's own words for the codes a status callback commonly carries (it sends no words).
TWILIO_WORDS: Mapping[int, str] = {
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30004: "Message blocked",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered by the carrier",
    30008: "Unknown error",
    21610: "Attempt to send to unsubscribed recipient",
}
# A run of at least 7 digits with the separators people write numbers with: `+1 (555) 010-0199`.
_PHONE_LIKE = re.compile(r"\+?\(?\d[\d\s().\-]{5,}\d")


def classify_twilio_error(status: int | None, code: int | None, message: str) -> ChannelError:
    """The ChannelError for an answer from Twilio; `status` is None when no HTTP answer came."""
    code = code if code is not None and code >= 10_000 else None  # the SDK puts the status there
    words = redact_numbers(message).strip() or f"HTTP {status} from Twilio"
    label = str(code) if code is not None else (str(status) if status is not None else None)
    return ChannelError(words, code=label, **_rule(status, code))


def classify_delivery_error(code: str | None) -> ChannelError:
    """What a status callback's ErrorCode means, by the same table as a refused send.

    Twilio has given up on that message by then, so a code the table does not know is final,
    not transient; only a transient code (30001, 30008) is worth a resend.
    """
    number = int(code) if code and code.isascii() and code.isdigit() else None
    rule = _CODE_RULES.get(number, _PERMANENT) if number is not None else _PERMANENT
    return ChannelError(describe_twilio_code(code), code=code or None, **rule)


def describe_twilio_code(code: str | None) -> str:
    """Twilio's words for a code, for staff reading the timeline."""
    if not code:
        return "no error code"
    words = TWILIO_WORDS.get(int(code)) if code.isascii() and code.isdigit() else None
    return words or f"Twilio error {code}"


def _rule(status: int | None, code: int | None) -> Mapping[str, bool]:
    if code is not None and code in _CODE_RULES:
        return _CODE_RULES[code]
    if status is None or status == 429 or status >= 500:
        return _TRANSIENT
    if status in (401, 403) or (status == 404 and code is None) or status < 400:
        return _ACCOUNT  # credentials, a wrong account or a redirecting API base: ours to fix
    return _PERMANENT


def redact_numbers(text: str) -> str:
    """Twilio's messages quote the recipient's number; keep them out of stored reasons."""
    return _PHONE_LIKE.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group())
    return "<number>" if digits >= 7 else match.group()
