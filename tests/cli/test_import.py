"""`aftercare import` in batches: what each import reports, re-imports that change nothing, and
the planner's rules (replacement, superseded prompts, timelines) across the rows of one file."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.cli.import_csv import import_csv
from reminders.runtime import Runtime
from reminders.store.models import (
    AuditEvent,
    MessageEvent,
    OutboxMessage,
    Patient,
    TreatmentSession,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sessions.csv"
NOW = datetime(2026, 6, 4, 18, 0, tzinfo=UTC)  # 11:00 in Los Angeles, day 3 of the sessions
HEADER = "name,phone,email,treatment,completed_at,language\n"
MARIA = "Maria Lopez,3105550142,maria@example.com,asclera,2026-06-01 10:00,en\n"
ANA = "Ana Ruiz,3105550199,,test-dose,2026-06-01 11:00,es\n"


def run_import(
    runtime: Runtime, path: Path, capsys: pytest.CaptureFixture[str], now: datetime = NOW
) -> str:
    """The import as the command runs it; its output, which must be a success."""
    errors = import_csv(runtime, path, actor="staff", now=now)
    assert errors == []
    return capsys.readouterr().out


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "sessions.csv"
    path.write_text(HEADER + "".join(rows))
    return path


def counts(runtime: Runtime) -> dict[str, int]:
    with Session(runtime.engine) as session:
        return {
            model.__name__: session.exec(select(sa.func.count()).select_from(model)).one()
            for model in (Patient, TreatmentSession, OutboxMessage, MessageEvent, AuditEvent)
        }


def sessions(runtime: Runtime) -> list[TreatmentSession]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(TreatmentSession).order_by(col(TreatmentSession.id))))


def messages(runtime: Runtime, session_id: int) -> dict[tuple[str, str], OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.session_id == session_id)
        return {(m.step, m.channel): m for m in session.exec(query)}


def timeline(runtime: Runtime, message_id: int) -> list[tuple[str | None, str, str | None]]:
    with Session(runtime.engine) as session:
        query = select(MessageEvent).where(MessageEvent.message_id == message_id)
        events = session.exec(query.order_by(col(MessageEvent.id)))
        return [(e.from_status, e.to_status, e.reason) for e in events]


def test_the_example_file_imports_every_row(runtime, capsys):
    now = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    output = run_import(runtime, EXAMPLE, capsys, now)
    rows = EXAMPLE.read_text().splitlines()[1:]
    assert f"{len(rows)} sessions: {len(rows)} created, 0 replaced, 0 unchanged;" in output
    with Session(runtime.engine) as session:
        patients = session.exec(select(Patient)).all()
        treatments = session.exec(select(TreatmentSession.treatment)).all()
    assert {p.language for p in patients} == {"en", "es"}
    assert set(treatments) == set(runtime.default_plans.treatments)
    assert any(p.email is None for p in patients)


def test_a_first_import_reports_what_it_created_and_planned(runtime, capsys, tmp_path):
    output = run_import(runtime, write(tmp_path, MARIA, ANA), capsys)
    # Maria: 11 asclera messages, of which the aftercare pair and the day 1 and 2 reminders
    # are past their deadline on day 3; Ana: the test dose's 2 SMS and 2 emails, no address
    # for the emails, the first pair past its 24 hours.
    assert output.strip() == (
        "2 sessions: 2 created, 0 replaced, 0 unchanged; 15 messages planned,"
        " 6 already past their deadline, 2 without an address"
    )
    assert counts(runtime)["TreatmentSession"] == 2


def test_importing_the_same_file_again_changes_nothing(runtime, capsys, tmp_path):
    path = write(tmp_path, MARIA, ANA)
    run_import(runtime, path, capsys)
    before = counts(runtime)
    output = run_import(runtime, path, capsys)
    assert output.strip() == (
        "2 sessions: 0 created, 0 replaced, 2 unchanged; 0 messages planned,"
        " 0 already past their deadline, 0 without an address"
    )
    assert counts(runtime) == before  # no session, message, timeline entry or audit row more
    assert {s.status for s in sessions(runtime)} == {"completed"}


def test_a_re_import_with_one_row_changed_replaces_that_session(runtime, capsys, tmp_path):
    run_import(runtime, write(tmp_path, MARIA, ANA), capsys)
    corrected = MARIA.replace("2026-06-01 10:00", "2026-06-01 10:30")
    output = run_import(runtime, write(tmp_path, corrected, ANA), capsys)
    assert output.startswith("2 sessions: 0 created, 1 replaced, 1 unchanged; 11 messages planned")
    first, ana, again = sessions(runtime)
    assert (first.status, ana.status, again.status) == ("voided", "completed", "completed")
    assert again.replaces_session_id == first.id
    assert len(messages(runtime, again.id or 0)) == 11  # each step once for the new entry


def test_a_changed_email_is_a_replacement_not_unchanged(runtime, capsys, tmp_path):
    run_import(runtime, write(tmp_path, MARIA), capsys)
    moved = MARIA.replace("maria@example.com", "maria.lopez@example.com")
    output = run_import(runtime, write(tmp_path, moved), capsys)
    assert "note: patient 1 had a different email address on file" in output
    assert "1 session: 0 created, 1 replaced, 0 unchanged;" in output


def test_a_row_repeated_in_one_file_is_entered_once(runtime, capsys, tmp_path):
    output = run_import(runtime, write(tmp_path, MARIA, MARIA), capsys)
    assert "2 sessions: 1 created, 0 replaced, 1 unchanged; 11 messages planned" in output
    assert counts(runtime)["TreatmentSession"] == 1


def test_a_correction_within_the_file_wins_on_every_import(runtime, capsys, tmp_path):
    later = MARIA.replace("10:00", "10:30")
    path = write(tmp_path, MARIA, later)
    assert "1 created, 1 replaced, 0 unchanged" in run_import(runtime, path, capsys)
    run_import(runtime, path, capsys)
    completed = [s for s in sessions(runtime) if s.status == "completed"]
    assert [s.completed_at for s in completed] == [datetime(2026, 6, 1, 17, 30, tzinfo=UTC)]


def test_a_session_replaced_in_the_same_file_leaves_a_full_timeline(runtime, capsys, tmp_path):
    run_import(runtime, write(tmp_path, MARIA, MARIA.replace("10:00", "10:30")), capsys)
    first, second = sessions(runtime)
    old = messages(runtime, first.id or 0)
    assert {m.status for m in old.values()} == {"skipped"}
    assert {m.error_reason for m in old.values()} == {"voided"}
    assert timeline(runtime, old["aftercare", "sms"].id or 0) == [
        (None, "pending", "planned"),
        ("pending", "skipped", "voided"),
    ]
    new = messages(runtime, second.id or 0)
    assert {m.status for m in new.values()} == {"pending"}  # none of the first reached her
    assert timeline(runtime, new["aftercare", "sms"].id or 0) == [(None, "pending", "planned")]


def test_a_treatment_after_a_test_dose_in_one_file_clears_its_booking_prompt(
    runtime, capsys, tmp_path
):
    treatment = ANA.replace("test-dose,2026-06-01 11:00", "asclera,2026-06-03 11:00")
    run_import(runtime, write(tmp_path, ANA, treatment), capsys)
    test_dose, _ = sessions(runtime)
    prompt = messages(runtime, test_dose.id or 0)["check_in", "sms"]
    assert (prompt.status, prompt.error_reason) == ("skipped", "superseded")
    assert timeline(runtime, prompt.id or 0)[-1] == ("pending", "skipped", "superseded")


def test_every_bad_row_is_reported_and_a_big_file_imports_nothing(runtime, tmp_path):
    rows = [
        f"Patient {n},(212) 555-01{n % 100:02d},,laser,2026-06-01 10:00,en\n" for n in range(90)
    ]
    rows[41] = rows[41].replace("laser", "botox")
    rows[77] = rows[77].replace("(212) 555-0177", "555")
    errors = import_csv(runtime, write(tmp_path, *rows), actor="staff", now=NOW)
    assert [line for line, _ in errors] == [43, 79]  # the header is line 1
    assert counts(runtime)["TreatmentSession"] == 0


def test_a_clash_with_a_patient_on_file_imports_nothing_of_the_file(runtime, capsys, tmp_path):
    run_import(runtime, write(tmp_path, MARIA), capsys)
    before = counts(runtime)
    clash = MARIA.replace("Maria Lopez", "Marta Diaz")
    errors = import_csv(runtime, write(tmp_path, ANA, clash), actor="staff", now=NOW)
    assert [line for line, _ in errors] == [3]
    assert "put 1 in a patient_id column" in errors[0][1]
    assert counts(runtime) == before


def test_a_large_import_plans_each_step_once_per_session(runtime, capsys, tmp_path):
    rows = [
        f"Patient {n % 100},(212) 555-01{n % 100:02d},p{n % 100}@example.org,"
        f"{('asclera', 'laser')[n // 100]},2026-06-0{1 + n // 100} 10:00,en\n"
        for n in range(200)
    ]  # 100 patients, each with an asclera session on 1 June and a laser one on 2 June
    output = run_import(runtime, write(tmp_path, *rows), capsys)
    assert output.startswith("200 sessions: 200 created, 0 replaced, 0 unchanged;")
    with Session(runtime.engine) as session:
        keys = session.exec(select(OutboxMessage.session_id, OutboxMessage.step)).all()
        follow_ups = session.exec(
            select(OutboxMessage.plan, OutboxMessage.status, OutboxMessage.error_reason).where(
                OutboxMessage.step == "follow_up"
            )
        ).all()
    per_session = Counter(session_id for session_id, _ in keys)
    assert set(per_session.values()) == {11, 6}  # asclera and laser, every step and channel
    # Each laser session makes its patient's earlier asclera booking prompt moot.
    assert Counter(follow_ups) == {
        ("sclerotherapy", "skipped", "superseded"): 200,
        ("laser", "pending", None): 200,
    }


@pytest.mark.parametrize("patient_id", ["²", "٣", "1٢", "x1", "99999999999999999999"])
def test_a_patient_id_that_is_not_ascii_digits_is_a_row_error(runtime, tmp_path, patient_id):
    path = tmp_path / "sessions.csv"
    path.write_text(HEADER.replace("\n", ",patient_id\n") + MARIA.replace("\n", f",{patient_id}\n"))
    errors = import_csv(runtime, path, actor="staff", now=NOW)
    assert [line for line, _ in errors] == [2]
    assert "patient_id must be a patient's number" in errors[0][1]
    assert counts(runtime)["TreatmentSession"] == 0


def test_a_date_of_birth_column_is_stored_and_a_bad_one_names_its_line(runtime, capsys, tmp_path):
    path = tmp_path / "born.csv"
    path.write_text(
        "name,phone,treatment,completed_at,date_of_birth\n"
        "Maria Lopez,3105550142,asclera,2026-06-01 10:00,1984-03-09\n"
        "Ana Ruiz,3105550199,test-dose,2026-06-01 11:00,\n"
    )
    run_import(runtime, path, capsys)
    with Session(runtime.engine) as session:
        born = dict(session.exec(select(Patient.name, Patient.date_of_birth)).all())
    assert str(born["Maria Lopez"]) == "1984-03-09" and born["Ana Ruiz"] is None
    path.write_text(
        "name,phone,treatment,completed_at,date_of_birth\n"
        "Maria Lopez,3105550142,asclera,2026-06-01 10:00,1884-03-09\n"
    )
    errors = import_csv(runtime, path, actor="staff", now=NOW)
    assert len(errors) == 1 and errors[0][0] == 2 and "before 1900" in errors[0][1]


def test_a_shared_phone_on_file_takes_each_row_to_the_patient_of_its_name(
    runtime, capsys, tmp_path
):
    """Two patients share the number (enrolled with the question answered): an import row
    for either is theirs, not a question; a third name is still asked about."""
    from tests.support.factories import enroll_patient

    at = datetime(2026, 6, 1, 17, 0, tzinfo=UTC)
    maria = enroll_patient(runtime, completed_at=at, now=NOW, phone="+13105550142").patient_id
    sofia = enroll_patient(runtime, completed_at=at, now=NOW, name="Sofia Lopez", email=None,
                           phone="+13105550142", shared_phone=True).patient_id  # fmt: skip
    sofia_row = "Sofia Lopez,3105550142,,laser,2026-06-02 10:00,es\n"
    maria_row = MARIA.replace("2026-06-01 10:00", "2026-06-02 11:00")
    run_import(runtime, write(tmp_path, sofia_row, maria_row), capsys)
    mine = {s.patient_id for s in sessions(runtime) if s.completed_at.day == 2}
    assert mine == {maria, sofia} and counts(runtime)["Patient"] == 2
    third = write(tmp_path, "Ana Lopez,3105550142,,laser,2026-06-02 12:00,es\n")
    [(line, problem)] = import_csv(runtime, third, actor="staff", now=NOW)
    assert line == 2 and "someone else sharing this phone" in problem
