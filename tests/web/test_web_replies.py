"""`/replies` over HTTP: texts that came in through Twilio's webhook, urgent and open ones first."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from reminders.runtime import Runtime
from reminders.settings import Settings
from reminders.store.models import Reply
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import (
    FAST_PASSWORDS,
    MovableClock,
    TestClient,
    audit,
    csrf_of,
    log_in,
    make_user,
)

TOKEN = "twilio-test-auth-token"
PUBLIC = "https://aftercare.example.org"
NOW = utc(2026, 3, 10, 18, 0)  # Tue 11:00 PDT
STAFF, OTHER = "bo@example.com", "cy@example.com"
STRANGER = "+13105550199"
THANKS, WHO, URGENT = "Thanks, see you soon", "Who is this please", "my throat is swelling up"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, public_base_url=PUBLIC, twilio_auth_token=TOKEN)


@pytest.fixture
def app(runtime: Runtime, clock: MovableClock):
    return create_app(runtime.settings, runtime.engine, clock=clock, passwords=FAST_PASSWORDS)


def signed_in(app, engine: Engine, email: str) -> TestClient:
    make_user(engine, email, "staff", now=NOW)
    client = TestClient(
        app, base_url="https://testserver", follow_redirects=False
    )  # Secure cookies
    assert log_in(client, email).status_code == 303
    return client


@pytest.fixture
def staff(app, runtime: Runtime) -> Iterator[TestClient]:
    with signed_in(app, runtime.engine, STAFF) as client:
        yield client


@pytest.fixture
def texts(app, runtime: Runtime, clock: MovableClock) -> dict[str, int]:
    """Maria's thanks, then a stranger's question, then Maria's urgent text, a minute apart,
    each through the signed inbound webhook as Twilio sends them. Returns reply ids by text."""
    maria = enroll_patient(runtime, completed_at=NOW - timedelta(hours=1), now=NOW).patient_id
    twilio = TestClient(app)
    for n, (sender, body) in enumerate(
        ((MARIA_PHONE, THANKS), (STRANGER, WHO), (MARIA_PHONE, URGENT))
    ):
        params = {"MessageSid": f"SM{n}", "From": sender, "To": "+18773376424", "Body": body}
        path = "/webhooks/twilio/inbound"
        signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
        assert (
            twilio.post(path, data=params, headers={"X-Twilio-Signature": signature}).status_code
            == 200
        )
        clock.advance(minutes=1)
    with Session(runtime.engine) as session:
        rows = session.exec(select(Reply)).all()
    assert {r.patient_id for r in rows if r.body != WHO} == {maria}
    return {**{r.body: r.id or 0 for r in rows}, "maria": maria}


def mark(client: TestClient, reply_id: int):
    token = csrf_of(client.get("/replies").text)
    return client.post(f"/replies/{reply_id}/handled", data={"csrf_token": token})


def open_part(html: str) -> str:
    return html.split("<h2>To answer</h2>", 1)[1].split("<details>", 1)[0]


def handled_part(html: str) -> str:
    return html.split("<details>", 1)[1]


def test_open_replies_come_first_urgent_at_the_top_each_linked_to_its_patient(staff, texts):
    page = staff.get("/replies")
    assert page.status_code == 200
    listed = open_part(page.text)
    order = [listed.index(text) for text in (URGENT, WHO, THANKS)]
    assert order == sorted(order)  # urgent first, then newest first
    urgent_row = listed.split(f'id="reply-{texts[URGENT]}"', 1)[1].split("</tr>", 1)[0]
    assert '<strong class="urgent">Urgent</strong>' in urgent_row
    assert listed.count('class="urgent"') == 1
    assert f'<a href="/patients/{texts["maria"]}">Maria Lopez</a>' in urgent_row
    assert "Tue 10 Mar 2026, 11:02 PDT" in urgent_row
    stranger = listed.split(f'id="reply-{texts[WHO]}"', 1)[1].split("</tr>", 1)[0]
    assert "Unknown number" in stranger and "+1 ••• ••• 0199" in stranger
    assert "/patients/" not in stranger
    assert STRANGER not in page.text and MARIA_PHONE not in page.text  # masked, as in the CLI
    assert listed.count("Mark handled") == 3
    assert "Handled (0)" in page.text


def test_marking_a_reply_handled_is_audited_and_moves_it_to_the_handled_list(
    staff, runtime, clock, texts
):
    clock.advance(minutes=10)
    response = mark(staff, texts[URGENT])
    assert response.status_code == 303
    assert response.headers["location"] == f"/replies?done=handled#reply-{texts[URGENT]}"
    page = staff.get("/replies?done=handled").text
    assert "Reply marked handled." in page
    assert URGENT not in open_part(page)
    handled = handled_part(page)
    assert URGENT in handled and f"Handled by {STAFF}, Tue 10 Mar 2026, 11:13 PDT" in handled
    assert "Handled (1)" in page
    with Session(runtime.engine) as session:
        reply = session.get_one(Reply, texts[URGENT])
    assert (reply.read_by, reply.read_at) == (STAFF, clock.now)
    entries = [(e.actor, e.action, e.entity, e.entity_id) for e in audit(runtime.engine)]
    assert entries.count((STAFF, "reply_handled", "reply", texts[URGENT])) == 1


def test_a_reply_handled_by_someone_else_says_so_and_keeps_the_first_hand(
    app, staff, runtime, clock, texts
):
    with signed_in(app, runtime.engine, OTHER) as other:
        assert mark(other, texts[THANKS]).headers["location"].startswith("/replies?done=handled")
    clock.advance(minutes=1)
    again = mark(staff, texts[THANKS])
    assert again.headers["location"].startswith("/replies?done=already")
    page = staff.get(again.headers["location"]).text
    assert "That reply had already been handled" in page
    assert f"Handled by {OTHER}" in handled_part(page)
    assert [e.actor for e in audit(runtime.engine) if e.action == "reply_handled"] == [OTHER]


def test_an_unknown_reply_is_not_found(staff, texts):
    token = csrf_of(staff.get("/replies").text)
    for reply_id in ("999", str(2**70), "abc"):
        response = staff.post(f"/replies/{reply_id}/handled", data={"csrf_token": token})
        assert response.status_code == 404, reply_id


def test_marking_without_the_csrf_token_is_refused_and_changes_nothing(staff, runtime, texts):
    audited = len(audit(runtime.engine))
    assert staff.post(f"/replies/{texts[URGENT]}/handled").status_code == 403
    assert (
        staff.post(f"/replies/{texts[URGENT]}/handled", data={"csrf_token": "x"}).status_code == 403
    )
    with Session(runtime.engine) as session:
        assert session.get_one(Reply, texts[URGENT]).read_at is None
    assert len(audit(runtime.engine)) == audited


def test_an_anonymous_visitor_is_sent_to_log_in(app, texts):
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as anonymous:
        page = anonymous.get("/replies")
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=/replies")
        assert anonymous.post(f"/replies/{texts[URGENT]}/handled").status_code == 303


def test_an_empty_inbox_says_so(staff):
    page = staff.get("/replies").text
    assert "Nothing to answer." in page and "None yet." in page


def test_no_text_or_number_reaches_the_logs(staff, texts, caplog):
    caplog.set_level(logging.DEBUG)
    staff.get("/replies")
    mark(staff, texts[URGENT])
    assert f"reply {texts[URGENT]} handled by user" in caplog.text
    for secret in (URGENT, THANKS, MARIA_PHONE, "Maria"):
        assert secret not in caplog.text
