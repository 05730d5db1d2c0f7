"""The care page in tests: settings that make care links, a session's token, an answer."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine

from reminders.settings import Settings
from reminders.store.care_links import link_for
from reminders.store.db import session_scope
from tests.support.settings import make_settings
from tests.support.web_accounts import TestClient

BASE_URL = "https://finetouch.co"
SECRET = "care-page-test-secret-0123456789"


def care_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"public_base_url": BASE_URL, "secret_key": SECRET}
    return make_settings(database_url, tmp_path, **(values | overrides))


def care_token(engine: Engine, settings: Settings, session_id: int) -> str:
    """The token the session's texts carry, made as the composer makes it."""
    links = settings.care_links
    assert links is not None
    with session_scope(engine) as session:
        return link_for(session, session_id, links).rsplit("/", 1)[1]


def answer(client: TestClient, token: str, born: date | None, **fields: str):
    """The "Date of birth" form as a browser sends it."""
    data = {"birth_month": "", "birth_day": "", "birth_year": ""}
    if born is not None:
        data = {"birth_month": str(born.month), "birth_day": str(born.day),
                "birth_year": str(born.year)}  # fmt: skip
    return client.post(f"/c/{token}", data=data | fields)
