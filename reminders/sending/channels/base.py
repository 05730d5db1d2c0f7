"""The one interface every channel implements: send one message or raise ChannelError."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingMessage:
    message_id: int
    channel: str  # sms | email
    to: str
    body: str
    step: str
    sent_at: datetime  # the dispatcher's clock, so a replay with `tick --now` records that moment
    subject: str | None = None
    html: str | None = None
    segments: int | None = None  # SMS only: what the provider will bill and rate-limit
    # After this the message is unwanted (its not_after; for SMS also tonight's window end):
    # a provider that queues messages should drop it rather than deliver it late.
    expires_at: datetime | None = None


class ChannelError(Exception):
    """A send that did not happen. `permanent` says whether retrying could ever help.

    The flags tell the dispatcher what else follows: `opted_out` (the provider says the
    recipient unsubscribed: record an opt-out), `undeliverable` (the address can never work:
    mark it on the patient), `account_problem` (our credentials or configuration: alert and
    keep the message pending, it is not the patient's fault).
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        code: str | None = None,
        opted_out: bool = False,
        undeliverable: bool = False,
        account_problem: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code
        self.opted_out = opted_out
        self.undeliverable = undeliverable
        self.account_problem = account_problem


class OutcomeUnknown(ChannelError):
    """The request may have reached the provider: reconcile before sending again."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason, permanent=False, code=code)


class Channel(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message to the provider and return its id for the message."""
        ...

    def close(self) -> None:
        """Release connections held across a batch."""
        ...
