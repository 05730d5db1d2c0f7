"""Actions that are hard to undo ask first, in a real browser: voiding a session, recording an
opt-out, pausing a patient and disabling a user each open a question, and nothing changes
until "Yes"; Cancel leaves everything as it was; a voided session's "Restore session" asks too
and undoes the void. At the laptop and phone sizes, the open
question fits and passes axe-core."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from reminders.store.models import OptOut, Patient, TreatmentSession, User
from tests.support.browser import Site, expect_actions_inside, expect_no_sideways_scroll, log_in
from tests.support.clinic_seed import seed_clinic

pytestmark = pytest.mark.browser


def status_of(site: Site, session_id: int) -> str:
    with Session(site.engine) as db:
        return db.get_one(TreatmentSession, session_id).status


@pytest.mark.parametrize("page", ["laptop", "phone"], indirect=True)
def test_void_opt_out_pause_and_disable_ask_before_they_act(
    page: Page, site: Site, screenshot
) -> None:
    seeded = seed_clinic(site.engine, datetime.now(UTC))
    page.goto("/login")
    log_in(page, site.admin, site.password)
    expect(page).to_have_url(site.base_url + "/")
    page.goto(f"/patients/{seeded.patient_id}")

    page.get_by_role("button", name="Void session").click()
    expect(page.get_by_text("Its planned messages are skipped")).to_be_visible()
    expect_no_sideways_scroll(page)
    expect_actions_inside(page)
    screenshot(page, "void-asks")
    assert status_of(site, seeded.session_id) == "completed"  # asking changed nothing
    page.get_by_role("button", name="Cancel").first.click()
    expect(page.get_by_text("Its planned messages are skipped")).to_be_hidden()
    page.get_by_role("button", name="Void session").click()
    page.get_by_role("button", name=f"Yes, void session {seeded.session_id}").click()
    expect(page.get_by_role("status")).to_contain_text("Session voided")
    assert status_of(site, seeded.session_id) == "voided"
    page.get_by_role("button", name="Restore session").click()  # a void by mistake: for a day
    expect(page.get_by_text("Its messages still before their deadline")).to_be_visible()
    expect_actions_inside(page)
    screenshot(page, "restore-asks")
    page.get_by_role("button", name=f"Yes, restore session {seeded.session_id}").click()
    expect(page.get_by_role("status")).to_contain_text("Session restored")
    assert status_of(site, seeded.session_id) == "completed"

    page.get_by_role("button", name="Record opt-out").click()
    expect(page.get_by_text("asked for no more texts")).to_be_visible()
    page.get_by_role("button", name="Yes, record the opt-out").click()
    expect(page.get_by_role("status")).to_contain_text("Opted out")
    with Session(site.engine) as db:
        assert {o.channel for o in db.exec(select(OptOut))} == {"sms", "email"}

    page.get_by_role("button", name="Pause all messages").click()
    page.get_by_role("button", name="Yes, pause").click()
    expect(page.get_by_role("status")).to_contain_text("Paused")
    with Session(site.engine) as db:
        assert db.get_one(Patient, seeded.patient_id).paused_at is not None

    page.goto("/admin/users")
    page.get_by_role("button", name=f"Disable {site.staff}").click()
    expect(page.get_by_text(f"Disable {site.staff}? They are logged out at once")).to_be_visible()
    expect_actions_inside(page)
    screenshot(page, "disable-asks")
    page.get_by_role("button", name="Yes, disable").click()
    expect(page.get_by_role("status")).to_contain_text("User disabled")
    with Session(site.engine) as db:
        staff = db.exec(select(User).where(User.email == site.staff)).one()
        assert staff.disabled_at is not None
