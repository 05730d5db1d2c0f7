"""Likely opt-outs decided once: by staff, or applied when nobody decided in 2 business days.

On SQLite and PostgreSQL; the clock is passed in.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from reminders.receiving.answers import Clinic
from reminders.receiving.stop_wishes import apply_overdue, decide
from reminders.rules.stop_wishes import WishDecision
from reminders.store.db import session_scope
from reminders.store.models import AuditEvent, OptOut, OutboxMessage, Reply
from reminders.store.replies import store_reply
from reminders.store.stop_wishes import NotAWish
from tests.support.factories import MARIA_PHONE, enroll_patient, make_dispatcher
from tests.support.recording_channel import RecordingChannel
from tests.support.settings import utc

TUESDAY = utc(2026, 3, 10, 18, 0)  # 11:00 in Los Angeles, the clinic's zone
CLINIC = Clinic("Fine Touch", "310-555-0100")
CONFIRMATION = "Fine Touch: You will get no more texts from us. Reply START to get them again."


@pytest.fixture
def wish(runtime) -> int:
    """Maria, enrolled with texts pending, wrote "please stop texting me" on Tuesday."""
    enrolled = enroll_patient(runtime, completed_at=TUESDAY - timedelta(hours=1), now=TUESDAY)
    return _reply(runtime, "SM1", "please stop texting me", enrolled.patient_id, stop_wish=True)


def _reply(runtime, sid, body, patient_id, *, stop_wish) -> int:
    with session_scope(runtime.engine) as session:
        store_reply(session, sid=sid, sender=MARIA_PHONE, body=body, patient_id=patient_id,
                    urgent=False, stop_wish=stop_wish, now=TUESDAY)  # fmt: skip
        return session.exec(select(Reply.id).where(Reply.provider_id == sid)).one()


def _state(runtime, reply_id):
    with session_scope(runtime.engine) as session:
        reply = session.get(Reply, reply_id)
        opt_outs = session.exec(select(OptOut.source)).all()
        pending = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.channel == "sms",
                OutboxMessage.status == "pending",
                OutboxMessage.plan != "direct",  # the opt-out's own confirmation
            )
        ).all()
        return reply, opt_outs, len(pending)


def test_treat_as_opt_out_opts_out_at_once_and_marks_the_reply_handled(runtime, wish):
    with session_scope(runtime.engine) as session:
        assert decide(
            session,
            wish,
            WishDecision.OPT_OUT,
            actor="ana@clinic.example",
            now=TUESDAY,
            clinic=CLINIC,
        )
    reply, opt_outs, pending = _state(runtime, wish)
    assert (reply.wish_decision, reply.wish_decided_by) == ("opt_out", "ana@clinic.example")
    assert reply.read_by == "ana@clinic.example"
    assert opt_outs == ["sms_wish"] and pending == 0


def test_not_an_opt_out_changes_nothing_else_and_keeps_it_to_answer(runtime, wish):
    with session_scope(runtime.engine) as session:
        assert decide(session, wish, WishDecision.NOT_OPT_OUT, actor="ana@clinic.example",
                      now=TUESDAY, clinic=CLINIC)  # fmt: skip
    reply, opt_outs, pending = _state(runtime, wish)
    assert reply.wish_decision == "not_opt_out" and reply.read_at is None
    assert opt_outs == [] and pending > 0


def test_a_wish_is_decided_once(runtime, wish):
    with session_scope(runtime.engine) as session:
        assert decide(
            session,
            wish,
            WishDecision.NOT_OPT_OUT,
            actor="ana@x.example",
            now=TUESDAY,
            clinic=CLINIC,
        )
        assert not decide(
            session, wish, WishDecision.OPT_OUT, actor="bo@x.example", now=TUESDAY, clinic=CLINIC
        )
    reply, opt_outs, _ = _state(runtime, wish)
    assert reply.wish_decided_by == "ana@x.example" and opt_outs == []
    with session_scope(runtime.engine) as session:
        actions = session.exec(select(AuditEvent.action, AuditEvent.detail)).all()
    assert actions.count(("stop_wish_decided", "decision=not_opt_out")) == 1


def test_a_reply_that_is_no_wish_cannot_be_decided(runtime, wish):
    other = _reply(runtime, "SM2", "thanks!", None, stop_wish=False)
    with session_scope(runtime.engine) as session, pytest.raises(NotAWish):
        decide(
            session, other, WishDecision.OPT_OUT, actor="ana@x.example", now=TUESDAY, clinic=CLINIC
        )
    with session_scope(runtime.engine) as session, pytest.raises(NotAWish):
        decide(
            session,
            999_999,
            WishDecision.OPT_OUT,
            actor="ana@x.example",
            now=TUESDAY,
            clinic=CLINIC,
        )


@pytest.mark.parametrize(
    ("later", "applied"),
    [
        (timedelta(days=2, hours=12), 0),  # Thursday 23:00 in LA: Thursday is the 2nd day
        (timedelta(days=2, hours=14), 1),  # Friday 01:00 in LA: two business days have passed
    ],
)
def test_an_undecided_wish_applies_after_two_business_days(runtime, wish, later, applied):
    with session_scope(runtime.engine) as session:
        assert (
            apply_overdue(session, TUESDAY + later, zone=runtime.settings.timezone, clinic=CLINIC)
            == applied
        )
    reply, opt_outs, _ = _state(runtime, wish)
    assert (reply.wish_decision == "auto_opt_out") is bool(applied)
    assert opt_outs == (["sms_wish"] if applied else [])


def test_applied_once_however_often_the_job_runs(runtime, wish):
    friday = TUESDAY + timedelta(days=3)
    for _ in range(3):
        with session_scope(runtime.engine) as session:
            apply_overdue(session, friday, zone=runtime.settings.timezone, clinic=CLINIC)
    reply, opt_outs, _ = _state(runtime, wish)
    assert reply.wish_decided_by == "aftercare" and opt_outs == ["sms_wish"]
    with session_scope(runtime.engine) as session:
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "opt_out")).all()
    assert len(audited) == 1


def test_a_decided_wish_is_never_applied_by_the_clock(runtime, wish):
    with session_scope(runtime.engine) as session:
        decide(
            session,
            wish,
            WishDecision.NOT_OPT_OUT,
            actor="ana@x.example",
            now=TUESDAY,
            clinic=CLINIC,
        )
    with session_scope(runtime.engine) as session:
        assert (
            apply_overdue(
                session, TUESDAY + timedelta(days=30), zone=runtime.settings.timezone, clinic=CLINIC
            )
            == 0
        )


def confirmations(runtime) -> list[OutboxMessage]:
    with session_scope(runtime.engine) as session:
        query = select(OutboxMessage).where(OutboxMessage.purpose == "opt_out_confirmation")
        return list(session.exec(query))


def test_an_applied_wish_is_confirmed_once_and_only_the_confirmation_goes(runtime, wish):
    with session_scope(runtime.engine) as session:
        decide(session, wish, WishDecision.OPT_OUT, actor="ana@x.example", now=TUESDAY,
               clinic=CLINIC)  # fmt: skip
        decide(session, wish, WishDecision.OPT_OUT, actor="bo@x.example", now=TUESDAY,
               clinic=CLINIC)  # fmt: skip
    (confirmation,) = confirmations(runtime)
    assert (confirmation.body, confirmation.at_once) == (CONFIRMATION, True)
    texts = RecordingChannel()
    make_dispatcher(runtime, lambda: TUESDAY + timedelta(days=1), sms=texts).run_once()
    assert [m.body for m in texts.sent] == [CONFIRMATION]  # nothing else reaches the number
    _, _, pending = _state(runtime, wish)
    assert pending == 0


def test_the_clock_confirms_in_the_patients_language_once(runtime):
    enrolled = enroll_patient(runtime, completed_at=TUESDAY - timedelta(hours=1), now=TUESDAY,
                              language="es")  # fmt: skip
    _reply(runtime, "SM1", "ya no me manden mensajes", enrolled.patient_id, stop_wish=True)
    for _ in range(2):
        with session_scope(runtime.engine) as session:
            apply_overdue(session, TUESDAY + timedelta(days=3), zone=runtime.settings.timezone,
                          clinic=CLINIC)  # fmt: skip
    (confirmation,) = confirmations(runtime)
    assert confirmation.body.startswith("Fine Touch: Ya no recibira mas mensajes nuestros.")


def test_not_an_opt_out_is_not_confirmed(runtime, wish):
    with session_scope(runtime.engine) as session:
        decide(session, wish, WishDecision.NOT_OPT_OUT, actor="ana@x.example", now=TUESDAY,
               clinic=CLINIC)  # fmt: skip
    assert confirmations(runtime) == []
