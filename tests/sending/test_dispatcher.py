"""Dispatcher: claim, check, render, send, record; one bad row fails alone.

What happens to a send whose outcome is unknown is reconcile's: test_reconcile.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.sending.channels.base import (
    Abilities,
    ChannelError,
    OutcomeUnknown,
    OutgoingMessage,
    Reserve,
)
from reminders.sending.reconcile import SETTLE
from reminders.store.claims import claim_due
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OutboxMessage, Patient, TemplateRevision
from reminders.store.opt_outs import opt_out
from reminders.store.pauses import pause_patient
from tests.support.factories import MARIA_EMAIL, MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.recording_channel import RecordingChannel, messages
from tests.support.send_plans import no_texts_combine

LA = ZoneInfo("America/Los_Angeles")
COMPLETED = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Fri 14:30 PST
NOW = COMPLETED + timedelta(minutes=5)


def test_day_zero_messages_are_sent_and_recorded(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    report = make_dispatcher(runtime, lambda: NOW).run_once()
    assert report.count("sent") == 2
    sms = messages(runtime)["aftercare", "sms"]
    assert (sms.status, sms.attempts, sms.provider_id) == ("sent", 1, f"console-{sms.id}")
    assert sms.sent_at == NOW and sms.template_version == 1
    assert "Fine Touch Dermatology" in (sms.body or "") and "STOP" in (sms.body or "")
    lines = [json.loads(x) for x in runtime.settings.outbox_file.read_text().splitlines()]
    assert {(x["step"], x["channel"], x["to"]) for x in lines} == {
        ("aftercare", "sms", MARIA_PHONE),
        ("aftercare", "email", "maria@example.com"),
    }
    assert next(x for x in lines if x["channel"] == "email")["subject"]


def test_sms_defaults_name_no_treatment_but_email_may(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    sent = messages(runtime)
    assert "sclero" not in (sent["aftercare", "sms"].body or "").lower()
    assert "asclera" not in (sent["aftercare", "sms"].body or "").lower()


def test_sms_due_at_night_waits_for_morning_while_email_goes(runtime):
    late = datetime(2026, 11, 21, 5, 0, tzinfo=UTC)  # 21:00 PST
    # Laser: nothing else is due the next morning (test_send_plans.py has sclerotherapy's).
    enroll_patient(runtime, completed_at=late, now=late, treatment="laser")
    report = make_dispatcher(runtime, lambda: late).run_once()
    assert sorted((o.channel, o.result) for o in report.outcomes) == [
        ("email", "sent"),
        ("sms", "deferred"),
    ]
    sms = messages(runtime)["aftercare", "sms"]
    assert (sms.status, sms.attempts) == ("pending", 0)
    assert sms.due_at == datetime(2026, 11, 21, 17, 0, tzinfo=UTC)  # 09:00 PST


def test_second_sms_the_same_local_day_moves_to_next_morning(runtime):
    no_texts_combine(runtime.engine, runtime.default_plans)  # too long to share one text
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, treatment="test-dose")
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, treatment="laser")
    report = make_dispatcher(runtime, lambda: NOW).run_once()
    sms = [o for o in report.outcomes if o.channel == "sms"]
    assert sorted(o.result for o in sms) == ["deferred", "sent"]
    deferred = next(o for o in sms if o.result == "deferred")
    assert deferred.detail == "daily_cap"
    assert deferred.at == datetime(2026, 11, 21, 17, 0, tzinfo=UTC)


def test_a_message_past_not_after_is_skipped_as_expired(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    much_later = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # day 5: restrictions are over
    make_dispatcher(runtime, lambda: much_later).run_once()
    rows = messages(runtime)
    assert rows["restriction_day_1", "sms"].status == "skipped"
    assert rows["restriction_day_1", "sms"].error_reason == "expired"
    assert rows["restrictions_over", "sms"].status == "skipped"
    assert rows["aftercare", "sms"].error_reason == "expired"


def test_opted_out_number_and_missing_consent_are_skipped(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email_ok=False)
    with session_scope(runtime.engine) as session:
        opt_out(session, MARIA_PHONE, source="cli", actor="test", now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    rows = messages(runtime)
    assert (rows["aftercare", "sms"].status, rows["aftercare", "sms"].error_reason) == (
        "skipped",
        "opted_out",
    )
    assert rows["aftercare", "email"].error_reason == "no_consent"


def test_no_email_address_is_skipped_with_its_reason(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    make_dispatcher(runtime, lambda: NOW).run_once()
    assert messages(runtime)["aftercare", "email"].error_reason == "no_address"


def test_transient_errors_retry_with_growing_gaps_then_fail(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    busy = RecordingChannel(
        fail_with=lambda _m: ChannelError("busy", permanent=False, code="20429")
    )
    clock = [NOW]
    dispatcher = make_dispatcher(runtime, lambda: clock[0], sms=busy)
    dispatcher.run_once()
    first = messages(runtime)["aftercare", "sms"]
    assert (first.status, first.attempts, first.error_code) == ("pending", 1, "20429")
    assert NOW < first.due_at <= NOW + timedelta(minutes=5)  # first retry within five minutes
    gaps = [first.due_at - NOW]
    for _ in range(runtime.settings.max_attempts - 1):
        clock[0] = messages(runtime)["aftercare", "sms"].due_at
        dispatcher.run_once()
        row = messages(runtime)["aftercare", "sms"]
        if row.status == "pending":
            gaps.append(row.due_at - clock[0])
    final = messages(runtime)["aftercare", "sms"]
    assert (final.status, final.attempts) == ("failed", runtime.settings.max_attempts)
    assert "gave up after" in (final.error_reason or "")
    assert gaps[-1] > gaps[0]


def test_permanent_error_fails_the_message_with_code_and_reason(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    invalid = RecordingChannel(
        fail_with=lambda _m: ChannelError("invalid number", permanent=True, code="21211")
    )
    make_dispatcher(runtime, lambda: NOW, sms=invalid).run_once()
    row = messages(runtime)["aftercare", "sms"]
    assert (row.status, row.error_code, row.error_reason, row.sent_at) == (
        "failed",
        "21211",
        "invalid number",
        None,
    )
    assert messages(runtime)["aftercare", "email"].status == "sent"


def test_a_template_typo_holds_that_row_and_the_batch_goes_on(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    with session_scope(runtime.engine) as session:
        session.add(
            TemplateRevision(plan="sclerotherapy", step="aftercare", channel="sms", language="en",
                             version=99, source="Hi {{ frist_name }}", created_by="admin")
        )  # fmt: skip
    report = make_dispatcher(runtime, lambda: NOW).run_once()
    assert sorted(o.result for o in report.outcomes) == ["held", "sent"]
    row = messages(runtime)["aftercare", "sms"]  # held until the template is saved again
    assert row.status == "pending" and row.error_code is None  # tests/sending/test_template_holds


def test_an_unexpected_crash_in_a_channel_stays_with_its_row(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone="+13105550199")

    def explode_for_maria(message: OutgoingMessage) -> Exception | None:
        return RuntimeError("boom") if message.to == MARIA_PHONE else None

    flaky = RecordingChannel(fail_with=explode_for_maria)
    report = make_dispatcher(runtime, lambda: NOW, sms=flaky).run_once()
    assert sorted(o.result for o in report.outcomes if o.channel == "sms") == ["retry", "sent"]
    assert [m.to for m in flaky.sent] == ["+13105550199"]


def test_a_lease_left_by_a_dead_worker_is_claimed_again_after_it_expires(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    with session_scope(runtime.engine) as session:
        assert len(claim_due(session, "dead-worker", NOW, lease, 100)) == 2
    assert make_dispatcher(runtime, lambda: NOW + lease / 2).run_once().outcomes == []
    report = make_dispatcher(runtime, lambda: NOW + lease + timedelta(seconds=1)).run_once()
    assert report.count("sent") == 2
    row = messages(runtime)["aftercare", "sms"]
    assert (row.status, row.attempts) == ("sent", 1)  # nothing reached the provider before


def test_stop_hands_back_the_rest_of_the_batch_untouched(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    runtime.settings = runtime.settings.model_copy(update={"send_concurrency": 1})
    dispatcher = make_dispatcher(runtime, lambda: NOW)
    stopping = RecordingChannel(fail_with=lambda _m: dispatcher.stop.set())
    dispatcher.channels = {"sms": stopping, "email": stopping}
    report = dispatcher.run_once()
    assert (len(report.outcomes), report.released) == (1, 1)
    statuses = sorted(
        (m.status, m.attempts) for m in messages(runtime).values() if m.due_at == COMPLETED
    )
    assert statuses == [("pending", 0), ("sent", 1)]


def test_abandon_gives_up_this_workers_leases_only_and_never_hands_back_a_reserved_send(
    runtime,
):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, phone="+13105550199", email=None)
    dispatcher = make_dispatcher(runtime, lambda: NOW)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    with session_scope(runtime.engine) as session:
        ours = claim_due(session, dispatcher.worker_id, NOW, lease, 2)
        theirs = claim_due(session, "worker-2", NOW, lease, 100)
        reserved = session.get_one(OutboxMessage, ours[0])
        reserved.sent_at = NOW  # its provider call is under way
    assert len(ours) == 2 and theirs

    assert dispatcher.abandon() == (1, 1)

    with Session(runtime.engine) as session:
        rows = {m.id: m for m in session.exec(select(OutboxMessage)).all()}
    assert (rows[ours[0]].status, rows[ours[0]].lease_owner) == ("unknown", None)
    assert (rows[ours[1]].status, rows[ours[1]].attempts, rows[ours[1]].lease_owner) == (
        "pending",
        0,
        None,
    )
    assert {(rows[i].status, rows[i].lease_owner) for i in theirs} == {("sending", "worker-2")}


def test_every_status_change_is_on_the_timeline(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    make_dispatcher(runtime, lambda: NOW).run_once()
    sms = messages(runtime)["aftercare", "sms"]
    with Session(runtime.engine) as session:
        events = session.exec(
            select(MessageEvent).where(MessageEvent.message_id == sms.id).order_by(MessageEvent.id)
        ).all()
    assert [e.to_status for e in events] == ["pending", "sending", "sent"]


def test_three_weeks_hour_by_hour_deliver_the_plan_once_in_daytime(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    channel = RecordingChannel()
    clock = [NOW]
    dispatcher = make_dispatcher(runtime, lambda: clock[0], sms=channel, email=channel)
    while clock[0] < COMPLETED + timedelta(days=45):
        dispatcher.run_once()
        clock[0] += timedelta(hours=1)
    sent = [(m.step, m.channel) for m in channel.sent]
    assert len(sent) == len(set(sent)) == 11  # every step once, nothing twice
    for message in channel.sent:
        if message.channel == "sms":
            assert 9 <= message.sent_at.astimezone(LA).hour < 20
    days = {m.step: (m.sent_at.astimezone(LA).date() - COMPLETED.astimezone(LA).date()).days
            for m in channel.sent}  # fmt: skip
    assert days == {"aftercare": 0, "restriction_day_1": 1, "restriction_day_2": 2,
                    "restrictions_over": 3, "what_is_normal": 7, "results_timeline": 21,
                    "follow_up": 42}  # fmt: skip


def test_a_full_batch_says_more_is_waiting_so_a_burst_drains_at_once(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz", phone="+13105550199")
    runtime.settings = runtime.settings.model_copy(update={"dispatch_batch_size": 3})
    dispatcher = make_dispatcher(runtime, lambda: NOW)
    assert dispatcher.run_once().claimed == 3 and dispatcher.more_waiting
    assert dispatcher.run_once().claimed == 1 and not dispatcher.more_waiting


def test_a_lease_that_ran_out_before_sending_is_not_used(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    with session_scope(runtime.engine) as session:
        claim_due(session, "worker-1", NOW, lease, 100)
    message_id = messages(runtime)["aftercare", "sms"].id
    channel = RecordingChannel()
    late = make_dispatcher(runtime, lambda: NOW + lease + timedelta(seconds=1), sms=channel)
    [outcome] = late.send_claimed([message_id])
    assert outcome is not None and outcome.result == "lost"  # another worker may hold it now
    assert channel.sent == []


def test_preparing_a_send_renews_the_lease_for_the_provider_call(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    with session_scope(runtime.engine) as session:
        claim_due(session, "worker-1", NOW, lease, 100)
    message_id = messages(runtime)["aftercare", "sms"].id
    later = NOW + lease - timedelta(seconds=1)
    seen: list[datetime | None] = []

    def look(_message: OutgoingMessage) -> None:
        seen.append(messages(runtime)["aftercare", "sms"].lease_expires_at)

    make_dispatcher(runtime, lambda: later, sms=RecordingChannel(fail_with=look)).send_claimed(
        [message_id]
    )
    assert seen == [later + lease]


def test_a_send_the_database_could_not_record_is_not_sent_again(runtime, monkeypatch):
    import sqlalchemy as sa

    import reminders.sending.recording as recording_module

    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    monkeypatch.setattr(recording_module.time, "sleep", lambda _s: None)

    def database_down(*_args: object, **_kwargs: object) -> None:
        raise sa.exc.OperationalError("UPDATE", {}, Exception("server closed the connection"))

    monkeypatch.setattr(recording_module, "record_sent", database_down)
    channel = RecordingChannel()
    clock = [NOW]
    dispatcher = make_dispatcher(runtime, lambda: clock[0], sms=channel)
    outcomes = dispatcher.run_once().outcomes
    assert [o.result for o in outcomes if o.channel == "sms"] == ["unknown"]
    monkeypatch.undo()
    for step in (timedelta(seconds=runtime.settings.lease_seconds + 1), timedelta(minutes=5)):
        clock[0] += step
        dispatcher.run_once()
    assert len(channel.sent) == 1
    assert messages(runtime)["aftercare", "sms"].status == "sent"


def test_the_first_text_a_number_gets_says_how_to_stop_whatever_its_step(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, email=None)
    day_seven = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # entered late: day 0 to 3 are past
    dispatcher = make_dispatcher(runtime, lambda: day_seven)
    dispatcher.run_once()
    first = messages(runtime)["what_is_normal", "sms"]
    assert first.status == "sent" and (first.body or "").endswith("Reply STOP to opt out.")
    dispatcher.clock = lambda: datetime(2026, 12, 11, 18, 0, tzinfo=UTC)
    dispatcher.run_once()
    assert "STOP" not in (messages(runtime)["results_timeline", "sms"].body or "")


def test_a_closed_console_stream_does_not_turn_a_delivery_into_a_retry(runtime):
    from reminders.sending.channels.console import ConsoleChannel

    class ClosedPipe:
        def write(self, _text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    console = ConsoleChannel(runtime.settings.outbox_file, ClosedPipe())  # type: ignore[arg-type]
    report = make_dispatcher(runtime, lambda: NOW, sms=console, email=console).run_once()
    assert sorted(o.result for o in report.outcomes) == ["sent", "sent"]
    assert len(runtime.settings.outbox_file.read_text().splitlines()) == 2


# -- Keyed channels (email over SMTP): reserved with the connection in hand, resent by key --


KEYED = Abilities(keyed=True)


@dataclass
class KeyedChannel(RecordingChannel):
    """A Keyed channel, as SMTP is: `connect` runs first (it may raise: the server is down, or
    take long: the shared connection is busy), then the send is reserved, then handed over."""

    connect: Callable[[OutgoingMessage], Exception | None] = lambda _m: None
    keys: list[str] = field(default_factory=list)
    abilities: Abilities = KEYED

    def send_keyed(self, message: OutgoingMessage, reserve: Reserve) -> str:
        error = self.connect(message)
        if error is not None:
            raise error
        key = message.key or f"<{message.message_id}.{len(self.keys)}@test.example>"
        reserve(key)
        self.keys.append(key)
        self.send(message)
        return key


def email_row(runtime: Runtime, name: str = "aftercare") -> OutboxMessage:
    return messages(runtime)[name, "email"]


def test_an_email_waiting_for_its_connection_is_not_yet_reserved(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    seen: list[tuple[object, ...]] = []

    def look(_message: OutgoingMessage) -> None:
        row = email_row(runtime)
        seen.append((row.status, row.sent_at, row.provider_id))

    channel = KeyedChannel(connect=look, fail_with=look)
    make_dispatcher(runtime, lambda: NOW, email=channel).run_once()

    [key] = channel.keys
    assert seen == [("sending", None, None), ("sending", NOW, key)]  # before, then reserved
    row = email_row(runtime)
    assert (row.status, row.provider_id, row.sent_at) == ("sent", key, NOW)


def test_a_stop_landing_while_an_email_waits_for_its_connection_keeps_it_from_going(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, sms=False)

    def stop_meanwhile(_message: OutgoingMessage) -> None:  # the shared connection was busy
        with session_scope(runtime.engine) as session:
            opt_out(session, MARIA_EMAIL, source="email", actor="patient", now=NOW)

    channel = KeyedChannel(connect=stop_meanwhile)
    report = make_dispatcher(runtime, lambda: NOW, email=channel).run_once()

    emails = [(o.result, o.detail) for o in report.outcomes if o.channel == "email"]
    assert emails == [("skipped", "opted_out")]
    assert channel.keys == [] and channel.sent == []
    row = email_row(runtime)
    assert (row.status, row.error_reason, row.sent_at, row.provider_id) == (
        "skipped",
        "opted_out",
        None,
        None,
    )


def test_a_pause_landing_while_an_email_waits_for_its_connection_holds_it(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, sms=False)
    patient_id = email_row(runtime).patient_id

    def pause_meanwhile(_message: OutgoingMessage) -> None:
        with session_scope(runtime.engine) as session:
            pause_patient(session, patient_id, actor="staff", now=NOW)

    channel = KeyedChannel(connect=pause_meanwhile)
    report = make_dispatcher(runtime, lambda: NOW, email=channel).run_once()

    assert [o.result for o in report.outcomes if o.channel == "email"] == ["held"]
    assert channel.keys == [] and channel.sent == []
    row = email_row(runtime)
    assert (row.status, row.sent_at, row.provider_id) == ("pending", None, None)


def test_an_address_changed_while_an_email_waits_sends_it_composed_for_the_new_one(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, sms=False)
    patient_id = email_row(runtime).patient_id
    changed = []

    def change_meanwhile(_message: OutgoingMessage) -> None:  # staff fix a typo meanwhile
        if not changed:
            with session_scope(runtime.engine) as session:
                session.get_one(Patient, patient_id).email = "maria.lopez@example.com"
            changed.append(True)

    channel = KeyedChannel(connect=change_meanwhile)
    dispatcher = make_dispatcher(runtime, lambda: NOW, email=channel)
    first = dispatcher.run_once()
    assert [(o.result, o.detail) for o in first.outcomes if o.channel == "email"] == [
        ("held", "address changed")
    ]
    assert channel.sent == [] and email_row(runtime).status == "pending"
    dispatcher.run_once()
    (sent,) = channel.sent
    assert sent.to == "maria.lopez@example.com" and email_row(runtime).status == "sent"
    assert email_row(runtime).attempts == 1


def test_a_mail_server_down_leaves_emails_retryable_and_spends_no_attempt(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, name="Ana Ruiz",
                   phone="+13105550199", email="ana@example.com")  # fmt: skip
    down = ChannelError("SMTP server unreachable", permanent=False, code="connection",
                        unreachable=True)  # fmt: skip
    channel = KeyedChannel(connect=lambda _m: down)
    clock = [NOW]
    dispatcher = make_dispatcher(runtime, lambda: clock[0], email=channel)

    report = dispatcher.run_once()

    emails = [o for o in report.outcomes if o.channel == "email"]
    assert {o.result for o in emails} == {"paused"}  # once paused, the rest is not tried
    assert len(emails) + report.released == 2 and report.count("sent") == 2  # both SMS went
    with Session(runtime.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
    due_now = [m for m in rows if m.step == "aftercare"]
    assert {(m.status, m.attempts, m.sent_at, m.provider_id) for m in due_now} == {
        ("pending", 0, None, None)
    }
    assert channel.keys == []
    for _ in range(runtime.settings.max_attempts + 2):  # an outage longer than every attempt
        clock[0] += timedelta(minutes=10)
        dispatcher.run_once()
    assert {(m.status, m.attempts) for m in due_now_rows(runtime)} == {("pending", 0)}
    channel.connect = lambda _m: None
    clock[0] += timedelta(minutes=10)
    dispatcher.run_once()
    assert {(m.status, m.attempts) for m in due_now_rows(runtime)} == {("sent", 1)}


def due_now_rows(runtime: Runtime) -> list[OutboxMessage]:
    with Session(runtime.engine) as session:
        query = select(OutboxMessage).where(
            OutboxMessage.channel == "email", OutboxMessage.step == "aftercare"
        )
        return list(session.exec(query).all())


def test_an_email_whose_outcome_is_unknown_is_sent_again_under_its_message_id(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW)
    channel = KeyedChannel(fail_with=lambda _m: OutcomeUnknown("connection lost after DATA"))
    clock = [NOW]
    dispatcher = make_dispatcher(runtime, lambda: clock[0], email=channel)
    dispatcher.run_once()
    first = email_row(runtime)
    assert (first.status, first.provider_id) == ("unknown", channel.keys[0])

    channel.fail_with = lambda _m: None
    clock[0] = NOW + SETTLE + timedelta(seconds=1)  # no callback to wait for
    assert dispatcher.run_once().reconciled == 1

    row = email_row(runtime)
    assert (row.status, row.attempts, row.provider_id) == ("sent", 2, first.provider_id)
    assert channel.keys == [first.provider_id] * 2  # the receiver drops the repeat, if any
    with Session(runtime.engine) as session:
        reasons = session.exec(
            select(MessageEvent.reason).where(MessageEvent.message_id == row.id)
        ).all()
    assert any("same Message-ID" in (reason or "") for reason in reasons)


def test_an_email_left_reserved_by_a_dead_worker_goes_again_under_its_key(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, sms=False)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    email_id = email_row(runtime).id
    with session_scope(runtime.engine) as session:
        claim_due(session, "dead-worker", NOW, lease, 100)
        row = session.get_one(OutboxMessage, email_id)
        row.sent_at, row.provider_id = NOW, "<dead.1@test.example>"  # it died in DATA
        session.add(row)
    channel = KeyedChannel()
    clock = [NOW + lease + timedelta(seconds=1)]
    dispatcher = make_dispatcher(runtime, lambda: clock[0], email=channel)
    dispatcher.run_once()
    assert email_row(runtime).status == "unknown"  # not counted as sent
    clock[0] += SETTLE + timedelta(seconds=1)
    dispatcher.run_once()
    assert channel.keys == ["<dead.1@test.example>"]
    assert (email_row(runtime).status, email_row(runtime).provider_id) == (
        "sent",
        "<dead.1@test.example>",
    )


def test_an_email_unknown_every_time_fails_after_max_attempts_instead_of_forever(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, sms=False)
    channel = KeyedChannel(fail_with=lambda _m: OutcomeUnknown("connection lost after DATA"))
    clock = [NOW]
    dispatcher = make_dispatcher(runtime, lambda: clock[0], email=channel)
    for _ in range(runtime.settings.max_attempts * 2):
        dispatcher.run_once()
        clock[0] += SETTLE + timedelta(seconds=1)
    row = email_row(runtime)
    assert (row.status, row.error_code) == ("failed", "unknown")
    assert "outcome unknown 6 times" in (row.error_reason or "")
    assert len(channel.keys) == runtime.settings.max_attempts
    assert set(channel.keys) == {row.provider_id}


def test_an_email_whose_lease_ran_out_while_waiting_for_the_connection_is_not_sent(runtime):
    enroll_patient(runtime, completed_at=COMPLETED, now=NOW, sms=False)
    lease = timedelta(seconds=runtime.settings.lease_seconds)
    clock = [NOW]

    def slow_connection(_message: OutgoingMessage) -> None:
        clock[0] += lease + timedelta(seconds=1)  # another worker may hold the message now

    channel = KeyedChannel(connect=slow_connection)
    report = make_dispatcher(runtime, lambda: clock[0], email=channel).run_once()

    assert [o.result for o in report.outcomes if o.channel != "sms"] == ["lost"]
    assert channel.sent == [] and channel.keys == []
    row = email_row(runtime)
    assert (row.status, row.sent_at) == ("sending", None)  # claimable again, not `unknown`
