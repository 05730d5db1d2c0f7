"""The audit log reads as sentences naming people and patients, each a link to its page,
over HTTP on both databases: what staff did on a patient's page, as an admin reads it."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.store import holds
from reminders.store.audit import record
from reminders.store.db import session_scope
from reminders.store.holds import hold_restored
from reminders.store.models import TreatmentSession
from reminders.web.app import create_app
from tests.support.factories import enroll_patient
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    csrf_of,
    log_in,
    make_user,
)

COMPLETED = datetime(2026, 11, 2, 19, 30, tzinfo=UTC)  # 2 Nov, 11:30 in Los Angeles
NOW = COMPLETED + timedelta(minutes=5)
ADMIN, STAFF = "ana@example.com", "bo@example.com"


@pytest.fixture
def app(runtime: Runtime):
    make_user(runtime.engine, ADMIN, "admin", now=NOW)
    make_user(runtime.engine, STAFF, "staff", now=NOW)
    return create_app(
        runtime.settings, runtime.engine, clock=MovableClock(NOW), passwords=FAST_PASSWORDS
    )


def signed_in(app, email: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert log_in(client, email).status_code == 303
    return client


def post(client: TestClient, path: str, **data: str) -> None:
    token = csrf_of(client.get("/").text)
    assert client.post(path, data={**data, "csrf_token": token}).status_code == 303


def sentences(page: str) -> list[str]:
    """What each row says, newest first, links kept as [text](href)."""
    cells = re.findall(r'<td data-label="What happened" class="wrap">(.*?)</td>', page, re.S)
    linked = [re.sub(r'<a href="([^"]*)">([^<]*)</a>', r"[\2](\1)", cell) for cell in cells]
    return [html.unescape(cell) for cell in linked]


def test_what_staff_did_on_a_patients_page_reads_as_sentences_with_links(app, runtime):
    maria = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Maria López")
    pid = maria.patient_id
    with Session(runtime.engine) as session:
        session_id = session.exec(select(TreatmentSession.id)).one()
    staff = signed_in(app, STAFF)
    post(staff, f"/patients/{pid}/opt-out", channel="sms")
    post(staff, f"/patients/{pid}/pause")
    post(staff, f"/patients/{pid}/sessions/{session_id}/void")
    with session_scope(runtime.engine) as session:  # an action this version has no words for
        record(session, actor="cli", action="archive_things", entity="widget", entity_id=9,
               now=NOW, detail="kept=3")  # fmt: skip
    page = signed_in(app, ADMIN).get("/admin/audit").text
    said = sentences(page)
    patient = f"(/patients/{pid}"
    assert said[1:6] == [
        "Someone at the command line archive things: widget 9 (kept=3).",
        f"{STAFF} voided [Maria López's]{patient}#session-{session_id}) Asclera sclerotherapy"
        " session of 2 Nov 2026.",
        f"{STAFF} paused all messages to [Maria López]{patient}) (4 waiting).",
        f"{STAFF} recorded that [Maria López]{patient}) opted out of texts.",
        f"{STAFF} logged in.",
    ]
    assert f"[Maria López's]{patient}#session-{session_id}) Asclera sclerotherapy session" in (
        " ".join(said)
    )  # the enrollment, by whoever the factory says
    assert f"added [{STAFF}](/admin/users) as staff." in " ".join(said)
    assert f"added [Maria López]{patient}) as a patient." in " ".join(said)
    assert "treatment_session" not in " ".join(said)


def test_held_messages_released_or_skipped_read_as_sentences(app, runtime):
    maria = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Maria López")
    with session_scope(runtime.engine) as session:
        assert hold_restored(session, NOW + timedelta(days=400), actor="restore") >= 2
        first, second = sorted(holds.restored_ids(session))[:2]
        assert holds.release(session, [first], NOW, actor="cli") == [first]
        assert holds.skip_held(session, [second], NOW, actor="cli") == [second]
    said = " ".join(sentences(signed_in(app, ADMIN).get("/admin/audit").text))
    patient = f"(/patients/{maria.patient_id}"
    released = f"released the “Aftercare instructions” text to [Maria López]{patient}#message-"
    assert f"{released}{first}), which was held." in said
    assert "chose not to send the “" in said and f"#message-{second}), which was held" in said
