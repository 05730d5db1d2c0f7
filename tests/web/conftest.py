"""The web app under test, at its module's moment: `clock`, `app` and `client`.

A web test module sets `NOW` (an aware datetime); the app's clock starts there and moves only
when the test moves it. A module whose app needs more (the default templates and plans of
`runtime`, accounts made first) overrides `app` and keeps the `client` and `clock` below.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from reminders.settings import Settings
from reminders.web.app import create_app
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> MovableClock:
    now = getattr(request.module, "NOW", None)
    assert now is not None, f"{request.module.__name__} sets no NOW for the web app's clock"
    return MovableClock(now)


@pytest.fixture
def app(settings: Settings, engine: Engine, clock: MovableClock) -> FastAPI:
    return create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """Redirects are not followed: a test reads the 303 and its Location itself."""
    with TestClient(app, follow_redirects=False) as client:
        yield client
