"""`GET /metrics`: the database-wide state in Prometheus' text format, computed at each scrape.

Off (404) unless METRICS_TOKEN is set; then the scraper sends `Authorization: Bearer TOKEN`,
compared in constant time (401 otherwise). Everything here is read from the database, so any
web process answers for all workers. What only a sending process sees (send latency, sends
by outcome) each daemon serves itself on METRICS_PORT: see sending/metrics.py.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from reminders.runtime import health_thresholds
from reminders.store.db import DatabaseError, Engine
from reminders.store.health import Thresholds, message_counts, read_health, retrying_counts
from reminders.web import settings_of

router = APIRouter()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    token = settings_of(request).metrics_token
    if token is None:  # no handler in between: a 404 here must not become a login redirect
        return PlainTextResponse("Not Found", status_code=404)
    if not authorized(request.headers.get("Authorization"), token.get_secret_value()):
        return PlainTextResponse(
            "a bearer token is required",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    state = request.app.state
    collector = DatabaseCollector(state.engine, state.clock, health_thresholds(state.settings))
    body = await run_in_threadpool(render, collector)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def authorized(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


def render(collector: Collector) -> bytes:
    registry = CollectorRegistry(auto_describe=False)  # nothing is read when registering
    registry.register(collector)
    return generate_latest(registry)


class DatabaseCollector(Collector):
    """Gauges read at scrape time; a database that cannot be read says so in its own gauge."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], limits: Thresholds):
        self.engine, self.clock, self.limits = engine, clock, limits

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("aftercare_database_up", "1 when the database answered this scrape.")
        try:
            families = list(self._read())
        except DatabaseError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> Iterator[Metric]:
        with self.engine.connect() as connection:
            health = read_health(connection, self.clock(), self.limits)
            counts = message_counts(connection)
            retrying = retrying_counts(connection)
        messages = GaugeMetricFamily(
            "aftercare_messages",
            "Outbox messages by channel and status.",
            labels=["channel", "status"],
        )
        for row in counts:
            messages.add_metric([row.channel, row.status], row.count)
        yield messages
        waiting = GaugeMetricFamily(
            "aftercare_messages_retrying",
            "Pending messages that already had an attempt: a retry or a resend waits.",
            labels=["channel"],
        )
        for channel, count in sorted(retrying.items()):
            waiting.add_metric([channel], count)
        yield waiting
        yield _gauge("aftercare_backlog_messages", "Pending messages due now.", health.backlog)
        yield _gauge(
            "aftercare_oldest_due_age_seconds",
            "How long the oldest pending message has been due (0: nothing due).",
            health.oldest_due_age_seconds or 0.0,
        )
        yield _gauge(
            "aftercare_workers_alive", "Workers with a fresh heartbeat.", health.workers_alive
        )
        ages = GaugeMetricFamily(
            "aftercare_worker_heartbeat_age_seconds",
            "Seconds since each live worker's last heartbeat.",
            labels=["worker"],
        )
        for worker in health.workers:
            if worker.alive:
                ages.add_metric([worker.worker_id], worker.age_seconds)
        yield ages
        for name, what, counted in (
            ("unknown_outcomes", "Sends of unknown outcome awaiting reconcile", health.unknown),
            ("held_receipts", "Receipts held until their send is recorded", health.held_receipts),
            ("expired_leases", "Claims whose worker stopped renewing them", health.expired_leases),
        ):
            family = GaugeMetricFamily(
                f"aftercare_{name}",
                f"{what}; stuck: older than STUCK_AFTER_SECONDS.",
                labels=["stuck"],
            )
            family.add_metric(["false"], counted.total - counted.stuck)
            family.add_metric(["true"], counted.stuck)
            yield family


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
