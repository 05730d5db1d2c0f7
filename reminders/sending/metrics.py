"""What only a sending process can see: how long each provider call took, and how sends ended.

A web process cannot observe a daemon's sends, so each daemon keeps these in its own registry
and serves them on METRICS_PORT (daemon.py); the database-wide gauges (messages by status,
backlog, workers alive) are the web app's `/metrics`. Channels and the SMS limiter are
wrapped, not changed: the dispatcher does not know it is measured.

- `aftercare_send_seconds{channel,outcome}`: a histogram of the provider call, WITHOUT the
  time spent waiting for the SMS rate (that wait is `aftercare_rate_limit_wait_seconds`).
- `aftercare_sends_total{channel,outcome}`: outcome sent | transient | failed | unknown | error.
- `aftercare_dispatch_results_total{channel,result}`: what the dispatcher made of each claimed
  message (sent, deferred, skipped, failed, retry, unknown, paused, lost).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector

from reminders.sending.channels.base import Channel, ChannelError, OutcomeUnknown, OutgoingMessage
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
        self._waited = threading.local()  # the limiter's wait inside the send this thread runs

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
            self.results.labels(outcome.channel, outcome.result).inc()

    def waited(self, seconds: float) -> None:
        self.waits.observe(seconds)
        self._waited.seconds = getattr(self._waited, "seconds", 0.0) + seconds

    def start_send(self) -> None:
        self._waited.seconds = 0.0

    def waited_in_send(self) -> float:
        return float(getattr(self._waited, "seconds", 0.0))


class MeteredLimiter:
    def __init__(self, inner: RateLimiter, metrics: SendMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def acquire(self, tokens: float = 1) -> float:
        wait = self.inner.acquire(tokens)
        self.metrics.waited(wait)
        return wait

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class MeteredChannel:
    """The channel, timed. Other attributes (`reconcile`) pass through, so a channel that can
    be reconciled still can, and one that cannot still cannot."""

    def __init__(self, inner: Channel, metrics: SendMetrics) -> None:
        self.inner = inner
        self.metrics = metrics
        self.name = inner.name

    def send(self, message: OutgoingMessage) -> str:
        self.metrics.start_send()
        started = time.perf_counter()
        outcome = "error"
        try:
            provider_id = self.inner.send(message)
            outcome = "sent"
            return provider_id
        except OutcomeUnknown:
            outcome = "unknown"
            raise
        except ChannelError as exc:
            outcome = "failed" if exc.permanent else "transient"
            raise
        finally:
            took = time.perf_counter() - started - self.metrics.waited_in_send()
            self.metrics.latency.labels(message.channel, outcome).observe(max(took, 0.0))
            self.metrics.sends.labels(message.channel, outcome).inc()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
