"""Issue #8, target 6: draining a large backlog must not need memory in proportion to it.

A morning after an outage can leave 100,000 messages due at once; the daemon drains them batch
by batch, so its peak memory should be that of draining 1,000. Each drain runs in a fresh
subprocess (so ru_maxrss is that drain's own peak): it seeds N due rows in bulk (one patient
and session each, SMS and email alternating, by INSERT ... SELECT), notes its peak RSS, drains
them with the Dispatcher through a channel that does nothing until nothing is due, and reports
its peak RSS again. Target: the peak draining --large (100,000) ≤ 1.2 × draining --small
(1,000); the growth during each drain is printed too, and the RSS after each tenth of it: a
leak climbs with what was drained, a cache levels off. (On SQLite each pooled connection keeps
a page cache of up to 2 MB, which a large database fills and a small one does not.) SQLite,
and PostgreSQL when reachable. The default sizes take ~25 minutes on 2 busy cores.

    .venv/bin/python bench/drain_memory.py [--small 1000] [--large 100000] [--batch 100]
        [--postgres URL] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_db import drop_schema, fresh_schema, postgres_reachable
from dispatch_throughput import bench_dispatcher, seeded_runtime
from history_scaling import Dialect

from reminders.runtime import Runtime
from reminders.sending.dispatch_results import DispatchResult
from reminders.settings import Settings

TARGET = 1.2
SCHEMA = "bench_scale_mem"
DEFAULT_BATCH = Settings.model_fields["dispatch_batch_size"].default


def peak_mb() -> float:
    """This process's peak resident set so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def rss_mb() -> float | None:
    """The resident set now, where /proc tells it (Linux); None elsewhere."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def seed_due(runtime: Runtime, count: int) -> None:
    """`count` messages due now, each to a patient of its own (the daily cap lets all go)."""
    sql = Dialect(runtime.engine.dialect.name)
    due = sql.at("-60")
    statements = []
    prefix, source = sql.series(1, count)
    statements.append(
        f"{prefix}INSERT INTO patient (id, name, phone, email, language, sms_consent,"
        " email_consent, created_at)"
        f" SELECT i, 'Due ' || i, '+1213' || {sql.pad('i', 7)}, 'd' || i || '@example.org',"
        f" 'en', {sql.true}, {sql.true}, :now FROM {source}"
    )
    statements.append(
        f"{prefix}INSERT INTO treatment_session (id, patient_id, treatment, completed_at, status,"
        f" planned_at, created_at) SELECT i, i, 'asclera', {due}, 'completed', {due}, {due}"
        f" FROM {source}"
    )
    statements.append(
        f"{prefix}INSERT INTO outbox_message (session_id, patient_id, plan, step, channel,"
        " status, due_at, not_after, attempts, delivery_retries, created_at, updated_at)"
        " SELECT i, i, 'sclerotherapy', 'aftercare',"
        " CASE WHEN i % 2 = 0 THEN 'email' ELSE 'sms' END,"
        f" 'pending', {due}, {sql.at('3 * 86400')}, 0, 0, {due}, {due} FROM {source}"
    )
    with runtime.engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement), {"now": sql.now()})
        if sql.name == "postgresql":
            for table in ("patient", "treatment_session"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )


def child(url: str, count: int, batch: int) -> None:
    """One drain, in this process; prints its figures as one JSON line."""
    runtime = seeded_runtime(url, 0)
    runtime.settings = runtime.settings.model_copy(update={"dispatch_batch_size": batch})
    seed_due(runtime, count)
    dispatcher = bench_dispatcher(runtime)
    before = peak_mb()
    sent, started, tenths = 0, time.perf_counter(), []
    while (report := dispatcher.run_once()).outcomes:
        sent += report.count(DispatchResult.SENT)
        if sent >= (len(tenths) + 1) * count / 10:  # a leak grows with what was drained
            tenths.append(rss_mb())
    seconds = time.perf_counter() - started
    runtime.engine.dispose()
    figures = {
        "sent": sent,
        "before_mb": before,
        "peak_mb": peak_mb(),
        "seconds": seconds,
        "tenths": tenths,
    }
    print(json.dumps(figures))


def drain(url: str, count: int, batch: int) -> dict[str, Any]:
    """A drain of `count` rows in a fresh interpreter."""
    here = Path(__file__).resolve()
    command = [sys.executable, str(here), "--child", str(count), "--url", url]
    command += ["--batch", str(batch)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # the modules we run on
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["sent"] == count, f"sent {figures['sent']} of {count}"
    return figures


def compare(backend: str, sizes: dict[int, dict[str, Any]], batch: int) -> None:
    (small, s), (large, big) = sorted(sizes.items())
    print(f"{backend}, batches of {batch}:")
    for count, f in sorted(sizes.items()):
        growth = f["peak_mb"] - f["before_mb"]
        print(
            f"  drain {count:>7,}: RSS before {f['before_mb']:6.1f} MB, peak {f['peak_mb']:6.1f} MB"
            f" (growth {growth:5.1f} MB), {f['seconds']:.1f} s, {count / f['seconds']:,.0f} msg/s"
        )
        if f["tenths"] and None not in f["tenths"]:
            steps = " ".join(f"{mb:.1f}" for mb in f["tenths"])
            print(f"    RSS after each tenth of the drain (MB): {steps}")
    ratio = big["peak_mb"] / s["peak_mb"]
    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(
        f"target 6, {backend}: peak {large:,} / {small:,} = {ratio:.2f}x"
        f" (target <= {TARGET}x) {verdict}"
    )
    small_growth = s["peak_mb"] - s["before_mb"]
    large_growth = big["peak_mb"] - big["before_mb"]
    if small_growth >= 1:
        growth_ratio = large_growth / small_growth
        verdict = "PASS" if growth_ratio <= TARGET else "MISS"
        print(f"  growth during the drain: {growth_ratio:.2f}x (target <= {TARGET}x) {verdict}")
    else:
        print(
            f"  growth during the drain: {large_growth:.1f} MB vs {small_growth:.1f} MB"
            " (the small drain grew under 1 MB: no ratio)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.url, args.child, args.batch)
        return
    print(f"{os.cpu_count()} cores; each drain in a fresh process", flush=True)
    sizes: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (args.small, args.large):
            sizes[count] = drain(f"sqlite:///{folder}/drain-{count}.db", count, args.batch)
    compare("sqlite", sizes, args.batch)
    if args.no_postgres:
        return
    if not postgres_reachable(args.postgres):
        return
    sizes = {}
    try:
        for count in (args.small, args.large):
            sizes[count] = drain(fresh_schema(args.postgres, SCHEMA), count, args.batch)
    finally:
        drop_schema(args.postgres, SCHEMA)
    compare("postgresql", sizes, args.batch)


if __name__ == "__main__":
    main()
