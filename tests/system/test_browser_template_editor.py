"""The template editor's form in a real browser: a placeholder button inserts at the cursor
and the preview follows; the email shows in its sandboxed frame and the SMS as a bubble, at a
laptop's, a tablet's and a phone's size (no sideways scroll, axe clean, pictures kept).

One test, the sizes visited in turn: a site and a context per size would cost a 2-core CI more.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import VIEWPORTS, Site, expect_no_sideways_scroll, log_in

pytestmark = pytest.mark.browser

EMAIL = "/admin/templates/sclerotherapy/aftercare/email/en"
SMS = "/admin/templates/sclerotherapy/restriction_day_1/sms/en"


def test_placeholders_insert_at_the_cursor_and_both_previews_fit_every_size(
    page: Page, site: Site, screenshot
) -> None:
    page.goto("/login")
    log_in(page, site.admin, site.password)
    # The first preview spawns the render pool's worker process, slow on a loaded machine.
    page.goto(EMAIL, timeout=30_000)
    subject = page.get_by_label("Subject", exact=True)
    expect(subject).to_have_value("Your aftercare instructions from {{ clinic_name }}")
    text = page.get_by_label("Email text", exact=True)
    expect(text).not_to_contain_text("{#")
    frame = page.frame_locator("#preview-frame")
    expect(frame.get_by_text("Thank you for visiting Fine Touch Dermatology")).to_be_visible()

    text.focus()
    text.press("Control+Home")
    text.press_sequentially("Dear ")
    page.get_by_role("button", name="Patient's first name").click()
    assert text.input_value().startswith("Dear {{ first_name }}Hi {{ first_name }},")
    expect(frame.get_by_text("Dear MariaHi Maria,")).to_be_visible()  # the preview followed
    subject.focus()
    subject.press("End")
    page.get_by_role("button", name="Patient's first name").click()
    expect(subject).to_have_value(
        "Your aftercare instructions from {{ clinic_name }}{{ first_name }}"
    )
    expect(page.locator("#preview-subject")).to_have_text(
        "Your aftercare instructions from Fine Touch DermatologyMaria"
    )

    for size in ("laptop", "tablet", "phone"):
        page.set_viewport_size(VIEWPORTS[size])  # type: ignore[arg-type]
        for name, path in (("email", EMAIL), ("sms", SMS)):
            page.goto(path)
            shown = page.frame_locator("#preview-frame") if name == "email" else page
            expect(shown.get_by_text("Fine Touch Dermatology").first).to_be_visible()
            page.locator("#preview").scroll_into_view_if_needed()  # a frame off screen is
            # left unpainted in a full-page picture
            expect_no_sideways_scroll(page)
            screenshot(page, f"{name}-{size}")
        expect(page.locator("#preview-body")).to_contain_text("Fine Touch Dermatology")
        expect(page.locator("#segment-count")).to_have_text("1 segment")
