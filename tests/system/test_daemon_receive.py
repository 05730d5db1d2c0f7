"""The daemon's `receive` job: a likely opt-out nobody decided within 2 business days is
applied, confirmed once, however often the job runs; a decided one is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from reminders.daemon import open_daemon
from reminders.store.db import session_scope
from reminders.store.models import OptOut, OutboxMessage, Reply
from reminders.store.replies import store_reply
from tests.support.factories import MARIA_PHONE, enroll_patient


def test_the_receive_job_applies_an_overdue_wish_once(runtime):
    now = datetime.now(UTC)
    a_week_ago = now - timedelta(days=7)  # at least 2 business days in any zone
    patient = enroll_patient(runtime, completed_at=a_week_ago, now=a_week_ago).patient_id
    with session_scope(runtime.engine) as session:
        store_reply(session, sid="SM1", sender=MARIA_PHONE, body="no more texts please",
                    patient_id=patient, urgent=False, stop_wish=True, now=a_week_ago)  # fmt: skip
        store_reply(session, sid="SM2", sender="+13105550199", body="stop texting me",
                    patient_id=None, urgent=False, stop_wish=True, now=now)  # fmt: skip
    daemon = open_daemon(runtime.settings)
    try:
        daemon.receive()
        daemon.receive()
    finally:
        daemon.runtime.engine.dispose()
    with Session(runtime.engine) as session:
        assert session.exec(select(OptOut.address, OptOut.source)).all() == [
            (MARIA_PHONE, "sms_wish")
        ]  # the stranger's came today: not yet
        decisions = {r.provider_id: r.wish_decision for r in session.exec(select(Reply))}
        confirmations = session.exec(
            select(OutboxMessage).where(OutboxMessage.purpose == "opt_out_confirmation")
        ).all()
    assert decisions == {"SM1": "auto_opt_out", "SM2": None}
    assert len(confirmations) == 1 and confirmations[0].patient_id == patient
