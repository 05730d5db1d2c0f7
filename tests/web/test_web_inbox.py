"""`/inbox` over HTTP: conversations that need an answer, their threads, what staff do there."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from reminders.runtime import Runtime
from reminders.settings import Settings
from reminders.store.models import OutboxMessage, Reply
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
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


def post(client: TestClient, path: str, **data: str):
    token = csrf_of(client.get("/inbox?show=all").text)
    return client.post(path, data={"csrf_token": token, **data})


def row_of(html: str, row_id: str) -> str:
    return html.split(f'id="{row_id}"', 1)[1].split("</tr>", 1)[0]


def test_conversations_to_answer_urgent_first_then_the_longest_waiting(staff, texts):
    page = staff.get("/inbox")
    assert page.status_code == 200
    maria, stranger = f"conversation-{texts['maria']}", f"conversation-number-{texts[WHO]}"
    assert page.text.index(maria) < page.text.index(stranger)  # urgent first
    urgent_row = row_of(page.text, maria)
    assert '<strong class="urgent">Urgent</strong>' in urgent_row
    assert f'<a href="/inbox/{texts["maria"]}">Maria Lopez</a>' in urgent_row
    assert "2 to answer" in urgent_row
    assert "Tue 10 Mar 2026, 11:00 PDT" in urgent_row  # waiting since her first text
    strange = row_of(page.text, stranger)
    assert "Unknown number" in strange and "+1 ••• ••• 0199" in strange
    assert STRANGER not in page.text and MARIA_PHONE not in page.text  # masked
    for body in (URGENT, THANKS, WHO):
        assert body not in page.text  # the list names who waits; the thread holds the words


def test_the_count_in_the_navigation_on_every_page(staff, texts):
    for path in ("/", "/patients", "/inbox", f"/inbox/{texts['maria']}", "/enroll"):
        html = staff.get(path).text
        assert 'Inbox <span class="badge">2<span class="visually-hidden"> waiting</span>' in html


def test_opening_a_thread_does_not_clear_needs_reply(staff, runtime, texts):
    thread = staff.get(f"/inbox/{texts['maria']}").text
    assert thread.index(THANKS) < thread.index(URGENT)  # oldest first, as a conversation reads
    assert thread.count("needs reply") == 2
    assert WHO not in thread  # a stranger's text is not hers
    with Session(runtime.engine) as session:
        assert all(r.read_at is None for r in session.exec(select(Reply)))
    assert "2 to answer" in staff.get("/inbox").text


def test_the_thread_interleaves_what_we_sent(staff, runtime, texts):
    dispatcher = make_dispatcher(runtime, lambda: NOW + timedelta(minutes=30))
    dispatcher.run_once()
    with Session(runtime.engine) as session:
        sent = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.channel == "sms", col(OutboxMessage.sent_at).is_not(None)
            )
        ).all()
    assert sent, "the first text of the plan is due within the hour"
    thread = staff.get(f"/inbox/{texts['maria']}").text
    assert "We sent" in thread and "They wrote" in thread
    assert sent[0].body and sent[0].body.split("\n")[0][:20] in thread.replace("&#39;", "'")


def test_no_reply_needed_clears_the_conversation_and_is_audited(staff, runtime, clock, texts):
    clock.advance(minutes=10)
    response = post(staff, f"/inbox/{texts['maria']}/handled")
    assert (response.status_code, response.headers["location"]) == (
        303,
        f"/inbox/{texts['maria']}?done=handled",
    )
    page = staff.get("/inbox").text
    assert f"conversation-{texts['maria']}" not in page
    assert '<span class="badge">1<' in page
    thread = staff.get(f"/inbox/{texts['maria']}").text
    assert thread.count(f"handled by {STAFF}, Tue 10 Mar 2026, 11:13 PDT") == 2
    entries = [(e.actor, e.action, e.entity_id, e.detail) for e in audit(runtime.engine)]
    assert (STAFF, "conversation_handled", texts["maria"], "no_reply_needed replies=2") in entries
    again = post(staff, f"/inbox/{texts['maria']}/handled")
    assert again.headers["location"].endswith("done=nothing")


def test_a_strangers_texts_need_no_reply(staff, texts):
    response = post(staff, f"/inbox/numbers/{texts[WHO]}/handled")
    assert response.headers["location"] == "/inbox?done=handled"
    page = staff.get("/inbox").text
    assert "Unknown number" not in page and '<span class="badge">1<' in page
    assert "Unknown number" in staff.get("/inbox?show=all").text


def test_assign_to_me_and_to_a_named_colleague(app, staff, runtime, texts):
    maria = texts["maria"]
    assert "Nothing to answer." in staff.get("/inbox?show=mine").text
    assert post(staff, f"/inbox/{maria}/assign", assignee="me").status_code == 303
    mine = staff.get("/inbox?show=mine").text
    assert f"conversation-{maria}" in mine and STAFF in row_of(mine, f"conversation-{maria}")
    with signed_in(app, runtime.engine, OTHER) as other:
        assert "Nothing to answer." in other.get("/inbox?show=mine").text
        assert post(staff, f"/inbox/{maria}/assign", assignee=OTHER).status_code == 303
        assert f"conversation-{maria}" in other.get("/inbox?show=mine").text
    assert post(staff, f"/inbox/{maria}/assign", assignee="nobody@else.example").status_code == 400
    assigned = [e.detail for e in audit(runtime.engine) if e.action == "conversation_assigned"]
    assert assigned == [f"to={STAFF}", f"to={OTHER}"]


def test_the_filters(staff, texts):
    urgent = staff.get("/inbox?show=urgent").text
    assert f"conversation-{texts['maria']}" in urgent and "Unknown number" not in urgent
    assert staff.get("/inbox?show=everything").status_code == 400
    post(staff, f"/inbox/{texts['maria']}/handled")
    everyone = staff.get("/inbox?show=all").text
    assert f"conversation-{texts['maria']}" in everyone and "answered" in everyone


def test_the_old_replies_page_redirects(staff):
    response = staff.get("/replies")
    assert (response.status_code, response.headers["location"]) == (301, "/inbox")


def test_actions_without_the_csrf_token_are_refused_and_change_nothing(staff, runtime, texts):
    audited = len(audit(runtime.engine))
    for path in (f"/inbox/{texts['maria']}/handled", f"/inbox/{texts['maria']}/assign"):
        assert staff.post(path).status_code == 403
        assert staff.post(path, data={"csrf_token": "x"}).status_code == 403
    assert len(audit(runtime.engine)) == audited


def test_unknown_ids_are_not_found(staff, texts):
    for path in ("/inbox/999", f"/inbox/{2**70}", "/inbox/abc"):
        assert staff.get(path).status_code == 404, path
    assert post(staff, "/inbox/999/assign", assignee="me").status_code == 404
    assert post(staff, "/inbox/replies/999/stop-wish", decision="opt_out").status_code == 404
    wish = post(staff, f"/inbox/replies/{texts[THANKS]}/stop-wish", decision="opt_out")
    assert wish.status_code == 404  # no likely opt-out
    assert post(staff, f"/inbox/replies/{texts[THANKS]}/stop-wish", decision="x").status_code == 400


def test_an_anonymous_visitor_is_sent_to_log_in(app, texts):
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as anonymous:
        page = anonymous.get("/inbox")
        assert (page.status_code, page.headers["location"]) == (303, "/login?next=/inbox")
        assert anonymous.post(f"/inbox/{texts['maria']}/handled").status_code == 303


def test_an_empty_inbox_says_so(staff):
    page = staff.get("/inbox").text
    assert "Nothing to answer." in page and 'class="badge"' not in page


def test_no_text_or_number_reaches_the_logs(staff, texts, caplog):
    caplog.set_level(logging.DEBUG)
    staff.get("/inbox")
    staff.get(f"/inbox/{texts['maria']}")
    post(staff, f"/inbox/{texts['maria']}/handled")
    assert f"patient {texts['maria']}: 2 repl(ies) need no reply" in caplog.text
    for secret in (URGENT, THANKS, MARIA_PHONE, "Maria"):
        assert secret not in caplog.text


def test_the_patients_page_shows_the_thread(staff, texts):
    page = staff.get(f"/patients/{texts['maria']}").text
    conversation = page.split('id="conversation-title"', 1)[1].split("<h2>Contact</h2>", 1)[0]
    assert f'<a href="/inbox/{texts["maria"]}">Open the conversation to answer</a>' in conversation
    assert conversation.index(THANKS) < conversation.index(URGENT)
    # The urgent text was answered at once (911): that answer is the thread's third entry.
    assert conversation.index(URGENT) < conversation.index("Automatic answer")
    assert "call 911" in conversation.split("Automatic answer", 1)[1]
    assert "Texts sent and received (3)" in conversation and WHO not in conversation
