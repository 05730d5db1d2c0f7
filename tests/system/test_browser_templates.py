"""The template editor in a real browser: htmx's live preview as an admin types, save, restore.

Typing goes through the keyboard (`press_sequentially`), so the textarea fires the input
events htmx listens for; each update is waited for with expect(), never a sleep.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import Site, expect_no_sideways_scroll, expect_styled, log_in

pytestmark = pytest.mark.browser

STEP = "Sclerotherapy: Day 1 restrictions, SMS, English"
PATH = "/admin/templates/sclerotherapy/restriction_day_1/sms/en"
LONG = (
    " Drink plenty of water, keep the compression stockings on as you were shown, and walk"
    " for twenty minutes twice a day."
)
TURKISH = " Hoşça kalın!"


def open_editor(page: Page, site: Site, screenshot: Callable[[Page, str], Path]) -> None:
    """Log in as an admin at /admin/templates and follow the day-1 reminder's link."""
    page.goto("/admin/templates")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin/templates$"))
    screenshot(page, "login")
    log_in(page, site.admin, site.password)
    expect(page).to_have_url(site.base_url + "/admin/templates")
    expect(page.get_by_role("heading", name="Message templates")).to_be_visible()
    expect_styled(page)
    expect_no_sideways_scroll(page)
    screenshot(page, "templates")
    page.get_by_role("link", name=f"Edit {STEP}").click()
    expect(page).to_have_url(site.base_url + PATH)


def type_at_end(page: Page, text: str) -> None:
    """Key by key at the end of the template, as an admin types."""
    source = page.get_by_label("Template", exact=True)
    source.focus()
    source.press("Control+End")
    source.press_sequentially(text)


def segments(page: Page) -> int:
    return int(page.locator("#segments").inner_text())


@pytest.mark.parametrize("page", ["desktop", "tablet"], indirect=True)
def test_admin_edits_a_reminder_with_a_live_preview_saves_and_restores(
    page: Page, site: Site, screenshot
) -> None:
    open_editor(page, site, screenshot)
    body, source = page.locator("#preview-body"), page.get_by_label("Template", exact=True)
    original = source.input_value()
    expect(body).to_contain_text("Good morning, ")
    expect(page.locator("#encoding")).to_have_text("GSM-7")
    expect(page.locator("#version-in-use")).to_have_text("1")
    before = segments(page)
    screenshot(page, "editor")

    type_at_end(page, LONG)
    expect(body).to_contain_text("twenty minutes twice a day.")
    assert segments(page) > before
    screenshot(page, "longer")

    longer = segments(page)
    type_at_end(page, TURKISH)  # ş is not GSM-7: the whole SMS becomes UCS-2
    expect(body).to_contain_text(TURKISH.strip())
    expect(page.locator("#encoding")).to_have_text("UCS-2")
    expect(page.locator("#ucs2-characters")).to_contain_text("LATIN SMALL LETTER S WITH CEDILLA")
    expect(page.locator("#ucs2-characters")).to_contain_text("U+015F")
    assert segments(page) > longer  # 70 characters a segment instead of 160
    expect_no_sideways_scroll(page)
    screenshot(page, "ucs2")

    for _ in TURKISH:
        source.press("Backspace")
    expect(page.locator("#encoding")).to_have_text("GSM-7")
    expect(page.locator("#ucs2-characters")).to_have_count(0)
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(site.base_url + PATH + "?done=saved")
    expect(page.get_by_role("status")).to_have_text("Saved: new messages use this version.")
    expect(page.locator("#version-in-use")).to_have_text("2")
    expect(source).to_have_value(re.compile(re.escape(LONG.strip()) + r"\s*$"))
    history = page.get_by_role("region", name="History")
    expect(history.get_by_role("cell", name="2 — in use")).to_be_visible()
    expect(history.get_by_role("button", name="Restore version 1")).to_be_visible()
    screenshot(page, "saved")

    history.get_by_role("button", name="Restore version 1").click()
    expect(page).to_have_url(site.base_url + PATH + "?done=restored")
    expect(page.get_by_role("status")).to_have_text("Restored as a new version.")
    expect(page.locator("#version-in-use")).to_have_text("3")
    expect(source).to_have_value(original)
    expect(body).not_to_contain_text("twenty minutes")
    expect(history.get_by_role("button", name="Restore version 2")).to_be_visible()
    screenshot(page, "restored")


def test_a_source_the_sandbox_refuses_shows_the_problem_and_is_not_saved(
    page: Page, site: Site, screenshot
) -> None:
    open_editor(page, site, screenshot)
    type_at_end(page, " {{ ''.__class__.__mro__ }}")
    problem = page.locator("#template-problem")
    expect(problem).to_be_visible()
    expect(page.locator("#preview-body")).to_have_count(0)
    screenshot(page, "refused-preview")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert").first).to_contain_text("Not saved")
    expect(page.get_by_label("Template", exact=True)).to_have_value(
        re.compile(re.escape("{{ ''.__class__.__mro__ }}") + r"\s*$")
    )  # what was typed is kept
    expect(page.locator("#version-in-use")).to_have_text("1")
    screenshot(page, "refused-save")
