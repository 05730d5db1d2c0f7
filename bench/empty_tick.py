"""A `tick` with nothing due while many sessions are on file: where its time goes.

Issue #8 measured 2.5 s for such a tick with 1,500 sessions and suspected a scan. This plans N
sessions (all their messages pending in the future), then times, as of a moment before any is
due: the planning pass and the dispatch pass in-process (the database work a tick does), the
whole `aftercare tick` process, and `aftercare --help` (start-up alone) for scale.
Target: the planning and dispatch passes together ≤ 0.1 s at 1,500 sessions, so a tick's
wall time is start-up, not a scan that grows with what is on file.

    .venv/bin/python bench/empty_tick.py [--sessions 1500] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

from dispatch_throughput import COMPLETED, NOW, bench_dispatcher, seeded_runtime

from reminders.runtime import Runtime

TARGET_SECONDS = 0.1
BEFORE_ANY_DUE = COMPLETED - timedelta(hours=1)


def prepared(url: str, sessions: int) -> Runtime:
    runtime = seeded_runtime(url, sessions)
    runtime.plan(NOW)
    return runtime


def passes(runtime: Runtime) -> tuple[float, float]:
    """Seconds for one planning pass and one dispatch pass with nothing to do."""
    started = time.perf_counter()
    report = runtime.plan(BEFORE_ANY_DUE)
    planned = time.perf_counter()
    dispatcher = bench_dispatcher(runtime, at=BEFORE_ANY_DUE)
    outcomes = dispatcher.run_once().outcomes
    finished = time.perf_counter()
    assert report.sessions == 0 and not outcomes, "something was due: the bench is wrong"
    return planned - started, finished - planned


def process_seconds(arguments: list[str], url: str) -> float:
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "reminders", *arguments],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        runtime = prepared(url, args.sessions)
        timings = [passes(runtime) for _ in range(args.runs)]
        runtime.engine.dispose()
        tick = ["tick", "--now", BEFORE_ANY_DUE.isoformat()]
        ticks = [process_seconds(tick, url) for _ in range(args.runs)]
        helps = [process_seconds(["--help"], url) for _ in range(args.runs)]
    plan = statistics.median(t[0] for t in timings)
    dispatch = statistics.median(t[1] for t in timings)
    work = plan + dispatch
    verdict = "met" if work <= TARGET_SECONDS else "MISSED"
    cores, sessions, runs = os.cpu_count(), args.sessions, args.runs
    print(f"{cores} cores, SQLite, {sessions} sessions planned, medians of {runs}")
    print(f"planning pass, nothing unplanned: {plan * 1000:.1f} ms")
    print(f"dispatch pass, nothing due:       {dispatch * 1000:.1f} ms")
    print(f"both: {work * 1000:.1f} ms (target <= {TARGET_SECONDS * 1000:.0f} ms: {verdict})")
    print(f"`aftercare tick` process:  {statistics.median(ticks):.2f} s")
    print(f"`aftercare --help` process: {statistics.median(helps):.2f} s (start-up for scale)")


if __name__ == "__main__":
    main()
