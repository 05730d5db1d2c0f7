"""The SMS a patient is still to get, read for `rules.send_plan`.

The dispatcher plans a patient's day from these rows (which go, which wait, which ride in
another's text) and the forecast (enrollment, the timeline) plans from the same ones, so both
see the same steps: SMS of completed sessions not yet handed to the provider. Direct
messages (a staff reply, a care-page code) are outside the daily cap, so outside the plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import DIRECT_PLAN
from reminders.rules.lifecycle import Status
from reminders.store.holds import not_held
from reminders.store.models import OutboxMessage, TreatmentSession


def pending_sms(session: Session, patient_ids: Collection[int]) -> dict[int, list[OutboxMessage]]:
    """Each patient's SMS still to go, by patient, in due order: pending, or claimed by any
    worker and not yet reserved. Read without row locks: the dispatcher holds the patients'
    locks (`claims.lock_patients`), so no other worker can reserve or fold these meanwhile,
    and a claim that takes a pending row before this transaction folds it finds it no longer
    its own when it comes to prepare it."""
    if not patient_ids:
        return {}
    unsent = sa.and_(
        col(OutboxMessage.status) == Status.SENDING, col(OutboxMessage.sent_at).is_(None)
    )
    query = (
        select(OutboxMessage)
        .join(TreatmentSession, col(TreatmentSession.id) == col(OutboxMessage.session_id))
        .where(
            col(OutboxMessage.patient_id).in_(sorted(patient_ids)),
            col(OutboxMessage.channel) == ChannelKind.SMS,
            col(OutboxMessage.plan) != DIRECT_PLAN,  # outside the daily cap: not planned
            sa.or_(col(OutboxMessage.status) == Status.PENDING, unsent),
            col(TreatmentSession.status) == "completed",
            not_held(),  # a held message waits outside the plan until it is released
        )
        .order_by(col(OutboxMessage.due_at), col(OutboxMessage.id))
    )
    by_patient: dict[int, list[OutboxMessage]] = defaultdict(list)
    for message in session.exec(query):
        by_patient[message.patient_id or 0].append(message)
    return dict(by_patient)
