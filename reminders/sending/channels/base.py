"""The one interface every channel implements: send one message or raise ChannelError."""

from __future__ import annotations

from collections.abc import Callable
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
    # Keyed channels only: the key (email: Message-ID) an earlier attempt went out under.
    key: str | None = None


class ChannelError(Exception):
    """A send that did not happen. `permanent` says whether retrying could ever help.

    The flags tell the dispatcher what else follows: `opted_out` (the provider says the
    recipient unsubscribed: record an opt-out), `undeliverable` (the address can never work:
    mark it on the patient), `account_problem` (our credentials or configuration: alert and
    keep the message pending, it is not the patient's fault), `unreachable` (the provider
    could not be reached at all, so nothing was handed over: the message waits without
    spending an attempt, as an outage of hours must not use them all up).
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
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.code = code
        self.opted_out = opted_out
        self.undeliverable = undeliverable
        self.account_problem = account_problem
        self.unreachable = unreachable


class OutcomeUnknown(ChannelError):
    """The request may have reached the provider: reconcile before sending again."""

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason, permanent=False, code=code)


Reserve = Callable[[str], None]


@dataclass(frozen=True)
class Abilities:
    """What a channel can do beyond `send`, declared by the channel rather than guessed from
    its type, so that a wrapper (metrics) keeps exactly the abilities of what it wraps.

    `keyed`: its messages carry a key receivers drop repeats of (email: the Message-ID), and
    it sends with `send_keyed`, reserving the send itself: it calls `reserve(key)` once it can
    hand the message over at once (its connection is open and logged in), and not before, so
    a send still waiting for the shared connection is not yet under way and a crash leaves it
    to be sent, not `unknown`. `reserve` raises when the message is no longer this worker's;
    the channel then sends nothing. A send whose outcome is unknown goes out again under the
    same key (`OutgoingMessage.key`) rather than being counted as sent.

    `reconciles`: `reconcile` can ask the provider whether a send whose outcome is unknown
    reached it. `status_callbacks`: the provider posts status callbacks, so an unknown send
    waits a little for one to settle it before the provider is asked.
    """

    keyed: bool = False
    reconciles: bool = False
    status_callbacks: bool = False


class Channel(Protocol):
    """Every channel: `send` and `close`; `send_keyed` and `reconcile` only where its
    `abilities` say so (`BaseChannel` refuses the others)."""

    name: str

    @property
    def abilities(self) -> Abilities: ...

    def send(self, message: OutgoingMessage) -> str:
        """Hand the message to the provider and return its id for the message."""
        ...

    def send_keyed(self, message: OutgoingMessage, reserve: Reserve) -> str:
        """Hand the message over under its key (a new one unless `message.key`); returns it."""
        ...

    def reconcile(self, *, message_id: int, to: str, body: str, since: datetime) -> str | None:
        """The provider's id for this send attempt, or None if it has none; OutcomeUnknown
        when the provider cannot be asked."""
        ...

    def close(self) -> None:
        """Release connections held across a batch."""
        ...


class BaseChannel:
    """What a channel does not declare it cannot do: calling it anyway is the caller's bug."""

    name: str

    @property
    def abilities(self) -> Abilities:
        return Abilities()

    def send_keyed(self, message: OutgoingMessage, reserve: Reserve) -> str:
        raise NotImplementedError(f"the {self.name} channel is not keyed")

    def reconcile(self, *, message_id: int, to: str, body: str, since: datetime) -> str | None:
        raise NotImplementedError(f"the {self.name} channel cannot be asked about a send")
