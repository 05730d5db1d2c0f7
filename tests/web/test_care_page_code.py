"""A patient with no date of birth on file: "Text me a code", six digits through the outbox at
once (a direct message), valid 10 minutes and once, at most one a minute; wrong codes count
toward the same lock. Both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.store.models import AuditEvent, OutboxMessage
from reminders.store.opt_outs import opt_out
from reminders.web.app import create_app
from tests.support.care_pages import answer, care_settings, care_token
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.settings import utc
from tests.support.web_accounts import FAST_PASSWORDS, MovableClock, TestClient

COMPLETED = utc(2026, 11, 21, 4, 30)  # Friday 20:30 in Los Angeles: an evening clinic
NOW = COMPLETED + timedelta(hours=2)  # 22:30 there: outside the send window


@pytest.fixture
def settings(database_url, tmp_path):
    return care_settings(database_url, tmp_path)


@pytest.fixture
def app(settings, engine, clock: MovableClock, runtime: Runtime) -> FastAPI:
    return create_app(settings, engine, clock=clock, passwords=FAST_PASSWORDS)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


@pytest.fixture
def token(runtime, settings, engine) -> str:
    session_id = enroll_patient(runtime, completed_at=COMPLETED, now=NOW).session_id
    return care_token(engine, settings, session_id)


def codes(engine) -> list[OutboxMessage]:
    with Session(engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.purpose == "care_code")
        return list(session.exec(query))


def code_of(row: OutboxMessage) -> str:
    found = re.search(r"\b(\d{6})\b", row.body or "")
    assert found, row.body
    return found.group(1)


def test_text_me_a_code_queues_it_at_once_and_the_code_opens_the_page(
    client, runtime, engine, clock, token
):
    gate = client.get(f"/c/{token}")
    assert "Text me a code" in gate.text and "Date of birth" not in gate.text
    sent = client.post(f"/c/{token}/code")
    assert sent.status_code == 303 and sent.headers["location"] == f"/c/{token}?code=sent"
    [row] = codes(engine)
    assert (row.channel, row.status, row.at_once, row.recipient) == ("sms", "pending", True, None)
    assert row.not_after == NOW + timedelta(minutes=10)
    assert (
        row.body == f"Fine Touch Dermatology: your code for your care plan is {code_of(row)}."
        " It works for 10 minutes."
    )
    make_dispatcher(runtime, clock).run_once()  # 22:30 in Los Angeles: it goes all the same
    assert codes(engine)[0].status == "sent"
    shown = client.get(sent.headers["location"]).text
    assert "We texted you a code" in shown and 'autocomplete="one-time-code"' in shown
    opened = client.post(f"/c/{token}", data={"code": code_of(row)})
    assert opened.status_code == 303 and "care=" in opened.headers["set-cookie"]
    assert "Hi Maria" in client.get(f"/c/{token}").text


def test_a_code_works_once_and_for_ten_minutes(app, client, engine, clock, token):
    client.post(f"/c/{token}/code")
    code = code_of(codes(engine)[0])
    clock.advance(minutes=10)
    assert client.post(f"/c/{token}", data={"code": code}).status_code == 400
    clock.advance(minutes=1)
    client.post(f"/c/{token}/code")
    fresh = code_of(codes(engine)[-1])
    assert client.post(f"/c/{token}", data={"code": fresh}).status_code == 303
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as other:
        again = other.post(f"/c/{token}", data={"code": fresh})
        assert again.status_code == 400 and "does not match, or it has expired" in again.text


def test_at_most_one_code_a_minute(client, engine, clock, token):
    assert client.post(f"/c/{token}/code").headers["location"].endswith("code=sent")
    assert client.post(f"/c/{token}/code").headers["location"].endswith("code=wait")
    assert len(codes(engine)) == 1
    clock.advance(minutes=1)
    assert client.post(f"/c/{token}/code").headers["location"].endswith("code=sent")
    assert len(codes(engine)) == 2


def test_wrong_codes_count_toward_the_lock(client, engine, token):
    client.post(f"/c/{token}/code")
    code = code_of(codes(engine)[0])
    wrong = "000000" if code != "000000" else "111111"
    statuses = [client.post(f"/c/{token}", data={"code": wrong}).status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    assert client.post(f"/c/{token}", data={"code": code}).status_code == 429
    assert client.post(f"/c/{token}/code").status_code == 429  # no new code while locked


def test_no_code_for_a_patient_with_a_date_of_birth_or_a_stopped_number(
    client, runtime, settings, engine, token
):
    born = enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz",
                          phone="+13105550199", date_of_birth="1990-07-01").session_id  # fmt: skip
    other = care_token(engine, settings, born)
    assert client.post(f"/c/{other}/code").status_code == 400
    with Session(engine) as session:
        opt_out(session, MARIA_PHONE, source="sms_reply", actor="t", now=NOW)
        session.commit()
    gate = client.get(f"/c/{token}")
    assert "Text me a code" not in gate.text and "call us at" in gate.text
    assert client.post(f"/c/{token}/code").status_code == 200
    assert codes(engine) == []


def test_the_audit_names_the_code_sent_never_the_code(client, engine, token):
    client.post(f"/c/{token}/code")
    code = code_of(codes(engine)[0])
    answer(client, token, None, code=code)
    with Session(engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.entity == "care_link")).all()
    assert "care_code_sent" in [row.action for row in rows]
    assert not any(code in f"{row.detail}" for row in rows)
