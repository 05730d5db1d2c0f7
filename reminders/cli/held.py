"""`aftercare messages release|skip`: staff's decision on held messages.

A message is held when its template fails for its patient (saving the template releases it)
or after `aftercare restore` (it may have gone after the backup was taken: only staff know).
`aftercare messages --held` lists them; the timeline says why each waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Protocol

import typer

from reminders.cli.common import actor, fail, runtime

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime

    from reminders.store.db import Session

Ids = Annotated[list[int] | None, typer.Argument(metavar="ID...", help="Held messages' ids.")]
Restored = Annotated[
    bool, typer.Option("--restored", help="Every message held by `aftercare restore`.")
]


class Decision(Protocol):
    def __call__(
        self, session: Session, ids: Iterable[int], now: datetime, *, actor: str
    ) -> list[int]: ...


def release_command(ids: Ids = None, restored: Restored = False) -> None:
    """Let held messages go: at the next tick, if still before their deadline (after it, the
    dispatcher skips them as expired). Audited."""
    from reminders.store.holds import release

    _decide(ids, restored, release, "released: they go at the next tick, if before their deadline")


def skip_command(ids: Ids = None, restored: Restored = False) -> None:
    """Never send held messages (after a restore: those that went before it). Audited."""
    from reminders.store.holds import skip_held

    _decide(ids, restored, skip_held, "skipped: they will not be sent")


def _decide(ids: list[int] | None, restored: bool, decide: Decision, done: str) -> None:
    from reminders.clock import utcnow
    from reminders.store.db import session_scope
    from reminders.store.holds import restored_ids

    if not ids and not restored:
        fail("name the held messages' ids, or --restored for all that a restore held")
    rt = runtime()
    with session_scope(rt.engine) as session:
        wanted = sorted(set(ids or []) | set(restored_ids(session) if restored else []))
        acted = decide(session, wanted, utcnow(), actor=actor())
    if acted:
        typer.echo(f"{len(acted)} message(s) {done}: {', '.join(map(str, acted))}")
    missed = [i for i in wanted if i not in acted]
    if missed:
        fail(f"not held (nothing done): {', '.join(map(str, missed))}")
    if not wanted:
        typer.echo("No message is held by a restore.")
