"""How long the `aftercare` command takes before it does anything: `--help`, as a whole process.

Each command imports what it needs when it runs, so help and a mistyped option answer at once.
Target: `aftercare --help` in at most 0.3 s (median); a bare interpreter start is printed beside
it for scale.

    .venv/bin/python bench/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 0.3
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "aftercare --help": [sys.executable, "-m", "reminders", "--help"],
    "aftercare enroll --help": [sys.executable, "-m", "reminders", "enroll", "--help"],
    "aftercare messages --help": [sys.executable, "-m", "reminders", "messages", "--help"],
}


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    print(f"{os.cpu_count()} cores, {runs} runs each (min / median / max seconds)")
    medians = {}
    for label, command in COMMANDS.items():
        timed(command)  # warm the file cache and .pyc files
        times = sorted(timed(command) for _ in range(runs))
        medians[label] = statistics.median(times)
        print(f"  {label:28} {times[0]:.3f} / {medians[label]:.3f} / {times[-1]:.3f}")
    median = medians["aftercare --help"]
    verdict = "met" if median <= TARGET_SECONDS else "MISSED"
    print(f"aftercare --help: median {median:.3f} s; target <= {TARGET_SECONDS} s: {verdict}")


if __name__ == "__main__":
    main()
