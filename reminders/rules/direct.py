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


def direct_step(purpose: Purpose) -> str:
    """A step name of its own for each direct message: `staff_reply-3f9a1c0d2b7e`."""
    return f"{purpose}-{secrets.token_hex(6)}"


def is_direct(plan: str) -> bool:
    return plan == DIRECT_PLAN
