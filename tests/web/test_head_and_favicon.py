"""`HEAD` answers wherever `GET` does (same status and headers, no body), and `/favicon.ico`
is served: through the real app, signed in as an admin and as nobody."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from reminders.runtime import Runtime
from reminders.web.app import PAGE_ROUTERS, create_app
from tests.support.settings import utc
from tests.support.staff_pages import signed_in
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient, make_user

NOW = utc(2026, 6, 2, 18, 0)
ADMIN = "ana@example.com"
PATHS = ("/favicon.ico", "/static/aftercare.css", "/healthz", "/login", "/api/v1/docs")


@pytest.fixture
def app(runtime: Runtime):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    return create_app(
        runtime.settings, runtime.engine, clock=MovableClock(NOW), passwords=FAST_PASSWORDS
    )


def every_page() -> list[str]:
    """Each GET page without a path parameter, read from the routers themselves."""
    return sorted(
        route.path
        for router in PAGE_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in route.methods and "{" not in route.path
    )


def test_head_answers_as_get_without_a_body_on_every_page(app):
    admin = signed_in(app, ADMIN)
    pages = [*every_page(), "/patients/1", "/admin/care-plans/sclerotherapy"]
    assert "/admin/audit" in pages and "/" in pages
    for path in (*pages, *PATHS):
        got, head = admin.get(path), admin.head(path)
        assert head.status_code == got.status_code != 405, path
        assert head.content == b"", path
        assert head.headers.get("content-type") == got.headers.get("content-type"), path


def test_head_of_a_page_for_someone_not_signed_in_sends_them_to_log_in_as_get_does(app):
    client = TestClient(app, follow_redirects=False)
    head = client.head("/admin/audit")
    assert head.status_code == 303
    assert head.headers["location"] == client.get("/admin/audit").headers["location"]


def test_the_favicon_is_an_icon(app):
    icon = TestClient(app).get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert 'rel="icon" href="/favicon.ico"' in TestClient(app).get("/login").text
