"""argon2 in a small pool of its own, which refuses at once when full.

Each hash takes 64 MiB and most of a second by design. Run on the thread pool every request
shares (the database work of every page, webhook and API call), a login flood would queue
Twilio's STOPs behind it; queued without bound, it would hold the memory too. So password work
has its own threads (AT_ONCE), a short queue (WAITING), and past that a login is answered
"busy" straight away (a 429 with Retry-After) without touching a password.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pwdlib import PasswordHash

__all__ = ["AT_ONCE", "WAITING", "HashingBusy", "PasswordPool"]

T = TypeVar("T")

AT_ONCE = 2  # argon2 hashes at once per process (64 MiB each)
WAITING = 8  # more may wait their turn: a second or two each; beyond that, "busy"


class HashingBusy(Exception):
    """Every hashing thread is busy and the queue is full: try again in a few seconds."""

    retry_after = 5


class PasswordPool:
    """Password work on its own threads; `run` refuses at once rather than queue without end."""

    def __init__(self, passwords: PasswordHash, at_once: int = AT_ONCE, waiting: int = WAITING):
        self.passwords = passwords
        self._executor = ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="argon2")
        self._slots = threading.BoundedSemaphore(at_once + waiting)

    def check_room(self) -> None:
        """HashingBusy now if `run` would refuse: a login answers "busy" before any query."""
        if not self._slots.acquire(blocking=False):
            raise HashingBusy
        self._slots.release()

    async def run(self, work: Callable[[PasswordHash], T]) -> T:
        if not self._slots.acquire(blocking=False):
            raise HashingBusy
        try:
            future = self._executor.submit(work, self.passwords)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _done: self._slots.release())
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
