"""With TWILIO_LOOKUP on, enrollment asks Twilio Lookup v2 (the real twilio client, against the
loopback fake) for the number's line type, on SQLite and PostgreSQL: a landline is refused for
texts with the reason; an answer is kept per number (asked once); a lookup that fails enrolls
all the same, saying the line type was not checked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from reminders.planning.enroll_patient import Desk, EnrollResult, enroll_patient
from reminders.planning.validation import EnrollmentForm
from reminders.rules.line_types import NOT_CHECKED
from reminders.runtime import Runtime
from reminders.sending.channels.factory import line_type_lookup_of
from reminders.store.db import session_scope
from tests.support.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilio,
    latency,
    server_error,
)

NOW = datetime(2026, 11, 20, 22, 35, tzinfo=UTC)
PHONE = "+13105550142"
MARIA = EnrollmentForm("Maria Lopez", "(310) 555-0142", "asclera", "2026-11-20 14:30")


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


def desk(runtime: Runtime, twilio: FakeTwilio, **settings: object) -> Desk:
    looked_up = runtime.settings.model_copy(update={
        "twilio_lookup": True, "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": SecretStr(AUTH_TOKEN),
        "twilio_api_base": twilio.base_url, **settings,
    })  # fmt: skip
    lookup = line_type_lookup_of(looked_up)
    assert lookup is not None
    return Desk(runtime.default_plans, looked_up.timezone, "US", line_types=lookup)


def enroll(runtime: Runtime, desk: Desk, form: EnrollmentForm = MARIA, now: datetime = NOW):
    with session_scope(runtime.engine) as session:
        result: EnrollResult = enroll_patient(session, form, desk, actor="test", now=now)
        if result.refused:
            session.rollback()  # as every door ends a refused enrollment
        return result


def sessions(runtime: Runtime) -> int:
    with runtime.engine.connect() as db:
        return db.execute(sa.text("SELECT count(*) FROM treatment_session")).scalar_one()


def test_a_landline_by_twilios_answer_is_refused_with_the_reason(runtime, twilio):
    twilio.line_types[PHONE] = "landline"
    result = enroll(runtime, desk(runtime, twilio))
    assert result.refused and sessions(runtime) == 0
    assert result.problems["phone"] == (
        f"phone number {PHONE} is a landline (Twilio Lookup), which cannot take texts: give a"
        " mobile number, or enroll without texts to keep it on file"
    )
    [asked] = twilio.lookups()
    assert asked.path == f"/v2/PhoneNumbers/{PHONE}"
    assert asked.query == {"Fields": "line_type_intelligence"}
    no_texts = replace(MARIA, sms=False, email="maria@example.com")
    assert not enroll(runtime, desk(runtime, twilio), no_texts).refused
    assert len(twilio.lookups()) == 1  # no texts: no need to ask


def test_a_mobile_answer_is_kept_per_number_and_asked_again_only_when_old(runtime, twilio):
    looked_up = desk(runtime, twilio)
    first = enroll(runtime, looked_up)
    assert not first.refused and NOT_CHECKED not in first.warnings
    later = replace(MARIA, completed_at="2026-11-21 10:00")
    assert not enroll(runtime, looked_up, later, NOW + timedelta(days=1)).refused
    assert len(twilio.lookups()) == 1  # the kept answer
    twilio.line_types[PHONE] = "tollFree"  # a month on, the number is asked again
    month = replace(MARIA, completed_at="2026-12-21 10:00")
    result = enroll(runtime, looked_up, month, NOW + timedelta(days=31))
    assert "is a toll-free number (Twilio Lookup)" in result.problem
    assert len(twilio.lookups()) == 2 and sessions(runtime) == 2


@pytest.mark.parametrize("failure", [server_error(503), latency(1.0)], ids=["5xx", "timeout"])
def test_a_failed_lookup_enrolls_and_says_the_line_type_was_not_checked(runtime, twilio, failure):
    twilio.lookup_next(failure)
    looked_up = desk(runtime, twilio, twilio_timeout_seconds=0.3)
    result = enroll(runtime, looked_up)
    assert not result.refused and sessions(runtime) == 1
    assert NOT_CHECKED in result.warnings
    with runtime.engine.connect() as db:  # nothing kept: the next enrollment asks again
        assert db.execute(sa.text("SELECT count(*) FROM phone_line_type")).scalar_one() == 0
