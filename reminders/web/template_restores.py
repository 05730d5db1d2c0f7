"""A template's version brought back: the checks and the write, each in its transaction.

Kept apart from the editor's routes (`web/admin_templates.py`) so each module stays small;
`NotSaved` is the refusal both the save and the restore raise, with the admin's sentence.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import HTTPException

from reminders.rules.rendering import TemplateKey
from reminders.store.db import Session
from reminders.store.templates import EditConflict, add_revision, current_source, revision


class NotSaved(Exception):
    """A save or restore refused: the sentence is for the admin, `status` is the answer's."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def restorable(
    session: Session, _now: datetime, *, templates_dir: Path, key: TemplateKey, old: int | None
) -> tuple[str, int | None]:
    """The old version's text and the version in use, or why it cannot be restored."""
    found = current_source(session, templates_dir, key)
    if found is None:
        raise HTTPException(404)
    earlier = revision(session, key, old) if old is not None else None
    if earlier is None:
        raise NotSaved(f"Not restored: there is no version {old or ''} of this template.", 404)
    if earlier.version == found.version:
        raise NotSaved(f"Version {old} is the one in use already.", 409)
    return earlier.source, found.version


def add_restored(
    session: Session,
    now: datetime,
    *,
    key: TemplateKey,
    source: str,
    actor: str,
    current: int | None,
    old: int | None,
) -> int:
    """The old text as a new version, unless another was saved since it was checked."""
    try:
        row = add_revision(
            session, key, source, actor=actor, now=now, expected_version=current, restored_from=old
        )
    except EditConflict as conflict:
        raise NotSaved(
            f"Not restored: version {conflict.newest} was saved meanwhile; try again.", 409
        ) from None
    return row.version
