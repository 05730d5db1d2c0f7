"""`GET /healthz`: 200 whenever the database answers, 503 when it does not.

A stale or missing daemon heartbeat is a warning in the body, not a failure: the web app is
healthy and should keep taking webhooks; the monitor reads the body to alert on the daemon.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from reminders.store.models import WorkerHeartbeat

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    stale_after = float(state.settings.heartbeat_stale_seconds)
    code, body = await run_in_threadpool(check_health, state.engine, state.clock(), stale_after)
    return JSONResponse(body, status_code=code, headers={"Cache-Control": "no-store"})


def check_health(engine: Engine, now: datetime, stale_after: float) -> tuple[int, dict[str, Any]]:
    """Status code and body; the error's type is reported, never its text (it may hold the URL)."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
            age, warnings = heartbeat_age(connection, now, stale_after)
    except SQLAlchemyError as exc:  # heartbeat_age keeps its own errors: this is the database
        warning = f"database unreachable ({type(exc).__name__})"
        return 503, report("unreachable", None, [warning])
    return 200, report("ok", age, warnings)


def heartbeat_age(
    connection: Connection, now: datetime, stale_after: float
) -> tuple[float | None, list[str]]:
    """Seconds since the freshest worker heartbeat, and what is worth a warning about it."""
    try:
        seen = connection.execute(sa.select(sa.func.max(col(WorkerHeartbeat.seen_at)))).scalar()
    except SQLAlchemyError as exc:
        return None, [f"heartbeat unreadable ({type(exc).__name__}): is the schema migrated?"]
    if seen is None:
        return None, ["no worker heartbeat yet: is the daemon running?"]
    age = round((now - seen).total_seconds(), 3)
    if age > stale_after:
        return age, [f"worker heartbeat is {age:.0f}s old (stale after {stale_after:.0f}s)"]
    return age, []


def report(database: str, age: float | None, warnings: list[str]) -> dict[str, Any]:
    return {"database": database, "heartbeat_age_seconds": age, "warnings": warnings}
