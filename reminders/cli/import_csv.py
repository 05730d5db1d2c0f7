"""`aftercare import`: every row is checked before any is written; one bad row imports nothing.

Rows get the rules of `enroll`: a phone number on file under another name is refused unless
the row names the patient in a `patient_id` column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import typer

from reminders.planning.bulk import BulkReport, RowsRefused, enroll_many
from reminders.planning.enrollment import Enrollment, EnrollmentForm, InvalidEnrollment, validate
from reminders.rules.care_plans import CarePlans
from reminders.runtime import Runtime
from reminders.store.db import session_scope

REQUIRED = ("name", "phone", "treatment", "completed_at")
OPTIONAL = ("email", "timezone", "language", "no_sms", "no_email", "patient_id")
TRUE, FALSE = {"1", "true", "yes", "y", "x"}, {"", "0", "false", "no", "n"}

RowError = tuple[int, str]
Row = tuple[int, Enrollment]


def import_csv(rt: Runtime, path: Path, *, actor: str, now: datetime) -> list[RowError]:
    """Validate the whole file, then enroll every row in one transaction; returns row errors.

    Rows that clash with patients on file (a number under another name) are errors too: they
    are found before anything is written, and then nothing is imported. The care plans in
    force are read once, for every row.
    """
    plans = rt.care_plans()
    rows, errors = read_enrollments(rt, plans, path, now)
    if errors:
        return errors
    settings = rt.settings
    with session_scope(rt.engine) as session:
        try:
            report = enroll_many(
                session,
                rows,
                plans,
                clinic_tz=settings.timezone,
                region=settings.default_phone_region,
                actor=actor,
                now=now,
            )
        except RowsRefused as refused:
            session.rollback()
            return refused.errors
    for line, note in report.notes:
        typer.echo(f"line {line}: note: {note}")
    typer.echo(summary(report))
    return []


def summary(report: BulkReport) -> str:
    """'12 sessions: 10 created, 2 replaced, 0 unchanged; 38 messages planned, ...'."""
    sessions = f"{report.sessions} session{_s(report.sessions)}"
    outcomes = f"{report.created} created, {report.replaced} replaced, {report.unchanged} unchanged"
    messages = f"{report.planned} message{_s(report.planned)} planned"
    return (
        f"{sessions}: {outcomes}; {messages}, {report.late} already past their deadline,"
        f" {report.no_address} without an address"
    )


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def read_enrollments(
    rt: Runtime, plans: CarePlans, path: Path, now: datetime
) -> tuple[list[Row], list[RowError]]:
    """Every row checked; each bad one listed with its line, the reading never stopping early."""
    enrollments: list[Row] = []
    errors: list[RowError] = []
    try:
        for line, row in _rows(path):
            try:
                enrollments.append((line, _validate(rt, plans, row, now)))
            except InvalidEnrollment as exc:
                errors.append((line, str(exc)))
    except InvalidEnrollment as exc:  # the header
        errors.append((1, str(exc)))
    except (UnicodeDecodeError, csv.Error) as exc:
        errors.append((1, f"not a UTF-8 CSV file: {exc}"))
    if not enrollments and not errors:
        errors.append((1, "the file has a header but no rows"))
    return enrollments, errors


def _validate(
    rt: Runtime, plans: CarePlans, row: dict[str, str | None], now: datetime
) -> Enrollment:
    if None in row or any(value is None for value in row.values()):
        raise InvalidEnrollment("wrong number of columns")
    settings = rt.settings
    return validate(_form(row), plans=plans, clinic_tz=settings.timezone,
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
        language=(row.get("language") or "").strip() or None,
        sms=not _flag(row, "no_sms"),
        email_ok=not _flag(row, "no_email"),
        patient_id=_patient_id(row),
    )


def _patient_id(row: dict[str, str | None]) -> int | None:
    value = (row.get("patient_id") or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 18):  # '²' and '٣' are not ids
        raise InvalidEnrollment(f"patient_id must be a patient's number, not {value!r}")
    return int(value)


def _flag(row: dict[str, str | None], column: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise InvalidEnrollment(f"{column} must be yes or no, not {value!r}")
