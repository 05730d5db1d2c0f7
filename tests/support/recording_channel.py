"""A channel that records what it is asked to send, and the outbox by step and channel.

Shared by the dispatcher's and reconcile's tests (tests/sending/): `fail_with` makes it fail on
cue; reconcile's tests add a `reconcile` answer to it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import Session, select

from reminders.runtime import Runtime
from reminders.sending.channels.base import BaseChannel, OutgoingMessage
from reminders.store.models import OutboxMessage


@dataclass
class RecordingChannel(BaseChannel):
    """A channel that keeps what it was asked to send, and can fail on cue."""

    name: str = "recording"
    sent: list[OutgoingMessage] = field(default_factory=list)
    fail_with: Callable[[OutgoingMessage], Exception | None] = lambda _m: None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: OutgoingMessage) -> str:
        error = self.fail_with(message)
        if error is not None:
            raise error
        with self.lock:
            self.sent.append(message)
        return f"rec-{message.message_id}"

    def close(self) -> None:
        pass


def messages(runtime: Runtime) -> dict[tuple[str, str], OutboxMessage]:
    with Session(runtime.engine) as session:
        return {(m.step, m.channel): m for m in session.exec(select(OutboxMessage)).all()}
