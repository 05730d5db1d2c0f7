"""Likely opt-outs decided: staff's "Treat as opt-out" / "Not an opt-out", or the daemon's
job that applies one nobody decided within two business days (rules.stop_wishes.decide_by).

An applied wish opts the number out like a STOP (every pending text skipped at once), marks
the reply handled, and queues its one confirmation, in the patient's language, through the
outbox (a direct message the dispatcher may send to the opted-out number, and at any hour:
it answers their text). Twilio knows nothing of such an opt-out, so nobody else confirms it.
The decision is a conditional update, so the confirmation is queued once. The clock is passed in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reminders.receiving.answers import AnswerKind, Clinic, answer_text
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.direct import Purpose
from reminders.rules.stop_wishes import WishDecision, applies, decide_by
from reminders.store.db import Session
from reminders.store.direct import queue_direct
from reminders.store.models import Patient, Reply
from reminders.store.opt_outs import opt_out
from reminders.store.replies import mark_handled
from reminders.store.sessions import newest_session_of
from reminders.store.stop_wishes import decide_wish, undecided_wishes

log = logging.getLogger(__name__)

ACTOR = "aftercare"
SOURCE = "sms_wish"  # an opt-out read from a sentence, not a keyword
# No wish is due sooner than this after it came (two business days are at least two days).
SHORTEST_WAIT = timedelta(days=2)


def decide(
    session: Session,
    reply_id: int,
    decision: WishDecision,
    *,
    actor: str,
    now: datetime,
    clinic: Clinic,
) -> bool:
    """Staff's decision; False when it had been decided already (by someone or the clock).
    Raises store.stop_wishes.NotAWish for a reply that is no likely opt-out."""
    reply = decide_wish(session, reply_id, decision, actor=actor, now=now)
    if reply is None:
        return False
    if applies(decision):
        _apply(session, reply, actor=actor, now=now, clinic=clinic)
    log.info("reply %d: likely opt-out decided (%s)", reply_id, decision)
    return True


def apply_overdue(session: Session, now: datetime, *, zone: ZoneInfo, clinic: Clinic) -> int:
    """Apply every likely opt-out whose time to decide has run out; returns how many."""
    applied = 0
    for reply in undecided_wishes(session, received_before=now - SHORTEST_WAIT):
        if reply.id is None or decide_by(reply.received_at, zone) > now:
            continue
        decided = decide_wish(session, reply.id, WishDecision.AUTO_OPT_OUT, actor=ACTOR, now=now)
        if decided is not None:
            _apply(session, decided, actor=ACTOR, now=now, clinic=clinic)
            applied += 1
            log.info("reply %d: likely opt-out applied, undecided for 2 business days", reply.id)
    return applied


def _apply(session: Session, reply: Reply, *, actor: str, now: datetime, clinic: Clinic) -> None:
    opt_out(session, reply.from_address, source=SOURCE, actor=actor, now=now)
    if reply.id is not None:
        mark_handled(session, reply.id, actor=actor, now=now)
    _confirm(session, reply, actor=actor, now=now, clinic=clinic)


def _confirm(session: Session, reply: Reply, *, actor: str, now: datetime, clinic: Clinic) -> None:
    """Queued after the opt-out, so the opt-out's sweep of pending texts leaves it be. A number
    no patient has gets none: a direct message belongs to a patient's session."""
    patient = session.get(Patient, reply.patient_id) if reply.patient_id else None
    treatment = newest_session_of(session, patient.id) if patient and patient.id else None
    if patient is None or patient.id is None or treatment is None or treatment.id is None:
        log.info("reply %s: opt-out applied, no patient to confirm it to", reply.id)
        return
    queue_direct(
        session,
        patient_id=patient.id,
        session_id=treatment.id,
        channel=ChannelKind.SMS,
        body=answer_text(session, AnswerKind.OPT_OUT, clinic, patient.language),
        purpose=Purpose.OPT_OUT_CONFIRMATION,
        now=now,
        at_once=True,
        actor=actor,
    )
