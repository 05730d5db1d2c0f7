"""Restoring a voided session from the patient's page: a confirmed "Restore session" within 24
hours, audited as a sentence; refused with the reason after a day or when it was replaced."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.store.models import OutboxMessage, TreatmentSession
from reminders.web.app import create_app
from tests.support.factories import enroll_patient
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)
STAFF = "bo@example.com"
ADMIN = "ana@example.com"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the restore and the lookup are tested on both databases in tests/planning."""
    return f"sqlite:///{tmp_path / 'aftercare.db'}"


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def staff(app, runtime: Runtime) -> Iterator[TestClient]:
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    with TestClient(app, follow_redirects=False) as client:
        assert log_in(client, STAFF).status_code == 303
        yield client


def post(client: TestClient, path: str) -> object:
    return client.post(path, data={"csrf_token": csrf_of(client.get("/").text)})


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def statuses(runtime: Runtime, session_id: int) -> set[str]:
    with Session(runtime.engine) as db:
        query = select(OutboxMessage.status).where(OutboxMessage.session_id == session_id)
        return set(db.exec(query).all())


def voided(runtime: Runtime, staff: TestClient) -> tuple[int, int]:
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    path = f"/patients/{enrolled.patient_id}/sessions/{enrolled.session_id}/void"
    assert post(staff, path).status_code == 303  # type: ignore[attr-defined]
    return enrolled.patient_id, enrolled.session_id


def test_a_voided_session_is_restored_with_confirmation_and_audited(staff, runtime, clock):
    patient_id, session_id = voided(runtime, staff)
    clock.advance(hours=3)
    log_in(staff, STAFF)  # the idle web session has ended meanwhile
    page = staff.get(f"/patients/{patient_id}").text
    assert "Restore session" in page and f"Yes, restore session {session_id}" in page
    assert f'action="/patients/{patient_id}/sessions/{session_id}/restore"' in page

    response = post(staff, f"/patients/{patient_id}/sessions/{session_id}/restore")
    assert response.headers["location"] == f"/patients/{patient_id}?done=restored"  # type: ignore[attr-defined]
    page = staff.get(f"/patients/{patient_id}?done=restored").text
    assert "Session restored" in page and "Void session" in page and "Restore session" not in page
    assert statuses(runtime, session_id) == {"pending"}
    entries = [(e.actor, e.action, e.entity_id) for e in audit(runtime.engine)]
    assert (STAFF, "restore_session", session_id) in entries
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    staff.cookies.clear()
    assert log_in(staff, ADMIN).status_code == 303
    log = words(staff.get("/admin/audit").text)
    assert "restored Maria Lopez&#39;s Asclera sclerotherapy session of 20 Nov 2026" in log


def test_after_24_hours_there_is_no_restore_and_a_late_post_is_refused(staff, runtime, clock):
    patient_id, session_id = voided(runtime, staff)
    clock.advance(hours=24, minutes=1)
    log_in(staff, STAFF)
    assert "Restore session" not in staff.get(f"/patients/{patient_id}").text
    response = post(staff, f"/patients/{patient_id}/sessions/{session_id}/restore")
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert "voided more than 24 hours ago" in response.text  # type: ignore[attr-defined]
    assert statuses(runtime, session_id) == {"skipped"}
    with Session(runtime.engine) as db:
        assert db.get_one(TreatmentSession, session_id).status == "voided"


def test_a_replaced_session_offers_no_restore(staff, runtime):
    first = enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    enroll_patient(runtime, completed_at=COMPLETED - timedelta(minutes=10), now=NOW)
    page = staff.get(f"/patients/{first.patient_id}").text
    assert "replaced by session" in page and "Restore session" not in page
    path = f"/patients/{first.patient_id}/sessions/{first.session_id}/restore"
    assert post(staff, path).status_code == 409  # type: ignore[attr-defined]
