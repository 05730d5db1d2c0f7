"""The dispatcher prepares and records messages a chunk at a time: the same decisions as one at
a time, a few statements per chunk instead of a dozen per message, and a chunk that cannot be
prepared together falls back to one message at a time."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.sending.channels.base import BaseChannel, OutgoingMessage
from reminders.sending.dispatcher import Dispatcher
from reminders.sending.preparing import Preparer
from reminders.store.models import OutboxMessage
from reminders.store.send_history import SendHistory
from tests.support.factories import enroll_patient
from tests.support.send_plans import no_texts_combine

COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)


class Recording(BaseChannel):
    name = "recording"

    def __init__(self, on_send=lambda _m: None) -> None:
        self.sent: list[OutgoingMessage] = []
        self.on_send = on_send
        self.lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> str:
        self.on_send(message)
        with self.lock:
            self.sent.append(message)
        return f"rec-{message.message_id}"

    def close(self) -> None:
        pass


def dispatcher(runtime: Runtime, channel: Recording, **settings: object) -> Dispatcher:
    return Dispatcher(
        runtime.engine,
        runtime.settings.model_copy(update=settings),
        runtime.default_plans,
        {"sms": channel, "email": channel},
        worker_id="worker-1",
        clock=lambda: NOW,
    )


def enroll(runtime: Runtime, patients: int) -> None:
    for n in range(patients):
        enroll_patient(
            runtime,
            completed_at=COMPLETED,
            now=NOW,
            name=f"Patient {n}",
            phone=f"+1310555{n:04d}",
            email=f"p{n}@example.org",
        )


def rows(runtime: Runtime) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        return list(session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_a_chunk_sends_each_due_message_once_in_a_few_statements(runtime):
    enroll(runtime, 20)
    statements: list[str] = []
    sa.event.listen(
        runtime.engine, "before_cursor_execute", lambda *a: statements.append(a[2]), named=False
    )
    channel = Recording()
    report = dispatcher(runtime, channel).run_once()
    assert report.count("sent") == 40
    assert sorted(m.message_id for m in channel.sent) == sorted(
        m.id for m in rows(runtime) if m.status == "sent"
    )
    # One at a time this took a dozen statements per message (about 480 here); together, on
    # SQLite, 111: 40 are the "sent" timeline entries, which the ORM inserts one by one there
    # (it cannot match SQLite's RETURNING rows to its objects), and 40 the rows' own updates.
    assert len(statements) < 150, len(statements)


def test_the_daily_cap_counts_the_texts_reserved_earlier_in_the_same_chunk(runtime):
    no_texts_combine(runtime.engine, runtime.default_plans)  # the cap alone decides
    for treatment in ("test-dose", "laser", "asclera"):
        enroll_patient(runtime, completed_at=COMPLETED, now=NOW, treatment=treatment, email=None)
    report = dispatcher(runtime, Recording(), sms_daily_cap=2).run_once()
    texts = [o for o in report.outcomes if o.channel == "sms"]
    assert sorted((o.result, o.detail) for o in texts) == [
        ("deferred", "daily_cap"),
        ("sent", "recording"),
        ("sent", "recording"),
    ]


def test_a_text_reserved_earlier_in_the_chunk_counts_as_texted_and_toward_the_cap():
    history = SendHistory()
    first = OutboxMessage(id=1, patient_id=7, session_id=1, plan="p", step="a", channel="sms")
    second = OutboxMessage(id=2, patient_id=7, session_id=1, plan="p", step="b", channel="sms")
    first.recipient = "+13105550142"
    day = (NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert not history.texted_before(first, first.recipient)
    history.note_reserved(first, NOW)
    assert not history.texted_before(first, first.recipient)  # itself does not count
    assert history.texted_before(second, first.recipient)
    assert history.sms_sent_between(second, *day) == 1
    assert history.sms_sent_between(first, *day) == 0


def test_a_chunk_that_cannot_be_prepared_together_goes_one_message_at_a_time(
    runtime, monkeypatch, caplog
):
    enroll(runtime, 3)

    def broken(*_args: object) -> None:
        raise sa.exc.OperationalError("SELECT", {}, Exception("deadlock detected"))

    monkeypatch.setattr(Preparer, "_prepare_together", broken)
    channel = Recording()
    with caplog.at_level(logging.WARNING):
        report = dispatcher(runtime, channel).run_once()
    assert report.count("sent") == 6 and len(channel.sent) == 6
    assert "preparing 6 messages together failed (OperationalError)" in caplog.text


def test_a_stop_while_prepared_texts_wait_their_turn_hands_them_back_unreserved(runtime):
    enroll(runtime, 4)
    stop = threading.Event()
    channel = Recording(on_send=lambda _m: stop.set())  # the first send is under way at the stop
    worker = dispatcher(runtime, channel, send_concurrency=1)
    worker.stop = stop
    report = worker.run_once()
    assert len(channel.sent) == 1 and report.count("sent") == 1
    assert report.released == 7
    waiting = [m for m in rows(runtime) if m.due_at <= NOW and m.status != "sent"]
    assert len(waiting) == 7
    assert all(
        (m.status, m.sent_at, m.lease_owner, m.attempts) == ("pending", None, None, 0)
        for m in waiting
    )


def test_an_account_problem_hands_back_the_texts_still_waiting_their_turn(runtime):
    from reminders.sending.channels.base import ChannelError

    enroll(runtime, 4)

    def refused(message: OutgoingMessage) -> None:
        if message.channel == "sms":
            raise ChannelError("authenticate: 20003", permanent=False, account_problem=True)

    channel = Recording(on_send=refused)
    report = dispatcher(runtime, channel, send_concurrency=1).run_once()
    texts = [o for o in report.outcomes if o.channel == "sms"]
    assert [o.result for o in texts] == ["paused"]  # one call, not one per waiting text
    assert report.count("sent") == 4  # the emails went
    texts_due = [m for m in rows(runtime) if m.step == "aftercare" and m.channel == "sms"]
    assert [(m.status, m.sent_at) for m in texts_due] == [("pending", None)] * 4
    assert sum(m.due_at > NOW for m in texts_due) == 1  # the one refused waits 15 minutes
