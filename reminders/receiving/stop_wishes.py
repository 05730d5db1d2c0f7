"""Likely opt-outs decided: staff's "Treat as opt-out" / "Not an opt-out", or the daemon's
job that applies one nobody decided within two business days (rules.stop_wishes.decide_by).

An applied wish opts the number out like a STOP (every pending text skipped at once) and
marks the reply handled; the clock is passed in.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from reminders.rules.stop_wishes import WishDecision, applies, decide_by
from reminders.store.db import Session
from reminders.store.models import Reply
from reminders.store.opt_outs import opt_out
from reminders.store.replies import mark_handled
from reminders.store.stop_wishes import decide_wish, undecided_wishes

log = logging.getLogger(__name__)

ACTOR = "aftercare"
SOURCE = "sms_wish"  # an opt-out read from a sentence, not a keyword
# No wish is due sooner than this after it came (two business days are at least two days).
SHORTEST_WAIT = timedelta(days=2)


def decide(
    session: Session, reply_id: int, decision: WishDecision, *, actor: str, now: datetime
) -> bool:
    """Staff's decision; False when it had been decided already (by someone or the clock).
    Raises store.stop_wishes.NotAWish for a reply that is no likely opt-out."""
    reply = decide_wish(session, reply_id, decision, actor=actor, now=now)
    if reply is None:
        return False
    if applies(decision):
        _apply(session, reply, actor=actor, now=now)
    log.info("reply %d: likely opt-out decided (%s)", reply_id, decision)
    return True


def apply_overdue(session: Session, now: datetime, *, zone: ZoneInfo) -> int:
    """Apply every likely opt-out whose time to decide has run out; returns how many."""
    applied = 0
    for reply in undecided_wishes(session, received_before=now - SHORTEST_WAIT):
        if reply.id is None or decide_by(reply.received_at, zone) > now:
            continue
        decided = decide_wish(session, reply.id, WishDecision.AUTO_OPT_OUT, actor=ACTOR, now=now)
        if decided is not None:
            _apply(session, decided, actor=ACTOR, now=now)
            applied += 1
            log.info("reply %d: likely opt-out applied, undecided for 2 business days", reply.id)
    return applied


def _apply(session: Session, reply: Reply, *, actor: str, now: datetime) -> None:
    opt_out(session, reply.from_address, source=SOURCE, actor=actor, now=now)
    if reply.id is not None:
        mark_handled(session, reply.id, actor=actor, now=now)
