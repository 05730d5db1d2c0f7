"""The API's request and answer for a session: what OpenAPI describes and pydantic checks.

pydantic checks the shape (types, required fields, no unknown ones, no control characters);
what the values mean is checked by `planning.validation.validate`, as for the CLI, so its
words reach the caller unchanged. Strict: `"no_sms": "yes"` is refused, not read as true.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue
from pydantic_core import PydanticCustomError

from reminders.planning.validation import EnrollmentForm

TEXT_MAX = 1000  # no field needs more; errors quote the value, so keep it short


def _plain(value: str) -> str:
    """Text a person typed: no control characters (PostgreSQL refuses NUL, logs split on CR)."""
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise PydanticCustomError("control_character", "must not contain control characters")
    return value


Text = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(_plain)]

EXAMPLE: dict[str, JsonValue] = {
    "name": "Maria Lopez",
    "phone": "+13105550142",
    "email": "maria@example.com",
    "treatment": "asclera",
    "completed_at": "2026-11-02T14:30:00-08:00",
    "timezone": "America/Los_Angeles",
    "language": "es",
}


class SessionRequest(BaseModel):
    """A completed treatment session: the fields of `aftercare enroll` and of an import row."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [EXAMPLE]}
    )

    name: Text = Field(
        description="The patient's full name (at most 200 characters).", examples=["Maria Lopez"]
    )
    phone: Text = Field(
        description="Mobile number: E.164, or national numbers of DEFAULT_PHONE_REGION."
        " With the name it identifies the patient: a number on file under another name is"
        " refused unless `patient_id` names that patient (the same person) or `shared_phone`"
        " says someone else shares it.",
        examples=["+13105550142", "(310) 555-0142"],
    )
    treatment: Text = Field(
        description="asclera, sts, laser or test-dose (a treatment of a care plan).",
        examples=["asclera"],
    )
    completed_at: Text = Field(
        description="When the session ended: ISO-8601 with an offset, or a patient-local"
        " 'YYYY-MM-DDTHH:MM' when `timezone` is given. Not in the future; a date alone, or a"
        " local time the clocks skip, is refused.",
        examples=["2026-11-02T14:30:00-08:00", "2026-11-02T22:30:00Z"],
    )
    email: Text | None = Field(
        None,
        description="Email address; none keeps the one on file.",
        examples=["maria@example.com"],
    )
    timezone: Text | None = Field(
        None,
        description="The patient's IANA time zone; default the one on file, else CLINIC_TIMEZONE.",
        examples=["America/Los_Angeles"],
    )
    language: Text | None = Field(
        None, description="en or es; default the patient's own, else en.", examples=["es"]
    )
    date_of_birth: Text | None = Field(
        None,
        description="YYYY-MM-DD, from 1900 to today; the care page asks for it before it shows"
        " anything. None keeps the one on file.",
        examples=["1984-03-09"],
    )
    no_sms: bool = Field(False, description="true: the patient did not agree to texts.")
    no_email: bool = Field(False, description="true: the patient did not agree to emails.")
    patient_id: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,  # patient.id is an INTEGER on PostgreSQL
        description="Enroll for this patient on file (whose name and phone may be corrected).",
    )
    shared_phone: bool = Field(
        False,
        description="true: the phone is on file under another name and this is someone else"
        " sharing it (a parent and a child): a patient of their own on the same number.",
    )

    def form(self) -> EnrollmentForm:
        return EnrollmentForm(
            self.name,
            self.phone,
            self.treatment,
            self.completed_at,
            self.email,
            self.timezone,
            self.language,
            sms=not self.no_sms,
            email_ok=not self.no_email,
            patient_id=self.patient_id,
            date_of_birth=self.date_of_birth,
            shared_phone=self.shared_phone,
        )


class PlannedMessage(BaseModel):
    id: int = Field(description="The outbox message.")
    step: str = Field(description="The care plan's step.")
    channel: str = Field(description="sms or email.")
    due_at: datetime = Field(description="When the care plan makes it due (UTC).")
    not_after: datetime | None = Field(description="Its deadline (UTC): not sent after it.")
    expected_send_at: datetime | None = Field(
        description="When it is expected to go after the send window and the daily SMS limit"
        " (UTC); null when it cannot go before its deadline (`too_late`)."
    )
    combined_into: int | None = Field(
        description="The message whose text will carry this one's (one SMS a day), if any."
    )
    too_late: bool = Field(description="The window and the limit leave it no time: see warnings.")


class SessionCreated(BaseModel):
    patient_id: int = Field(description="The patient, found by phone (or id) or created.")
    session_id: int = Field(description="The treatment session written.")
    replaced_session_id: int | None = Field(
        description="The earlier entry of the same session (same patient, care plan and local"
        " day) that this one replaced, if any."
    )
    planned_messages: int = Field(description="Messages waiting to be sent for this session.")
    warnings: list[str] = Field(
        description="What the person who enrolled should hear: how a time was read, details on"
        " file that changed, messages that will not go (no address, opted out, too late)."
    )
    messages: list[PlannedMessage] = Field(
        default_factory=list,
        description="The session's planned messages, with when each is expected to go.",
    )


BOOKING_EXAMPLE: dict[str, JsonValue] = {
    "external_id": "appt-20931",
    "phone": "+13105550142",
    "starts_at": "2027-01-12T10:00:00-08:00",
}


class BookingRequest(BaseModel):
    """The patient's next appointment, booked in the practice system."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra={"examples": [BOOKING_EXAMPLE]}
    )

    external_id: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Your id of the appointment (letters, digits, `_.:-`). Sent again, it"
        " changes nothing; with another `starts_at`, the appointment is moved.",
        examples=["appt-20931"],
    )
    starts_at: Text = Field(
        description="When the appointment starts: ISO-8601 with an offset.",
        examples=["2027-01-12T10:00:00-08:00", "2027-01-12T18:00:00Z"],
    )
    ends_at: Text | None = Field(
        None, description="When it ends (ISO-8601 with an offset); default an hour after."
    )
    patient_id: int | None = Field(
        None,
        ge=1,
        le=2**31 - 1,
        description="The patient on file (as `POST /sessions` answered); else give `phone`.",
    )
    phone: Text | None = Field(
        None,
        description="The patient's mobile number on file, when `patient_id` is not given.",
        examples=["+13105550142"],
    )


class BookingCreated(BaseModel):
    booking_id: int = Field(description="The booking, the same for every repeat of external_id.")
    patient_id: int
    session_id: int = Field(
        description="The session it follows: the patient's newest that is not voided."
    )
    starts_at: str = Field(description="When it starts, in UTC.")
    result: str = Field(
        description="booked (new), moved (a new starts_at) or unchanged (a repeat)."
    )
    prompts_skipped: int = Field(
        description='Follow-up prompts ("book your next session") this booking skipped.'
    )


class BookingCancelled(BaseModel):
    booking_id: int
    result: str = Field(description="cancelled, or unchanged (it was cancelled before).")
    prompts_replanned: int = Field(
        description="Follow-up prompts the booking had skipped that are planned again: those"
        " still before their deadline, unless another booking of the session stands."
    )
