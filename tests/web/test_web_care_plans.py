"""`/admin/care-plans` over HTTP: admins list, edit (validated, versioned, audited) and restore;
staff are refused; a bad form comes back with its errors beside the fields and what was typed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.store.care_plans import plan_history, save_plan
from reminders.store.db import session_scope
from reminders.store.models import CarePlanRevision, OutboxMessage
from reminders.web.app import create_app
from tests.support.factories import enroll_patient
from tests.support.html_forms import Form, form_fields, with_values
from tests.support.settings import utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

NOW = utc(2026, 11, 20, 22, 35)
COMPLETED = utc(2026, 11, 20, 22, 30)  # 14:30 in Los Angeles
ADMIN, STAFF = "ana@example.com", "bo@example.com"
EDIT = "/admin/care-plans/sclerotherapy"


@pytest.fixture
def app(runtime: Runtime):
    return create_app(
        runtime.settings, runtime.engine, clock=MovableClock(NOW), passwords=FAST_PASSWORDS
    )


@pytest.fixture
def accounts(runtime: Runtime) -> None:
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    make_user(runtime.engine, STAFF, "staff", now=NOW)


def signed_in(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert log_in(client, email).status_code == 303
    return client


@pytest.fixture
def admin(app, accounts) -> Iterator[TestClient]:
    with signed_in(app, ADMIN) as client:
        yield client


def versions(runtime: Runtime) -> list[int]:
    with Session(runtime.engine) as session:
        return [r.version for r in plan_history(session, "sclerotherapy")]


def edit_form(admin: TestClient) -> Form:
    page = admin.get(EDIT)
    assert page.status_code == 200
    return form_fields(page.text, EDIT)


def post(admin: TestClient, **changes: str | list[str]):
    return admin.post(EDIT, data=with_values(edit_form(admin), **changes))


def actions(runtime: Runtime) -> list[tuple[str, str, str | None]]:
    return [
        (e.action, e.actor, e.detail) for e in audit(runtime.engine) if e.action.startswith("care")
    ]


# -- who may ------------------------------------------------------------------------------------


def test_staff_are_refused_every_care_plan_page_and_change_nothing(app, runtime, accounts):
    staff = signed_in(app, STAFF)
    token = csrf_of(staff.get("/").text)
    assert 'href="/admin/care-plans"' not in staff.get("/").text
    assert staff.get("/admin/care-plans").status_code == 403
    assert staff.get(EDIT).status_code == 403
    assert staff.post(EDIT, data={"csrf_token": token, "base_version": "1"}).status_code == 403
    restore = staff.post(f"{EDIT}/restore", data={"csrf_token": token, "version": "1"})
    assert restore.status_code == 403
    assert versions(runtime) == [1]


def test_a_save_without_the_sessions_csrf_token_is_refused_and_saves_nothing(admin, runtime):
    fields = with_values(edit_form(admin), restriction_day_1__send__at="11:00")
    response = admin.post(EDIT, data=fields | {"csrf_token": ["forged"]})
    assert response.status_code == 403
    assert "This form has expired" in response.text
    missing = admin.post(EDIT, data={n: v for n, v in fields.items() if n != "csrf_token"})
    assert missing.status_code == 403
    assert versions(runtime) == [1]
    assert actions(runtime) == []


# -- the list -----------------------------------------------------------------------------------


def test_admins_see_every_plan_with_its_steps_timing_channels_and_template(admin):
    home = admin.get("/")
    assert '<a href="/admin/care-plans">Care plans</a>' in home.text
    page = admin.get("/admin/care-plans")
    assert page.status_code == 200
    html = page.text
    titles = [html.index(f"<h2>{title}</h2>") for title in ("Sclerotherapy", "Test dose", "Laser")]
    assert titles == sorted(titles)  # in the file's order
    row = re.search(r">Day 1 restrictions<br>(.*?)</tr>", html, re.S)
    assert row is not None
    cells = re.findall(r"<td [^>]*>(.*?)</td>", row.group(1), re.S)
    link = '<a href="/admin/templates/sclerotherapy/restriction_day_1/sms/en"'
    assert cells[:2] == ["day 1 at 09:00", "day 1 at 20:00"]
    assert cells[2].startswith(link) and cells[2].endswith(">SMS</a>")
    assert "restriction_day_1<" not in html  # the step's words, never its code name
    assert (
        "Treatments: Asclera sclerotherapy, Sodium tetradecyl sulfate (STS) sclerotherapy." in html
    )
    at_once = '<td data-label="Sent">at once</td>\n        <td data-label="Not sent after">'
    assert at_once + "72 hours after</td>" in html
    assert "Version 1." in html
    assert '<a href="/admin/care-plans/laser">Edit Laser</a>' in html


def test_an_unknown_plan_is_not_found(admin):
    assert admin.get("/admin/care-plans/botox").status_code == 404


# -- editing ------------------------------------------------------------------------------------


def test_the_edit_form_has_a_labelled_field_for_each_part_of_each_step(admin):
    html = admin.get(EDIT).text
    for label, field in [
        ("How it is given", "restriction_day_1-send-kind"),
        ("Hours after the session", "aftercare-not_after-hours"),
        ("Day (0 is the session's day)", "restriction_day_1-send-day"),
        ("Local time (HH:MM)", "restriction_day_1-not_after-at"),
        ("SMS", "follow_up-channel-sms"),
        ("Email", "follow_up-channel-email"),
    ]:
        assert f'<label for="{field}">{label}</label>' in html, field
        assert f'id="{field}"' in html
    fields = edit_form(admin)
    assert fields["restriction_day_1.send.day"] == ["1"]
    assert fields["restriction_day_1.send.at"] == ["09:00"]
    assert fields["aftercare.not_after.kind"] == ["hours"]
    assert fields["aftercare.not_after.hours"] == ["72"]
    assert fields["aftercare.channels"] == ["sms", "email"]


def test_an_admin_edit_is_a_new_version_that_plans_sessions_enrolled_afterwards(admin, runtime):
    before = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    response = post(admin, restriction_day_1__send__at="10:30")
    assert (response.status_code, response.headers["location"]) == (303, f"{EDIT}?done=saved")
    assert versions(runtime) == [2, 1]
    assert "Saved as a new version" in admin.get(response.headers["location"]).text
    after = enroll_patient(
        runtime, completed_at=COMPLETED, now=NOW, name="Bo Chen", phone="+13105550199"
    )
    due = {}
    with Session(runtime.engine) as session:
        for message in session.exec(
            select(OutboxMessage).where(OutboxMessage.step == "restriction_day_1")
        ):
            due[message.session_id] = message.due_at
    day_1_at_9 = utc(2026, 11, 21, 17, 0)
    assert due == {
        before.session_id: day_1_at_9,
        after.session_id: day_1_at_9 + timedelta(minutes=90),
    }
    assert actions(runtime) == [
        ("care_plan_save", ADMIN, "plan=sclerotherapy, version=2, steps=restriction_day_1")
    ]


def test_a_deadline_before_the_send_time_is_refused_beside_it_keeping_what_was_typed(
    admin, runtime
):
    response = post(
        admin,
        restriction_day_1__not_after__day="0",
        restriction_day_1__not_after__at="20:00",
        what_is_normal__send__hours="abc",
        what_is_normal__send__kind="hours",
    )
    assert response.status_code == 400
    html = response.text
    assert "Correct the fields marked below." in html
    assert re.search(
        r'id="restriction_day_1-not_after-error" class="field-error">The deadline must come after'
        r" the send time \(for a session ending at 00:00\)\.</small>",
        html,
    )
    assert 'aria-describedby="restriction_day_1-not_after-error"' in html
    assert "Hours must be a number such as 2 or 1.5, not &#39;abc&#39;." in html
    typed = form_fields(html, EDIT)
    assert typed["restriction_day_1.not_after.day"] == ["0"]
    assert typed["what_is_normal.send.hours"] == ["abc"]
    assert typed["what_is_normal.send.kind"] == ["hours"]
    assert versions(runtime) == [1]
    assert actions(runtime) == []


def test_a_channel_without_a_template_is_refused_with_the_other_problems(admin, runtime):
    response = post(
        admin, restriction_day_1__channels=["sms", "email"], aftercare__send__hours="-1"
    )
    assert response.status_code == 400
    assert re.search(
        r'id="restriction_day_1-channels-error" class="field-error">There is no email template'
        r" for this step \(sclerotherapy/restriction_day_1\): write one before choosing email\.",
        response.text,
    )
    assert 'id="aftercare-send-error"' in response.text
    assert form_fields(response.text, EDIT)["restriction_day_1.channels"] == ["sms", "email"]
    assert versions(runtime) == [1]


def test_no_channel_at_all_is_refused(admin, runtime):
    response = post(admin, follow_up__channels=[])
    assert response.status_code == 400
    assert 'id="follow_up-channels-error" class="field-error">Choose at least one channel.' in (
        response.text
    )
    assert versions(runtime) == [1]


def test_saving_an_unchanged_form_saves_no_version(admin, runtime):
    response = admin.post(EDIT, data=edit_form(admin))
    assert (response.status_code, response.headers["location"]) == (303, f"{EDIT}?done=unchanged")
    assert versions(runtime) == [1]


def test_a_form_opened_before_someone_elses_save_does_not_undo_it(admin, runtime):
    stale = edit_form(admin)
    assert post(admin, restriction_day_2__send__at="10:00").status_code == 303
    response = admin.post(EDIT, data=with_values(stale, restriction_day_1__send__at="11:00"))
    assert response.status_code == 409
    assert "Someone saved this plan after you opened it" in response.text
    again = form_fields(response.text, EDIT)
    assert again["restriction_day_1.send.at"] == ["11:00"]  # what was typed, kept
    assert again["base_version"] == ["2"]
    assert versions(runtime) == [2, 1]
    assert admin.post(EDIT, data=again).status_code == 303  # saved once it was looked at
    assert versions(runtime) == [3, 2, 1]


# -- history and restore ------------------------------------------------------------------------


def test_the_history_shows_each_version_with_who_and_when_and_restores_an_old_one(admin, runtime):
    assert post(admin, restriction_day_1__send__at="10:30").status_code == 303
    page = admin.get(EDIT).text
    cell = r"<td[^>]*>"
    assert re.search(
        rf"{cell}2</td>\s*{cell}ana@example.com</td>\s*{cell}2026-11-20 22:35</td>", page
    )
    assert re.search(rf"{cell}1</td>\s*{cell}defaults</td>", page)
    restore = form_fields(page, f"{EDIT}/restore")
    assert restore["version"] == ["1"]
    response = admin.post(f"{EDIT}/restore", data=restore)
    assert (response.status_code, response.headers["location"]) == (303, f"{EDIT}?done=restored")
    assert versions(runtime) == [3, 2, 1]
    assert edit_form(admin)["restriction_day_1.send.at"] == ["09:00"]
    assert "restored from version 1" in admin.get(EDIT).text
    assert actions(runtime)[-1] == (
        "care_plan_restore",
        ADMIN,
        "plan=sclerotherapy, version=3, from=1",
    )


@pytest.mark.parametrize("version", ["9", "x", "", "٣"])
def test_restoring_a_version_that_does_not_exist_is_refused(admin, runtime, version):
    token = csrf_of(admin.get(EDIT).text)
    response = admin.post(f"{EDIT}/restore", data={"csrf_token": token, "version": version})
    assert response.status_code == 400
    assert "Care plan sclerotherapy has no version" in response.text
    assert versions(runtime) == [1]


def test_a_stored_revision_that_does_not_read_is_a_503_naming_it_not_a_crash(admin, runtime):
    with session_scope(runtime.engine) as session:
        session.add(
            CarePlanRevision(
                plan="laser", version=2, definition="{", created_by="someone", created_at=NOW
            )
        )
    for path in ("/admin/care-plans", EDIT):
        response = admin.get(path)
        assert response.status_code == 503
        assert "the care plans cannot be read: plan laser, version 2: not JSON" in response.text


def test_the_list_flags_a_channel_that_has_no_template(admin, runtime):
    plan = runtime.care_plans().plans["sclerotherapy"]
    step = replace(plan.step("restriction_day_1"), channels=("sms", "email"))
    steps = tuple(step if s.name == step.name else s for s in plan.steps)
    with session_scope(runtime.engine) as session:  # as a hand-written revision could say
        save_plan(session, replace(plan, steps=steps), actor="someone", now=NOW)
    html = admin.get("/admin/care-plans").text
    row = re.search(r">Day 1 restrictions<br>(.*?)</tr>", html, re.S)
    assert row is not None
    assert '>SMS</a>, Email <strong class="warning">(no template)</strong>' in row.group(1)
    assert html.count("(no template)") == 1
