"""`aftercare import`: every row is checked before any is written; one bad row imports nothing.

Rows get the rules of `enroll`: a phone number on file under another name is refused unless
the row names the patient in a `patient_id` column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from reminders.planning.enroll_patient import Desk, enroll_rows
from reminders.planning.validation import EnrollmentForm, InvalidEnrollment
from reminders.store.db import session_scope

if TYPE_CHECKING:
    from reminders.planning.bulk import BulkReport
    from reminders.runtime import Runtime

REQUIRED = ("name", "phone", "treatment", "completed_at")
OPTIONAL = ("email", "timezone", "language", "no_sms", "no_email", "patient_id", "date_of_birth")
TRUE, FALSE = {"1", "true", "yes", "y", "x"}, {"", "0", "false", "no", "n"}

RowError = tuple[int, str]
ReadRow = tuple[int, EnrollmentForm | InvalidEnrollment]


def import_csv(rt: Runtime, path: Path, *, actor: str, now: datetime) -> list[RowError]:
    """Validate the whole file, then enroll every row in one transaction; returns row errors.

    Rows that clash with patients on file (a number under another name) are errors too: they
    are found before anything is written, and then nothing is imported. The care plans in
    force are read once, for every row.
    """
    rows = read_rows(path)
    settings = rt.settings
    desk = Desk(rt.default_plans, settings.timezone, settings.default_phone_region)
    with session_scope(rt.engine) as session:
        result = enroll_rows(session, rows, desk, actor=actor, now=now)
        if result.report is None:
            session.rollback()
            return result.problems
    for line, note in result.report.notes:
        typer.echo(f"line {line}: note: {note}")
    typer.echo(summary(result.report))
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


def read_rows(path: Path) -> list[ReadRow]:
    """Every row as a form, or as what is wrong with it; a file that cannot be read (its
    header, its encoding) is a problem on line 1, after the rows read until then."""
    rows: list[ReadRow] = []
    try:
        for line, row in _rows(path):
            rows.append((line, _read(row)))
    except InvalidEnrollment as exc:  # the header
        rows.append((1, exc))
    except (UnicodeDecodeError, csv.Error) as exc:
        rows.append((1, InvalidEnrollment(f"not a UTF-8 CSV file: {exc}")))
    if not rows:
        rows.append((1, InvalidEnrollment("the file has a header but no rows")))
    return rows


def _read(row: dict[str, str | None]) -> EnrollmentForm | InvalidEnrollment:
    try:
        if None in row or any(value is None for value in row.values()):
            raise InvalidEnrollment("wrong number of columns")
        return _form(row)
    except InvalidEnrollment as exc:
        return exc


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
        date_of_birth=(row.get("date_of_birth") or "").strip() or None,
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
