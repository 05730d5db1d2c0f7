"""/healthz and a signed STOP webhook during a login flood: password hashing must not hold up
the requests every other page, webhook and API call needs.

Starts `aftercare web` as its own process on a temporary SQLite database (or an empty
PostgreSQL schema given by --postgres), with the production argon2 parameters, then has
--clients threads post logins for ever new emails from ever new addresses (X-Forwarded-For,
which uvicorn trusts from loopback, so no per-address limit spares a hash) for --seconds,
while /healthz and a signed inbound STOP (Twilio's webhook, a new MessageSid each time) are
timed in turn every 0.2 s. Prints each one's median and worst, and how the logins were
answered. Twilio gives up on a webhook after 15 s.

    .venv/bin/python bench/login_flood.py [--clients 60] [--seconds 20] [--postgres URL]

Measured 2026-12-06 on the shared 2-core machine (load average 10-14 from other work, the
flood's 60 client threads on the same cores), SQLite, 15 s:
    before (argon2 on the shared thread pool):  /healthz median 7,782 ms, worst 11,284 ms;
                                                85 logins answered, all 401
    after (own pool of 2 + 8, busy refused):    /healthz median 960-1,034 ms, worst 2.3-3.7 s;
                                                ~1,300 logins answered 429 at once, ~55 401
    after, one client instead of 60:            /healthz median 151 ms, worst 443 ms
What remains of the median is the machine's load and the flood's own request handling on the
one event loop (two requests per login), not password hashing.

Measured 2026-12-06 later, an idle 2-core machine (the flood's 60 threads on the same cores),
SQLite, 15 s, with the signed STOP timed too:
    /healthz median 396 ms, worst 609 ms; signed STOP webhook median 595 ms, worst 861 ms
    (Twilio waits 15 s); ~2,800 logins answered, 97 % of them 429 at once
"""

from __future__ import annotations

import argparse
import collections
import itertools
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from twilio.request_validator import RequestValidator

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
COUNTER = itertools.count()
TWILIO_TOKEN = "bench-twilio-auth-token"
INBOUND = "/webhooks/twilio/inbound"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def flood(base: str, stop: threading.Event, answers: collections.Counter[int]) -> None:
    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            n = next(COUNTER)
            sender = {"X-Forwarded-For": f"198.51.{n // 250 % 250}.{n % 250 + 1}"}
            try:
                page = client.get("/login", headers=sender)
                found = CSRF.search(page.text)
                data = {"email": f"guess{n}@example.com", "password": "wrong"}
                data["csrf_token"] = found.group(1) if found else ""
                answers[client.post("/login", data=data, headers=sender).status_code] += 1
            except httpx.HTTPError:
                answers[0] += 1


def timed_stop(base: str, n: int) -> float:
    """A signed STOP from a number of its own, as Twilio posts it; seconds until answered."""
    form = {"MessageSid": f"SMbench{n:024d}", "From": f"+1310555{n % 10_000:04d}",
            "To": "+18773376424", "Body": "STOP"}  # fmt: skip
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(base + INBOUND, form)
    started = time.monotonic()
    answer = httpx.post(base + INBOUND, data=form, headers={"X-Twilio-Signature": signature},
                        timeout=60)  # fmt: skip
    assert answer.status_code == 200, answer.status_code
    return time.monotonic() - started


def report(name: str, took: list[float]) -> None:
    print(f"{name}: {len(took)} requests, median {statistics.median(took) * 1000:.0f} ms,"
          f" worst {max(took) * 1000:.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--postgres", help="an empty PostgreSQL schema's URL")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    url = args.postgres or f"sqlite:///{folder / 'aftercare.db'}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "OUTBOX_FILE": str(folder / "o.jsonl")}
    env |= {"LOG_LEVEL": "WARNING", "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    env |= {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
            "TWILIO_FROM_NUMBER": "+18773376424"}  # fmt: skip
    aftercare = [sys.executable, "-m", "reminders"]
    subprocess.run([*aftercare, "init"], cwd=folder, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [*aftercare, "web", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the web app did not start"
                time.sleep(0.1)
        stop = threading.Event()
        answers: collections.Counter[int] = collections.Counter()
        took: list[float] = []
        stops: list[float] = []
        with ThreadPoolExecutor(args.clients) as clients:
            for _ in range(args.clients):
                clients.submit(flood, base, stop, answers)
            time.sleep(2)
            end = time.monotonic() + args.seconds
            while time.monotonic() < end:
                started = time.monotonic()
                httpx.get(f"{base}/healthz", timeout=60)
                took.append(time.monotonic() - started)
                time.sleep(0.2)
                stops.append(timed_stop(base, len(stops)))
                time.sleep(0.2)
            stop.set()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{args.clients} clients flooding /login for {args.seconds:.0f} s ({url.split(':')[0]})")
    report("/healthz", took)
    report("signed STOP webhook", stops)
    print(f"logins answered: {dict(sorted(answers.items()))} (0: no answer)")


if __name__ == "__main__":
    main()
