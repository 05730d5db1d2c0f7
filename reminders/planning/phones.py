"""A phone number as enrollment reads it: E.164, and one a text can reach."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

from reminders.planning.enrollment_errors import InvalidEnrollment

READ_NUMBERS = 8192  # numbers remembered: an import reads each, then the planner reads it again
_read_e164: set[str] = set()  # numbers parse_phone returned: each reads as itself in any region


def parse_phone(raw: str, region: str) -> str:
    """E.164, or InvalidEnrollment: a number we cannot text is caught at the desk, not later."""
    if raw in _read_e164:  # the planner normalizing the number an enrollment just read
        return raw
    number = _parse_phone(raw, region)
    if len(_read_e164) >= READ_NUMBERS:
        _read_e164.clear()
    _read_e164.add(number)
    return number


@lru_cache(maxsize=READ_NUMBERS)
def _parse_phone(raw: str, region: str) -> str:
    if not raw.strip():
        raise InvalidEnrollment("phone number is required")
    if any(ch.isalpha() for ch in raw):
        raise InvalidEnrollment(f"phone number {raw!r} has letters; type the digits")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise InvalidEnrollment(
            f"phone number {raw!r} cannot be read: type its digits, such as (310) 555-0142"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidEnrollment(
            f"phone number {raw!r} is not a valid number: check its digits (one from abroad"
            " starts with + and its country code)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Kinds of number phonenumbers can tell apart that no text reaches (where the country's plan
# separates landlines from mobiles: in the US and Canada both read FIXED_LINE_OR_MOBILE).
_UNTEXTABLE = {
    PhoneNumberType.FIXED_LINE: "a landline",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.UAN: "a company's switchboard number",
    PhoneNumberType.PAGER: "a pager",
    PhoneNumberType.VOICEMAIL: "a voicemail access number",
}


def require_textable(e164: str) -> None:
    """Refuse at the desk a number whose kind cannot take texts, naming the kind: otherwise
    every text to it fails at the provider, days later, with nobody there to fix it."""
    kind = _UNTEXTABLE.get(_number_type(e164))
    if kind is not None:
        raise InvalidEnrollment(
            f"phone number {e164} is {kind}, which cannot take texts: give a mobile number,"
            " or enroll without texts to keep it on file"
        )


@lru_cache(maxsize=READ_NUMBERS)
def _number_type(e164: str) -> int:
    return int(phonenumbers.number_type(phonenumbers.parse(e164, None)))
