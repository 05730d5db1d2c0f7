"""How long the `aftercare` command takes before it does anything, as a whole process.

Each command imports what it needs when it runs, so help and a mistyped option answer at
once, and a command that reads the database loads the store but not the planner, the
dispatcher, Alembic or Jinja2. Targets (medians): `aftercare --help` in at most 0.3 s, and
`aftercare messages` and `aftercare status` on an empty (initialized, SQLite) database in at
most 2 x `aftercare --help`, measured side by side in one run. A bare interpreter start is
printed beside them for scale, and each command's CPU time (user + system) beside its wall
time: on a machine shared with other work, the CPU time is the steadier figure.

    .venv/bin/python bench/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP_TARGET_SECONDS = 0.3
RATIO_TARGET = 2.0
AFTERCARE = [sys.executable, "-m", "reminders"]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "aftercare --help": [*AFTERCARE, "--help"],
    "aftercare enroll --help": [*AFTERCARE, "enroll", "--help"],
    "aftercare messages --help": [*AFTERCARE, "messages", "--help"],
    "aftercare messages": [*AFTERCARE, "messages"],
    "aftercare status": [*AFTERCARE, "status"],
}
ON_THE_DATABASE = ("aftercare messages", "aftercare status")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of the whole process; `status` exits 1 here (no worker alive)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, env=env, check=False)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command[2:])} failed with exit code {done.returncode}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return elapsed, cpu


def empty_database(folder: Path) -> dict[str, str]:
    """The environment of a clinic with an initialized, empty SQLite database."""
    env = os.environ | {"DATABASE_URL": f"sqlite:///{folder / 'aftercare.db'}"}
    subprocess.run([*AFTERCARE, "init"], env=env, check=True, stdout=subprocess.DEVNULL)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    print(f"{os.cpu_count()} cores, {runs} runs each, interleaved")
    print(f"  {'':28} {'wall: min / median / max s':>28}   CPU median s")
    with tempfile.TemporaryDirectory() as folder:
        env = empty_database(Path(folder))
        for command in COMMANDS.values():
            timed(command, env)  # warm the file cache and .pyc files
        # Interleaved, so a burst of other work on the machine weighs on every command alike.
        times: dict[str, list[float]] = {label: [] for label in COMMANDS}
        cpus: dict[str, list[float]] = {label: [] for label in COMMANDS}
        for _ in range(runs):
            for label, command in COMMANDS.items():
                wall, cpu = timed(command, env)
                times[label].append(wall)
                cpus[label].append(cpu)
    medians = {label: statistics.median(each) for label, each in times.items()}
    cpu = {label: statistics.median(each) for label, each in cpus.items()}
    for label, each in times.items():
        wall = f"{min(each):.3f} / {medians[label]:.3f} / {max(each):.3f}"
        print(f"  {label:28} {wall:>28}   {cpu[label]:.3f}")
    help_median = medians["aftercare --help"]
    verdict = "met" if help_median <= HELP_TARGET_SECONDS else "MISSED"
    print(
        f"aftercare --help: median {help_median:.3f} s;"
        f" target <= {HELP_TARGET_SECONDS} s: {verdict}"
    )
    for label in ON_THE_DATABASE:
        ratio = medians[label] / help_median
        verdict = "met" if ratio <= RATIO_TARGET else "MISSED"
        print(
            f"{label} on an empty database: median {medians[label]:.3f} s, {ratio:.1f} x"
            f" aftercare --help (CPU {cpu[label] / cpu['aftercare --help']:.1f} x);"
            f" target <= {RATIO_TARGET:.0f} x: {verdict}"
        )


if __name__ == "__main__":
    main()
