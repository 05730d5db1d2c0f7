"""The follow-up loop, end to end on SQLite and PostgreSQL: the dispatcher sends the follow-up
email with its booking link, the patient books through that link, Cal.com's webhook names
the reference the link carried, and the prompt still waiting for the morning is skipped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from reminders.rules.lifecycle import SkipReason, Status
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage
from reminders.web.app import create_app
from tests.support.cal import SECRET, URL, cal_payload, signed
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.settings import make_settings, utc
from tests.support.web_accounts import TestClient

COMPLETED = utc(2026, 11, 2, 22, 30)  # Mon 2 Nov, 14:30 PST
# Mon 14 Dec, 10:30 PST: the follow-up (due 10:00) is due; texts stop at 10:15 here.
NOW = utc(2026, 12, 14, 18, 30)
BOOKING_URL = "https://cal.com/finetouch/follow-up?metadata[aftercare]={ref}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, booking_url=BOOKING_URL,
                         cal_webhook_secret=SECRET, send_window_end="10:15")  # fmt: skip


def test_booking_through_the_emails_link_stops_the_prompt_still_to_come(runtime, settings):
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED).session_id
    make_dispatcher(runtime, lambda: NOW).run_once()
    sent = [json.loads(line) for line in settings.outbox_file.read_text().splitlines()]
    [email] = [m for m in sent if m["step"] == "follow_up" and m["channel"] == "email"]
    link = re.search(r"Book your next session: (\S+)", email["body"])
    assert link is not None and link.group(1).startswith("https://cal.com/finetouch/")
    # Cal.com keeps what the link passed through as the booking's metadata.
    ref = parse_qs(urlsplit(link.group(1)).query)["metadata[aftercare]"][0]
    with session_scope(runtime.engine) as session:
        sms = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.step == "follow_up", OutboxMessage.channel == "sms"
            )
        ).one()
    assert sms.status == Status.PENDING  # waiting for tomorrow's window

    app = create_app(settings, runtime.engine, clock=lambda: NOW)
    raw, headers = signed(cal_payload(ref=ref, email="another.address@example.com"))
    with TestClient(app) as client:
        answer = client.post(URL, content=raw, headers=headers)
    assert answer.status_code == 200
    assert (answer.json()["session_id"], answer.json()["prompts_skipped"]) == (session_id, 1)
    with session_scope(runtime.engine) as session:
        sms = session.get_one(OutboxMessage, sms.id)
    assert (sms.status, sms.error_reason) == (Status.SKIPPED, SkipReason.BOOKED)
