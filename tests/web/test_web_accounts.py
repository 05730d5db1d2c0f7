"""Accounts and access over HTTP: the role matrix, sessions, cookies, CSRF, throttling, setup."""

from __future__ import annotations

import logging
import re
import sqlite3

import pytest
from fastapi.routing import APIRoute
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.engine import Engine
from sqlmodel import select

from reminders.runtime import migrate
from reminders.settings import SettingsError, load_settings
from reminders.store.accounts import issue_setup_token
from reminders.store.db import make_engine, session_scope
from reminders.store.models import LoginThrottle, User, WebSession
from reminders.web.app import PAGE_ROUTERS, create_app
from reminders.web.auth import PRESESSION_COOKIE, SESSION_COOKIE
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    PASSWORD,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
    users,
)

NOW = utc(2026, 3, 10, 18, 0)
ADMIN, STAFF = "ana@example.com", "bo@example.com"
SECRET = "accounts-test-secret-0123456789"


def browser(app, base_url: str = "http://testserver") -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False)


@pytest.fixture
def accounts(engine: Engine) -> dict[str, int]:
    return {
        ADMIN: make_user(engine, ADMIN, "admin", now=NOW),
        STAFF: make_user(engine, STAFF, "staff", now=NOW),
    }


def signed_in(app, email: str) -> TestClient:
    client = browser(app)
    assert log_in(client, email).status_code == 303
    return client


def page_routes() -> list[APIRoute]:
    return [
        route for router in PAGE_ROUTERS for route in router.routes if isinstance(route, APIRoute)
    ]


PATH_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def concrete(path: str, **values: object) -> str:
    """A route's path with its parameters filled in (`{user_id}`, `{patient_id:int}`): the
    given value, else 1. The checks run before any lookup, so the id need not exist."""
    return PATH_PARAM.sub(lambda found: str(values.get(found.group(1), 1)), path)


# -- the login page ---------------------------------------------------------------------------


def test_login_page_has_labelled_email_and_password_fields_and_a_log_in_button(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.text
    assert re.search(r'<label for="email">Email</label>\s*<input id="email" name="email"', html)
    assert re.search(r'<label for="password">Password</label>\s*<input id="password"', html)
    assert 'type="password"' in html
    assert '<button type="submit">Log in</button>' in html
    assert '<link rel="stylesheet" href="/static/pico.min.css">' in html
    assert client.get("/static/pico.min.css").status_code == 200


def test_a_wrong_password_or_unknown_email_gets_the_same_answer(client, accounts):
    wrong = log_in(client, ADMIN, "not the password at all")
    unknown = log_in(client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.text
    assert "Wrong email or password." in unknown.text
    assert client.get("/").status_code == 303


def test_a_disabled_user_cannot_log_in(app, engine, accounts):
    with session_scope(engine) as session:
        user = session.get(User, accounts[STAFF])
        user.disabled_at = NOW
        session.add(user)
    response = log_in(browser(app), STAFF)
    assert response.status_code == 401
    assert "Wrong email or password." in response.text


# -- where anonymous visitors go ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "login"),
    [
        ("/", "/login"),
        ("/admin/users", "/login?next=/admin/users"),
        ("/patients", "/login?next=/patients"),  # a page still to come: login first all the same
        ("/patients?q=lopez", "/login?next=/patients%3Fq%3Dlopez"),
    ],
)
def test_an_anonymous_visitor_is_sent_to_login_keeping_where_they_were_going(client, path, login):
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == login


def test_every_page_but_the_public_ones_sends_an_anonymous_visitor_to_login(app, client, accounts):
    public = {"/login", "/setup/{token}", "/reset/{token}", "/healthz"}
    checked = 0
    for route in page_routes():
        if route.path in public:
            continue
        path = concrete(route.path, user_id=accounts[STAFF])
        for method in route.methods or ():
            if method == "HEAD":
                continue
            response = client.request(method, path)
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login"), (method, path)
            checked += 1
    assert checked >= 6


def test_public_pages_need_no_login(client):
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/static/pico.min.css").status_code == 200
    assert client.get("/setup/not-a-token").status_code == 404  # answered, not redirected
    assert client.get("/reset/not-a-token").status_code == 404
    assert client.get("/favicon.ico").status_code == 200


@pytest.mark.parametrize(
    ("next_path", "lands_on"),
    [
        ("/admin/users", "/admin/users"),
        ("/patients?q=1", "/patients?q=1"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_returns_only_to_a_local_path(app, accounts, next_path, lands_on):
    response = log_in(browser(app), ADMIN, next=next_path)
    assert response.status_code == 303
    assert response.headers["location"] == lands_on


# -- the role matrix --------------------------------------------------------------------------


def test_staff_see_the_start_page_and_are_refused_admin_pages(app, engine, accounts):
    staff = signed_in(app, STAFF)
    home = staff.get("/")
    assert home.status_code == 200
    assert f"Signed in as <strong>{STAFF}</strong>" in home.text
    assert 'href="/admin/users"' not in home.text
    assert staff.get("/admin/users").status_code == 403
    token = csrf_of(home.text)
    before = users(engine)
    posts = [
        ("/admin/users", {"email": "eve@example.com", "password": PASSWORD, "role": "admin"}),
        (f"/admin/users/{accounts[ADMIN]}/disable", {}),
        (f"/admin/users/{accounts[STAFF]}/role", {"role": "admin"}),
    ]
    for path, data in posts:
        assert staff.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert users(engine) == before


def test_admins_see_the_start_page_and_the_users_page(app, accounts):
    admin = signed_in(app, ADMIN)
    home = admin.get("/")
    assert home.status_code == 200
    assert f"Signed in as <strong>{ADMIN}</strong> (admin)" in home.text
    assert '<button type="submit" class="secondary outline">Log out</button>' in home.text
    listing = admin.get("/admin/users")
    assert listing.status_code == 200
    assert STAFF in listing.text and ADMIN in listing.text
    assert "argon2" not in listing.text


def test_a_signed_in_visitor_to_login_goes_where_they_wanted(app, accounts):
    admin = signed_in(app, ADMIN)
    response = admin.get("/login?next=/admin/users")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/users")


# -- sessions ---------------------------------------------------------------------------------


def test_a_disabled_users_open_session_ends_at_once(app, accounts):
    staff = signed_in(app, STAFF)
    assert staff.get("/").status_code == 200
    admin = signed_in(app, ADMIN)
    token = csrf_of(admin.get("/admin/users").text)
    disabled = admin.post(f"/admin/users/{accounts[STAFF]}/disable", data={"csrf_token": token})
    assert disabled.status_code == 303
    response = staff.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_after_logout_the_old_cookie_is_dead(app, engine, accounts):
    admin = signed_in(app, ADMIN)
    cookie = admin.cookies[SESSION_COOKIE]
    token = csrf_of(admin.get("/").text)
    out = admin.post("/logout", data={"csrf_token": token})
    assert (out.status_code, out.headers["location"]) == (303, "/login")
    assert SESSION_COOKIE not in admin.cookies
    replay = browser(app)
    replay.cookies.set(SESSION_COOKIE, cookie)
    assert replay.get("/").status_code == 303
    with session_scope(engine) as session:
        assert session.exec(select(WebSession)).all() == []


def test_a_session_ends_after_two_idle_hours_and_after_twelve_in_all(app, clock, accounts):
    admin = signed_in(app, ADMIN)
    for _ in range(6):  # active every 110 minutes, for 11 hours
        clock.advance(minutes=110)
        assert admin.get("/").status_code == 200
    clock.advance(minutes=70)  # 12 h 10 min after login, 70 min after the last request
    assert admin.get("/").status_code == 303
    idle = signed_in(app, STAFF)
    clock.advance(hours=2)
    assert idle.get("/").status_code == 303


def test_a_new_login_gets_a_new_session_id(app, accounts):
    client = browser(app)
    client.cookies.set(SESSION_COOKIE, "chosen-by-an-attacker")
    response = log_in(client, ADMIN)
    assert response.status_code == 303
    assert set_cookie_header(response, SESSION_COOKIE).startswith(f"{SESSION_COOKIE}=")
    assert "chosen-by-an-attacker" not in set_cookie_header(response, SESSION_COOKIE)
    planted = browser(app)
    planted.cookies.set(SESSION_COOKIE, "chosen-by-an-attacker")
    assert planted.get("/").status_code == 303


def test_a_role_change_applies_to_an_open_session(app, accounts):
    staff = signed_in(app, STAFF)
    assert staff.get("/admin/users").status_code == 403
    admin = signed_in(app, ADMIN)
    token = csrf_of(admin.get("/admin/users").text)
    admin.post(f"/admin/users/{accounts[STAFF]}/role", data={"role": "admin", "csrf_token": token})
    assert staff.get("/admin/users").status_code == 200


# -- cookies ----------------------------------------------------------------------------------


def set_cookie_header(response, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0].lower()


def test_cookies_are_httponly_and_samesite_lax_and_not_secure_over_http(app, accounts):
    client = browser(app)
    presession = set_cookie_header(client.get("/login"), PRESESSION_COOKIE)
    session = set_cookie_header(log_in(client, ADMIN), SESSION_COOKIE)
    for header in (presession, session):
        assert "httponly" in header
        assert "samesite=lax" in header
        assert "secure" not in header


def test_cookies_are_secure_over_https(app, accounts):
    client = browser(app, "https://testserver")
    presession = set_cookie_header(client.get("/login"), PRESESSION_COOKIE)
    response = log_in(client, ADMIN)
    session = set_cookie_header(response, SESSION_COOKIE)
    assert "secure" in presession and "secure" in session
    assert "httponly" in session and "samesite=lax" in session
    assert client.get("/").status_code == 200


def test_cookies_are_secure_when_the_public_address_is_https(engine, database_url, tmp_path):
    settings = make_settings(database_url, tmp_path, public_base_url="https://care.example.org")
    app = create_app(settings, engine, clock=lambda: NOW, passwords=FAST_PASSWORDS)
    header = set_cookie_header(browser(app).get("/login"), PRESESSION_COOKIE)
    assert "secure" in header and "httponly" in header


# -- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    app, engine, accounts, token
):
    admin = signed_in(app, ADMIN)
    before, audited = users(engine), len(audit(engine))
    data = {"email": "eve@example.com", "password": PASSWORD, "role": "admin"}
    if token is not None:
        data["csrf_token"] = token
    response = admin.post("/admin/users", data=data)
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert users(engine) == before
    assert len(audit(engine)) == audited


def test_another_sessions_csrf_token_is_refused(app, engine, accounts):
    staff_token = csrf_of(signed_in(app, STAFF).get("/").text)
    admin = signed_in(app, ADMIN)
    response = admin.post(
        f"/admin/users/{accounts[STAFF]}/disable", data={"csrf_token": staff_token}
    )
    assert response.status_code == 403
    assert users(engine)[STAFF] == ("staff", True)


def test_every_page_post_needs_a_csrf_token(app, engine, accounts):
    admin = signed_in(app, ADMIN)
    with session_scope(engine) as session:
        token = issue_setup_token(session, NOW)
    before = users(engine)
    posts = [r for r in page_routes() if "POST" in (r.methods or ())]
    for route in posts:
        path = concrete(route.path, user_id=accounts[STAFF], token=token)
        data = {"email": "eve@example.com", "password": PASSWORD, "password_again": PASSWORD}
        response = admin.post(path, data={**data, "role": "admin"})
        assert response.status_code == 403, path
    assert len(posts) >= 6
    assert users(engine) == before
    assert admin.get("/").status_code == 200  # the logout without a token did not log out


def test_the_login_form_needs_the_token_of_this_browsers_cookie(app, accounts):
    mine, theirs = browser(app), browser(app)
    their_token = csrf_of(theirs.get("/login").text)
    mine.get("/login")
    data = {"email": ADMIN, "password": PASSWORD}
    assert mine.post("/login", data=data).status_code == 403
    assert mine.post("/login", data={**data, "csrf_token": their_token}).status_code == 403
    assert SESSION_COOKIE not in mine.cookies


def test_webhooks_and_the_unsubscribe_post_need_no_csrf_token(client):
    # Their own checks answer (no Twilio token configured: 503; a bad unsubscribe token: 400),
    # not the CSRF check's 403 or a redirect to login.
    assert client.post("/webhooks/twilio/inbound", data={"Body": "hi"}).status_code == 503
    assert client.post("/unsubscribe/not-a-token").status_code in (400, 503)


# -- throttling -------------------------------------------------------------------------------


def test_failed_logins_slow_down_then_lock_even_the_right_password_until_the_window_passes(
    app, clock, accounts
):
    client = browser(app)
    for _ in range(3):  # free mistakes
        assert log_in(client, ADMIN, "wrong password!").status_code == 401
    too_soon = log_in(client, ADMIN)  # the right password, but 1 s has not passed
    assert too_soon.status_code == 429
    assert "Too many failed attempts: try again in 1 second." in too_soon.text
    for failures in range(3, 9):  # each wait doubles: 1, 2, 4 ... seconds
        clock.advance(seconds=2 ** (failures - 3))
        assert log_in(client, ADMIN, "wrong password!").status_code == 401
    clock.advance(seconds=64)
    locked = log_in(client, ADMIN, "wrong password!")  # the tenth
    assert locked.status_code == 429
    assert "Too many failed attempts: try again in 15 minutes." in locked.text
    clock.advance(minutes=1)
    still = log_in(client, ADMIN)
    assert still.status_code == 429
    assert "Too many failed attempts: try again in 14 minutes." in still.text
    clock.advance(minutes=14)
    assert log_in(client, ADMIN).status_code == 303


def test_the_lock_is_kept_in_the_database_so_every_process_agrees(
    settings, engine, clock, accounts
):
    first = create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    second = create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)
    for _ in range(10):
        log_in(browser(first), ADMIN, "wrong password!")
        clock.advance(seconds=61)
    refused = log_in(browser(second), ADMIN)
    assert refused.status_code == 429
    assert "Too many failed attempts" in refused.text
    with session_scope(engine) as session:
        rows = session.exec(select(LoginThrottle)).all()
    assert [row.failures for row in rows] == [10, 10, 10]  # everywhere, its address, its account
    assert not [row for row in rows if ADMIN in row.key_hash]


def test_unknown_emails_are_throttled_like_known_ones(app, clock):
    client = browser(app)
    for _ in range(3):
        log_in(client, "nobody@example.com", "wrong password!")
    assert log_in(client, "nobody@example.com").status_code == 429


def test_forgiven_failure_counts_are_deleted_so_guessed_emails_do_not_pile_up(app, engine, clock):
    client = browser(app)
    for n in range(5):
        log_in(client, f"guess{n}@example.com", "wrong password!")
    clock.advance(minutes=15)
    log_in(client, "another@example.com", "wrong password!")
    with session_scope(engine) as session:  # the last failure's: everywhere, address, account
        assert len(session.exec(select(LoginThrottle)).all()) == 3


def test_a_successful_login_forgives_earlier_failures(app, clock, accounts):
    client = browser(app)
    for _ in range(3):
        log_in(client, ADMIN, "wrong password!")
    clock.advance(seconds=1)
    assert log_in(client, ADMIN).status_code == 303
    other = browser(app)
    assert log_in(other, ADMIN, "wrong password!").status_code == 401  # counts from one again
    assert log_in(other, ADMIN).status_code == 303


# -- admins manage accounts -----------------------------------------------------------------


def test_an_admin_adds_a_user_who_can_then_log_in(app, engine, accounts):
    admin = signed_in(app, ADMIN)
    token = csrf_of(admin.get("/admin/users").text)
    data = {"email": "Cy@Example.com", "password": "a long enough one", "role": "staff"}
    added = admin.post("/admin/users", data={**data, "csrf_token": token})
    assert (added.status_code, added.headers["location"]) == (303, "/admin/users?done=added")
    assert "User added." in admin.get(added.headers["location"]).text
    assert users(engine)["cy@example.com"] == ("staff", True)
    assert log_in(browser(app), "cy@example.com", "a long enough one").status_code == 303


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"email": STAFF, "password": PASSWORD, "role": "staff"}, 409, "already a user"),
        ({"email": "not-an-email", "password": PASSWORD, "role": "staff"}, 400, "not a valid"),
        ({"email": "cy@example.com", "password": "short", "role": "staff"}, 400, "12 characters"),
        ({"email": "cy@example.com", "password": PASSWORD, "role": "owner"}, 400, "Role must be"),
    ],
)
def test_adding_a_bad_or_duplicate_user_says_why_and_adds_nothing(
    app, engine, accounts, data, status, message
):
    admin = signed_in(app, ADMIN)
    token = csrf_of(admin.get("/admin/users").text)
    before = users(engine)
    response = admin.post("/admin/users", data={**data, "csrf_token": token})
    assert response.status_code == status
    assert message in response.text
    assert users(engine) == before


def test_the_last_active_admin_can_be_neither_disabled_nor_made_staff(app, engine, accounts):
    admin = signed_in(app, ADMIN)
    token = csrf_of(admin.get("/admin/users").text)
    me = accounts[ADMIN]
    disabled = admin.post(f"/admin/users/{me}/disable", data={"csrf_token": token})
    demoted = admin.post(f"/admin/users/{me}/role", data={"role": "staff", "csrf_token": token})
    assert disabled.status_code == demoted.status_code == 409
    assert "There must be at least one active admin." in demoted.text
    assert users(engine)[ADMIN] == ("admin", True)


def test_changes_are_audited_with_who_and_never_a_password(app, engine, accounts, caplog):
    caplog.set_level(logging.DEBUG)
    admin = signed_in(app, ADMIN)
    token = csrf_of(admin.get("/admin/users").text)
    new = {"email": "cy@example.com", "password": "cy's secret words", "role": "staff"}
    admin.post("/admin/users", data={**new, "csrf_token": token})
    cy = {u: i for u, i in ((ADMIN, accounts[ADMIN]), (STAFF, accounts[STAFF]))}
    admin.post(f"/admin/users/{cy[STAFF]}/role", data={"role": "admin", "csrf_token": token})
    admin.post(f"/admin/users/{cy[STAFF]}/disable", data={"csrf_token": token})
    log_in(browser(app), STAFF, "a wrong guess!")
    rows = [(e.actor, e.action, e.entity, e.at) for e in audit(engine) if e.actor != "test"]
    assert rows == [
        (ADMIN, "login", "user", NOW),
        (ADMIN, "user_added", "user", NOW),
        (ADMIN, "role_changed", "user", NOW),
        (ADMIN, "user_disabled", "user", NOW),
        (STAFF, "login_failed", "user", NOW),
    ]
    details = " ".join(str(e.detail) for e in audit(engine))
    assert "staff -> admin" in details
    for secret in (PASSWORD, "cy's secret words", "a wrong guess!", "argon2"):
        assert secret not in details
        assert secret not in caplog.text
    for email in (ADMIN, STAFF, "cy@example.com"):
        assert email not in caplog.text


# -- the first admin --------------------------------------------------------------------------


def issue(engine: Engine) -> str:
    with session_scope(engine) as session:
        return issue_setup_token(session, NOW)


def setup_form(client: TestClient, token: str, **fields: str):
    page = client.get(f"/setup/{token}")
    data = {"email": ADMIN, "password": PASSWORD, "password_again": PASSWORD}
    data.update(fields)
    return client.post(f"/setup/{token}", data={**data, "csrf_token": csrf_of(page.text)})


def test_the_first_admin_link_creates_an_admin_once_and_then_is_dead(app, engine):
    token = issue(engine)
    client = browser(app)
    page = client.get(f"/setup/{token}")
    assert page.status_code == 200
    assert '<label for="email">Email</label>' in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    created = setup_form(client, token)
    assert (created.status_code, created.headers["location"]) == (303, "/")
    assert f"Signed in as <strong>{ADMIN}</strong> (admin)" in client.get("/").text
    assert users(engine) == {ADMIN: ("admin", True)}
    assert browser(app).get(f"/setup/{token}").status_code == 404
    again = browser(app)
    form = {"email": "eve@example.com", "password": PASSWORD, "password_again": PASSWORD}
    form["csrf_token"] = csrf_of(again.get("/login").text)
    assert again.post(f"/setup/{token}", data=form).status_code == 404
    assert users(engine) == {ADMIN: ("admin", True)}
    assert [e.action for e in audit(engine)] == ["user_added"]


def test_the_first_admin_link_is_dead_once_any_user_exists(app, engine):
    token = issue(engine)
    make_user(engine, STAFF, now=NOW)
    assert browser(app).get(f"/setup/{token}").status_code == 404


def test_the_first_admin_link_expires_after_a_day(app, engine, clock):
    token = issue(engine)
    clock.advance(hours=24)
    assert browser(app).get(f"/setup/{token}").status_code == 404


def test_the_first_admin_form_refuses_differing_passwords(app, engine):
    token = issue(engine)
    response = setup_form(browser(app), token, password_again="something else entirely")
    assert response.status_code == 400
    assert "The two passwords differ." in response.text
    assert users(engine) == {}


# -- passwords and the database ---------------------------------------------------------------


def test_a_password_hashed_with_weaker_parameters_is_rehashed_at_login(settings, engine, accounts):
    strong = PasswordHash((Argon2Hasher(time_cost=2, memory_cost=2048, parallelism=1),))
    app = create_app(settings, engine, clock=lambda: NOW, passwords=strong)
    assert log_in(browser(app), ADMIN).status_code == 303
    with session_scope(engine) as session:
        stored = session.get(User, accounts[ADMIN]).password_hash
    assert "m=2048,t=2" in stored
    assert log_in(browser(app), ADMIN).status_code == 303


class LockProbe(Argon2Hasher):
    """Real argon2; while checking a password, tries to take SQLite's write lock without waiting."""

    def __init__(self, path: str) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.path = path
        self.locked: list[bool] = []

    def verify(self, password, hash) -> bool:  # type: ignore[no-untyped-def]
        connection = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            self.locked.append(False)
        except sqlite3.OperationalError:
            self.locked.append(True)
        finally:
            connection.close()
        return super().verify(password, hash)


def test_the_password_is_checked_outside_any_transaction_so_sqlite_stays_writable(tmp_path):
    """The daemon shares the SQLite file: a login must not hold its write lock for argon2."""
    path = tmp_path / "shared.db"
    settings = make_settings(f"sqlite:///{path}", tmp_path)
    engine = make_engine(settings.database_url)
    migrate(engine)
    make_user(engine, ADMIN, "admin", now=NOW)
    probe = LockProbe(str(path))
    app = create_app(settings, engine, clock=lambda: NOW, passwords=PasswordHash((probe,)))
    assert log_in(browser(app), ADMIN).status_code == 303
    assert log_in(browser(app), ADMIN, "wrong password!").status_code == 401
    assert probe.locked == [False, False]
    engine.dispose()


# -- settings ---------------------------------------------------------------------------------


def test_production_refuses_to_build_the_web_app_without_a_secret_key(
    engine, database_url, tmp_path
):
    clinic = {"clinic_name": "Sunset Veins", "clinic_phone": "+13105550100"}
    settings = make_settings(database_url, tmp_path, aftercare_env="production", **clinic)
    with pytest.raises(SettingsError, match="SECRET_KEY is not set, and AFTERCARE_ENV=production"):
        create_app(settings, engine)
    fine = make_settings(
        database_url, tmp_path, aftercare_env="production", secret_key=SECRET, **clinic
    )
    assert create_app(fine, engine) is not None


@pytest.mark.parametrize("placeholder", ["changeme", "secret", "short"])
def test_a_placeholder_secret_key_is_refused(placeholder):
    with pytest.raises(SettingsError, match="SECRET_KEY must be a random string"):
        load_settings(_env_file=None, secret_key=placeholder, aftercare_env="production")


def test_development_builds_the_web_app_without_a_secret_key(app):
    assert app.state.settings.aftercare_env == "development"
