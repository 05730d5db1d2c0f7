"""Contact details shown on a screen: enough to tell two apart, not enough to use one."""

from __future__ import annotations

import phonenumbers

BULLET = "•"
KEEP = 4  # the last digits left visible, as on a bank statement


def mask_phone(raw: str) -> str:
    """'+13105550199' -> '+1 ••• ••• 0199': the country code and the last four digits.

    Staff can match a reply to the patient on the phone without a full number on every
    screen (shoulder-surfing, screenshots). Anything that is not a possible international
    number shows only its last four digits, so a malformed sender leaks nothing else either.
    """
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return _last_digits(raw)
    if not phonenumbers.is_possible_number(number):
        return _last_digits(raw)
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    code, _, national = formatted.partition(" ")
    return f"{code} {_mask_digits(national.replace('-', ' '))}"


def _mask_digits(text: str) -> str:
    """Every digit but the last KEEP becomes a bullet; the grouping stays readable."""
    hide = sum(ch.isdigit() for ch in text) - KEEP
    masked = []
    for ch in text:
        if ch.isdigit() and hide > 0:
            masked.append(BULLET)
            hide -= 1
        else:
            masked.append(ch)
    return "".join(masked)


def _last_digits(raw: str) -> str:
    digits = "".join(ch for ch in raw if ch.isdigit())
    return f"{BULLET * 3} {digits[-KEEP:]}" if len(digits) > KEEP else BULLET * 3


def readable_phone(e164: str, region: str) -> str:
    """'+13105550142' -> '(310) 555-0142' for a number of `region`, else '+44 20 7946 0958':
    written as staff say it, for a signed-in page that shows the whole number."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    national = phonenumbers.region_code_for_number(number) == region
    style = phonenumbers.PhoneNumberFormat
    return phonenumbers.format_number(number, style.NATIONAL if national else style.INTERNATIONAL)
