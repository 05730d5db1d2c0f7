"""`aftercare status`: is anything sending, what waits, what is stuck. For people and monitors.

Exit codes: 0 all well; 1 something needs a person (no worker alive, a send of unknown
outcome, a held receipt or an expired lease older than STUCK_AFTER_SECONDS, an urgent reply
due a page while nobody is on call, or messages held: a template that fails for some patients,
or restored from a backup and waiting for a decision), listed under
"Problems"; 2 the question could not be asked (bad settings, a database that is unreachable
or not initialised). A backlog alone is no problem: a morning burst waits on the SMS rate.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from reminders.cli.common import JsonFlag, fail, say_warnings, settings

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from reminders.settings import Settings
    from reminders.store.health import Health, Stuckable, Worker

CANNOT_TELL = 2


def status_command(as_json: JsonFlag = False) -> None:
    """Workers alive, the backlog, the oldest due message, and what is stuck.

    Exits 0 when all is well, 1 when a problem is listed (no worker alive; a send of unknown
    outcome, a held receipt or an expired lease older than STUCK_AFTER_SECONDS; an urgent reply
    due a page while nobody is on call; messages held for a failing template or after a
    restore), 2 when the database cannot be asked.
    """
    loaded = settings()
    say_warnings(loaded)  # on stderr: `--json` output stays JSON
    health = _read(loaded)
    if as_json:
        typer.echo(json.dumps(health_json(health), indent=2))
    else:
        print_health(health, loaded.timezone)
    if health.problems:
        raise typer.Exit(1)


def _read(loaded: Settings) -> Health:
    from reminders.clock import utcnow
    from reminders.logs import configure_logging
    from reminders.runtime import DatabaseNotReady, check_database, health_thresholds
    from reminders.store.db import DatabaseError, make_engine
    from reminders.store.health import read_health

    configure_logging(loaded.log_level)
    try:
        check_database(loaded.database_url)
        engine = make_engine(loaded.database_url)
        try:
            with engine.connect() as connection:
                return read_health(connection, utcnow(), health_thresholds(loaded))
        finally:
            engine.dispose()
    except DatabaseNotReady as exc:
        fail(str(exc), CANNOT_TELL)
    except DatabaseError as exc:  # its text may hold the URL: the type is enough
        fail(f"database unreachable ({type(exc).__name__})", CANNOT_TELL)


def health_json(health: Health) -> dict[str, object]:
    from reminders.cli.output import iso

    return {
        "now": iso(health.now),
        "workers_alive": health.workers_alive,
        "workers": [
            {
                "id": worker.worker_id,
                "alive": worker.alive,
                "seen_at": iso(worker.seen_at),
                "age_seconds": worker.age_seconds,
                "started_at": iso(worker.started_at),
                "stopped_at": iso(worker.stopped_at),
            }
            for worker in health.workers
        ],
        "backlog": health.backlog,
        "oldest_due_at": iso(health.oldest_due_at),
        "oldest_due_age_seconds": health.oldest_due_age_seconds,
        "unknown": health.unknown.total,
        "stuck_unknown": health.unknown.stuck,
        "held_receipts": health.held_receipts.total,
        "stuck_held_receipts": health.held_receipts.stuck,
        "expired_leases": health.expired_leases.total,
        "stuck_expired_leases": health.expired_leases.stuck,
        "urgent_unpaged_nobody_on_call": health.unpaged_urgent,
        "held": [
            {"cause": group.cause, "template": group.template or None, "count": group.count}
            for group in health.held
        ],
        "alive_within_seconds": health.thresholds.alive_within.total_seconds(),
        "stuck_after_seconds": health.thresholds.stuck_after.total_seconds(),
        "problems": health.problems,
    }


def print_health(health: Health, tz: ZoneInfo) -> None:
    from reminders.cli import output as out

    typer.echo(f"Workers: {health.workers_alive} alive")
    for worker in health.workers:
        typer.echo(f"  {worker.worker_id}  {_worker_state(worker)}")
    if health.oldest_due_at is None:
        typer.echo("Backlog: nothing due")
    else:
        late = ago(health.oldest_due_age_seconds or 0)
        when = out.local(health.oldest_due_at, tz)
        typer.echo(f"Backlog: {health.backlog} due now; the oldest was due {late} ago ({when})")
    after = ago(health.thresholds.stuck_after.total_seconds())
    for label, counted in (
        ("Unknown outcomes", health.unknown),
        ("Held receipts", health.held_receipts),
        ("Expired leases", health.expired_leases),
    ):
        typer.echo(f"{label}: {_stuckable(counted, after)}")
    if health.unpaged_urgent:
        typer.echo(f"Urgent replies unpaged, nobody on call: {health.unpaged_urgent}")
    if health.held:
        typer.echo(f"Held messages: {sum(group.count for group in health.held)}")
    if health.problems:
        typer.echo("Problems:")
        for problem in health.problems:
            typer.echo(f"  - {problem}")
    else:
        typer.echo("All well.")


def _worker_state(worker: Worker) -> str:
    if worker.stopped_at is not None:
        return f"stopped {ago(worker.age_seconds)} ago"
    seen = f"seen {ago(worker.age_seconds)} ago"
    if not worker.alive:
        return f"gone: {seen}"
    if worker.started_at is None:
        return f"alive, {seen}"
    up = (worker.seen_at - worker.started_at).total_seconds()
    return f"alive, {seen}, up {ago(up)}"


def _stuckable(counted: Stuckable, after: str) -> str:
    if not counted.total:
        return "none"
    return f"{counted.total} ({counted.stuck} for over {after})"


def ago(seconds: float) -> str:
    """A duration as people say it: 45s, 12 min, 3 h 5 min, 2 d 4 h."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86_400
    if hours == 0:
        return f"{minutes} min"
    if days == 0:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{days} d {hours % 24} h" if hours % 24 else f"{days} d"
