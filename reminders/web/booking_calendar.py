"""The booked next session as the care page shows it: the time in the patient's language and
zone, and its `.ics` download. The care page (`/c/{token}`) calls these once it has checked
the patient; nothing here checks who is asking.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi.responses import Response

from reminders.rules.bookings import appointment_words
from reminders.rules.calendar import for_booking, ics
from reminders.rules.timing import zone_or
from reminders.settings import Settings
from reminders.store.bookings import current_booking
from reminders.store.db import Session
from reminders.store.models import Patient

FILENAME = "next-session.ics"
NO_HOST = "aftercare.invalid"  # the UID's host while PUBLIC_BASE_URL is unset


@dataclass(frozen=True)
class BookedVisit:
    booking_id: int
    when: str  # "Tue 12 Jan 2027 at 10:00", in the patient's language and zone
    ics: str


def booked_visit(
    session: Session,
    session_id: int,
    patient: Patient,
    settings: Settings,
    language: str | None = None,
) -> BookedVisit | None:
    """The session's standing booking, or None, in `language` (else the patient's own). The
    file is the same for the same booking as it stands (stamped with its last change)."""
    language = language or patient.language
    booking = current_booking(session, session_id)
    if booking is None:
        return None
    host = urlsplit(settings.public_base_url or "").hostname or NO_HOST
    appointment = for_booking(
        booking.id or 0,
        booking.starts_at,
        booking.ends_at,
        moves=booking.moves,
        clinic=settings.clinic_name,
        phone=settings.clinic_phone,
        host=host,
        language=language,
    )
    tz = zone_or(patient.timezone, settings.timezone)
    when = appointment_words(booking.starts_at, tz, language)
    return BookedVisit(booking.id or 0, when, ics(appointment, booking.updated_at))


def ics_response(visit: BookedVisit) -> Response:
    """The download: a calendar file, never cached (it names the patient's appointment)."""
    headers = {
        "Content-Disposition": f'attachment; filename="{FILENAME}"',
        "Cache-Control": "no-store",
    }
    return Response(visit.ics, media_type="text/calendar; charset=utf-8", headers=headers)
