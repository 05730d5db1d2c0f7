"""Inbound STOP/START once per MessageSid, in the order the patient's texts first reached us.

Signed webhooks through the real app; the app's clock is moved between texts. A text whose
handling fails (503) keeps its first arrival, so when Twilio retries it later it is ordered
by that, not by the retry (rules/keyword_order.py).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from reminders.receiving import inbound as receiving_inbound
from reminders.rules.keyword_order import acts, lifts
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, InboundMessage, KeywordState
from reminders.store.opt_outs import is_opted_out, opt_out
from reminders.web.app import create_app
from tests.support.factories import MARIA_PHONE
from tests.support.settings import make_settings, utc
from tests.support.webhooks import PUBLIC, TOKEN, signed, text

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = utc(2026, 3, 10, 18, 0)
INBOUND = "/webhooks/twilio/inbound"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def later(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, public_base_url=PUBLIC, twilio_auth_token=TOKEN)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(settings: Settings, engine: Engine, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine, clock=clock)) as client:
        yield client


def send(client: TestClient, clock: Clock, sid: str, body: str) -> int:
    clock.later()
    return signed(client, INBOUND, text(sid=sid, body=body)).status_code


def opted_out(engine: Engine) -> bool:
    with session_scope(engine) as session:
        return is_opted_out(session, "sms", MARIA_PHONE)


def inbound(engine: Engine, sid: str) -> InboundMessage | None:
    with session_scope(engine) as session:
        return session.get(InboundMessage, sid)


def audit_actions(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all())


def failing_once(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """The next call of receiving.inbound.`name` fails as a lost database would: the webhook
    answers 503 and Twilio will retry it."""
    real = getattr(receiving_inbound, name)
    calls = []

    def once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE ...", None, RuntimeError("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(receiving_inbound, name, once)


# -- rule 1: each MessageSid acts once --------------------------------------------------------


def test_a_replayed_start_does_not_undo_a_later_stop(client, clock, engine):
    assert send(client, clock, "SM1", "STOP") == 200
    assert send(client, clock, "SM2", "START") == 200
    assert send(client, clock, "SM3", "STOP") == 200
    actions = audit_actions(engine)

    assert send(client, clock, "SM2", "START") == 200  # the same START again

    assert opted_out(engine)
    assert audit_actions(engine) == actions  # the replay changed nothing at all
    assert inbound(engine, "SM2").outcome == "applied"


def test_a_replayed_stop_does_not_undo_a_later_start(client, clock, engine):
    send(client, clock, "SM1", "STOP")
    send(client, clock, "SM2", "START")
    send(client, clock, "SM1", "STOP")
    assert not opted_out(engine)


def test_a_replayed_help_gets_the_same_answer_and_records_nothing_new(client, clock, engine):
    clock.later()
    first = signed(client, INBOUND, text(sid="SM9", body="HELP"))
    clock.later()
    again = signed(client, INBOUND, text(sid="SM9", body="HELP"))
    assert first.text == again.text and "<Message>" in again.text
    row = inbound(engine, "SM9")
    assert (row.kind, row.outcome, row.received_at, row.handled_at) == (
        "help",
        "answered",
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=1),
    )


# -- rule 2: by first arrival ------------------------------------------------------------------


def test_a_start_retried_after_a_newer_stop_is_ignored(client, clock, engine, monkeypatch):
    send(client, clock, "SM1", "STOP")
    failing_once(monkeypatch, "opt_in")
    assert send(client, clock, "SM2", "START") == 503  # Twilio will retry this one
    assert inbound(engine, "SM2").handled_at is None  # but its first arrival is on record
    arrived = inbound(engine, "SM2").received_at

    assert send(client, clock, "SM3", "STOP") == 200  # the patient changed their mind
    assert send(client, clock, "SM2", "START") == 200  # Twilio's retry, later

    assert opted_out(engine)
    row = inbound(engine, "SM2")
    assert (row.outcome, row.received_at) == ("superseded", arrived)
    with session_scope(engine) as session:
        state = session.get(KeywordState, MARIA_PHONE)
        assert (state.message_sid, state.kind) == ("SM3", "stop")


def test_a_stop_retried_after_a_newer_start_is_ignored(client, clock, engine, monkeypatch):
    send(client, clock, "SM1", "STOP")
    failing_once(monkeypatch, "opt_out")
    assert send(client, clock, "SM2", "STOP") == 503
    send(client, clock, "SM3", "START")
    assert not opted_out(engine)
    failing_once(monkeypatch, "opt_out")  # a retry that would fail is not even tried
    assert send(client, clock, "SM2", "STOP") == 200
    assert not opted_out(engine)
    assert inbound(engine, "SM2").outcome == "superseded"


def test_keywords_in_order_work_as_ever(client, clock, engine):
    for n, body in enumerate(("STOP", "START", "STOP", "START", "STOP")):
        send(client, clock, f"SM{n}", body)
    assert opted_out(engine)


# -- rule 3: opt-outs recorded elsewhere ------------------------------------------------------


def test_a_start_does_not_lift_a_staff_opt_out_made_after_it_first_arrived(
    client, clock, engine, monkeypatch
):
    failing_once(monkeypatch, "opt_in")
    assert send(client, clock, "SM2", "START") == 503
    clock.later()
    with session_scope(engine) as session:  # the patient called to stop: staff record it
        opt_out(session, MARIA_PHONE, source="cli", actor="ana", now=clock.now)
    assert send(client, clock, "SM2", "START") == 200  # Twilio's retry of the older START
    assert opted_out(engine)
    assert inbound(engine, "SM2").outcome == "kept_opt_out"


def test_a_start_lifts_an_opt_out_made_elsewhere_before_it(client, clock, engine):
    with session_scope(engine) as session:
        opt_out(session, MARIA_PHONE, source="cli", actor="ana", now=clock.now)
    send(client, clock, "SM1", "START")
    assert not opted_out(engine)


# -- the pure rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrived", "newest", "expected"),
    [(10, None, True), (10, 5, True), (10, 10, True), (5, 10, False)],
)
def test_a_keyword_acts_unless_an_older_arrival_than_the_newest(arrived, newest, expected):
    at = lambda seconds: None if seconds is None else T0 + timedelta(seconds=seconds)  # noqa: E731
    assert acts(at(arrived), at(newest)) is expected


@pytest.mark.parametrize(
    ("source", "created", "expected"),
    [("sms_reply", 20, True), ("cli", 5, True), ("cli", 10, True), ("provider", 20, False)],
)
def test_a_start_lifts_sms_stops_and_older_opt_outs(source, created, expected):
    assert lifts(T0 + timedelta(seconds=10), source, T0 + timedelta(seconds=created)) is expected


# -- two web processes at once ------------------------------------------------------------------


@pytest.mark.postgres
def test_the_same_stop_twice_at_once_acts_once(postgres_url, tmp_path):
    from reminders.runtime import migrate
    from reminders.store.db import make_engine

    settings = make_settings(
        postgres_url, tmp_path, public_base_url=PUBLIC, twilio_auth_token=TOKEN
    )
    engines = [make_engine(postgres_url) for _ in range(2)]
    migrate(engines[0])
    clients = [TestClient(create_app(settings, e, clock=lambda: T0)) for e in engines]
    barrier, codes = threading.Barrier(2), []

    def post(client: TestClient) -> None:
        barrier.wait()
        codes.append(signed(client, INBOUND, text(sid="SM7", body="STOP")).status_code)

    with clients[0], clients[1]:
        threads = [threading.Thread(target=post, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert codes == [200, 200]
    assert audit_actions(engines[0]) == ["opt_out"]
    assert inbound(engines[0], "SM7").outcome == "applied"
    for engine in engines:
        engine.dispose()
