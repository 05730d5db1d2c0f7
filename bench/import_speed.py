"""How long `aftercare import` takes for a clinic's backlog: 2,000 rows in at most 2 s on SQLite.

Writes a CSV of N rows (patients with one or two sessions, both languages, every treatment,
some without email) to a temporary folder and imports it into a temporary SQLite database,
then imports the same file again (every row unchanged). The import itself is timed in this
process (the target's figure); then `aftercare import` runs as staff run it, in a fresh
process on a fresh database, which adds the start-up every command pays. With --postgres URL
(or AFTERCARE_TEST_POSTGRES_URL) it does the same in a scratch schema there.

CPU seconds are printed beside wall seconds: on a shared machine the wall time also counts
the waits for a core, and the CPU time is close to what the wall time is on an idle one.

    .venv/bin/python bench/import_speed.py [--rows 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from reminders.cli.import_csv import import_csv
from reminders.runtime import migrate, open_runtime
from reminders.settings import Settings

TARGET_SECONDS = 2.0  # for 2,000 rows on SQLite
TARGET_ROWS = 2000
AFTERCARE = [sys.executable, "-m", "reminders"]
TREATMENTS = ("asclera", "sts", "laser", "test-dose")
# Area codes whose 555-01xx numbers phonenumbers accepts; 100 fictional numbers each.
AREA_CODES = (201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218,
              219, 224, 225, 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254)  # fmt: skip


def write_csv(path: Path, rows: int, now: datetime) -> None:
    """Every fourth patient has a second session a week before their first one."""
    patients = -(-rows * 4 // 5)  # ceil(rows / 1.25)
    if patients > 100 * len(AREA_CODES):
        raise SystemExit(f"at most {125 * len(AREA_CODES)} rows")
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["name", "phone", "email", "treatment", "completed_at", "language"])
        written = 0
        for n in range(patients):
            sessions = 2 if n % 4 == 0 else 1
            for extra in range(sessions):
                if written == rows:
                    return
                out.writerow(_row(n, extra, now))
                written += 1


def _row(n: int, extra: int, now: datetime) -> list[str]:
    phone = f"({AREA_CODES[n // 100]}) 555-01{n % 100:02d}"
    email = "" if n % 7 == 0 else f"patient{n}@example.org"
    completed = now - timedelta(days=1 + n % 5 + 7 * extra, hours=n % 9)
    stamp = completed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M+00:00")
    language = "es" if n % 3 == 0 else "en"
    return [f"Patient {n}", phone, email, TREATMENTS[(n + extra) % 4], stamp, language]


def import_in_process(url: str, csv_path: Path) -> list[tuple[float, float, str]]:
    """(wall s, CPU s, summary line) of a first import and of the same file again."""
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    runtime = open_runtime(settings)
    migrate(runtime.engine)
    figures = []
    for _ in range(2):
        printed = io.StringIO()
        started, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(printed):
            errors = import_csv(runtime, csv_path, actor="bench", now=datetime.now(UTC))
        figures.append((time.perf_counter() - started, time.process_time() - cpu,
                        printed.getvalue().strip().splitlines()[-1]))  # fmt: skip
        if errors:
            raise SystemExit(f"the import failed: {errors[:3]}")
    runtime.engine.dispose()
    return figures


def aftercare(env: dict[str, str], *args: str) -> tuple[float, float]:
    """Wall and CPU seconds of one command in a fresh process."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run([*AFTERCARE, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"aftercare {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(url: str, command_url: str, folder: Path, rows: int) -> None:
    """The import in this process on `url`, then the whole command on `command_url`."""
    csv_path = folder / "sessions.csv"
    write_csv(csv_path, rows, datetime.now(UTC))
    kind = sa.engine.make_url(url).get_backend_name()
    target = TARGET_SECONDS * rows / TARGET_ROWS
    labels = ("first import", "same file again")
    figures = import_in_process(url, csv_path)
    for label, (seconds, cpu, summary) in zip(labels, figures, strict=True):
        verdict = "within" if cpu <= target else "OVER"
        print(
            f"{kind}: {label}: {rows} rows in {seconds:.2f} s wall, {cpu:.2f} s CPU"
            f" ({rows / seconds:,.0f} rows/s wall, {rows / cpu:,.0f} rows/s CPU;"
            f" target <= {target:.1f} s on SQLite: {verdict})\n    {summary}"
        )
    env = os.environ | {"DATABASE_URL": command_url, "OUTBOX_FILE": str(folder / "out.jsonl")}
    aftercare(env, "init")
    seconds, cpu = aftercare(env, "import", str(csv_path))
    start_seconds, start_cpu = aftercare(env, "messages", "--status", "sent")
    print(
        f"{kind}: `aftercare import` as a command: {seconds:.2f} s wall, {cpu:.2f} s CPU, of"
        f" which about {start_cpu:.2f} s CPU is start-up (a command that does next to"
        f" nothing takes {start_seconds:.2f} s wall)"
    )


SCHEMAS = ("bench_import", "bench_import_command")


def postgres_schemas(admin_url: str) -> tuple[sa.Engine, tuple[str, str]]:
    admin = sa.create_engine(admin_url, connect_args={"connect_timeout": 3})
    with admin.begin() as connection:
        for schema in SCHEMAS:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    base = sa.engine.make_url(admin_url)
    first, second = (
        base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
        for schema in SCHEMAS
    )
    return admin, (first, second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--postgres", default=os.environ.get("AFTERCARE_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        run(f"sqlite:///{folder}/bench.db", f"sqlite:///{folder}/command.db", folder, args.rows)
        if args.postgres:
            admin, urls = postgres_schemas(args.postgres)
            try:
                run(*urls, folder, args.rows)
            finally:
                with admin.begin() as connection:
                    for schema in SCHEMAS:
                        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                admin.dispose()


if __name__ == "__main__":
    main()
