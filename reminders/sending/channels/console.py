"""The embedded default channel: a notice on stdout and the full message in a JSON-lines file.

The notice never carries the body or the address (stdout often ends up in logs); the file is
the "delivered" message, so it is where the body and address belong.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TextIO

from reminders.sending.channels.base import BaseChannel, OutgoingMessage


class ConsoleChannel(BaseChannel):
    """Keys nothing and cannot be asked: a send cut short is counted as sent."""

    def __init__(self, outbox_file: Path, stream: TextIO | None = None, name: str = "console"):
        self.name = name
        self.outbox_file = outbox_file
        self.stream = stream
        self._lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> str:
        provider_id = f"console-{message.message_id}"
        record = {
            "provider_id": provider_id,
            "message_id": message.message_id,
            "channel": message.channel,
            "step": message.step,
            "sent_at": message.sent_at.isoformat(),
            "to": message.to,
            "subject": message.subject,
            "body": message.body,
            "html": message.html,
        }
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self.outbox_file.parent.mkdir(parents=True, exist_ok=True)
            with self.outbox_file.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self._tell(message)
        return provider_id

    def _tell(self, message: OutgoingMessage) -> None:
        """The notice is a courtesy: the message is delivered once it is in the file, so a
        closed pipe (`aftercare tick | head`) must not make it a failure to be sent again."""
        if self.stream is None:
            return
        try:
            print(self._notice(message), file=self.stream, flush=True)
        except (OSError, ValueError):  # BrokenPipeError; ValueError: the stream was closed
            self.stream = None

    def close(self) -> None:
        """Nothing is held open between sends."""

    def _notice(self, message: OutgoingMessage) -> str:
        size = (
            f"{message.segments} segment(s)" if message.segments else f"{len(message.body)} chars"
        )
        return (
            f"[{self.name}] {message.channel} message {message.message_id} ({message.step}, {size})"
            f" written to {self.outbox_file}"
        )
