"""Helpers for the staff pages' tests: a signed-in browser, what the database holds, a field."""

from __future__ import annotations

import html as markup
import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.store.db import session_scope
from reminders.store.models import User
from tests.support.web_accounts import TestClient, log_in

WRITTEN = ("patient", "treatment_session", "outbox_message", "message_event", "audit_event")


def signed_in(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert log_in(client, email).status_code == 303
    return client


def counts(engine: Engine) -> dict[str, int]:
    """Rows of each table an enrollment writes (audit rows of logins included)."""
    with engine.connect() as db:
        return {t: db.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in WRITTEN}


def disable(engine: Engine, user_id: int, now) -> None:
    from reminders.store.accounts import disable_user

    with session_scope(engine) as session:
        disable_user(session, session.get_one(User, user_id), actor="test", now=now)


def control(html: str, field_id: str) -> str:
    """The opening tag of the form control with this id."""
    found = re.search(rf'<(?:input|select)\s[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    assert found, f"no control {field_id}"
    return found.group(0)


def value_of(html: str, field_id: str) -> str:
    found = re.search(r'\bvalue="([^"]*)"', control(html, field_id))
    assert found, f"{field_id} has no value"
    return markup.unescape(found.group(1))


def help_of(html: str, key: str) -> str:
    """The text under a field (its problem, note or hint)."""
    found = re.search(rf'<small id="f-{key}-help"[^>]*>(.*?)</small>', html, re.DOTALL)
    assert found, f"nothing under {key}"
    return markup.unescape(re.sub(r"<[^>]+>", "", found.group(1)))  # "set 2 min ago" is a span
