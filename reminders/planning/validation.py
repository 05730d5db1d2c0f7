"""Reading what staff typed into an enrollment: pure, before anything is written.

Bad input gives one clear line (the CLI, the import) and each bad field's own line (the web
form, the API), and leaves the database untouched. That includes a session on which no
message would go (every step past its deadline, or no channel with consent and an address):
it would be enrolled for nothing, and is most often a typo in the year.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

# The readers' errors and the phone's reading live beside this module; the doors import them
# from here, with the rest of the input's reading.
from reminders.planning.enrollment_errors import InvalidEnrollment as InvalidEnrollment
from reminders.planning.enrollment_errors import PhoneOfAnotherPatient as PhoneOfAnotherPatient
from reminders.planning.phones import parse_phone as parse_phone
from reminders.planning.phones import require_textable
from reminders.rules.care_plans import CHANNELS, CarePlans, Plan
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.emails import normalize_email
from reminders.rules.timing import (
    is_expired,
    is_repeated,
    is_skipped,
    readable_zone,
    require_zone,
)

LANGUAGES = ("en", "es")

P = ParamSpec("P")
T = TypeVar("T")


# The fields of the form a problem can concern, as the web form names its inputs.
FIELDS = ("name", "phone", "email", "date_of_birth", "treatment", "completed_at", "timezone",
          "language", "consent", "patient")  # fmt: skip
EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True)
class EnrollmentForm:
    """What staff typed, as text: from the CLI, a CSV row or the web form."""

    name: str
    phone: str
    treatment: str
    completed_at: str
    email: str | None = None
    timezone: str | None = None
    language: str | None = None  # None: the patient's own, or English for a new patient
    sms: bool = True
    email_ok: bool = True
    patient_id: int | None = None  # an existing patient, named explicitly
    date_of_birth: str | None = None  # YYYY-MM-DD; None or blank: what is on file is kept
    shared_phone: bool = False  # a new patient on a number on file for someone else


@dataclass(frozen=True)
class Enrollment:
    name: str
    phone: str  # E.164
    treatment: str
    completed_at: datetime  # aware UTC
    email: str | None
    timezone: str | None
    language: str | None
    sms_consent: bool
    email_consent: bool
    patient_id: int | None = None
    notes: tuple[str, ...] = ()  # what staff must hear about how the input was read
    date_of_birth: date | None = None
    shared_phone: bool = False  # another person shares the number: a patient of their own


def validate(
    form: EnrollmentForm,
    *,
    plans: CarePlans,
    clinic_tz: ZoneInfo,
    region: str,
    now: datetime,
    zone_on_file: str | None = None,
) -> Enrollment:
    """Check every field; raise InvalidEnrollment naming each bad one, the first first.

    A completion time without an offset is read in the zone given, else in `zone_on_file`
    (the zone of the patient on file this form is for: see `patient_on_file`), else in the
    clinic's: the zone the planner will place the session's steps in.
    """
    problems = _Problems()
    name = problems.check("name", "", _name, form.name)
    treatment = problems.check("treatment", "", _treatment, form.treatment, plans)
    language = problems.check("language", None, _language, form.language)
    zone = problems.check("timezone", None, _zone, form.timezone)
    phone = problems.check("phone", "", parse_phone, form.phone, region)
    if phone and form.sms:  # a landline may be on file for a patient who gets only emails
        problems.check("phone", None, require_textable, phone)
    tz = zone or readable_zone(zone_on_file) or clinic_tz
    read = problems.check(
        "completed_at", (now, None), parse_completed_at, form.completed_at, tz, now
    )
    completed_at, note = read
    email = problems.check("email", None, parse_email, form.email)
    born = problems.check("date_of_birth", None, parse_date_of_birth, form.date_of_birth, now)
    if not problems.by_field.keys() & {"treatment", "completed_at"}:
        consent: dict[str, bool] = {ChannelKind.SMS: form.sms, ChannelKind.EMAIL: form.email_ok}
        blocked = {ch: f"no consent to {_LABELS[ch]}" for ch, ok in consent.items() if not ok}
        plan = plans.for_treatment(treatment)
        problems.check("consent", None, require_a_timely_step, plan, completed_at, tz, blocked, now)
    problems.raise_any()
    return Enrollment(
        name=name,
        phone=phone,
        treatment=treatment,
        completed_at=completed_at,
        email=email,
        timezone=zone.key if zone else None,
        language=language,
        sms_consent=form.sms,
        email_consent=form.email_ok,
        patient_id=form.patient_id,
        notes=(note,) if note else (),
        date_of_birth=born,
        shared_phone=form.shared_phone,
    )


class _Problems:
    """The first problem of each field, in the order checked; the first of all comes first."""

    def __init__(self) -> None:
        self.by_field: dict[str, str] = {}

    def check(
        self, field: str, fallback: T, read: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`read(*args)`, or `fallback` once its problem is noted under `field` (or its own)."""
        try:
            return read(*args, **kwargs)
        except InvalidEnrollment as exc:
            self.by_field.setdefault(exc.field or field, str(exc))
            return fallback

    def raise_any(self) -> None:
        if self.by_field:
            field, message = next(iter(self.by_field.items()))
            raise InvalidEnrollment(message, field, by_field=self.by_field)


def _name(raw: str) -> str:
    name = raw.strip()
    if not name or len(name) > 200:
        raise InvalidEnrollment("name is required (at most 200 characters)")
    return name


def _treatment(raw: str, plans: CarePlans) -> str:
    treatment = raw.strip().lower()
    if not treatment:
        raise InvalidEnrollment(f"treatment is required (one of {', '.join(plans.treatments)})")
    if treatment not in plans.treatments:
        raise InvalidEnrollment(
            f"unknown treatment {raw!r} (choose from {', '.join(plans.treatments)})"
        )
    return treatment


def _language(raw: str | None) -> str | None:
    language = raw.strip().lower() if raw else None
    if language is not None and language not in LANGUAGES:
        raise InvalidEnrollment(f"unknown language {raw!r} (choose en or es)")
    return language


_LABELS: dict[str, str] = {ChannelKind.SMS: "SMS", ChannelKind.EMAIL: "email"}


def require_a_timely_step(
    plan: Plan,
    completed_at: datetime,
    tz: ZoneInfo,
    blocked: Mapping[str, str],
    now: datetime,
    *,
    field: str | None = None,
) -> None:
    """Raise InvalidEnrollment when not one step would still go out on an open channel.

    `blocked` maps each channel that cannot carry messages to why ("no consent to SMS").
    One step still before its deadline is enough: a late entry keeps its timely steps.
    The refusal concerns the consent boxes, or the completion time when it is too late;
    `field` names another field to blame instead.
    """
    open_channels = [channel for channel in CHANNELS if channel not in blocked]
    why_not = " and ".join(blocked.values())
    if not open_channels:
        raise InvalidEnrollment(f"{why_not}: nothing would be sent", field or "consent")
    steps = [step for step in plan.steps if set(step.channels) & set(open_channels)]
    by = " or ".join(_LABELS[channel] for channel in open_channels)
    if not steps:
        raise InvalidEnrollment(
            f"{why_not}, and the {plan.title} plan sends nothing by {by}: nothing would be sent",
            field or "consent",
        )
    deadlines = [step.expires_at(completed_at, tz) for step in steps]
    if any(deadline is None or not is_expired(now, deadline) for deadline in deadlines):
        return
    last = max(deadline for deadline in deadlines if deadline is not None)
    what = f"{by} message" if blocked else "message"
    raise InvalidEnrollment(
        f"every {what} of this plan would already be past its deadline (completed"
        f" {_wall(completed_at, tz)}, the last deadline {_wall(last, tz)}); check the date",
        field or "completed_at",
    )


def _wall(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _zone(name: str | None) -> ZoneInfo | None:
    if not name or not name.strip():
        return None
    try:
        return require_zone(name.strip())
    except ValueError as exc:
        raise InvalidEnrollment(str(exc)) from None


def parse_email(raw: str | None) -> str | None:
    """Lower-case, as opt-outs store and match addresses."""
    if raw is None or not raw.strip():
        return None
    try:
        return normalize_email(raw)
    except ValueError as exc:
        raise InvalidEnrollment(f"email address {raw!r} is not valid: {exc}") from None


def parse_date_of_birth(raw: str | None, now: datetime) -> date | None:
    """YYYY-MM-DD, from 1900 to today: what the care page asks before it shows anything."""
    if raw is None or not raw.strip():
        return None
    try:
        born = date.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidEnrollment(f"date of birth {raw!r} is not a date (YYYY-MM-DD)") from None
    if born > now.date():
        raise InvalidEnrollment(f"date of birth {raw!r} is in the future")
    if born < EARLIEST_BIRTH:
        raise InvalidEnrollment(f"date of birth {raw!r} is before 1900; check the year")
    return born


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)


def parse_completed_at(raw: str, tz: ZoneInfo, now: datetime) -> tuple[datetime, str | None]:
    """'YYYY-MM-DD HH:MM' in the patient's zone, or ISO-8601 with an offset; never the future.

    Returns the moment in UTC and, for a fall-back time that happens twice, a note saying
    which of the two it was taken as. A date alone or a time the clocks skip is refused:
    either would be read as some other moment (midnight, an hour later) without a word.
    """
    given = _read_moment(raw)
    try:
        moment, note = (given, None) if given.tzinfo else _on_wall_clock(raw, given, tz)
        moment = moment.astimezone(UTC)  # compared in UTC: PEP 495 inter-zone comparison is lax
    except OverflowError:  # 9999-12-31 late in the day, west of UTC: past the calendar's end
        raise InvalidEnrollment(f"completion time {raw!r} is in the future") from None
    if moment < EARLIEST:  # the deadlines and the patient's wall clock stay on the calendar
        raise InvalidEnrollment(f"completion time {raw!r} is before 1900: check the date")
    if moment > now:
        raise InvalidEnrollment(f"completion time {raw!r} is in the future")
    return moment, note


def _read_moment(raw: str) -> datetime:
    text = raw.strip()
    if not text:
        raise InvalidEnrollment("completion time is required")
    if _is_date(text):
        example = f"{date.fromisoformat(text)} 14:30"
        raise InvalidEnrollment(
            f"completion time {raw!r} has no time of day: give the time too, e.g. {example!r}"
        )
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEnrollment(
            f"completion time {raw!r} is not 'YYYY-MM-DD HH:MM' (patient-local) or ISO-8601:"
            " type it as 2026-03-10 14:30, with a 24-hour time"
        ) from None


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _on_wall_clock(raw: str, wall: datetime, tz: ZoneInfo) -> tuple[datetime, str | None]:
    """A patient-local time: refused if the clocks skip it, noted if it happens twice."""
    if is_skipped(wall, tz):
        raise InvalidEnrollment(
            f"completion time {raw!r} never happened in {tz.key}: the clocks skip that hour"
            " there (they spring forward that night); check the time"
        )
    first = wall.replace(tzinfo=tz, fold=0)
    if not is_repeated(wall, tz):
        return first, None
    second = wall.replace(tzinfo=tz, fold=1).isoformat(timespec="minutes")
    return first, (
        f"{wall:%Y-%m-%d %H:%M} happens twice in {tz.key} (the clocks go back): taken as"
        f" {first:%H:%M %Z} (the first of the two); for the second, give {second}"
    )


# The readers a patient's details edit shares with enrollment (planning/patient_edit.py).
Problems = _Problems
read_name = _name
read_language = _language
read_zone = _zone
