"""How the CLI shows things: tables for people, JSON for scripts. Times print patient-local."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reminders.rules.lifecycle import Status
from reminders.rules.timing import local_day_bounds, zone_or

if TYPE_CHECKING:  # a listing loads neither enrollment nor the dispatcher (tests/cli)
    from rich.console import Console
    from rich.table import Table

    from reminders.planning.enrollment import Enrolled
    from reminders.planning.planner import PlanReport
    from reminders.rules.care_plans import CarePlans
    from reminders.rules.send_plan import Expected
    from reminders.sending.dispatcher import DispatchReport
    from reminders.store.models import OutboxMessage
    from reminders.store.queries import ListedReply, MessagePage


@cache
def console() -> Console:
    """Where tables go; rich is loaded by the commands that print one (`status` does not)."""
    from rich.console import Console

    # Off a terminal (pipes, CI logs) rich would wrap at 80 columns; COLUMNS still wins.
    return Console(highlight=False, width=shutil.get_terminal_size((160, 24)).columns)


def table(title: str) -> Table:
    from rich.table import Table

    return Table(title=title, title_justify="left", box=None, pad_edge=False)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local(moment: datetime | None, tz: ZoneInfo, *, zone: bool = True) -> str:
    fmt = "%a %Y-%m-%d %H:%M %Z" if zone else "%Y-%m-%d %H:%M"
    return "" if moment is None else moment.astimezone(tz).strftime(fmt)


def parse_moment(raw: str, tz: ZoneInfo) -> datetime | None:
    """ISO-8601; without an offset it is read as clinic time, as staff would mean it."""
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)


def parse_before(raw: str, tz: ZoneInfo) -> datetime | None:
    """The exclusive upper bound `--until` means: a date alone takes in that whole local day."""
    moment = parse_moment(raw, tz)
    if moment is None or not _is_date(raw):
        return moment
    return local_day_bounds(moment, tz)[1]


def _is_date(raw: str) -> bool:
    try:
        date.fromisoformat(raw.strip())
    except ValueError:
        return False
    return True


def normalize_address(raw: str, region: str) -> str | None:
    from reminders.planning.validation import InvalidEnrollment, parse_email, parse_phone

    try:
        return parse_email(raw) if "@" in raw else parse_phone(raw, region)
    except InvalidEnrollment:
        return None


def message_json(row: OutboxMessage, expected: Expected | None = None) -> dict[str, object]:
    """A message for scripts. `expected`: the send plan's forecast of a planned SMS, which
    gives `expected_send_at` (null when it cannot go before its deadline: `too_late`) and
    `combined_into` (the message whose text will carry it; for a combined one, the one that
    did)."""
    pending = row.status == Status.PENDING
    if expected is not None:
        at, combined, too_late = expected.at, expected.combined_into, expected.at is None
    else:
        at, combined, too_late = (row.due_at if pending else None), row.combined_into_id, False
    return {
        "id": row.id,
        "session_id": row.session_id,
        "patient_id": row.patient_id,
        "plan": row.plan,
        "step": row.step,
        "channel": row.channel,
        "status": row.status,
        "due_at": iso(row.due_at),
        "sent_at": iso(row.sent_at),
        "not_after": iso(row.not_after),
        "attempts": row.attempts,
        "error": _error(row),
        "provider_id": row.provider_id,
        "template_version": row.template_version,
        "subject": row.subject,
        "body": row.body,
        "expected_send_at": iso(at),
        "combined_into": combined,
        "too_late": too_late,
    }


def _error(row: OutboxMessage) -> str | None:
    if row.error_code and row.error_reason:
        return f"{row.error_code}: {row.error_reason}"
    return row.error_reason or row.error_code


def enrolled_json(
    enrolled: Enrolled,
    rows: Sequence[OutboxMessage],
    warnings: Sequence[str],
    expected: Mapping[int, Expected] | None = None,
) -> dict[str, object]:
    forecast = expected or {}
    return {
        "session_id": enrolled.session_id,
        "patient_id": enrolled.patient_id,
        "replaced_session_id": enrolled.replaced_session_id,
        "messages": [message_json(row, forecast.get(row.id or 0)) for row in rows],
        "warnings": list(warnings),
    }


def print_enrolled(
    enrolled: Enrolled,
    rows: Sequence[OutboxMessage],
    clinic_tz: ZoneInfo,
    zone: str | None,
    warnings: Sequence[str],
    expected: Mapping[int, Expected] | None = None,
) -> None:
    """The session's messages; a planned SMS at the time the send plan expects it to go."""
    tz = zone_or(zone, clinic_tz)
    console().print(f"Enrolled session {enrolled.session_id} for patient {enrolled.patient_id}.")
    if enrolled.replaced_session_id:
        console().print(f"It replaces session {enrolled.replaced_session_id}, now voided.")
    _print_message_table([(row, tz) for row in rows], f"Times in {tz.key}", expected or {})
    for warning in warnings:
        console().print(f"Note: {warning}.")


def print_messages(rows: Sequence[OutboxMessage], tz: ZoneInfo) -> None:
    """One patient's messages, all in the zone named in the title."""
    _print_message_table([(row, tz) for row in rows], f"Times in {tz.key}")


def print_message_page(page: MessagePage, clinic_tz: ZoneInfo, plans: CarePlans) -> None:
    """Each row in its patient's own zone: a 09:00 text to New York reads 09:00 EST; each step
    as staff read it ("Day 1 restrictions"; `--json` keeps the step's name for scripts)."""
    title = f"Times are patient-local ({clinic_tz.key} where none is on file)"
    pairs = [(row.message, zone_or(row.patient_timezone, clinic_tz)) for row in page.rows]
    _print_message_table(pairs, title, words=plans.step_words)
    if len(page.rows) < page.total:
        console().print(
            f"Showing {len(page.rows)} of {page.total} messages; "
            "raise --limit or narrow with --since/--until."
        )
    if page.hidden:
        hidden = f"{page.hidden} message(s) of replaced sessions not shown; --all shows them."
        console().print(hidden)


def _print_message_table(
    rows: Sequence[tuple[OutboxMessage, ZoneInfo]],
    title: str,
    expected: Mapping[int, Expected] | None = None,
    *,
    words: Callable[[str, str], str] | None = None,
) -> None:
    """`words(plan, step)`: the step as staff read it; its code name without."""
    if not rows:
        console().print("No messages.")
        return
    shown = table(title)
    for header in ("id", "session", "step", "channel", "status", "when"):
        shown.add_column(header, no_wrap=True)
    shown.add_column("error", overflow="fold")
    for row, tz in rows:
        # one time column keeps a row narrow: when it went, or else when it is due
        when = (row.sent_at or row.due_at).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        forecast = (expected or {}).get(row.id or 0)
        if forecast is not None:
            when = _expected_words(forecast, tz)
        shown.add_row(
            str(row.id),
            str(row.session_id or "-"),  # "-": a page about a number no patient has
            words(row.plan, row.step) if words else row.step,
            row.channel,
            row.status,
            when,
            _error(row) or "",
        )
    console().print(shown)


def _expected_words(expected: Expected, tz: ZoneInfo) -> str:
    """When the send plan expects a planned SMS to go, and how."""
    if expected.at is None:
        return "cannot go before its deadline"
    when = expected.at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
    carrier = expected.combined_into
    return when if carrier is None else f"{when}, inside #{carrier}"


def print_tick(moment: datetime, tz: ZoneInfo, planned: PlanReport, report: DispatchReport) -> None:
    from reminders.sending.dispatch_results import DispatchResult as R

    console().print(
        f"As of {local(moment, tz)}: planned {planned.messages} message(s) for "
        f"{planned.sessions} session(s); sent {report.count(R.SENT)}, "
        f"deferred {report.count(R.DEFERRED)}, skipped {report.count(R.SKIPPED)}, "
        f"failed {report.count(R.FAILED)}, retrying {report.count(R.RETRY)}."
    )
    for outcome in report.outcomes:
        when = f" until {local(outcome.at, tz)}" if outcome.result in (R.DEFERRED, R.RETRY) else ""
        # a lease lost before its row was read has no step or channel to show
        what = " ".join(p for p in (f"#{outcome.message_id}", outcome.step, outcome.channel) if p)
        console().print(f"  {outcome.result:<9} {what} {outcome.detail}{when}".rstrip())


def reply_json(row: ListedReply) -> dict[str, object]:
    reply = row.reply
    return {
        "id": reply.id,
        "patient_id": reply.patient_id,
        "patient_name": row.patient_name,
        "from": reply.from_address,
        "received_at": iso(reply.received_at),
        "urgent": reply.urgent,
        "handled_at": iso(reply.read_at),
        "handled_by": reply.read_by,
        "body": reply.body,
    }


def print_replies(rows: Sequence[ListedReply], tz: ZoneInfo) -> None:
    if not rows:
        console().print("No replies.")
        return
    shown = table(f"Times in {tz.key}")
    for header in ("id", "from", "received", "urgent", "handled", "text"):
        shown.add_column(header, overflow="fold")
    for row in rows:
        reply = row.reply
        handled = f"{reply.read_by}, {local(reply.read_at, tz, zone=False)}"
        shown.add_row(
            str(reply.id),
            sender(row),
            local(reply.received_at, tz, zone=False),
            "URGENT" if reply.urgent else "",
            handled if reply.read_at else "",
            reply.body,
        )
    console().print(shown)


def sender(row: ListedReply) -> str:
    """Who wrote, with the number masked: the name staff know, or the number alone."""
    from reminders.rules.masking import mask_phone  # phonenumbers: only a listing of replies

    masked = mask_phone(row.reply.from_address)
    return f"{row.patient_name} {masked}" if row.patient_name else f"{masked} (no patient)"
