"""Every move of an outbox message, on SQLite and PostgreSQL: the lifecycle's table decides
which moves happen, and each named move sets exactly the fields it owns.

`store.moves` (one row), `store.claims` and `store.leases` (many rows) are the only code that
writes a message's lifecycle fields; these tests read the rows back from the database.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from reminders.rules import lifecycle
from reminders.rules.lifecycle import ALLOWED, IllegalTransition, SkipReason, Status
from reminders.store import claims, leases, moves, plan_moves
from reminders.store.db import session_scope
from reminders.store.held_receipts import Held, hold_receipt
from reminders.store.models import (
    HeldReceipt,
    MessageEvent,
    OutboxMessage,
    Patient,
    TreatmentSession,
)

NOW = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)
LATER = NOW + timedelta(hours=2)
LEASE = timedelta(seconds=60)
WORKER = "worker-1"
_STEPS = itertools.count(1)
_PHONES = itertools.count(5550100)


def add_message(engine: Engine, status: str = Status.PENDING, **fields: Any) -> int:
    """A message of its own patient and session, in `status`, with `fields` set."""
    with session_scope(engine) as session:
        patient = Patient(name="Maria Lopez", phone=f"+1310{next(_PHONES):07d}")
        session.add(patient)
        session.flush()
        treatment = TreatmentSession(
            patient_id=patient.id or 0,
            treatment="asclera",
            completed_at=EARLIER,
            planned_at=EARLIER,
        )
        session.add(treatment)
        session.flush()
        values: dict[str, Any] = {"due_at": EARLIER, "created_at": EARLIER, "updated_at": EARLIER}
        message = OutboxMessage(
            session_id=treatment.id or 0,
            patient_id=patient.id or 0,
            plan="sclerotherapy",
            step=f"step-{next(_STEPS)}",
            channel="sms",
            status=status,
            **(values | fields),
        )
        session.add(message)
        session.flush()
        return message.id or 0


def read(engine: Engine, message_id: int) -> tuple[OutboxMessage, list[MessageEvent]]:
    with session_scope(engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        query = select(MessageEvent).where(MessageEvent.message_id == message_id)
        return message, list(session.exec(query.order_by(col(MessageEvent.id))).all())


# -- every transition of the lifecycle's table ---------------------------------------------------

PAIRS = [(a, b) for a in Status for b in Status]


def test_the_lifecycle_table_decides_every_move(engine):
    """Each of the 64 pairs of statuses: an allowed move is made, with its timeline entry; a
    refused one raises and leaves the row and its timeline as they were."""
    ids = {pair: add_message(engine, pair[0]) for pair in PAIRS}
    moved: dict[tuple[Status, Status], bool] = {}
    for (came_from, to), message_id in ids.items():
        try:
            with session_scope(engine) as session:
                message = session.get_one(OutboxMessage, message_id)
                moves.transition(session, message, to, NOW, actor="test", reason="table")
            moved[came_from, to] = True
        except IllegalTransition:
            moved[came_from, to] = False
    assert moved == {(a, b): b in ALLOWED[a] for a, b in PAIRS}
    for (came_from, to), message_id in ids.items():
        message, events = read(engine, message_id)
        if moved[came_from, to]:
            assert (message.status, message.updated_at) == (to, NOW)
            assert [(e.from_status, e.to_status, e.reason) for e in events] == [
                (came_from, to, "table")
            ]
        else:
            assert (message.status, message.updated_at, events) == (came_from, EARLIER, [])


@pytest.mark.parametrize(
    ("bulk_move", "refused"),
    [
        ("claim_due", (Status.PENDING, Status.SENDING)),
        ("release", (Status.SENDING, Status.PENDING)),
        ("release_held", (Status.SENDING, Status.PENDING)),
        ("settle_dead_sends", (Status.SENDING, Status.UNKNOWN)),
        ("settle_held_sends", (Status.SENDING, Status.UNKNOWN)),
    ],
)
def test_a_bulk_move_is_checked_against_the_table_before_it_runs(
    engine, monkeypatch, bulk_move, refused
):
    came_from, to = refused
    monkeypatch.setitem(lifecycle.ALLOWED, came_from, ALLOWED[came_from] - {to})
    message_id = add_message(
        engine, came_from, lease_owner=WORKER, lease_expires_at=EARLIER, sent_at=EARLIER
    )
    run: dict[str, Callable[[Session], object]] = {
        "claim_due": lambda s: claims.claim_due(s, WORKER, NOW, LEASE, 10),
        "release": lambda s: leases.release(s, WORKER, [message_id], NOW),
        "release_held": lambda s: leases.release_held(s, WORKER, NOW),
        "settle_dead_sends": lambda s: leases.settle_dead_sends(s, NOW, actor=WORKER),
        "settle_held_sends": lambda s: leases.settle_held_sends(s, WORKER, NOW),
    }
    with pytest.raises(IllegalTransition), session_scope(engine) as session:
        run[bulk_move](session)
    assert read(engine, message_id)[0].status == came_from


# -- each named move: the fields it sets -----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    came_from: Status
    move: Callable[[Session, OutboxMessage], object]
    expect: dict[str, object]
    before: dict[str, object] = field(default_factory=dict)
    entry: tuple[str | None, str] | None = None  # (from, to) of its timeline entry; None: none


SENDING = {"lease_owner": WORKER, "lease_expires_at": LATER, "attempts": 2}
RESERVED = SENDING | {"sent_at": EARLIER, "recipient": "+13105550142", "body": "Hi"}
NO_LEASE = {"lease_owner": None, "lease_expires_at": None}
NO_ERROR = {"error_code": None, "error_reason": None}
LONG = "x" * 600

CASES: dict[str, Case] = {
    "skip": Case(
        Status.PENDING,
        lambda s, m: moves.skip(s, m, SkipReason.OPTED_OUT, NOW, actor="t", detail="STOP"),
        {"status": Status.SKIPPED, "error_reason": "opted_out", "error_code": None},
        before={"error_code": "30008"},
        entry=(Status.PENDING, Status.SKIPPED),
    ),
    "defer": Case(
        Status.SENDING,
        lambda s, m: moves.defer(s, m, LATER, "window", NOW, "t"),
        {"status": Status.PENDING, "due_at": LATER, "attempts": 1, "sent_at": None} | NO_LEASE,
        before=SENDING,
        entry=(Status.SENDING, Status.PENDING),
    ),
    "hold": Case(
        Status.SENDING,
        lambda s, m: moves.hold(s, m, NOW, actor="t", reason="held (paused)"),
        {"status": Status.PENDING, "due_at": EARLIER, "attempts": 1} | NO_LEASE,
        before=SENDING,
        entry=(Status.SENDING, Status.PENDING),
    ),
    "reserve": Case(
        Status.SENDING,
        lambda s, m: moves.reserve(
            s, m, recipient="+13105550199", body="Hello", subject=None, template_version=3, now=NOW
        ),
        {
            "status": Status.SENDING,
            "recipient": "+13105550199",
            "body": "Hello",
            "template_version": 3,
            "sent_at": NOW,
            "lease_owner": WORKER,
        },
        before=SENDING,
    ),
    "reserve later (keyed)": Case(
        Status.SENDING,
        lambda s, m: moves.reserve(
            s,
            m,
            recipient="m@example.com",
            body="Hello",
            subject="Aftercare",
            template_version=1,
            now=None,
        ),
        {"subject": "Aftercare", "sent_at": None, "status": Status.SENDING},
        before=SENDING,
    ),
    "reserve_keyed": Case(
        Status.SENDING,
        lambda s, m: moves.reserve_keyed(s, m, "<key@clinic>", NOW),
        {"sent_at": NOW, "provider_id": "<key@clinic>", "status": Status.SENDING},
        before=SENDING,
    ),
    "mark_sent": Case(
        Status.SENDING,
        lambda s, m: moves.mark_sent(s, m, "SM1", NOW, actor="t", reason="via twilio"),
        {"status": Status.SENT, "provider_id": "SM1", "sent_at": EARLIER} | NO_ERROR | NO_LEASE,
        before=RESERVED | {"error_code": "20003", "error_reason": "earlier"},
        entry=(Status.SENDING, Status.SENT),
    ),
    "retry_at": Case(
        Status.SENDING,
        lambda s, m: moves.retry_at(
            s, m, LATER, NOW, actor="t", code="20429", error="busy", reason="retry"
        ),
        {
            "status": Status.PENDING,
            "due_at": LATER,
            "sent_at": None,
            "attempts": 2,
            "error_code": "20429",
            "error_reason": "busy",
        }
        | NO_LEASE,
        before=RESERVED,
        entry=(Status.SENDING, Status.PENDING),
    ),
    "keep_waiting": Case(
        Status.SENDING,
        lambda s, m: moves.keep_waiting(
            s, m, LATER, NOW, actor="t", code="20003", error="auth", reason="account problem"
        ),
        {
            "status": Status.PENDING,
            "due_at": LATER,
            "sent_at": None,
            "attempts": 1,
            "error_code": "20003",
            "error_reason": "auth",
        }
        | NO_LEASE,
        before=RESERVED,
        entry=(Status.SENDING, Status.PENDING),
    ),
    "fail": Case(
        Status.SENDING,
        lambda s, m: moves.fail(s, m, NOW, code="21211", reason=LONG, actor="t"),
        {
            "status": Status.FAILED,
            "sent_at": None,
            "error_code": "21211",
            "error_reason": LONG[:500],
        }
        | NO_LEASE,
        before=RESERVED,
        entry=(Status.SENDING, Status.FAILED),
    ),
    "to_unknown": Case(
        Status.SENDING,
        lambda s, m: moves.to_unknown(s, m, NOW, actor="t", code="timeout", reason="no answer"),
        {
            "status": Status.UNKNOWN,
            "sent_at": EARLIER,
            "error_code": "timeout",
            "error_reason": "no answer",
        }
        | NO_LEASE,
        before=RESERVED,
        entry=(Status.SENDING, Status.UNKNOWN),
    ),
    "found_sent": Case(
        Status.UNKNOWN,
        lambda s, m: moves.found_sent(s, m, "SM9", NOW, actor="t", reason="reconciled"),
        {"status": Status.SENT, "provider_id": "SM9", "sent_at": EARLIER} | NO_ERROR,
        before={"sent_at": EARLIER, "error_code": "timeout", "error_reason": "no answer"},
        entry=(Status.UNKNOWN, Status.SENT),
    ),
    "send_again": Case(
        Status.UNKNOWN,
        lambda s, m: moves.send_again(s, m, NOW, actor="t", reason="never got it"),
        {"status": Status.PENDING, "due_at": NOW, "sent_at": None, "attempts": 1} | NO_ERROR,
        before={"sent_at": EARLIER, "attempts": 1, "error_code": "timeout"},
        entry=(Status.UNKNOWN, Status.PENDING),
    ),
    "record_receipt (delivered)": Case(
        Status.SENT,
        lambda s, m: moves.record_receipt(
            s,
            m,
            Status.DELIVERED,
            NOW,
            provider_id="SM1",
            provider_status="delivered",
            code=None,
            words="",
            reason="twilio: delivered",
            actor="twilio",
        ),
        {
            "status": Status.DELIVERED,
            "delivered_at": NOW,
            "provider_status": "delivered",
            "provider_id": "SM1",
        }
        | NO_ERROR,
        before={"provider_id": "SM1", "error_code": "x"},
        entry=(Status.SENT, Status.DELIVERED),
    ),
    "record_receipt (undelivered)": Case(
        Status.SENT,
        lambda s, m: moves.record_receipt(
            s,
            m,
            Status.UNDELIVERED,
            NOW,
            provider_id="SM1",
            provider_status="undelivered",
            code="30003",
            words="Unreachable",
            reason="r",
            actor="twilio",
        ),
        {
            "status": Status.UNDELIVERED,
            "delivered_at": None,
            "error_code": "30003",
            "error_reason": "Unreachable",
            "provider_id": "SM1",
        },
        entry=(Status.SENT, Status.UNDELIVERED),
    ),
    "resend_once": Case(
        Status.UNDELIVERED,
        lambda s, m: moves.resend_once(s, m, LATER, NOW, actor="twilio", reason="resend once"),
        {
            "status": Status.PENDING,
            "due_at": LATER,
            "delivery_retries": 1,
            "provider_id": None,
            "sent_at": None,
            "error_code": "30008",
        },
        before={"provider_id": "SM1", "sent_at": EARLIER, "error_code": "30008"},
        entry=(Status.UNDELIVERED, Status.PENDING),
    ),
    "cancel_resend": Case(
        Status.PENDING,
        lambda s, m: moves.cancel_resend(
            s, m, NOW, provider_id="SM1", provider_status="delivered", actor="twilio"
        ),
        {
            "status": Status.SKIPPED,
            "error_reason": SkipReason.ALREADY_SENT,
            "provider_id": "SM1",
            "provider_status": "delivered",
            "delivered_at": NOW,
        },
        before={"delivery_retries": 1},
        entry=(Status.PENDING, Status.SKIPPED),
    ),
    "resend_by_staff": Case(
        Status.FAILED,
        lambda s, m: moves.resend_by_staff(s, m, NOW, actor="staff"),
        {
            "status": Status.PENDING,
            "due_at": NOW,
            "attempts": 0,
            "sent_at": None,
            "delivered_at": None,
            "provider_id": None,
            "provider_status": None,
        }
        | NO_ERROR,
        before={
            "attempts": 3,
            "provider_id": "SM1",
            "provider_status": "failed",
            "error_code": "30007",
            "error_reason": "filtered",
        },
        entry=(Status.FAILED, Status.PENDING),
    ),
    "opted_back_in": Case(
        Status.SKIPPED,
        lambda s, m: moves.opted_back_in(s, m, NOW, actor="staff"),
        {"status": Status.PENDING, "error_reason": None},
        before={"error_reason": SkipReason.OPTED_OUT},
        entry=(Status.SKIPPED, Status.PENDING),
    ),
    "skip_booked": Case(
        Status.PENDING,
        lambda s, m: plan_moves.skip_booked(
            s, [m], "booked for Tue 12 Jan 10:00", NOW, actor="cal"
        ),
        {"status": Status.SKIPPED, "error_reason": SkipReason.BOOKED, "due_at": EARLIER},
        entry=(Status.PENDING, Status.SKIPPED),
    ),
    "replan_unbooked": Case(
        Status.SKIPPED,
        lambda s, m: plan_moves.replan_unbooked(s, [m], NOW, actor="cal"),
        {"status": Status.PENDING, "error_reason": None, "due_at": EARLIER},
        before={"error_reason": SkipReason.BOOKED, "not_after": LATER},
        entry=(Status.SKIPPED, Status.PENDING),
    ),
    "replan_unbooked (past its deadline: stays skipped)": Case(
        Status.SKIPPED,
        lambda s, m: plan_moves.replan_unbooked(s, [m], NOW, actor="cal"),
        {"status": Status.SKIPPED, "error_reason": SkipReason.BOOKED},
        before={"error_reason": SkipReason.BOOKED, "not_after": EARLIER},
    ),
    "replan_unbooked (skipped for another reason: stays skipped)": Case(
        Status.SKIPPED,
        lambda s, m: plan_moves.replan_unbooked(s, [m], NOW, actor="cal"),
        {"status": Status.SKIPPED, "error_reason": SkipReason.OPTED_OUT},
        before={"error_reason": SkipReason.OPTED_OUT, "not_after": LATER},
    ),
    "restore_voided": Case(
        Status.SKIPPED,
        lambda s, m: plan_moves.restore_voided(s, m, NOW, actor="staff"),
        {"status": Status.PENDING, "error_reason": None, "due_at": EARLIER},
        before={"error_reason": SkipReason.VOIDED, "not_after": LATER},
        entry=(Status.SKIPPED, Status.PENDING),
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_a_named_move_sets_every_field_it_owns(engine, name):
    case = CASES[name]
    message_id = add_message(engine, case.came_from, **case.before)
    with session_scope(engine) as session:
        case.move(session, session.get_one(OutboxMessage, message_id))
    message, events = read(engine, message_id)
    assert {key: getattr(message, key) for key in case.expect} == case.expect
    expected = [] if case.entry is None else [case.entry]
    assert [(e.from_status, e.to_status) for e in events] == expected


@pytest.mark.parametrize(
    "before",
    [
        {"error_reason": SkipReason.VOIDED, "not_after": EARLIER},  # past its deadline
        {"error_reason": SkipReason.OPTED_OUT, "not_after": LATER},  # not the void's skip
        {"error_reason": SkipReason.COMBINED, "not_after": None},
    ],
)
def test_restore_voided_brings_back_only_a_timely_skip_of_a_void(engine, before):
    message_id = add_message(engine, Status.SKIPPED, **before)
    with pytest.raises(IllegalTransition), session_scope(engine) as session:
        plan_moves.restore_voided(
            session, session.get_one(OutboxMessage, message_id), NOW, actor="t"
        )
    message, events = read(engine, message_id)
    kept = (Status.SKIPPED, before["error_reason"], [])
    assert (message.status, message.error_reason, events) == kept


def test_reserving_a_message_not_being_sent_is_refused(engine):
    message_id = add_message(engine, Status.PENDING)
    with pytest.raises(IllegalTransition), session_scope(engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        moves.reserve(
            session, message, recipient="+1", body="b", subject=None, template_version=1, now=NOW
        )


def test_mark_sent_hands_back_the_receipts_held_for_the_id_it_was_given(engine):
    message_id = add_message(engine, Status.SENDING, **RESERVED)
    with session_scope(engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        for held in (Held("SMold", "undelivered", "30008"), Held("SM1", "delivered", None)):
            hold_receipt(session, message, held, NOW, actor="twilio", note="held")
    with session_scope(engine) as session:
        message = session.get_one(OutboxMessage, message_id)
        handed = moves.mark_sent(session, message, "SM1", NOW, actor="t", reason="via twilio")
    assert handed == [Held("SM1", "delivered", None)]
    message, _ = read(engine, message_id)
    assert (message.status, message.provider_status) == (Status.SENT, None)
    with session_scope(engine) as session:
        assert session.exec(select(HeldReceipt)).all() == []


@pytest.mark.parametrize("came_from", [Status.PENDING, Status.SENDING])
def test_combine_into_skips_it_combined_pointing_at_its_carrier(engine, came_from):
    carrier_id = add_message(engine, Status.SENDING, **RESERVED)
    message_id = add_message(engine, came_from, **(SENDING if came_from == Status.SENDING else {}))
    with session_scope(engine) as session:
        carrier = session.get_one(OutboxMessage, carrier_id)
        message = session.get_one(OutboxMessage, message_id)
        moves.combine_into(session, message, carrier, "Avoid sun today.", NOW, actor="t")
    message, events = read(engine, message_id)
    assert (message.status, message.error_reason, message.combined_into_id) == (
        Status.SKIPPED,
        SkipReason.COMBINED,
        carrier_id,
    )
    assert (message.body, message.recipient, message.sent_at) == (
        "Avoid sun today.",
        "+13105550142",
        None,
    )
    assert (message.lease_owner, message.lease_expires_at) == (None, None)
    assert [(e.from_status, e.to_status) for e in events] == [(came_from, Status.SKIPPED)]
    assert events[0].reason == f"combined: sent inside message {carrier_id} ({carrier.step})"


def test_combine_into_refuses_itself_and_a_sent_message(engine):
    sent_id = add_message(engine, Status.SENT, **RESERVED)
    carrier_id = add_message(engine, Status.SENDING, **RESERVED)
    with pytest.raises(IllegalTransition), session_scope(engine) as session:
        carrier = session.get_one(OutboxMessage, carrier_id)
        moves.combine_into(session, carrier, carrier, "x", NOW, actor="t")
    with pytest.raises(IllegalTransition), session_scope(engine) as session:
        sent = session.get_one(OutboxMessage, sent_id)
        carrier = session.get_one(OutboxMessage, carrier_id)
        moves.combine_into(session, sent, carrier, "x", NOW, actor="t")
    assert read(engine, sent_id)[0].status == Status.SENT


def _carrier_with_a_part(engine: Engine) -> tuple[int, int]:
    carrier_id = add_message(engine, Status.SENDING, **RESERVED)
    part_id = add_message(engine, Status.PENDING, not_after=LATER)
    with session_scope(engine) as session:
        carrier = session.get_one(OutboxMessage, carrier_id)
        part = session.get_one(OutboxMessage, part_id)
        moves.combine_into(session, part, carrier, "Avoid sun today.", NOW, actor="t")
    return carrier_id, part_id


LOST_CARRIER = {
    "failed for good": lambda s, m: moves.fail(s, m, NOW, code="21610", reason="x", actor="t"),
    "skipped (its session voided after a retry)": lambda s, m: (
        moves.retry_at(s, m, LATER, NOW, actor="t", code=None, error="e", reason="r"),
        moves.skip(s, m, SkipReason.VOIDED, NOW, actor="staff"),
    ),
}


@pytest.mark.parametrize("lost", LOST_CARRIER)
def test_a_carrier_that_will_not_reach_the_patient_gives_its_parts_back(engine, lost):
    carrier_id, part_id = _carrier_with_a_part(engine)
    with session_scope(engine) as session:
        LOST_CARRIER[lost](session, session.get_one(OutboxMessage, carrier_id))
    part, events = read(engine, part_id)
    assert (part.status, part.combined_into_id, part.body, part.recipient) == (
        Status.PENDING,
        None,
        None,
        None,
    )
    assert (part.error_reason, part.not_after) == (None, LATER)
    assert (
        events[-1].reason == f"message {carrier_id} did not reach the patient: its own text again"
    )


def test_a_carrier_retried_or_already_sent_keeps_its_parts(engine):
    carrier_id, part_id = _carrier_with_a_part(engine)
    with session_scope(engine) as session:
        carrier = session.get_one(OutboxMessage, carrier_id)
        moves.retry_at(session, carrier, LATER, NOW, actor="t", code=None, error="e", reason="r")
    with session_scope(engine) as session:
        carrier = session.get_one(OutboxMessage, carrier_id)
        moves.skip(session, carrier, SkipReason.ALREADY_SENT, NOW, actor="t")
    part, _ = read(engine, part_id)
    assert (part.status, part.combined_into_id) == (Status.SKIPPED, carrier_id)


# -- claims and leases: the fields of many rows at once ------------------------------------------


def test_claim_due_leases_pending_rows_and_counts_the_attempt(engine):
    message_id = add_message(engine, Status.PENDING, attempts=1)
    with session_scope(engine) as session:
        assert claims.claim_due(session, WORKER, NOW, LEASE, 10) == [message_id]
    message, events = read(engine, message_id)
    assert (message.status, message.lease_owner, message.lease_expires_at, message.attempts) == (
        Status.SENDING,
        WORKER,
        NOW + LEASE,
        2,
    )
    assert [(e.from_status, e.to_status, e.reason) for e in events] == [
        (None, Status.SENDING, "claimed")
    ]


def test_release_hands_back_an_unreserved_send_without_its_attempt(engine):
    message_id = add_message(engine, Status.SENDING, **SENDING)
    with session_scope(engine) as session:
        assert leases.release(session, WORKER, [message_id], NOW) == 1
    message, events = read(engine, message_id)
    assert (message.status, message.attempts, message.lease_owner) == (Status.PENDING, 1, None)
    assert [(e.from_status, e.to_status) for e in events] == [(Status.SENDING, Status.PENDING)]


def test_unreserve_then_release_hands_back_a_prepared_send(engine):
    message_id = add_message(engine, Status.SENDING, **RESERVED)
    with session_scope(engine) as session:
        assert leases.release(session, WORKER, [message_id], NOW) == 0  # reserved: never
        assert leases.unreserve(session, WORKER, [message_id], NOW) == 1
        assert leases.release(session, WORKER, [message_id], NOW) == 1
    message, _ = read(engine, message_id)
    assert (message.status, message.sent_at) == (Status.PENDING, None)


def test_a_dead_workers_reserved_send_becomes_unknown(engine):
    message_id = add_message(engine, Status.SENDING, **RESERVED | {"lease_expires_at": EARLIER})
    with session_scope(engine) as session:
        assert leases.settle_dead_sends(session, NOW, actor=WORKER) == 1
    message, events = read(engine, message_id)
    assert (message.status, message.lease_owner, message.sent_at) == (
        Status.UNKNOWN,
        None,
        EARLIER,
    )
    assert [e.reason for e in events] == [leases.STOPPED]


def test_claim_checks_holds_an_unknown_outcome_for_one_worker(engine):
    message_id = add_message(engine, Status.UNKNOWN, sent_at=EARLIER, recipient="+1", body="b")
    with session_scope(engine) as session:
        checks = claims.claim_checks(
            session,
            NOW,
            waited=timedelta(minutes=2),
            waited_without_callbacks=timedelta(0),
            without_callbacks=[],
            hold=timedelta(seconds=30),
            limit=10,
        )
        again = claims.claim_checks(
            session,
            NOW,
            waited=timedelta(minutes=2),
            waited_without_callbacks=timedelta(0),
            without_callbacks=[],
            hold=timedelta(seconds=30),
            limit=10,
        )
    assert [(c.message_id, c.to, c.since) for c in checks] == [
        (message_id, "+1", EARLIER - timedelta(minutes=1))
    ]
    assert again == []
    message, events = read(engine, message_id)
    assert (message.status, message.due_at, events) == (
        Status.UNKNOWN,
        NOW + timedelta(seconds=30),
        [],
    )
