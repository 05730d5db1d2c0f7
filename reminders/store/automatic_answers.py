"""The automatic answers given to a patient's texts: kept once per MessageSid, read per patient.

A retried webhook finds the words it answered with the first time, so the answer is the same
each time Twilio asks, even after an admin has edited the template since.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from reminders.store.models import AutomaticAnswer


def answer_given(session: Session, sid: str) -> AutomaticAnswer | None:
    return session.get(AutomaticAnswer, sid)


def keep_answer(
    session: Session, *, sid: str, patient_id: int, kind: str, body: str, now: datetime
) -> AutomaticAnswer:
    """Flushed at once: a duplicate of the same text at the same moment fails on the key here,
    and the web's unit of work runs again and finds this row."""
    row = AutomaticAnswer(
        message_sid=sid, patient_id=patient_id, kind=kind, body=body, answered_at=now
    )
    session.add(row)
    session.flush()
    return row


def answers_to(session: Session, patient_id: int) -> Sequence[AutomaticAnswer]:
    """A patient's automatic answers, oldest first, for their thread."""
    query = (
        select(AutomaticAnswer)
        .where(AutomaticAnswer.patient_id == patient_id)
        .order_by(col(AutomaticAnswer.answered_at), col(AutomaticAnswer.message_sid))
    )
    return session.exec(query).all()
