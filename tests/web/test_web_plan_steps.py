"""Care plans gain and lose steps over HTTP: the "Add a step" form (checked field by field, its
messages written first), the removal's confirmation, each a new version, audited; sessions
already enrolled keep their messages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.store.care_plans import plan_history
from reminders.store.models import OutboxMessage
from reminders.web.app import create_app
from tests.support.factories import enroll_patient
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)
COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)
ADMIN, STAFF = "ana@example.com", "bo@example.com"
PLAN = "/admin/care-plans/sclerotherapy"
ADD = f"{PLAN}/steps/new"
WEEK_2_SMS = "/admin/templates/sclerotherapy/week_2_check_in/sms/en"


@pytest.fixture
def app(runtime: Runtime):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    return create_app(
        runtime.settings, runtime.engine, clock=MovableClock(NOW), passwords=FAST_PASSWORDS
    )


@pytest.fixture
def admin(app) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        assert log_in(client, ADMIN).status_code == 303
        yield client


def versions(runtime: Runtime) -> list[int]:
    with Session(runtime.engine) as session:
        return [r.version for r in plan_history(session, "sclerotherapy")]


def step_form(token: str, **changes: object) -> dict[str, object]:
    return {
        "csrf_token": token,
        "base_version": "1",
        "new.label": "Week 2 check-in",
        "new.kind": "clinical",
        "new.send.kind": "day",
        "new.send.day": "14",
        "new.send.at": "10:00",
        "new.not_after.kind": "day",
        "new.not_after.day": "16",
        "new.not_after.at": "18:00",
        "new.channels": ["sms"],
    } | changes


def steps_of(runtime: Runtime, session_id: int) -> set[str]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.session_id == session_id)
        return {m.step for m in session.exec(query)}


def test_a_step_is_added_once_its_message_is_written(admin, runtime):
    plan_page = admin.get(PLAN).text
    assert f'href="{ADD}"' in plan_page
    form = admin.get(ADD)
    assert form.status_code == 200 and "keep the messages they were planned with" in form.text
    token = csrf_of(form.text)
    wrong = admin.post(ADD, data=step_form(token, **{"new.label": "", "new.send.day": "x"}))
    assert wrong.status_code == 400 and 'id="new-label-error"' in wrong.text
    assert 'id="new-send-error"' in wrong.text and 'value="x"' in wrong.text  # kept as typed
    unwritten = admin.post(ADD, data=step_form(token))
    assert unwritten.status_code == 400 and f'href="{WEEK_2_SMS}/new"' in unwritten.text
    assert versions(runtime) == [1]
    written = admin.get(f"{WEEK_2_SMS}/new")  # a step not added yet may have its message written
    source = "{{ clinic_name }}: how are you, {{ first_name }}? Call {{ clinic_phone }}."
    made = admin.post(
        f"{WEEK_2_SMS}/new", data={"source": source, "csrf_token": csrf_of(written.text)}
    )
    assert made.status_code == 303
    before = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Before")
    added = admin.post(ADD, data=step_form(token))
    assert added.status_code == 303 and added.headers["location"] == f"{PLAN}?done=step_added"
    assert "Step added as a new version" in admin.get(added.headers["location"]).text
    assert versions(runtime) == [2, 1]
    after = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Bo After",
                           phone="+14155550199", email="after@example.com")  # fmt: skip
    assert "week_2_check_in" in steps_of(runtime, after.session_id)
    assert "week_2_check_in" not in steps_of(runtime, before.session_id)
    stale = admin.post(ADD, data=step_form(token, **{"new.label": "Week 3"}))
    assert stale.status_code == 409 and "Someone saved this plan" in stale.text
    events = [(e.action, e.detail) for e in audit(runtime.engine) if e.action.startswith("care")]
    assert events == [
        ("care_plan_add_step", "plan=sclerotherapy, version=2, steps=week_2_check_in")
    ]


def test_a_step_is_removed_after_a_confirmation(admin, runtime):
    before = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Before")
    remove = f"{PLAN}/steps/restriction_day_2/remove"
    assert f'href="{remove}"' in admin.get(PLAN).text
    confirm = admin.get(remove)
    assert confirm.status_code == 200 and "Sessions already enrolled keep" in confirm.text
    assert versions(runtime) == [1]  # asking changes nothing
    token = csrf_of(confirm.text)
    done = admin.post(remove, data={"csrf_token": token, "base_version": "1"})
    assert done.status_code == 303 and done.headers["location"] == f"{PLAN}?done=step_removed"
    assert versions(runtime) == [2, 1]
    assert "restriction_day_2" in steps_of(runtime, before.session_id)
    assert admin.get(remove).status_code == 404
    assert admin.post(remove, data={"csrf_token": token, "base_version": "2"}).status_code == 404
    assert [e.action for e in audit(runtime.engine)][-1] == "care_plan_remove_step"


def test_staff_may_not_add_or_remove_steps(app, runtime):
    with TestClient(app, follow_redirects=False) as staff:
        assert log_in(staff, STAFF).status_code == 303
        token = csrf_of(staff.get("/account").text)
        assert staff.get(ADD).status_code == 403
        assert staff.post(ADD, data=step_form(token)).status_code == 403
        remove = f"{PLAN}/steps/restriction_day_2/remove"
        assert (
            staff.post(remove, data={"csrf_token": token, "base_version": "1"}).status_code == 403
        )
    assert versions(runtime) == [1]
