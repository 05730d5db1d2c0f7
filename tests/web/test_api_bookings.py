"""`POST /api/v1/bookings` over HTTP, on SQLite and PostgreSQL: the API key, the patient by id
or phone, idempotency by external_id, the follow-up prompts skipped with the booking, every
refusal a 422 naming its field with nothing written, a cancellation by the key that booked
(`DELETE`), and the OpenAPI description."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from reminders.rules.lifecycle import SkipReason, Status
from reminders.store.api_keys import create_api_key
from reminders.store.booking_tables import Booking
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OutboxMessage
from tests.support.factories import enroll_patient
from tests.support.settings import utc

NOW = utc(2026, 12, 1, 17, 0)
COMPLETED = utc(2026, 11, 2, 22, 30)
URL = "/api/v1/bookings"
BOOKING = {"external_id": "appt-20931", "phone": "(310) 555-0142",
           "starts_at": "2027-01-12T10:00:00-08:00"}  # fmt: skip


def new_key(engine: Engine, label: str = "Front desk PMS") -> str:
    with session_scope(engine) as session:
        _key, secret = create_api_key(session, label=label, actor="ana@example.com", now=NOW)
    return secret


@pytest.fixture
def key(engine: Engine) -> str:
    return new_key(engine)


@pytest.fixture
def maria(runtime) -> tuple[int, int]:
    enrolled = enroll_patient(runtime, completed_at=COMPLETED, now=COMPLETED)
    return enrolled.patient_id, enrolled.session_id


def post(client, key: str | None, body: object = BOOKING):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.post(URL, json=body, headers=headers)


def prompt_statuses(engine: Engine, session_id: int) -> set[tuple[str, str | None]]:
    with session_scope(engine) as session:
        query = select(OutboxMessage.status, OutboxMessage.error_reason).where(
            OutboxMessage.session_id == session_id, OutboxMessage.step == "follow_up"
        )
        return {(status, reason) for status, reason in session.exec(query).all()}


def bookings(engine: Engine) -> list[Booking]:
    with session_scope(engine) as session:
        return list(session.exec(select(Booking).order_by(col(Booking.id))).all())


PENDING = {(Status.PENDING, None)}
BOOKED = {(Status.SKIPPED, SkipReason.BOOKED)}


def test_without_a_key_it_is_401_and_nothing_written(client, engine, maria):
    answer = post(client, None)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert bookings(engine) == []


def test_a_booking_by_phone_skips_the_follow_up_prompts_at_once(client, engine, key, maria):
    patient_id, session_id = maria
    answer = post(client, key)
    assert answer.status_code == 201
    assert answer.json() | {"booking_id": 0} == {
        "booking_id": 0,
        "patient_id": patient_id,
        "session_id": session_id,
        "starts_at": "2027-01-12T18:00:00Z",
        "result": "booked",
        "prompts_skipped": 2,
    }
    assert prompt_statuses(engine, session_id) == BOOKED
    [booking] = bookings(engine)
    assert (booking.source, booking.external_id, booking.ends_at) == (
        "api:1", "appt-20931", None)  # fmt: skip


def test_a_booking_by_patient_id(client, engine, key, maria):
    patient_id, session_id = maria
    body = {"external_id": "A-1", "patient_id": patient_id, "starts_at": "2027-01-12T18:00:00Z",
            "ends_at": "2027-01-12T18:45:00Z"}  # fmt: skip
    answer = post(client, key, body)
    assert (answer.status_code, answer.json()["session_id"]) == (201, session_id)
    assert bookings(engine)[0].ends_at == utc(2027, 1, 12, 18, 45)


def test_the_same_external_id_again_is_idempotent(client, engine, key, maria):
    first = post(client, key).json()
    again = post(client, key)
    assert again.status_code == 200
    assert again.json() == first | {"result": "unchanged", "prompts_skipped": 0}
    assert len(bookings(engine)) == 1


def test_the_same_external_id_at_a_new_time_moves_the_booking(client, engine, key, maria):
    post(client, key)
    moved = post(client, key, BOOKING | {"starts_at": "2027-01-14T15:00:00-08:00"})
    assert (moved.status_code, moved.json()["result"]) == (200, "moved")
    [booking] = bookings(engine)
    assert booking.starts_at == utc(2027, 1, 14, 23, 0)
    with session_scope(engine) as session:
        notes = session.exec(
            select(MessageEvent.reason).where(col(MessageEvent.reason).like("booking moved%"))
        ).all()
    assert notes == ["booking moved: booked for Thu 14 Jan 15:00"] * 2


def test_external_ids_belong_to_their_api_key(client, engine, key, maria):
    post(client, key)
    other = post(client, new_key(engine, "Second PMS"))
    assert (other.status_code, other.json()["result"]) == (201, "booked")
    assert [b.source for b in bookings(engine)] == ["api:1", "api:2"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": None}, "patient_id"),
        ({"phone": "+14155550123"}, "phone"),
        ({"phone": "not a number"}, "phone"),
        ({"phone": None, "patient_id": 999}, "patient_id"),
        ({"starts_at": "2027-01-12T10:00"}, "starts_at"),
        ({"starts_at": "next tuesday"}, "starts_at"),
        ({"starts_at": "0001-01-01T00:00:00+01:00"}, "starts_at"),
        ({"starts_at": "2327-01-12T10:00:00-08:00"}, "starts_at"),
        ({"ends_at": "2027-01-12T09:00:00-08:00"}, "ends_at"),
        ({"external_id": "has spaces in it"}, "external_id"),
        ({"external_id": ""}, "external_id"),
        ({"nickname": "Mari"}, "nickname"),
    ],
)
def test_a_refusal_names_its_field_and_writes_nothing(client, engine, key, maria, change, field):
    body = {k: v for k, v in (BOOKING | change).items() if v is not None}
    answer = post(client, key, body)
    assert answer.status_code == 422
    assert field in answer.json()["errors"]
    assert bookings(engine) == []
    assert prompt_statuses(engine, maria[1]) == PENDING


def test_a_patient_without_a_live_session_cannot_book(client, engine, key, maria):
    with engine.begin() as db:
        db.execute(sa.text("UPDATE treatment_session SET status = 'voided'"))
    answer = post(client, key)
    assert answer.status_code == 422
    assert answer.json()["errors"] == {"phone": "the patient has no session on file to book after"}


def cancel(client, key: str | None, external_id: str = "appt-20931"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return client.delete(f"{URL}/{external_id}", headers=headers)


def test_a_cancellation_plans_the_prompts_again_once(client, engine, key, maria):
    _patient_id, session_id = maria
    booking_id = post(client, key).json()["booking_id"]
    answer = cancel(client, key)
    assert (answer.status_code, answer.json()) == (
        200, {"booking_id": booking_id, "result": "cancelled", "prompts_replanned": 2})  # fmt: skip
    assert prompt_statuses(engine, session_id) == PENDING
    again = cancel(client, key)
    assert again.json() == {"booking_id": booking_id, "result": "unchanged",
                            "prompts_replanned": 0}  # fmt: skip
    assert bookings(engine)[0].status == "cancelled"


def test_only_the_key_that_booked_can_cancel(client, engine, key, maria):
    _patient_id, session_id = maria
    post(client, key)
    assert cancel(client, None).status_code == 401
    assert cancel(client, new_key(engine, "Second PMS")).status_code == 404
    assert cancel(client, key, "appt-unknown").status_code == 404
    assert prompt_statuses(engine, session_id) == BOOKED


def test_openapi_describes_bookings(client):
    schema = client.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/bookings"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    fields = body["properties"]
    assert set(fields) == {"external_id", "starts_at", "ends_at", "patient_id", "phone"}
    assert set(body["required"]) == {"external_id", "starts_at"}
    assert all(field.get("description") for field in fields.values())
    assert {"200", "201", "401", "422", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"ApiKey": []}]
    cancelling = schema["paths"]["/bookings/{external_id}"]["delete"]
    assert {"200", "401", "404"} <= set(cancelling["responses"])
    page = client.get("/api/v1/docs").text
    assert "<code>POST /api/v1/bookings</code>" in page
    assert "<code>external_id</code>" in page


ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
              st.floats(allow_nan=False), st.text(max_size=30)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip
LIKELY = {
    "external_id": st.sampled_from(["appt-1", "appt-2", "", "a b", "x" * 201]),
    "phone": st.sampled_from(["+13105550142", "3105550142", "555", "", "+14155550123"]),
    "patient_id": st.one_of(st.integers(1, 3), st.integers(min_value=-1, max_value=2**64)),
    "starts_at": st.sampled_from(["2027-01-12T10:00:00-08:00", "2027-01-12T10:00", "soon",
                                  "2027-03-14T02:30:00-08:00", "9999-12-31T23:59:59-14:00",
                                  "0001-01-01T00:00:00+01:00"]),
    "ends_at": st.sampled_from(["2027-01-12T11:00:00-08:00", "2027-01-12T09:00Z", "", "later"]),
}  # fmt: skip
BODY = st.one_of(
    st.fixed_dictionaries({}, optional={k: st.one_of(v, ANY_JSON) for k, v in LIKELY.items()}),
    ANY_JSON,
)


@examples(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(body=BODY)
def test_whatever_is_posted_the_answer_is_json_and_never_a_server_error(
    client, engine, key, maria, body
):
    answer = client.post(URL, content=json.dumps(body).encode(),
                         headers={"Authorization": f"Bearer {key}",
                                  "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code in (200, 201, 422), answer.text
    assert answer.headers["content-type"] == "application/json"
