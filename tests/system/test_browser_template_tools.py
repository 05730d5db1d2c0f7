"""The template editor's tools in a real browser: an admin sets their phone, sends themselves a
test of what they typed (htmx keeps the text), saves, and compares the two versions; the diff
page fits the laptop, the tablet and the phone (one browser, the sizes in turn)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import (
    VIEWPORTS,
    Site,
    expect_actions_inside,
    expect_no_sideways_scroll,
    log_in,
)

pytestmark = pytest.mark.browser

PATH = "/admin/templates/sclerotherapy/restriction_day_1/sms/en"
ADDED = " Drink plenty of water."


@pytest.mark.parametrize("page", ["laptop"], indirect=True)
def test_admin_sends_a_test_of_an_edit_then_compares_the_versions(
    page: Page, site: Site, screenshot
) -> None:
    page.goto("/login")
    log_in(page, site.admin, site.password)
    page.goto("/account")
    page.get_by_label("Mobile number").fill("+1 415 555 0142")
    page.get_by_role("button", name="Save phone").click()
    expect(page.get_by_role("status")).to_have_text("Your phone number is saved.")

    page.goto(PATH)
    source = page.get_by_label("Template", exact=True)
    source.focus()
    source.press("Control+End")
    source.press_sequentially(ADDED)
    expect(page.locator("#preview-body")).to_contain_text(ADDED.strip())
    page.get_by_role("button", name="Send me a test").click()
    answer = page.locator("#test-send-answer")
    expect(answer).to_contain_text("Test sent to your phone +14155550142")
    assert source.input_value().endswith(ADDED)  # the editor kept what was typed
    screenshot(page, "test-sent")

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#version-in-use")).to_have_text("2")
    page.get_by_role("link", name="Compare versions").click()
    expect(page.get_by_role("heading", name="Version 1 → version 2")).to_be_visible()
    expect(page.locator("ol.diff ins")).to_contain_text("water.")
    for size in ("laptop", "tablet", "phone"):
        page.set_viewport_size(VIEWPORTS[size])  # type: ignore[arg-type]
        expect_no_sideways_scroll(page)
        expect_actions_inside(page)
        screenshot(page, f"compare-{size}")
