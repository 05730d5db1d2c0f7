"""Twilio's side of the webhooks: its auth token, the public URL it signs, signed forms.

The `settings` and `client` fixtures that go with them are in tests/web/webhooks/conftest.py.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

from sqlmodel import select
from twilio.request_validator import RequestValidator

from reminders.runtime import Runtime
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage, Reply
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import utc

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "twilio-test-auth-token"
PUBLIC = "https://aftercare.example.org"
INTERNAL = "http://testserver"  # what the app sees behind the proxy
NOW = utc(2026, 3, 10, 18, 0)


def signed(client: TestClient, path: str, params: dict[str, str], *, url: str | None = None, **kw):
    """POST the form with the signature Twilio would compute over `url` (default: public)."""
    signature = RequestValidator(kw.pop("token", TOKEN)).compute_signature(
        url or PUBLIC + path, params
    )
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def text(sid: str = "SM100", body: str = "hello", sender: str = MARIA_PHONE) -> dict[str, str]:
    return {"MessageSid": sid, "From": sender, "To": "+18773376424", "Body": body}


def enroll(runtime: Runtime, **kw) -> int:
    return enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW, **kw).patient_id


def statuses(runtime: Runtime, channel: str) -> set[tuple[str, str | None]]:
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.channel == channel)
        return {(m.status, m.error_reason) for m in session.exec(query)}


def replies(runtime: Runtime) -> list[Reply]:
    with session_scope(runtime.engine) as session:
        return list(session.exec(select(Reply)).all())
