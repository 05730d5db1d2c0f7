"""The real daemon (`python scheduler.py`) in a subprocess: it sends, and stops cleanly on a signal.

Its home (an initialised folder with one patient, tests/support/daemon_home.py) is the `home`
fixture of tests/conftest.py.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from reminders.logs import configure_logging
from reminders.planning.planner import plan_pending
from reminders.store.db import make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.models import Patient, TreatmentSession
from tests.support.daemon_home import (
    EMAIL,
    NAME,
    PHONE,
    REPO_ROOT,
    SEND_TIMEOUT,
    STOP_TIMEOUT,
    Home,
    clean_env,
    has_aftercare_sms_and_email,
    query,
    sent_lines,
    start_daemon,
    stop,
    wait_for_exit,
    wait_for_lines,
)
from tests.support.smtp_server import StallingSmtp


@pytest.fixture
def daemon(home: Home) -> Iterator[subprocess.Popen[str]]:
    process = start_daemon(home)
    yield process
    if process.poll() is None:  # a failed test must not leave the daemon running
        process.kill()
        process.communicate(timeout=STOP_TIMEOUT)


def pieces(text: str, size: int = 20) -> set[str]:
    """Overlapping slices of a message body: none of them may reach the daemon's output."""
    text = " ".join(text.split())
    if len(text) <= size:
        return {text} if text else set()
    return {text[i : i + size] for i in range(0, len(text) - size + 1, size // 2)}


def leased(database: Path) -> list[tuple[object, ...]]:
    return query(database, "SELECT id FROM outbox_message WHERE status = 'sending'")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_daemon_sends_then_stops_cleanly_on_signal_without_leaking_patient_data(
    home, daemon, signum
):
    lines = wait_for_lines(home, daemon, has_aftercare_sms_and_email)

    output = stop(daemon, signum)

    assert daemon.returncode == 0, output
    assert "stopped" in output
    assert signum.name in output
    assert "Adding job tentatively" not in output  # APScheduler's start-up chatter
    for secret in (PHONE, PHONE.removeprefix("+1"), EMAIL, NAME, NAME.split()[0]):
        assert secret not in output
    for line in lines:
        for piece in pieces(line["body"]) | pieces(line.get("subject") or ""):
            assert piece not in output
    assert leased(home.database) == []
    aftercare = query(
        home.database, "SELECT channel, status FROM outbox_message WHERE step = 'aftercare'"
    )
    assert sorted(aftercare) == [("email", "sent"), ("sms", "sent")]


def add_planned_sessions(home: Home, count: int) -> None:
    """Sessions a practice system wrote, already planned: one big batch due at once."""
    now = datetime.now(UTC)
    engine = make_engine(home.env["DATABASE_URL"])
    try:
        with session_scope(engine) as session:
            for n in range(count):
                patient = Patient(name=f"Patient {n}", phone=f"+1213555{n:04d}")
                session.add(patient)
                session.flush()
                session.add(
                    TreatmentSession(
                        patient_id=patient.id or 0,
                        treatment="laser",
                        completed_at=now - timedelta(minutes=5),
                    )
                )
        zone = ZoneInfo(home.env["CLINIC_TIMEZONE"])
        plan_pending(engine, load_care_plans(), zone, now)
    finally:
        engine.dispose()


def test_daemon_stopped_mid_batch_hands_back_the_rest_and_sends_nothing_twice(home):
    add_planned_sessions(home, 150)  # 300 aftercare messages due, one batch
    process = start_daemon(home, dispatch_batch_size="1000")
    try:
        wait_for_lines(home, process, lambda lines: len(lines) >= 3)
        output = stop(process, signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=STOP_TIMEOUT)

    assert process.returncode == 0, output
    assert "stopped" in output
    assert leased(home.database) == []
    sent = {
        row[0]
        for row in query(home.database, "SELECT id FROM outbox_message WHERE status = 'sent'")
    }
    lines = [int(line["message_id"]) for line in sent_lines(home.outbox)]
    assert len(lines) == len(set(lines)) and set(lines) == sent
    released = query(
        home.database,
        "SELECT m.status, m.attempts, m.lease_owner FROM outbox_message m JOIN message_event e"
        " ON e.message_id = m.id WHERE e.reason = 'released at shutdown'",
    )
    assert released, "the signal came after the whole batch: nothing was handed back"
    assert set(released) == {("pending", 0, None)}


def wait_for_rows(home: Home, process: subprocess.Popen[str], sql: str) -> list[tuple[object, ...]]:
    """Poll the database until `sql` returns rows; bounded by SEND_TIMEOUT."""
    deadline = time.monotonic() + SEND_TIMEOUT
    while not (rows := query(home.database, sql)):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"never true: {sql} (daemon exit {process.returncode})")
        time.sleep(0.05)
    return rows


def wait_for_text(log: Path, text: str) -> None:
    deadline = time.monotonic() + STOP_TIMEOUT
    while text not in log.read_text(encoding="utf-8"):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never logged:\n{log.read_text(encoding='utf-8')}")
        time.sleep(0.05)


def email_stuck_in(stage: str) -> str:
    """The query that is true once the email is stuck at `stage` and the rest still leased."""
    reserved = "IS NOT NULL" if stage == "data" else "IS NULL"
    return (
        "SELECT id FROM outbox_message WHERE channel = 'email' AND status = 'sending'"
        " AND patient_id IN (SELECT id FROM patient WHERE email IS NOT NULL)"
        f" AND sent_at {reserved} AND EXISTS (SELECT 1 FROM outbox_message"
        " WHERE status = 'sending' AND sent_at IS NULL AND channel = 'sms')"
    )


@pytest.mark.parametrize(
    ("signum", "stage"),
    [(signal.SIGTERM, "data"), (signal.SIGINT, "greeting")],
    ids=["SIGTERM-in-DATA", "SIGINT-waiting-for-the-connection"],
)
def test_second_signal_stops_a_stuck_daemon_at_once_and_hands_back_its_leases(home, signum, stage):
    """Stuck in DATA, the email may have reached the server: it is left `unknown`. Stuck
    waiting for the connection, it was never under way: it is handed back with the rest."""
    add_planned_sessions(home, 5)  # SMS due behind the patient's email, in the same batch
    log = home.folder / "daemon.log"
    with StallingSmtp(stage) as smtp:
        process = start_daemon(
            home,
            log,
            smtp_host="127.0.0.1",
            smtp_port=str(smtp.port),
            smtp_security="none",
            smtp_timeout_seconds="300",  # far past STOP_TIMEOUT: only a stop at once ends in time
            email_from="clinic@example.com",
            send_concurrency="1",
        )
        try:
            [(stuck,)] = wait_for_rows(home, process, email_stuck_in(stage))
            deadline = time.monotonic() + SEND_TIMEOUT
            while smtp.accepted < 1 or (stage == "data" and smtp.messages < 1):
                assert time.monotonic() < deadline, "the email never reached the stuck server"
                time.sleep(0.05)
            time.sleep(1.5)  # the dispatch job comes due a few times while its last run is stuck
            process.send_signal(signum)
            wait_for_text(log, f"received {signum.name}, stopping")
            process.send_signal(signum)
            wait_for_exit(process, f"two {signum.name}")
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=STOP_TIMEOUT)
    output = log.read_text(encoding="utf-8")

    assert process.returncode == 0, output
    assert "Traceback" not in output
    assert "stopped at once" in output
    assert "maximum number of running instances" not in output
    for secret in (PHONE, EMAIL, NAME):
        assert secret not in output
    assert leased(home.database) == []
    assert query(home.database, "SELECT id FROM outbox_message WHERE lease_owner IS NOT NULL") == []
    released = query(
        home.database,
        "SELECT m.id, m.status, m.attempts, m.lease_expires_at FROM outbox_message m JOIN"
        " message_event e ON e.message_id = m.id WHERE e.reason = 'released at shutdown'",
    )
    assert released, "nothing was handed back"
    assert {row[1:] for row in released} == {("pending", 0, None)}
    [(status, sent_at)] = query(
        home.database, f"SELECT status, sent_at FROM outbox_message WHERE id = {stuck}"
    )
    if stage == "data":  # maybe delivered: to be sent again under its Message-ID, not blindly
        assert status == "unknown" and stuck not in {row[0] for row in released}
    else:  # nothing reached the server: sent later like the rest, nothing recorded as sent
        assert (status, sent_at) == ("pending", None) and stuck in {row[0] for row in released}


def test_scheduler_help_prints_usage_and_starts_nothing(tmp_path):
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'a.db'}")

    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scheduler.py"), "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: scheduler.py")
    assert "second one stops at once" in done.stdout
    assert list(tmp_path.iterdir()) == []  # no database, no var/ folder, no outbox


def test_scheduler_refuses_an_unknown_argument(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scheduler.py"), "--once"],
        cwd=tmp_path,
        env=clean_env(database_url=f"sqlite:///{tmp_path / 'a.db'}"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert "unrecognized arguments: --once" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def logging_restored() -> Iterator[None]:
    loggers = [logging.getLogger(), logging.getLogger("apscheduler")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.mark.parametrize(("level", "chatter"), [("INFO", False), ("DEBUG", True)])
def test_scheduler_start_logs_no_apscheduler_chatter_unless_debugging(
    caplog, logging_restored, level, chatter
):
    configure_logging(level)
    logging.getLogger("aftercare.daemon").info("worker started")
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(print, "interval", seconds=3600)
    scheduler.start()
    scheduler.shutdown()

    assert ("Adding job tentatively" in caplog.text) is chatter
    assert ("Scheduler started" in caplog.text) is chatter
    assert "worker started" in caplog.text


SIGTERM_TO_ANOTHER_THREAD = """
import signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
import scheduler

def signal_a_thread_other_than_main():
    while signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # until the daemon listens
        time.sleep(0.05)
    time.sleep(1.0)  # the main thread is waiting for the stop by now
    signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

threading.Thread(target=signal_a_thread_other_than_main, daemon=True).start()
sys.exit(scheduler.main([]))
"""


def test_a_sigterm_the_kernel_hands_to_another_thread_still_stops_the_daemon(home):
    """A process-wide signal may land on any of the daemon's threads (the send pool's,
    APScheduler's); Python runs its handler in the main thread, which must not sleep through
    it in an untimed wait (seen in CI as a daemon still running 10 s after SIGTERM)."""
    process = subprocess.Popen(
        [sys.executable, "-c", SIGTERM_TO_ANOTHER_THREAD, str(REPO_ROOT)],
        cwd=home.folder,
        env=home.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    output = wait_for_exit(process, "SIGTERM to a thread other than the main one")
    assert process.returncode == 0, output
    assert "received SIGTERM, stopping" in output
    assert "stopped" in output
