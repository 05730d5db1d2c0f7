"""`/enroll` over HTTP: who may use it, the CLI's validation beside each field, an existing
patient offered rather than duplicated, and a session planned and audited on success."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from reminders.store.db import session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.models import AuditEvent, OutboxMessage, Patient, TreatmentSession
from tests.support.postgres import postgres_schema_url
from tests.support.settings import utc
from tests.support.staff_pages import control, counts, disable, help_of, signed_in, value_of
from tests.support.web_accounts import TestClient, csrf_of, make_user

NOW = utc(2026, 6, 2, 18, 0)  # 11:00 in Los Angeles
STAFF, ADMIN = "bo@example.com", "ana@example.com"
LA, NY = "America/Los_Angeles", "America/New_York"
MARIA = {
    "name": "Maria Lopez",
    "phone": "(310) 555-0142",
    "email": "maria@example.com",
    "treatment": "asclera",
    "completed_at": "2026-06-02T10:30",
    "timezone": LA,
    "timezone_shown": LA,
    "language": "",
    "send_texts": "yes",
    "send_emails": "yes",
}


# The form's reading is the planning module's, tested on its own; here SQLite by default, and
# PostgreSQL too where the page's work touches the database in its own way (`on_both`).
on_both = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'aftercare.db'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def accounts(engine: Engine) -> dict[str, int]:
    return {
        STAFF: make_user(engine, STAFF, now=NOW),
        ADMIN: make_user(engine, ADMIN, "admin", now=NOW),
    }


@pytest.fixture
def staff(app, accounts) -> Iterator[TestClient]:
    with signed_in(app, STAFF) as client:
        yield client


def post(client: TestClient, **fields: str | None):
    """The form as a browser sends it: an unticked box is left out; None leaves a field out."""
    token = csrf_of(client.get("/enroll").text)
    data = {key: value for key, value in (MARIA | fields).items() if value is not None}
    return client.post("/enroll", data={**data, "csrf_token": token})


def patients(engine: Engine) -> list[Patient]:
    with session_scope(engine) as session:
        return list(session.exec(select(Patient).order_by(col(Patient.id))))


def sessions(engine: Engine) -> list[TreatmentSession]:
    with session_scope(engine) as session:
        return list(session.exec(select(TreatmentSession).order_by(col(TreatmentSession.id))))


# -- who may enroll -----------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_log_in(app):
    client = TestClient(app, follow_redirects=False)
    page = client.get("/enroll")
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=/enroll")
    sent = client.post("/enroll", data=MARIA)
    assert (sent.status_code, sent.headers["location"]) == (303, "/login")


@pytest.mark.parametrize("email", [STAFF, ADMIN])
def test_staff_and_admins_get_the_form(app, accounts, email):
    page = signed_in(app, email).get("/enroll")
    assert page.status_code == 200
    assert "<h1>Enroll a session</h1>" in page.text


def test_a_disabled_user_is_sent_to_log_in_at_once(app, engine, accounts, staff):
    assert staff.get("/enroll").status_code == 200
    disable(engine, accounts[STAFF], NOW)
    page = staff.get("/enroll")
    assert (page.status_code, page.headers["location"]) == (303, "/login?next=/enroll")
    before = counts(engine)
    assert post_without_page(staff).status_code == 303
    assert counts(engine) == before


def post_without_page(client: TestClient):
    return client.post("/enroll", data={**MARIA, "csrf_token": "whatever it had"})


@pytest.mark.parametrize("token", [None, "", "forged"])
def test_a_post_without_the_sessions_csrf_token_is_refused_and_writes_nothing(engine, staff, token):
    before = counts(engine)
    data = MARIA if token is None else {**MARIA, "csrf_token": token}
    response = staff.post("/enroll", data=data)
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert counts(engine) == before


# -- the form -------------------------------------------------------------------------------------


def test_the_form_has_labelled_fields_for_a_tablet_with_the_clinics_defaults(staff):
    html = staff.get("/enroll").text
    for key, label in [("name", "Name"), ("phone", "Phone"), ("email", "Email"),
                       ("treatment", "Treatment"), ("completed_at", "Completed at"),
                       ("timezone", "Time zone"), ("language", "Language")]:  # fmt: skip
        assert f'<label for="f-{key}">{label}</label>' in html
        control(html, f"f-{key}")
    assert re.search(r'<label for="f-send_texts">\s*<input [^>]*checked[^>]*>\s*Send texts', html)
    assert re.search(r'<label for="f-send_emails">\s*<input [^>]*checked[^>]*>\s*Send emails', html)
    assert '<button type="submit">Enroll</button>' in html
    assert "autofocus" in control(html, "f-name")
    assert 'inputmode="tel"' in control(html, "f-phone")
    assert 'autocomplete="off"' in control(html, "f-name")
    assert 'type="datetime-local"' in control(html, "f-completed_at")
    assert value_of(html, "f-completed_at") == "2026-06-02T11:00"  # now, in the clinic's zone
    assert value_of(html, "f-timezone") == LA
    assert f'<option value="{NY}">' in html  # the zones offered
    for treatment in load_care_plans().treatments:
        assert f'<option value="{treatment}">' in html
    assert '<option value="en">English</option>' in html
    assert '<option value="es">Spanish (español)</option>' in html


# -- success --------------------------------------------------------------------------------------


@on_both
def test_enrolling_writes_the_patient_and_session_plans_its_messages_and_audits_who(
    engine, accounts, staff
):
    response = post(staff)
    assert (response.status_code, response.headers["location"]) == (303, "/patients/1?enrolled=1")
    [maria] = patients(engine)
    assert (maria.name, maria.phone, maria.email) == ("Maria Lopez", "+13105550142", MARIA["email"])
    assert maria.timezone is None  # the clinic's zone, left as it was: none of her own
    assert (maria.sms_consent_by, maria.email_consent_by) == (STAFF, STAFF)
    assert (maria.sms_consent_at, maria.email_consent_at) == (NOW, NOW)
    [session] = sessions(engine)
    assert (session.enrolled_by, session.completed_at) == (STAFF, utc(2026, 6, 2, 17, 30))
    assert session.planned_at == NOW  # planned at once, as the CLI does
    plan = load_care_plans().for_treatment("asclera")
    with session_scope(engine) as db:
        rows = db.exec(select(OutboxMessage)).all()
        audit = db.exec(select(AuditEvent).where(AuditEvent.actor == STAFF)).all()
    assert len(rows) == sum(len(step.channels) for step in plan.steps)
    assert {row.session_id for row in rows} == {session.id}
    assert [(a.action, a.entity_id) for a in audit if a.action != "login"] == [
        ("patient_create", maria.id),
        ("enroll", session.id),
    ]


def test_unticked_boxes_are_recorded_as_no_consent(engine, staff):
    assert post(staff, send_emails=None).status_code == 303
    [maria] = patients(engine)
    assert (maria.sms_consent, maria.email_consent, maria.email_consent_by) == (True, False, STAFF)


def test_the_language_chosen_is_kept(engine, staff):
    assert post(staff, language="es").status_code == 303
    assert patients(engine)[0].language == "es"


# -- problems, each beside its field, with what was typed kept ---------------------------------


def assert_refused_beside(html: str, key: str, words: str) -> None:
    assert words in help_of(html, key), help_of(html, key)
    assert 'class="invalid"' in re.search(rf'<small id="f-{key}-help"[^>]*>', html).group(0)
    controls = {"consent": ["f-send_texts", "f-send_emails"]}.get(key, [f"f-{key}"])
    for control_id in controls:
        tag = control(html, control_id)
        assert 'aria-invalid="true"' in tag, tag
        assert f'aria-describedby="f-{key}-help"' in tag, tag
    assert f'<a href="#f-{key}">' in html  # in the list at the top


@pytest.mark.parametrize(
    ("fields", "key", "words"),
    [
        ({"name": "  "}, "name", "Name is required"),
        ({"phone": ""}, "phone", "Phone number is required"),
        ({"phone": "555"}, "phone", "Phone number '555' is not a valid number: check its digits"),
        ({"phone": "310-555-CALL"}, "phone", "has letters; type the digits"),
        ({"email": "maria@"}, "email", "Email address 'maria@' is not valid"),
        ({"treatment": ""}, "treatment", "Treatment is required (one of asclera, sts"),
        ({"treatment": "botox"}, "treatment", "Unknown treatment 'botox'"),
        ({"completed_at": ""}, "completed_at", "Completion time is required"),
        ({"completed_at": "2026-06-02"}, "completed_at", "has no time of day"),
        ({"completed_at": "2026-06-02T12:00"}, "completed_at", "is in the future"),
        ({"completed_at": "2016-06-01T10:00"}, "completed_at", "past its deadline"),
        ({"timezone": "Mars/Olympus"}, "timezone", "'Mars/Olympus' is not a time zone"),
        ({"language": "fr"}, "language", "Unknown language 'fr'"),
        ({"send_texts": None, "send_emails": None}, "consent", "nothing would be sent"),
        ({"send_texts": None, "email": ""}, "email", "No consent to SMS and no email address"),
    ],
)
def test_each_problem_is_shown_beside_its_field_keeping_what_was_typed(
    engine, staff, fields, key, words
):
    before = counts(engine)
    response = post(staff, **fields)
    assert response.status_code == 400
    html = response.text
    assert_refused_beside(html, key, words)
    typed = MARIA | fields
    for other in ("name", "phone", "email", "completed_at", "timezone"):
        assert value_of(html, f"f-{other}") == typed[other]
    for box in ("send_texts", "send_emails"):
        assert ("checked" in control(html, f"f-{box}")) == (typed[box] is not None)
    assert counts(engine) == before
    assert patients(engine) == []


def test_every_bad_field_is_shown_at_once_and_the_first_has_the_focus(staff):
    html = post(staff, name="", phone="555", treatment="botox", language="fr").text
    for key in ("name", "phone", "treatment", "language"):
        assert 'aria-invalid="true"' in control(html, f"f-{key}")
    assert "autofocus" in control(html, "f-name")
    assert "autofocus" not in control(html, "f-phone")
    assert re.search(r'<option value="fr"', html) is None  # only en and es are offered
    assert "Nothing was saved. Check these fields:" in html


@on_both
def test_a_session_for_a_patient_number_that_does_not_exist_is_refused(engine, staff):
    response = post(staff, patient_id="99")
    assert response.status_code == 400
    assert "There is no patient 99." in response.text
    assert patients(engine) == []
    assert post(staff, patient_id="٣").status_code == 400  # another script's digit
    beyond = post(staff, patient_id=str(2**31))  # PostgreSQL's integer ids end at 2**31 - 1
    assert beyond.status_code == 400  # was a 503: PostgreSQL refused to compare it (DataError)
    assert f"There is no patient {2**31}." in beyond.text


# -- an existing patient --------------------------------------------------------------------------


def test_the_same_name_on_a_known_phone_is_that_patient_again(engine, staff):
    assert post(staff).status_code == 303
    again = post(staff, name="maría  LÓPEZ", treatment="laser", completed_at="2026-06-02T10:45")
    assert (again.status_code, again.headers["location"]) == (303, "/patients/1?enrolled=2")
    assert len(patients(engine)) == 1
    assert len(sessions(engine)) == 2


@on_both
def test_a_phone_on_file_under_another_name_asks_same_person_or_someone_sharing_it(engine, staff):
    assert post(staff).status_code == 303
    before = counts(engine)
    offered = post(staff, name="Maria Lopez Ruiz", treatment="laser")
    assert offered.status_code == 409
    html = offered.text
    assert_refused_beside(html, "phone", "This phone is on file for Maria Lopez")
    assert "<legend>Same person, or someone else sharing this phone?</legend>" in html
    assert 'type="radio" name="phone_owner" value="same-1"' in html
    assert 'type="radio" name="phone_owner" value="shared"' in html
    assert value_of(html, "f-name") == "Maria Lopez Ruiz"
    assert counts(engine) == before
    again = post(staff, name="Maria Lopez Ruiz", treatment="laser")  # no choice: asked again
    assert again.status_code == 409 and counts(engine) == before
    chosen = post(staff, name="Maria Lopez Ruiz", treatment="laser", phone_owner="same-1")
    assert (chosen.status_code, chosen.headers["location"]) == (303, "/patients/1?enrolled=2")
    [maria] = patients(engine)  # no duplicate
    assert maria.name == "Maria Lopez Ruiz"  # as with --patient: the name is corrected
    assert [s.treatment for s in sessions(engine)] == ["asclera", "laser"]
    with session_scope(engine) as db:
        update = db.exec(select(AuditEvent).where(AuditEvent.action == "patient_update")).one()
    assert (update.actor, update.entity_id, update.detail) == (STAFF, 1, "changed: name")


@on_both
def test_someone_else_sharing_the_phone_becomes_a_patient_of_their_own(engine, staff):
    assert post(staff).status_code == 303
    shared = post(staff, name="Sofia Lopez", treatment="laser", phone_owner="shared")
    assert (shared.status_code, shared.headers["location"]) == (303, "/patients/2?enrolled=2")
    assert [(p.name, p.phone) for p in patients(engine)] == [
        ("Maria Lopez", "+13105550142"), ("Sofia Lopez", "+13105550142")]  # fmt: skip
    third = post(staff, name="Ana Lopez", treatment="laser").text  # both are offered now
    assert "This phone is on file for Maria Lopez and Sofia Lopez" in third
    assert 'value="same-1"' in third and 'value="same-2"' in third
    again = post(staff, name="sofía lópez", treatment="asclera")  # her name: no question
    assert again.headers["location"] == "/patients/2?enrolled=3"


def test_a_chosen_patient_is_named_on_the_form_when_it_comes_back(staff):
    post(staff)
    html = post(staff, name="Ana Ruiz", patient_id="1", email="ana@").text
    assert "For patient <strong>Maria Lopez</strong> (no. 1)" in html
    assert '<input type="hidden" name="patient_id" value="1">' in html
    assert 'name="phone_owner"' not in html  # no second question


def enroll_in_new_york(staff) -> None:
    fields = {"timezone": NY, "completed_at": "2026-06-01T13:30"}
    assert post(staff, **fields).status_code == 303


def test_the_offer_shows_the_form_in_the_patients_zone_on_file(engine, staff):
    enroll_in_new_york(staff)
    offered = post(staff, name="Ana Ruiz", treatment="laser")  # 10:30 in the zone shown, LA
    html = offered.text
    assert offered.status_code == 409
    assert value_of(html, "f-timezone") == NY
    assert '<input type="hidden" name="timezone_shown" value="America/New_York">' in html
    assert value_of(html, "f-completed_at") == "2026-06-02T13:30"  # the same moment
    assert help_of(html, "timezone").startswith("Maria Lopez's time zone on file")
    fields = {"timezone": NY, "timezone_shown": NY, "completed_at": "2026-06-02T13:30"}
    chosen = post(staff, name="Ana Ruiz", treatment="laser", patient_id="1", **fields)
    assert chosen.status_code == 303
    assert sessions(engine)[-1].completed_at == utc(2026, 6, 2, 17, 30)
    assert patients(engine)[0].timezone == NY


@on_both
def test_a_returning_patients_zone_on_file_is_shown_before_anything_is_written(engine, staff):
    enroll_in_new_york(staff)
    before = counts(engine)
    shown = post(staff, treatment="laser")  # the clinic's zone, left as the page showed it
    assert shown.status_code == 200
    assert value_of(shown.text, "f-timezone") == NY
    assert value_of(shown.text, "f-completed_at") == "2026-06-02T13:30"
    assert "autofocus" in control(shown.text, "f-timezone")
    assert counts(engine) == before
    fields = {"timezone": NY, "timezone_shown": NY, "completed_at": "2026-06-02T13:30"}
    assert post(staff, treatment="laser", **fields).status_code == 303
    assert sessions(engine)[-1].completed_at == utc(2026, 6, 2, 17, 30)
    assert patients(engine)[0].timezone == NY


def test_a_zone_staff_typed_is_the_one_read_and_kept(engine, staff):
    enroll_in_new_york(staff)
    chicago = post(staff, treatment="laser", timezone="America/Chicago")
    assert chicago.status_code == 303
    assert sessions(engine)[-1].completed_at == utc(2026, 6, 2, 15, 30)  # 10:30 CDT
    assert patients(engine)[0].timezone == "America/Chicago"


# -- logs ----------------------------------------------------------------------------------------


def test_no_phone_email_or_name_reaches_the_logs(staff, accounts, caplog):
    caplog.set_level(logging.DEBUG)
    post(staff)
    post(staff, name="Ana Ruiz", email="ana@example.com")  # the offer
    post(staff, phone="555", email="maria@")  # problems
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))
    assert f"session 1 enrolled for patient 1 by user {accounts[STAFF]}" in ours
    for secret in ("3105550142", "555-0142", "maria@", "ana@example.com", "Maria", "Ana Ruiz"):
        assert secret not in caplog.text


def test_a_time_the_clocks_skip_is_refused_in_the_zone_shown(staff, clock):
    clock.now = datetime.fromisoformat("2026-03-09T12:00:00+00:00")
    response = post(staff, completed_at="2026-03-08T02:30")
    assert_refused_beside(response.text, "completed_at", "never happened in America/Los_Angeles")


def test_the_form_plans_with_an_admins_newest_care_plan(staff, engine):
    """Not the file's plan read when the app started: the revision in force at enrollment."""
    from dataclasses import replace
    from datetime import time

    from reminders.rules.timing import DayAt
    from reminders.store.care_plans import save_plan

    plan = load_care_plans().plans["sclerotherapy"]
    step = replace(plan.step("restriction_day_1"), send=DayAt(1, time(11)))
    edited = replace(plan, steps=tuple(step if s.name == step.name else s for s in plan.steps))
    with session_scope(engine) as session:
        save_plan(session, edited, actor=ADMIN, now=NOW)
    assert post(staff).status_code == 303
    with session_scope(engine) as session:
        day_1 = session.exec(
            select(OutboxMessage).where(OutboxMessage.step == "restriction_day_1")
        ).one()
    assert day_1.due_at == utc(2026, 6, 3, 18, 0)  # 11:00 in Los Angeles, not the file's 09:00


def test_the_timeline_after_enrolling_says_what_enroll_would_have_said(staff, engine):
    """A late entry: staff hear on the patient's page that the first steps will be skipped."""
    response = post(staff, completed_at="2026-05-31T10:30")  # two days ago: day 0's pair is late
    page = staff.get(response.headers["location"])
    assert page.status_code == 200
    assert "Session 1 enrolled; its messages are planned below." in page.text
    assert "already past their deadline and will be skipped" in page.text
    assert "Session 1 enrolled" not in staff.get("/patients/1").text  # a later visit: no notes
    assert "Session 7 enrolled" not in staff.get("/patients/1?enrolled=7").text  # not hers


# -- the date of birth ----------------------------------------------------------------------------


def test_the_date_of_birth_group_is_stored(engine, staff):
    response = post(staff, birth_month="3", birth_day="9", birth_year="1984")
    assert response.status_code == 303
    assert patients(engine)[0].date_of_birth is not None
    assert patients(engine)[0].date_of_birth.isoformat() == "1984-03-09"


@pytest.mark.parametrize(
    ("month", "day", "year", "reason"),
    [("3", "9", "2030", "is in the future"), ("3", "9", "1850", "is before 1900"),
     ("2", "30", "1984", "is not a date"), ("3", "", "1984", "is not a date")],
)  # fmt: skip
def test_a_bad_date_of_birth_is_shown_beside_its_group_and_nothing_is_written(
    engine, staff, month, day, year, reason
):
    before = counts(engine)
    response = post(staff, birth_month=month, birth_day=day, birth_year=year)
    assert response.status_code == 400
    assert reason in help_of(response.text, "date_of_birth")
    assert 'href="#f-date_of_birth"' in response.text
    assert value_of(response.text, "f-birth_year") == year
    assert counts(engine) == before
