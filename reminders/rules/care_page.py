"""The care page's words for times, in the patient's zone and language, and its template's
context: what an admin's `care_page` template may use (see templates/<plan>/care_page.page.*).

`ends(hours=72)` is the live phrase of a restriction: "ends on Thursday at 14:30" while it
lasts, "ended on Thursday at 14:30" after, counted from the session in the patient's zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

PAGE_STEP = "care_page"  # a page template is keyed (plan, "care_page", "page", language)
PAGE_CHANNEL = "page"
LANGUAGES = ("en", "es")
LANGUAGE_NAMES = {"en": "English", "es": "Español"}

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"),
}  # fmt: skip
_ENDS = {
    "en": ("ends on {day} at {time}", "ended on {day} at {time}"),
    "es": ("termina el {day} a las {time}", "terminó el {day} a las {time}"),
}


def language_of(language: str | None) -> str:
    return language if language in LANGUAGES else "en"


def weekday(moment: datetime, tz: ZoneInfo, language: str) -> str:
    local = moment.astimezone(tz)
    return _DAYS[language_of(language)][local.weekday()]


def long_date(moment: datetime, tz: ZoneInfo, language: str) -> str:
    """ "Friday 20 November 2026" / "viernes 20 de noviembre de 2026"."""
    local = moment.astimezone(tz)
    lang = language_of(language)
    day, month = _DAYS[lang][local.weekday()], _MONTHS[lang][local.month - 1]
    if lang == "es":
        return f"{day} {local.day} de {month} de {local.year}"
    return f"{day} {local.day} {month} {local.year}"


def when(moment: datetime, tz: ZoneInfo, language: str) -> str:
    """A coming message's time: "Saturday 21 November at 09:00"."""
    local = moment.astimezone(tz)
    lang = language_of(language)
    day, month = _DAYS[lang][local.weekday()], _MONTHS[lang][local.month - 1]
    if lang == "es":
        return f"{day} {local.day} de {month} a las {local:%H:%M}"
    return f"{day} {local.day} {month} at {local:%H:%M}"


def ends_phrase(end: datetime, now: datetime, tz: ZoneInfo, language: str) -> str:
    """ "ends on Thursday at 14:30" until then, "ended on ..." after; a week or more away
    the date is named too, so "Thursday" is never next week's."""
    lang = language_of(language)
    local = end.astimezone(tz)
    day = weekday(end, tz, lang)
    if abs(end - now) >= timedelta(days=6):
        month = _MONTHS[lang][local.month - 1]
        day = f"{day} {local.day} de {month}" if lang == "es" else f"{day} {local.day} {month}"
    ongoing, over = _ENDS[lang]
    return (ongoing if now < end else over).format(day=day, time=f"{local:%H:%M}")


def tel_href(phone: str) -> str:
    """A tap-to-call link's target: the digits and a leading +, nothing else."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"tel:{'+' if phone.strip().startswith('+') else ''}{digits}"


def page_context(
    *,
    first_name: str,
    clinic_name: str,
    clinic_phone: str,
    treatment_name: str,
    completed_at: datetime,
    now: datetime,
    tz: ZoneInfo,
    language: str,
) -> dict[str, object]:
    """What a care page template may use; `ends(hours=..., days=...)` counts from the session."""

    def ends(hours: float = 0, days: float = 0) -> str:
        end = completed_at + timedelta(hours=hours, days=days)
        return ends_phrase(end, now, tz, language)

    return {
        "first_name": first_name,
        "clinic_name": clinic_name,
        "clinic_phone": clinic_phone,
        "treatment_name": treatment_name,
        "session_date": long_date(completed_at, tz, language),
        "ends": ends,
    }


SAMPLE_COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # a Friday, 14:30 in Los Angeles


def sample_page_context(
    language: str, base: Mapping[str, object], tz: ZoneInfo | None = None
) -> dict[str, object]:
    """The sample patient's page, the day after their session: for the editor and init."""
    return page_context(
        first_name=str(base["first_name"]),
        clinic_name=str(base["clinic_name"]),
        clinic_phone=str(base["clinic_phone"]),
        treatment_name=str(base["treatment_name"]),
        completed_at=SAMPLE_COMPLETED,
        now=SAMPLE_COMPLETED + timedelta(days=1),
        tz=tz or ZoneInfo("America/Los_Angeles"),
        language=language,
    )
