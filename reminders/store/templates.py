"""Which template source a message uses: the newest revision in the database, else the file.

`aftercare init` loads the files as default revisions; an admin's edit is a newer revision
and is never overwritten by a later init. Revisions are only ever added: a restore is a new
version with an old one's source, so the history says who put each text in use, and when.
Messages keep the body they were sent with, so no edit changes what a patient already got.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from reminders.rules.care_page import PAGE_CHANNEL, sample_page_context
from reminders.rules.channel_kinds import ChannelKind
from reminders.rules.rendering import (
    SAMPLE_CONTEXT,
    TemplateKey,
    TemplateProblem,
    render_email,
    render_page,
    render_sms,
)
from reminders.store.audit import record
from reminders.store.defaults import default_template_path, iter_default_templates
from reminders.store.holds import release_template
from reminders.store.models import TemplateRevision

FALLBACK_LANGUAGE = "en"


@dataclass(frozen=True)
class TemplateSource:
    key: TemplateKey
    source: str
    version: int | None  # None: read from the file, not yet loaded into the database


class TemplateMissing(LookupError):
    """No revision and no default file: the care plan names a template nobody wrote."""


class InvalidDefaultTemplate(ValueError):
    """A shipped template file does not render: `init` loads none rather than a broken one."""


@dataclass(frozen=True)
class TemplateSummary:
    """One template as the editor lists it: the version in use and who put it there."""

    key: TemplateKey
    version: int | None  # None: only the file, not loaded into the database yet
    is_default: bool
    created_by: str | None
    created_at: datetime | None


class EditConflict(Exception):
    """Someone saved a newer version since the editor was opened: saving would hide theirs."""

    def __init__(self, newest: int | None) -> None:
        super().__init__(f"version {newest} was saved since you opened this template")
        self.newest = newest


def newest_revision(session: Session, key: TemplateKey) -> TemplateRevision | None:
    return session.exec(
        select(TemplateRevision)
        .where(*_of_key(key))
        .order_by(col(TemplateRevision.version).desc())
        .limit(1)
    ).first()


def find_template(session: Session, templates_dir: Path, key: TemplateKey) -> TemplateSource:
    """The source to render for `key`, falling back to English when a translation is missing."""
    keys = [key]
    if key.language != FALLBACK_LANGUAGE:
        keys.append(TemplateKey(key.plan, key.step, key.channel, FALLBACK_LANGUAGE))
    for candidate in keys:
        revision = newest_revision(session, candidate)
        if revision is not None:
            return TemplateSource(candidate, revision.source, revision.version)
        path = default_template_path(templates_dir, *_parts(candidate))
        if path.is_file():
            return TemplateSource(candidate, path.read_text(encoding="utf-8"), None)
    raise TemplateMissing(f"no template for {key.plan}/{key.step} {key.channel} {key.language}")


def load_defaults(session: Session, templates_dir: Path, *, actor: str, now: datetime) -> int:
    """Add the file defaults as revisions where they are new; returns how many were added."""
    added = 0
    for key, source in iter_default_templates(templates_dir):
        _check_default(templates_dir, key, source)
        newest = newest_revision(session, key)
        if newest is not None and (not newest.is_default or newest.source == source):
            continue
        version = 1 if newest is None else newest.version + 1
        session.add(_revision(key, source, version, actor=actor, now=now))
        added += 1
    return added


def _check_default(templates_dir: Path, key: TemplateKey, source: str) -> None:
    """Render it with the sample patient, in the same sandbox and limits as every message."""
    try:
        if key.channel == PAGE_CHANNEL:
            render_page(source, sample_page_context(key.language, SAMPLE_CONTEXT))
        elif key.channel == ChannelKind.SMS:
            render_sms(source, SAMPLE_CONTEXT)
        else:
            render_email(source, SAMPLE_CONTEXT, language=key.language)
    except TemplateProblem as problem:
        path = default_template_path(templates_dir, key.plan, key.step, key.channel, key.language)
        raise InvalidDefaultTemplate(f"{path}: {problem}") from None


def _revision(
    key: TemplateKey, source: str, version: int, *, actor: str, now: datetime
) -> TemplateRevision:
    return TemplateRevision(
        plan=key.plan,
        step=key.step,
        channel=key.channel,
        language=key.language,
        version=version,
        source=source,
        is_default=True,
        created_by=actor,
        created_at=now,
    )


def _parts(key: TemplateKey) -> tuple[str, str, str, str]:
    return key.plan, key.step, key.channel, key.language


def current_source(
    session: Session, templates_dir: Path, key: TemplateKey
) -> TemplateSource | None:
    """The source in use for exactly `key` (no language fallback): what the editor opens."""
    revision = newest_revision(session, key)
    if revision is not None:
        return TemplateSource(key, revision.source, revision.version)
    path = default_template_path(templates_dir, *_parts(key))
    if path.is_file():
        return TemplateSource(key, path.read_text(encoding="utf-8"), None)
    return None


def list_templates(session: Session, templates_dir: Path) -> list[TemplateSummary]:
    """Every template with a file or a revision, sorted by key; one query for the revisions."""
    rows = {_key(row): _summary(row) for row in _newest_of_each(session)}
    for key, _source in iter_default_templates(templates_dir):
        rows.setdefault(key, TemplateSummary(key, None, True, None, None))
    return sorted(rows.values(), key=lambda summary: _parts(summary.key))


def revisions(session: Session, key: TemplateKey) -> list[TemplateRevision]:
    """The history of one template, newest first."""
    return list(
        session.exec(
            select(TemplateRevision)
            .where(*_of_key(key))
            .order_by(col(TemplateRevision.version).desc())
        )
    )


def revision(session: Session, key: TemplateKey, version: int) -> TemplateRevision | None:
    return session.exec(
        select(TemplateRevision).where(*_of_key(key), TemplateRevision.version == version)
    ).first()


def add_revision(
    session: Session,
    key: TemplateKey,
    source: str,
    *,
    actor: str,
    now: datetime,
    expected_version: int | None,
    restored_from: int | None = None,
) -> TemplateRevision:
    """An admin's text as the next version, audited; `expected_version` is the one they edited.

    The caller has checked that the source renders. The audit names the key and the versions,
    never the text. Messages held because the template failed for their patient go again
    (`store.holds`).
    """
    newest = newest_revision(session, key)
    newest_version = newest.version if newest is not None else None
    if newest_version != expected_version:
        raise EditConflict(newest_version)
    row = TemplateRevision(
        plan=key.plan,
        step=key.step,
        channel=key.channel,
        language=key.language,
        version=(newest_version or 0) + 1,
        source=source,
        is_default=False,
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    detail = f"{_describe(key)} version={row.version}"
    if restored_from is not None:
        detail += f" restored_from={restored_from}"
    action = "template_save" if restored_from is None else "template_restore"
    record(
        session,
        actor=actor,
        action=action,
        entity="template_revision",
        entity_id=row.id,
        now=now,
        detail=detail,
    )
    release_template(session, key, now, actor=actor)
    return row


_KEY_FIELDS = ("plan", "step", "channel", "language")


def _newest_of_each(session: Session) -> list[TemplateRevision]:
    """The newest revision of every key, in one statement (a join on each key's max version)."""
    key_columns = [getattr(TemplateRevision, name) for name in _KEY_FIELDS]
    version = col(TemplateRevision.version)
    newest = (
        sa.select(*key_columns, sa.func.max(version).label("version"))
        .group_by(*key_columns)
        .subquery()
    )
    same = [newest.c[name] == column for name, column in zip(_KEY_FIELDS, key_columns, strict=True)]
    query = select(TemplateRevision).join(newest, sa.and_(*same, newest.c.version == version))
    return list(session.exec(query))


def _of_key(key: TemplateKey) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        col(TemplateRevision.plan) == key.plan,
        col(TemplateRevision.step) == key.step,
        col(TemplateRevision.channel) == key.channel,
        col(TemplateRevision.language) == key.language,
    )


def _key(row: TemplateRevision) -> TemplateKey:
    return TemplateKey(row.plan, row.step, row.channel, row.language)


def _summary(row: TemplateRevision) -> TemplateSummary:
    return TemplateSummary(_key(row), row.version, row.is_default, row.created_by, row.created_at)


def _describe(key: TemplateKey) -> str:
    return f"plan={key.plan} step={key.step} channel={key.channel} language={key.language}"
