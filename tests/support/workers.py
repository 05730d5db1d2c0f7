"""Real `aftercare run` workers against the loopback Twilio and SMTP servers, for fault tests.

The backlog is written as a practice system would write it (patients and completed sessions,
then planned), so every aftercare SMS and email is due at once. Workers are subprocesses with
their output in a log file; the test reads the database with an engine of its own that takes
no write lock (SQLite's BEGIN IMMEDIATE would queue the test behind the workers).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.planning.planner import plan_pending
from reminders.store.db import session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.models import Patient, TreatmentSession
from tests.support.daemon_home import clean_env
from tests.support.smtp_server import RunningServer
from tests.support.twilio_server import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

CLINIC_NUMBER = "+18773376424"
DUE = "step = 'aftercare'"  # the backlog: every session's aftercare SMS and email


def phone(n: int) -> str:
    return f"+1213555{n:04d}"


def email(n: int) -> str:
    return f"patient{n}@example.org"


def write_backlog(engine: Engine, zone: str, numbers: Iterable[int], *, emails: bool = True) -> int:
    """A laser session completed five minutes ago for each patient number, planned; returns
    how many aftercare messages are due (one SMS, and one email if `emails`, per patient)."""
    now = datetime.now(UTC)
    count = 0
    with session_scope(engine) as session:
        for n in numbers:
            patient = Patient(
                name=f"Patient {n}", phone=phone(n), email=email(n) if emails else None,
                timezone=zone,
            )  # fmt: skip
            session.add(patient)
            session.flush()
            session.add(
                TreatmentSession(
                    patient_id=patient.id or 0,
                    treatment="laser",
                    completed_at=now - timedelta(minutes=5),
                )
            )
            count += 2 if emails else 1
    while plan_pending(engine, load_care_plans(), ZoneInfo(zone), now, limit=500).sessions:
        pass
    return count


def worker_env(
    database_url: str, folder: Path, zone: str, twilio: FakeTwilio, smtp_port: int, **settings: str
) -> dict[str, str]:
    """The environment of a worker on Twilio and SMTP at loopback, in `zone`'s daytime."""
    values = dict(
        database_url=database_url,
        outbox_file=str(folder / "outbox.jsonl"),
        clinic_timezone=zone,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=CLINIC_NUMBER,
        twilio_api_base=twilio.base_url,
        smtp_host="127.0.0.1",
        smtp_port=str(smtp_port),
        smtp_security="none",
        email_from="care@finetouch.example",
        plan_interval_seconds="30",
        dispatch_interval_seconds="0.2",
        log_level="INFO",
    )
    return clean_env(**(values | settings))


@dataclass
class Worker:
    """One `aftercare run` process; its output goes to `log`."""

    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, env: dict[str, str], folder: Path, name: str) -> Worker:
        log = folder / f"{name}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "reminders", "run"],
                cwd=folder,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return cls(process, log)

    @property
    def worker_id(self) -> str:
        """As `reminders.runtime.worker_id` names it: the lease owner of its rows."""
        return f"{socket.gethostname()}:{self.process.pid}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM, as an operator stops it; returns its exit status."""
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode


def reader(database_url: str) -> Engine:
    return sa.create_engine(database_url)


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql), params).all()]


def statuses(engine: Engine) -> Counter[str]:
    found = rows(engine, f"SELECT status, count(*) FROM outbox_message WHERE {DUE} GROUP BY status")
    return Counter({status: count for status, count in found})


def drained(engine: Engine) -> bool:
    """Nothing of the backlog waits, is being sent, or has an outcome still to settle."""
    counts = statuses(engine)
    return not (counts["pending"] or counts["sending"] or counts["unknown"])


def wait_until(
    done: Callable[[], bool],
    *,
    timeout: float,
    workers: Iterable[Worker],
    what: str | Callable[[], str],
) -> None:
    """Poll `done`; fail if it takes longer than `timeout` or a worker exits meanwhile.
    `what` names the awaited state, or says how things stand when the wait fails."""
    deadline = time.monotonic() + timeout
    while not done():
        for worker in workers:
            assert worker.alive, f"worker exited ({worker.process.returncode}):\n{worker.output()}"
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what if isinstance(what, str) else what()} in {timeout}s")
        time.sleep(0.1)


def unsettled(engine: Engine) -> str:
    """The backlog's counts and a few of its messages not yet sent, for a failure message."""
    found = rows(
        engine,
        "SELECT id, channel, status, attempts, due_at, sent_at, lease_owner, error_reason"
        f" FROM outbox_message WHERE {DUE} AND status <> 'sent' ORDER BY id LIMIT 10",
    )
    return f"{dict(statuses(engine))}; not sent: {found}"


def texts_by_number(twilio: FakeTwilio) -> Counter[str]:
    """Messages Twilio created (accepted), per recipient number."""
    return Counter(str(message["to"]) for message in list(twilio.messages))


def mail_ids_by_recipient(smtp: RunningServer) -> dict[str, list[str]]:
    """The Message-ID of every email the server accepted, per recipient."""
    found: dict[str, list[str]] = {}
    for received in list(smtp.handler.received):
        for recipient in received.rcpt_tos:
            found.setdefault(recipient, []).append(str(received.message()["Message-ID"]))
    return found
