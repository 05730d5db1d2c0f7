"""`aftercare import`: every row is checked before any is written; one bad row imports nothing."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import typer

from reminders.db import session_scope
from reminders.enrollment import Enrollment, EnrollmentForm, InvalidEnrollment, enroll, validate
from reminders.models import TreatmentSession
from reminders.planner import plan_session
from reminders.runtime import Runtime

REQUIRED = ("name", "phone", "treatment", "completed_at")
OPTIONAL = ("email", "timezone", "language", "no_sms", "no_email")
TRUE, FALSE = {"1", "true", "yes", "y", "x"}, {"", "0", "false", "no", "n"}

RowError = tuple[int, str]


def import_csv(rt: Runtime, path: Path, *, actor: str, now: datetime) -> list[RowError]:
    """Validate the whole file, then enroll every row in one transaction; returns row errors."""
    enrollments, errors = read_enrollments(rt, path, now)
    if errors:
        return errors
    with (
        session_scope(rt.engine) as session,
        typer.progressbar(enrollments, label="Importing", file=None) as rows,
    ):
        for enrollment in rows:
            enrolled = enroll(
                session,
                enrollment,
                plans=rt.plans,
                clinic_tz=rt.settings.timezone,
                actor=actor,
                now=now,
            )
            treatment = session.get_one(TreatmentSession, enrolled.session_id)
            plan_session(session, rt.plans, rt.settings.timezone, treatment, now)
    typer.echo(f"Imported {len(enrollments)} session(s).")
    return []


def read_enrollments(
    rt: Runtime, path: Path, now: datetime
) -> tuple[list[Enrollment], list[RowError]]:
    """Every row checked; each bad one listed with its line, the reading never stopping early."""
    enrollments: list[Enrollment] = []
    errors: list[RowError] = []
    try:
        for line, row in _rows(path):
            try:
                enrollments.append(_validate(rt, row, now))
            except InvalidEnrollment as exc:
                errors.append((line, str(exc)))
    except InvalidEnrollment as exc:  # the header
        errors.append((1, str(exc)))
    except (UnicodeDecodeError, csv.Error) as exc:
        errors.append((1, f"not a UTF-8 CSV file: {exc}"))
    if not enrollments and not errors:
        errors.append((1, "the file has a header but no rows"))
    return enrollments, errors


def _validate(rt: Runtime, row: dict[str, str | None], now: datetime) -> Enrollment:
    if None in row or any(value is None for value in row.values()):
        raise InvalidEnrollment("wrong number of columns")
    settings = rt.settings
    return validate(_form(row), plans=rt.plans, clinic_tz=settings.timezone,
                    region=settings.default_phone_region, now=now)  # fmt: skip


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str | None]]]:
    """Rows with the file line each starts on (the header is line 1)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is not None:  # headers as people type them: Name, " phone "
            reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
        _check_header(reader.fieldnames)
        start = reader.line_num + 1
        for row in reader:
            yield start, row
            start = reader.line_num + 1


def _check_header(fields: Sequence[str] | None) -> None:
    names = set(fields or ())
    missing = [name for name in REQUIRED if name not in names]
    unknown = sorted(names - set(REQUIRED) - set(OPTIONAL))
    if missing or unknown:
        raise InvalidEnrollment(
            f"header: missing {', '.join(missing) or 'nothing'};"
            f" unknown {', '.join(unknown) or 'nothing'}"
            f" (columns: {', '.join(REQUIRED + OPTIONAL)})"
        )


def _form(row: dict[str, str | None]) -> EnrollmentForm:
    return EnrollmentForm(
        name=row["name"] or "",
        phone=row["phone"] or "",
        treatment=row["treatment"] or "",
        completed_at=row["completed_at"] or "",
        email=row.get("email") or None,
        timezone=row.get("timezone") or None,
        language=(row.get("language") or "en").strip(),
        sms=not _flag(row, "no_sms"),
        email_ok=not _flag(row, "no_email"),
    )


def _flag(row: dict[str, str | None], column: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise InvalidEnrollment(f"{column} must be yes or no, not {value!r}")
