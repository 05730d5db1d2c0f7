"""With METRICS_PORT set, the daemon wraps its channels to measure them; email over SMTP is a
keyed channel, and its sends must be counted and timed like any other (they once went out
through the wrapper untimed: the dispatcher called `send_keyed`, which the wrapper forwarded)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlmodel import select

from reminders.daemon import Daemon
from reminders.runtime import Runtime
from reminders.sending.channels.base import OutgoingMessage
from reminders.sending.channels.smtp_email import SmtpChannel
from reminders.sending.metrics import SendMetrics
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import OutboxMessage
from tests.support.factories import enroll_patient
from tests.support.settings import make_settings, utc
from tests.support.smtp_server import RunningServer, free_port, smtp_server

NOW = utc(2026, 6, 16, 17, 0)  # 10:00 at the clinic: inside every sending window
PATIENTS = 3
EMAIL = OutgoingMessage(1, "email", "maria@example.org", "Avoid hot baths.\n", "aftercare", NOW,
                        subject="Your aftercare")  # fmt: skip


@pytest.fixture
def smtp() -> Iterator[RunningServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: RunningServer) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        email_provider="smtp",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_security="none",
        email_from="Fine Touch Dermatology <care@finetouch.example>",
        metrics_port=free_port(),  # only read here: the test serves nothing on it
    )


def test_each_email_sent_over_smtp_is_counted_and_timed(
    runtime: Runtime, smtp: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("reminders.daemon.utcnow", lambda: NOW)
    for n in range(PATIENTS):
        enroll_patient(runtime, completed_at=NOW, now=NOW, phone=f"+1310555014{n}",
                       email=f"patient{n}@example.org")  # fmt: skip
    daemon = Daemon(runtime)
    assert daemon.metrics is not None

    daemon.dispatch()

    emails = smtp.handler.received
    assert len(emails) == PATIENTS
    with session_scope(runtime.engine) as session:
        sent = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "email")).all()
        ids = sorted(m.provider_id or "" for m in sent if m.status == "sent")
    assert ids == sorted(str(e.message()["Message-ID"]) for e in emails)  # sent under its key
    registry = daemon.metrics.registry
    labels = {"channel": "email", "outcome": "sent"}
    assert registry.get_sample_value("aftercare_sends_total", labels) == PATIENTS
    assert registry.get_sample_value("aftercare_send_seconds_count", labels) == PATIENTS
    assert (registry.get_sample_value("aftercare_send_seconds_sum", labels) or 0) > 0
    results = {"channel": "email", "result": "sent"}
    assert registry.get_sample_value("aftercare_dispatch_results_total", results) == PATIENTS


class NoLongerOurs(Exception):
    """What the dispatcher raises through `reserve` when another worker holds the message."""


def test_a_send_withdrawn_at_its_reservation_is_not_counted(smtp: RunningServer) -> None:
    settings = Settings(_env_file=None, smtp_host=smtp.host, smtp_port=smtp.port,  # type: ignore[call-arg]
                        smtp_security="none", email_from="care@finetouch.example")  # fmt: skip
    metrics = SendMetrics(CollectorRegistry())
    inner = SmtpChannel(settings)
    channel = metrics.wrap_channels({"email": inner})["email"]
    assert channel.abilities == inner.abilities and channel.abilities.keyed

    def refuse(_key: str) -> None:
        raise NoLongerOurs

    with pytest.raises(NoLongerOurs):
        channel.send_keyed(EMAIL, refuse)
    key = channel.send_keyed(EMAIL, lambda _key: None)
    channel.close()

    assert [str(r.message()["Message-ID"]) for r in smtp.handler.received] == [key]
    sent = {"channel": "email", "outcome": "sent"}
    assert metrics.registry.get_sample_value("aftercare_sends_total", sent) == 1
    assert metrics.registry.get_sample_value("aftercare_send_seconds_count", sent) == 1
    for outcome in ("error", "transient", "failed", "unknown"):
        labels = {"channel": "email", "outcome": outcome}
        assert metrics.registry.get_sample_value("aftercare_sends_total", labels) is None


def test_a_keyed_send_is_timed_from_its_reservation(smtp: RunningServer) -> None:
    """What comes before the reservation (the wait for the shared connection, the dispatcher's
    own write) is not the provider's time, as the wait for the SMS rate is not."""
    settings = Settings(_env_file=None, smtp_host=smtp.host, smtp_port=smtp.port,  # type: ignore[call-arg]
                        smtp_security="none", email_from="care@finetouch.example")  # fmt: skip
    metrics = SendMetrics(CollectorRegistry())
    channel = metrics.wrap_channels({"email": SmtpChannel(settings)})["email"]
    started = time.perf_counter()
    channel.send_keyed(EMAIL, lambda _key: time.sleep(0.5))
    total = time.perf_counter() - started
    channel.close()

    took = metrics.registry.get_sample_value(
        "aftercare_send_seconds_sum", {"channel": "email", "outcome": "sent"}
    )
    assert took is not None and 0 < took < total - 0.5
