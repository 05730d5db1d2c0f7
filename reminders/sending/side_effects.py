"""What a provider tells us about the recipient, beyond the one message it answered for.

The one place for it: a refused send (dispatcher) and a failed delivery receipt (receipts) both
come here, so both opt out and mark the address alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from reminders.rules.direct import is_page
from reminders.sending.channels.base import ChannelError
from reminders.store.addresses import address_of, mark_undeliverable
from reminders.store.opt_outs import opt_out

if TYPE_CHECKING:
    from reminders.store.db import Session
    from reminders.store.models import OutboxMessage


def apply_side_effects(
    session: Session, message: OutboxMessage, error: ChannelError, now: datetime, actor: str
) -> None:
    """Opt out an unsubscribed recipient; mark an address that can never work."""
    if error.opted_out and (address := address_of(session, message)):
        opt_out(session, address, source="provider", actor=actor, now=now)
    if error.undeliverable and not is_page(message.purpose):  # staff's address, not the patient's
        mark_undeliverable(
            session, message, f"{error.code or ''} {error.reason}".strip(), now, actor
        )
