"""Direct messages (pure): texts written when they are queued, not rendered from a plan step.

A staff reply or a care-page code goes through the outbox and the dispatcher like every other
message, so it is sent once, retried, and shown on the timeline; only its words are fixed at
queue time. Such a row's `plan` is `DIRECT_PLAN`, its `step` the purpose and a random suffix
(the outbox is unique on session, step and channel, and a patient may get many).
"""

from __future__ import annotations

import secrets
from enum import StrEnum

DIRECT_PLAN = "direct"


class Purpose(StrEnum):
    STAFF_REPLY = "staff_reply"
    CARE_CODE = "care_code"
    # The one confirmation of an opt-out read from a sentence (receiving.stop_wishes): it
    # goes to the number that has just opted out, and only it may.
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    # A page to the staff member on call about an urgent reply (receiving.escalation): kept on
    # the patient's row, but addressed to the contact's own number or email, set when queued.
    ON_CALL_PAGE = "on_call_page"
    # "Send me a test" from the template editor: the sample patient's message, addressed to the
    # admin's own phone or email (set when queued), on no patient's row.
    TEST_SEND = "test_send"


# How the timeline's history names each purpose ("queued: a page to the contact on call").
PURPOSE_WORDS = {
    Purpose.STAFF_REPLY: "a staff reply",
    Purpose.CARE_CODE: "a care-page code",
    Purpose.OPT_OUT_CONFIRMATION: "the opt-out's confirmation",
    Purpose.ON_CALL_PAGE: "a page to the contact on call",
    Purpose.TEST_SEND: "a test of a template, to the admin's own address",
}


def direct_step(purpose: Purpose) -> str:
    """A step name of its own for each direct message: `staff_reply-3f9a1c0d2b7e`."""
    return f"{purpose}-{secrets.token_hex(6)}"


def is_direct(plan: str) -> bool:
    return plan == DIRECT_PLAN


def confirms_opt_out(purpose: str | None) -> bool:
    """The opt-out's own confirmation: it may reach the opted-out number, and carries no
    "Reply STOP to opt out." line (the number has just opted out)."""
    return purpose == Purpose.OPT_OUT_CONFIRMATION


def is_page(purpose: str | None) -> bool:
    """A page or a test send to staff: its address is its preset recipient, and the patient's
    consent, pause, opt-outs and "Reply STOP" line do not apply to it (an opt-out of the staff
    number does)."""
    return purpose in (Purpose.ON_CALL_PAGE, Purpose.TEST_SEND)
