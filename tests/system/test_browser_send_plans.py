"""The patient's page in a real browser (issue 14, part 1): two sessions on one day, their
aftercare texts planned as one (the daily SMS limit), each planned text's expected time and
its preview; desktop and phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from reminders.runtime import Runtime
from reminders.store.defaults import load_care_plans
from tests.support.browser import Site, expect_no_sideways_scroll, log_in, site_settings
from tests.support.factories import enroll_patient
from tests.support.send_plans import LINK, SHORT, set_texts

pytestmark = pytest.mark.browser

LASER_SHORT = (
    "Hi {{ first_name }}, thanks for visiting {{ clinic_name }}. Mild redness is normal; keep"
    " the area out of the sun. " + LINK
)


def seed(site: Site, folder: Path) -> int:
    """Maria, with sclerotherapy and laser an hour ago: two aftercare texts due on one day."""
    set_texts(site.engine, "sclerotherapy", SHORT)
    set_texts(site.engine, "laser", {"aftercare": LASER_SHORT})
    runtime = Runtime(site_settings(str(site.engine.url), folder), site.engine, load_care_plans())
    now = datetime.now(UTC)
    done = now - timedelta(hours=1)
    enroll_patient(runtime, completed_at=done, now=now)
    later = done + timedelta(minutes=5)
    return enroll_patient(runtime, completed_at=later, now=now, treatment="laser").patient_id


@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_the_timeline_shows_when_each_text_will_go_and_its_preview(
    page: Page, site: Site, screenshot, tmp_path: Path
) -> None:
    patient = seed(site, tmp_path)
    page.goto("/login")
    log_in(page, site.staff, site.password)
    expect(page).to_have_url(site.base_url + "/")
    page.goto(f"/patients/{patient}")
    # By the cells' labels: on a phone the rows are stacked, and no longer a table's cells.
    step = page.locator('td[data-label="Step"]', has_text=re.compile("aftercare", re.I))
    rows = page.locator("tbody tr").filter(has=step)
    sms = rows.filter(has=page.locator('td[data-label="Channel"]', has_text=re.compile("^SMS$")))
    expect(sms).to_have_count(2)
    carrier = sms.filter(has_text="carrying the text of message")
    expect(carrier).to_have_count(1)
    expect(sms.filter(has_text="inside the text of message")).to_have_count(1)
    carrier.get_by_text("Written from the template").click()
    preview = carrier.locator("pre.preview")
    expect(preview).to_be_visible()
    expect(preview).to_contain_text(LINK)
    expect(carrier).to_contain_text("Preview")
    expect_no_sideways_scroll(page)
    screenshot(page, "timeline")
