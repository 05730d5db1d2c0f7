"""Twilio's MessageStatus words, as its status callbacks carry them, and what each means for
the message's lifecycle: the one place that knows them."""

from __future__ import annotations

from collections.abc import Mapping

from reminders.rules.lifecycle import Status

# Statuses before `sent`: they tell us nothing new, except that the message reached Twilio.
EARLY_STATUSES = frozenset({"queued", "sending", "accepted", "scheduled"})
FINAL_STATUSES: Mapping[str, Status] = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,  # reported by channels with read receipts; implies delivered
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
}
