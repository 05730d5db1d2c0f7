"""`aftercare serve` and `make run`: the daemon and the web app in one process, in a subprocess.

They start, answer /healthz with the daemon's heartbeat, send, serve the first-admin link,
and stop on one Ctrl-C (SIGINT to the whole process group, as a terminal sends it) with exit
status 0, no traceback and no `make: ***` line. Both write one SQLite file at once without
"database is locked": the daemon sends hundreds of messages in small batches while signed
Twilio webhooks (STOPs and replies) are posted from several threads.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from twilio.request_validator import RequestValidator

from reminders.runtime import initialize, open_runtime
from reminders.settings import Settings
from tests.support.daemon_home import (
    STOP_TIMEOUT,
    Home,
    clean_env,
    daytime_zone,
    has_aftercare_sms_and_email,
    prepare_home,
    query,
    sent_lines,
)
from tests.support.factories import enroll_patient

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30  # seconds to answer /healthz with a heartbeat (the machine may be busy)
TOKEN = "serve-test-twilio-token"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """An initialised database with Maria's session of five minutes ago enrolled."""
    return prepare_home(tmp_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """In a session of its own, so a Ctrl-C can go to its whole process group."""
    with log.open("w", encoding="utf-8") as file:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            text=True,
            stdout=file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """What a test started; killed (with its group) if the test left it running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


def wait_for_health(process: subprocess.Popen[str], port: int, log: Path) -> dict[str, object]:
    """/healthz once the daemon has beaten; fails with the output if the process exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            body = answer.json()
            if answer.status_code == 200 and body["heartbeat_age_seconds"] is not None:
                return dict(body)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no healthy answer within {START_TIMEOUT}s:\n{log.read_text()}")
        time.sleep(0.1)


def ctrl_c(process: subprocess.Popen[str], log: Path) -> str:
    """SIGINT to the process group, as a terminal's Ctrl-C; all it printed, once it exited."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT + 10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)
        raise AssertionError(f"still running after Ctrl-C:\n{log.read_text()}") from None
    return log.read_text()


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def serve_command(*args: str, command: str = "serve") -> list[str]:
    return [sys.executable, "-m", "reminders", command, *args]


# -- aftercare serve ----------------------------------------------------------------------------


def test_serve_runs_the_daemon_and_the_web_app_until_one_ctrl_c(home: Home, processes, tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    processes.append(start(serve_command(f"--port={port}"), home.folder, home.env, log))
    health = wait_for_health(processes[0], port, log)
    assert health["warnings"] == []
    deadline = time.monotonic() + START_TIMEOUT
    while not has_aftercare_sms_and_email(sent_lines(home.outbox)):
        assert time.monotonic() < deadline, f"nothing sent:\n{log.read_text()}"
        time.sleep(0.1)
    printed = log.read_text()
    assert f"Aftercare is running: open http://127.0.0.1:{port}/" in printed
    # No terminal here (a service's log): no link, the command to use instead
    # (tests/cli/test_users_cli.py shows the link on a terminal).
    assert "/setup/" not in printed
    assert "add the first admin with `aftercare users add EMAIL --role admin`" in printed

    printed = ctrl_c(processes[0], log)
    assert processes[0].returncode == 0, printed
    assert "Traceback" not in printed
    assert re.search(r"worker \S+ stopped", printed) and "web app stopped" in printed
    assert port_is_free(port)


def test_serve_refuses_a_port_in_use_and_starts_nothing(home: Home, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            serve_command(f"--port={port}"),
            cwd=home.folder,
            env=home.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Choose another port with --port or WEB_PORT" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert sent_lines(home.outbox) == []  # the daemon never started


def test_a_ctrl_c_while_serve_loads_starts_nothing_and_exits_quietly(home: Home):
    """As when the signal came before the daemon took SIGINT over (the command keeps it)."""
    port = free_port()
    probe = (
        "import threading\n"
        "from reminders.cli.serve import serve\n"
        "asked = threading.Event()\n"
        "asked.set()\n"
        f"serve(port={port}, stop_asked=asked)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=home.folder,
        env=home.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "stopped before starting" in done.stderr
    assert "Aftercare is running" not in done.stdout
    assert "Traceback" not in done.stderr
    assert sent_lines(home.outbox) == []
    assert port_is_free(port)


@pytest.mark.parametrize("command", ["serve", "web"])
def test_serve_refuses_a_database_init_has_not_made(tmp_path, command):
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'none.db'}", web_port=str(free_port()))
    done = subprocess.run(
        serve_command(command=command),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "run `aftercare init` first" in done.stderr
    assert not (tmp_path / "none.db").exists()


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Files no process may write, root included (`chattr +i`): a database that answers reads
    but refuses every write, as on a full disk. Skips where the file system cannot."""
    for path in paths:
        path.touch()
    made = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


@pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")
@pytest.mark.parametrize("command", ["serve", "web"])
def test_serve_on_a_database_that_takes_no_writes_says_why_in_one_line(
    home: Home, tmp_path, command
):
    database = Path(str(home.env["DATABASE_URL"]).removeprefix("sqlite:///"))
    with immutable(database, Path(f"{database}-wal")):
        done = subprocess.run(
            serve_command(f"--port={free_port()}", command=command),
            cwd=home.folder,
            env=home.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "the database takes no writes (attempt to write a readonly database)" in line
    assert "is the disk full" in line


# -- make run -----------------------------------------------------------------------------------


def test_make_run_initialises_starts_both_and_stops_quietly_on_ctrl_c(processes, tmp_path):
    """The README's `make run` on a fresh folder: its own database, the first-admin link."""
    venv = Path(sys.executable).parent.parent
    if shutil.which("make") is None or not (venv / "bin" / "aftercare").exists():
        pytest.skip("needs make and the aftercare command in this virtualenv")
    port, log = free_port(), tmp_path / "make.log"
    env = clean_env(
        database_url=f"sqlite:///{tmp_path / 'var' / 'aftercare.db'}",
        outbox_file=str(tmp_path / "var" / "outbox.jsonl"),
        web_port=str(port),
    )
    # Run from a clean folder (no .env of the checkout), with this virtualenv taken as
    # installed: `install` would pip-install into it.
    command = ["make", "-f", str(REPO_ROOT / "Makefile"), f"VENV={venv}"]
    processes.append(start([*command, "-o", f"{venv}/.installed", "run"], tmp_path, env, log))
    wait_for_health(processes[0], port, log)
    printed = log.read_text()
    assert "Database ready at sqlite:///" in printed
    assert f"Aftercare is running: open http://127.0.0.1:{port}/" in printed
    assert "add the first admin with `aftercare users add EMAIL --role admin`" in printed

    printed = ctrl_c(processes[0], log)
    assert "Traceback" not in printed
    assert "make: ***" not in printed
    assert processes[0].returncode in (0, -signal.SIGINT)  # make passes the Ctrl-C on to itself
    assert port_is_free(port)


# -- one SQLite file, two writers ---------------------------------------------------------------


PATIENTS = 80


def test_daemon_and_web_write_one_sqlite_file_at_once_without_locking_errors(processes, tmp_path):
    zone = daytime_zone(datetime.now(UTC))
    database, port = tmp_path / "shared.db", free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=f"sqlite:///{database}", clinic_timezone=zone
    )
    phones = enroll_many(settings, PATIENTS, zone)
    env = clean_env(
        database_url=settings.database_url,
        outbox_file=str(tmp_path / "outbox.jsonl"),
        clinic_timezone=zone,
        web_port=str(port),
        public_base_url=base,
        twilio_auth_token=TOKEN,
        plan_interval_seconds="0.2",
        dispatch_interval_seconds="0.2",
        dispatch_batch_size="2",  # many small transactions
        sms_max_per_second="1000",
    )
    log = tmp_path / "serve.log"
    processes.append(start(serve_command(), tmp_path, env, log))
    wait_for_health(processes[0], port, log)

    first_post = datetime.now(UTC)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: inbound(base, n, phones[n]), range(PATIENTS)))
    assert [code for code in answers if code != 200] == []

    wait_until_settled(database, processes[0], log)
    printed = ctrl_c(processes[0], log)
    assert processes[0].returncode == 0
    for trouble in ("locked", "Traceback", "database unavailable", "ERROR"):
        assert trouble not in printed, printed
    stops = PATIENTS // 2 + PATIENTS % 2
    assert query(database, "SELECT count(*) FROM opt_out")[0][0] == stops
    assert query(database, "SELECT count(*) FROM reply")[0][0] == PATIENTS - stops
    started = first_post.strftime("%Y-%m-%d %H:%M:%S.%f")
    during = query(database, f"SELECT count(*) FROM outbox_message WHERE sent_at > '{started}'")
    assert during[0][0] > 0, "the daemon had sent everything before the first webhook"


def enroll_many(settings: Settings, count: int, zone: str) -> list[str]:
    """`count` patients whose aftercare SMS and email are due now; their phone numbers."""
    runtime = open_runtime(settings)
    now = datetime.now(UTC)
    completed = now.astimezone(ZoneInfo(zone)) - timedelta(minutes=5)
    phones = [f"+1310555{n:04d}" for n in range(count)]
    try:
        initialize(runtime, actor="defaults", now=now)
        for n, phone in enumerate(phones):
            enroll_patient(
                runtime,
                completed_at=completed,
                now=now,
                name=f"Patient {n}",
                phone=phone,
                email=f"patient{n}@example.com",
                timezone=zone,
            )
    finally:
        runtime.engine.dispose()
    return phones


def inbound(base: str, n: int, phone: str) -> int:
    """Patient n texts back: STOP for the even ones (which skips their pending SMS, rows the
    daemon is working through), a question for the odd ones."""
    params = {
        "MessageSid": f"SM{n:032d}",
        "From": phone,
        "To": "+18773376424",
        "Body": "STOP" if n % 2 == 0 else f"Is some bruising normal? ({n})",
    }
    url = f"{base}/webhooks/twilio/inbound"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    answer = httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=60)
    return answer.status_code


def wait_until_settled(database: Path, process: subprocess.Popen[str], log: Path) -> None:
    """Until no message due by now is waiting or in hand: each sent, or skipped by a STOP."""
    deadline = time.monotonic() + 120
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    sql = (
        "SELECT count(*) FROM outbox_message"
        f" WHERE status = 'sending' OR (status = 'pending' AND due_at <= '{now}')"
    )
    while query(database, sql)[0][0]:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"not settled in 120 s:\n{log.read_text()}"
        time.sleep(0.2)
