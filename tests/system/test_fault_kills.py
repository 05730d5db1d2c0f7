"""Issue #8, faults: workers killed with SIGKILL at random while draining a mixed backlog.

Two `aftercare run` workers drain a backlog of aftercare SMS and emails through the real
twilio client to the loopback Twilio (with latency) and over SMTP to aiosmtpd (with a delay
per message). At random moments one of them is killed with SIGKILL and started again, at least
KILLS times. At each kill the sends it had under way are counted from the database (its rows
in `sending` with `sent_at` set: reserved, maybe handed over): only those may reach a patient
twice. Then the last workers finish the backlog and the test checks what the servers got.

- Every message reached its server at least once: none lost. (Before an email's send was
  reserved only with the SMTP connection in hand, and an unknown email was counted as sent,
  emails queued behind the connection at a kill were recorded `sent` and never arrived.)
- SMS: no text twice; a send cut short is `unknown`, and reconciling asks Twilio.
- Email: every copy of a message carries the one Message-ID stored on its row, so the
  receiving side drops repeats; the repeats are at most the emails in flight at the kills.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from reminders.runtime import Runtime
from tests.support.daemon_home import daytime_zone
from tests.support.smtp_server import RecordingHandler, RunningServer, smtp_server
from tests.support.twilio_server import FakeTwilio, latency
from tests.support.workers import (
    DUE,
    Worker,
    drained,
    mail_ids_by_recipient,
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

PATIENTS = 200  # 400 messages to begin with
TOP_UP = 40  # patients added whenever fewer messages wait, until the last kill
KILLS = 22  # the issue asks for at least 20
WORKERS = 2
SEED = 8


@dataclass(frozen=True)
class Kill:
    sms_in_flight: int
    email_in_flight: int


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(default=latency(0.1)) as server:  # sends long enough to be cut into
        yield server


@pytest.fixture
def smtp() -> Iterator[RunningServer]:
    with smtp_server(RecordingHandler(delay=0.05)) as server:
        yield server


def has_begun(database: Engine, worker: Worker) -> bool:
    """Whether the worker has claimed messages: it is draining, not starting."""
    query = "SELECT 1 FROM message_event WHERE actor = :worker LIMIT 1"
    return bool(rows(database, query, worker=worker.worker_id))


def in_flight(database: Engine, worker: Worker) -> Kill:
    """The sends the killed worker had reserved: the only messages it may have doubled."""
    found = dict(
        rows(
            database,
            "SELECT channel, count(*) FROM outbox_message WHERE status = 'sending'"
            " AND sent_at IS NOT NULL AND lease_owner = :owner GROUP BY channel",
            owner=worker.worker_id,
        )
    )
    return Kill(found.get("sms", 0), found.get("email", 0))


def test_sigkill_at_random_while_draining_loses_nothing_and_doubles_only_what_was_in_flight(
    runtime: Runtime, tmp_path: Path, twilio: FakeTwilio, smtp: RunningServer
) -> None:
    started = time.monotonic()
    zone = daytime_zone(datetime.now(UTC))
    total = write_backlog(runtime.engine, zone, range(PATIENTS))
    env = worker_env(
        runtime.settings.database_url,
        tmp_path,
        zone,
        twilio,
        smtp.port,
        lease_seconds="10",  # the least allowed: a dead worker's rows come back soon
        dispatch_batch_size="20",
        send_concurrency="4",
        sms_max_per_second="40",
    )
    database = reader(runtime.settings.database_url)
    rng = random.Random(SEED)
    workers = [Worker.start(env, tmp_path, f"worker-{n}") for n in range(WORKERS)]
    kills: list[Kill] = []
    patients = PATIENTS
    try:
        while len(kills) < KILLS:
            if statuses(database)["pending"] < TOP_UP:  # a slow machine kills less often
                total += write_backlog(runtime.engine, zone, range(patients, patients + TOP_UP))
                patients += TOP_UP
            time.sleep(rng.uniform(0.1, 0.6))
            working = [n for n, worker in enumerate(workers) if has_begun(database, worker)]
            if not working:
                continue  # both still starting: a kill now would hit no send
            slot = rng.choice(working)
            victim = workers[slot]
            assert victim.alive, victim.output()
            victim.kill()
            kills.append(in_flight(database, victim))
            workers[slot] = Worker.start(env, tmp_path, f"worker-{slot}-{len(kills)}")
        wait_until(
            lambda: drained(database),
            timeout=120,
            workers=workers,
            what=lambda: f"drained: {unsettled(database)}",
        )
        exits = [worker.stop() for worker in workers]
    finally:
        for worker in workers:
            if worker.alive:
                worker.kill()
    elapsed = time.monotonic() - started

    assert exits == [0] * WORKERS
    assert statuses(database) == {"sent": total}
    texts = texts_by_number(twilio)
    mails = mail_ids_by_recipient(smtp)
    sent = rows(database, f"SELECT channel, recipient, provider_id FROM outbox_message WHERE {DUE}")
    database.dispose()
    sms = [recipient for channel, recipient, _ in sent if channel == "sms"]
    emails = {recipient: key for channel, recipient, key in sent if channel == "email"}
    assert len(sms) == len(emails) == patients

    lost = [n for n in sms if not texts[n]] + [a for a in emails if not mails.get(a)]
    assert not lost, f"{len(lost)} messages recorded sent never reached their server"
    assert {address: set(mails[address]) for address in emails} == {
        address: {key} for address, key in emails.items()
    }  # every copy under the Message-ID on its row: the receiver drops repeats
    text_repeats = sum(texts[number] - 1 for number in sms)
    mail_repeats = sum(len(mails[address]) - 1 for address in emails)
    sms_in_flight = sum(kill.sms_in_flight for kill in kills)
    email_in_flight = sum(kill.email_in_flight for kill in kills)
    assert text_repeats == 0, f"{text_repeats} SMS sent twice ({sms_in_flight} in flight)"
    assert mail_repeats <= email_in_flight, (mail_repeats, email_in_flight)
    assert sms_in_flight + email_in_flight > 0, "no kill caught a send under way"
    print(
        f"{len(kills)} kills in {elapsed:.0f}s; in flight at the kills: {sms_in_flight} SMS,"
        f" {email_in_flight} email; repeats: {text_repeats} SMS, {mail_repeats} email"
        " (same Message-ID)"
    )
