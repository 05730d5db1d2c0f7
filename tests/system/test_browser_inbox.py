"""The inbox in a real browser: an urgent text reaches a person, who answers it.

A signed inbound urgent text → the count in the navigation → staff open the thread → answer
(the segment count follows the typing) → the dispatcher sends it through the real Twilio
channel to the fake Twilio on loopback → its signed delivery receipt shows in the thread.
Pictures of the inbox and a thread at tablet and phone size.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from reminders.cli.serve import WebThread, listen
from reminders.runtime import Runtime, open_runtime
from reminders.sending.channels.twilio.channel import TwilioChannel
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage
from reminders.store.saved_replies import add_saved_reply
from reminders.web.app import create_app
from tests.support.browser import Site, expect_no_sideways_scroll, log_in
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.twilio_server import FakeTwilio
from tests.support.twilio_sms import twilio_settings
from tests.support.web_accounts import FAST_PASSWORDS

pytestmark = pytest.mark.browser

TOKEN = "twilio-test-auth-token"
PUBLIC = "https://aftercare.example.org"
URGENT = "My face is swelling and my throat feels tight"
SAVED = "{{ first_name }}, please call us now at {{ clinic_phone }}. If it gets worse, call 911."
ANSWER = "Maria, please call us now at 877-337-6424. If it gets worse, call 911."


@pytest.fixture
def runtime(initialized_database: Path, tmp_path: Path) -> Iterator[Runtime]:
    """This test's copy of the initialized database, as Twilio's webhooks reach it."""
    path = tmp_path / "aftercare.db"
    shutil.copyfile(initialized_database, path)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=f"sqlite:///{path}",
        outbox_file=tmp_path / "outbox.jsonl",
        public_base_url=PUBLIC,
        twilio_auth_token=TOKEN,
    )
    opened = open_runtime(settings)
    try:
        yield opened
    finally:
        opened.engine.dispose()


@pytest.fixture
def site(runtime: Runtime) -> Iterator[Site]:
    sock = listen("127.0.0.1", 0)
    server = WebThread(create_app(runtime.settings, runtime.engine, passwords=FAST_PASSWORDS), sock)
    server.start()
    host, port = sock.getsockname()
    try:
        yield Site(base_url=f"http://{host}:{port}", engine=runtime.engine)
    finally:
        server.stop()


def twilio_post(site: Site, path: str, params: dict[str, str]) -> None:
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + path, params)
    answer = httpx.post(
        site.base_url + path, data=params, headers={"X-Twilio-Signature": signature}
    )
    assert answer.status_code == 200, answer.text


def nav_link(page: Page, name: str | re.Pattern[str]) -> Locator:
    """The navigation's link as staff see it: on a phone, in the menu, opened first."""
    menu = page.get_by_role("navigation").locator("details.nav-menu")
    if menu.is_visible():
        if menu.get_attribute("open") is None:
            menu.locator("summary").click()
        return menu.get_by_role("link", name=name)
    return page.get_by_role("navigation").locator("ul.nav-wide").get_by_role("link", name=name)


@pytest.mark.parametrize("page", ["tablet", "phone"], indirect=True)
def test_an_urgent_text_reaches_staff_who_answer_it(page: Page, site: Site, runtime, screenshot):
    now = datetime.now(UTC)
    patient = enroll_patient(runtime, completed_at=now - timedelta(hours=2), now=now).patient_id
    with session_scope(runtime.engine) as session:
        add_saved_reply(session, language="en", title="Call us now", body=SAVED,
                        actor=site.admin, now=now)  # fmt: skip
    inbound = {"MessageSid": "SM" + "1" * 32, "From": MARIA_PHONE, "To": "+18773376424",
               "Body": URGENT}  # fmt: skip
    twilio_post(site, "/webhooks/twilio/inbound", inbound)

    page.goto("/login")
    log_in(page, site.staff, site.password)
    inbox = nav_link(page, re.compile(r"^Inbox"))
    expect(inbox).to_have_text("Inbox 1 waiting")
    inbox.click()
    expect(page).to_have_url(site.base_url + "/inbox")
    row = page.locator(f"#conversation-{patient}")
    expect(row).to_contain_text("Urgent")
    expect(row).to_contain_text("1 to answer")
    expect_no_sideways_scroll(page)
    screenshot(page, "inbox")

    row.get_by_role("link", name="Maria Lopez").click()
    expect(page).to_have_url(site.base_url + f"/inbox/{patient}")
    expect(page.get_by_text(URGENT)).to_be_visible()
    expect(
        page.get_by_text("Goes at once: the patient wrote within the last hour.")
    ).to_be_visible()
    page.get_by_label("Saved reply").select_option(label="Call us now")
    page.get_by_role("button", name="Insert").click()
    reply = page.get_by_label("Reply", exact=True)
    expect(reply).to_have_value(ANSWER)  # rendered for her, the clinic's phone filled in
    # The inserted box is htmx's once it has settled; typing before then (as no person can,
    # 20 ms after the click) would send no request.
    expect(page.locator(".htmx-added, .htmx-settling, .htmx-swapping")).to_have_count(0)
    expect(page.locator("#reply-shape")).to_contain_text("GSM-7 · 1 segment")
    reply.fill(ANSWER + " ¿Está bien?")
    expect(page.locator("#reply-shape")).to_contain_text("UCS-2 · 2 segments")
    reply.fill(ANSWER)
    expect(page.locator("#reply-shape")).to_contain_text("GSM-7 · 1 segment")
    expect_no_sideways_scroll(page)
    screenshot(page, "thread-typing")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("status")).to_contain_text("Answer queued")
    expect(nav_link(page, "Inbox")).to_have_text("Inbox")

    with FakeTwilio() as twilio:
        channel = TwilioChannel(twilio_settings(twilio.base_url))
        try:
            make_dispatcher(runtime, lambda: datetime.now(UTC), sms=channel).run_once()
        finally:
            channel.close()
        (sent,) = [m for m in twilio.messages if m["body"].startswith(ANSWER)]
    ours = page.locator("ol.thread li.ours").filter(has_text=ANSWER)
    page.reload()
    expect(ours).to_contain_text("sent")
    with Session(runtime.engine) as session:
        query = select(OutboxMessage.id).where(OutboxMessage.purpose == "staff_reply")
        message_id = session.exec(query).one()
    receipt = {"MessageSid": sent["sid"], "MessageStatus": "delivered"}
    twilio_post(site, f"/webhooks/twilio/status?message_id={message_id}", receipt)
    page.reload()
    expect(ours).to_contain_text("delivered")
    expect(ours).to_contain_text(f"{site.staff} answered")
    expect_no_sideways_scroll(page)
    screenshot(page, "thread-delivered")
