"""`/admin/api-keys`: admins make and revoke practice systems' keys; staff and strangers cannot."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlmodel import select

from reminders.store.accounts import digest
from reminders.store.db import session_scope
from reminders.store.models import ApiKey
from reminders.web import admin_api_keys
from reminders.web.app import PAGE_ROUTERS
from tests.support.settings import utc
from tests.support.web_accounts import (
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

NOW = utc(2026, 11, 3, 12, 0)
ADMIN, STAFF = "ana@example.com", "bo@example.com"
PAGE = "/admin/api-keys"
SECRET = re.compile(r'<code id="new-key">(ak_[A-Za-z0-9_-]{43})</code>')
SESSION = {
    "name": "Maria Lopez",
    "phone": "+13105550142",
    "treatment": "asclera",
    "completed_at": "2026-11-02T14:30:00-08:00",
}


@pytest.fixture
def accounts(engine: Engine) -> dict[str, int]:
    return {
        ADMIN: make_user(engine, ADMIN, "admin", now=NOW),
        STAFF: make_user(engine, STAFF, "staff", now=NOW),
    }


def signed_in(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert log_in(client, email).status_code == 303
    return client


@pytest.fixture
def admin(app, accounts) -> Iterator[TestClient]:
    yield signed_in(app, ADMIN)


def make_key(admin: TestClient, label: str = "Front desk PMS"):
    token = csrf_of(admin.get(PAGE).text)
    return admin.post(PAGE, data={"label": label, "csrf_token": token})


def secret_of(response) -> str:
    found = SECRET.search(response.text)
    assert found, "no new key on the page"
    return found.group(1)


def keys(engine: Engine) -> list[ApiKey]:
    with session_scope(engine) as session:
        return list(session.exec(select(ApiKey).order_by(ApiKey.id)))  # type: ignore[arg-type]


def enroll_with(client: TestClient, secret: str):
    return client.post(
        "/api/v1/sessions", json=SESSION, headers={"Authorization": f"Bearer {secret}"}
    )


# -- making a key -----------------------------------------------------------------------------


def test_an_admin_makes_a_key_shown_once_and_stored_only_as_a_hash(admin, engine):
    made = make_key(admin)
    assert made.status_code == 201
    secret = secret_of(made)
    assert "shown only this once" in made.text
    [row] = keys(engine)
    assert (row.label, row.created_by, row.created_at) == ("Front desk PMS", ADMIN, NOW)
    assert row.secret_hash == digest(secret) and secret not in row.secret_hash
    assert row.prefix == secret[:9] and len(secret) == 46
    listing = admin.get(PAGE).text
    assert secret not in listing
    assert f"<code>{row.prefix}…</code>" in listing and "Front desk PMS" in listing
    assert made.headers["cache-control"] == "no-store"


def test_the_new_key_enrolls_through_the_api_and_its_use_shows(app, admin, clock):
    secret = secret_of(make_key(admin))
    assert "never" in admin.get(PAGE).text
    clock.advance(minutes=5)
    with TestClient(app) as api:
        assert enroll_with(api, secret).status_code == 201
    assert "2026-11-03 12:05" in admin.get(PAGE).text


@pytest.mark.parametrize(
    ("label", "status", "words"),
    [
        ("", 400, "needs a label of 1 to 60 characters"),
        ("   ", 400, "needs a label"),
        ("x" * 61, 400, "1 to 60 characters"),
        ("PMS\u200b", 400, "control or invisible characters"),
        ("Front desk PMS", 409, "already a key labelled"),
    ],
)
def test_a_bad_or_taken_label_says_why_and_makes_nothing(admin, engine, label, status, words):
    make_key(admin)
    response = make_key(admin, label)
    assert response.status_code == status
    assert words in response.text
    assert not SECRET.search(response.text)
    assert len(keys(engine)) == 1


def test_a_revoked_keys_label_stays_taken_so_the_audit_names_one_key(admin, engine):
    make_key(admin)
    token = csrf_of(admin.get(PAGE).text)
    admin.post(f"{PAGE}/{keys(engine)[0].id}/revoke", data={"csrf_token": token})
    assert make_key(admin).status_code == 409


# -- revoking ---------------------------------------------------------------------------------


def test_a_revoked_key_is_refused_at_once_and_the_page_says_so(app, admin, engine):
    secret = secret_of(make_key(admin))
    key_id = keys(engine)[0].id
    token = csrf_of(admin.get(PAGE).text)
    revoked = admin.post(f"{PAGE}/{key_id}/revoke", data={"csrf_token": token})
    assert (revoked.status_code, revoked.headers["location"]) == (303, f"{PAGE}?done=revoked")
    page = admin.get(revoked.headers["location"]).text
    assert "Key revoked" in page and "revoked 2026-11-03 12:00" in page
    assert f'action="{PAGE}/{key_id}/revoke"' not in page
    with TestClient(app) as api:
        assert enroll_with(api, secret).status_code == 401


def test_revoking_twice_changes_nothing_more_and_an_unknown_key_is_404(admin, engine):
    make_key(admin)
    key_id = keys(engine)[0].id
    token = csrf_of(admin.get(PAGE).text)
    admin.post(f"{PAGE}/{key_id}/revoke", data={"csrf_token": token})
    again = admin.post(f"{PAGE}/{key_id}/revoke", data={"csrf_token": token})
    assert again.status_code == 303
    assert [e.action for e in audit(engine)].count("api_key_revoke") == 1
    missing = admin.post(f"{PAGE}/999/revoke", data={"csrf_token": token})
    assert missing.status_code == 404
    assert "There is no API key 999." in missing.text


def test_making_and_revoking_are_audited_with_the_admin_and_never_the_key(admin, engine, caplog):
    caplog.set_level(logging.DEBUG)
    secret = secret_of(make_key(admin))
    row = keys(engine)[0]
    token = csrf_of(admin.get(PAGE).text)
    admin.post(f"{PAGE}/{row.id}/revoke", data={"csrf_token": token})
    events = [(e.actor, e.action, e.entity, e.entity_id, e.at) for e in audit(engine)]
    assert events[-2:] == [
        (ADMIN, "api_key_create", "api_key", row.id, NOW),
        (ADMIN, "api_key_revoke", "api_key", row.id, NOW),
    ]
    details = " ".join(str(e.detail) for e in audit(engine))
    assert secret not in details and row.secret_hash not in details
    assert secret not in caplog.text and ADMIN not in caplog.text


# -- who may --------------------------------------------------------------------------------


def routes() -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for route in admin_api_keys.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    ]


def test_the_page_is_a_page_router_so_the_login_and_csrf_walkers_cover_it():
    assert admin_api_keys.router in PAGE_ROUTERS
    revoke = f"{PAGE}/{{key_id}}/revoke"
    assert sorted(routes()) == [("GET", PAGE), ("POST", PAGE), ("POST", revoke)]


def test_staff_are_refused_every_route_and_strangers_sent_to_login(app, engine, accounts):
    staff = signed_in(app, STAFF)
    token = csrf_of(staff.get("/").text)
    stranger = TestClient(app, follow_redirects=False)
    for method, path in routes():
        path = path.replace("{key_id}", "1")
        data = {"label": "Staff's own", "csrf_token": token} if method == "POST" else None
        assert staff.request(method, path, data=data).status_code == 403, (method, path)
        anonymous = stranger.request(method, path)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    assert keys(engine) == []


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(admin, engine):
    make_key(admin)
    key_id = keys(engine)[0].id
    for path, data in [(PAGE, {"label": "Another"}), (f"{PAGE}/{key_id}/revoke", {})]:
        for token in (None, "forged"):
            sent = data if token is None else {**data, "csrf_token": token}
            assert admin.post(path, data=sent).status_code == 403, path
    [row] = keys(engine)
    assert row.revoked_at is None


def test_admins_see_api_keys_in_the_nav_and_staff_do_not(app, admin, accounts):
    assert f'<a href="{PAGE}">API keys</a>' in admin.get("/").text
    assert f'href="{PAGE}"' not in signed_in(app, STAFF).get("/").text
