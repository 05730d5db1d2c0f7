"""GET /healthz: 200 whenever the database answers; the daemon's heartbeat is a warning only."""

from __future__ import annotations

import warnings
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from reminders.store.db import session_scope
from reminders.store.health import mark_stopped
from reminders.store.models import WorkerHeartbeat
from reminders.web.app import create_app
from tests.support.health import troubled, worker_seen
from tests.support.settings import make_settings, utc

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOW = utc(2026, 3, 10, 18, 0)


def beat(engine: Engine, worker: str, seconds_ago: float) -> None:
    with session_scope(engine) as session:
        session.add(WorkerHeartbeat(worker_id=worker, seen_at=NOW - timedelta(seconds=seconds_ago)))


def test_no_heartbeat_is_a_warning_not_a_failure(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["database"], body["heartbeat_age_seconds"]) == ("ok", None)
    assert body["warnings"] == ["no worker heartbeat yet: is the daemon running?"]


def test_fresh_heartbeat_has_no_warning(client, engine):
    beat(engine, "old-worker", 3_600)
    beat(engine, "worker-1", 5)
    body = client.get("/healthz").json()
    assert {key: body[key] for key in ("database", "heartbeat_age_seconds", "warnings")} == {
        "database": "ok",
        "heartbeat_age_seconds": 5.0,
        "warnings": [],
    }
    assert body["workers_alive"] == 1


def test_stale_heartbeat_is_a_warning_not_a_failure(client, engine, settings):
    beat(engine, "worker-1", settings.heartbeat_stale_seconds + 60)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["heartbeat_age_seconds"] == settings.heartbeat_stale_seconds + 60
    assert "stale" in response.json()["warnings"][0]


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_unreachable_database_is_503(tmp_path: Path, kind):
    url = {
        "postgres": "postgresql+psycopg://nobody:secret@127.0.0.1:1/none",
        "sqlite": f"sqlite:///{tmp_path}",  # a directory: cannot be opened as a database
    }[kind]
    with TestClient(create_app(make_settings(url, tmp_path))) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    assert "secret" not in response.text


# -- what `aftercare status` sees, in counts and ages ------------------------------------------


def test_healthz_reports_backlog_oldest_due_and_what_is_stuck(client, runtime):
    expected = troubled(runtime, NOW)
    worker_seen(runtime.engine, "clinic-host:4242", NOW - timedelta(seconds=5))
    response = client.get("/healthz")
    assert response.status_code == 200  # stuck things are warnings, as a stale heartbeat is
    body = response.json()
    assert {key: body[key] for key in ("workers_alive", "backlog", "oldest_due_age_seconds")} == {
        "workers_alive": 1,
        "backlog": expected.backlog,
        "oldest_due_age_seconds": expected.oldest_due_age,
    }
    assert (body["unknown"], body["stuck_unknown"]) == (expected.unknown, expected.stuck_unknown)
    assert (body["held_receipts"], body["expired_leases"]) == (expected.held, expected.expired)
    assert body["warnings"] == [
        "1 send(s) of unknown outcome for over 900s",
        "1 receipt(s) held for over 900s",
        "1 lease(s) expired over 900s ago",
    ]
    assert "clinic-host" not in response.text  # public: counts and ages, no host names


def test_a_worker_that_stopped_cleanly_is_not_alive_at_once(client, engine):
    worker_seen(engine, "w1", NOW - timedelta(seconds=30))
    with engine.begin() as connection:
        mark_stopped(connection, "w1", NOW - timedelta(seconds=2))
    body = client.get("/healthz").json()
    assert (body["workers_alive"], body["heartbeat_age_seconds"]) == (0, 2.0)
    assert body["warnings"] == ["no worker is alive: the last one stopped"]
