"""The on-call list in a real browser: an admin adds a night contact with an overnight span,
then makes them always on call; the page holds at phone size and passes axe."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from reminders.store.models import OnCallContact
from tests.support.browser import Site, expect_no_sideways_scroll, expect_styled, log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("page", ["desktop", "phone"], indirect=True)
def test_an_admin_keeps_the_on_call_list(page: Page, site: Site, screenshot) -> None:
    page.goto("/admin/on-call")
    log_in(page, site.admin, site.password)
    expect(page.get_by_role("heading", name="On call", level=1)).to_be_visible()
    expect(page.get_by_text("Nobody is on call now")).to_be_visible()
    page.get_by_label("Name").fill("Dr Night")
    page.get_by_label("Phone (paged by SMS)").fill("(310) 555-0102")
    page.get_by_label("Monday from").fill("18:00")
    page.get_by_label("Monday to").fill("08:00")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("Contact added.")).to_be_visible()
    expect(page.get_by_role("cell", name="Mon 18:00–08:00 (overnight)")).to_be_visible()
    expect_styled(page)
    expect_no_sideways_scroll(page)
    screenshot(page, "added")

    page.get_by_role("link", name="Edit Dr Night").click()
    page.get_by_label("Always").check()
    page.get_by_label("Monday from").fill("")
    page.get_by_label("Monday to").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Contact saved.")).to_be_visible()
    expect(page.get_by_text("On call now: Dr Night")).to_be_visible()
    screenshot(page, "always")
    with Session(site.engine) as session:
        contact = session.exec(select(OnCallContact)).one()
    assert (contact.phone, contact.hours) == ("+13105550102", "always")

    page.get_by_role("button", name="Remove Dr Night").click()
    expect(page.get_by_text("Contact removed.")).to_be_visible()
    expect(page.get_by_text("Nobody yet.")).to_be_visible()
