"""What only a sending process can see: how long each provider call took, and how sends ended.

A web process cannot observe a daemon's sends, so each daemon keeps these in its own registry
and serves them on METRICS_PORT (daemon.py); the database-wide gauges (messages by status,
backlog, workers alive) are the web app's `/metrics`. Channels and the SMS limiter are
wrapped, not changed: the dispatcher does not know it is measured.

- `aftercare_send_seconds{channel,outcome}`: a histogram of the provider call, WITHOUT the
  time spent waiting for the SMS rate (that wait is `aftercare_rate_limit_wait_seconds`) or,
  for email, for the SMTP connection other sends hold.
- `aftercare_sends_total{channel,outcome}`: outcome sent | transient | failed | unknown | error.
- `aftercare_dispatch_results_total{channel,result}`: what the dispatcher made of each claimed
  message (sent, deferred, skipped, failed, retry, unknown, paused, lost).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

from reminders.sending.channels.base import (
    Abilities,
    Channel,
    ChannelError,
    OutcomeUnknown,
    OutgoingMessage,
    Reserve,
)
from reminders.sending.dispatcher import DispatchReport
from reminders.sending.rate_limit import RateLimiter

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
WAIT_BUCKETS = (0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class SendMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.latency = Histogram(
            "aftercare_send_seconds",
            "Provider call time per send, not counting the wait for the SMS rate.",
            ["channel", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.waits = Histogram(
            "aftercare_rate_limit_wait_seconds",
            "Time a send waited for the SMS rate limit (shared by all workers on PostgreSQL).",
            buckets=WAIT_BUCKETS,
            registry=self.registry,
        )
        self.sends = Counter(
            "aftercare_sends",
            "Provider calls by how they ended.",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.results = Counter(
            "aftercare_dispatch_results",
            "Claimed messages by what the dispatcher made of them.",
            ["channel", "result"],
            registry=self.registry,
        )
        self._waited = _Waited()  # the limiter's wait inside the send this thread runs

    def wrap_channels(self, channels: Mapping[str, Channel]) -> dict[str, Channel]:
        """Each distinct channel wrapped once (the console serves both sms and email)."""
        wrapped: dict[int, Channel] = {}
        for channel in channels.values():
            wrapped.setdefault(id(channel), MeteredChannel(channel, self))
        return {name: wrapped[id(channel)] for name, channel in channels.items()}

    def wrap_limiter(self, limiter: RateLimiter) -> RateLimiter:
        return MeteredLimiter(limiter, self)

    def record(self, report: DispatchReport) -> None:
        for outcome in report.outcomes:
            # a lease lost before its row was read: no channel known, an empty label
            self.results.labels(outcome.channel or "", outcome.result).inc()

    def waited(self, seconds: float) -> None:
        self.waits.observe(seconds)
        self._waited.seconds += seconds

    def start_send(self) -> None:
        self._waited.seconds = 0.0

    def waited_in_send(self) -> float:
        return self._waited.seconds


class _Waited(threading.local):
    """Seconds a thread's current send waited for the SMS rate (0 in a new thread)."""

    seconds = 0.0


class MeteredLimiter:
    def __init__(self, inner: RateLimiter, metrics: SendMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def acquire(self, tokens: float = 1) -> float:
        wait = self.inner.acquire(tokens)
        self.metrics.waited(wait)
        return wait


class MeteredChannel:
    """The channel, timed and counted, with exactly the abilities of the one it wraps: a keyed
    channel's `send_keyed` is measured like any `send`, and `reconcile` is passed on as is.

    A keyed send is timed from its reservation (the connection is in hand), as the wait for
    the shared connection is other sends' time, like the wait for the SMS rate; a send that
    never got that far (the server is down) is timed from the call. A send whose reservation
    was refused (the message is no longer ours) sent nothing and is not counted.
    """

    def __init__(self, inner: Channel, metrics: SendMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.name = inner.name

    @property
    def abilities(self) -> Abilities:
        return self.inner.abilities

    def send(self, message: OutgoingMessage) -> str:
        with self._measured(message):
            return self.inner.send(message)

    def send_keyed(self, message: OutgoingMessage, reserve: Reserve) -> str:
        with self._measured(message) as started:

            def reserve_and_time(key: str) -> None:
                try:
                    reserve(key)
                except BaseException:
                    started.withdrawn = True
                    raise
                started.at = time.perf_counter()

            return self.inner.send_keyed(message, reserve_and_time)

    def reconcile(self, *, message_id: int, to: str, body: str, since: datetime) -> str | None:
        return self.inner.reconcile(message_id=message_id, to=to, body=body, since=since)

    def close(self) -> None:
        self.inner.close()

    @contextmanager
    def _measured(self, message: OutgoingMessage) -> Iterator[_Started]:
        self.metrics.start_send()
        started = _Started(time.perf_counter())
        outcome = "error"
        try:
            yield started
            outcome = "sent"
        except OutcomeUnknown:
            outcome = "unknown"
            raise
        except ChannelError as exc:
            outcome = "failed" if exc.permanent else "transient"
            raise
        finally:
            if not started.withdrawn:
                took = time.perf_counter() - started.at - self.metrics.waited_in_send()
                self.metrics.latency.labels(message.channel, outcome).observe(max(took, 0.0))
                self.metrics.sends.labels(message.channel, outcome).inc()


@dataclass
class _Started:
    """When the measured part of a send began, and whether it was withdrawn before any."""

    at: float
    withdrawn: bool = False
