"""The `aftercare` command as staff and scripts use it: enroll, replay with tick --now, inspect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from reminders.cli.app import app
from tests.support.cli import Aftercare


def replay(aftercare: Aftercare, moments: list[str]) -> dict[str, list[tuple[str, str]]]:
    """tick --now at each moment; what was delivered at each, as (step, channel)."""
    sent: dict[str, list[tuple[str, str]]] = {}
    for moment in moments:
        before = len(aftercare.delivered())
        aftercare("tick", "--now", moment)
        sent[moment] = sorted((d["step"], d["channel"]) for d in aftercare.delivered()[before:])
    return sent


def test_asclera_plan_replayed_over_six_weeks(aftercare):
    aftercare.now = datetime(2026, 10, 29, 22, 1, tzinfo=UTC)  # 15:01 in Los Angeles
    enrolled = aftercare.json(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "(310) 555-0142",
        "--email",
        "maria@example.com",
        "--treatment",
        "asclera",
        "--completed-at",
        "2026-10-29 15:00",
    )
    assert len(enrolled["messages"]) == 11
    sent = replay(
        aftercare,
        [
            "2026-10-29T15:05",
            "2026-10-29T23:00",
            "2026-10-30T08:59",
            "2026-10-30T09:00",
            "2026-10-30T13:00",
            "2026-10-31T09:00",
            "2026-11-01T01:30",
            "2026-11-01T09:00",  # the night clocks go back, and that morning
            "2026-11-04T10:00",
            "2026-11-05T10:00",
            "2026-11-19T10:00",
            "2026-12-10T10:00",
        ],
    )
    assert sent == {
        "2026-10-29T15:05": [("aftercare", "email"), ("aftercare", "sms")],
        "2026-10-29T23:00": [],
        "2026-10-30T08:59": [],
        "2026-10-30T09:00": [("restriction_day_1", "sms")],
        "2026-10-30T13:00": [],
        "2026-10-31T09:00": [("restriction_day_2", "sms")],
        "2026-11-01T01:30": [],
        "2026-11-01T09:00": [("restrictions_over", "sms")],
        "2026-11-04T10:00": [],
        "2026-11-05T10:00": [("what_is_normal", "email"), ("what_is_normal", "sms")],
        "2026-11-19T10:00": [("results_timeline", "email"), ("results_timeline", "sms")],
        "2026-12-10T10:00": [("follow_up", "email"), ("follow_up", "sms")],
    }
    over = next(d for d in aftercare.delivered() if d["step"] == "restrictions_over")
    assert over["sent_at"] == "2026-11-01T17:00:00+00:00"  # 09:00 PST, after the DST change
    rows = aftercare.json("messages", "--session", str(enrolled["session_id"]))
    assert {r["status"] for r in rows} == {"sent"}
    assert all(r["body"] and r["provider_id"] for r in rows)


def test_test_dose_plan_replayed_then_the_treatment_clears_the_prompt(aftercare):
    aftercare(
        "enroll",
        "--name",
        "Ana Ruiz",
        "--phone",
        "+1 310 555 0199",
        "--treatment",
        "test-dose",
        "--completed-at",
        "2026-06-01 18:30",
        "--language",
        "es",
    )
    sent = replay(aftercare, ["2026-06-01T18:31", "2026-06-08T09:59", "2026-06-08T10:00"])
    assert sent == {
        "2026-06-01T18:31": [("watch_for_reaction", "sms")],
        "2026-06-08T09:59": [],
        "2026-06-08T10:00": [("check_in", "sms")],
    }
    watch = aftercare.delivered()[0]
    assert "911" in watch["body"] and "STOP" in watch["body"]
    assert "Le escribe" in watch["body"] or "Responda" in watch["body"]  # Spanish


def test_enrolling_the_treatment_skips_a_pending_check_in(aftercare):
    aftercare(
        "enroll",
        "--name",
        "Ana Ruiz",
        "--phone",
        "3105550199",
        "--treatment",
        "test-dose",
        "--completed-at",
        "2026-06-01 10:00",
    )
    aftercare(
        "enroll",
        "--name",
        "Ana Ruiz",
        "--phone",
        "3105550199",
        "--treatment",
        "asclera",
        "--completed-at",
        "2026-06-05 10:00",
    )
    check_in = [r for r in aftercare.json("messages") if r["step"] == "check_in"]
    assert {(r["status"], r["error"]) for r in check_in} == {("skipped", "superseded")}


def test_sms_at_night_is_held_until_the_window_opens(aftercare):
    aftercare(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "3105550142",
        "--treatment",
        "laser",
        "--completed-at",
        "2026-06-01 20:30",
        "--no-email",
    )
    assert replay(aftercare, ["2026-06-01T20:31", "2026-06-02T08:00", "2026-06-02T09:00"]) == {
        "2026-06-01T20:31": [],
        "2026-06-02T08:00": [],
        "2026-06-02T09:00": [("aftercare", "sms")],
    }
    email = next(r for r in aftercare.json("messages") if r["channel"] == "email")
    assert (email["status"], email["error"]) == ("skipped", "no_consent")


def test_messages_json_has_the_documented_fields(aftercare):
    aftercare(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "3105550142",
        "--treatment",
        "sts",
        "--completed-at",
        "2026-06-01 10:00",
    )
    aftercare("tick", "--now", "2026-06-01T10:01")
    rows = aftercare.json("messages", "--status", "sent")
    assert [(r["step"], r["channel"]) for r in rows] == [("aftercare", "sms")]
    for field in (
        "id",
        "session_id",
        "step",
        "channel",
        "status",
        "due_at",
        "sent_at",
        "not_after",
        "attempts",
        "error",
        "provider_id",
        "body",
    ):
        assert field in rows[0]
    assert rows[0]["due_at"] == "2026-06-01T17:00:00Z"
    assert rows[0]["sent_at"] == "2026-06-01T17:01:00Z"


def test_void_skips_what_is_pending(aftercare):
    enrolled = aftercare.json(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "3105550142",
        "--treatment",
        "asclera",
        "--completed-at",
        "2026-06-01 10:00",
    )
    assert "11 pending message(s) skipped" in aftercare("void", str(enrolled["session_id"]))
    assert "already voided" in aftercare("void", str(enrolled["session_id"]))
    assert {r["error"] for r in aftercare.json("messages")} == {"voided"}
    aftercare("void", "999", ok=False)


def test_restore_session_undoes_a_void_for_24_hours(aftercare):
    enrolled = aftercare.json(
        "enroll", "--name", "Maria Lopez", "--phone", "3105550142", "--treatment", "asclera",
        "--completed-at", "2026-06-16 04:00",
    )  # fmt: skip
    session_id = str(enrolled["session_id"])
    aftercare("void", session_id)
    restored = aftercare("restore-session", session_id)
    assert f"Restored session {session_id}; 11 message(s) pending again." in restored
    assert {r["status"] for r in aftercare.json("messages")} == {"pending"}
    assert "is not voided" in aftercare.result("restore-session", session_id).output
    aftercare("void", session_id)
    aftercare.now += timedelta(hours=25)
    late = aftercare.result("restore-session", session_id)
    assert late.exit_code == 1
    assert "cannot restore: session" in late.output and "more than 24 hours ago" in late.output
    aftercare("restore-session", "999", ok=False)


def test_opt_out_stops_sms_and_opt_in_resumes(aftercare):
    aftercare(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "3105550142",
        "--treatment",
        "asclera",
        "--completed-at",
        "2026-06-01 10:00",
        "--email",
        "maria@example.com",
    )
    assert "Opted out; 7 pending message(s) skipped." in aftercare("opt-out", "(310) 555-0142")
    assert "Opted out; 0 pending message(s) skipped." in aftercare("opt-out", "+13105550142")
    aftercare("tick", "--now", "2026-06-01T10:01")
    sms = [r for r in aftercare.json("messages") if r["step"] == "aftercare"]
    assert {(r["channel"], r["status"]) for r in sms} == {("sms", "skipped"), ("email", "sent")}
    aftercare.now = datetime(2026, 8, 11, 12, 0, tzinfo=UTC)
    # in August the June messages are all past their deadlines: none comes back
    assert "Opted back in; 0 skipped message(s) pending again." in aftercare(
        "opt-in", "+13105550142"
    )
    assert "There was no opt-out" in aftercare("opt-in", "+13105550142")
    aftercare("opt-out", "not-a-number", ok=False)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--phone", "555"], "phone number '555' is not a valid number"),
        (["--phone", "+1 (310) 555-01-42-99-88-77"], "is not a valid number"),
        (["--phone", "++--"], "cannot be read"),
        (["--timezone", "Mars/Olympus"], "'Mars/Olympus' is not a time zone"),
        (["--completed-at", "2999-01-01 10:00"], "is in the future"),
        (["--completed-at", "yesterday"], "is not 'YYYY-MM-DD HH:MM'"),
        (["--treatment", "botox"], "unknown treatment 'botox'"),
        (["--email", "maria@"], "email address 'maria@' is not valid"),
        (["--language", "fr"], "unknown language 'fr'"),
        (["--date-of-birth", "2999-01-01"], "date of birth '2999-01-01' is in the future"),
        (["--date-of-birth", "09/03/1984"], "is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_enrollment_input_exits_with_one_line_and_writes_nothing(aftercare, args, reason):
    base = {
        "--name": "Maria Lopez",
        "--phone": "3105550142",
        "--treatment": "asclera",
        "--completed-at": "2026-06-01 10:00",
    }
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [part for key, value in (base | given).items() for part in (key, value)]
    result = aftercare.runner.invoke(app, ["enroll", *argv], env=aftercare.env)
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert reason in result.stderr
    assert aftercare.json("messages") == []


def test_tick_rejects_a_moment_it_cannot_read(aftercare):
    aftercare("tick", "--now", "soon", ok=False)


def test_init_is_safe_to_run_again(aftercare):
    assert "0 template(s) loaded" in aftercare("init")


def test_templates_list_and_preview(aftercare):
    listing = aftercare("templates", "list")
    assert "restriction_day_1" in listing and "database v1" in listing
    pages = [line for line in listing.splitlines() if "care_page" in line]
    assert len(pages) == 6 and all("database v1" in line for line in pages)  # 3 plans x en, es
    preview = aftercare("templates", "preview", "restriction_day_1")
    assert "Fine Touch Dermatology" in preview and "GSM-7" in preview
    email = aftercare("templates", "preview", "laser/aftercare", "--channel", "email")
    assert "Subject:" in email and "<html" in email.lower()
    assert "several plans" in aftercare("templates", "preview", "aftercare", ok=False)
    assert "answers" in listing and "opt_out" in listing  # the automatic answers too
    answer = aftercare("templates", "preview", "answers/help", "--language", "es")
    assert "Mensajes de cuidado de Fine Touch Dermatology" in answer and "1 segment(s)" in answer
    assert "no automatic answer" in aftercare("templates", "preview", "answers/bye", ok=False)


def test_bad_settings_are_reported_by_name(aftercare):
    aftercare.env |= {"SEND_WINDOW_START": "25:00", "CLINIC_TIMEZONE": "Nowhere/Land"}
    result = aftercare.runner.invoke(app, ["messages"], env=aftercare.env)
    assert result.exit_code == 2
    assert "SEND_WINDOW_START" in result.stderr and "CLINIC_TIMEZONE" in result.stderr


def test_import_enrolls_every_row_of_a_good_file(aftercare, tmp_path):
    csv_file = tmp_path / "sessions.csv"
    csv_file.write_text(
        "name,phone,email,treatment,completed_at,timezone,language,no_sms,no_email\n"
        "Maria Lopez,3105550142,maria@example.com,asclera,2026-06-01 10:00,,en,,\n"
        "Ana Ruiz,3105550199,,test-dose,2026-06-01 11:00,America/New_York,es,,yes\n"
    )
    assert "2 sessions: 2 created, 0 replaced, 0 unchanged;" in aftercare("import", str(csv_file))
    assert len(aftercare.json("messages")) == 11 + 4


def test_import_with_a_bad_row_imports_nothing_and_lists_each_bad_line(aftercare, tmp_path):
    csv_file = tmp_path / "sessions.csv"
    csv_file.write_text(
        "name,phone,treatment,completed_at\n"
        "Maria Lopez,3105550142,asclera,2026-06-01 10:00\n"
        'Ana "Ani" Ruiz,555,asclera,2026-06-01 10:00\n'
        '"Multi\nLine",3105550177,laser,2026-06-01 10:00\n'
        "Bo Lee,3105550188,botox,2026-06-01 10:00\n"
    )
    result = aftercare.runner.invoke(app, ["import", str(csv_file)], env=aftercare.env)
    assert result.exit_code == 1
    assert "line 3: phone number '555' is not a valid number" in result.stderr
    assert "line 6: unknown treatment 'botox'" in result.stderr  # the header is line 1
    assert "nothing was imported" in result.stderr
    assert aftercare.json("messages") == []


def test_import_rejects_a_file_with_unknown_columns(aftercare, tmp_path):
    csv_file = tmp_path / "sessions.csv"
    csv_file.write_text("name,phone,treatment,completed,colour\nMaria,3105550142,laser,x,red\n")
    result = aftercare.runner.invoke(app, ["import", str(csv_file)], env=aftercare.env)
    assert result.exit_code == 1
    assert "line 1: header: missing completed_at" in result.stderr


def test_enroll_prints_planned_local_times(aftercare):
    output = aftercare(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "3105550142",
        "--treatment",
        "asclera",
        "--completed-at",
        "2026-06-01 10:00",
    )
    assert "Enrolled session 1 for patient 1." in output
    assert "America/Los_Angeles" in output and "2026-06-02 09:00" in output


def test_an_existing_patient_is_reused_by_phone(aftercare):
    first = aftercare.json(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "3105550142",
        "--treatment",
        "test-dose",
        "--completed-at",
        "2026-06-01 10:00",
    )
    second = aftercare.json(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "+13105550142",
        "--treatment",
        "asclera",
        "--completed-at",
        "2026-06-08 10:00",
    )
    assert first["patient_id"] == second["patient_id"]
    assert first["session_id"] != second["session_id"]


def test_completed_at_with_an_offset_is_taken_as_given(aftercare):
    enrolled = aftercare.json(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "3105550142",
        "--treatment",
        "laser",
        "--completed-at",
        "2026-06-01T17:00:00+00:00",
    )
    aftercare_row = next(m for m in enrolled["messages"] if m["step"] == "aftercare")
    assert aftercare_row["due_at"] == "2026-06-01T17:00:00Z"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--timezone", "America"], "'America' is not a time zone"),
        (["--timezone", "EST"], "'EST' is not a time zone"),  # no daylight saving: an hour off
        (["--phone", "310-555-CALL"], "has letters"),
    ],
)
def test_zone_folders_legacy_zones_and_vanity_numbers_are_refused(aftercare, args, reason):
    base = ["--name", "Maria Lopez", "--treatment", "laser", "--completed-at", "2026-06-01 10:00"]
    if "--phone" not in args:
        base += ["--phone", "3105550142"]
    result = aftercare.runner.invoke(app, ["enroll", *base, *args], env=aftercare.env)
    assert result.exit_code == 1 and reason in result.stderr
    assert "Traceback" not in result.output


def test_enroll_warns_about_messages_that_will_not_go(aftercare):
    aftercare("opt-out", "3105550142")
    enrolled = aftercare.json(
        "enroll",
        "--name",
        "Maria Lopez",
        "--phone",
        "3105550142",
        "--treatment",
        "asclera",
        "--completed-at",
        "2026-06-01 10:00",
    )
    warnings = " | ".join(enrolled["warnings"])
    assert "no email address" in warnings
    assert "this number has opted out" in warnings
    assert "already past their deadline" in warnings


def test_replies_lists_what_patients_wrote_back(aftercare, database_url):
    import sqlalchemy as sa

    assert "No replies." in aftercare("replies")
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO reply (from_address, body, urgent, received_at)"
                " VALUES ('+13105550142', 'my throat is swelling', true, :at)"
            ),
            {"at": "2026-06-01 18:00:00"},
        )
    engine.dispose()
    [reply] = aftercare.json("replies", "--urgent")
    assert (reply["body"], reply["urgent"]) == ("my throat is swelling", True)
    assert "URGENT" in aftercare("replies")


def test_commands_on_a_database_never_initialised_say_to_run_init(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    result = CliRunner().invoke(app, ["messages"], env=env)
    assert result.exit_code == 1
    assert "run `aftercare init` first" in result.stderr
    assert not (tmp_path / "fresh.db").exists()  # no empty file left behind


def test_import_reports_every_bad_row_even_with_wrong_column_counts(aftercare, tmp_path):
    csv_file = tmp_path / "sessions.csv"
    csv_file.write_text(
        " Name ,PHONE,treatment,completed_at\n"
        "Maria Lopez,3105550142,asclera,2026-06-01 10:00,extra\n"
        "Ana Ruiz,555,asclera,2026-06-01 10:00\n"
        "Bo Lee,3105550188,laser\n"
    )
    result = aftercare.runner.invoke(app, ["import", str(csv_file)], env=aftercare.env)
    assert result.exit_code == 1
    assert "line 2: wrong number of columns" in result.stderr
    assert "line 3: phone number '555' is not a valid number" in result.stderr
    assert "line 4: wrong number of columns" in result.stderr


def test_import_of_a_file_with_no_rows_is_an_error(aftercare, tmp_path):
    csv_file = tmp_path / "sessions.csv"
    csv_file.write_text("name,phone,treatment,completed_at\n")
    result = aftercare.runner.invoke(app, ["import", str(csv_file)], env=aftercare.env)
    assert result.exit_code == 1 and "no rows" in result.stderr


# -- one phone, one patient: no silent takeover (F14) ----------------------------------------

MARIA = ["enroll", "--name", "Maria Lopez", "--phone", "3105550142", "--treatment", "asclera"]


def audit(database_url: str, action: str) -> list[tuple[int | None, str | None]]:
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        found = connection.execute(
            sa.text("SELECT entity_id, detail FROM audit_event WHERE action = :a ORDER BY id"),
            {"a": action},
        ).all()
    engine.dispose()
    return [(row[0], row[1]) for row in found]


def test_another_name_on_a_known_phone_is_refused_and_the_patient_left_alone(aftercare):
    maria = aftercare.json(
        *MARIA, "--email", "maria@example.com", "--completed-at", "2026-06-01 10:00"
    )
    result = aftercare.runner.invoke(
        app,
        [
            "enroll",
            "--name",
            "Ana Lopez",
            "--phone",
            "+13105550142",
            "--treatment",
            "asclera",
            "--email",
            "ana@example.com",
            "--completed-at",
            "2026-06-01 11:00",
        ],
        env=aftercare.env,
    )
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "belongs to another patient (patient 1" in result.stderr
    assert "if it is the same person, add --patient 1" in result.stderr
    rows = aftercare.json("messages")
    assert {r["session_id"] for r in rows} == {maria["session_id"]}  # no new session
    assert {r["status"] for r in rows} == {"pending"}  # Maria's session not voided
    aftercare("tick", "--now", "2026-06-01T11:05")
    email = next(d for d in aftercare.delivered() if d["channel"] == "email")
    assert email["to"] == "maria@example.com"


def test_names_match_whatever_the_case_spacing_or_accents(aftercare):
    first = aftercare.json(*MARIA, "--completed-at", "2026-06-01 10:00")
    again = aftercare.json(
        "enroll",
        "--name",
        "  maría   LÓPEZ ",
        "--phone",
        "3105550142",
        "--treatment",
        "laser",
        "--completed-at",
        "2026-06-08 10:00",
    )
    assert again["patient_id"] == first["patient_id"]
    assert not any("name on file" in warning for warning in again["warnings"])


def test_patient_option_enrolls_for_that_patient_and_corrects_the_name(aftercare, database_url):
    aftercare.json(*MARIA, "--completed-at", "2026-06-01 10:00")
    enrolled = aftercare.json(
        "enroll",
        "--patient",
        "1",
        "--name",
        "Maria Lopez Ruiz",
        "--phone",
        "3105550142",
        "--treatment",
        "laser",
        "--completed-at",
        "2026-06-08 10:00",
    )
    assert enrolled["patient_id"] == 1
    assert "patient 1's name on file was corrected to the one given" in enrolled["warnings"]
    assert (1, "changed: name") in audit(database_url, "patient_update")
    aftercare("tick", "--now", "2026-06-08T10:01")
    assert any("Maria" in d["body"] for d in aftercare.delivered())


@pytest.mark.parametrize(
    ("patient", "phone", "reason"),
    [
        ("7", "3105550142", "there is no patient 7"),
        ("2", "3105550142", "phone number +13105550142 belongs to patient 1, not patient 2"),
    ],
)
def test_patient_option_refuses_an_unknown_patient_or_anothers_phone(
    aftercare, patient, phone, reason
):
    aftercare(*MARIA, "--completed-at", "2026-06-01 10:00")
    aftercare(
        "enroll",
        "--name",
        "Bo Lee",
        "--phone",
        "3105550188",
        "--treatment",
        "laser",
        "--completed-at",
        "2026-06-01 10:00",
    )
    before = aftercare.json("messages")
    result = aftercare.runner.invoke(
        app,
        [
            "enroll",
            "--patient",
            patient,
            "--name",
            "Bo Lee",
            "--phone",
            phone,
            "--treatment",
            "laser",
            "--completed-at",
            "2026-06-02 10:00",
        ],
        env=aftercare.env,
    )
    assert result.exit_code == 1 and reason in result.stderr
    assert aftercare.json("messages") == before


def test_a_different_email_is_replaced_with_a_warning_and_audited(aftercare, database_url):
    aftercare(*MARIA, "--email", "maria@example.com", "--completed-at", "2026-06-01 10:00")
    output = aftercare(
        *MARIA, "--email", "Maria.Lopez@Example.com", "--completed-at", "2026-06-08 10:00"
    )
    assert "patient 1 had a different email address on file; it was replaced" in output
    assert (1, "changed: email") in audit(database_url, "patient_update")
    same = aftercare.json(
        *MARIA, "--email", "MARIA.LOPEZ@example.com", "--completed-at", "2026-06-15 10:00"
    )
    assert not any("email address on file" in w for w in same["warnings"])


def test_import_refuses_a_row_whose_phone_belongs_to_another_patient(aftercare, tmp_path):
    aftercare(*MARIA, "--completed-at", "2026-06-01 10:00")
    csv_file = tmp_path / "sessions.csv"
    csv_file.write_text(
        "name,phone,email,treatment,completed_at\n"
        "Ana Lopez,3105550142,ana@example.com,asclera,2026-06-01 11:00\n"
        "Bo Lee,3105550188,,laser,2026-06-01 10:00\n"
        "Bob Lee,3105550188,,laser,2026-06-02 10:00\n"
    )
    result = aftercare.runner.invoke(app, ["import", str(csv_file)], env=aftercare.env)
    assert result.exit_code == 1
    assert (
        "line 2: phone number +13105550142 belongs to another patient (patient 1" in result.stderr
    )
    assert "put 1 in a patient_id column" in result.stderr
    assert "line 4: phone number +13105550188 belongs to another patient" in result.stderr
    assert "nothing was imported" in result.stderr
    assert len(aftercare.json("messages")) == 11  # Bo Lee's good row was not imported either


def test_import_with_a_patient_id_enrolls_for_that_patient(aftercare, tmp_path):
    aftercare(*MARIA, "--email", "maria@example.com", "--completed-at", "2026-06-01 10:00")
    csv_file = tmp_path / "sessions.csv"
    csv_file.write_text(
        "patient_id,name,phone,email,treatment,completed_at\n"
        "1,Maria Lopez Ruiz,3105550142,mlr@example.com,laser,2026-06-08 10:00\n"
    )
    output = aftercare("import", str(csv_file))
    assert "line 2: note: patient 1 had a different email address on file" in output
    assert "1 session: 1 created, 0 replaced, 0 unchanged;" in output
    assert {r["patient_id"] for r in aftercare.json("messages")} == {1}


def test_re_enrolling_without_a_language_keeps_the_patients_own(aftercare):
    common = ["--name", "Ana Ruiz", "--phone", "3105550199", "--treatment"]
    aftercare(
        "enroll", *common, "test-dose", "--completed-at", "2026-06-01 10:00", "--language", "es"
    )
    aftercare("enroll", *common, "asclera", "--completed-at", "2026-06-08 10:00")
    aftercare("tick", "--now", "2026-06-08T10:01")
    sent = [r for r in aftercare.json("messages", "--status", "sent") if r["session_id"] == 2]
    assert sent and all("Hola" in r["body"] or "Gracias" in r["body"] for r in sent)
