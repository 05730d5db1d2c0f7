"""Issue #3 done-when: real channels end to end, as an operator would run them.

`aftercare tick` sends a patient's day-0 SMS over HTTP to a Twilio of our own on loopback (the
real twilio client) and the email over SMTP to aiosmtpd; a signed status callback marks the SMS
delivered; a signed STOP ends the SMS while email continues.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from reminders.cli.app import app
from reminders.web.app import create_app
from tests.support.cli import CLI_NOW
from tests.support.settings import make_settings, utc
from tests.support.smtp_server import RunningServer, smtp_server
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PUBLIC = "https://aftercare.example.org"
MARIA = "+13105550142"
CLINIC_NUMBER = "+18773376424"


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[RunningServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def env(database_url: str, tmp_path: Path, twilio: FakeTwilio, smtp: RunningServer,
        monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("reminders.clock.utcnow", lambda: CLI_NOW)  # June sessions stay timely
    return {
        "DATABASE_URL": database_url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": CLINIC_NUMBER,
        "TWILIO_API_BASE": twilio.base_url,
        "SMS_MAX_PER_SECOND": "100",
        "SMTP_HOST": smtp.host,
        "SMTP_PORT": str(smtp.port),
        "SMTP_SECURITY": "none",
        "EMAIL_FROM": "care@finetouchderm.example",
        "PUBLIC_BASE_URL": PUBLIC,
        "SECRET_KEY": "a-long-random-test-secret-0123456789",
    }


def cli(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def outbox(env: dict[str, str]) -> dict[tuple[str, str], dict[str, object]]:
    rows = json.loads(cli(env, "messages", "--json"))
    return {(row["step"], row["channel"]): row for row in rows}


def signed_post(client: TestClient, path: str, params: dict[str, str]):  # type: ignore[no-untyped-def]
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path, params)
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature})


def test_day_zero_goes_out_for_real_then_receipts_and_stop_come_back(
    env: dict[str, str], twilio: FakeTwilio, smtp: RunningServer, database_url: str, tmp_path: Path
) -> None:
    cli(env, "init")
    cli(env, "enroll", "--name", "Maria Lopez", "--phone", MARIA, "--email", "maria@example.com",
        "--treatment", "asclera", "--completed-at", "2026-06-01 10:00")  # fmt: skip
    cli(env, "tick", "--now", "2026-06-01T10:01")

    [sms_request] = twilio.created()
    assert sms_request.form["To"] == MARIA and sms_request.form["From"] == CLINIC_NUMBER
    assert "Reply STOP" in sms_request.form["Body"]
    [email] = smtp.handler.received
    assert email.rcpt_tos == ["maria@example.com"]
    assert email.message()["List-Unsubscribe"].startswith(f"<{PUBLIC}/unsubscribe/")

    sent = outbox(env)
    sms, mail = sent["aftercare", "sms"], sent["aftercare", "email"]
    assert (sms["status"], mail["status"]) == ("sent", "sent")
    assert str(sms["provider_id"]).startswith("SM")
    assert mail["provider_id"] == email.message()["Message-ID"]
    callback = sms_request.form["StatusCallback"]
    assert callback == f"{PUBLIC}/webhooks/twilio/status?message_id={sms['id']}"

    settings = make_settings(database_url, tmp_path, twilio_auth_token=AUTH_TOKEN,
                             public_base_url=PUBLIC)  # fmt: skip
    with TestClient(create_app(settings, clock=lambda: utc(2026, 6, 1, 17, 2))) as web:
        path = callback.removeprefix(PUBLIC)
        receipt = {"MessageSid": str(sms["provider_id"]), "MessageStatus": "delivered",
                   "To": MARIA, "From": CLINIC_NUMBER}  # fmt: skip
        assert signed_post(web, path, receipt).status_code == 200
        stop = {"MessageSid": "SM" + "9" * 32, "From": MARIA, "To": CLINIC_NUMBER, "Body": " stop "}
        assert signed_post(web, "/webhooks/twilio/inbound", stop).status_code == 200

    after_stop = outbox(env)
    assert after_stop["aftercare", "sms"]["status"] == "delivered"
    assert after_stop["restriction_day_1", "sms"]["status"] == "skipped"
    assert after_stop["restriction_day_1", "sms"]["error"] == "opted_out"

    cli(env, "tick", "--now", "2026-06-08T10:00")  # day 7: what is normal
    assert len(twilio.created()) == 1  # no further SMS to that number
    assert len(smtp.handler.received) == 2  # email continues: consented and not opted out
    week_one = outbox(env)
    assert week_one["what_is_normal", "email"]["status"] == "sent"
    assert week_one["what_is_normal", "sms"]["error"] == "opted_out"


def test_an_invalid_number_fails_that_sms_and_marks_the_phone(
    env: dict[str, str], twilio: FakeTwilio
) -> None:
    from tests.support.twilio_server import twilio_error

    twilio.answer_number(MARIA, twilio_error(400, 21211, f"The 'To' number {MARIA} is not valid."))
    cli(env, "init")
    cli(env, "enroll", "--name", "Maria Lopez", "--phone", MARIA, "--email", "maria@example.com",
        "--treatment", "asclera", "--completed-at", "2026-06-01 10:00")  # fmt: skip
    cli(env, "tick", "--now", "2026-06-01T10:01")
    sms = outbox(env)["aftercare", "sms"]
    assert (sms["status"], str(sms["error"]).split(":")[0]) == ("failed", "21211")
    assert MARIA not in str(sms["error"])
    cli(env, "tick", "--now", "2026-06-02T09:00")
    day_1 = outbox(env)["restriction_day_1", "sms"]
    assert (day_1["status"], day_1["error"]) == ("skipped", "undeliverable")
    assert len(twilio.created()) == 1


def test_twilio_busy_is_retried_and_then_sent(env: dict[str, str], twilio: FakeTwilio) -> None:
    from tests.support.twilio_server import rate_limited

    twilio.answer_next(rate_limited())
    cli(env, "init")
    cli(env, "enroll", "--name", "Maria Lopez", "--phone", MARIA, "--no-email",
        "--treatment", "asclera", "--completed-at", "2026-06-01 10:00")  # fmt: skip
    cli(env, "tick", "--now", "2026-06-01T10:01")
    first = outbox(env)["aftercare", "sms"]
    assert (first["status"], first["attempts"]) == ("pending", 1)
    cli(env, "tick", "--now", "2026-06-01T10:06")  # first retry comes within five minutes
    assert outbox(env)["aftercare", "sms"]["status"] == "sent"


def test_a_timed_out_send_is_reconciled_not_resent(env: dict[str, str], twilio: FakeTwilio) -> None:
    from tests.support.twilio_server import stall

    env |= {"TWILIO_TIMEOUT_SECONDS": "0.3"}
    twilio.answer_next(stall(2))  # Twilio takes the message but the answer never comes in time
    cli(env, "init")
    cli(env, "enroll", "--name", "Maria Lopez", "--phone", MARIA, "--no-email",
        "--treatment", "asclera", "--completed-at", "2026-06-01 10:00")  # fmt: skip
    cli(env, "tick", "--now", "2026-06-01T10:01")
    assert outbox(env)["aftercare", "sms"]["status"] == "unknown"
    cli(env, "tick", "--now", "2026-06-01T10:02")  # within the grace for a status callback
    assert outbox(env)["aftercare", "sms"]["status"] == "unknown"
    cli(env, "tick", "--now", "2026-06-01T10:05")
    settled = outbox(env)["aftercare", "sms"]
    assert settled["status"] == "sent"
    assert settled["provider_id"] == twilio.messages[0]["sid"]
    assert len(twilio.created()) == 1  # asked, not sent again


def test_an_unknown_send_twilio_never_got_goes_out_once_more(
    env: dict[str, str], twilio: FakeTwilio, database_url: str
) -> None:
    import sqlalchemy as sa

    cli(env, "init")
    cli(env, "enroll", "--name", "Maria Lopez", "--phone", MARIA, "--no-email",
        "--treatment", "asclera", "--completed-at", "2026-06-01 10:00")  # fmt: skip
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:  # as a worker leaves it after a lost request
        connection.execute(
            sa.text("UPDATE outbox_message SET status = 'unknown', attempts = 1, body = 'x',"
                    " recipient = :to, sent_at = :at, updated_at = :at WHERE step = 'aftercare'"
                    " AND channel = 'sms'"),
            {"to": MARIA, "at": utc(2026, 6, 1, 17, 1).replace(tzinfo=None)},
        )  # fmt: skip
    engine.dispose()
    cli(env, "tick", "--now", "2026-06-01T10:05")
    assert outbox(env)["aftercare", "sms"]["status"] == "sent"
    assert len(twilio.created()) == 1
