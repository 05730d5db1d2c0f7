"""Which template source a message uses: the newest revision in the database, else the file.

`aftercare init` loads the files as default revisions; an admin's edit is a newer revision
and is never overwritten by a later init.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, select

from reminders.rules.rendering import (
    SAMPLE_CONTEXT,
    TemplateKey,
    TemplateProblem,
    render_email,
    render_sms,
)
from reminders.store.defaults import default_template_path, iter_default_templates
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


def newest_revision(session: Session, key: TemplateKey) -> TemplateRevision | None:
    return session.exec(
        select(TemplateRevision)
        .where(
            TemplateRevision.plan == key.plan,
            TemplateRevision.step == key.step,
            TemplateRevision.channel == key.channel,
            TemplateRevision.language == key.language,
        )
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
        (render_sms if key.channel == "sms" else render_email)(source, SAMPLE_CONTEXT)
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
