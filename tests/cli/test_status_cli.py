"""`aftercare status`: workers alive, the backlog, what is stuck; exit 0 / 1 / 2 for monitors."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from reminders.cli.status import ago
from reminders.receiving.escalation import page_overdue
from reminders.rules.rendering import TemplateKey
from reminders.store.db import session_scope
from reminders.store.health import mark_stopped
from reminders.store.holds import hold_for_template
from reminders.store.models import OutboxMessage
from reminders.store.replies import store_reply
from tests.support.daemon_home import Home, start_daemon, stop
from tests.support.factories import MARIA_PHONE, enroll_patient
from tests.support.health import troubled, worker_seen


def status(aftercare, *args: str):
    return aftercare.result("status", *args)


def test_no_worker_alive_is_a_problem(aftercare):
    result = status(aftercare)
    assert result.exit_code == 1
    assert "Workers: 0 alive" in result.output
    assert "no worker is alive: is `aftercare run` running?" in result.output


def test_a_live_worker_and_nothing_stuck_is_all_well(aftercare, runtime):
    started = aftercare.now - timedelta(hours=2, minutes=5)
    worker_seen(
        runtime.engine, "clinic-1:4242", aftercare.now - timedelta(seconds=4), started=started
    )
    worker_seen(runtime.engine, "clinic-1:17", aftercare.now - timedelta(hours=3))
    result = status(aftercare)
    assert result.exit_code == 0, result.output
    assert "Workers: 1 alive" in result.output
    assert "clinic-1:4242  alive, seen 4s ago, up 2 h 4 min" in result.output
    assert "clinic-1:17  gone: seen 3 h ago" in result.output
    assert "Backlog: nothing due" in result.output
    assert result.output.rstrip().endswith("All well.")


def test_stuck_sends_receipts_and_leases_are_problems(aftercare, runtime):
    expected = troubled(runtime, aftercare.now)
    worker_seen(runtime.engine, "clinic-1:4242", aftercare.now)
    result = status(aftercare)
    assert result.exit_code == 1
    assert "Backlog: 2 due now; the oldest was due 2 h ago" in result.output
    assert "Unknown outcomes: 2 (1 for over 15 min)" in result.output
    assert "Held receipts: 1 (1 for over 15 min)" in result.output
    assert "Expired leases: 2 (1 for over 15 min)" in result.output
    assert "  - 1 send(s) of unknown outcome for over 900s" in result.output

    report = json.loads(status(aftercare, "--json").stdout)
    assert {key: report[key] for key in ("workers_alive", "backlog", "oldest_due_age_seconds")} == {
        "workers_alive": 1,
        "backlog": expected.backlog,
        "oldest_due_age_seconds": expected.oldest_due_age,
    }
    assert (report["unknown"], report["stuck_unknown"]) == (2, 1)
    assert (report["held_receipts"], report["stuck_held_receipts"]) == (1, 1)
    assert (report["expired_leases"], report["stuck_expired_leases"]) == (2, 1)
    assert len(report["problems"]) == 3
    assert report["oldest_due_at"] == "2026-06-16T10:00:00Z"


def test_json_names_each_worker_with_its_times(aftercare, runtime):
    worker_seen(runtime.engine, "w1", aftercare.now - timedelta(seconds=40))
    with runtime.engine.begin() as connection:
        mark_stopped(connection, "w1", aftercare.now - timedelta(seconds=10))
    result = status(aftercare, "--json")
    assert result.exit_code == 1  # stopped cleanly, but nothing is sending
    [worker] = json.loads(result.stdout)["workers"]
    assert worker == {
        "id": "w1",
        "alive": False,
        "seen_at": "2026-06-16T11:59:50Z",
        "age_seconds": 10.0,
        "started_at": "2026-06-16T11:59:20Z",
        "stopped_at": "2026-06-16T11:59:50Z",
    }


def test_stuck_threshold_is_a_setting(aftercare, runtime):
    troubled(runtime, aftercare.now)
    worker_seen(runtime.engine, "w1", aftercare.now)
    aftercare.env["STUCK_AFTER_SECONDS"] = str(3 * 3600)
    result = status(aftercare)
    assert result.exit_code == 0, result.output
    assert "Unknown outcomes: 2 (0 for over 3 h)" in result.output


def test_a_database_not_initialised_exits_2(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from reminders.cli.app import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["status"], env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.exit_code == 2
    assert "aftercare init" in result.output


def test_an_unreachable_database_exits_2_without_its_password(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from reminders.cli.app import app

    monkeypatch.chdir(tmp_path)
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    result = CliRunner().invoke(app, ["status"], env={"DATABASE_URL": url})
    assert result.exit_code == 2
    assert "secret" not in result.output


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "0s"), (59, "59s"), (60, "1 min"), (3_600, "1 h"), (3_660, "1 h 1 min"),
     (86_400, "1 d"), (90_000, "1 d 1 h")],
)  # fmt: skip
def test_durations_read_as_people_say_them(seconds, said):
    assert ago(seconds) == said


# -- the real daemon: its heartbeat, its clean stop ---------------------------------------------


def run_status(where: Home) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "reminders", "status", "--json"],
        cwd=where.folder,
        env=where.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


def wait_for_worker(where: Home, process: subprocess.Popen[str]) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        code, report = run_status(where)
        if report.get("workers_alive") == 1:
            return report | {"exit": code}
        assert process.poll() is None, process.communicate()
        time.sleep(0.2)
    raise AssertionError("the daemon wrote no heartbeat within 20 s")


def test_the_daemon_beats_as_itself_and_a_clean_stop_ends_it_at_once(home):
    daemon = start_daemon(home)
    try:
        report = wait_for_worker(home, daemon)
        [worker] = report["workers"]
        assert worker["id"].endswith(f":{daemon.pid}")
        assert worker["started_at"] is not None and worker["stopped_at"] is None
        assert report["exit"] == 0, report
    finally:
        output = stop(daemon, signal.SIGTERM)
    assert daemon.returncode == 0, output
    code, after = run_status(home)
    assert (code, after["workers_alive"]) == (1, 0)
    assert after["workers"][0]["stopped_at"] is not None


def test_an_urgent_reply_due_a_page_with_nobody_on_call_is_a_problem(aftercare, runtime):
    worker_seen(runtime.engine, "clinic-1:4242", aftercare.now)
    now = aftercare.now
    patient = enroll_patient(runtime, completed_at=now - timedelta(days=1), now=now).patient_id
    with session_scope(runtime.engine) as session:
        store_reply(session, sid="SM1", sender=MARIA_PHONE, body="My face is swelling",
                    patient_id=patient, urgent=True, stop_wish=False,
                    now=now - timedelta(minutes=20))  # fmt: skip
        page_overdue(session, now, zone=runtime.settings.timezone, minutes=15, base_url=None)
    result = status(aftercare)
    assert result.exit_code == 1, result.output
    assert "Urgent replies unpaged, nobody on call: 1" in result.output
    assert "urgent reply(ies) due a page, and nobody is on call" in result.output
    assert json.loads(status(aftercare, "--json").stdout)["urgent_unpaged_nobody_on_call"] == 1


def test_a_production_setup_without_a_public_address_says_so_on_stderr(aftercare):
    """A page's link would be relative: said in one line at start, and the JSON stays JSON."""
    aftercare.env |= {"AFTERCARE_ENV": "production", "CLINIC_NAME": "Sunset Veins",
                      "CLINIC_PHONE": "+1 310 555 0100"}  # fmt: skip
    result = status(aftercare, "--json")
    [line] = [x for x in result.stderr.splitlines() if "PUBLIC_BASE_URL" in x]
    assert line.startswith("warning: PUBLIC_BASE_URL is not set: pages to the contact on call")
    assert "open Aftercare's inbox" in line
    assert json.loads(result.stdout)["workers_alive"] == 0
    aftercare.env["PUBLIC_BASE_URL"] = "https://aftercare.example"
    assert "PUBLIC_BASE_URL" not in status(aftercare).stderr


def test_a_message_held_for_its_template_is_a_problem(aftercare, runtime):
    worker_seen(runtime.engine, "clinic-1:4242", aftercare.now)
    now = aftercare.now
    enroll_patient(runtime, completed_at=now - timedelta(hours=1), now=now)
    key = TemplateKey("sclerotherapy", "aftercare", "sms", "en")
    with session_scope(runtime.engine) as session:
        message = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "sms")).first()
        assert message is not None
        hold_for_template(session, message, key, "ZeroDivisionError", now, actor="w1")
    result = status(aftercare)
    assert result.exit_code == 1, result.output
    assert "Held messages: 1" in result.output
    assert (
        "1 message(s) held: template sclerotherapy/aftercare sms en fails for some patients;"
        " fix it at /admin/templates and they go"
    ) in result.output
    report = json.loads(status(aftercare, "--json").stdout)
    assert report["held"] == [
        {"cause": "template", "template": "sclerotherapy/aftercare sms en", "count": 1}
    ]
