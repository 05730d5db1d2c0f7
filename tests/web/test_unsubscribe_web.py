"""The email unsubscribe link: GET confirms, POST (or RFC 8058 one-click) opts out."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from reminders.runtime import Runtime
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import OptOut, OutboxMessage
from reminders.unsubscribe import make_token
from reminders.web.app import create_app
from tests.support.factories import MARIA_EMAIL, enroll_patient
from tests.support.settings import make_settings, utc

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SECRET = "unsubscribe-test-secret-0123456789"
NOW = utc(2026, 3, 10, 18, 0)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, secret_key=SECRET)


def url(address: str = MARIA_EMAIL, secret: str = SECRET) -> str:
    return f"/unsubscribe/{make_token(address, secret)}"


def statuses(runtime: Runtime, channel: str) -> set[tuple[str, str | None]]:
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.channel == channel)
        return {(m.status, m.error_reason) for m in session.exec(query)}


def opt_outs(runtime: Runtime) -> list[tuple[str, str, str]]:
    with session_scope(runtime.engine) as session:
        return [(o.channel, o.address, o.source) for o in session.exec(select(OptOut))]


def test_get_shows_a_confirmation_button_and_changes_nothing(client, runtime):
    response = client.get(url())
    assert response.status_code == 200
    assert '<form method="post">' in response.text
    assert "m***@example.com" in response.text
    assert MARIA_EMAIL not in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert opt_outs(runtime) == []


def test_post_opts_out_and_skips_pending_email_only(client, runtime):
    enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW)
    response = client.post(url())
    assert response.status_code == 200
    assert "no more" in response.text
    assert opt_outs(runtime) == [("email", MARIA_EMAIL, "email_link")]
    assert statuses(runtime, "email") == {("skipped", "opted_out")}
    assert statuses(runtime, "sms") == {("pending", None)}


def test_one_click_post_opts_out(client, runtime):
    enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW)
    response = client.post(url("Maria@Example.com"), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert opt_outs(runtime) == [("email", MARIA_EMAIL, "email_link")]
    assert statuses(runtime, "email") == {("skipped", "opted_out")}


def test_repeated_post_is_harmless(client, runtime):
    assert client.post(url()).status_code == 200
    assert client.post(url()).status_code == 200
    assert len(opt_outs(runtime)) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/unsubscribe/not-a-token",
        url(secret="another-secret-0123456789"),
        url()[:-2] + "xx",
    ],
)
def test_invalid_token_is_a_400_page(client, runtime, path):
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 400
        assert "not valid" in response.text
    assert opt_outs(runtime) == []


def test_without_secret_key_links_cannot_be_checked(tmp_path):
    settings = make_settings(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)
    with TestClient(create_app(settings)) as client:
        assert client.post(url()).status_code == 503
