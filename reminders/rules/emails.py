"""One normal form for email addresses: the one patients, opt-outs and staff accounts share."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalize_email(raw: str) -> str:
    """Checked (no DNS lookup) and lower-cased, as addresses are stored and matched."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
