"""Prometheus metrics: the web app's database gauges behind a token, each daemon's own sends.

The web app's `/metrics` is off (404) without METRICS_TOKEN and wants the token as a bearer;
what it says is read from the database at each scrape. The daemon's send latency and
outcomes are observed in the sending process and served on its METRICS_PORT.
"""

from __future__ import annotations

import signal
import socket
import time
import urllib.request
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from reminders.sending.channels.console import ConsoleChannel
from reminders.sending.channels.twilio.channel import TwilioChannel
from reminders.sending.dispatcher import DispatchReport, Outcome
from reminders.sending.metrics import SendMetrics
from reminders.sending.rate_limit import TokenBucket
from reminders.settings import Settings, SettingsError, load_settings
from reminders.web.app import create_app
from tests.support.daemon_home import (
    has_aftercare_sms_and_email,
    start_daemon,
    stop,
    wait_for_lines,
)
from tests.support.health import message_ids, put, troubled, worker_seen
from tests.support.settings import make_settings, utc
from tests.support.twilio_server import FakeTwilio, server_error, stall, twilio_error
from tests.support.twilio_sms import outgoing, twilio_settings

with warnings.catch_warnings():  # Starlette asks for httpx2 instead of httpx; same API
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOW = utc(2026, 6, 16, 12, 0)
TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, metrics_token=TOKEN)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings, engine, clock=lambda: NOW)) as client:
        yield client


def scrape(client: TestClient, token: str = TOKEN):
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}"})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# -- the web app's /metrics -------------------------------------------------------------------


def test_metrics_are_off_without_a_token(tmp_path, engine, database_url):
    app = create_app(make_settings(database_url, tmp_path), engine)
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404  # not a login redirect: nothing is there


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"],
)
def test_metrics_want_the_bearer_token(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "aftercare_" not in response.text


def test_metrics_report_the_outbox_the_backlog_and_what_is_stuck(client, runtime):
    troubled(runtime, NOW)
    worker_seen(runtime.engine, "clinic-1:4242", NOW - timedelta(seconds=3))
    worker_seen(runtime.engine, "clinic-1:17", NOW - timedelta(hours=3))  # gone: not listed

    response = scrape(client)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    values = samples(response.text)
    assert values[("aftercare_database_up", ())] == 1
    assert values[("aftercare_backlog_messages", ())] == 2
    assert values[("aftercare_oldest_due_age_seconds", ())] == 7_200
    assert values[("aftercare_workers_alive", ())] == 1
    assert values[("aftercare_worker_heartbeat_age_seconds", (("worker", "clinic-1:4242"),))] == 3
    assert ("aftercare_worker_heartbeat_age_seconds", (("worker", "clinic-1:17"),)) not in values
    assert values[("aftercare_unknown_outcomes", (("stuck", "true"),))] == 1
    assert values[("aftercare_unknown_outcomes", (("stuck", "false"),))] == 1
    assert values[("aftercare_held_receipts", (("stuck", "true"),))] == 1
    assert values[("aftercare_expired_leases", (("stuck", "true"),))] == 1
    by_status: dict[str, float] = {}
    for (name, labels), count in values.items():
        if name == "aftercare_messages":
            status = dict(labels)["status"]
            by_status[status] = by_status.get(status, 0) + count
    assert by_status["unknown"] == 2 and by_status["sending"] == 3
    assert sum(by_status.values()) == 11  # every row of the asclera plan, sms and email


def test_retrying_counts_pending_messages_that_had_an_attempt(client, runtime):
    troubled(runtime, NOW)
    put(runtime.engine, message_ids(runtime.engine)[0], attempts=2)
    values = samples(scrape(client).text)
    retrying = {
        dict(labels)["channel"]: value
        for (name, labels), value in values.items()
        if name == "aftercare_messages_retrying"
    }
    assert sum(retrying.values()) == 1


def test_a_database_that_cannot_be_read_is_a_gauge_not_an_error(tmp_path):
    down = make_settings(
        "postgresql+psycopg://nobody:secret@127.0.0.1:1/none", tmp_path, metrics_token=TOKEN
    )
    with TestClient(create_app(down)) as client:
        response = scrape(client)
    assert response.status_code == 200
    assert samples(response.text)[("aftercare_database_up", ())] == 0
    assert "secret" not in response.text


def test_a_short_or_placeholder_metrics_token_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="METRICS_TOKEN"):
        load_settings(_env_file=None, metrics_token="changeme")


# -- each daemon's own: send latency and outcomes ----------------------------------------------


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


def metered_twilio(twilio: FakeTwilio, limiter: TokenBucket | None = None):
    metrics = SendMetrics(CollectorRegistry())
    bucket = metrics.wrap_limiter(limiter or TokenBucket(1_000))
    channel = TwilioChannel(twilio_settings(twilio.base_url), limiter=bucket)
    return metrics, metrics.wrap_channels({"sms": channel})["sms"], channel


def value(metrics: SendMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_send_latency_leaves_out_the_wait_for_the_rate(twilio):
    metrics, channel, inner = metered_twilio(twilio, TokenBucket(5, burst=0))  # waits 0.2 s
    started = time.perf_counter()
    channel.send(outgoing())
    total = time.perf_counter() - started
    inner.close()
    waited = value(metrics, "aftercare_rate_limit_wait_seconds_sum")
    took = value(metrics, "aftercare_send_seconds_sum", channel="sms", outcome="sent")
    assert waited == pytest.approx(0.2, abs=0.01)
    assert took == pytest.approx(total - waited, abs=0.01)  # the call itself, without the wait
    assert took > 0
    assert value(metrics, "aftercare_sends_total", channel="sms", outcome="sent") == 1


def test_sends_are_counted_by_how_they_ended(twilio):
    metrics, channel, inner = metered_twilio(twilio)
    twilio.answer_next(server_error(), twilio_error(400, 21211, "Invalid 'To' Phone Number"))
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017 (ChannelError, re-raised as is)
            channel.send(outgoing())
    twilio.answer_next(stall(2))
    with pytest.raises(Exception):  # noqa: B017
        channel.send(outgoing())
    inner.close()
    counts = {
        outcome: value(metrics, "aftercare_sends_total", channel="sms", outcome=outcome)
        for outcome in ("transient", "failed", "unknown", "sent")
    }
    assert counts == {"transient": 1, "failed": 1, "unknown": 1, "sent": 0}


def test_a_metered_channel_reconciles_only_if_its_channel_can(twilio, tmp_path):
    _metrics, channel, inner = metered_twilio(twilio)
    console = SendMetrics(CollectorRegistry()).wrap_channels(
        {"sms": ConsoleChannel(tmp_path / "o.jsonl", None)}
    )["sms"]
    assert channel.abilities == inner.abilities and channel.abilities.reconciles
    assert not console.abilities.reconciles
    assert channel.name == "twilio"
    text = outgoing()
    sid = channel.send(text)
    since = text.sent_at - timedelta(minutes=1)
    found = channel.reconcile(message_id=text.message_id, to=text.to, body=text.body, since=since)
    assert found == sid  # asked through the wrapper, answered by Twilio
    inner.close()


def test_the_console_serving_both_channels_is_wrapped_once(tmp_path):
    console = ConsoleChannel(tmp_path / "o.jsonl", None)
    wrapped = SendMetrics(CollectorRegistry()).wrap_channels({"sms": console, "email": console})
    assert wrapped["sms"] is wrapped["email"]


def test_dispatch_results_are_counted_per_channel():
    metrics = SendMetrics(CollectorRegistry())
    at = datetime.now(UTC)
    report = DispatchReport(
        outcomes=[
            Outcome(1, "aftercare", "sms", "sent", at=at),
            Outcome(2, "aftercare", "email", "retry", at=at),
            Outcome(3, "follow_up", "sms", "sent", at=at),
        ]
    )
    metrics.record(report)
    assert value(metrics, "aftercare_dispatch_results_total", channel="sms", result="sent") == 2
    assert value(metrics, "aftercare_dispatch_results_total", channel="email", result="retry") == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_daemon_serves_its_sends_on_its_metrics_port(home):
    port = free_port()
    daemon = start_daemon(home, metrics_port=str(port))
    try:
        wait_for_lines(home, daemon, has_aftercare_sms_and_email)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    finally:
        output = stop(daemon, signal.SIGTERM)
    assert daemon.returncode == 0, output
    values = samples(text)
    assert values[("aftercare_sends_total", (("channel", "sms"), ("outcome", "sent")))] >= 1
    assert values[("aftercare_sends_total", (("channel", "email"), ("outcome", "sent")))] >= 1
    assert ("aftercare_send_seconds_count", (("channel", "sms"), ("outcome", "sent"))) in values
    assert f"metrics on http://127.0.0.1:{port}/metrics" in output


def test_a_taken_metrics_port_is_logged_and_the_daemon_sends_anyway(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        daemon = start_daemon(home, metrics_port=str(taken.getsockname()[1]))
        try:
            wait_for_lines(home, daemon, has_aftercare_sms_and_email)
        finally:
            output = stop(daemon, signal.SIGTERM)
    assert daemon.returncode == 0, output
    assert "metrics not served on 127.0.0.1" in output
