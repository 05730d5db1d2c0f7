"""Every page fits the laptop (1366x900), the tablet (1024x768) and the phone (390x844): no
sideways scroll, every button inside the window, and axe-core finds nothing serious or
critical; a picture of each page at each size is left in var/screenshots/.

One browser per module and one test per size, the pages visited in turn: a page per test
would start a site and a context for each, which a 2-core CI cannot afford.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (
    Site,
    expect_actions_inside,
    expect_no_sideways_scroll,
    expect_styled,
    log_in,
)
from tests.support.clinic_seed import seed_clinic

pytestmark = pytest.mark.browser

SIZES = ["laptop", "tablet", "phone"]


def pages(patient_id: int, number_reply_id: int, saved_reply_id: int) -> dict[str, str]:
    """name -> path: every page staff or an admin opens."""
    return {
        "dashboard": "/",
        "enroll": "/enroll",
        "patients": "/patients?q=Mar",
        "patient": f"/patients/{patient_id}",
        "patient-edit": f"/patients/{patient_id}/edit",
        "inbox": "/inbox?show=all",
        "thread": f"/inbox/{patient_id}",
        "number-thread": f"/inbox/numbers/{number_reply_id}",
        "saved-replies": "/admin/saved-replies",
        "saved-reply-edit": f"/admin/saved-replies/{saved_reply_id}",
        "templates": "/admin/templates",
        "template-sms": "/admin/templates/sclerotherapy/restriction_day_1/sms/en",
        "template-email": "/admin/templates/sclerotherapy/aftercare/email/es",
        "template-answer": "/admin/templates/answers/help/sms/es",
        "care-plans": "/admin/care-plans",
        "care-plan": "/admin/care-plans/sclerotherapy",
        "care-plan-add-step": "/admin/care-plans/sclerotherapy/steps/new",
        "care-plan-remove-step": "/admin/care-plans/sclerotherapy/steps/restriction_day_2/remove",
        "template-new": "/admin/templates/sclerotherapy/restriction_day_1/email/en/new",
        "users": "/admin/users",
        "audit": "/admin/audit",
        "api-keys": "/admin/api-keys",
        "api-docs": "/api/v1/docs",
        "account": "/account",
        "messages": "/messages?status=pending",
        "unplanned": "/messages/unplanned",
    }


def check(page: Page, screenshot: Callable[[Page, str], Path], name: str) -> None:
    expect_no_sideways_scroll(page)
    expect_actions_inside(page)
    screenshot(page, name)  # and axe-core on the page as it is


@pytest.mark.parametrize("page", SIZES, indirect=True)
def test_every_page_fits_the_window(page: Page, site: Site, screenshot) -> None:
    seeded = seed_clinic(site.engine, datetime.now(UTC))
    page.goto("/login")
    check(page, screenshot, "login")
    log_in(page, site.admin, site.password)
    expect(page).to_have_url(site.base_url + "/")
    expect_styled(page)
    for name, path in pages(
        seeded.patient_id, seeded.number_reply_id, seeded.saved_reply_id
    ).items():
        response = page.goto(path)
        assert response is not None and response.status == 200, (name, path)
        check(page, screenshot, name)


@pytest.mark.parametrize("page", ["phone"], indirect=True)
def test_on_a_phone_the_navigation_is_one_line_and_a_menu_without_script(
    page: Page, site: Site, screenshot
) -> None:
    page.goto("/login")
    log_in(page, site.admin, site.password)
    header = page.locator("body > header").bounding_box()
    assert header is not None and header["height"] < 90, header  # one line: name and Menu
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Audit")).to_be_hidden()
    nav.get_by_text("Menu", exact=True).click()
    expect(nav.get_by_role("link", name="Audit")).to_be_visible()
    expect_actions_inside(page)
    screenshot(page, "menu-open")
    nav.get_by_role("link", name="Audit").click()
    expect(page).to_have_url(site.base_url + "/admin/audit")


@pytest.mark.parametrize("page", ["laptop"], indirect=True)
def test_the_keyboard_skips_to_the_content_and_sees_where_its_focus_is(
    page: Page, site: Site, screenshot
) -> None:
    page.goto("/login")
    log_in(page, site.admin, site.password)
    expect(page).to_have_url(site.base_url + "/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["y"] >= 0  # shown once it has the focus
    screenshot(page, "skip-link")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    ring = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert ring[0] == "solid" and ring[1] >= 3, ring
