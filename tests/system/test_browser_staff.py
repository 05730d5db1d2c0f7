"""The front desk in a real browser: enroll a patient, read their timeline, find them, pause.

Issue #7 asks that a front-desk person enrolls a patient in under a minute; the enroll test
prints how long the browser took (a loaded machine makes it no assertion), the typing of a
person being the part that no test measures.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (
    Site,
    expect_no_sideways_scroll,
    expect_styled,
    follow_nav,
    log_in,
)

pytestmark = pytest.mark.browser

ZONE = "Europe/Madrid"  # not the clinic's (America/Los_Angeles): times shown are the patient's
NAME, PHONE, EMAIL = "Lucía Fernández", "(310) 555-0187", "lucia@example.com"


def completed_an_hour_ago() -> datetime:
    """On the patient's clock, to the minute, as the datetime-local field holds it."""
    return (datetime.now(ZoneInfo(ZONE)) - timedelta(hours=1)).replace(second=0, microsecond=0)


def patient_time(moment: datetime) -> str:
    """A moment as the timeline writes it: 'Wed 02 Dec 2026, 09:00 CET'."""
    return moment.strftime("%a %d %b %Y, %H:%M %Z")


def fill_enroll_form(page: Page, *, phone: str, completed: datetime) -> None:
    page.get_by_label("Name", exact=True).fill(NAME)
    page.get_by_label("Phone", exact=True).fill(phone)
    page.get_by_label("Email", exact=True).fill(EMAIL)
    page.get_by_label("Treatment", exact=True).select_option("asclera")
    page.get_by_label("Completed at", exact=True).fill(completed.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Time zone", exact=True).fill(ZONE)
    page.get_by_label("Time zone", exact=True).blur()  # its suggestions closed, as a person
    # closes them: on a phone, left open, they take the next tap (the Enroll button)
    page.get_by_label("Language", exact=True).select_option(label="Spanish (español)")
    page.get_by_label("Send texts", exact=True).check()
    page.get_by_label("Send emails", exact=True).check()


def open_enroll(page: Page, site: Site, screenshot: Callable[[Page, str], Path]) -> None:
    """Log in as staff and follow the nav's Enroll link, a picture of each page on the way."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    screenshot(page, "login")
    log_in(page, site.staff, site.password)
    expect(page).to_have_url(site.base_url + "/")
    screenshot(page, "home")
    follow_nav(page, "Enroll")
    expect(page).to_have_url(site.base_url + "/enroll")
    expect(page.get_by_role("heading", name="Enroll a session")).to_be_visible()


def message_row(page: Page, step: str, channel: str):
    """The timeline's row of one planned message, found by its step and channel cells (by
    their text: on a phone a cell's name also carries its column's, "Step: ...")."""

    def cell(text: str):
        return page.locator("td").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))

    return page.locator("tbody tr").filter(has=cell(step)).filter(has=cell(channel))


@pytest.mark.parametrize("page", ["desktop", "tablet", "phone"], indirect=True)
def test_staff_enroll_a_patient_and_land_on_their_planned_messages(
    page: Page, site: Site, screenshot
) -> None:
    completed = completed_an_hour_ago()
    started = time.monotonic()
    open_enroll(page, site, screenshot)
    expect_styled(page)
    expect_no_sideways_scroll(page)
    screenshot(page, "enroll-empty")

    fill_enroll_form(page, phone=PHONE, completed=completed)
    screenshot(page, "enroll-filled")
    page.get_by_role("button", name="Enroll", exact=True).click()

    expect(page).to_have_url(re.compile(r"/patients/\d+\?enrolled=\d+$"))
    expect(page.get_by_role("heading", name=NAME)).to_be_visible()
    expect(message_row(page, "Day 1 restrictions", "SMS")).to_have_count(1)
    took = time.monotonic() - started
    print(f"\nenroll flow in the browser ({page.viewport_size}): {took:.1f} s")

    expect(page.get_by_text("times in Madrid (Europe) · Spanish")).to_be_visible()

    # Steps of the plan by channel, due at the patient's local time: right away, or on day N
    # (day 0 is the session's own) at the plan's hour.
    def on_day(n: int, hour: int) -> datetime:
        return datetime.combine(completed.date() + timedelta(n), dt_time(hour), completed.tzinfo)

    due = {
        ("Aftercare instructions", "SMS"): completed,
        ("Aftercare instructions", "Email"): completed,
        ("Day 1 restrictions", "SMS"): on_day(1, 9),
        ("Day 2 restrictions", "SMS"): on_day(2, 9),
        ("What is normal", "Email"): on_day(7, 10),
        ("Book the next session", "SMS"): on_day(42, 10),
    }
    for (step, channel), moment in due.items():
        row = message_row(page, step, channel)
        expect(row).to_have_count(1)
        expect(row).to_contain_text(patient_time(moment))
        expect(row).to_contain_text("planned")
    expect_no_sideways_scroll(page)
    screenshot(page, "timeline")


def test_a_bad_phone_is_shown_beside_its_field_keeping_what_was_typed(
    page: Page, site: Site, screenshot
) -> None:
    completed = completed_an_hour_ago()
    open_enroll(page, site, screenshot)
    fill_enroll_form(page, phone="555", completed=completed)
    page.get_by_role("button", name="Enroll", exact=True).click()

    phone = page.get_by_label("Phone", exact=True)
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description(re.compile("'555' is not a valid number"))
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(phone).to_be_focused()
    expect(phone).to_have_value("555")
    expect(page.get_by_label("Name", exact=True)).to_have_value(NAME)
    expect(page.get_by_label("Email", exact=True)).to_have_value(EMAIL)
    expect(page.get_by_label("Treatment", exact=True)).to_have_value("asclera")
    expect(page.get_by_label("Time zone", exact=True)).to_have_value(ZONE)
    expect(page.get_by_label("Language", exact=True)).to_have_value("es")
    expect(page.get_by_label("Completed at", exact=True)).to_have_value(
        completed.strftime("%Y-%m-%dT%H:%M")
    )
    expect(page.get_by_label("Name", exact=True)).not_to_have_attribute("aria-invalid", "true")
    screenshot(page, "bad-phone")

    phone.fill(PHONE)  # corrected, the same form enrolls
    page.get_by_role("button", name="Enroll", exact=True).click()
    expect(page).to_have_url(re.compile(r"/patients/\d+\?enrolled=\d+$"))
    screenshot(page, "corrected")


def test_staff_find_the_patient_then_pause_them_from_the_timeline(
    page: Page, site: Site, screenshot
) -> None:
    open_enroll(page, site, screenshot)
    fill_enroll_form(page, phone=PHONE, completed=completed_an_hour_ago())
    page.get_by_role("button", name="Enroll", exact=True).click()
    expect(page).to_have_url(re.compile(r"/patients/\d+\?enrolled=\d+$"))
    timeline = page.url.split("?")[0]  # the search links to the page itself

    follow_nav(page, "Patients")
    page.get_by_role("searchbox", name="Name, email or phone").fill("fernández")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"/patients\?q="))
    expect(page.get_by_text("Patients matching “fernández”")).to_be_visible()
    screenshot(page, "search")
    page.get_by_role("link", name=NAME).click()
    expect(page).to_have_url(timeline)
    screenshot(page, "timeline")

    page.get_by_role("button", name="Pause all messages").click()  # asks first
    expect(page.get_by_text("Nothing is sent until someone resumes")).to_be_visible()
    page.get_by_role("button", name="Yes, pause").click()
    expect(page.get_by_role("status")).to_contain_text("Paused: nothing is sent to this patient")
    expect(page.get_by_role("button", name="Resume")).to_be_visible()
    expect(message_row(page, "Day 1 restrictions", "SMS")).to_contain_text(
        "held while the patient is paused"
    )
    screenshot(page, "paused")
