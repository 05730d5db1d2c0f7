"""The bounded pool that runs a batch's provider calls concurrently.

The main thread prepares a chunk while the pool sends the one before, then records the sends
that finished meanwhile in one transaction; at most a chunk and a pool's worth of prepared
messages wait for their turn, so their renewed leases stay far from expiry. The pool knows
nothing of channels or the database: it is handed the steps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from reminders.sending.channels.base import OutgoingMessage
from reminders.sending.dispatch_results import Accepted, Delivered, Outcome, Prepared, Withdrawn

CHUNK_PER_SENDER = 4  # messages prepared in one transaction, per thread of the send pool


@dataclass(frozen=True)
class Steps:
    """What the pool is given to do: each step a function of the dispatcher's parts."""

    prepare: Callable[[Sequence[int]], list[Prepared]]  # in the main thread, a chunk at once
    deliver: Callable[[int, OutgoingMessage], Delivered]  # in a pool thread
    record: Callable[[Sequence[Accepted]], dict[int, Outcome]]  # those that finished together
    withdraw: Callable[[Sequence[Withdrawn]], None]  # kept back by a stop: to be handed back


def run_batch(
    ids: Sequence[int], steps: Steps, *, concurrency: int, stop: threading.Event
) -> list[Outcome | None]:
    """Each message's outcome, in the order of `ids`; None for one handed back untouched."""
    if not ids:
        return []
    senders = min(concurrency, len(ids))
    size = senders * CHUNK_PER_SENDER
    results: dict[int, Outcome | None] = {}
    in_flight: dict[Future[Delivered], int] = {}
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="send") as pool:
        for start in range(0, len(ids), size):
            _collect(steps, in_flight, results, keep=senders)
            chunk = ids[start : start + size]
            if stop.is_set():
                results.update(dict.fromkeys(chunk))
                continue
            for message_id, prepared in zip(chunk, steps.prepare(chunk), strict=True):
                if isinstance(prepared, OutgoingMessage):
                    in_flight[pool.submit(steps.deliver, message_id, prepared)] = message_id
                else:
                    results[message_id] = prepared
        _collect(steps, in_flight, results, keep=0)
    return [results[i] for i in ids]


def _collect(
    steps: Steps,
    in_flight: dict[Future[Delivered], int],
    results: dict[int, Outcome | None],
    *,
    keep: int,
) -> None:
    """Wait until at most `keep` sends are in flight; record those that finished meanwhile
    in one transaction (recorded as each few finished, a chunk took several)."""
    accepted: list[Accepted] = []
    withdrawn: list[Withdrawn] = []
    while len(in_flight) > keep:
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            message_id = in_flight.pop(future)
            result = future.result()
            if isinstance(result, Accepted):
                accepted.append(result)
            elif isinstance(result, Withdrawn):
                withdrawn.append(result)
            else:
                results[message_id] = result
    results.update(steps.record(accepted))
    steps.withdraw(withdrawn)
    results.update(dict.fromkeys(w.message_id for w in withdrawn))
