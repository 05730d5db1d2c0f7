"""Issue #8, target 4: a dispatch tick must not slow down as the outbox fills up.

The outbox keeps every row it ever had: months of future reminders wait in it, and every
delivered message stays as history. A tick's queries (the claim, and per chunk of messages
the "texted this number before?" lookup and the day's SMS count for the cap) must find the few
due rows without walking past the rest. This times one tick (Dispatcher.run_once draining the
same small due set through a channel that does nothing) and one planning pass with nothing to
plan, with 1,000 and with --rows (1,000,000) pending future rows, and with 1,000 and --rows
delivered rows of history (many patients; the due patients' numbers among them), on SQLite
and on PostgreSQL when reachable. Target: each ≤ 1.5 × its 1,000-row figure.

Rows are seeded by one INSERT ... SELECT per table (a recursive CTE on SQLite,
generate_series on PostgreSQL). Each scenario is timed before any ANALYZE (the daemon never
runs one on SQLite; on PostgreSQL autovacuum is switched off for the bench's tables so the
figure really has no statistics) and again after ANALYZE; the query plans of the claim and
the per-message queries (and the planning pass's query) are printed for the large scenarios
in both states. Each scenario is a fresh database; the figures are medians of --runs ticks,
the due set set back to pending between them.

    .venv/bin/python bench/history_scaling.py [--rows 1000000] [--due 100] [--runs 5]
        [--postgres URL] [--databases sqlite,postgresql] [--kinds future,history]
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from bench_db import drop_schema, fresh_schema, postgres_reachable
from dispatch_throughput import NOW, NullChannel, bench_dispatcher, seeded_runtime

from reminders.runtime import Runtime
from reminders.sending.dispatch_results import DispatchResult

TARGET = 1.5
SMALL = 1_000
SCHEMA = "bench_scale"
ROWS_PER_SESSION = 10
SESSIONS_PER_PATIENT = 4
BODY = (
    "Fine Touch Clinic: for 3 days after your session avoid long flights, intense exercise, "
    "hot baths and saunas. Keep your stockings on. Questions? Call us."
)
TABLES = ("patient", "treatment_session", "outbox_message", "message_event", "opt_out")


class Dialect:
    """The few SQL spellings the bulk seed needs, per database."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.true = "1" if name == "sqlite" else "true"

    def series(self, first: int, last: int) -> tuple[str, str]:
        """(prefix, FROM item) yielding column `i` from first to last inclusive."""
        if self.name == "sqlite":
            prefix = (
                f"WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL "
                f"SELECT i + 1 FROM n WHERE i < {last}) "
            )
            return prefix, "n"
        return "", f"generate_series({first}, {last}) AS n(i)"

    def at(self, seconds: str) -> str:
        """NOW plus `seconds` (an SQL integer expression), as the column type stores it."""
        if self.name == "sqlite":
            return f"(datetime(:now, ({seconds}) || ' seconds') || '.000000')"
        return f"(CAST(:now AS timestamptz) + ({seconds}) * interval '1 second')"

    def pad(self, expression: str, width: int) -> str:
        if self.name == "sqlite":
            return f"printf('%0{width}d', {expression})"
        return f"lpad(CAST({expression} AS text), {width}, '0')"

    def now(self) -> Any:
        return NOW.replace(tzinfo=None).isoformat(" ") if self.name == "sqlite" else NOW


def seed_bulk(runtime: Runtime, kind: str, rows: int) -> None:
    """`rows` outbox rows of `kind` (future: pending, due later; history: delivered, sent on
    earlier days), ROWS_PER_SESSION per session, SESSIONS_PER_PATIENT sessions per patient.
    The due set's patients (ids 1..D) come first in the patient list, so they get history."""
    engine = runtime.engine
    sql = Dialect(engine.dialect.name)
    with engine.connect() as connection:
        due_patients = connection.execute(sa.text("SELECT max(id) FROM patient")).scalar() or 0
        first_session = connection.execute(sa.text("SELECT max(id) FROM treatment_session"))
        session_base = first_session.scalar() or 0
    sessions = math.ceil(rows / ROWS_PER_SESSION)
    patients = max(due_patients, math.ceil(sessions / SESSIONS_PER_PATIENT))
    history = kind == "history"
    params = {"now": sql.now(), "body": BODY}
    statements = []
    if patients > due_patients:
        prefix, source = sql.series(due_patients + 1, patients)
        statements.append(
            f"{prefix}INSERT INTO patient (id, name, phone, email, language, sms_consent,"
            " email_consent, created_at)"
            f" SELECT i, 'Bulk ' || i, '+1212' || {sql.pad('i', 7)}, 'b' || i || '@example.org',"
            f" 'en', {sql.true}, {sql.true}, :now FROM {source}"
        )
    # History: sessions on earlier days, their steps sent a day apart, the last before today.
    completed = sql.at("-86400 * (10 + i % 365)" if history else "-3600")
    prefix, source = sql.series(0, sessions - 1)
    statements.append(
        f"{prefix}INSERT INTO treatment_session (id, patient_id, treatment, completed_at, status,"
        " planned_at, created_at)"
        f" SELECT {session_base} + 1 + i, i % {patients} + 1, 'asclera', {completed},"
        f" 'completed', {completed}, {completed} FROM {source}"
    )
    if history:
        offset = f"-86400 * (10 + (i / {ROWS_PER_SESSION}) % 365) + 86400 * (i % 10)"
        sent = sql.at(offset)
        values = (
            f"'delivered', {sent}, NULL, 1,"
            " CASE WHEN i % 3 = 2 THEN p.email ELSE p.phone END, 'SM' || i, :body, 1,"
            f" {sent}, 'delivered', {sql.at(offset + ' + 5')},"
            f" {sent}, {sent}"
        )
    else:
        due = "86400 * (1 + i % 90) + 60 * (i % 600)"
        values = (
            f"'pending', {sql.at(due)}, {sql.at(due + ' + 3 * 86400')}, 0, NULL, NULL, NULL,"
            " NULL, NULL, NULL, NULL, :now, :now"
        )
    prefix, source = sql.series(0, rows - 1)
    statements.append(
        f"{prefix}INSERT INTO outbox_message (session_id, patient_id, plan, step, channel,"
        " status, due_at, not_after, attempts, recipient, provider_id, body, template_version,"
        " sent_at, provider_status, delivered_at, created_at, updated_at, delivery_retries)"
        f" SELECT s.id, s.patient_id, 'sclerotherapy', 'h' || (i % {ROWS_PER_SESSION}),"
        f" CASE WHEN i % 3 = 2 THEN 'email' ELSE 'sms' END, {values}, 0"
        f" FROM {source} JOIN treatment_session s"
        f" ON s.id = {session_base} + 1 + i / {ROWS_PER_SESSION}"
        " JOIN patient p ON p.id = s.patient_id"
    )
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(sa.text(statement), params)
        if sql.name == "postgresql":
            for table in ("patient", "treatment_session"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}"
                )


KINDS = {
    "claim": lambda s: "claimable" in s and "UPDATE outbox_message" in s,
    # reminders/store/send_history.py, read once per chunk of messages
    "texted_before": lambda s: s.startswith("SELECT outbox_message.recipient, outbox_message.id"),
    "sent_today": lambda s: s.startswith(
        "SELECT outbox_message.patient_id, outbox_message.id, outbox_message.sent_at"
    ),
    "unplanned": lambda s: "FROM treatment_session" in s and "planned_at IS NULL" in s,
}


class Tracer:
    """Time spent in each of the watched queries, and the first statement of each kind."""

    def __init__(self, engine: sa.Engine) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.seconds: Counter[str] = Counter()
        self.first: dict[str, tuple[str, Any]] = {}
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, *_args: Any) -> None:
        self.local.started = time.perf_counter()

    def _after(self, _c: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        elapsed = time.perf_counter() - self.local.started
        text = statement.lstrip()
        for kind, matches in KINDS.items():
            if matches(text):
                with self.lock:
                    self.seconds[kind] += elapsed
                    self.first.setdefault(kind, (statement, parameters))


@dataclass
class Figures:
    tick: float
    plan: float
    queries: dict[str, float] = field(default_factory=dict)  # seconds per tick, median


def due_ids(runtime: Runtime) -> list[int]:
    with runtime.engine.connect() as connection:
        query = "SELECT id FROM outbox_message WHERE status = 'pending' AND due_at <= :now"
        now = Dialect(runtime.engine.dialect.name).now()
        return list(connection.execute(sa.text(query), {"now": now}).scalars())


def reset(runtime: Runtime, ids: list[int]) -> None:
    """The due set pending again as the planner left it, its events gone."""
    with runtime.engine.begin() as connection:
        listed = ", ".join(str(i) for i in ids)
        connection.exec_driver_sql(f"DELETE FROM message_event WHERE message_id IN ({listed})")
        connection.exec_driver_sql(
            "UPDATE outbox_message SET status = 'pending', attempts = 0, lease_owner = NULL,"
            " lease_expires_at = NULL, recipient = NULL, provider_id = NULL, subject = NULL,"
            " body = NULL, template_version = NULL, sent_at = NULL, provider_status = NULL,"
            f" delivered_at = NULL WHERE id IN ({listed})"
        )


def measure(runtime: Runtime, ids: list[int], runs: int) -> tuple[Figures, Tracer]:
    channel = NullChannel()
    ticks, plans, per_query = [], [], []
    tracer = Tracer(runtime.engine)
    for _ in range(runs):
        reset(runtime, ids)
        dispatcher = bench_dispatcher(runtime, channel=channel)
        tracer.seconds.clear()
        started = time.perf_counter()
        report = dispatcher.run_once()
        ticks.append(time.perf_counter() - started)
        per_query.append(dict(tracer.seconds))
        sent = report.count(DispatchResult.SENT)
        assert sent == len(ids), (
            f"sent {sent} of {len(ids)}: {Counter(o.result for o in report.outcomes)}"
        )
        started = time.perf_counter()
        planned = runtime.plan(NOW)
        plans.append(time.perf_counter() - started)
        assert planned.sessions == 0, "something was left to plan: the bench is wrong"
    sa.event.remove(runtime.engine, "before_cursor_execute", tracer._before)
    sa.event.remove(runtime.engine, "after_cursor_execute", tracer._after)
    queries = {k: statistics.median(q.get(k, 0.0) for q in per_query) for k in KINDS}
    return Figures(statistics.median(ticks), statistics.median(plans), queries), tracer


def explain(engine: sa.Engine, statement: str, parameters: Any) -> list[str]:
    """The plan the database picks for a statement the tick ran, with the same parameters."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            depth: dict[int, int] = {0: -1}
            lines = []
            for node, parent, _unused, detail in cursor.fetchall():
                depth[node] = depth.get(parent, -1) + 1
                lines.append("  " * depth[node] + detail)
            return lines
        cursor.execute("EXPLAIN " + statement, parameters)
        return [row[0] for row in cursor.fetchall()]
    finally:
        raw.rollback()
        raw.close()


def analyze(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("ANALYZE")
        else:
            for table in TABLES:
                connection.exec_driver_sql(f"ANALYZE {table}")


@contextmanager
def database(backend: str, folder: Path, label: str, postgres: str) -> Iterator[str]:
    """A fresh database: a SQLite file, or a schema of its own on PostgreSQL."""
    if backend == "sqlite":
        yield f"sqlite:///{folder}/{label}.db"
        return
    try:
        yield fresh_schema(postgres, SCHEMA)
    finally:
        drop_schema(postgres, SCHEMA)


@dataclass
class Scenario:
    kind: str
    rows: int
    figures: dict[str, Figures] = field(default_factory=dict)  # by "no stats" / "analyzed"
    outbox: int = 0


def run_scenario(url: str, scenario: Scenario, due: int, runs: int, show_plans: bool) -> None:
    runtime = seeded_runtime(url, math.ceil(due / 2))  # each session: one SMS and one email due
    runtime.settings = runtime.settings.model_copy(update={"dispatch_batch_size": max(500, due)})
    engine = runtime.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for table in TABLES:
                connection.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    runtime.plan(NOW)
    ids = due_ids(runtime)
    started = time.perf_counter()
    seed_bulk(runtime, scenario.kind, scenario.rows)
    seeded = time.perf_counter() - started
    with engine.connect() as connection:
        scenario.outbox = connection.execute(sa.text("SELECT count(*) FROM outbox_message")).one()[
            0
        ]
    label = f"{engine.dialect.name} {scenario.kind} {scenario.rows:,}"
    print(f"  {label}: seeded {scenario.outbox:,} outbox rows in {seeded:.1f} s", flush=True)
    for state in ("no stats", "analyzed"):
        if state == "analyzed":
            started = time.perf_counter()
            analyze(engine)
            print(f"  {label}: ANALYZE {time.perf_counter() - started:.1f} s", flush=True)
        figures, tracer = measure(runtime, ids, runs)
        scenario.figures[state] = figures
        if show_plans:
            for kind in KINDS:
                if kind not in tracer.first:
                    print(f"    [{state}] {kind}: not run")
                    continue
                print(f"    [{state}] plan of {kind}:")
                for line in explain(engine, *tracer.first[kind]):
                    print(f"      {line}")
    engine.dispose()


def report(backend: str, scenarios: list[Scenario], due: int, runs: int) -> None:
    print(f"\n{backend}: {due} due rows, one tick drains them; medians of {runs} runs (ms)")
    header = f"{'scenario':<18} {'outbox':>10} {'stats':<9} {'tick':>8} {'claim':>7}"
    print(header + f" {'texted':>7} {'today':>7} {'plan':>7}")
    print("(claim; texted, today: send_history's earlier texts to the numbers and the day's SMS")
    print(" per patient, read once per chunk; time in those queries per tick; plan: one pass)")
    for s in scenarios:
        for state, f in s.figures.items():
            q = {k: v * 1000 for k, v in f.queries.items()}
            print(
                f"{s.kind + ' ' + f'{s.rows:,}':<18} {s.outbox:>10,} {state:<9}"
                f" {f.tick * 1000:>8.1f} {q['claim']:>7.2f} {q['texted_before']:>7.2f}"
                f" {q['sent_today']:>7.2f} {f.plan * 1000:>7.2f}"
            )
    for kind in dict.fromkeys(s.kind for s in scenarios):
        small, large = (s for s in scenarios if s.kind == kind)
        for state in ("no stats", "analyzed"):
            for what in ("tick", "plan"):
                ratio = getattr(large.figures[state], what) / getattr(small.figures[state], what)
                verdict = "PASS" if ratio <= TARGET else "MISS"
                print(
                    f"target 4, {backend}, {kind} {large.rows:,} vs {small.rows:,}, {state},"
                    f" {what}: {ratio:.2f}x (target <= {TARGET}x) {verdict}"
                )


def run_backend(backend: str, args: argparse.Namespace, folder: Path) -> None:
    kinds = args.kinds.split(",")
    scenarios = [Scenario(k, n) for k in kinds for n in (SMALL, args.rows)]
    print(f"{backend}:", flush=True)
    for scenario in scenarios:
        label = f"{scenario.kind}-{scenario.rows}"
        with database(backend, folder, label, args.postgres) as url:
            run_scenario(url, scenario, args.due, args.runs, show_plans=scenario.rows != SMALL)
    report(backend, scenarios, args.due, args.runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated")
    parser.add_argument("--kinds", default="future,history", help="comma-separated")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; SQLite {sqlite3.sqlite_version}; SQLAlchemy {sa.__version__}")
    databases = args.databases.split(",")
    if "sqlite" in databases:
        with tempfile.TemporaryDirectory() as folder:
            run_backend("sqlite", args, Path(folder))
    if "postgresql" not in databases:
        return
    if not postgres_reachable(args.postgres):
        return
    with tempfile.TemporaryDirectory() as folder:
        run_backend("postgresql", args, Path(folder))


if __name__ == "__main__":
    main()
