"""The FastAPI application, built from Settings by `create_app`; nothing is built at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from sqlalchemy.engine import Engine

from reminders.clock import utcnow
from reminders.settings import Settings
from reminders.store.db import make_engine
from reminders.web import Clock, DatabaseUnavailable, health, unsubscribe, webhooks


def create_app(
    settings: Settings, engine: Engine | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """The app for these settings; an engine passed in is shared, one made here is disposed."""
    owned = engine is None
    engine = engine if engine is not None else make_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            engine.dispose()

    # No interactive docs: the app faces the internet for Twilio and email recipients.
    app = FastAPI(
        title="Aftercare", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.clock = clock or utcnow
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    for module in (webhooks, health, unsubscribe):
        app.include_router(module.router)
    return app


async def _database_unavailable(_request: Request, exc: Exception) -> PlainTextResponse:
    return PlainTextResponse(f"database unavailable ({exc})", status_code=503)
