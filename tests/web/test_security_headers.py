"""Every answer's headers: no sniffing and no framing whatever made it, the pages' CSP on the
unsubscribe pages too, and HSTS in production behind https only."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from reminders.unsubscribe import make_token
from reminders.web.app import create_app
from reminders.web.pages import PAGE_HEADERS
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient

NOW = utc(2026, 3, 10, 18, 0)
SECRET = "headers-test-secret-0123456789"
HSTS = "Strict-Transport-Security"


def client_for(engine: Engine, tmp_path: Path, **settings: object) -> TestClient:
    values: dict[str, object] = {"secret_key": SECRET} | settings
    app = create_app(
        make_settings(str(engine.url.render_as_string(hide_password=False)), tmp_path, **values),
        engine,
        clock=MovableClock(NOW),
        passwords=FAST_PASSWORDS,
    )
    return TestClient(app, follow_redirects=False)


@pytest.fixture
def client(engine, tmp_path) -> TestClient:
    return client_for(engine, tmp_path)


def unsubscribe(address: str = "maria@example.com") -> str:
    return f"/unsubscribe/{make_token(address, SECRET)}"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/login"),
        ("GET", "/healthz"),
        ("GET", "/static/pico.min.css"),
        ("GET", "/no-such-page"),
        ("POST", "/webhooks/twilio/inbound"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/unsubscribe/not-a-token"),
    ],
)
def test_every_answer_refuses_sniffing_and_framing(client, method, path):
    response = client.request(method, path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_unsubscribe_pages_carry_every_pages_headers_and_no_referrer(client, method):
    response = client.request(method, unsubscribe())
    assert response.status_code == 200
    for name, value in PAGE_HEADERS.items():
        if name != "Referrer-Policy":
            assert response.headers[name] == value, name
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "style=" not in response.text  # the CSP allows no inline style


@pytest.mark.parametrize(
    ("env", "public", "expected"),
    [
        ("production", "https://aftercare.example.org", True),
        ("production", "http://aftercare.example.org", False),
        ("production", None, False),
        ("development", "https://aftercare.example.org", False),
    ],
)
def test_hsts_only_in_production_behind_https(engine, tmp_path, env, public, expected):
    extra = {"clinic_name": "Clinic", "clinic_phone": "+13105550100"}
    client = client_for(engine, tmp_path, aftercare_env=env, public_base_url=public, **extra)
    for path in ("/login", "/healthz", unsubscribe()):
        response = client.get(path)
        assert (HSTS in response.headers) is expected, path
        if expected:
            assert response.headers[HSTS] == "max-age=31536000"
