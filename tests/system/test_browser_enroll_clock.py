"""The enroll form in a real browser: "Completed at" says how long ago it was set, and the
words move with the page's clock (static/enroll.js, allowed by the CSP: a refused script would
be a console error and fail the test); an admin's navigation is one row on a laptop, the
admin pages in its "Admin" menu."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import Site, log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("page", ["laptop"], indirect=True)
def test_completed_at_says_how_long_ago_it_was_set(page: Page, site: Site, screenshot) -> None:
    page.clock.install()  # the page's timers and Date run on a clock the test moves
    page.goto("/enroll")
    log_in(page, site.admin, site.password)
    nav = page.get_by_role("navigation", name="Main")
    links = nav.locator("ul.nav-wide > li")
    tops = {round(box["y"]) for box in (links.nth(i).bounding_box() for i in range(links.count()))
            if box is not None}  # fmt: skip
    assert max(tops) - min(tops) < 16, f"the navigation wraps at 1366 px: tops {sorted(tops)}"
    nav.get_by_text("Admin", exact=True).click()
    expect(nav.get_by_role("link", name="Care plans")).to_be_visible()
    screenshot(page, "admin-menu")
    nav.get_by_text("Admin", exact=True).click()

    age = page.locator("#f-completed_at-age")
    expect(age).to_have_text("set just now")
    page.clock.run_for("02:05")
    expect(age).to_have_text("set 2 min ago")
    page.get_by_label("Completed at").fill("2026-12-05T10:30")
    expect(age).to_have_text("set just now")
    screenshot(page, "set-just-now")
