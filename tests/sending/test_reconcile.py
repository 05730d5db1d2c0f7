"""Reconcile: a send whose outcome is unknown is asked about, never resent blindly.

The provider is asked outside any database lock; a receipt landing meanwhile wins; a worker
that dies while asking holds the check-up briefly; where a status callback can still come, the
answer waits for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from reminders.sending.channels.base import Abilities, OutcomeUnknown
from reminders.sending.reconcile import HOLD, RECHECK, SETTLE
from reminders.store.claims import claim_due
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage
from reminders.store.opt_outs import opt_out
from tests.support.factories import enroll_patient, make_dispatcher
from tests.support.recording_channel import RecordingChannel, messages

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)


def test_a_worker_that_died_after_reserving_a_send_is_never_resent_blindly(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    sms_id = messages(runtime)["aftercare", "sms"].id
    with session_scope(runtime.engine) as session:
        claim_due(session, "dead-worker", NOW, lease, 100)
        row = session.get_one(OutboxMessage, sms_id)
        row.sent_at = NOW  # it had reserved the send: the provider may have the text
        session.add(row)
    channel = RecordingChannel()
    clock = [NOW + lease + timedelta(seconds=1)]
    dispatcher = make_dispatcher(runtime, lambda: clock[0], sms=channel)
    dispatcher.run_once()
    assert messages(runtime)["aftercare", "sms"].status == "unknown"
    clock[0] += timedelta(minutes=5)
    dispatcher.run_once()  # this channel cannot be asked: counted as sent, not sent again
    assert messages(runtime)["aftercare", "sms"].status == "sent"
    assert channel.sent == []


ASKABLE = Abilities(reconciles=True, status_callbacks=True)  # as Twilio with PUBLIC_BASE_URL


@dataclass
class AskableChannel(RecordingChannel):
    """A channel whose provider can be asked about a lost send; `during` runs while asked."""

    answer: str | None = None
    during: Callable[[], None] = lambda: None
    abilities: Abilities = ASKABLE

    def reconcile(self, *, message_id: int, to: str, body: str, since: datetime) -> str | None:
        self.during()
        return self.answer


def _lost_send(runtime) -> tuple[AskableChannel, list[datetime]]:
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    channel = AskableChannel(fail_with=lambda _m: OutcomeUnknown("read timeout"))
    clock = [NOW]
    make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once()
    channel.fail_with = lambda _m: None
    clock[0] = NOW + timedelta(minutes=3)
    return channel, clock


def test_asking_the_provider_holds_no_database_lock(runtime):
    channel, clock = _lost_send(runtime)

    def write_meanwhile() -> None:  # the webhook or staff must not wait on a slow provider
        with session_scope(runtime.engine) as session:
            opt_out(session, "someone@example.org", source="cli", actor="staff", now=clock[0])

    channel.during, channel.answer = write_meanwhile, "SM123"
    make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once()
    assert messages(runtime)["aftercare", "sms"].provider_id == "SM123"


def test_a_receipt_that_lands_while_asking_is_not_overwritten(runtime):
    channel, clock = _lost_send(runtime)

    def receipt_arrives() -> None:
        with session_scope(runtime.engine) as session:
            row = session.get_one(OutboxMessage, messages(runtime)["aftercare", "sms"].id)
            row.status = "delivered"
            session.add(row)

    channel.during, channel.answer = receipt_arrives, None  # the listing missed it
    make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once()
    assert messages(runtime)["aftercare", "sms"].status == "delivered"
    assert channel.sent == []


def test_a_worker_that_dies_while_asking_holds_the_check_up_briefly(runtime):
    channel, clock = _lost_send(runtime)

    def die() -> None:
        raise SystemExit("killed while asking the provider")

    channel.during = die
    with pytest.raises(SystemExit):
        make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once()
    channel.during, channel.answer = lambda: None, "SM123"
    start = clock[0]
    clock[0] = start + HOLD / 2
    assert make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once().reconciled == 0
    clock[0] = start + HOLD + timedelta(seconds=1)  # not RECHECK: nobody could not answer
    assert make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once().reconciled == 1
    assert messages(runtime)["aftercare", "sms"].provider_id == "SM123"


def test_a_provider_that_cannot_be_asked_is_asked_again_after_a_while(runtime):
    channel, clock = _lost_send(runtime)

    def cannot_ask(**_: object) -> str | None:
        raise OutcomeUnknown("could not list Twilio messages")

    channel.reconcile = cannot_ask  # type: ignore[method-assign]
    start = clock[0]
    assert make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once().reconciled == 0
    assert messages(runtime)["aftercare", "sms"].due_at == start + RECHECK
    del channel.reconcile
    channel.answer = "SM123"
    clock[0] = start + HOLD + timedelta(seconds=1)
    assert make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once().reconciled == 0
    clock[0] = start + RECHECK
    assert make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once().reconciled == 1


def test_an_unknown_sms_waits_for_a_status_callback_only_where_one_can_come(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz",
                   phone="+13105550199", email=None)  # fmt: skip
    channel = AskableChannel(fail_with=lambda _m: OutcomeUnknown("read timeout"), answer="SM1")
    clock = [NOW]
    make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once()
    clock[0] = NOW + SETTLE + timedelta(seconds=1)
    channel.fail_with = lambda _m: None
    with_callbacks = make_dispatcher(runtime, lambda: clock[0], sms=channel)
    assert with_callbacks.run_once().reconciled == 0  # Twilio may still post its callback

    channel.abilities = Abilities(reconciles=True)  # no PUBLIC_BASE_URL: no callbacks
    assert make_dispatcher(runtime, lambda: clock[0], sms=channel).run_once().reconciled == 2
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.step == "aftercare", OutboxMessage.channel == "sms"
        )
        rows = session.exec(query).all()
    assert {(m.status, m.provider_id) for m in rows} == {("sent", "SM1")}
