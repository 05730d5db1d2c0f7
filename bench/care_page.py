"""The care page `/c/{token}` with 10,000 patients on file: its p95 server time must stay
within 3 x the login page's, measured the same way in the same run.

Seeds patients (each with a date of birth), one session each, their outbox rows and their
care links straight into a temporary SQLite database (or an empty PostgreSQL schema given by
--postgres), then, through the real app in process, opens the care page of many different
patients with the cookie their right answer set (the whole page: the link looked up by its
hash, the session, the plan's template, the coming messages, the audit row) and the login
page, as many times each, and prints both p95 times and their ratio.

    .venv/bin/python bench/care_page.py [--patients 10000] [--requests 300] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from reminders.rules.care_links import token_hash
from reminders.runtime import migrate
from reminders.settings import Settings
from reminders.store.care_plans import load_default_plans
from reminders.store.db import make_engine, session_scope
from reminders.store.defaults import load_care_plans
from reminders.store.models import CareLink, OutboxMessage, Patient, TreatmentSession
from reminders.store.templates import load_defaults
from reminders.web.app import create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TARGET_RATIO = 3.0
STEPS = ("aftercare", "restriction_day_1", "restriction_day_2", "restrictions_over",
         "what_is_normal", "results_timeline", "follow_up")  # fmt: skip
NOW = datetime.now(UTC).replace(microsecond=0)
SECRET = "bench-secret-0123456789abcdef"


def born(n: int) -> date:
    return date(1940 + n % 60, 1 + n % 12, 1 + n % 28)


def seed(engine: Engine, settings: Settings, patients: int) -> dict[int, str]:
    """Rows straight in; returns each patient's token."""
    links = settings.care_links
    assert links is not None
    tokens = {n: links.token(f"salt-{n}") for n in range(1, patients + 1)}
    completed = NOW - timedelta(hours=2)
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Patient),
            [{"id": n, "name": f"Patient {n}", "phone": f"+1310{n:07d}", "language": "en",
              "email": f"p{n}@example.com", "date_of_birth": born(n), "sms_consent": True,
              "email_consent": True, "created_at": NOW} for n in tokens],
        )  # fmt: skip
        connection.execute(
            sa.insert(TreatmentSession),
            [{"id": n, "patient_id": n, "treatment": "asclera", "status": "completed",
              "completed_at": completed, "planned_at": completed, "created_at": completed}
             for n in tokens],
        )  # fmt: skip
        connection.execute(
            sa.insert(OutboxMessage),
            [{"session_id": n, "patient_id": n, "plan": "sclerotherapy", "step": step,
              "channel": "sms", "status": "pending" if i else "delivered",
              "due_at": completed + timedelta(days=i), "attempts": 0, "delivery_retries": 0,
              "created_at": completed, "updated_at": completed}
             for n in tokens for i, step in enumerate(STEPS)],
        )  # fmt: skip
        connection.execute(
            sa.insert(CareLink),
            [{"session_id": n, "salt": f"salt-{n}", "token_hash": token_hash(token),
              "failures": 0, "created_at": completed} for n, token in tokens.items()],
        )  # fmt: skip
    with session_scope(engine) as session:
        load_defaults(session, settings.templates_dir, actor="defaults", now=NOW)
        load_default_plans(session, load_care_plans(), actor="defaults", now=NOW)
    return tokens


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def run(engine: Engine, database_url: str, patients: int, requests: int, label: str) -> float:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        public_base_url="https://finetouch.co",
        secret_key=SECRET,
        outbox_file=Path(tempfile.gettempdir()) / "bench-outbox.jsonl",
    )
    migrate(engine)
    started = time.perf_counter()
    tokens = seed(engine, settings, patients)
    print(f"{label}: seeded {patients:,} patients in {time.perf_counter() - started:.1f} s")
    app = create_app(settings, engine)
    chosen = list(tokens)[:: max(1, patients // requests)][:requests]
    care, login = [], []
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        cookies = {}
        for n in chosen:
            answer = {"birth_month": str(born(n).month), "birth_day": str(born(n).day),
                      "birth_year": str(born(n).year)}  # fmt: skip
            response = client.post(f"/c/{tokens[n]}", data=answer)
            assert response.status_code == 303, response.text
            cookies[n] = response.cookies["care"]
        client.cookies.clear()
        for n in chosen:
            client.get("/login")  # warm alike
            started = time.perf_counter()
            page = client.get(f"/c/{tokens[n]}", headers={"cookie": f"care={cookies[n]}"})
            care.append(time.perf_counter() - started)
            assert page.status_code == 200 and 'id="coming"' in page.text
            started = time.perf_counter()
            assert client.get("/login").status_code == 200
            login.append(time.perf_counter() - started)
    ratio = p95(care) / p95(login)
    verdict = "ok" if ratio <= TARGET_RATIO else "TOO SLOW"
    print(
        f"{label}: care page p95 {p95(care) * 1000:.1f} ms (median"
        f" {statistics.median(care) * 1000:.1f}), login page p95 {p95(login) * 1000:.1f} ms"
        f" (median {statistics.median(login) * 1000:.1f}): {ratio:.2f} x"
        f" (target <= {TARGET_RATIO:.0f} x) {verdict}"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--postgres", help="a PostgreSQL URL; a schema of its own is made")
    args = parser.parse_args()
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres)
        with admin.begin() as connection:
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        url = sa.engine.make_url(args.postgres).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        rendered = url.render_as_string(hide_password=False)
        engine = make_engine(rendered)
        try:
            run(engine, rendered, args.patients, args.requests, "PostgreSQL")
        finally:
            engine.dispose()
            with admin.begin() as connection:
                connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        engine = make_engine(url)
        run(engine, url, args.patients, args.requests, "SQLite")
        engine.dispose()


if __name__ == "__main__":
    main()
