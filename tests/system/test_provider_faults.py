"""Issue #8, faults: a running `aftercare run` worker through provider and database faults.

- Twilio answers a mix of 5xx, timeouts before it takes the message and after, dropped
  connections, 429 bursts, 21211 (invalid number) and 21610 (unsubscribed): every retryable
  text is created at Twilio exactly once (an unknown send is reconciled, not resent blindly),
  no permanent refusal is tried again, and the worker never exits.
- The mail server is down for longer than every retry would last, then comes back: no email
  is lost, failed, or recorded as sent while it was down.
- The worker's PostgreSQL connections are terminated under it, several times, while it
  drains: it recovers by itself and finishes, with nothing lost and no text twice.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from reminders.runtime import Runtime
from tests.support.daemon_home import daytime_zone
from tests.support.smtp_server import RecordingHandler, RunningServer, free_port, smtp_server
from tests.support.twilio_server import (
    FakeTwilio,
    Reply,
    drop,
    latency,
    rate_limited,
    server_error,
    stall,
    twilio_error,
)
from tests.support.workers import (
    DUE,
    Worker,
    drained,
    mail_ids_by_recipient,
    phone,
    reader,
    rows,
    statuses,
    texts_by_number,
    unsettled,
    wait_until,
    worker_env,
    write_backlog,
)

pytestmark = pytest.mark.faults

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
POSTGRES = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
TIMEOUT = 0.5  # TWILIO_TIMEOUT_SECONDS: a stalled answer comes after it
LATE = 1.5

# What Twilio answers each kind of number, call after call (then 201 Created).
RETRYABLE: dict[str, tuple[Reply, ...]] = {
    "fine": (),
    "5xx": (server_error(500), server_error(503)),
    "timeout before acceptance": (replace(server_error(), delay=LATE),),  # nothing created
    "timeout after acceptance": (stall(LATE),),  # created, the answer comes too late
    "dropped after acceptance": (drop(),),
    "429 burst": (rate_limited(), rate_limited(), rate_limited()),
}
PERMANENT: dict[str, tuple[Reply, ...]] = {
    "21211": (twilio_error(400, 21211, "The 'To' number is not a valid phone number."),),
    "21610": (twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"),),
}
EACH = 4  # numbers of each kind


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(default=latency(0.02)) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[RunningServer]:
    with smtp_server(RecordingHandler(delay=0.01)) as server:
        yield server


def posts_by_number(twilio: FakeTwilio) -> Counter[str]:
    return Counter(request.form["To"] for request in twilio.created())


def fast_retries(**settings: str) -> dict[str, str]:
    """Retries within seconds (first gap 0.15-0.3 s, growing threefold), Twilio's timeout short."""
    return {
        "retry_base_seconds": "0.3",
        "twilio_timeout_seconds": str(TIMEOUT),
        "sms_max_per_second": "100",
        "send_concurrency": "4",
        "dispatch_batch_size": "20",
    } | settings


@SQLITE
def test_twilio_fault_mix_sends_every_retryable_text_once_and_no_permanent_one_again(
    runtime: Runtime, tmp_path: Path, twilio: FakeTwilio, smtp: RunningServer
) -> None:
    kinds = list(RETRYABLE) + list(PERMANENT)
    numbers = {kind: [phone(k * EACH + n) for n in range(EACH)] for k, kind in enumerate(kinds)}
    for kind, script in (RETRYABLE | PERMANENT).items():
        for number in numbers[kind]:
            twilio.script(number, *script)
    zone = daytime_zone(datetime.now(UTC))
    total = write_backlog(runtime.engine, zone, range(len(kinds) * EACH), emails=False)
    env = worker_env(
        runtime.settings.database_url, tmp_path, zone, twilio, smtp.port, **fast_retries()
    )
    database = reader(runtime.settings.database_url)
    worker = Worker.start(env, tmp_path, "worker")
    try:
        wait_until(
            lambda: drained(database),
            timeout=90,
            workers=[worker],
            what=lambda: f"settled: {unsettled(database)}",
        )
        time.sleep(1)  # long enough for a wrong second send to show
        assert worker.alive, worker.output()
        assert worker.stop() == 0
    finally:
        if worker.alive:
            worker.kill()

    created, posts = texts_by_number(twilio), posts_by_number(twilio)
    by_number = dict(
        rows(
            database,
            f"SELECT recipient, status FROM outbox_message WHERE {DUE} AND channel = 'sms'",
        )
    )
    codes = dict(rows(database, f"SELECT recipient, error_code FROM outbox_message WHERE {DUE}"))
    opted_out = {
        number for (number,) in rows(database, "SELECT address FROM opt_out WHERE channel = 'sms'")
    }
    undeliverable = {
        number
        for (number,) in rows(
            database, "SELECT phone FROM patient WHERE phone_undeliverable_at IS NOT NULL"
        )
    }
    database.dispose()
    assert len(by_number) == total
    for kind in RETRYABLE:
        assert {created[n] for n in numbers[kind]} == {1}, kind  # sent exactly once
        assert {by_number[n] for n in numbers[kind]} == {"sent"}, kind
    assert {posts[n] for n in numbers["timeout before acceptance"]} == {2}  # asked, then resent
    assert {posts[n] for n in numbers["timeout after acceptance"]} == {1}  # asked, found it
    assert {posts[n] for n in numbers["429 burst"]} == {4}
    for kind in PERMANENT:
        assert {(posts[n], created[n]) for n in numbers[kind]} == {(1, 0)}, kind  # not retried
        assert {(by_number[n], codes[n]) for n in numbers[kind]} == {("failed", kind)}
    assert set(numbers["21610"]) <= opted_out
    assert set(numbers["21211"]) <= undeliverable


@SQLITE
def test_smtp_down_longer_than_every_retry_then_back_loses_no_email(
    runtime: Runtime, tmp_path: Path, twilio: FakeTwilio
) -> None:
    zone = daytime_zone(datetime.now(UTC))
    total = write_backlog(runtime.engine, zone, range(30))
    port = free_port()  # nothing listens there yet: connections are refused
    env = worker_env(
        runtime.settings.database_url,
        tmp_path,
        zone,
        twilio,
        port,
        **fast_retries(max_attempts="2"),  # were the outage to spend attempts, all would fail
    )
    database = reader(runtime.settings.database_url)
    worker = Worker.start(env, tmp_path, "worker")
    try:
        wait_until(
            lambda: statuses(database)["sent"] >= total // 2,  # the SMS half
            timeout=60,
            workers=[worker],
            what=lambda: f"SMS sent: {unsettled(database)}",
        )
        time.sleep(4)  # many dispatch passes, each trying the server once
        during = rows(
            database,
            "SELECT status, count(*), max(attempts), count(sent_at) FROM outbox_message"
            f" WHERE {DUE} AND channel = 'email' GROUP BY status",
        )
        assert {status for status, _, _, _ in during} <= {"pending", "sending"}  # not failed
        assert sum(count for _, count, _, _ in during) == total // 2
        assert max(most for _, _, most, _ in during) <= 1  # the claim in hand, if any: no more
        assert sum(reserved for _, _, _, reserved in during) == 0  # nothing recorded as sent
        with smtp_server(RecordingHandler(delay=0.01), port=port) as smtp:
            wait_until(
                lambda: drained(database),
                timeout=60,
                workers=[worker],
                what=lambda: f"emails sent: {unsettled(database)}",
            )
            assert worker.stop() == 0
            mails = mail_ids_by_recipient(smtp)
    finally:
        if worker.alive:
            worker.kill()

    assert statuses(database) == {"sent": total}
    sent = dict(
        rows(
            database,
            f"SELECT recipient, provider_id FROM outbox_message WHERE {DUE} AND channel = 'email'",
        )
    )
    database.dispose()
    assert mails == {address: [key] for address, key in sent.items()}  # each once, none lost
    assert "unreachable" in worker.output()


@POSTGRES
def test_a_worker_whose_database_connections_are_terminated_recovers_and_finishes(
    runtime: Runtime, tmp_path: Path, twilio: FakeTwilio, smtp: RunningServer
) -> None:
    """PostgreSQL restarted under a running worker, as far as the worker can tell: each of
    its backends is terminated (the shared server itself cannot be restarted here)."""
    name = f"aftercare-faults-{uuid.uuid4().hex[:8]}"
    url = sa.engine.make_url(runtime.settings.database_url)
    worker_url = url.update_query_dict({"application_name": name})
    zone = daytime_zone(datetime.now(UTC))
    total = write_backlog(runtime.engine, zone, range(150))
    env = worker_env(
        worker_url.render_as_string(hide_password=False),
        tmp_path,
        zone,
        twilio,
        smtp.port,
        **fast_retries(sms_max_per_second="25"),  # a few seconds of draining to cut into
    )
    database = reader(runtime.settings.database_url)
    worker = Worker.start(env, tmp_path, "worker")
    terminated: list[int] = []
    try:
        wait_until(
            lambda: statuses(database)["sent"] > 0,
            timeout=60,
            workers=[worker],
            what="sending",
        )
        while len(terminated) < 5 and not drained(database):
            [(count,)] = rows(
                database,
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name",
                name=name,
            )
            terminated.append(count)
            time.sleep(0.7)
        wait_until(
            lambda: drained(database),
            timeout=90,
            workers=[worker],
            what=lambda: f"drained: {unsettled(database)}",
        )
        assert worker.stop() == 0
    finally:
        if worker.alive:
            worker.kill()

    assert sum(terminated) >= 3, f"the worker's connections were hardly cut: {terminated}"
    assert statuses(database) == {"sent": total}
    sent = rows(database, f"SELECT channel, recipient, provider_id FROM outbox_message WHERE {DUE}")
    database.dispose()
    texts, mails = texts_by_number(twilio), mail_ids_by_recipient(smtp)
    assert {texts[to] for channel, to, _ in sent if channel == "sms"} == {
        1
    }  # none lost, none twice
    assert {to: set(mails[to]) for channel, to, _ in sent if channel == "email"} == {
        to: {key} for channel, to, key in sent if channel == "email"
    }  # every email arrived, under the one Message-ID on its row
    # The log need not show the cuts: a pooled connection cut while idle is replaced by the
    # pool's pre-ping without a word, so only `terminated` above proves the fault happened.
