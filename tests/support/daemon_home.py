"""A daemon's home for process tests: an initialised folder with one patient, and the daemon.

The database is prepared the way an operator would: `python -m reminders init`, then
`python -m reminders enroll` for a session that ended five minutes ago. The clinic's zone is
picked at test time so that "now" is daytime there, inside the 09:00–20:00 send window. The
`home` fixture (tests/conftest.py) is `prepare_home` in the test's tmp_path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from reminders.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]  # tests/support/ is two below the root
ZONES = (
    "Pacific/Kiritimati",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
)
NAME, PHONE, EMAIL = "Maria Lopez", "+13105550142", "maria.lopez@example.com"
SEND_TIMEOUT = 20  # seconds for the daemon to send the aftercare SMS and email
STOP_TIMEOUT = 10  # seconds for it to exit once signalled


@dataclass(frozen=True)
class Home:
    """A working folder with an initialised database and one enrolled patient."""

    folder: Path
    env: dict[str, str]
    database: Path
    outbox: Path


def daytime_zone(now: datetime) -> str:
    """A zone whose local hour is 10–18 now: well inside the send window for the whole test."""
    for name in ZONES:
        if 10 <= now.astimezone(ZoneInfo(name)).hour <= 18:
            return name
    raise AssertionError(f"none of {ZONES} is in daytime at {now:%H:%M} UTC")


def clean_env(**values: str) -> dict[str, str]:
    """The parent's environment without any Aftercare setting, plus the given ones."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names}
    env.update({k.upper(): v for k, v in values.items()})
    return env


def run_aftercare(home: Home, *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reminders", *args],
        cwd=home.folder,
        env=home.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def prepare_home(tmp_path: Path) -> Home:
    """`init`, then `enroll` of Maria's session of five minutes ago, in the folder."""
    zone = daytime_zone(datetime.now(UTC))
    home = Home(
        folder=tmp_path,
        env=clean_env(
            database_url=f"sqlite:///{tmp_path / 'a.db'}",
            outbox_file=str(tmp_path / "outbox.jsonl"),
            plan_interval_seconds="0.5",
            dispatch_interval_seconds="0.5",
            clinic_timezone=zone,
            log_level="INFO",
        ),
        database=tmp_path / "a.db",
        outbox=tmp_path / "outbox.jsonl",
    )
    run_aftercare(home, "init")
    completed = datetime.now(ZoneInfo(zone)) - timedelta(minutes=5)
    run_aftercare(
        home,
        "enroll",
        f"--name={NAME}",
        f"--phone={PHONE}",
        f"--email={EMAIL}",
        "--treatment=asclera",
        f"--completed-at={completed:%Y-%m-%d %H:%M}",
        f"--timezone={zone}",
    )
    return home


def start_daemon(home: Home, log: Path | None = None, **settings: str) -> subprocess.Popen[str]:
    """The daemon, its output piped, or written to `log` for a test that reads it while it runs."""

    def popen(**output: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "scheduler.py")],
            cwd=home.folder,
            env={**home.env, **{name.upper(): value for name, value in settings.items()}},
            text=True,
            **output,  # type: ignore[call-overload]
        )

    if log is None:
        return popen(stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with log.open("w", encoding="utf-8") as file:
        return popen(stdout=file, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[str], signum: signal.Signals) -> str:
    """Signal the daemon and return all it printed; a daemon that does not exit is killed."""
    process.send_signal(signum)
    return wait_for_exit(process, signum.name)


def wait_for_exit(process: subprocess.Popen[str], after: str) -> str:
    try:
        out, err = process.communicate(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=STOP_TIMEOUT)
        raise AssertionError(f"running {STOP_TIMEOUT}s after {after}:\n{out}{err}") from None
    return (out or "") + (err or "")


def sent_lines(outbox: Path) -> list[dict[str, str]]:
    if not outbox.exists():
        return []
    return [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]


def wait_for_lines(
    home: Home, process: subprocess.Popen[str], done: Callable[[list[dict[str, str]]], bool]
) -> list[dict[str, str]]:
    """Poll the outbox file until `done` says so; bounded by SEND_TIMEOUT."""
    deadline = time.monotonic() + SEND_TIMEOUT
    while True:
        lines = sent_lines(home.outbox)
        if done(lines):
            return lines
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"daemon exited with {process.returncode}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"outbox not as expected within {SEND_TIMEOUT}s: {lines}")
        time.sleep(0.05)


def has_aftercare_sms_and_email(lines: list[dict[str, str]]) -> bool:
    return {(x["step"], x["channel"]) for x in lines} >= {
        ("aftercare", "sms"),
        ("aftercare", "email"),
    }


def query(database: Path, sql: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(sql)).all()]
    finally:
        engine.dispose()
