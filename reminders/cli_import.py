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
    enrollments: list[Enrollment] = []
    errors: list[RowError] = []
    try:
        for line, row in _rows(path):
            try:
                enrollments.append(
                    validate(
                        _form(row),
                        plans=rt.plans,
                        clinic_tz=rt.settings.timezone,
                        region=rt.settings.default_phone_region,
                        now=now,
                    )
                )
            except InvalidEnrollment as exc:
                errors.append((line, str(exc)))
    except (InvalidEnrollment, UnicodeDecodeError, csv.Error) as exc:
        errors.append((1, str(exc)))
    return enrollments, errors


def _rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows with the file line each starts on (the header is line 1)."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        _check_header(reader.fieldnames)
        start = reader.line_num + 1
        for row in reader:
            if None in row or any(value is None for value in row.values()):
                raise InvalidEnrollment(f"line {start}: wrong number of columns")
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


def _form(row: dict[str, str]) -> EnrollmentForm:
    return EnrollmentForm(
        name=row["name"],
        phone=row["phone"],
        treatment=row["treatment"],
        completed_at=row["completed_at"],
        email=row.get("email") or None,
        timezone=row.get("timezone") or None,
        language=(row.get("language") or "en").strip(),
        sms=not _flag(row, "no_sms"),
        email_ok=not _flag(row, "no_email"),
    )


def _flag(row: dict[str, str], column: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise InvalidEnrollment(f"{column} must be yes or no, not {value!r}")
