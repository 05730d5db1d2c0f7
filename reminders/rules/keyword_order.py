"""Which STOP or START wins when they reach us out of order (pure).

Twilio's inbound webhook carries no time of sending, and a webhook that failed may come again
later (Twilio retries with connection overrides, or an operator replays it): a START retried
after a newer STOP would undo the STOP. The order we can know is the order in which each
MessageSid FIRST reached us; it is recorded in a transaction of its own, before the text is
acted on, so a retry keeps its first arrival. The rules:

1. Each MessageSid acts once; a repeat gets the same answer and changes nothing.
2. A STOP or START older (by first arrival) than the newest one already acted on for that
   number is recorded and ignored: a late START cannot undo a newer STOP, nor a late STOP a
   newer START. Equal times go by the order of handling.
3. A START lifts an opt-out recorded by an SMS STOP (rule 2 has ordered those), or one
   recorded elsewhere (staff, an email link, Twilio reporting the number opted out) BEFORE
   the START first arrived; not one recorded after it.

What never reached us in time cannot be ordered: two texts whose first deliveries both failed
are ordered by when their retries arrive.
"""

from __future__ import annotations

from datetime import datetime

SMS_REPLY_SOURCE = "sms_reply"


def acts(arrived_at: datetime, newest_acted_on: datetime | None) -> bool:
    """Rule 2: whether a keyword that first arrived at `arrived_at` is still the newest."""
    return newest_acted_on is None or arrived_at >= newest_acted_on


def lifts(arrived_at: datetime, opt_out_source: str, opt_out_created_at: datetime) -> bool:
    """Rule 3: whether a START may lift this opt-out."""
    return opt_out_source == SMS_REPLY_SOURCE or opt_out_created_at <= arrived_at
