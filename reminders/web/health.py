"""`GET /healthz`: 200 whenever the database answers and takes writes, 503 when it does not
(a full disk or a read-only database answers reads but refuses every write: "writes fail").

A stale or missing daemon heartbeat is a warning in the body, not a failure: the web app is
healthy and should keep taking webhooks; the monitor reads the body to alert on the daemon.
So are the rest of `aftercare status` (store/health.py): workers alive, the backlog, the
oldest due message, and what is stuck. The endpoint is public, so it gives counts and ages
only: no worker names (hosts), no ids.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from reminders.runtime import health_thresholds
from reminders.store.db import Connection, DatabaseError, Engine
from reminders.store.health import (
    Health,
    Thresholds,
    freshest_heartbeat,
    ping,
    probe_write,
    read_health,
)

router = APIRouter()


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    state = request.app.state
    code, body = await run_in_threadpool(
        check_health, state.engine, state.clock(), health_thresholds(state.settings)
    )
    return JSONResponse(body, status_code=code, headers={"Cache-Control": "no-store"})


def check_health(engine: Engine, now: datetime, limits: Thresholds) -> tuple[int, dict[str, Any]]:
    """Status code and body; the error's type is reported, never its text (it may hold the URL)."""
    try:
        with engine.connect() as connection:
            ping(connection)
            body = report("ok", *_observe(connection, now, limits))
    except DatabaseError as exc:  # _observe keeps its own errors: this is the database
        warning = f"database unreachable ({type(exc).__name__})"
        return 503, report("unreachable", None, [warning])
    try:  # it answers reads; a full disk or a read-only file still refuses every write
        with engine.connect() as connection:
            probe_write(connection, now)
    except DatabaseError as exc:
        warning = f"writes fail ({_reason(exc)}): is the disk full or the database read-only?"
        return 503, body | {"database": "writes fail", "warnings": [warning, *body["warnings"]]}
    return 200, body


def _reason(exc: DatabaseError) -> str:
    """The driver's words for a write refused (they name no data), else the error's type."""
    words = str(getattr(exc, "orig", "") or "").splitlines()
    known = ("disk is full", "readonly", "read-only", "No space left")
    if words and any(k in words[0] for k in known):
        return words[0][:120]
    return type(exc).__name__


def _observe(
    connection: Connection, now: datetime, limits: Thresholds
) -> tuple[float | None, list[str], Health | None]:
    try:
        seen = freshest_heartbeat(connection)
        health = read_health(connection, now, limits)
    except DatabaseError as exc:
        return None, [f"heartbeat unreadable ({type(exc).__name__}): is the schema migrated?"], None
    age, warnings = heartbeat_warnings(seen, now, limits.alive_within.total_seconds())
    if health.workers_alive == 0 and not warnings:  # a fresh heartbeat of a worker that stopped
        warnings.append("no worker is alive: the last one stopped")
    warnings += [problem for problem in health.problems if not problem.startswith("no worker")]
    return age, warnings, health


def heartbeat_warnings(
    seen: datetime | None, now: datetime, stale_after: float
) -> tuple[float | None, list[str]]:
    """Seconds since the freshest worker heartbeat, and what is worth a warning about it."""
    if seen is None:
        return None, ["no worker heartbeat yet: is the daemon running?"]
    age = round((now - seen).total_seconds(), 3)
    if age > stale_after:
        return age, [f"worker heartbeat is {age:.0f}s old (stale after {stale_after:.0f}s)"]
    return age, []


def report(
    database: str, age: float | None, warnings: list[str], health: Health | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "database": database,
        "heartbeat_age_seconds": age,
        "warnings": warnings,
    }
    if health is not None:
        body |= {
            "workers_alive": health.workers_alive,
            "backlog": health.backlog,
            "oldest_due_age_seconds": health.oldest_due_age_seconds,
            "unknown": health.unknown.total,
            "stuck_unknown": health.unknown.stuck,
            "held_receipts": health.held_receipts.total,
            "expired_leases": health.expired_leases.total,
        }
    return body
