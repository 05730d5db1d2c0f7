"""Issue #8 target 5: `aftercare run` workers on one PostgreSQL, latency-bound, scale out.

A real SMS send waits on Twilio (~200 ms), so one worker's throughput is its send pool over
the latency; more workers must add throughput without sending anything twice. For each worker
count this writes a fresh backlog of N due SMS (tests/support/workers.write_backlog) in one
schema, holds it back (due tomorrow) while the real `aftercare run` processes start, then
makes it due in one statement and lets them drain it through the real twilio client to the
loopback fake Twilio (tests/support/twilio_server), which runs in its own process, so that the
bench's GIL is not the bound, with every answer delayed (--latency). SMS_MAX_PER_SECOND is set
far above what the workers can reach, so the shared rate bucket is asked but never waits.

Throughput is measured on the fake's side: created messages over the time from the first
create request to the last. Duplicates are create requests minus distinct outbox message ids
(each request's StatusCallback URL carries `message_id`, so PUBLIC_BASE_URL is set to an
address nothing calls). The outbox must end with every message `sent`. CPU seconds per
worker (/proc/<pid>/stat), of the fake, and the machine's busy share (/proc/stat) over the
drain say whether the cores, not the workers, are the bound.
Target: 4 workers ≥ 3.2 × one worker's msg/s, zero duplicates.

A worker spends ~9 ms of CPU per SMS (the dispatcher's per-message queries, the twilio client,
the shared bucket's upsert), so at 200 ms four workers at 3.2 × one need about a core of their
own besides PostgreSQL's. When the ratio misses, the CPU line says whether the machine was
the bound: rerun with a longer --latency (or a smaller --concurrency), which asks the same
of the database and the claim per message but far less CPU per second.

    .venv/bin/python bench/workers_scaling.py [--messages 2000] [--workers 1,2,4]
        [--latency 0.2] [--concurrency N] [--batch-size N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from reminders.runtime import Runtime, initialize  # noqa: E402
from reminders.settings import Settings  # noqa: E402
from reminders.store.db import make_engine  # noqa: E402
from reminders.store.defaults import load_care_plans  # noqa: E402
from tests.support.daemon_home import clean_env, daytime_zone  # noqa: E402
from tests.support.twilio_server import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilio,
    RecordedRequest,
    latency,
)
from tests.support.workers import (  # noqa: E402
    CLINIC_NUMBER,
    DUE,
    Worker,
    drained,
    rows,
    statuses,
    unsettled,
    wait_until,
    write_backlog,
)

TARGET_RATIO = 3.2
SCHEMA = "bench_workers"
TICKS = os.sysconf("SC_CLK_TCK")


# -- the fake Twilio, in a process of its own ------------------------------------------------


class TimedTwilio(FakeTwilio):
    """FakeTwilio that also notes when each request arrived."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.arrived: list[float] = []

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)
            self.arrived.append(time.monotonic())


@dataclass(frozen=True)
class Create:
    """One create request as the fake saw it: when, and which outbox message."""

    at: float
    message_id: str | None
    to: str


def serve_fake(delay: float, pipe: Connection) -> None:
    """Run the fake until told to stop; then send back its creates and its CPU seconds."""
    with TimedTwilio(default=latency(delay)) as twilio:
        pipe.send(twilio.base_url)
        pipe.recv()
        with twilio._lock:
            seen = list(zip(twilio.arrived, twilio.requests, strict=True))
    creates = [
        Create(at, _message_id(request), request.form.get("To", ""))
        for at, request in seen
        if request.method == "POST"
    ]
    times = os.times()
    gets = sum(1 for _, request in seen if request.method == "GET")
    pipe.send((creates, gets, times.user + times.system))


def _message_id(request: RecordedRequest) -> str | None:
    callback = request.form.get("StatusCallback")
    if not callback:
        return None
    return parse_qs(urlsplit(callback).query).get("message_id", [None])[0]


class FakeProcess:
    def __init__(self, delay: float) -> None:
        context = multiprocessing.get_context("spawn")  # nothing of the parent's engines
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=serve_fake, args=(delay, child), daemon=True)
        self.process.start()
        self.base_url: str = self.pipe.recv()

    def finish(self) -> tuple[list[Create], int, float]:
        self.pipe.send("stop")
        result: tuple[list[Create], int, float] = self.pipe.recv()
        self.process.join(timeout=10)
        return result


# -- CPU from /proc ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies over every core, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def postgres_cpu() -> dict[int, float]:
    """CPU seconds of each `postgres` process on the machine (the server is shared)."""
    found: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text.split("(", 1)[1].startswith("postgres)"):
            fields = text.rsplit(")", 1)[1].split()
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


def postgres_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU the server's processes spent between two readings (those alive at the second)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


# -- one run ---------------------------------------------------------------------------------


@dataclass
class Result:
    workers: int
    messages: int
    creates: int
    distinct: int
    span: float
    statuses: dict[str, int]
    worker_cpu: list[float]
    claims: list[int]
    fake_cpu: float
    postgres_cpu: float
    machine_busy: float
    drain_seconds: float
    exits: list[int]
    reconcile_gets: int
    keyed: int  # creates whose StatusCallback carried the outbox message id

    @property
    def rate(self) -> float:
        return self.creates / self.span if self.span > 0 else 0.0

    @property
    def duplicates(self) -> int:
        return self.creates - self.distinct


def fresh_schema(admin: sa.Engine) -> None:
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")


def worker_environment(
    url: str, folder: Path, zone: str, base_url: str, args: argparse.Namespace
) -> dict[str, str]:
    values = dict(
        database_url=url,
        outbox_file=str(folder / "outbox.jsonl"),
        clinic_timezone=zone,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from_number=CLINIC_NUMBER,
        twilio_api_base=base_url,
        public_base_url="http://127.0.0.1:9",  # only for the StatusCallback's message_id
        sms_max_per_second=str(args.sms_rate),
        dispatch_interval_seconds="0.2",
        plan_interval_seconds="30",
        log_level="INFO",
    )
    if args.batch_size:
        values["dispatch_batch_size"] = str(args.batch_size)
    if args.concurrency:
        values["send_concurrency"] = str(args.concurrency)
    env = clean_env(**values)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def run(url: str, admin: sa.Engine, count: int, args: argparse.Namespace) -> Result:
    fresh_schema(admin)
    engine = make_engine(url)
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    now = datetime.now(UTC)
    initialize(Runtime(settings, engine, load_care_plans()), actor="bench", now=now)
    zone = daytime_zone(now)
    total = write_backlog(engine, zone, range(args.messages), emails=False)
    sms_only(engine)
    hold(engine, "+")  # due tomorrow while the workers start
    fake = FakeProcess(args.latency)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        env = worker_environment(url, folder, zone, fake.base_url, args)
        workers = [Worker.start(env, folder, f"worker-{n}") for n in range(count)]
        try:
            wait_until(
                lambda: alive_workers(engine) >= count,
                timeout=120,
                workers=workers,
                what="all workers started",
            )
            cpu_before = [cpu_seconds(w.process.pid) for w in workers]
            machine_before, pg_before = machine_ticks(), postgres_cpu()
            started = time.monotonic()
            hold(engine, "-")  # the whole backlog due at once
            wait_until(
                lambda: drained(engine),
                timeout=60 + total * args.latency,
                workers=workers,
                what=lambda: f"drained: {unsettled(engine)}",
            )
            drain_seconds = time.monotonic() - started
            cpu_after = [cpu_seconds(w.process.pid) for w in workers]
            machine_after, pg_after = machine_ticks(), postgres_cpu()
            owners = [w.worker_id for w in workers]
            exits = [w.stop() for w in workers]
        finally:
            for worker in workers:
                if worker.alive:
                    worker.kill()
    creates, gets, fake_cpu = fake.finish()
    claimed = claims(engine)
    final = dict(statuses(engine))
    engine.dispose()
    busy = machine_after[0] - machine_before[0]
    span_ticks = machine_after[1] - machine_before[1]
    keys = {c.message_id if c.message_id is not None else f"to:{c.to}" for c in creates}
    at = [c.at for c in creates]
    return Result(
        workers=count,
        messages=total,
        creates=len(creates),
        distinct=len(keys),
        span=max(at) - min(at) if at else 0.0,
        statuses=final,
        worker_cpu=[b - a for a, b in zip(cpu_before, cpu_after, strict=True)],
        claims=[claimed.get(owner, 0) for owner in owners],
        fake_cpu=fake_cpu,
        postgres_cpu=postgres_spent(pg_before, pg_after),
        machine_busy=busy / span_ticks if span_ticks else 0.0,
        drain_seconds=drain_seconds,
        exits=exits,
        reconcile_gets=gets,
        keyed=sum(1 for c in creates if c.message_id is not None),
    )


def sms_only(engine: sa.Engine) -> None:
    """The backlog's email rows (its patients have no address) would only be skipped: drop
    them, so each worker count drains exactly N sends."""
    email = f"SELECT id FROM outbox_message WHERE {DUE} AND channel = 'email'"
    with engine.begin() as connection:
        connection.execute(sa.text(f"DELETE FROM message_event WHERE message_id IN ({email})"))
        connection.execute(sa.text(f"DELETE FROM outbox_message WHERE id IN ({email})"))


def hold(engine: sa.Engine, sign: str) -> None:
    """Move the backlog's due time a day later (+) or back (-), in one statement."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"UPDATE outbox_message SET due_at = due_at {sign} interval '1 day'"
                f" WHERE {DUE} AND status = 'pending'"
            )
        )


def alive_workers(engine: sa.Engine) -> int:
    found = rows(engine, "SELECT count(*) FROM worker_heartbeat WHERE stopped_at IS NULL")
    return int(found[0][0])


def claims(engine: sa.Engine) -> Counter[str]:
    """Messages each worker claimed (a message claimed twice counts twice)."""
    found = rows(
        engine,
        "SELECT actor, count(*) FROM message_event WHERE to_status = 'sending'"
        " AND reason = 'claimed' GROUP BY actor",
    )
    return Counter({actor: n for actor, n in found})


# -- report ----------------------------------------------------------------------------------


def show(result: Result, args: argparse.Namespace) -> None:
    wall = result.drain_seconds
    cpu = ", ".join(f"{c:.1f}" for c in result.worker_cpu)
    share = ", ".join(str(n) for n in result.claims)
    print(
        f"{result.workers} worker(s): {result.creates} creates in {result.span:.2f} s"
        f" = {result.rate:,.1f} msg/s ({result.rate / result.workers:,.1f} per worker);"
        f" ceiling {result.workers * concurrency(args) / args.latency:,.0f} msg/s"
        f" (workers × SEND_CONCURRENCY / latency); mean sends in flight"
        f" {result.rate * args.latency:.1f} of {result.workers * concurrency(args)}"
    )
    print(
        f"    duplicates {result.duplicates} ({result.keyed} of {result.creates} creates named"
        f" their message id); outbox {result.statuses}; claimed per worker"
        f" [{share}]; exits {result.exits}; reconcile list calls {result.reconcile_gets}"
    )
    print(
        f"    CPU over the {wall:.1f} s drain: workers [{cpu}] s"
        f" ({sum(result.worker_cpu) / wall:.0%} of a core together,"
        f" {1000 * sum(result.worker_cpu) / result.messages:.1f} ms per message),"
        f" fake {result.fake_cpu:.1f} s"
        f" (whole life), all postgres processes {result.postgres_cpu:.1f} s,"
        f" machine busy {result.machine_busy:.0%} of {os.cpu_count()} cores"
    )


def concurrency(args: argparse.Namespace) -> int:
    if args.concurrency:
        return int(args.concurrency)
    return int(Settings.model_fields["send_concurrency"].default)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="due SMS per run")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--latency", type=float, default=0.2, help="fake Twilio's answer delay")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--sms-rate", type=float, default=100_000, help="SMS_MAX_PER_SECOND")
    parser.add_argument("--batch-size", type=int, help="DISPATCH_BATCH_SIZE (default: setting)")
    parser.add_argument("--concurrency", type=int, help="SEND_CONCURRENCY (default: setting)")
    args = parser.parse_args()
    if args.messages > 10_000:
        parser.error("--messages: tests.support.workers numbers patients with four digits")
    counts = [int(n) for n in args.workers.split(",")]
    batch = args.batch_size or Settings.model_fields["dispatch_batch_size"].default
    print(
        f"os.cpu_count() = {os.cpu_count()}; {args.messages} due SMS per run; fake Twilio at"
        f" {args.latency * 1000:.0f} ms; DISPATCH_BATCH_SIZE {batch}, SEND_CONCURRENCY"
        f" {concurrency(args)}, SMS_MAX_PER_SECOND {args.sms_rate:,.0f}"
    )
    if args.messages < 2 * max(counts) * batch:
        print(
            f"note: fewer than two batches of {batch} per worker; a worker may get no batch,"
            " and the ratio then measures the batch size, not the workers"
        )
    admin = sa.create_engine(args.postgres, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as exc:
        print(f"postgresql: unreachable ({type(exc).__name__}); this bench needs it")
        raise SystemExit(2) from None
    options = {"options": f"-csearch_path={SCHEMA}"}
    url = sa.engine.make_url(args.postgres).update_query_dict(options)
    rendered = url.render_as_string(hide_password=False)
    results: dict[int, Result] = {}
    try:
        for count in counts:
            results[count] = result = run(rendered, admin, count, args)
            show(result, args)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.dispose()
    summarise(results)


def summarise(results: dict[int, Result]) -> None:
    duplicates = sum(r.duplicates for r in results.values())
    complete = all(
        r.statuses == {"sent": r.messages} and r.distinct == r.messages for r in results.values()
    )
    one = results.get(1)
    if one is not None and one.rate > 0:
        for count, result in sorted(results.items()):
            if count == 1:
                continue
            ratio = result.rate / one.rate
            line = f"{count} vs 1 worker: {ratio:.2f} ×"
            if count == 4:
                line += f" (target ≥ {TARGET_RATIO}) {verdict(ratio >= TARGET_RATIO)}"
            print(line)
        per_message = sum(one.worker_cpu) / one.messages
        needed = TARGET_RATIO * one.rate * per_message
        print(
            f"at {TARGET_RATIO} × one worker ({TARGET_RATIO * one.rate:,.0f} msg/s) the workers"
            f" alone need {needed:.2f} cores ({1000 * per_message:.1f} ms CPU per message),"
            f" before PostgreSQL and the fake; this machine has {os.cpu_count()}"
        )
    print(f"duplicates: {duplicates} (target 0) {verdict(duplicates == 0)}")
    print(f"every message sent once at least: {verdict(complete)}")
    print("figures taken on a shared machine: other work competes for the cores")


if __name__ == "__main__":
    main()
