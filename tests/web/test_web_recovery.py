"""Recovering an account through the pages, end to end on both databases: a person changes
their own password and name at /account; an admin makes a one-time reset link (shown once,
a day, audited) and enables a disabled account; the link sets a password and logs in once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import PasswordReset, User
from reminders.web.app import create_app
from tests.support.outbox_rows import OutboxRows
from tests.support.settings import utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    PASSWORD,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

NOW = utc(2026, 3, 10, 18, 0)
ADMIN, STAFF = "ana@example.com", "bo@example.com"
NEW = "a brand new passphrase"


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: MovableClock):
    make_user(engine, ADMIN, "admin", now=NOW)
    make_user(engine, STAFF, "staff", now=NOW)
    return create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)


def client_of(app) -> TestClient:
    return TestClient(app, follow_redirects=False)


def signed_in(app, email: str, password: str = PASSWORD) -> TestClient:
    client = client_of(app)
    assert log_in(client, email, password).status_code == 303
    return client


def post(client: TestClient, path: str, page: str = "/", **data: str):
    return client.post(path, data={**data, "csrf_token": csrf_of(client.get(page).text)})


def user_id(engine: Engine, email: str) -> int:
    with session_scope(engine) as session:
        return session.exec(select(User.id).where(User.email == email)).one() or 0


def reset_link(page: str) -> str:
    found = re.search(r'id="reset-url" readonly value="[^"]*(/reset/[^"]+)"', page)
    assert found, "no reset link shown"
    return found.group(1)


def test_staff_change_their_own_password_after_giving_the_current_one(app, engine):
    bo = signed_in(app, STAFF)
    assert "My account" in bo.get("/").text
    wrong = post(bo, "/account/password", "/account", current="not it", password=NEW,
                 password_again=NEW)  # fmt: skip
    assert wrong.status_code == 400
    assert "That is not your current password." in wrong.text
    differ = post(bo, "/account/password", "/account", current=PASSWORD, password=NEW,
                  password_again=NEW + "!")  # fmt: skip
    assert "type the same one twice" in differ.text
    done = post(bo, "/account/password", "/account", current=PASSWORD, password=NEW,
                password_again=NEW)  # fmt: skip
    assert done.headers["location"] == "/account?done=password"
    assert log_in(client_of(app), STAFF, PASSWORD).status_code == 401
    assert log_in(client_of(app), STAFF, NEW).status_code == 303
    assert (STAFF, "password_changed") in [(e.actor, e.action) for e in audit(engine)]


def test_a_display_name_is_saved_and_shown_in_the_audit_log_instead_of_the_email(app, engine):
    bo = signed_in(app, STAFF)
    long = post(bo, "/account/name", "/account", name="B" * 101)
    assert long.status_code == 400 and "at most 100 characters" in long.text
    assert post(bo, "/account/name", "/account", name="  Bo   Chen ").status_code == 303
    assert 'value="Bo Chen"' in bo.get("/account").text
    log = signed_in(app, ADMIN).get("/admin/audit").text
    assert "Bo Chen set the name shown for" in log
    assert "Bo Chen logged in." in log


def test_an_admin_makes_a_reset_link_shown_once_that_works_once_within_a_day(app, engine, clock):
    ana = signed_in(app, ADMIN)
    bo_session = signed_in(app, STAFF)
    bo = user_id(engine, STAFF)
    page = post(ana, f"/admin/users/{bo}/reset-link", "/admin/users")
    assert page.status_code == 200
    link = reset_link(page.text)
    assert page.headers["referrer-policy"] == "no-referrer"
    assert link not in ana.get("/admin/users").text  # shown once
    with session_scope(engine) as session:
        stored = session.exec(select(PasswordReset)).one()
        assert link.rsplit("/", 1)[1] not in stored.token_hash  # only its hash is kept
    visitor = client_of(app)
    form = visitor.get(link)
    assert form.status_code == 200 and STAFF in form.text
    short = visitor.post(link, data={"password": "short", "password_again": "short",
                                     "csrf_token": csrf_of(form.text)})  # fmt: skip
    assert short.status_code == 400 and "at least 12 characters" in short.text
    done = visitor.post(link, data={"password": NEW, "password_again": NEW,
                                    "csrf_token": csrf_of(form.text)})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert visitor.get("/").status_code == 200  # logged in by the link
    assert bo_session.get("/").status_code == 303  # the old sessions ended
    assert client_of(app).get(link).status_code == 404  # used: dead
    assert log_in(client_of(app), STAFF, NEW).status_code == 303
    actions = [(e.actor, e.action) for e in audit(engine)]
    assert (ADMIN, "password_reset_issued") in actions and (STAFF, "password_reset_used") in actions
    later = reset_link(post(ana, f"/admin/users/{bo}/reset-link", "/admin/users").text)
    newer = reset_link(post(ana, f"/admin/users/{bo}/reset-link", "/admin/users").text)
    assert client_of(app).get(later).status_code == 404  # a newer link replaces it
    clock.advance(hours=24)
    assert client_of(app).get(newer).status_code == 404  # a day old: expired


def test_an_admin_enables_a_disabled_user_who_can_then_log_in_again(app, engine):
    ana = signed_in(app, ADMIN)
    bo = user_id(engine, STAFF)
    assert post(ana, f"/admin/users/{bo}/disable", "/admin/users").status_code == 303
    assert log_in(client_of(app), STAFF).status_code == 401
    refused = post(ana, f"/admin/users/{bo}/reset-link", "/admin/users")
    assert refused.status_code == 409 and "enable the account first" in refused.text
    page = ana.get("/admin/users").text
    assert f'aria-label="Enable {STAFF}"' in page
    done = post(ana, f"/admin/users/{bo}/enable", "/admin/users")
    assert done.headers["location"] == "/admin/users?done=enabled"
    assert log_in(client_of(app), STAFF).status_code == 303
    again = post(ana, f"/admin/users/{bo}/enable", "/admin/users")
    assert again.headers["location"] == "/admin/users?done=already_enabled"
    assert "enabled the account of" in ana.get("/admin/audit").text


def test_a_reset_link_that_was_never_made_is_not_found(app):
    assert client_of(app).get("/reset/not-a-real-token").status_code == 404
    page = client_of(app).get("/reset/x").text
    assert "This link is not valid" in page


def test_the_patients_page_names_staff_by_their_display_name(app, engine):
    """What someone did is shown under their name once they have one (here: a pause)."""
    rows = OutboxRows(engine, now=NOW)
    bo = signed_in(app, STAFF)
    assert post(bo, "/account/name", "/account", name="Bo Chen").status_code == 303
    page = f"/patients/{rows.patient_id}"
    assert post(bo, f"{page}/pause", page).status_code == 303
    assert "by Bo Chen: nothing is sent" in bo.get(page).text


def test_an_admin_clears_a_login_lock_from_the_users_page(app, engine, clock):
    """Locked out after wrong passwords, a user is marked so; one click lets them in again."""
    for _ in range(10):  # spaced past each wait, so every one counts
        log_in(client_of(app), STAFF, "not the password")
        clock.advance(seconds=61)
    assert log_in(client_of(app), STAFF).status_code != 303  # locked, even with the password
    ana = signed_in(app, ADMIN)
    page = ana.get("/admin/users").text
    assert "active, locked out after failed logins" in page
    bo = user_id(engine, STAFF)
    assert f'action="/admin/users/{bo}/unlock"' in page
    done = post(ana, f"/admin/users/{bo}/unlock", "/admin/users")
    assert done.headers["location"] == "/admin/users?done=unlocked"
    assert "locked out" not in ana.get("/admin/users").text
    assert log_in(client_of(app), STAFF).status_code == 303
    again = post(ana, f"/admin/users/{bo}/unlock", "/admin/users")
    assert again.headers["location"] == "/admin/users?done=not_locked"
    assert [e.action for e in audit(engine)].count("login_unlocked") == 1
    assert "cleared the login lock of" in ana.get("/admin/audit").text


def test_role_changes_and_key_revocations_ask_first(app, engine):
    """The role's choice and the key's revocation sit behind a confirmation, as disabling does."""
    ana = signed_in(app, ADMIN)
    page = ana.get("/admin/users").text
    bo = user_id(engine, STAFF)
    confirm = re.search(
        rf'<details class="confirm">\s*<summary[^>]*>Change role</summary>\s*'
        rf'<form method="post" action="/admin/users/{bo}/role">.*?Yes, change role',
        page,
        re.S,
    )
    assert confirm, "no confirmation around the role change"
    assert post(ana, "/admin/api-keys", "/admin/api-keys", label="Front desk").status_code == 201
    keys = ana.get("/admin/api-keys").text
    assert re.search(r'<summary[^>]*>Revoke</summary>\s*<form method="post" '
                     r'action="/admin/api-keys/\d+/revoke">.*?Yes, revoke', keys, re.S)  # fmt: skip
