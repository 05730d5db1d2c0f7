"""The dispatcher through the real twilio client, against the plain client loop (issue #8, 1-2).

Target 1: a morning burst is bound by our own work per message once the provider answers
fast, so the dispatcher sending N due SMS through `TwilioChannel` to a zero-latency fake Twilio
must reach >= 0.8 x the msg/s of a plain loop of the same twilio client (same HTTP client, same
SEND_CONCURRENCY threads, the very same requests), on SQLite and on PostgreSQL.
Target 2: at Twilio's real latency the account rate is the bound, so with the fake answering
after 200 ms and SMS_MAX_PER_SECOND=50 (segments) the dispatcher must sustain >= 0.95 x 50
segments/s (the first second left out) and no one-second window of the fake's request
arrivals may carry more than 1.1 x 50 segments.

The fake (tests/support/twilio_server.FakeTwilio) runs in a child process, so its CPU does not
share the measured process's GIL; it stamps each create's arrival and counts its segments, and
speaks HTTP/1.1 with Nagle off, so clients keep their connections as they do with Twilio. Each
run seeds patients without an email address, plans them and drops the planned email rows, so
what comes due is N day-0 SMS; `Dispatcher.run_once()` drains them at a fixed clock with the
daemon's limiter (`sms_limiter`: in-process on SQLite, the shared row on PostgreSQL). Target 2
also prints the windows of the limiter's grants and the lag from grant to arrival, which tell
the limiter's own bound from scheduling delays on the way. Message counts up to 10,000.

    .venv/bin/python bench/twilio_throughput.py [--messages 2000] [--latency-messages 3000]
        [--batch-size N] [--postgres URL] [--skip-throughput] [--skip-latency]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root: tests.support

from bench_db import drop_schema, fresh_schema, postgres_reachable
from dispatch_throughput import COMPLETED, NOW, NullChannel, bench_dispatcher, seeded_runtime
from twilio.rest import Client

from reminders.runtime import Runtime
from reminders.sending.channels.base import OutgoingMessage
from reminders.sending.channels.twilio.channel import RoutedHttpClient, TwilioChannel
from reminders.sending.dispatch_results import DispatchResult
from reminders.sending.rate_limit import RateLimiter, sms_limiter
from reminders.settings import Settings
from reminders.store.db import session_scope
from reminders.store.models import MessageEvent, OutboxMessage, Patient, TreatmentSession
from tests.support.twilio_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilio,
    RecordedRequest,
    _Handler,
    _Server,
    latency,
)

CLINIC_SENDER = "+18773376424"
FAST_RATE = 1_000_000.0  # segments/s: far above anything reached, so the limiter never waits
LATENCY_SECONDS = 0.2
CAP = 50.0  # SMS_MAX_PER_SECOND of target 2, in segments
RATIO_TARGET = 0.8
SUSTAINED_TARGET = 0.95
WINDOW_TARGET = 1.1
SCHEMA = "bench_twilio"


# -- the fake Twilio, in a child process ------------------------------------------------------


class _KeepAliveHandler(_Handler):
    """HTTP/1.1, as Twilio speaks: the client keeps its connections (http.server's default,
    HTTP/1.0, makes every request a new connection and a new server thread). Nagle off: the
    handler writes headers and body apart, and on a kept connection Nagle's algorithm holds
    the body until the client's delayed ACK, 40 ms per request."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True


@dataclass
class TimedFakeTwilio(FakeTwilio):
    """FakeTwilio that keeps, per created message, its request's arrival time and segments."""

    arrivals: list[tuple[float, int, str]] = field(default_factory=list)  # at, segments, To

    def __post_init__(self) -> None:
        super().__post_init__()
        self._stamp = threading.local()

    def __enter__(self) -> TimedFakeTwilio:
        server = _Server(("127.0.0.1", 0), _KeepAliveHandler)
        server.twilio = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def record(self, request: RecordedRequest) -> None:
        self._stamp.at = time.monotonic()
        super().record(request)

    def create_message(self, form: dict[str, str], status: str = "queued") -> dict[str, Any]:
        message = super().create_message(form, status)
        with self._lock:
            self.arrivals.append((self._stamp.at, int(message["num_segments"]), form["To"]))
        return message

    def reset(self, delay: float) -> None:
        with self._lock:
            self.requests.clear()
            self.messages.clear()
            self.arrivals.clear()
            self.default = latency(delay)


def serve_fake(conn: Connection) -> None:
    """The child: run the fake and answer the parent's commands until told to stop."""
    with TimedFakeTwilio() as fake:
        conn.send(fake.base_url)
        while True:
            command, argument = conn.recv()
            if command == "reset":
                fake.reset(argument)
                conn.send(None)
            elif command == "arrivals":
                with fake._lock:
                    conn.send(sorted(fake.arrivals))
            elif command == "forms":
                with fake._lock:
                    conn.send([r.form for r in fake.requests if r.method == "POST"])
            else:
                conn.send(None)
                return


class FakeProcess:
    """The parent's handle on the child running the fake."""

    def __init__(self) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=serve_fake, args=(child,), daemon=True
        )
        self._process.start()
        self.base_url: str = self._conn.recv()

    def ask(self, command: str, argument: object = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def stop(self) -> None:
        self.ask("stop")
        self._process.join(timeout=5)


# -- databases ----------------------------------------------------------------------------------


def sms_only_runtime(url: str, sessions: int) -> Runtime:
    """seeded_runtime's database with patients who have no email: only SMS come due."""
    runtime = seeded_runtime(url, 0)
    with session_scope(runtime.engine) as session:
        for n in range(sessions):
            patient = Patient(name=f"Patient {n}", phone=f"+1310555{n:04d}", email=None)
            session.add(patient)
            session.flush()
            session.add(
                TreatmentSession(
                    patient_id=patient.id or 0, treatment="asclera", completed_at=COMPLETED
                )
            )
    return runtime


def sms_only(runtime: Runtime) -> int:
    """Drop the planned email rows (the patients have no address: each would be a skip), so
    what comes due is SMS alone; returns how many SMS are due at NOW."""
    email = col(OutboxMessage.channel) == "email"
    emails = sa.select(col(OutboxMessage.id)).where(email)
    with session_scope(runtime.engine) as session:
        session.execute(sa.delete(MessageEvent).where(col(MessageEvent.message_id).in_(emails)))
        session.execute(sa.delete(OutboxMessage).where(email))
        due = sa.select(sa.func.count()).where(col(OutboxMessage.due_at) <= NOW)
        return int(session.execute(due).scalar_one())


def twilio_settings(url: str, api_base: str, rate: float, batch_size: int | None) -> Settings:
    values: dict[str, object] = {
        "database_url": url,
        "sms_channel": "twilio",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from_number": CLINIC_SENDER,
        "twilio_messaging_service_sid": None,
        "twilio_api_base": api_base,
        "twilio_timeout_seconds": 10,
        "public_base_url": None,
        "sms_max_per_second": rate,
    }
    if batch_size is not None:
        values["dispatch_batch_size"] = batch_size
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


# -- the two senders ----------------------------------------------------------------------------


class TimedTwilioChannel(TwilioChannel):
    """The real channel, noting when each send leaves the limiter (`create_params` is called
    right after the grant): beside the fake's arrival times, this tells the limiter's own
    bound from the lag between a grant and its request reaching the provider."""

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        super().__init__(settings, limiter)
        self.granted: dict[str, float] = {}

    def create_params(self, message: OutgoingMessage) -> dict[str, Any]:
        self.granted[message.to] = time.monotonic()
        return super().create_params(message)


@dataclass
class Drain:
    sent: int
    others: dict[str, int]
    seconds: float
    granted: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


def dispatch_all(
    fake: FakeProcess, url: str, sms: int, rate: float, args: Any, *, timed: bool = False
) -> Drain:
    """Plan `sms` sessions, then drain their day-0 SMS through the real channel and limiter."""
    runtime = sms_only_runtime(url, sms)
    runtime.plan(NOW)
    due = sms_only(runtime)
    settings = twilio_settings(url, fake.base_url, rate, args.batch_size)
    kind = TimedTwilioChannel if timed else TwilioChannel
    channel = kind(settings, sms_limiter(settings, runtime.engine))
    dispatcher = bench_dispatcher(runtime, settings=settings, channel=channel, email=NullChannel())
    others: dict[str, int] = {}
    sent, started = 0, time.perf_counter()
    while (report := dispatcher.run_once()).outcomes:
        sent += report.count(DispatchResult.SENT)
        for outcome in report.outcomes:
            if outcome.result != DispatchResult.SENT:
                others[outcome.result] = others.get(outcome.result, 0) + 1
    seconds = time.perf_counter() - started
    channel.close()
    runtime.engine.dispose()
    if due != sms:
        others["due"] = due
    granted = channel.granted if isinstance(channel, TimedTwilioChannel) else {}
    return Drain(sent, others, seconds, granted)


def plain_loop(base_url: str, forms: list[dict[str, str]], concurrency: int) -> Drain:
    """The same requests through the same twilio client, nothing else, at the same concurrency."""
    http = RoutedHttpClient(base_url, 10)
    client = Client(username=ACCOUNT_SID, password=AUTH_TOKEN, http_client=http)
    calls = [
        {
            "to": form["To"],
            "body": form["Body"],
            "from_": form["From"],
            "validity_period": int(form["ValidityPeriod"]),
        }
        for form in forms
    ]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        sids = list(pool.map(lambda call: client.messages.create(**call).sid, calls))
    seconds = time.perf_counter() - started
    http.close()
    return Drain(sum(1 for sid in sids if sid), {}, seconds)


# -- the two targets ----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def describe(drain: Drain) -> str:
    extra = f"; not sent: {drain.others}" if drain.others else ""
    return f"{drain.sent} in {drain.seconds:.2f} s = {drain.rate:,.0f} msg/s{extra}"


def throughput(fake: FakeProcess, kind: str, url: str, args: Any, concurrency: int) -> None:
    fake.ask("reset", 0.0)
    dispatched = dispatch_all(fake, url, args.messages, FAST_RATE, args)
    forms = fake.ask("forms")
    fake.ask("reset", 0.0)
    plain = plain_loop(fake.base_url, forms, concurrency)
    ratio = dispatched.rate / plain.rate
    print(f"{kind}: dispatcher  {describe(dispatched)}")
    print(f"{kind}: plain loop  {describe(plain)}")
    print(
        f"{kind}: target 1 ratio {ratio:.2f} x (target >= {RATIO_TARGET} x): "
        f"{verdict(ratio >= RATIO_TARGET)}"
    )


def windows(arrivals: list[tuple[float, int]]) -> tuple[float, int]:
    """Sustained segments/s after the first second, and the most in any one-second window."""
    first, last = arrivals[0][0], arrivals[-1][0]
    later = sum(segments for at, segments in arrivals if at >= first + 1)
    sustained = later / (last - first - 1) if last - first > 1 else float("nan")
    peak, total, start = 0, 0, 0
    for at, segments in arrivals:  # windows [t, t + 1) ending at each arrival
        total += segments
        while arrivals[start][0] <= at - 1:
            total -= arrivals[start][1]
            start += 1
        peak = max(peak, total)
    return sustained, peak


def latency_bound(fake: FakeProcess, kind: str, url: str, args: Any) -> None:
    fake.ask("reset", LATENCY_SECONDS)
    drain = dispatch_all(fake, url, args.latency_messages, CAP, args, timed=True)
    arrivals = fake.ask("arrivals")
    fake.ask("reset", 0.0)
    if len(arrivals) < 2:
        print(f"{kind}: target 2 needs at least two sends, got {len(arrivals)}")
        return
    sustained, peak = windows([(at, segments) for at, segments, _ in arrivals])
    segments = sum(s for _, s, _ in arrivals)
    print(
        f"{kind}: {LATENCY_SECONDS * 1000:.0f} ms fake, cap {CAP:.0f} segments/s: "
        f"{describe(drain)}, {segments} segments"
    )
    floor, ceiling = SUSTAINED_TARGET * CAP, WINDOW_TARGET * CAP
    print(
        f"{kind}: target 2 sustained {sustained:.1f} segments/s (target >= {floor:.1f}): "
        f"{verdict(sustained >= floor)}"
    )
    print(
        f"{kind}: target 2 busiest one-second window {peak} segments "
        f"(target <= {ceiling:.0f}): {verdict(peak <= ceiling)}"
    )
    grants = sorted((drain.granted[to], segments) for _, segments, to in arrivals)
    lags = sorted(at - drain.granted[to] for at, _, to in arrivals)
    print(
        f"{kind}: (beside it, the limiter's grants: busiest one-second window "
        f"{windows(grants)[1]} segments; grant to arrival at the fake: median "
        f"{1000 * lags[len(lags) // 2]:.1f} ms, 99th percentile "
        f"{1000 * lags[len(lags) * 99 // 100]:.1f} ms, max {1000 * lags[-1]:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="target 1: due SMS")
    parser.add_argument("--latency-messages", type=int, default=3000, help="target 2: due SMS")
    parser.add_argument("--batch-size", type=int, help="DISPATCH_BATCH_SIZE (default: setting)")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-throughput", action="store_true", help="leave out target 1")
    parser.add_argument("--skip-latency", action="store_true", help="leave out target 2")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # long runs: show progress
    for count in (args.messages, args.latency_messages):
        if not 0 < count <= 10_000:
            parser.error("message counts must be between 1 and 10,000 (one phone number each)")
    base = Settings(_env_file=None)  # type: ignore[call-arg]
    concurrency = base.send_concurrency
    batch = args.batch_size or base.dispatch_batch_size
    print(
        f"{os.cpu_count()} cores; SEND_CONCURRENCY={concurrency}, DISPATCH_BATCH_SIZE={batch}; "
        "fake Twilio in a child process"
    )
    fake = FakeProcess()
    try:
        with tempfile.TemporaryDirectory() as folder:
            if not args.skip_throughput:
                throughput(fake, "sqlite", f"sqlite:///{folder}/t1.db", args, concurrency)
            if not args.skip_latency:
                latency_bound(fake, "sqlite", f"sqlite:///{folder}/t2.db", args)
        if postgres_reachable(args.postgres):
            if not args.skip_throughput:
                url = fresh_schema(args.postgres, SCHEMA)
                throughput(fake, "postgresql", url, args, concurrency)
            if not args.skip_latency:
                latency_bound(fake, "postgresql", fresh_schema(args.postgres, SCHEMA), args)
            drop_schema(args.postgres, SCHEMA)
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
