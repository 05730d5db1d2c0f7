"""The API's answers when something is wrong: JSON, always, with each bad field named.

`{"detail": "one sentence", "errors": {"phone": "…", "completed_at": "…"}}`: `errors` maps a
field of the request (or `body`, a header's name, or `consent` for no_sms and no_email
together) to what is wrong with it. A practice system shows the lines to the person who typed
the data, or logs them; they quote what was sent, so they never go into our own logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

# enrollment's names for what a problem concerns, where the API's field is called otherwise
FIELD_NAMES = {"patient": "patient_id"}
# errors are listed in the order of the request's fields (then the rest, as found)
ORDER = ("Idempotency-Key", "body", "name", "phone", "treatment", "completed_at", "email",
         "timezone", "language", "no_sms", "no_email", "consent", "patient_id")  # fmt: skip


class Problem(BaseModel):
    """What every error answer holds."""

    detail: str = Field(description="What went wrong, in one sentence.")
    errors: dict[str, str] = Field(
        default_factory=dict,
        description="Each bad field (or `body`, a header, `consent`) and what is wrong with it.",
        examples=[{"phone": "phone number '555' is not a valid number"}],
    )


class InvalidRequest(Exception):
    """422: the request was read but cannot be done as sent; nothing was written."""

    def __init__(self, errors: Mapping[str, str], detail: str | None = None) -> None:
        named = {FIELD_NAMES.get(name, name): line for name, line in errors.items()}
        self.errors = dict(sorted(named.items(), key=lambda item: _rank(item[0])))
        super().__init__(detail or f"nothing was enrolled; check {', '.join(self.errors)}")


def _rank(field: str) -> int:
    return ORDER.index(field) if field in ORDER else len(ORDER)


def problem(
    status: int,
    detail: str,
    errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(detail=detail, errors=dict(errors or {}))
    return JSONResponse(body.model_dump(), status_code=status, headers=dict(headers or {}))


# What pydantic says, in the words of the rest of the API; its own words for the rest.
_PYDANTIC_WORDS = {
    "missing": "required",
    "extra_forbidden": "not a field of this request",
    "model_type": "the body must be a JSON object",
    "string_type": "must be a string (in double quotes)",
    "bool_type": "must be true or false",
    "int_type": "must be a whole number",
    "string_pattern_mismatch": "must be visible ASCII characters (no spaces)",
}


def field_errors(errors: Sequence[Any]) -> dict[str, str]:
    """pydantic's errors by field: the first line of each; `body` for the body as a whole."""
    found: dict[str, str] = {}
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "header")]
        field = ".".join(loc) or "body"
        found.setdefault(field, _words(error))
    return found


def _words(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind == "json_invalid":
        return f"the body is not valid JSON ({error.get('ctx', {}).get('error', 'unreadable')})"
    message = _PYDANTIC_WORDS.get(kind) or str(error.get("msg", "is not valid"))
    return message[:1].lower() + message[1:]
