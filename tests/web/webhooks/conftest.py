"""The app as Twilio reaches it: its auth token set, its public URL the one Twilio signs."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from reminders.settings import Settings
from reminders.web.app import create_app
from tests.support.settings import make_settings
from tests.support.webhooks import NOW, PUBLIC, TOKEN

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url, tmp_path, public_base_url=PUBLIC + "/", twilio_auth_token=TOKEN
    )


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine, clock=lambda: NOW)) as client:
        yield client
