"""Logging in and out in a real browser: the labelled form, the error, the 403 page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import Site, expect_styled, log_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("page", ["desktop", "tablet"], indirect=True)
def test_staff_logs_in_sees_home_and_logs_out(page: Page, site: Site, screenshot) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect_styled(page)
    screenshot(page, "login")

    log_in(page, site.staff, site.password)
    expect(page).to_have_url(site.base_url + "/")
    expect(page.get_by_text(f"Signed in as {site.staff}")).to_be_visible()
    expect(page.get_by_role("link", name="Users")).to_have_count(0)  # staff: no admin links
    screenshot(page, "home")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))  # the session is gone
    screenshot(page, "logged-out")


def test_wrong_password_shows_the_error_and_keeps_the_email(
    page: Page, site: Site, screenshot
) -> None:
    page.goto("/login")
    log_in(page, site.staff, "not the password at all")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value(site.staff)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Email")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "wrong-password")


def test_staff_visiting_admin_users_sees_the_403_page(page: Page, site: Site, screenshot) -> None:
    page.goto("/admin/users")
    expect(page).to_have_url(re.compile(r"/login\?next=/admin/users$"))
    log_in(page, site.staff, site.password)
    response = page.goto("/admin/users")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("This page is for admins.")).to_be_visible()
    expect_styled(page)
    screenshot(page, "forbidden")


def test_admin_reaches_admin_users(page: Page, site: Site, screenshot) -> None:
    page.goto("/admin/users")
    log_in(page, site.admin, site.password)
    expect(page).to_have_url(site.base_url + "/admin/users")
    expect(page.get_by_role("cell", name=site.staff, exact=True)).to_be_visible()
    screenshot(page, "admin-users")
