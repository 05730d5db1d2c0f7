"""An `.ics` file (RFC 5545) for a booked appointment, pure: plain values in, text out.

Times are written in UTC (`...Z`), so a calendar shows the same instant whatever zone it is
in and whatever DST change lies between now and then; the UID is the caller's stable name for
the booking, so importing the file again updates the entry instead of adding a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DEFAULT_LENGTH = timedelta(hours=1)  # a booking without an end (the API's) lasts this long
LINE_OCTETS = 75  # RFC 5545 3.1: longer content lines are folded


SUMMARY = {"en": "Your next session at {clinic}", "es": "Su próxima sesión en {clinic}"}
DESCRIPTION = {
    "en": "To change or cancel it, call {clinic} at {phone}.",
    "es": "Para cambiarla o cancelarla, llame a {clinic} al {phone}.",
}


@dataclass(frozen=True)
class Appointment:
    uid: str  # stable: e.g. "booking-12@clinic.example"
    starts_at: datetime  # aware
    ends_at: datetime | None
    summary: str
    location: str = ""
    description: str = ""
    sequence: int = 0  # grows with each change, so a calendar takes the newest time


def for_booking(
    booking_id: int,
    starts_at: datetime,
    ends_at: datetime | None,
    *,
    moves: int,
    clinic: str,
    phone: str,
    host: str,
    language: str = "en",
) -> Appointment:
    """The patient's booked session as their calendar shows it, in their language; the UID
    names the booking, so a moved booking (`moves` so far) replaces the entry it made."""
    words = language if language in SUMMARY else "en"
    return Appointment(
        uid=f"booking-{booking_id}@{host}",
        starts_at=starts_at,
        ends_at=ends_at,
        summary=SUMMARY[words].format(clinic=clinic),
        location=clinic,
        description=DESCRIPTION[words].format(clinic=clinic, phone=phone),
        sequence=moves,
    )


def ics(appointment: Appointment, stamp: datetime) -> str:
    """The VCALENDAR text, CRLF line ends; `stamp` (aware) is DTSTAMP, when it was made."""
    ends = appointment.ends_at or appointment.starts_at + DEFAULT_LENGTH
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Aftercare//Booking//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{escape(appointment.uid)}",
        f"DTSTAMP:{utc_stamp(stamp)}",
        f"DTSTART:{utc_stamp(appointment.starts_at)}",
        f"DTEND:{utc_stamp(ends)}",
        f"SEQUENCE:{appointment.sequence}",
        f"SUMMARY:{escape(appointment.summary)}",
    ]
    if appointment.location:
        lines.append(f"LOCATION:{escape(appointment.location)}")
    if appointment.description:
        lines.append(f"DESCRIPTION:{escape(appointment.description)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)


def utc_stamp(moment: datetime) -> str:
    """'20270112T180000Z'; a naive time is refused rather than guessed."""
    if moment.tzinfo is None:
        raise ValueError("an .ics time must be aware")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def escape(text: str) -> str:
    """TEXT values (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def fold(line: str) -> str:
    """Lines longer than 75 octets folded (CRLF and a space), never inside a UTF-8 character."""
    parts: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode())
        limit = LINE_OCTETS if not parts else LINE_OCTETS - 1  # a folded line starts with " "
        if size + width > limit:
            parts.append(current)
            current, size = "", 0
        current += char
        size += width
    parts.append(current)
    return "\r\n ".join(parts)
